"""What both transport twins share: headers, body, timeouts, retry timing, response checks,
and the billing verdict of a failed attempt (`Failure.billed`). No I/O happens here.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, TypeVar

import httpx

from ..config import ClientConfig
from ..exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    StreamTimeoutError,
)
from ..limits.select import account_slots
from .errors import error_from_payload, error_from_response, request_id_from, safe_message
from .retry import retry_delay
from .stream_attempt import Failure, StreamRun, may_report_error, retryable

__all__ = ["CHAT_COMPLETIONS_PATH", "NOT_SENT", "TransportBase"]

T = TypeVar("T")
CHAT_COMPLETIONS_PATH = "/chat/completions"
_log = logging.getLogger("modelslab_core")
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
"""Failures before the request left: never billed, so a retry keeps the reservation."""


class TransportBase:
    """What both twins share: headers, body, timeouts, retry timing, response checks."""

    def __init__(self, config: ClientConfig) -> None:
        self.config = config
        self._secret = config.require_api_key()
        self._limiter = account_slots(config, self._secret)
        self._urls: dict[str, httpx.URL] = {}
        self._header_sets: dict[tuple[str, bool], dict[str, str]] = {}

    def _url(self, path: str) -> httpx.URL:
        """The parsed URL of ``path``, parsed once (a string costs httpx a parse per request)."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self.config.url(path))
        return url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(f"{type(self).__name__} is not picklable")

    def _deadline(self) -> float | None:
        total = self.config.total_timeout
        return None if total is None else time.monotonic() + total

    def _headers(self, path: str, *, stream: bool) -> dict[str, str]:
        """The request headers for ``path``, built once per (path, stream): the config is frozen.

        Callers must not mutate the returned dict (httpx copies it into each request)."""
        key = (path, stream)
        headers = self._header_sets.get(key)
        if headers is None:
            headers = self._header_sets[key] = self._make_headers(path, stream=stream)
        return headers

    def _make_headers(self, path: str, *, stream: bool) -> dict[str, str]:
        cfg = self.config
        headers = {
            "User-Agent": cfg.user_agent,
            "Accept": "text/event-stream" if stream else "application/json",
            **cfg.default_headers,
        }
        if path.startswith("/v1/messages"):
            headers["anthropic-version"] = cfg.anthropic_version
        # Documented: Bearer everywhere; "key" in the body only on /chat/completions;
        # x-api-key only on the Anthropic-style paths (/v1/...). Elsewhere, fall back to Bearer.
        on_chat = path == CHAT_COMPLETIONS_PATH
        if cfg.auth == "x-api-key" and not on_chat:
            headers["x-api-key"] = self._secret
        elif not (cfg.auth == "body" and on_chat):
            headers["Authorization"] = f"Bearer {self._secret}"
        return headers

    def _body(self, path: str, body: dict[str, Any] | None) -> dict[str, Any] | None:
        if body is not None and self.config.auth == "body" and path == CHAT_COMPLETIONS_PATH:
            return {**body, "key": self._secret}
        return body

    def _timeout(self, deadline: float | None, *, stream: bool) -> httpx.Timeout:
        cfg = self.config
        read = cfg.read_timeout
        if stream and cfg.stream_chunk_timeout is not None:
            read = min(read or math.inf, cfg.stream_chunk_timeout)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.001)

        def cap(value: float | None) -> float | None:
            return left if value is None else value if left is None else min(value, left)

        return httpx.Timeout(
            connect=cap(cfg.connect_timeout), read=cap(read), write=cap(read), pool=cap(None)
        )

    def _build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        deadline: float | None,
        *,
        stream: bool,
    ) -> httpx.Request:
        url = self._url(path)
        _log.debug("ModelsLab request: %s %s stream=%s", method, url, stream)
        return client.build_request(
            method,
            url,
            json=self._body(path, body),
            headers=self._headers(path, stream=stream),
            timeout=self._timeout(deadline, stream=stream),
        )

    def _next_delay(self, failure: Failure, attempt: int, deadline: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up and raise."""
        policy = self.config.retry
        if not failure.retryable or attempt >= policy.max_retries:
            return None
        delay = retry_delay(attempt, policy, failure.error.retry_after)
        if deadline is not None and time.monotonic() + delay > deadline:
            return None
        _log.debug(
            "ModelsLab retry %d/%d in %.2fs after %s",
            attempt + 1,
            policy.max_retries,
            delay,
            type(failure.error).__name__,
        )
        return delay

    def _exc_failure(self, exc: httpx.RequestError, *, stream: bool = False) -> Failure:
        """A transport exception raised before the response head arrived (billed unless the
        request never left: `NOT_SENT`)."""
        message = safe_message(str(exc) or type(exc).__name__, self._secret)
        billed = not isinstance(exc, NOT_SENT)
        if stream and isinstance(exc, httpx.ReadTimeout):
            chunk_timeout = self.config.stream_chunk_timeout or 0
            return Failure(
                StreamTimeoutError(f"The stream sent nothing for {chunk_timeout:g}s ({message})"),
                True,
            )
        if isinstance(exc, httpx.TimeoutException):
            return Failure(APITimeoutError(f"Request timed out: {message}"), True, billed)
        if isinstance(exc, httpx.DecodingError):
            return Failure(APIResponseValidationError(f"Undecodable response: {message}"), False)
        return Failure(APIConnectionError(f"Connection error: {message}"), True, billed)

    def _json_outcome(
        self, response: httpx.Response, *, stream: bool = False
    ) -> dict[str, Any] | Failure:
        """The JSON object of a complete response, or the failure it reports."""
        status, headers = response.status_code, response.headers
        if status >= 400:  # refused by the server: not billed
            err = error_from_response(status, headers, response.content, secret=self._secret)
            return Failure(err, retryable(err, headers), False)
        try:
            payload = json.loads(response.content)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and not stream and not may_report_error(payload):
            return payload  # the common answer: no header lookups, no envelope checks
        request_id = request_id_from(headers)
        if not isinstance(payload, dict):
            text = safe_message(response.content[:300].decode("utf-8", "replace"), self._secret)
            return Failure(
                APIResponseValidationError(
                    f"Expected a JSON object from ModelsLab, got: {text!r}",
                    status_code=status,
                    request_id=request_id,
                ),
                False,
            )
        error = error_from_payload(
            payload, status=status, headers=headers, request_id=request_id, secret=self._secret
        )
        if error is not None:  # an error envelope: not billed
            return Failure(error, retryable(error, headers), False)
        if stream:
            return Failure(
                APIResponseValidationError(
                    "Expected an event stream, got a JSON body",
                    status_code=status,
                    request_id=request_id,
                    body=payload,
                ),
                False,
            )
        return payload

    @staticmethod
    def _is_event_stream(response: httpx.Response) -> bool:
        content_type = response.headers.get("content-type", "")
        return response.status_code < 400 and not content_type.startswith("application/json")

    def _past_deadline(self, run: StreamRun[T], deadline: float | None) -> bool:
        if run.done or deadline is None or time.monotonic() <= deadline:
            return False
        run.fail(
            APITimeoutError(
                f"Total timeout of {self.config.total_timeout:g}s exceeded",
                request_id=run.request_id,
            ),
            False,
        )
        return True
