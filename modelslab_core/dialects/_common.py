"""Small pure helpers shared by the dialect codecs and the stream accumulator."""

from __future__ import annotations

import json
from typing import Any, NoReturn

from .._exceptions import error_class_for
from ..types import FinishReason, Message, TextPart, ToolCall

__all__ = [
    "content_text",
    "make_tool_call",
    "message_text",
    "normalise_finish_reason",
    "parse_arguments",
    "raise_event_error",
]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "eos": "stop",
    "length": "length",
    "max_tokens": "length",
    "model_length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
    "error": "error",
}


def normalise_finish_reason(raw: Any) -> FinishReason | None:
    """Map a provider's finish/stop reason to `FinishReason` (``None`` stays ``None``)."""
    if raw is None or raw == "":
        return None
    return _FINISH.get(str(raw).lower(), "unknown")


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Parse tool-call arguments: ``(arguments, error)``; empty text is ``{}``, a dict is kept."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None:
        return {}, None
    text = raw if isinstance(raw, str) else str(raw)
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {}, f"arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"arguments are not a JSON object (got {type(value).__name__})"
    return value, None


def make_tool_call(call_id: str, name: str, raw: Any) -> ToolCall:
    """A `ToolCall` from raw arguments; unparseable ones keep the text and say why."""
    arguments, error = parse_arguments(raw)
    if error is None:
        return ToolCall.model_construct(
            id=call_id, name=name, arguments=arguments, raw_arguments=None, parse_error=None
        )
    return ToolCall.model_construct(
        id=call_id, name=name, arguments={}, raw_arguments=str(raw), parse_error=error
    )


def message_text(message: Message) -> str:
    """``message.text_content``, without a generator for the common single text part (a long
    history then allocates no GC-tracked temporaries per message while it is encoded)."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    return message.text_content


def content_text(content: Any) -> str:
    """Text of a message content that is a string or a list of ``{type: text, text}`` parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"):
                text = part.get("text")
                if isinstance(text, str):
                    pieces.append(text)
        return "".join(pieces)
    return ""


def raise_event_error(payload: dict[str, Any]) -> NoReturn:
    """Raise the typed error for an error payload found in a stream or body (defensive path)."""
    error = payload.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or "The server reported an error")
        error_type = error.get("type") or error.get("code")
    else:
        message = str(error or payload.get("message") or "The server reported an error")
        error_type = None
    error_type = None if error_type is None else str(error_type)
    cls = error_class_for(None, error_type, message)
    raise cls(message, body=payload, error_type=error_type)
