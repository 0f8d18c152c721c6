"""Small pure helpers both dialects share."""

from __future__ import annotations

from typing import Any

from ..types import ChatRequest, FinishReason, Message, TextPart

__all__ = ["finish_body", "message_text", "normalise_finish_reason", "present_fields"]

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


def message_text(message: Message) -> str:
    """``message.text_content``, without a generator for the common single text part (a long
    history then allocates no GC-tracked temporaries per message while it is encoded)."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    return message.text_content


def present_fields(request: ChatRequest, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields ``names`` of ``request`` that are set (not ``None``), in that order."""
    values = {name: getattr(request, name) for name in names}
    return {name: value for name, value in values.items() if value is not None}


def finish_body(
    body: dict[str, Any],
    request: ChatRequest,
    sampling: tuple[str, ...],
    *,
    stop_key: str,
    stream: bool,
    stream_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``body`` with the request's set ``sampling`` fields, its stop sequences (under
    ``stop_key``), the stream flag (and ``stream_extra``) and, last, ``extra_body``."""
    body.update(present_fields(request, sampling))
    if request.stop:
        body[stop_key] = list(request.stop)
    if stream:
        body["stream"] = True
        body.update(stream_extra or {})
    body.update(request.extra_body)
    return body
