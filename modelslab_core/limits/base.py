"""The in-flight limiter interface: `InFlightLimiter`, its `_Slot`, `LimiterStats`.

ModelsLab rejects requests past an account's queue size with 429. Capping on the client side
makes a batch wait locally instead. An `InFlightLimiter` counts the requests in flight per
*account* (a hash of the API key and base URL, `account_id`; the key itself is never kept) and
hands out slots in FIFO order. Implementations: `LocalLimiter` (`local`, this process) and
`RedisLimiter` (`redis.limiter`, every process sharing one Redis); `select` picks one for a
config. Each waiter brings its own limit, so clients configured with different caps still agree
on one counter. Past ``in_flight_wait_timeout`` a waiter gives up with `QueueFullError`.

One `_Slot` object serves ``with`` and ``async with``, and a limiter's acquire/release logic is
written once as `Steps` (see `waiting`).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields

from ..exceptions import QueueFullError
from .waiting import Steps, TaskWaiter, ThreadWaiter, Waiter, run_async, run_sync

__all__ = ["LOCAL", "InFlightLimiter", "LimiterStats", "account_id", "queue_full"]

LOCAL = "local"
"""``in_flight_backend`` value that keeps the cap in this process (even if the env var is set)."""

NewWaiter = Callable[[], Waiter]


@dataclass(frozen=True)
class LimiterStats:
    """Counters of one limiter in this process (a snapshot)."""

    acquired: int = 0
    """Slots handed out."""
    waited: int = 0
    """Of those, how many had to queue first."""
    timed_out: int = 0
    """Waits that ended in `QueueFullError`."""
    fallbacks: int = 0
    """Slots taken from the in-process cap because the shared backend was unreachable."""
    reclaimed: int = 0
    """Leases of running requests registered again (expired, or lost in a backend restart)."""
    release_errors: int = 0
    """Releases the backend did not confirm (the lease then expires on its own)."""


def queue_full(limit: int, timeout: float | None) -> QueueFullError:
    """The error of a wait that reached its deadline."""
    return QueueFullError(
        f"The ModelsLab account's in-flight queue stayed full: none of its {limit} slots freed "
        f"up within {timeout or 0:g}s (in_flight_wait_timeout)"
    )


class InFlightLimiter(ABC):
    """Counts requests in flight per account and hands out slots in FIFO order.

    Use ``with limiter.slot(account, limit):`` or ``async with limiter.slot(...)``. Subclasses
    write `_acquire` and `_release` once, as `Steps`; `_take_now` is an optional fast path.
    """

    def __init__(self) -> None:
        self._stats_lock = threading.Lock()
        self._counts = dict.fromkeys((f.name for f in fields(LimiterStats)), 0)

    def slot(
        self, account: str, limit: int | None, *, timeout: float | None = None
    ) -> contextlib.AbstractContextManager[None] | _Slot:
        """Hold one of ``account``'s ``limit`` slots for a ``with``/``async with`` block.

        ``limit`` None or 0: no cap (a no-op). ``timeout``: longest wait, then `QueueFullError`.
        """
        if not limit:
            return contextlib.nullcontext()
        return _Slot(self, account, limit, timeout)

    def stats(self) -> LimiterStats:
        """What this limiter did in this process so far."""
        with self._stats_lock:
            return LimiterStats(**self._counts)

    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                self._counts[name] += delta

    def _take_now(self, account: str, limit: int) -> object | None:
        """A slot without waiting and without I/O, or None (then `_acquire` runs)."""
        return None

    @abstractmethod
    def _acquire(
        self, account: str, limit: int, timeout: float | None, new_waiter: NewWaiter
    ) -> Steps[object]:
        """Wait for a slot; return the lease that `_release` takes back."""

    @abstractmethod
    def _release(self, lease: object) -> Steps[None] | None:
        """Give a slot back: steps to run, or None when it is already done."""


class _Slot:
    """One slot held for a ``with`` or ``async with`` block (the edges of `_acquire`)."""

    __slots__ = ("_account", "_lease", "_limit", "_limiter", "_timeout")

    def __init__(
        self, limiter: InFlightLimiter, account: str, limit: int, timeout: float | None
    ) -> None:
        self._limiter, self._account, self._limit, self._timeout = limiter, account, limit, timeout
        self._lease: object = None

    def _steps(self, new_waiter: NewWaiter) -> Steps[object]:
        return self._limiter._acquire(self._account, self._limit, self._timeout, new_waiter)

    def __enter__(self) -> None:
        lease = self._limiter._take_now(self._account, self._limit)
        self._lease = run_sync(self._steps(ThreadWaiter)) if lease is None else lease

    async def __aenter__(self) -> None:
        lease = self._limiter._take_now(self._account, self._limit)
        self._lease = await run_async(self._steps(TaskWaiter)) if lease is None else lease

    def __exit__(self, *exc_info: object) -> None:
        steps = self._limiter._release(self._lease)
        if steps is not None:
            run_sync(steps)

    async def __aexit__(self, *exc_info: object) -> None:
        steps = self._limiter._release(self._lease)
        if steps is not None:
            await run_async(steps)


def account_id(api_key: str, base_url: str) -> str:
    """The account's name in limiters: a hash of the API key and base URL, never the key."""
    digest = hashlib.sha256(f"{base_url}\n{api_key}".encode())
    return digest.hexdigest()[:32]
