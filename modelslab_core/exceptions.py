"""Typed errors and the one table that maps (HTTP status, error type) to them.

Hierarchy::

    ModelsLabError
    ├── APIError                       (carries status_code, message, request_id, body)
    │   ├── APIConnectionError
    │   │   ├── APITimeoutError
    │   │   │   ├── StreamTimeoutError      a stream went silent past the chunk timeout
    │   │   │   └── QueueFullError          no in-flight slot freed up before the wait deadline
    │   │   ├── LimiterUnavailableError     the shared in-flight limit (Redis) is unreachable
    │   │   └── BudgetUnavailableError      a shared budget's Redis is unreachable (not sent)
    │   ├── StreamInterruptedError          the stream ended before [DONE] / message_stop
    │   ├── APIResponseValidationError      the body was not what the contract says
    │   ├── ProcessingResponseError         a {"status":"processing"} envelope (queued answer)
    │   └── APIStatusError
    │       ├── BadRequestError            400, 422
    │       │   └── ContextWindowExceededError
    │       ├── AuthenticationError        401
    │       ├── InsufficientCreditsError   402
    │       ├── PermissionDeniedError      403
    │       ├── NotFoundError              404
    │       ├── ConflictError              409
    │       ├── RequestTooLargeError       413
    │       ├── RateLimitError             429 (carries retry_after)
    │       ├── InternalServerError        5xx
    │       │   └── ServiceUnavailableError 502, 503, 504
    │       └── OverloadedError            529
    └── StructuredOutputError          the model did not answer in the requested schema

The same table (`error_class_for`) serves HTTP errors, HTTP-200 ``{"status": "error"}``
envelopes and errors inside a stream, so one failure is one type however it arrives.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BudgetUnavailableError",
    "ConflictError",
    "ContextWindowExceededError",
    "InsufficientCreditsError",
    "InternalServerError",
    "LimiterUnavailableError",
    "ModelsLabError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "ProcessingResponseError",
    "QueueFullError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServiceUnavailableError",
    "StreamInterruptedError",
    "StreamTimeoutError",
    "StructuredOutputError",
    "error_class_for",
    "is_context_overflow",
]


class ModelsLabError(Exception):
    """Base class of every error raised by this package."""


class APIError(ModelsLabError):
    """An error talking to the API. ``message`` is ModelsLab's own message where there is one."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.error_type = error_type
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [self.message]
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.error_type:
            parts.append(f"type={self.error_type}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}s")
        return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"

    def __reduce__(self) -> Any:
        return (
            _rebuild_error,
            (
                type(self),
                self.message,
                {
                    "status_code": self.status_code,
                    "request_id": self.request_id,
                    "body": self.body,
                    "error_type": self.error_type,
                    "retry_after": self.retry_after,
                },
            ),
        )


def _rebuild_error(cls: type[APIError], message: str, kwargs: dict[str, Any]) -> APIError:
    return cls(message, **kwargs)


class APIConnectionError(APIError):
    """The connection failed or broke before a complete answer arrived."""


class APITimeoutError(APIConnectionError):
    """A connect, read or total timeout expired."""


class StreamTimeoutError(APITimeoutError):
    """A stream sent nothing for longer than the per-chunk timeout."""


class QueueFullError(APITimeoutError):
    """The account's in-flight queue stayed full: no slot freed up before the wait deadline."""


class LimiterUnavailableError(APIConnectionError):
    """The shared in-flight limit's backend (Redis) could not be reached or failed."""


class BudgetUnavailableError(APIConnectionError):
    """A shared budget's backend (Redis) could not be reached or failed: the request was not
    sent (a shared budget never lets an unbudgeted request through)."""


class StreamInterruptedError(APIError):
    """The stream ended before its terminator (``[DONE]`` or ``message_stop``)."""


class APIResponseValidationError(APIError):
    """The server answered with something that is not valid for the contract (bad JSON, bad SSE)."""


class ProcessingResponseError(APIError):
    """ModelsLab queued the request (``{"status": "processing"}``); ``processing_id`` names it."""

    @property
    def processing_id(self) -> str | None:
        """The id ModelsLab gave the queued request."""
        body = self.body if isinstance(self.body, dict) else {}
        value = body.get("id")
        return None if value is None else str(value)


class APIStatusError(APIError):
    """The server answered with an error status or an error envelope."""


class BadRequestError(APIStatusError):
    """400/422: the request was rejected as invalid."""


class ContextWindowExceededError(BadRequestError):
    """The prompt (plus ``max_tokens``) does not fit the model's context window."""


class AuthenticationError(APIStatusError):
    """401: missing or invalid API key."""


class InsufficientCreditsError(APIStatusError):
    """402: the account has no credits left."""


class PermissionDeniedError(APIStatusError):
    """403: the key's plan does not allow this."""


class NotFoundError(APIStatusError):
    """404: unknown model or path."""


class ConflictError(APIStatusError):
    """409: conflict (retried)."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is too large."""


class RateLimitError(APIStatusError):
    """429: too many requests in flight or per minute; ``retry_after`` is the server's delay."""


class InternalServerError(APIStatusError):
    """5xx: the server or an upstream provider failed."""


class ServiceUnavailableError(InternalServerError):
    """502/503/504: the service or its upstream is unavailable."""


class OverloadedError(APIStatusError):
    """529: the upstream provider is overloaded."""


class StructuredOutputError(ModelsLabError, ValueError):
    """The model did not answer in the schema structured output asked for: the forced tool
    was not called, its arguments are not a JSON object, or the text holds no JSON.

    ``text`` is the model's text answer (``llm_output``), ``tool`` the tool that carried the
    answer (``None`` for a text answer), ``kind`` what went wrong: ``"no_call"``,
    ``"arguments"`` or ``"not_json"``. Also a `ValueError`, as both frameworks raise."""

    def __init__(
        self, message: str, *, text: str = "", tool: str | None = None, kind: str = "not_json"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.tool = tool
        self.kind = kind

    def __reduce__(self) -> Any:
        state = {"text": self.text, "tool": self.tool, "kind": self.kind}
        return (_rebuild_structured, (type(self), self.message, state))

    @classmethod
    def no_call(cls, text: str, tool: str | None = None) -> StructuredOutputError:
        """The error for an answer without the tool call the request forced."""
        which = f"the tool {tool!r} that structured output forced" if tool else "a tool"
        said = f"it answered in text: {text[:200]!r}" if text else "it produced no call"
        return cls(
            f"Expected at least one tool call: the model did not call {which} ({said}).",
            text=text,
            tool=tool,
            kind="no_call",
        )


def _rebuild_structured(
    cls: type[StructuredOutputError], message: str, state: dict[str, Any]
) -> StructuredOutputError:
    return cls(message, **state)


_BY_TYPE: dict[str, type[APIStatusError]] = {
    "invalid_request_error": BadRequestError,
    "bad_request": BadRequestError,
    "authentication_error": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "permission_error": PermissionDeniedError,
    "insufficient_credits": InsufficientCreditsError,
    "insufficient_quota": InsufficientCreditsError,
    "not_found_error": NotFoundError,
    "model_not_found": NotFoundError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "rate_limit_exceeded": RateLimitError,
    "api_error": InternalServerError,
    "server_error": InternalServerError,
    "overloaded_error": OverloadedError,
    "context_length_exceeded": ContextWindowExceededError,
    "context_window_exceeded": ContextWindowExceededError,
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
    529: OverloadedError,
}

_CONTEXT_OVERFLOW_MARKERS = (
    "context_length_exceeded",
    "context window",
    "context length",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "exceeds the available context",
)


def is_context_overflow(message: str | None, error_type: str | None = None) -> bool:
    """Whether an error says the prompt does not fit the model's context window."""
    if error_type and error_type.lower() in ("context_length_exceeded", "context_window_exceeded"):
        return True
    text = (message or "").lower()
    return any(marker in text for marker in _CONTEXT_OVERFLOW_MARKERS)


def error_class_for(
    status: int | None, error_type: str | None = None, message: str | None = None
) -> type[APIStatusError]:
    """The error class for an HTTP status and/or an error ``type`` (pure; the one table).

    ``status`` is ``None`` or 200 for envelopes and stream errors: then the type decides, and
    a rate-limit message still maps to `RateLimitError`.
    """
    if is_context_overflow(message, error_type) and (status in (None, 200, 400, 413, 422)):
        return ContextWindowExceededError
    if error_type:
        by_type = _BY_TYPE.get(error_type.lower())
        if by_type is not None and (status in (None, 200) or by_type is _BY_STATUS.get(status)):
            return by_type
    if status is not None and status not in (200,):
        if status in _BY_STATUS:
            return _BY_STATUS[status]
        if status >= 500:
            return InternalServerError
        if 400 <= status < 500:
            return BadRequestError
    if error_type:
        by_type = _BY_TYPE.get(error_type.lower())
        if by_type is not None:
            return by_type
    if message and "rate limit" in message.lower():
        return RateLimitError
    return APIStatusError
