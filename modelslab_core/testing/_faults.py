"""Scripted steps for the stand-in server: faults and canned replies.

Each step is consumed by exactly one incoming request, in the order enqueued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "Reply", "default_error_body"]

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "Invalid request parameters.",
    401: "Invalid API key provided.",
    402: "Insufficient credits. Please top up your ModelsLab wallet.",
    403: "Your plan does not allow access to this model.",
    404: "Not found.",
    408: "Request timeout.",
    409: "Conflict.",
    413: "Request entity too large.",
    422: "Unprocessable request.",
    429: "Rate limit exceeded. Too many requests in queue.",
    500: "Internal server error.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
    529: "Service overloaded.",
}

_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def default_error_body(code: int, *, retry_after: float | None = None) -> dict[str, Any]:
    """ModelsLab-shaped error body for an HTTP status.

    400/401/403/404/422 use the documented OpenAI-style ``{"error": {...}}`` body; the others
    use the observed ``{"status": "error", "message": ...}`` envelope (429 adds ``retry_after``).
    """
    message = _DEFAULT_MESSAGES.get(code, f"HTTP {code}")
    if code in (400, 401, 403, 404, 422):
        err_type = _ERROR_TYPES.get(code, "api_error")
        return {"error": {"message": message, "type": err_type, "code": str(code)}}
    body: dict[str, Any] = {"status": "error", "message": message}
    if code == 429:
        body["retry_after"] = 30 if retry_after is None else retry_after
    elif retry_after is not None:
        body["retry_after"] = retry_after
    return body


@dataclass(frozen=True)
class Fault:
    """One scripted failure. Build it with the classmethods, not directly."""

    kind: str
    code: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after_events: int = 0
    seconds: float = 0.0
    message: str = ""
    error_type: str | None = None

    @classmethod
    def status(
        cls,
        code: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        retry_after: float | None = None,
    ) -> Fault:
        """An HTTP error status with a ModelsLab-shaped body (or ``body`` as given).

        ``retry_after`` sets the body's ``retry_after`` field; put a ``Retry-After`` header in
        ``headers`` to send one.
        """
        if body is None:
            body = default_error_body(code, retry_after=retry_after)
        return cls("status", code=code, body=body, headers=dict(headers or {}))

    @classmethod
    def envelope_error(
        cls, message: str = "Provider returned error", retry_after: float | None = None
    ) -> Fault:
        """HTTP 200 with ``{"status": "error", "message": ...}``."""
        body: dict[str, Any] = {"status": "error", "message": message}
        if retry_after is not None:
            body["retry_after"] = retry_after
        return cls("status", code=200, body=body, message=message)

    @classmethod
    def processing(cls, id: str = "req-12345", eta: float = 10.0) -> Fault:
        """HTTP 200 with a queued ``{"status": "processing", ...}`` envelope."""
        body = {
            "status": "processing",
            "eta": eta,
            "id": id,
            "fetch_result": f"https://modelslab.com/api/v7/llm/fetch/{id}",
            "message": "Request is being processed.",
        }
        return cls("status", code=200, body=body)

    @classmethod
    def cut_before_headers(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("cut_before_headers")

    @classmethod
    def malformed_json(cls) -> Fault:
        """HTTP 200, JSON content type, truncated body ``{"id": "gen-``."""
        return cls("malformed_json")

    @classmethod
    def cut_mid_stream(cls, after_events: int = 2) -> Fault:
        """Send ``after_events`` events (or part of a JSON body), then close the socket."""
        return cls("cut_mid_stream", after_events=after_events)

    @classmethod
    def error_mid_stream(
        cls,
        after_events: int = 2,
        message: str = "Provider returned error",
        error_type: str | None = None,
    ) -> Fault:
        """Send ``after_events`` events, then an in-stream error, then end the stream."""
        return cls(
            "error_mid_stream", after_events=after_events, message=message, error_type=error_type
        )

    @classmethod
    def malformed_sse(cls, after_events: int = 1) -> Fault:
        """Send ``after_events`` events, then ``data: {not json``."""
        return cls("malformed_sse", after_events=after_events)

    @classmethod
    def stall(cls, seconds: float, after_events: int = 0) -> Fault:
        """Go silent for ``seconds`` after ``after_events`` events (0: before the headers)."""
        return cls("stall", seconds=seconds, after_events=after_events)


@dataclass(frozen=True)
class Reply:
    """Script the next successful answer instead of the deterministic one.

    ``tool_calls`` is a list of ``{"name": ..., "arguments": dict | str}``; ``usage`` is
    ``{"prompt_tokens": n, "completion_tokens": m}`` (or the Anthropic names).
    """

    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
