"""The OpenAI-compatible dialect: ``POST /chat/completions``.

Pure functions only. ``DIALECT`` bundles them as a `DialectCodec`.

Notes on choices made here:

- Assistant tool-call arguments are sent as ``json.dumps(arguments)`` (always valid JSON, even
  for calls whose original text did not parse: servers that re-parse history would reject it).
- Reasoning parts are never sent: the chat-completions format has no field for them.
- Tool messages take text only in chat completions, so images in a tool result are not
  dropped but carried in one ``user`` message placed right after that run of tool messages
  (before the next turn): for each tool call with images, a text part
  ``"Images returned by tool call <id>:"`` then its ``image_url`` parts. The tool message
  keeps the text. (Several OpenAI-compatible integrations do the same.)
- ``Message.is_error`` has no chat-completions field and is not sent; the tool message's
  content goes as is (like LangChain's ``ChatOpenAI``): frameworks already word failed tool
  runs in the content itself (e.g. ``"Error: ..."``), so a prefix would only repeat it.
- ``decode_event`` emits ``usage`` at most once per stream, from the first usage seen on a
  chunk that ends the answer (empty ``choices`` or a ``finish_reason``); servers that report
  running usage on every chunk therefore do not double count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import APIResponseValidationError
from ..types import (
    ChatRequest,
    ChatResult,
    Dialect,
    ImagePart,
    Message,
    NamedToolChoice,
    StreamDelta,
    TextPart,
    ToolCall,
    ToolCallChunk,
    ToolSpec,
    Usage,
)
from ._base import ModelField
from ._common import (
    content_text,
    make_tool_call,
    message_text,
    normalise_finish_reason,
    raise_event_error,
)

__all__ = [
    "DIALECT",
    "OpenAIChatDialect",
    "OpenAIStreamState",
    "decode_event",
    "decode_response",
    "decode_usage",
    "encode_message",
    "encode_messages",
    "encode_request",
    "new_stream_state",
]

_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "max_tokens",
    "seed",
)

# --------------------------------------------------------------------------- encoding


def _image_url(part: ImagePart) -> dict[str, Any]:
    """An ``image_url`` content part (URL as given, or base64 data as a ``data:`` URI)."""
    url = part.url or f"data:{part.mime_type or 'image/png'};base64,{part.data or ''}"
    image: dict[str, Any] = {"url": url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _encode_content(message: Message) -> str | list[dict[str, Any]]:
    """A string when the content is text only; else a list of text/image parts."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    if not any(isinstance(p, ImagePart) for p in parts):
        return message.text_content
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            out.append(_image_url(part))
    return out


def _encode_tool_call(call: ToolCall) -> dict[str, Any]:
    """One assistant tool call, ``arguments`` as a JSON string."""
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }


def encode_message(message: Message) -> dict[str, Any]:
    """One neutral message as an OpenAI chat message (a tool result keeps its text only;
    `encode_messages` carries its images)."""
    role = message.role
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message_text(message),
        }
    out: dict[str, Any] = {"role": role}
    if role == "assistant" and message.tool_calls:
        text = message.text_content
        out["content"] = text or None
        out["tool_calls"] = [_encode_tool_call(c) for c in message.tool_calls]
    else:
        out["content"] = _encode_content(message)
    if message.name:
        out["name"] = message.name
    return out


def _tool_images(message: Message) -> list[dict[str, Any]]:
    """The image parts of a tool result, labelled with their call id (``[]`` if none)."""
    if len(message.content) == 1 and type(message.content[0]) is TextPart:
        return []
    images = [_image_url(p) for p in message.content if isinstance(p, ImagePart)]
    if not images:
        return []
    label = f"Images returned by tool call {message.tool_call_id or ''}:"
    return [{"type": "text", "text": label}, *images]


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The wire messages; images of tool results follow their tool run in a user message."""
    out: list[dict[str, Any]] = []
    carried: list[dict[str, Any]] = []
    for message in messages:
        if message.role != "tool" and carried:
            out.append({"role": "user", "content": carried})
            carried = []
        out.append(encode_message(message))
        if message.role == "tool":
            carried.extend(_tool_images(message))
    if carried:
        out.append({"role": "user", "content": carried})
    return out


def _encode_tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _encode_tool_choice(choice: str | NamedToolChoice) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


def _encode_response_format(request: ChatRequest) -> dict[str, Any] | None:
    fmt = request.response_format
    if fmt is None:
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.description:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def encode_request(
    request: ChatRequest, *, stream: bool, model_field: ModelField = "both"
) -> dict[str, Any]:
    """The ``/chat/completions`` JSON body for ``request`` (``extra_body`` merged last)."""
    body: dict[str, Any] = {}
    if model_field in ("model", "both"):
        body["model"] = request.model
    if model_field in ("model_id", "both"):
        body["model_id"] = request.model
    body["messages"] = encode_messages(request.messages)
    if request.tools:
        body["tools"] = [_encode_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    response_format = _encode_response_format(request)
    if response_format is not None:
        body["response_format"] = response_format
    for name in _SAMPLING:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop"] = list(request.stop)
    if stream:
        body["stream"] = True
        if request.include_usage:
            body["stream_options"] = {"include_usage": True}
    body.update(request.extra_body)
    return body


# --------------------------------------------------------------------------- decoding

_USAGE_KEYS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_usage(raw: Any) -> Usage | None:
    """OpenAI ``usage`` as `Usage` (cached and reasoning tokens from the details; extras kept)."""
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    total = _int(raw.get("total_tokens")) or prompt + completion
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
    reasoning = (
        completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
    )
    extras = {k: v for k, v in raw.items() if k not in _USAGE_KEYS}
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=total,
        cache_read_tokens=cached if isinstance(cached, int) else None,
        reasoning_tokens=reasoning if isinstance(reasoning, int) else None,
        **extras,
    )


def _reasoning(message: dict[str, Any]) -> str | None:
    value = message.get("reasoning_content")
    if not isinstance(value, str) or not value:
        value = message.get("reasoning")
    return value if isinstance(value, str) and value else None


def _decode_tool_calls(raw: Any) -> list[ToolCall]:
    if not isinstance(raw, list):
        return []
    calls = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        function = item.get("function")
        function = function if isinstance(function, dict) else {}
        call_id = item.get("id") or f"call_{position}"
        calls.append(
            make_tool_call(str(call_id), str(function.get("name") or ""), function.get("arguments"))
        )
    return calls


def decode_response(body: dict[str, Any]) -> ChatResult:
    """A ``chat.completion`` body as a `ChatResult` (lenient; ``raw`` is the body)."""
    if not isinstance(body, dict):
        raise APIResponseValidationError(
            f"Expected a JSON object from /chat/completions, got {type(body).__name__}", body=body
        )
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        if "error" in body:
            raise_event_error(body)
        keys = ", ".join(sorted(body)) or "none"
        raise APIResponseValidationError(
            f"The /chat/completions response has no 'choices' (keys: {keys})", body=body
        )
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    text = content_text(message.get("content"))
    if not text and isinstance(choice.get("text"), str):
        text = choice["text"]
    raw_finish = choice.get("finish_reason")
    return ChatResult(
        id=body.get("id") if isinstance(body.get("id"), str) else None,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        text=text,
        reasoning=_reasoning(message),
        tool_calls=_decode_tool_calls(message.get("tool_calls")),
        finish_reason=normalise_finish_reason(raw_finish),
        raw_finish_reason=None if raw_finish is None else str(raw_finish),
        usage=decode_usage(body.get("usage")),
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


def _tool_chunks(state: OpenAIStreamState, raw: list[Any]) -> list[ToolCallChunk]:
    chunks = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        wire = item.get("index")
        if not isinstance(wire, int):
            wire = position
        call_id = item.get("id") or None
        slot, fresh = _slot_for(state, wire, call_id)
        function = item.get("function") or {}
        name = function.get("name") or None
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        if name is not None:
            if slot.named:
                name = None
            else:
                slot.named = True
        chunks.append(ToolCallChunk(slot.index, call_id if fresh else None, name, arguments))
    return chunks


def decode_event(
    state: OpenAIStreamState, event: str | None, data: dict[str, Any]
) -> tuple[list[StreamDelta], bool]:
    """The deltas of one ``chat.completion.chunk``; never done (``[DONE]`` is the transport's)."""
    try:
        return _decode_chunk(state, data)
    except (AttributeError, TypeError, IndexError) as exc:
        raise APIResponseValidationError(
            f"Malformed chat.completion.chunk: {exc}", body=data
        ) from exc


def _decode_chunk(state: OpenAIStreamState, data: dict[str, Any]) -> tuple[list[StreamDelta], bool]:
    choices = data.get("choices")
    text = reasoning = ""
    chunks: list[ToolCallChunk] = []
    raw_finish = None
    if choices:
        choice = choices[0]
        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content")
        if content:
            text = content if isinstance(content, str) else content_text(content)
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        if not isinstance(reasoning, str):
            reasoning = ""
        raw_tools = delta.get("tool_calls")
        if raw_tools:
            chunks = _tool_chunks(state, raw_tools)
        raw_finish = choice.get("finish_reason")
    elif "error" in data:
        raise_event_error(data)
    usage = None
    if not state.usage_sent and (raw_finish or not choices):
        raw_usage = data.get("usage") or (data.get("x_groq") or {}).get("usage")
        if raw_usage:
            usage = decode_usage(raw_usage)
            state.usage_sent = usage is not None
    first = not state.started
    if not (text or reasoning or chunks or raw_finish or usage or first):
        return [], False
    state.started = True
    delta_out = StreamDelta(
        text=text,
        reasoning=reasoning,
        tool_call_chunks=chunks,
        finish_reason=normalise_finish_reason(raw_finish),
        raw_finish_reason=str(raw_finish) if raw_finish else None,
        usage=usage,
        id=data.get("id") if first else None,
        model=data.get("model") if first else None,
    )
    return [delta_out], False


class OpenAIChatDialect:
    """`DialectCodec` for ``POST /chat/completions``."""

    name: Dialect = "openai"
    path: str = "/chat/completions"

    def encode_request(
        self, request: ChatRequest, *, stream: bool, model_field: ModelField
    ) -> dict[str, Any]:
        """The JSON body for ``request``."""
        return encode_request(request, stream=stream, model_field=model_field)

    def decode_response(self, body: dict[str, Any]) -> ChatResult:
        """A complete response body as a `ChatResult`."""
        return decode_response(body)

    def new_stream_state(self) -> OpenAIStreamState:
        """Fresh per-stream state."""
        return new_stream_state()

    def decode_event(
        self, state: Any, event: str | None, data: dict[str, Any]
    ) -> tuple[list[StreamDelta], bool]:
        """The deltas one chunk adds (never done)."""
        return decode_event(state, event, data)


DIALECT = OpenAIChatDialect()
