"""Turn a stream of `StreamDelta`s into LlamaIndex `ChatResponse`s (pure, no I/O).

Each delta that adds text, reasoning or a tool-call piece gives one response carrying the
``delta`` and the message so far; deltas that only carry usage, a finish reason or ids are
folded in silently. When the stream has ended, `StreamFolder.final` gives one last response
(``delta=""``) with the exact message (tool arguments parsed strictly), the usage in ``raw``
and ``additional_kwargs``, and the finish reason.

Per-delta work is kept small. The text so far is one string, extended once per chunk (every
response owns its snapshot, as consumers such as agents read ``message.content`` on each
chunk). The three pydantic objects of a snapshot are built by the core's guarded
`modelslab_core.construct.trusted`: exactly what ``model_construct`` builds (no validation),
at about a quarter of its cost, which was the largest per-chunk cost of this module. Tool
arguments stay text until someone asks for them. A snapshot that carries tool calls is marked ``additional_kwargs[PARTIAL_TOOL_CALLS] = True``:
for it (and only for it) `ModelsLab.get_tool_calls_from_response` recovers cut-short
arguments leniently; the final response is unmarked and read exactly.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
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
from modelslab_core.construct import trusted
from modelslab_core.tool_calls import openai_tool_call
from modelslab_core.types import StreamDelta

from ._convert import to_chat_response, usage_kwargs

__all__ = ["PARTIAL_TOOL_CALLS", "StreamFolder", "aresponses", "responses"]

PARTIAL_TOOL_CALLS = "partial_tool_calls"
"""Key in a mid-stream `ChatResponse`'s ``additional_kwargs``: its tool calls may be cut short."""

_ASSISTANT = MessageRole.ASSISTANT


def _text_block(text: str) -> TextBlock:
    return trusted(TextBlock, {"block_type": "text", "text": text}, {"text"})


def _message(blocks: list[Any], message_kwargs: dict[str, Any]) -> ChatMessage:
    values = {"role": _ASSISTANT, "additional_kwargs": message_kwargs, "blocks": blocks}
    return trusted(ChatMessage, values, {"role", "additional_kwargs", "blocks"})


def _response(message: ChatMessage, delta: str, extra: dict[str, Any]) -> ChatResponse:
    values = {
        "message": message,
        "raw": None,
        "delta": delta,
        "logprobs": None,
        "additional_kwargs": extra,
    }
    return trusted(ChatResponse, values, {"message", "raw", "delta", "additional_kwargs"})


class StreamFolder:
    """Folds the deltas of one stream; `add` per delta, `final` once at the end."""

    __slots__ = ("_acc", "_reasoning", "_text", "_tools")

    def __init__(self) -> None:
        self._acc = StreamAccumulator()
        self._text = ""
        self._reasoning = ""
        self._tools = False

    def add(self, delta: StreamDelta) -> ChatResponse | None:
        """Fold ``delta`` in; the response to yield, or ``None`` when it adds no content."""
        self._acc.add(delta)
        text = delta.text
        if text:
            self._text += text
        if delta.reasoning:
            self._reasoning += delta.reasoning
        elif not text and not delta.tool_call_chunks:
            return None
        if self._reasoning or self._tools or delta.tool_call_chunks:
            return self._rich_response(delta)
        return _response(_message([_text_block(self._text)], {}), text, {})

    def _rich_response(self, delta: StreamDelta) -> ChatResponse:
        """The snapshot of a message with reasoning or tool calls."""
        blocks: list[Any] = []
        if self._reasoning:
            values: dict[str, Any] = {
                "block_type": "thinking",
                "content": self._reasoning,
                "num_tokens": None,
                "additional_information": {},
            }
            blocks.append(trusted(ThinkingBlock, values, {"content"}))
        blocks.append(_text_block(self._text))
        message_kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {"thinking_delta": delta.reasoning} if delta.reasoning else {}
        if delta.tool_call_chunks:
            self._tools = True
        if self._tools:
            message_kwargs["tool_calls"] = self._tool_blocks(blocks)
            extra[PARTIAL_TOOL_CALLS] = True
        return _response(_message(blocks, message_kwargs), delta.text, extra)

    def _tool_blocks(self, blocks: list[Any]) -> list[dict[str, Any]]:
        """Append one `ToolCallBlock` per call so far (arguments as text); OpenAI-shaped list."""
        calls = []
        for index, call_id, name, text in self._acc.raw_tool_calls():
            call_id = call_id or f"call_{index}"
            values = {
                "block_type": "tool_call",
                "tool_call_id": call_id,
                "tool_name": name or "",
                "tool_kwargs": text,
            }
            blocks.append(
                trusted(ToolCallBlock, values, {"tool_call_id", "tool_name", "tool_kwargs"})
            )
            calls.append(openai_tool_call(call_id, name or "", text))
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


def responses(deltas: Iterator[StreamDelta]) -> Generator[ChatResponse, None, None]:
    """The responses of a stream of deltas: one per delta with content, then the final one."""
    folder = StreamFolder()
    yield from (r for r in map(folder.add, deltas) if r is not None)
    yield folder.final()


async def aresponses(deltas: AsyncIterator[StreamDelta]) -> AsyncGenerator[ChatResponse, None]:
    """Async `responses`."""
    folder = StreamFolder()
    async for delta in deltas:
        if (response := folder.add(delta)) is not None:
            yield response
    yield folder.final()
