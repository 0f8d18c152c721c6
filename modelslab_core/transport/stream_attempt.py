"""One attempt of a streamed request (pure): SSE bytes in, handler outputs out, failures recorded.

`StreamRun` is the reducer both transport twins drive: it decodes SSE, parses each ``data``
once, stops at ``[DONE]`` (or when the handler says done), turns error envelopes and ``error``
events into typed errors, and records why an attempt failed and whether it may be retried.
No I/O happens here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from ..exceptions import (
    APIError,
    APIResponseValidationError,
    ProcessingResponseError,
    StreamInterruptedError,
    StreamTimeoutError,
)
from .errors import DECODE_BUGS, as_api_error, error_from_payload, safe_message
from .retry import should_retry
from .sse import ServerSentEvent, SSEDecoder

__all__ = ["EventHandler", "Failure", "StreamRun", "may_report_error", "retryable"]

T = TypeVar("T")
EventHandler = Callable[[str | None, dict[str, Any]], tuple[list[T], bool]]
"""Called with each parsed SSE event (name, JSON data); returns (outputs, stream done)."""


@dataclass
class Failure:
    """A failed attempt: the error to raise, whether retrying is allowed, and whether the
    request may have been billed (it left and was not refused: its reservation stays spent)."""

    error: APIError
    retryable: bool
    billed: bool = True


def retryable(error: APIError, headers: Any = None) -> bool:
    """The retry verdict for an error carried by a response body (HTTP error or envelope)."""
    if isinstance(error, (APIResponseValidationError, ProcessingResponseError)):
        return False
    return should_retry(error.status_code or 200, headers, body_retry_after=error.retry_after)


@dataclass
class StreamRun(Generic[T]):
    """Pure per-attempt stream state: SSE decoding, JSON parsing, error events, termination."""

    handler: EventHandler[T]
    secret: str
    request_id: str | None = None
    decoder: SSEDecoder = field(default_factory=SSEDecoder)
    done: bool = False
    yielded: bool = False
    failure: Failure | None = None

    def feed(self, chunk: bytes) -> list[T]:
        """Outputs of the events this chunk completes; on error sets `failure`."""
        if self.done:
            return []
        return self._handle_all(self.decoder.feed(chunk))

    def finish(self) -> list[T]:
        """The body ended: decode what is left; a stream without its terminator fails."""
        if self.done or self.failure is not None:
            return []
        outputs = self._handle_all(self.decoder.flush())
        if self.failure is not None and isinstance(self.failure.error, APIResponseValidationError):
            self.failure = None  # a half-written last event: the stream was cut
        if not self.done and self.failure is None:
            error = StreamInterruptedError(
                "The stream ended before its terminator ([DONE] or message_stop)",
                request_id=self.request_id,
            )
            self.fail(error, True)
        return outputs

    def fail(self, error: APIError, retryable: bool, billed: bool = True) -> None:
        """Record the failure of this attempt (the first one wins)."""
        if self.failure is None:
            self.failure = Failure(error, retryable, billed)

    def fail_transport(self, exc: httpx.RequestError, chunk_timeout: float | None) -> None:
        """The connection broke or went silent while reading the body."""
        if self.done:
            return  # the answer is complete; only the drain after the terminator failed
        message = safe_message(str(exc) or type(exc).__name__, self.secret)
        if isinstance(exc, httpx.TimeoutException):
            error: APIError = StreamTimeoutError(
                f"The stream sent nothing for {chunk_timeout or 0:g}s ({message})",
                request_id=self.request_id,
            )
        else:
            error = StreamInterruptedError(
                f"The stream broke: {message}", request_id=self.request_id
            )
        self.fail(error, True)

    def _handle_all(self, events: list[ServerSentEvent]) -> list[T]:
        if len(events) == 1 and not self.done:
            try:
                return self._handle(events[0])
            except APIError as err:
                self.fail(err, retryable(err), self._billed(err, []))
                return []
        outputs: list[T] = []
        try:
            for sse in events:
                if not self.done:
                    outputs.extend(self._handle(sse))
        except APIError as err:
            self.fail(err, retryable(err), self._billed(err, outputs))
        return outputs

    def _billed(self, error: APIError, outputs: list[T]) -> bool:
        """Whether a failed stream may have been billed: only an error the server reported
        before any output (an error event or envelope) says it was not."""
        garbled = isinstance(error, APIResponseValidationError)
        return garbled or self.yielded or bool(outputs)

    def _handle(self, sse: ServerSentEvent) -> list[T]:
        data = sse.data
        if data[:1] != "{":  # not the usual JSON object: blank, [DONE] or malformed
            if not data.strip():
                return []
            if data.startswith("[DONE]"):
                self.done = True
                return []
        payload = self._parse(data)
        named_error = sse.event == "error"
        if named_error or may_report_error(payload):
            error = error_from_payload(
                payload, request_id=self.request_id, secret=self.secret, force=named_error
            )
            if error is not None:
                raise error
        try:
            outputs, done = self.handler(sse.event, payload)
        except (APIError, *DECODE_BUGS) as exc:  # as_api_error sets the (key-free) cause
            raise as_api_error(exc, secret=self.secret, body=payload, request_id=self.request_id)  # noqa: B904
        self.done = done
        return outputs

    def _parse(self, data: str) -> dict[str, Any]:
        payload = _json_object(data)
        if payload is None:
            raise APIResponseValidationError(
                f"Malformed stream event (not a JSON object): {safe_message(data[:200], self.secret)}",
                request_id=self.request_id,
            )
        return payload


_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner behind ``json.loads``, without its per-call wrapper layers."""


def _json_object(data: str) -> dict[str, Any] | None:
    """``data`` parsed as one JSON object (as strictly as ``json.loads``), else None."""
    try:
        if data[:1] == "{":
            value, end = _scan_json(data, 0)
            if end != len(data) and data[end:].strip():
                return None  # extra data after the object
        else:
            value = json.loads(data)
    except (ValueError, StopIteration):
        return None
    return value if isinstance(value, dict) else None


def may_report_error(payload: dict[str, Any]) -> bool:
    """Cheap pre-check: only a payload with ``status``/``error`` keys or ``type: error`` can
    be an envelope or an error event (`error_from_payload` decides)."""
    return "status" in payload or "error" in payload or payload.get("type") == "error"
