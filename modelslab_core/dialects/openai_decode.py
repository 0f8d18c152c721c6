"""``POST /chat/completions`` JSON -> neutral results (pure): whole answers and stream chunks.

Every field is read through `_shapes`: a field of a shape the contract does not allow (a
``message`` that is null, ``content`` that is a number, a usage count that is a string) raises
`APIResponseValidationError` naming it; nothing becomes a silent default. Unknown fields are
tolerated and kept in ``ChatResult.raw``.

``decode_event`` emits ``usage`` at most once per stream, from the first usage seen on a chunk
that ends the answer (empty ``choices`` or a ``finish_reason``); servers that report running
usage on every chunk therefore do not double count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..tool_calls import argument_text, tool_call_from_raw
from ..transport.errors import error_from_payload
from ..types import ChatResult, StreamDelta, ToolCall, ToolCallChunk, Usage
from ._common import normalise_finish_reason
from ._shapes import as_dict, as_list, malformed, opt_dict, opt_int, opt_list, opt_str, req_str

__all__ = [
    "OpenAIStreamState",
    "decode_event",
    "decode_response",
    "decode_usage",
    "new_stream_state",
]

_USAGE_KEYS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
)
_TEXT_PARTS = ("text", "output_text")


def _count(usage: dict[str, Any], key: str, where: str, body: Any) -> int:
    value = usage.get(key)
    if type(value) is int:
        return value
    raise malformed(f"{where}.{key}", value, "an integer", body)


def decode_usage(raw: Any, where: str = "usage", body: Any = None) -> Usage | None:
    """OpenAI ``usage`` as `Usage` (cached and reasoning tokens from the details; extras kept)."""
    usage = opt_dict(raw, where, body)
    if usage is None:
        return None
    prompt = _count(usage, "prompt_tokens", where, body)
    completion = _count(usage, "completion_tokens", where, body)
    total = opt_int(usage.get("total_tokens"), f"{where}.total_tokens", body)
    details = opt_dict(usage.get("prompt_tokens_details"), f"{where}.prompt_tokens_details", body)
    out = opt_dict(
        usage.get("completion_tokens_details"), f"{where}.completion_tokens_details", body
    )
    cached = opt_int(
        (details or {}).get("cached_tokens"), f"{where}.prompt_tokens_details.cached_tokens", body
    )
    reasoning = opt_int(
        (out or {}).get("reasoning_tokens"),
        f"{where}.completion_tokens_details.reasoning_tokens",
        body,
    )
    extras = {k: v for k, v in usage.items() if k not in _USAGE_KEYS}
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
        **extras,
    )


def content_text(content: Any, where: str, body: Any) -> str:
    """A message's text: a string, null, or a list of parts (text parts joined; parts of other
    kinds, such as refusals or images, are left in ``raw``)."""
    if content is None:
        return ""
    if type(content) is str:
        return content
    pieces = []
    for i, part in enumerate(as_list(content, where, body)):
        if type(part) is str:
            pieces.append(part)
            continue
        part = as_dict(part, f"{where}[{i}]", body)
        kind = req_str(part.get("type"), f"{where}[{i}].type", body)
        if kind in _TEXT_PARTS:
            pieces.append(opt_str(part.get("text"), f"{where}[{i}].text", body) or "")
    return "".join(pieces)


def _reasoning(message: dict[str, Any], where: str, body: Any) -> str | None:
    for key in ("reasoning_content", "reasoning"):
        value = opt_str(message.get(key), f"{where}.{key}", body)
        if value:
            return value
    return None


def _decode_tool_calls(raw: Any, where: str, body: Any) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(opt_list(raw, where, body) or []):
        item = as_dict(item, f"{where}[{i}]", body)
        function = as_dict(item.get("function"), f"{where}[{i}].function", body)
        name = req_str(function.get("name"), f"{where}[{i}].function.name", body)
        arguments = function.get("arguments")
        call_id = opt_str(item.get("id"), f"{where}[{i}].id", body) or f"call_{i}"
        calls.append(tool_call_from_raw(call_id, name, arguments))
    return calls


def _message_of(choice: dict[str, Any], body: Any) -> tuple[dict[str, Any], str]:
    """The choice's message and its text (a legacy completion choice carries ``text`` only)."""
    if "message" not in choice and "text" in choice:
        text = choice["text"]
        if type(text) is not str:
            raise malformed("choices[0].text", text, "a string", body)
        return {}, text
    message = as_dict(choice.get("message"), "choices[0].message", body)
    return message, content_text(message.get("content"), "choices[0].message.content", body)


def decode_response(body: Any) -> ChatResult:
    """A ``chat.completion`` body as a `ChatResult` (``raw`` is the body)."""
    body = as_dict(body, "the /chat/completions body", body)
    choices = opt_list(body.get("choices"), "choices", body)
    if not choices:
        error = error_from_payload(body) if "error" in body else None
        if error is not None:
            raise error
        keys = ", ".join(sorted(body)) or "none"
        raise malformed("choices", choices, f"a non-empty array (keys: {keys})", body)
    choice = as_dict(choices[0], "choices[0]", body)
    message, text = _message_of(choice, body)
    raw_finish = opt_str(choice.get("finish_reason"), "choices[0].finish_reason", body)
    return ChatResult(
        id=opt_str(body.get("id"), "id", body),
        model=opt_str(body.get("model"), "model", body),
        text=text,
        reasoning=_reasoning(message, "choices[0].message", body),
        tool_calls=_decode_tool_calls(
            message.get("tool_calls"), "choices[0].message.tool_calls", body
        ),
        finish_reason=normalise_finish_reason(raw_finish),
        raw_finish_reason=raw_finish,
        usage=decode_usage(body.get("usage"), "usage", body),
        raw=body,
    )


# --------------------------------------------------------------------------- streaming


@dataclass
class _Slot:
    """One streamed tool call: the index we report, and what was already emitted."""

    index: int
    id: str | None = None
    named: bool = False


@dataclass
class OpenAIStreamState:
    """Per-stream state: tool-call slots by wire index, whether id/model and usage went out."""

    slots: dict[int, _Slot] = field(default_factory=dict)
    used: set[int] = field(default_factory=set)
    started: bool = False
    usage_sent: bool = False


def new_stream_state() -> OpenAIStreamState:
    """Fresh state for one stream."""
    return OpenAIStreamState()


def _slot_for(state: OpenAIStreamState, wire: int, call_id: str | None) -> tuple[_Slot, bool]:
    """The slot of a tool-call delta, and whether its id is new (a new id on a used index
    starts a new call: some servers send every call at index 0)."""
    slot = state.slots.get(wire)
    if slot is None or (call_id is not None and slot.id is not None and call_id != slot.id):
        index = wire if wire not in state.used else max(state.used) + 1
        slot = _Slot(index)
        state.slots[wire] = slot
        state.used.add(index)
    fresh = call_id is not None and slot.id is None
    if fresh:
        slot.id = call_id
    return slot, fresh


def _tool_chunk(state: OpenAIStreamState, i: int, item: Any, data: Any) -> ToolCallChunk:
    where = f"choices[0].delta.tool_calls[{i}]"
    item = as_dict(item, where, data)
    wire = opt_int(item.get("index"), f"{where}.index", data)
    call_id = opt_str(item.get("id"), f"{where}.id", data) or None
    slot, fresh = _slot_for(state, i if wire is None else wire, call_id)
    function = opt_dict(item.get("function"), f"{where}.function", data) or {}
    name = opt_str(function.get("name"), f"{where}.function.name", data) or None
    arguments = argument_text(function.get("arguments"))
    if name is not None:
        if slot.named:
            name = None
        else:
            slot.named = True
    return ToolCallChunk(slot.index, call_id if fresh else None, name, arguments)


def _delta_of(choice: dict[str, Any], data: Any) -> dict[str, Any]:
    delta = choice.get("delta")
    if type(delta) is dict:
        return delta
    if delta is None:
        delta = choice.get("message")  # servers that stream whole messages
        if delta is None and choice.get("finish_reason") is not None:
            return {}  # a closing chunk with no delta
    return as_dict(delta, "choices[0].delta", data)


def _chunk_usage(state: OpenAIStreamState, data: dict[str, Any]) -> Usage | None:
    raw = data.get("usage")
    if raw is None and "x_groq" in data:
        raw = (opt_dict(data["x_groq"], "x_groq", data) or {}).get("usage")
    usage = decode_usage(raw, "usage", data)
    state.usage_sent = usage is not None
    return usage


_DELTA_CONTENT = "choices[0].delta.content"


def _delta_reasoning(delta: dict[str, Any], data: Any) -> str:
    if "reasoning_content" not in delta and "reasoning" not in delta:
        return ""  # the common chunk: no key to check
    return _reasoning(delta, "choices[0].delta", data) or ""


def _no_choices(state: OpenAIStreamState, choices: Any, data: dict[str, Any]) -> Usage | None:
    """A chunk without choices: an error payload, or the one that carries usage."""
    opt_list(choices, "choices", data)
    error = error_from_payload(data) if "error" in data else None
    if error is not None:
        raise error
    return None if state.usage_sent else _chunk_usage(state, data)


def decode_event(
    state: OpenAIStreamState, event: str | None, data: dict[str, Any]
) -> tuple[list[StreamDelta], bool]:
    """The deltas of one ``chat.completion.chunk``; never done (``[DONE]`` is the transport's).

    The common chunk's fields are checked inline (the per-chunk cost matters); every other
    shape goes through the same checks as a whole answer."""
    choices = data.get("choices")
    text = reasoning = ""
    chunks: list[ToolCallChunk] = []
    raw_finish = usage = None
    if choices:
        if type(choices) is not list:
            raise malformed("choices", choices, "an array", data)
        choice = choices[0]
        if type(choice) is not dict:
            raise malformed("choices[0]", choice, "an object", data)
        delta = choice.get("delta")
        if type(delta) is not dict:
            delta = _delta_of(choice, data)
        content = delta.get("content")
        text = content if type(content) is str else content_text(content, _DELTA_CONTENT, data)
        reasoning = _delta_reasoning(delta, data)
        raw_tools = delta.get("tool_calls")
        if raw_tools is not None:
            tools = as_list(raw_tools, "choices[0].delta.tool_calls", data)
            chunks = [_tool_chunk(state, i, item, data) for i, item in enumerate(tools)]
        raw_finish = choice.get("finish_reason")
        if raw_finish is not None:
            raw_finish = opt_str(raw_finish, "choices[0].finish_reason", data) or None
            if raw_finish and not state.usage_sent:
                usage = _chunk_usage(state, data)
    else:
        usage = _no_choices(state, choices, data)
    first = not state.started
    if not (text or reasoning or chunks or raw_finish or usage or first):
        return [], False
    state.started = True
    delta_out = StreamDelta(
        text=text,
        reasoning=reasoning,
        tool_call_chunks=chunks,
        finish_reason=None if raw_finish is None else normalise_finish_reason(raw_finish),
        raw_finish_reason=raw_finish,
        usage=usage,
        id=opt_str(data.get("id"), "id", data) if first else None,
        model=opt_str(data.get("model"), "model", data) if first else None,
    )
    return [delta_out], False
