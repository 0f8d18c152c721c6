"""Pure builders of typed errors from HTTP responses, 200 envelopes and stream events.

Every builder goes through `error_class_for` (the one table in `_exceptions`), so one failure
is one type however it arrives. Messages and bodies are passed through `redact` so that a
server echoing the API key can never put it into an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..exceptions import (
    APIError,
    APIResponseValidationError,
    APIStatusError,
    ProcessingResponseError,
    error_class_for,
)
from .retry import get_header, parse_retry_after

__all__ = [
    "DECODE_BUGS",
    "as_api_error",
    "error_from_payload",
    "error_from_response",
    "is_error_payload",
    "redact",
    "request_id_from",
    "safe_message",
]

_ERROR_STATUSES = frozenset({"error", "failed", "failure"})
_MAX_MESSAGE = 1000
_MASK = "***"


def redact(value: Any, secret: str | None) -> Any:
    """``value`` with every occurrence of ``secret`` masked (strings, dicts and lists, deeply)."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, _MASK)
    if isinstance(value, dict):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value


def safe_message(value: Any, secret: str | None = None) -> str:
    """A short, key-free message string from any JSON value (never raises)."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    text = (text.replace(secret, _MASK) if secret else text).strip()
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def request_id_from(headers: Mapping[str, str] | None, body: Any = None) -> str | None:
    """The request id: ``x-request-id``/``request-id`` headers, else the body's ``id``."""
    for name in ("x-request-id", "request-id"):
        value = get_header(headers, name)
        if value:
            return value
    if isinstance(body, dict) and isinstance(body.get("id"), (str, int)):
        return str(body["id"])
    return None


def _message_and_type(payload: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    """(message, error type, error code) from an envelope, OpenAI or Anthropic error body."""
    error = payload.get("error")
    message: Any = None
    error_type: str | None = None
    code: str | None = None
    if isinstance(error, dict):
        message = error.get("message") or error.get("messege")
        raw_type = error.get("type")
        error_type = raw_type if isinstance(raw_type, str) else None
        raw_code = error.get("code")
        code = raw_code if isinstance(raw_code, str) else None
    elif isinstance(error, str) and error:
        message = error
    for key in ("message", "messege", "detail"):
        if not message and payload.get(key):
            message = payload[key]
    if error_type is None and isinstance(payload.get("error_type"), str):
        error_type = payload["error_type"]
    return message, error_type, code


def _pick_class(
    status: int | None, error_type: str | None, code: str | None, message: str
) -> type[APIStatusError]:
    """The most specific class the type or the code gives."""
    cls = error_class_for(status, error_type, message)
    if code:
        by_code = error_class_for(status, code, message)
        if issubclass(by_code, cls):
            cls = by_code
    return cls


def _build(
    payload: dict[str, Any],
    *,
    status: int | None,
    request_id: str | None,
    headers: Mapping[str, str] | None,
    secret: str | None,
    default_message: str,
) -> APIError:
    raw_message, error_type, code = _message_and_type(payload)
    message = safe_message(raw_message, secret) if raw_message else default_message
    cls = _pick_class(status, error_type, code, message)
    return cls(
        message,
        status_code=status,
        request_id=request_id or request_id_from(headers, payload),
        body=redact(payload, secret),
        error_type=error_type or code,
        retry_after=parse_retry_after(headers, payload),
    )


def is_error_payload(payload: dict[str, Any]) -> bool:
    """Whether a JSON object (body or stream event) reports an error, whatever the HTTP status."""
    status = payload.get("status")
    if isinstance(status, str) and status.lower() in _ERROR_STATUSES:
        return True
    if payload.get("type") == "error":
        return True
    error = payload.get("error")
    return bool(error) and isinstance(error, (dict, str)) and not payload.get("choices")


def error_from_payload(
    payload: dict[str, Any],
    *,
    status: int | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    secret: str | None = None,
    force: bool = False,
) -> APIError | None:
    """The error a JSON object reports, or None when it is a normal answer.

    ``force``: the object is known to report an error (an SSE event named ``error``), even if
    it does not look like one; it is then built like any other error body.

    Detects ``{"status": "error"|"failed", "message"|"messege": ...}`` envelopes, OpenAI
    ``{"error": {...}}`` bodies, Anthropic ``{"type": "error", "error": {...}}`` events and
    ``{"status": "processing", "id": ...}`` queued answers (`ProcessingResponseError`).
    ``status`` is the HTTP status if known (200 or None lets the error type decide).
    """
    state = payload.get("status")
    if isinstance(state, str) and state.lower() == "processing":
        ident = payload.get("id")
        named = f" (id {safe_message(ident, secret)})" if ident is not None else ""
        return ProcessingResponseError(
            f"ModelsLab queued the request instead of answering{named}; "
            "queued answers are not supported by the v7 LLM API client",
            status_code=status,
            request_id=request_id or request_id_from(headers, payload),
            body=redact(payload, secret),
            retry_after=parse_retry_after(headers, payload),
        )
    if not force and not is_error_payload(payload):
        return None
    return _build(
        payload,
        status=status,
        request_id=request_id,
        headers=headers,
        secret=secret,
        default_message="ModelsLab reported an error",
    )


def _parse_body(body: bytes | str | dict[str, Any] | None) -> Any:
    if isinstance(body, (bytes, bytearray)):
        body = bytes(body).decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def error_from_response(
    status: int,
    headers: Mapping[str, str] | None,
    body: bytes | str | dict[str, Any] | None,
    *,
    secret: str | None = None,
) -> APIError:
    """The typed error for an HTTP error response (``status`` >= 400)."""
    parsed = _parse_body(body)
    if isinstance(parsed, dict):
        return _build(
            parsed,
            status=status,
            request_id=None,
            headers=headers,
            secret=secret,
            default_message=f"HTTP {status} from ModelsLab",
        )
    text = safe_message(parsed, secret) if parsed else ""
    message = text or f"HTTP {status} from ModelsLab"
    cls = error_class_for(status, None, message)
    return cls(
        message,
        status_code=status,
        request_id=request_id_from(headers),
        body=redact(parsed, secret),
        retry_after=parse_retry_after(headers, None),
    )


DECODE_BUGS = (ValueError, TypeError, KeyError, AttributeError, IndexError)
"""What a decoder may raise on a body it did not expect (besides typed errors)."""


def as_api_error(
    exc: Exception, *, secret: str | None, body: Any = None, request_id: str | None = None
) -> APIError:
    """What decoding raised, as a key-free `APIError`: a typed error with the key masked out
    of its message and body; anything else as `APIResponseValidationError` naming it."""
    if isinstance(exc, APIError):
        if not secret:
            return exc
        clone = type(exc)(
            exc.message.replace(secret, _MASK),
            status_code=exc.status_code,
            request_id=exc.request_id or request_id,
            body=redact(exc.body, secret),
            error_type=exc.error_type,
            retry_after=exc.retry_after,
        )
        clone.__suppress_context__ = True  # the original may quote the key
        return clone
    message = safe_message(f"{type(exc).__name__}: {exc}", secret)
    error = APIResponseValidationError(
        f"Unexpected response: {message}", request_id=request_id, body=redact(body, secret)
    )
    error.__cause__ = None if secret and secret in str(exc) else exc
    error.__suppress_context__ = True
    return error
