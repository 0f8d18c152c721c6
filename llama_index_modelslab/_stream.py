"""Turn a stream of `StreamDelta`s into LlamaIndex `ChatResponse`s (pure, no I/O).

Each delta that adds text, reasoning or a tool-call piece gives one response carrying the
``delta`` and the message so far; deltas that only carry usage, a finish reason or ids are
folded in silently. When the stream has ended, `StreamFolder.final` gives one last response
(``delta=""``) with the exact message (tool arguments parsed strictly), the usage in ``raw``
and ``additional_kwargs``, and the finish reason.

Per-delta work is kept small: strings are appended, pydantic objects are built without
validation, and tool arguments are left as text until someone asks for them. A snapshot that
carries tool calls is marked ``additional_kwargs[PARTIAL_TOOL_CALLS] = True``: for it (and only
for it) `ModelsLab.get_tool_calls_from_response` recovers cut-short arguments leniently; the
final response is unmarked and read exactly.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from modelslab_core import StreamAccumulator
from modelslab_core.types import StreamDelta

from ._convert import to_chat_response, usage_kwargs

__all__ = ["PARTIAL_TOOL_CALLS", "StreamFolder"]

PARTIAL_TOOL_CALLS = "partial_tool_calls"
"""Key in a mid-stream `ChatResponse`'s ``additional_kwargs``: its tool calls may be cut short."""


class StreamFolder:
    """Folds the deltas of one stream; `add` per delta, `final` once at the end."""

    __slots__ = ("_acc", "_reasoning", "_text")

    def __init__(self) -> None:
        self._acc = StreamAccumulator()
        self._text = ""
        self._reasoning = ""

    def add(self, delta: StreamDelta) -> ChatResponse | None:
        """Fold ``delta`` in; the response to yield, or ``None`` when it adds no content."""
        self._acc.add(delta)
        if delta.text:
            self._text += delta.text
        if delta.reasoning:
            self._reasoning += delta.reasoning
        elif not delta.text and not delta.tool_call_chunks:
            return None
        blocks: list[Any] = []
        if self._reasoning:
            blocks.append(ThinkingBlock.model_construct(content=self._reasoning))
        blocks.append(TextBlock.model_construct(text=self._text))
        message_kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {"thinking_delta": delta.reasoning} if delta.reasoning else {}
        if delta.tool_call_chunks or self._acc.raw_tool_calls():
            message_kwargs["tool_calls"] = self._tool_blocks(blocks)
            extra[PARTIAL_TOOL_CALLS] = True
        message = ChatMessage.model_construct(
            role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs
        )
        return ChatResponse.model_construct(
            message=message, raw=None, delta=delta.text, additional_kwargs=extra
        )

    def _tool_blocks(self, blocks: list[Any]) -> list[dict[str, Any]]:
        """Append one `ToolCallBlock` per call so far (arguments as text); OpenAI-shaped list."""
        calls = []
        for index, call_id, name, text in self._acc.raw_tool_calls():
            call_id = call_id or f"call_{index}"
            blocks.append(
                ToolCallBlock.model_construct(
                    tool_call_id=call_id, tool_name=name or "", tool_kwargs=text
                )
            )
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name or "", "arguments": text},
                }
            )
        return calls

    def final(self) -> ChatResponse:
        """The last response: the exact answer, usage in ``raw`` and ``additional_kwargs``."""
        result = self._acc.result()
        raw: dict[str, Any] = {"id": result.id, "model": result.model}
        if result.usage is not None:
            raw["usage"] = usage_kwargs(result.usage)
        if result.raw_finish_reason is not None:
            raw["finish_reason"] = result.raw_finish_reason
        return to_chat_response(result, delta="", raw=raw)
