"""Pure conversions between LlamaIndex messages and the neutral types of `modelslab_core`.

Inbound: `ChatMessage` (and its blocks) -> `Message`. Outbound: `ChatResult` -> `ChatResponse`.
Tools and output classes: `_tools`; request fields and tool choices: the core's
`modelslab_core.normalize.build_request`.

Bad input raises `ValueError`/`TypeError` here, before any request is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

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

from modelslab_core import ChatResult, ImagePart, Message, Part, ReasoningPart, Role, Usage
from modelslab_core.tool_calls import openai_tool_call, tool_call_from_raw
from modelslab_core.types import ToolCall, trusted_message, trusted_text_part

__all__ = [
    "call_kwargs",
    "to_chat_response",
    "to_message",
    "to_messages",
    "usage_kwargs",
]

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


# --------------------------------------------------------------------------- messages


def _image_part(block: ImageBlock) -> ImagePart:
    """An image block as an `ImagePart`: its URL when it has one, else base64 data."""
    detail = block.detail if block.detail in ("auto", "low", "high") else None
    if block.url is not None and block.image is None and block.path is None:
        return ImagePart(url=str(block.url), mime_type=block.image_mimetype, detail=detail)
    data = block.resolve_image(as_base64=True).read().decode("ascii")
    return ImagePart(data=data, mime_type=block.image_mimetype, detail=detail)


def _tool_call_from_block(block: ToolCallBlock, fallback_id: str) -> ToolCall:
    return tool_call_from_raw(block.tool_call_id or fallback_id, block.tool_name, block.tool_kwargs)


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
        raw = dict(arguments) if isinstance(arguments, Mapping) else str(arguments or "")
        calls.append(tool_call_from_raw(call_id, str(name), raw))
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
    """All messages, converted (an empty list is refused by the core for a chat, and counts
    0 tokens)."""
    return [to_message(m, i) for i, m in enumerate(messages)]


# --------------------------------------------------------------------------- responses


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Usage in the keys LlamaIndex's `TokenCountingHandler` reads."""
    if usage is None:
        return {}
    out = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total,
    }
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    if usage.cache_read_tokens is not None:
        out["cached_tokens"] = usage.cache_read_tokens
    return out


def call_kwargs(call: ToolCall) -> dict[str, Any] | str:
    """The arguments of a call: the parsed dict, or the text when it does not parse (yet)."""
    if call.parse_error is not None and call.raw_arguments is not None:
        return call.raw_arguments
    return call.arguments


def _openai_tool_calls(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    """Tool calls in OpenAI's shape, for ``message.additional_kwargs["tool_calls"]``."""
    out = []
    for call in calls:
        kwargs = call_kwargs(call)
        arguments = kwargs if isinstance(kwargs, str) else json.dumps(kwargs)
        out.append(openai_tool_call(call.id, call.name, arguments))
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
                    tool_call_id=call.id, tool_name=call.name, tool_kwargs=call_kwargs(call)
                )
            )
        message_kwargs["tool_calls"] = _openai_tool_calls(result.tool_calls)
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
