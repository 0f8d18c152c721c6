"""The retry policy of the limiter's Redis commands: redis-py's own `Retry`, bounded by time.

redis-py retries a command that failed on a connection error or a timeout (reconnecting
first), with a backoff from `redis.backoff`. Its budget is a number of attempts, which is the
wrong unit here: a refused connect fails in microseconds, a silent server only after the socket
timeout, and redis-py retries a connect inside the retry of a command (attempts multiply).
`WindowRetry` and `AsyncWindowRetry` keep redis-py's loop, clean-up and backoff and add one
rule: a failure more than ``window`` seconds after the call began is raised (a nested connect
retry ends with its own window, and the command's is then over too). ``window=0``: one attempt.

Errors retried: redis-py's ``ConnectionError`` and ``TimeoutError``, and the ``OSError`` of a
refused connect (redis-py 5.0 retries a connect only on its own types, and its pool connects
outside the command's retry); `retry_options` also names them in ``retry_on_error``, without
which redis-py 5.0 raises at the first failure whatever the `Retry` says.

Retrying is safe because every script of the limiter is idempotent by its lease id (see
`scripts`): a command whose reply was lost may have run, and running it again changes nothing.
Imported on first use of a Redis limiter (it imports redis-py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio.retry import Retry as _AsyncRetry
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry as _Retry

__all__ = ["AsyncWindowRetry", "WindowRetry", "retry_options"]

T = TypeVar("T")

_BACKOFF = {"base": 0.02, "cap": 0.25}
"""Seconds before retry n: 0.02 x 2^n capped at 0.25, half of it random (a restarted Redis
is not met by every client at once); first retry after 20-40 ms, then every 125-250 ms."""


_RETRIED = (ConnectionError, TimeoutError, OSError)


def retry_options(window: float, *, asynchronous: bool) -> dict[str, Any]:
    """The ``redis.Redis`` / ``redis.asyncio.Redis`` keyword arguments of the policy."""
    retry = AsyncWindowRetry(window) if asynchronous else WindowRetry(window)
    return {"retry": retry, "retry_on_error": [ConnectionError, TimeoutError]}


class WindowRetry(_Retry):
    """redis-py's `Retry` (blocking clients) that gives up ``window`` seconds after a call began."""

    def __init__(self, window: float) -> None:
        super().__init__(EqualJitterBackoff(**_BACKOFF), -1, _RETRIED)
        self.window = window

    def call_with_retry(
        self, do: Callable[[], T], fail: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> T:
        deadline = time.monotonic() + self.window

        def failed(error: Exception, *count: int) -> None:
            fail(error, *count)  # redis-py's clean-up (disconnect), then our deadline
            if time.monotonic() >= deadline:
                raise error

        return super().call_with_retry(do, failed, *args, **kwargs)


class AsyncWindowRetry(_AsyncRetry):
    """redis-py's asyncio `Retry` that gives up ``window`` seconds after a call began."""

    def __init__(self, window: float) -> None:
        super().__init__(EqualJitterBackoff(**_BACKOFF), -1, _RETRIED)
        self.window = window

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        deadline = time.monotonic() + self.window

        async def failed(error: Exception, *count: int) -> None:
            await fail(error, *count)
            if time.monotonic() >= deadline:
                raise error

        return await super().call_with_retry(do, failed, *args, **kwargs)
