"""The Anthropic-compatible dialect: ``POST /v1/messages`` (and ``/v1/messages/count_tokens``).

Pure functions only. ``DIALECT`` bundles them as a `DialectCodec`.

Mapping rules (the Anthropic quirks live here, once):

- ``system`` messages are hoisted to the top-level ``system`` string (several are joined with a
  blank line); consecutive turns of one role are merged; tool results become ``tool_result``
  blocks of a user turn, placed before any other block of that turn.
- A turn that is a single text block is sent as a plain string (the most compatible form).
- Reasoning parts are sent back as ``thinking`` blocks only when they carry a signature
  (the API rejects unsigned thinking); ``name``, ``seed`` and the penalties have no Anthropic
  field and are not sent (use ``extra_body`` to force them).
- ``model`` is always sent: Anthropic's body requires it and the contract documents
  ``model_id`` for ``/chat/completions`` only. ``model_field="model_id"`` or ``"both"`` adds
  ``model_id`` next to it; ``count_tokens`` sends ``model`` only.
- ``max_tokens`` is required: 1024 when the request leaves it unset.
- ``response_format``:
  ``json_schema`` becomes a tool named after the schema (its ``input_schema`` is the schema)
  that ``tool_choice`` forces; the answer arrives as that tool call (see
  `modelslab_core.structured.structured_output`). It overrides the request's ``tool_choice``.
  ``json_object`` appends an instruction to ``system`` asking for one JSON object and nothing
  else; read the answer with `modelslab_core.structured.parse_json_text`.
- Usage: ``input_tokens`` counts all prompt tokens (uncached + cache reads + cache writes),
  like OpenAI's ``prompt_tokens``; ``cache_read_tokens`` and the extra
  ``cache_creation_tokens`` say how many of them were cached.
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
    ReasoningPart,
    StreamDelta,
    TextPart,
    ToolCall,
    ToolCallChunk,
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
    "DEFAULT_MAX_TOKENS",
    "DIALECT",
    "JSON_OBJECT_INSTRUCTION",
    "AnthropicMessagesDialect",
    "AnthropicStreamState",
    "decode_event",
    "decode_response",
    "encode_count_tokens",
    "encode_messages",
    "encode_request",
    "new_stream_state",
]

DEFAULT_MAX_TOKENS = 1024
"""``max_tokens`` sent when the request leaves it unset (the API requires one)."""

JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no code fences."
)
"""The system instruction that stands in for ``response_format: json_object``."""

# --------------------------------------------------------------------------- encoding


def _image_block(part: ImagePart) -> dict[str, Any]:
    """An ``image`` block: a URL source, or base64 (also from a ``data:`` URI)."""
    url = part.url or ""
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        source = {"type": "base64", "media_type": header or "image/png", "data": data}
    elif url:
        source = {"type": "url", "url": url}
    else:
        media_type = part.mime_type or "image/png"
        source = {"type": "base64", "media_type": media_type, "data": part.data or ""}
    return {"type": "image", "source": source}


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    """Text, image and (signed) thinking blocks of a message, thinking first."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:  # the common turn: one text part
        text = parts[0].text
        return [{"type": "text", "text": text}] if text else []
    thinking: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image_block(part))
        elif isinstance(part, ReasoningPart) and part.signature and message.role == "assistant":
            thinking.append(
                {"type": "thinking", "thinking": part.text, "signature": part.signature}
            )
    return thinking + blocks if thinking else blocks


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


def _tool_result(message: Message) -> dict[str, Any]:
    blocks = _content_blocks(message)
    content: Any = message_text(message)
    if any(b["type"] == "image" for b in blocks):
        content = blocks
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id or "",
        "content": content,
    }
    if message.is_error:
        result["is_error"] = True
    return result


def _wire_turn(
    role: str, results: list[dict[str, Any]], blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    """One merged turn: tool results first; a single text block is sent as a plain string."""
    content = results + blocks if results else blocks
    if len(content) == 1 and content[0]["type"] == "text":
        return {"role": role, "content": content[0]["text"]}
    return {"role": role, "content": content if content else ""}


def encode_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system, messages)``: system hoisted, roles merged, tool results as user blocks.

    Each turn becomes its wire dict as soon as the next role starts (no per-turn objects kept:
    a long text history leaves one string-only dict per turn, which the GC does not track).
    """
    system: list[str] = []
    wire: list[dict[str, Any]] = []
    role: str | None = None
    results: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message_text(message))
            continue
        turn = "assistant" if message.role == "assistant" else "user"
        if message.role == "tool":
            new_results, new_blocks = [_tool_result(message)], []
        else:
            new_results, new_blocks = [], _content_blocks(message)
            if message.tool_calls:
                new_blocks.extend(_tool_use(c) for c in message.tool_calls)
            if turn == "assistant" and not new_blocks:
                continue
        if turn != role:
            if role is not None:
                wire.append(_wire_turn(role, results, blocks))
            role, results, blocks = turn, new_results, new_blocks
        else:
            results.extend(new_results)
            blocks.extend(new_blocks)
    if role is not None:
        wire.append(_wire_turn(role, results, blocks))
    joined = "\n\n".join(s for s in system if s)
    return (joined or None), wire


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        wire: dict[str, Any] = {"type": "tool", "name": choice.name}
    elif choice == "required":
        wire = {"type": "any"}
    elif choice in ("auto", "none"):
        wire = {"type": choice}
    elif request.parallel_tool_calls is False and request.tools:
        wire = {"type": "auto"}
    else:
        return None
    if request.parallel_tool_calls is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    return wire


def _tools_and_choice(
    request: ChatRequest,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Wire tools and tool_choice, with a ``json_schema`` format as a forced tool."""
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    choice = _tool_choice(request)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        if all(t["name"] != fmt.name for t in tools):
            description = fmt.description or (
                f"Give the final answer by calling this tool with the `{fmt.name}` object."
            )
            tools.append(
                {"name": fmt.name, "description": description, "input_schema": fmt.schema_}
            )
        choice = {"type": "tool", "name": fmt.name}
        if request.parallel_tool_calls is False:
            choice["disable_parallel_tool_use"] = True
    return tools, choice


def _system(request: ChatRequest, system: str | None) -> str | None:
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        return f"{system}\n\n{JSON_OBJECT_INSTRUCTION}" if system else JSON_OBJECT_INSTRUCTION
    return system


def encode_request(
    request: ChatRequest, *, stream: bool, model_field: ModelField = "both"
) -> dict[str, Any]:
    """The ``/v1/messages`` JSON body for ``request`` (``extra_body`` merged last).

    ``model`` is always present; ``model_id`` is added when ``model_field`` asks for it.
    """
    system, messages = encode_messages(request.messages)
    system = _system(request, system)
    body: dict[str, Any] = {"model": request.model}
    if model_field in ("model_id", "both"):
        body["model_id"] = request.model
    body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    tools, choice = _tools_and_choice(request)
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if stream:
        body["stream"] = True
    body.update(request.extra_body)
    return body


def encode_count_tokens(request: ChatRequest) -> dict[str, Any]:
    """The ``/v1/messages/count_tokens`` body: model, messages, system, tools."""
    system, messages = encode_messages(request.messages)
    system = _system(request, system)
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if system is not None:
        body["system"] = system
    tools, _ = _tools_and_choice(request)
    if tools:
        body["tools"] = tools
    return body


# --------------------------------------------------------------------------- decoding


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(raw: dict[str, Any], input_tokens: int | None = None) -> Usage:
    """`Usage` from an Anthropic usage object (``input_tokens`` may come from elsewhere)."""
    uncached = _int(raw.get("input_tokens")) if input_tokens is None else input_tokens
    read = raw.get("cache_read_input_tokens")
    created = raw.get("cache_creation_input_tokens")
    total_input = uncached + _int(read) + _int(created)
    output = _int(raw.get("output_tokens"))
    extras: dict[str, Any] = {}
    if isinstance(created, int):
        extras["cache_creation_tokens"] = created
    return Usage(
        input_tokens=total_input,
        output_tokens=output,
        total_tokens=total_input + output,
        cache_read_tokens=read if isinstance(read, int) else None,
        **extras,
    )


def decode_response(body: dict[str, Any]) -> ChatResult:
    """A ``message`` body as a `ChatResult` (lenient; ``raw`` is the body)."""
    if not isinstance(body, dict):
        raise APIResponseValidationError(
            f"Expected a JSON object from /v1/messages, got {type(body).__name__}", body=body
        )
    if body.get("type") == "error":
        raise_event_error(body)
    content = body.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        keys = ", ".join(sorted(body)) or "none"
        raise APIResponseValidationError(
            f"The /v1/messages response has no 'content' list (keys: {keys})", body=body
        )
    text: list[str] = []
    reasoning: list[str] = []
    signature = None
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            text.append(content_text([block]))
        elif kind == "tool_use":
            call_id = str(block.get("id") or f"toolu_{len(calls)}")
            calls.append(make_tool_call(call_id, str(block.get("name") or ""), block.get("input")))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking") or ""))
            signature = block.get("signature") or signature
    raw_stop = body.get("stop_reason")
    usage = body.get("usage")
    return ChatResult(
        id=body.get("id") if isinstance(body.get("id"), str) else None,
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        text="".join(text),
        reasoning="".join(reasoning) or None,
        reasoning_signature=signature if isinstance(signature, str) else None,
        tool_calls=calls,
        finish_reason=normalise_finish_reason(raw_stop),
        raw_finish_reason=None if raw_stop is None else str(raw_stop),
        usage=_usage(usage) if isinstance(usage, dict) else None,
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


def _block_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    delta = data.get("delta") or {}
    kind = delta.get("type")
    if kind == "text_delta":
        text = delta.get("text") or ""
        return [StreamDelta(text=text)] if text else []
    if kind == "input_json_delta":
        tool = state.tool_index.get(data.get("index", 0))
        partial = delta.get("partial_json") or ""
        if tool is None or not partial:
            return []
        return [StreamDelta(tool_call_chunks=[ToolCallChunk(tool, None, None, partial)])]
    if kind == "thinking_delta":
        thinking = delta.get("thinking") or ""
        return [StreamDelta(reasoning=thinking)] if thinking else []
    if kind == "signature_delta":
        signature = delta.get("signature") or ""
        return [StreamDelta(reasoning_signature=signature)] if signature else []
    return []


def _block_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    block = data.get("content_block") or {}
    kind = block.get("type")
    if kind == "tool_use":
        tool = len(state.tool_index)
        state.tool_index[data.get("index", tool)] = tool
        start = block.get("input")
        arguments = json.dumps(start) if start else ""
        chunk = ToolCallChunk(tool, block.get("id"), block.get("name"), arguments)
        return [StreamDelta(tool_call_chunks=[chunk])]
    if kind == "text" and block.get("text"):
        return [StreamDelta(text=block["text"])]
    if kind == "thinking" and block.get("thinking"):
        return [StreamDelta(reasoning=block["thinking"])]
    return []


def _final_usage(state: AnthropicStreamState, raw: dict[str, Any] | None) -> Usage | None:
    """The stream's usage, once: output from ``message_delta``, input from ``message_start``."""
    if state.usage_sent or (not raw and not state.start_usage):
        return None
    merged = {**state.start_usage, **{k: v for k, v in (raw or {}).items() if v is not None}}
    state.usage_sent = True
    return _usage(merged)


def _message_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    delta = data.get("delta") or {}
    raw_stop = delta.get("stop_reason")
    usage = _final_usage(state, data.get("usage"))
    if raw_stop is None and usage is None:
        return []
    return [
        StreamDelta(
            finish_reason=normalise_finish_reason(raw_stop),
            raw_finish_reason=None if raw_stop is None else str(raw_stop),
            usage=usage,
        )
    ]


def _message_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[StreamDelta]:
    message = data.get("message") or {}
    usage = message.get("usage")
    if isinstance(usage, dict):
        state.start_usage = usage
    return [StreamDelta(id=message.get("id"), model=message.get("model"))]


def decode_event(
    state: AnthropicStreamState, event: str | None, data: dict[str, Any]
) -> tuple[list[StreamDelta], bool]:
    """The deltas of one Anthropic stream event, and whether it was ``message_stop``."""
    kind = data.get("type") or event
    try:
        if kind == "content_block_delta":
            return _block_delta(state, data), False
        if kind == "content_block_start":
            return _block_start(state, data), False
        if kind == "message_delta":
            return _message_delta(state, data), False
        if kind == "message_start":
            return _message_start(state, data), False
        if kind == "message_stop":
            usage = _final_usage(state, None)
            return ([StreamDelta(usage=usage)] if usage is not None else []), True
    except (AttributeError, TypeError) as exc:
        raise APIResponseValidationError(
            f"Malformed Anthropic stream event {kind!r}: {exc}", body=data
        ) from exc
    if kind == "error":
        raise_event_error(data)
    return [], False


class AnthropicMessagesDialect:
    """`DialectCodec` for ``POST /v1/messages``."""

    name: Dialect = "anthropic"
    path: str = "/v1/messages"
    count_tokens_path: str = "/v1/messages/count_tokens"

    def encode_request(
        self, request: ChatRequest, *, stream: bool, model_field: ModelField
    ) -> dict[str, Any]:
        """The JSON body for ``request``."""
        return encode_request(request, stream=stream, model_field=model_field)

    def encode_count_tokens(self, request: ChatRequest) -> dict[str, Any]:
        """The ``count_tokens`` body for ``request``."""
        return encode_count_tokens(request)

    def decode_response(self, body: dict[str, Any]) -> ChatResult:
        """A complete response body as a `ChatResult`."""
        return decode_response(body)

    def new_stream_state(self) -> AnthropicStreamState:
        """Fresh per-stream state."""
        return new_stream_state()

    def decode_event(
        self, state: Any, event: str | None, data: dict[str, Any]
    ) -> tuple[list[StreamDelta], bool]:
        """The deltas one event adds, and whether the stream ended."""
        return decode_event(state, event, data)


DIALECT = AnthropicMessagesDialect()
