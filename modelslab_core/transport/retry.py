"""Pure retry decisions: whether to retry, how long the server asked us to wait, the backoff.

Absorbed from openai-python's ``_should_retry``/``_calculate_retry_timeout``: obey
``x-should-retry`` first; retry 408/409/429/5xx (529 included) and connection errors, never
other 4xx; honour ``retry_after`` in the body, ``retry-after-ms`` and ``Retry-After`` (seconds or
an HTTP-date), capped; otherwise back off exponentially with jitter.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..config import RetryPolicy

__all__ = ["get_header", "parse_retry_after", "retry_delay", "should_retry"]

_RETRY_STATUSES = frozenset({408, 409, 429})


def get_header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """A header's value, looked up case-insensitively (works for dicts and httpx.Headers)."""
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def should_retry(
    status: int | None,
    headers: Mapping[str, str] | None = None,
    *,
    body_retry_after: float | None = None,
) -> bool:
    """Whether a failed attempt may be retried.

    Args:
        status: the HTTP status; ``None`` for a connection error or timeout; 200 for an error
            envelope (retried only when the body names a ``retry_after``).
        headers: the response headers; ``x-should-retry: true|false`` overrides everything.
        body_retry_after: the ``retry_after`` the error body asked for, if any.
    """
    verdict = (get_header(headers, "x-should-retry") or "").strip().lower()
    if verdict == "true":
        return True
    if verdict == "false":
        return False
    if status is None:
        return True
    if status < 400:
        return body_retry_after is not None
    return status in _RETRY_STATUSES or status >= 500


def _as_seconds(value: Any) -> float | None:
    """A finite, non-negative number of seconds, or None."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def parse_retry_after(
    headers: Mapping[str, str] | None,
    body: Any = None,
    *,
    now: Callable[[], float] = time.time,
) -> float | None:
    """The delay (seconds) the server asked for, or None.

    Order: the body's ``retry_after`` (ModelsLab's documented field, also under ``error``),
    ``retry-after-ms``, then ``Retry-After`` as seconds or as an HTTP-date (relative to ``now``).
    """
    if isinstance(body, dict):
        nested = body.get("error")
        for source in (body, nested if isinstance(nested, dict) else {}):
            seconds = _as_seconds(source.get("retry_after"))
            if seconds is not None:
                return seconds
    ms = _as_seconds(get_header(headers, "retry-after-ms"))
    if ms is not None:
        return ms / 1000.0
    raw = get_header(headers, "retry-after")
    if raw is None:
        return None
    seconds = _as_seconds(raw.strip())
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    server_delay: float | None = None,
    *,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    A server-requested delay wins, capped at ``policy.max_server_delay``; otherwise
    ``initial_delay * 2**attempt`` capped at ``max_delay``, shortened by up to ``jitter``.
    """
    if server_delay is not None:
        return min(max(server_delay, 0.0), policy.max_server_delay)
    base = min(policy.initial_delay * (2.0 ** min(attempt, 62)), policy.max_delay)
    return base * (1.0 - policy.jitter * rand())
