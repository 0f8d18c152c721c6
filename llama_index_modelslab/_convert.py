"""Pure conversions between LlamaIndex types and the neutral types of `modelslab_core`.

Inbound: `ChatMessage` (and its blocks) -> `Message`; LlamaIndex tools / OpenAI tool dicts ->
`ToolSpec`; ``tool_choice`` in any common spelling -> `ToolChoice`; call kwargs -> `ChatRequest`.
Outbound: `ChatResult` (a whole answer or a stream snapshot) -> `ChatResponse`.

Bad input raises `ValueError`/`TypeError` here, before any request is sent.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from pydantic import BaseModel, PydanticUserError

from modelslab_core.types import (
    ChatRequest,
    ChatResult,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    Part,
    ReasoningPart,
    Role,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
    trusted_message,
    trusted_text_part,
)

__all__ = [
    "build_request",
    "json_schema_of",
    "model_schema",
    "openai_tool_calls",
    "resolve_tool_choice",
    "response_format_for",
    "to_chat_response",
    "to_message",
    "to_messages",
    "to_tool_spec",
    "usage_kwargs",
]

_T = TypeVar("_T")

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "model": "assistant",
    "chatbot": "assistant",
    "tool": "tool",
    "function": "tool",
}

# Request fields a caller may pass as keyword arguments (everything else goes to extra_body).
_REQUEST_FIELDS = frozenset(
    {
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "stop",
        "seed",
        "include_usage",
    }
)
# LlamaIndex-internal keywords that must never reach the wire.
_FRAMEWORK_KWARGS = frozenset(
    {"tool_required", "allow_parallel_tool_calls", "verbose", "error_on_no_tool_call", "formatted"}
)


# --------------------------------------------------------------------------- messages


def _image_part(block: ImageBlock) -> ImagePart:
    """An image block as an `ImagePart`: its URL when it has one, else base64 data."""
    detail = block.detail if block.detail in ("auto", "low", "high") else None
    if block.url is not None and block.image is None and block.path is None:
        return ImagePart(url=str(block.url), mime_type=block.image_mimetype, detail=detail)
    data = block.resolve_image(as_base64=True).read().decode("ascii")
    return ImagePart(data=data, mime_type=block.image_mimetype or "image/png", detail=detail)


def _tool_call_from_block(block: ToolCallBlock, fallback_id: str) -> ToolCall:
    kwargs = block.tool_kwargs
    call_id = block.tool_call_id or fallback_id
    if isinstance(kwargs, dict):
        return ToolCall(id=call_id, name=block.tool_name, arguments=kwargs)
    return _tool_call_from_text(call_id, block.tool_name, kwargs)


def _tool_call_from_text(call_id: str, name: str, text: str) -> ToolCall:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return ToolCall(id=call_id, name=name, raw_arguments=text, parse_error=str(exc))
    if not isinstance(value, dict):
        return ToolCall(id=call_id, name=name, raw_arguments=text, parse_error="not an object")
    return ToolCall(id=call_id, name=name, arguments=value)


def _legacy_tool_calls(raw: Any, prefix: str) -> list[ToolCall]:
    """Tool calls kept OpenAI-style in ``additional_kwargs["tool_calls"]`` (dicts or objects)."""
    calls = []
    for position, item in enumerate(raw or []):
        data = item if isinstance(item, Mapping) else getattr(item, "__dict__", {})
        function = data.get("function")
        if not isinstance(function, Mapping):
            function = getattr(function, "__dict__", {})
        name = function.get("name")
        if not name:
            raise ValueError(f"Tool call #{position} in additional_kwargs has no function name")
        arguments = function.get("arguments")
        call_id = str(data.get("id") or f"{prefix}_{position}")
        if isinstance(arguments, Mapping):
            calls.append(ToolCall(id=call_id, name=str(name), arguments=dict(arguments)))
        else:
            calls.append(_tool_call_from_text(call_id, str(name), str(arguments or "")))
    return calls


def to_message(message: ChatMessage, position: int = 0) -> Message:
    """One `ChatMessage` as a neutral `Message` (tool calls and results included)."""
    role = _ROLES.get(str(getattr(message.role, "value", message.role)))
    if role is None:
        raise ValueError(f"Unsupported message role {message.role!r}")
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            if block.text:
                parts.append(trusted_text_part(block.text))
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
        elif isinstance(block, ThinkingBlock):
            if role == "assistant" and block.content:
                signature = block.additional_information.get("signature")
                parts.append(ReasoningPart(text=block.content, signature=signature))
        elif isinstance(block, ToolCallBlock):
            calls.append(_tool_call_from_block(block, f"call_{position}_{len(calls)}"))
        elif not isinstance(block, CachePoint):
            raise TypeError(
                f"ModelsLab cannot send {type(block).__name__} content "
                "(supported: text, image, thinking and tool-call blocks)"
            )
    extra = message.additional_kwargs
    if calls and role != "assistant":
        raise ValueError(f"Only assistant messages can carry tool calls, not {role!r}")
    if role == "assistant" and not calls and extra.get("tool_calls"):
        calls = _legacy_tool_calls(extra["tool_calls"], f"call_{position}")
    if role != "tool":
        name = extra.get("name")
        return trusted_message(role, parts, tool_calls=calls, name=str(name) if name else None)
    call_id = extra.get("tool_call_id")
    if not call_id:
        raise ValueError(
            "A tool message needs additional_kwargs['tool_call_id'] naming the call it answers"
        )
    is_error = bool(extra.get("is_error", False))
    return trusted_message(
        "tool",
        parts,
        tool_call_id=str(call_id),
        name=str(extra.get("name") or "") or None,
        is_error=is_error,
    )


def to_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """All messages, converted; an empty list is refused."""
    if not messages:
        raise ValueError("At least one message is required")
    return [to_message(m, i) for i, m in enumerate(messages)]


# --------------------------------------------------------------------------- tools


def json_schema_of(what: str, make: Callable[[], _T]) -> _T:
    """``make()``, a conversion to JSON schema; the one place its failures are translated.

    Pydantic raises `PydanticInvalidForJsonSchema` (a `RuntimeError`) for a type it cannot
    describe; that becomes a `TypeError` naming ``what``, with pydantic's error chained.
    """
    try:
        return make()
    except PydanticUserError as exc:
        reason = getattr(exc, "message", None) or str(exc)
        raise TypeError(f"{what} cannot be described as JSON schema: {reason}") from exc


def model_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic class (`TypeError` naming the class if it has none)."""
    return json_schema_of(model_cls.__name__, model_cls.model_json_schema)


def _openai_function(metadata: Any, kind: str) -> dict[str, Any]:
    """The ``function`` of ``metadata.to_openai_tool()``, a fresh copy from a cache.

    Building a tool's JSON schema (~150 us) was the largest per-call cost of a tool turn,
    and agents send the same tools on every turn. The key is everything that schema is made
    of (a changed name, description or ``fn_schema`` is a new entry).
    """
    try:
        key = (type(metadata), metadata.name, metadata.description, metadata.fn_schema)
        hash(key)
    except (AttributeError, TypeError):
        return _build_function(metadata, kind)
    function = _FUNCTIONS.get(key)
    if function is None:
        function = _build_function(metadata, kind)
        if len(_FUNCTIONS) >= _FUNCTIONS_SIZE:
            _FUNCTIONS.clear()  # simple and thread-safe; tool sets are small
        _FUNCTIONS[key] = function
    return copy.deepcopy(function)


def _build_function(metadata: Any, kind: str) -> dict[str, Any]:
    label = f"Tool {getattr(metadata, 'name', None) or kind!r}"
    tool = json_schema_of(label, lambda: metadata.to_openai_tool(skip_length_check=True))
    function: dict[str, Any] = tool["function"]
    return function


_FUNCTIONS: dict[tuple[Any, ...], dict[str, Any]] = {}
_FUNCTIONS_SIZE = 256


def to_tool_spec(tool: Any, *, strict: bool | None = None) -> ToolSpec:
    """A LlamaIndex tool (via ``tool.metadata``), an OpenAI tool dict or a `ToolSpec`."""
    if isinstance(tool, ToolSpec):
        return tool if strict is None or tool.strict is not None else tool.model_copy(
            update={"strict": strict}
        )  # fmt: skip
    metadata = getattr(tool, "metadata", None)
    if metadata is not None and hasattr(metadata, "to_openai_tool"):
        function = _openai_function(metadata, type(tool).__name__)
    elif isinstance(tool, Mapping):
        function = tool.get("function", tool)
    else:
        raise TypeError(f"Cannot use {type(tool).__name__} as a tool")
    name = function.get("name")
    if not name:
        raise ValueError("A tool needs a name")
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return ToolSpec(
        name=str(name),
        description=function.get("description") or "",
        parameters=dict(parameters),
        strict=strict if strict is not None else function.get("strict"),
    )


def resolve_tool_choice(choice: Any, *, tool_required: bool = False) -> ToolChoice:
    """``tool_choice`` in LlamaIndex/OpenAI/Anthropic spellings (or ``None``) as a `ToolChoice`."""
    if choice is None:
        return "required" if tool_required else "auto"
    if isinstance(choice, NamedToolChoice):
        return choice
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice  # type: ignore[return-value]
        if choice == "any":
            return "required"
        return NamedToolChoice(name=choice)
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        if name:
            return NamedToolChoice(name=str(name))
        if kind == "auto":
            return "auto"
        if kind == "none":
            return "none"
        if kind in ("any", "required"):
            return "required"
    raise ValueError(f"Unsupported tool_choice {choice!r}")


def response_format_for(value: Any) -> JsonObjectFormat | JsonSchemaFormat | None:
    """A response format from a neutral format, an OpenAI dict or a pydantic class."""
    if value is None or isinstance(value, (JsonObjectFormat, JsonSchemaFormat)):
        return value
    if isinstance(value, type) and issubclass(value, BaseModel):
        schema = model_schema(value)
        return JsonSchemaFormat(
            name=value.__name__, schema_=schema, description=schema.get("description")
        )
    if isinstance(value, Mapping):
        if value.get("type") == "json_object":
            return JsonObjectFormat()
        if value.get("type") == "json_schema":
            spec = value.get("json_schema", value)
            return JsonSchemaFormat(
                name=spec.get("name") or "output",
                schema_=spec.get("schema") or {},
                description=spec.get("description"),
                strict=spec.get("strict"),
            )
    raise ValueError(f"Unsupported response_format {value!r}")


# --------------------------------------------------------------------------- requests


def build_request(
    model: str,
    messages: Sequence[ChatMessage],
    defaults: Mapping[str, Any],
    kwargs: Mapping[str, Any],
) -> ChatRequest:
    """A `ChatRequest`: ``defaults`` (the LLM's settings) overridden by call ``kwargs``.

    Known sampling fields become request fields; ``tools``, ``tool_choice``,
    ``parallel_tool_calls`` and ``response_format`` are normalised; anything else goes to
    ``extra_body``. ``tool_choice`` and ``parallel_tool_calls`` are dropped without tools.
    """
    merged = {**defaults, **{k: v for k, v in kwargs.items() if k not in _FRAMEWORK_KWARGS}}
    tools = [to_tool_spec(t) for t in merged.pop("tools", None) or []]
    choice = merged.pop("tool_choice", None)
    parallel = merged.pop("parallel_tool_calls", None)
    fmt = response_format_for(merged.pop("response_format", None))
    fields = {k: merged.pop(k) for k in list(merged) if k in _REQUEST_FIELDS}
    fields = {k: v for k, v in fields.items() if v is not None}
    if isinstance(fields.get("stop"), str):
        fields["stop"] = [fields["stop"]]
    return ChatRequest(
        model=model,
        messages=to_messages(messages),
        tools=tools,
        tool_choice=resolve_tool_choice(choice) if tools and choice is not None else None,
        parallel_tool_calls=parallel if tools else None,
        response_format=fmt,
        extra_body=merged,
        **fields,
    )


# --------------------------------------------------------------------------- responses


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Usage in the keys LlamaIndex's `TokenCountingHandler` reads."""
    if usage is None:
        return {}
    out = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens or usage.input_tokens + usage.output_tokens,
    }
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    if usage.cache_read_tokens is not None:
        out["cached_tokens"] = usage.cache_read_tokens
    return out


def _call_kwargs(call: ToolCall) -> dict[str, Any] | str:
    """The arguments of a call: the parsed dict, or the text when it does not parse (yet)."""
    if call.parse_error is not None and call.raw_arguments is not None:
        return call.raw_arguments
    return call.arguments


def openai_tool_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Tool calls in OpenAI's shape, for ``message.additional_kwargs["tool_calls"]``."""
    out = []
    for call in calls:
        kwargs = _call_kwargs(call)
        arguments = kwargs if isinstance(kwargs, str) else json.dumps(kwargs)
        out.append(
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": arguments},
            }
        )
    return out


def to_chat_response(
    result: ChatResult,
    *,
    delta: str | None = None,
    thinking_delta: str | None = None,
    raw: Any = None,
) -> ChatResponse:
    """A `ChatResult` (whole answer or stream snapshot) as a `ChatResponse`.

    Blocks: `ThinkingBlock` (reasoning), `TextBlock` (always, possibly empty) and one
    `ToolCallBlock` per call; the calls are also in ``additional_kwargs["tool_calls"]``.
    Usage goes to ``raw["usage"]`` (the server's JSON) and to ``additional_kwargs``, the
    exact cost (decimal strings, `Cost.as_metadata`) to ``additional_kwargs["cost"]``.
    """
    blocks: list[Any] = []
    if result.reasoning:
        info = {"signature": result.reasoning_signature} if result.reasoning_signature else {}
        blocks.append(ThinkingBlock(content=result.reasoning, additional_information=info))
    blocks.append(TextBlock(text=result.text))
    message_kwargs: dict[str, Any] = {}
    if result.tool_calls:
        for call in result.tool_calls:
            blocks.append(
                ToolCallBlock(
                    tool_call_id=call.id, tool_name=call.name, tool_kwargs=_call_kwargs(call)
                )
            )
        message_kwargs["tool_calls"] = openai_tool_calls(result.tool_calls)
    extra: dict[str, Any] = usage_kwargs(result.usage)
    if result.cost is not None:
        extra["cost"] = result.cost.as_metadata()
    if result.finish_reason is not None:
        extra["finish_reason"] = result.finish_reason
    if thinking_delta:
        extra["thinking_delta"] = thinking_delta
    message = ChatMessage(
        role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs
    )
    return ChatResponse(
        message=message,
        raw=result.raw if raw is None else raw,
        delta=delta,
        additional_kwargs=extra,
    )
