"""Fold `StreamDelta`s into a `ChatResult`: a pure reducer over plain state.

``add`` is O(size of the delta); pydantic objects are built only when a snapshot or the
result is asked for. Tool calls are keyed by index: id and name are set once, arguments are
appended and parsed at the end (empty -> ``{}``, unparseable -> ``ToolCall.parse_error``).

>>> acc = StreamAccumulator()
>>> for d in deltas:            # doctest: +SKIP
...     snapshot = acc.feed(d)
>>> acc.result()                # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .dialects._common import make_tool_call
from .pricing import Cost
from .types import ChatResult, FinishReason, StreamDelta, ToolCall, Usage

__all__ = ["StreamAccumulator", "accumulate", "parse_partial_json"]

_TAIL_TRIMS = 7


class _ToolState:
    """One tool call being streamed."""

    __slots__ = ("arguments", "id", "name", "partial")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []
        self.partial: tuple[int, dict[str, Any]] = (0, {})
        """Cache: the lenient parse of the first N argument pieces."""

    def lenient(self) -> dict[str, Any]:
        """The arguments so far, parsed leniently (cached until more arrive)."""
        count, value = self.partial
        if count != len(self.arguments):
            value = parse_partial_json("".join(self.arguments)) or {}
            self.partial = (len(self.arguments), value)
        return value


class StreamAccumulator:
    """Accumulates the deltas of one stream; `result` gives the final `ChatResult`."""

    __slots__ = (
        "_reasoning",
        "_signature",
        "_text",
        "_tools",
        "cost",
        "finish_reason",
        "id",
        "model",
        "raw_finish_reason",
        "usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._signature: list[str] = []
        self._tools: dict[int, _ToolState] = {}
        self.id: str | None = None
        self.model: str | None = None
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None
        self.usage: Usage | None = None
        self.cost: Cost | None = None

    def add(self, delta: StreamDelta) -> None:
        """Fold one delta in (no snapshot built)."""
        if delta.text:
            self._text.append(delta.text)
        if delta.reasoning:
            self._reasoning.append(delta.reasoning)
        if delta.reasoning_signature:
            self._signature.append(delta.reasoning_signature)
        for chunk in delta.tool_call_chunks:
            tool = self._tools.get(chunk.index)
            if tool is None:
                tool = self._tools[chunk.index] = _ToolState()
            if chunk.id and tool.id is None:
                tool.id = chunk.id
            if chunk.name and tool.name is None:
                tool.name = chunk.name
            if chunk.arguments:
                tool.arguments.append(chunk.arguments)
        if delta.finish_reason is not None:
            self.finish_reason = delta.finish_reason
            self.raw_finish_reason = delta.raw_finish_reason
        if delta.usage is not None:
            self.usage = delta.usage
            self.cost = delta.cost
        if self.id is None and delta.id:
            self.id = delta.id
        if self.model is None and delta.model:
            self.model = delta.model

    def feed(self, delta: StreamDelta) -> ChatResult:
        """Fold one delta in and return the snapshot so far (tool arguments parsed leniently)."""
        self.add(delta)
        return self.snapshot()

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        """The reasoning so far."""
        return "".join(self._reasoning)

    def raw_tool_calls(self) -> list[tuple[int, str | None, str | None, str]]:
        """``(index, id, name, arguments text)`` of every tool call so far, by index."""
        return [
            (index, t.id, t.name, "".join(t.arguments)) for index, t in sorted(self._tools.items())
        ]

    def snapshot(self) -> ChatResult:
        """The answer so far. Tool arguments are closed with `parse_partial_json` (no errors)."""
        calls = [
            ToolCall.model_construct(
                id=t.id or f"call_{index}",
                name=t.name or "",
                arguments=t.lenient(),
                raw_arguments="".join(t.arguments) or None,
                parse_error=None,
            )
            for index, t in sorted(self._tools.items())
        ]
        return self._build(calls)

    def result(self) -> ChatResult:
        """The final answer: tool arguments parsed strictly (errors in ``parse_error``)."""
        calls = [
            make_tool_call(call_id or f"call_{index}", name or "", text)
            for index, call_id, name, text in self.raw_tool_calls()
        ]
        return self._build(calls)

    def _build(self, calls: list[ToolCall]) -> ChatResult:
        return ChatResult.model_construct(
            id=self.id,
            model=self.model,
            text="".join(self._text),
            reasoning="".join(self._reasoning) or None,
            reasoning_signature="".join(self._signature) or None,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            usage=self.usage,
            cost=self.cost,
            raw={},
        )


def accumulate(state: StreamAccumulator | None, delta: StreamDelta) -> StreamAccumulator:
    """Functional form: fold ``delta`` into ``state`` (a new accumulator when ``None``)."""
    acc = state if state is not None else StreamAccumulator()
    acc.add(delta)
    return acc


def _close_json(text: str) -> str | None:
    """``text`` with an open string and open brackets closed; ``None`` if brackets mismatch."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            stack.append("}")
        elif ch == "[":
            stack.append("]")
        elif ch in "}]":
            if not stack or stack[-1] != ch:
                return None
            stack.pop()
    if in_string:
        text = (text[:-1] if escaped else text) + '"'
    return text + "".join(reversed(stack))


def _structural_cuts(text: str) -> list[int]:
    """Cut points before each ``,``/``:`` and after each ``{``/``[`` outside strings, last first."""
    cuts: list[int] = []
    in_string = escaped = False
    for pos, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in ",:":
            cuts.append(pos)
        elif ch in "{[":
            cuts.append(pos + 1)
    cuts.reverse()
    return cuts


def _cuts(text: str) -> Iterator[int]:
    """Where to try cutting ``text``: whole, then a few trailing chars, then structural points."""
    end = len(text)
    yield from range(end, max(end - _TAIL_TRIMS, 0), -1)
    yield from _structural_cuts(text)


def parse_partial_json(text: str) -> dict[str, Any] | None:
    """Parse a JSON object that may be cut short (mid-stream tool arguments).

    Open strings and brackets are closed; an incomplete trailing token (a half key, a bare
    ``:``, ``tru``) is dropped. Returns ``{}`` for empty text and ``None`` when no object can
    be recovered (or the text is not an object).
    """
    candidate = text.strip()
    if not candidate:
        return {}
    if candidate[0] != "{":
        return None
    for cut in _cuts(candidate):
        closed = _close_json(candidate[:cut].rstrip())
        if closed is None:
            continue
        try:
            value = json.loads(closed)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None
