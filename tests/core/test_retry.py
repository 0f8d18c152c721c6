"""Pure retry decisions: which failures retry, the server's delay, the backoff curve."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from modelslab_core import RetryPolicy
from modelslab_core.transport.retry import get_header, parse_retry_after, retry_delay, should_retry


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529, 599])
def test_retryable_statuses(status: int) -> None:
    assert should_retry(status, {}) is True


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
def test_never_retried_statuses(status: int) -> None:
    assert should_retry(status, {}) is False
    assert should_retry(status, {}, body_retry_after=5.0) is False


def test_connection_errors_retry() -> None:
    assert should_retry(None) is True


def test_x_should_retry_header_wins() -> None:
    assert should_retry(400, {"X-Should-Retry": "true"}) is True
    assert should_retry(503, {"x-should-retry": "false"}) is False
    assert should_retry(None, httpx.Headers({"x-should-retry": "FALSE"})) is False
    assert should_retry(503, {"x-should-retry": "maybe"}) is True


def test_envelope_on_200_retries_only_with_retry_after() -> None:
    assert should_retry(200, {}) is False
    assert should_retry(200, {}, body_retry_after=3.0) is True
    assert should_retry(200, {}, body_retry_after=0.0) is True


def test_get_header_is_case_insensitive_for_plain_dicts() -> None:
    assert get_header({"Retry-After": "3"}, "retry-after") == "3"
    assert get_header(None, "retry-after") is None


def test_parse_retry_after_body_first() -> None:
    headers = {"retry-after-ms": "1500", "Retry-After": "9"}
    assert parse_retry_after(headers, {"status": "error", "retry_after": 30}) == 30.0
    assert parse_retry_after(headers, {"error": {"retry_after": "2.5"}}) == 2.5
    assert parse_retry_after(headers, {"retry_after": "soon"}) == 1.5
    assert parse_retry_after(headers, None) == 1.5


def test_parse_retry_after_headers() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after": " 0.25 "}) == 0.25
    assert parse_retry_after({"retry-after": "-3"}) is None
    assert parse_retry_after({"retry-after": "nan"}) is None
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({}, {"retry_after": True}) is None


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: now) == pytest.approx(12.0)
    past = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=lambda: now) == 0.0


def test_backoff_doubles_and_caps() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0, jitter=0.25)
    no_jitter = [retry_delay(n, policy, rand=lambda: 0.0) for n in range(7)]
    assert no_jitter == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    full_jitter = [retry_delay(n, policy, rand=lambda: 1.0) for n in range(3)]
    assert full_jitter == [0.375, 0.75, 1.5]


def test_backoff_jitter_stays_in_range() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=10.0, jitter=0.5)
    delays = [retry_delay(2, policy) for _ in range(200)]
    assert all(2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert retry_delay(10_000, RetryPolicy(max_delay=3.0), rand=lambda: 0.0) == 3.0


def test_server_delay_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_server_delay=20.0)
    assert retry_delay(0, policy, 5.0) == 5.0
    assert retry_delay(3, policy, 5.0) == 5.0
    assert retry_delay(0, policy, 300.0) == 20.0
    assert retry_delay(0, policy, 0.0) == 0.0
    assert retry_delay(0, policy, -1.0) == 0.0
