"""Pure conversions between LangChain messages and the core's neutral types.

Inbound: ``BaseMessage`` -> `modelslab_core.types.Message` (bad input raises before any request).
Outbound: `ChatResult` -> ``AIMessage`` (streams: see `_stream`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call
from langchain_core.outputs import ChatGeneration
from langchain_core.outputs import ChatResult as LCChatResult

from modelslab_core import ChatResult, Cost, ImagePart, Message, Part, ReasoningPart, Role, Usage
from modelslab_core.types import ToolCall
from modelslab_core.types import trusted_message as _message
from modelslab_core.types import trusted_text_part as _text_part

__all__ = [
    "PROVIDER",
    "ai_message_from_result",
    "response_metadata",
    "to_lc_result",
    "to_neutral_messages",
    "usage_metadata",
]

PROVIDER = "modelslab"

_ROLE_ALIASES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "tool": "tool",
}

# Blocks that describe tool calls inside AIMessage content; the calls come from `tool_calls`.
_TOOL_CALL_BLOCKS = frozenset({"tool_use", "tool_call", "function_call", "server_tool_call"})

# --------------------------------------------------------------------------- inbound


def to_neutral_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """LangChain messages as neutral messages (raises ValueError/TypeError on bad input; an
    empty list is refused by the core for a chat, and counts 0 tokens)."""
    out: list[Message] = []
    for message in messages:
        out.extend(_convert_message(message))
    return out


def _convert_message(message: BaseMessage) -> list[Message]:
    """One LangChain message as one or more neutral messages."""
    name = message.name or None
    if isinstance(message, SystemMessage):
        return [_message("system", _parts(message.content, "system"), name=name)]
    if isinstance(message, HumanMessage):
        return _human(message.content, name)
    if isinstance(message, AIMessage):
        return [_assistant(message)]
    if isinstance(message, ToolMessage):
        return [
            _message(
                "tool",
                _parts(message.content, "tool"),
                tool_call_id=str(message.tool_call_id),
                name=name,
                is_error=message.status == "error",
            )
        ]
    if isinstance(message, ChatMessage):
        role = _ROLE_ALIASES.get(message.role.lower())
        if role is None or role in ("assistant", "tool"):
            raise ValueError(
                f"ChatMessage role {message.role!r} is not supported; use "
                "AIMessage/ToolMessage for assistant and tool turns."
            )
        return [_message(role, _parts(message.content, role), name=name)]
    raise TypeError(
        f"Unsupported message type {type(message).__name__}; expected System, Human, AI, "
        "Tool or ChatMessage."
    )


def _human(content: str | list[Any], name: str | None) -> list[Message]:
    """A human turn; Anthropic-style ``tool_result`` blocks become tool messages first."""
    if isinstance(content, str):
        return [_message("user", [_text_part(content)], name=name)]
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    rest = [b for b in content if not (isinstance(b, dict) and b.get("type") == "tool_result")]
    out = [_tool_result(block) for block in results]
    if rest or not out:
        out.append(_message("user", _parts(rest, "user"), name=name))
    return out


def _tool_result(block: Mapping[str, Any]) -> Message:
    """An Anthropic ``tool_result`` content block as a tool message."""
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str):
        raise ValueError("A tool_result block needs a string 'tool_use_id'.")
    return _message(
        "tool",
        _parts(block.get("content") or "", "tool"),
        tool_call_id=tool_use_id,
        is_error=bool(block.get("is_error")),
    )


def _assistant(message: AIMessage) -> Message:
    """An AI turn: text and reasoning content plus its (valid and invalid) tool calls."""
    parts = _parts(message.content, "assistant")
    reasoning = message.additional_kwargs.get("reasoning_content")
    if (
        isinstance(reasoning, str)
        and reasoning
        and not any(isinstance(p, ReasoningPart) for p in parts)
    ):
        signature = message.additional_kwargs.get("reasoning_signature")
        parts.insert(0, ReasoningPart(text=reasoning, signature=signature if signature else None))
    calls = [
        ToolCall(id=tc.get("id") or f"call_{i}", name=tc["name"], arguments=dict(tc["args"]))
        for i, tc in enumerate(message.tool_calls)
    ]
    calls.extend(
        ToolCall(
            id=tc.get("id") or f"call_invalid_{i}",
            name=tc.get("name") or "",
            raw_arguments=tc.get("args") or "",
            parse_error=tc.get("error") or "invalid arguments",
        )
        for i, tc in enumerate(message.invalid_tool_calls)
    )
    return _message("assistant", parts, tool_calls=calls, name=message.name or None)


def _parts(content: str | list[Any], role: str) -> list[Part]:
    """Message content (a string or a list of blocks) as neutral parts."""
    if isinstance(content, str):
        return [_text_part(content)] if content or role != "assistant" else []
    parts: list[Part] = []
    for block in content:
        part = _part(block, role)
        if part is not None:
            parts.append(part)
    return parts


def _part(block: Any, role: str) -> Part | None:
    """One content block as a neutral part (``None`` for blocks carried elsewhere)."""
    if isinstance(block, str):
        return _text_part(block)
    if not isinstance(block, Mapping):
        raise TypeError(f"Content blocks must be strings or dicts, got {type(block).__name__}.")
    kind = block.get("type")
    if kind == "text":
        return _text_part(str(block.get("text", "")))
    if kind in ("image", "image_url"):
        return _image(block)
    if kind in ("reasoning", "thinking") and role == "assistant":
        text = block.get("reasoning", block.get("thinking", ""))
        extras = block.get("extras")
        signature = block.get("signature") or (
            extras.get("signature") if isinstance(extras, Mapping) else None
        )
        return ReasoningPart(text=str(text or ""), signature=signature or None)
    if kind in _TOOL_CALL_BLOCKS and role == "assistant":
        return None
    raise ValueError(
        f"Unsupported content block type {kind!r} in a {role} message; ModelsLab takes text "
        "and image blocks."
    )


def _image(block: Mapping[str, Any]) -> ImagePart:
    """An image block in any LangChain form (v1, v0 ``source_type``, or OpenAI ``image_url``)."""
    if block.get("type") == "image_url":
        inner = block.get("image_url")
        url = inner.get("url") if isinstance(inner, Mapping) else inner
        detail = inner.get("detail") if isinstance(inner, Mapping) else None
        if not isinstance(url, str) or not url:
            raise ValueError("An image_url block needs image_url.url.")
        return _image_from_url(url, detail)
    source = block.get("source")
    if isinstance(source, Mapping):  # Anthropic: {"source": {"type": "base64"|"url", ...}}
        block = {
            "url": source.get("url"),
            "base64": source.get("data"),
            "mime_type": source.get("media_type"),
        }
    mime = block.get("mime_type")
    data = block.get("base64")
    if data is None and block.get("source_type") == "base64":
        data = block.get("data")
    if data:
        return ImagePart(data=str(data), mime_type=str(mime) if mime else None)
    url = block.get("url")
    if isinstance(url, str) and url:
        return _image_from_url(url, None, mime)
    raise ValueError("An image block needs 'url' or 'base64' data; file ids are not supported.")


def _image_from_url(url: str, detail: Any, mime: Any = None) -> ImagePart:
    """An image URL (`ImagePart` splits a ``data:`` URL into base64 data and MIME type)."""
    det = detail if detail in ("auto", "low", "high") else None
    return ImagePart(url=url, mime_type=mime if isinstance(mime, str) else None, detail=det)


# -------------------------------------------------------------------------- outbound


def usage_metadata(usage: Usage) -> UsageMetadata:
    """Core usage as LangChain ``UsageMetadata`` (cache reads and reasoning as details)."""
    meta: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total,
    }
    if usage.cache_read_tokens is not None:
        meta["input_token_details"] = InputTokenDetails(cache_read=usage.cache_read_tokens)
    if usage.reasoning_tokens is not None:
        meta["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return cast("UsageMetadata", meta)


def response_metadata(
    finish_reason: str | None,
    raw_finish: str | None,
    model: str | None,
    id_: str | None,
    cost: Cost | None = None,
) -> dict[str, Any]:
    """The ``response_metadata`` of a final answer (``cost``: exact decimal strings)."""
    meta: dict[str, Any] = {"model_provider": PROVIDER}
    if finish_reason is not None:
        meta["finish_reason"] = finish_reason
        if raw_finish and raw_finish != finish_reason:
            meta["stop_reason"] = raw_finish
    if model:
        meta["model_name"] = model
    if id_:
        meta["id"] = id_
    if cost is not None:
        meta["cost"] = cost.as_metadata()
    return meta


def ai_message_from_result(result: ChatResult, requested_model: str) -> AIMessage:
    """A complete answer as an ``AIMessage``; unparseable tool arguments -> ``invalid_tool_calls``."""
    calls, invalid = [], []
    for call in result.tool_calls:
        if call.parse_error is not None:
            invalid.append(
                invalid_tool_call(
                    name=call.name, args=call.raw_arguments, id=call.id, error=call.parse_error
                )
            )
        else:
            calls.append(tool_call(name=call.name, args=call.arguments, id=call.id))
    kwargs: dict[str, Any] = {}
    if result.reasoning:
        kwargs["reasoning_content"] = result.reasoning
    if result.reasoning_signature:
        kwargs["reasoning_signature"] = result.reasoning_signature
    return AIMessage(
        content=result.text,
        additional_kwargs=kwargs,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage_metadata(result.usage) if result.usage else None,
        response_metadata=response_metadata(
            result.finish_reason,
            result.raw_finish_reason,
            result.model or requested_model,
            result.id,
            result.cost,
        ),
        id=result.id,
    )


def to_lc_result(result: ChatResult, requested_model: str) -> LCChatResult:
    """A core result as LangChain's ``ChatResult``."""
    message = ai_message_from_result(result, requested_model)
    info = {"finish_reason": result.finish_reason} if result.finish_reason else None
    return LCChatResult(
        generations=[ChatGeneration(message=message, generation_info=info)],
        llm_output={"model_name": message.response_metadata.get("model_name"), "id": result.id},
    )
