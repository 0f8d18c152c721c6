"""``POST /v1/messages`` JSON -> neutral results (pure): whole answers and stream events.

Fields are read through `_shapes`: a wrong shape (``content`` that is not a list, a block
without ``type``, a usage count that is a string) raises `APIResponseValidationError` naming
it. Block and event kinds this client does not know are tolerated (they stay in ``raw``).

Usage: ``input_tokens`` counts all prompt tokens (uncached + cache reads + cache writes), like
OpenAI's ``prompt_tokens``; ``cache_read_tokens`` and the extra ``cache_creation_tokens`` say
how many of them were cached. A stream reports its usage once, merged from ``message_start``
(input) and ``message_delta`` (output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..tool_calls import argument_text, tool_call_from_raw
from ..transport.errors import error_from_payload
from ..types import ChatResult, StreamDelta, ToolCall, ToolCallChunk, Usage
from ._common import normalise_finish_reason
from ._shapes import as_dict, as_list, malformed, opt_dict, opt_int, opt_str, req_str

__all__ = ["AnthropicStreamState", "decode_event", "decode_response", "new_stream_state"]

_CACHE_KEYS = ("cache_read_input_tokens", "cache_creation_input_tokens")


def _usage(usage: dict[str, Any], where: str, body: Any) -> Usage:
    """`Usage` from an Anthropic usage object (input and output counts required)."""
    counts = {}
    for key in ("input_tokens", "output_tokens"):
        value = usage.get(key)
        if type(value) is not int:
            raise malformed(f"{where}.{key}", value, "an integer", body)
        counts[key] = value
    read, created = (opt_int(usage.get(k), f"{where}.{k}", body) for k in _CACHE_KEYS)
    total_input = counts["input_tokens"] + (read or 0) + (created or 0)
    extras = {} if created is None else {"cache_creation_tokens": created}
    return Usage(
        input_tokens=total_input,
        output_tokens=counts["output_tokens"],
        total_tokens=total_input + counts["output_tokens"],
        cache_read_tokens=read,
        **extras,
    )


def _decode_blocks(content: list[Any], body: Any) -> tuple[str, str, str | None, list[ToolCall]]:
    """(text, reasoning, signature, tool calls) of a message's content blocks."""
    text: list[str] = []
    reasoning: list[str] = []
    signature = None
    calls: list[ToolCall] = []
    for i, block in enumerate(content):
        where = f"content[{i}]"
        block = as_dict(block, where, body)
        kind = req_str(block.get("type"), f"{where}.type", body)
        if kind == "text":
            text.append(opt_str(block.get("text"), f"{where}.text", body) or "")
        elif kind == "tool_use":
            call_id = opt_str(block.get("id"), f"{where}.id", body) or f"toolu_{len(calls)}"
            name = req_str(block.get("name"), f"{where}.name", body)
            calls.append(tool_call_from_raw(call_id, name, block.get("input")))
        elif kind == "thinking":
            reasoning.append(opt_str(block.get("thinking"), f"{where}.thinking", body) or "")
            signature = opt_str(block.get("signature"), f"{where}.signature", body) or signature
    return "".join(text), "".join(reasoning), signature, calls


def decode_response(body: Any) -> ChatResult:
    """A ``message`` body as a `ChatResult` (``raw`` is the body)."""
    body = as_dict(body, "the /v1/messages body", body)
    if body.get("type") == "error":
        error = error_from_payload(body)
        if error is not None:
            raise error
    if "content" not in body:
        keys = ", ".join(sorted(body)) or "none"
        raise malformed("content", None, f"an array of blocks (keys: {keys})", body)
    text, reasoning, signature, calls = _decode_blocks(
        as_list(body["content"], "content", body), body
    )
    raw_stop = opt_str(body.get("stop_reason"), "stop_reason", body)
    usage = opt_dict(body.get("usage"), "usage", body)
    return ChatResult(
        id=opt_str(body.get("id"), "id", body),
        model=opt_str(body.get("model"), "model", body),
        text=text,
        reasoning=reasoning or None,
        reasoning_signature=signature,
        tool_calls=calls,
        finish_reason=normalise_finish_reason(raw_stop),
        raw_finish_reason=raw_stop,
        usage=None if usage is None else _usage(usage, "usage", body),
        raw=body,
    )


# --------------------------------------------------------------------------- streaming


@dataclass
class AnthropicStreamState:
    """Per-stream state: start usage, tool index per content block, whether usage went out."""

    start_usage: dict[str, Any] = field(default_factory=dict)
    tool_index: dict[int, int] = field(default_factory=dict)
    usage_sent: bool = False


def new_stream_state() -> AnthropicStreamState:
    """Fresh state for one stream."""
    return AnthropicStreamState()


_PIECES = {
    # event kind: (field of the block or delta, StreamDelta field)
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "reasoning"),
    "signature_delta": ("signature", "reasoning_signature"),
    "text": ("text", "text"),
    "thinking": ("thinking", "reasoning"),
}
"""Kinds that carry one piece of text, from deltas and from content-block starts alike."""


def _piece(kind: str, source: dict[str, Any], where: str, data: Any) -> list[StreamDelta]:
    """The delta for a text piece (text, reasoning or signature); none for an empty one."""
    key, field = _PIECES[kind]
    value = opt_str(source.get(key), f"{where}.{key}", data)
    if not value:
        return []
    delta = StreamDelta()
    setattr(delta, field, value)
    return [delta]


def _block_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    delta = as_dict(data.get("delta"), "delta", data)
    kind = req_str(delta.get("type"), "delta.type", data)
    if kind in _PIECES:
        return _piece(kind, delta, "delta", data)
    if kind != "input_json_delta":
        return []
    index = opt_int(data.get("index"), "index", data) or 0
    tool = state.tool_index.get(index)
    if tool is None:
        raise malformed("index", index, "the index of a tool_use block", data)
    partial = opt_str(delta.get("partial_json"), "delta.partial_json", data)
    if not partial:
        return []
    return [StreamDelta(tool_call_chunks=[ToolCallChunk(tool, None, None, partial)])]


def _block_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    block = as_dict(data.get("content_block"), "content_block", data)
    kind = req_str(block.get("type"), "content_block.type", data)
    if kind in ("text", "thinking"):
        return _piece(kind, block, "content_block", data)
    if kind != "tool_use":
        return []
    tool = len(state.tool_index)
    index = opt_int(data.get("index"), "index", data)
    state.tool_index[tool if index is None else index] = tool
    arguments = argument_text(block.get("input"))
    call_id = opt_str(block.get("id"), "content_block.id", data)
    name = req_str(block.get("name"), "content_block.name", data)
    return [StreamDelta(tool_call_chunks=[ToolCallChunk(tool, call_id, name, arguments)])]


def _final_usage(
    state: AnthropicStreamState, raw: dict[str, Any] | None, data: Any
) -> Usage | None:
    """The stream's usage, once: output from ``message_delta``, input from ``message_start``."""
    if state.usage_sent or (not raw and not state.start_usage):
        return None
    merged = {**state.start_usage, **{k: v for k, v in (raw or {}).items() if v is not None}}
    state.usage_sent = True
    return _usage(merged, "usage", data)


def _message_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    delta = as_dict(data.get("delta"), "delta", data)
    raw_stop = opt_str(delta.get("stop_reason"), "delta.stop_reason", data)
    usage = _final_usage(state, opt_dict(data.get("usage"), "usage", data), data)
    if raw_stop is None and usage is None:
        return []
    finish = normalise_finish_reason(raw_stop)
    return [StreamDelta(finish_reason=finish, raw_finish_reason=raw_stop, usage=usage)]


def _message_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    message = as_dict(data.get("message"), "message", data)
    usage = opt_dict(message.get("usage"), "message.usage", data)
    if usage is not None:
        state.start_usage = usage
    message_id = opt_str(message.get("id"), "message.id", data)
    return [StreamDelta(id=message_id, model=opt_str(message.get("model"), "message.model", data))]


def decode_event(
    state: AnthropicStreamState, event: str | None, data: dict[str, Any]
) -> tuple[list[StreamDelta], bool]:
    """The deltas of one Anthropic stream event, and whether it was ``message_stop``.

    The common event (a piece of text) is checked inline; every other one goes through the
    field checks of `_shapes`."""
    kind = data.get("type")
    if kind == "content_block_delta":
        delta = data.get("delta")
        if type(delta) is dict and delta.get("type") == "text_delta":
            text = delta.get("text")
            if type(text) is str:
                return ([StreamDelta(text=text)] if text else []), False
        return _block_delta(state, data), False
    kind = opt_str(kind, "type", data) or event
    if kind == "content_block_start":
        return _block_start(state, data), False
    if kind == "message_delta":
        return _message_delta(state, data), False
    if kind == "message_start":
        return _message_start(state, data), False
    if kind == "message_stop":
        usage = _final_usage(state, None, data)
        return ([StreamDelta(usage=usage)] if usage is not None else []), True
    if kind == "content_block_delta":  # named by the SSE event only
        return _block_delta(state, data), False
    if kind == "error":
        raise error_from_payload(data) or malformed("error", data.get("error"), "an error", data)
    return [], False
