"""Fold `StreamDelta`s into a `ChatResult`: a pure reducer over plain state.

``add`` is O(size of the delta); the pydantic result is built once, by ``result``. Tool calls
are keyed by index: id and name are set once, arguments are appended and parsed at the end
(empty -> ``{}``, unparseable -> ``ToolCall.parse_error``, see `modelslab_core.tool_calls`).

```python
from modelslab_core import StreamAccumulator, StreamDelta, Usage

acc = StreamAccumulator()
for delta in (
    StreamDelta(text="Bon", model="m"),
    StreamDelta(text="jour", finish_reason="stop"),
    StreamDelta(usage=Usage(input_tokens=3, output_tokens=2, total_tokens=5)),
):
    acc.add(delta)
result = acc.result()
print(result.text, result.finish_reason, result.usage.total_tokens)
#> Bonjour stop 5
```
"""

from __future__ import annotations

from ..cost.pricing import Cost
from ..tool_calls import tool_call_from_raw
from ..types import ChatResult, FinishReason, StreamDelta, Usage

__all__ = ["StreamAccumulator"]


class _ToolState:
    """One tool call being streamed."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.arguments: list[str] = []


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
        """Fold one delta in."""
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

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._text)

    def raw_tool_calls(self) -> list[tuple[int, str | None, str | None, str]]:
        """``(index, id, name, arguments text)`` of every tool call so far, by index (id and
        name are ``None`` until they arrive)."""
        return [
            (index, t.id, t.name, "".join(t.arguments)) for index, t in sorted(self._tools.items())
        ]

    def result(self) -> ChatResult:
        """The answer so far; tool arguments parsed strictly (errors in ``parse_error``)."""
        calls = [
            tool_call_from_raw(call_id or f"call_{index}", name or "", text)
            for index, call_id, name, text in self.raw_tool_calls()
        ]
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
