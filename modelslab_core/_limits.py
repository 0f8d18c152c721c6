"""In-flight limits: one interface, the in-process limiter, and how a config picks a limiter.

ModelsLab rejects requests past an account's queue size with 429. Capping on the client side
makes a batch wait locally instead. An `InFlightLimiter` counts the requests in flight per
*account* (a hash of the API key and base URL; the key itself is never kept) and hands out
slots in FIFO order. Two implementations share the interface:

- `LocalLimiter`: this process only (threads and event loops share it); one per process is
  the default, so every client of one account in a process shares one counter.
- `RedisLimiter` (`_redis_limiter`): every process and machine that shares one Redis.

The transport holds an `AccountSlots` (limiter + account + wait deadline) and enters
``slot(limit)`` around each attempt, with ``with`` or ``async with``: one `_Slot` object serves
both, and the limiter's acquire/release logic is written once as `Steps` (see `_waiting`).
Each waiter brings its own limit, so clients configured with different caps still agree on
one counter. Past ``in_flight_wait_timeout`` a waiter gives up with `QueueFullError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import weakref
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from ._exceptions import QueueFullError
from ._waiting import (
    Park,
    Steps,
    TaskWaiter,
    ThreadWaiter,
    Waiter,
    deadline_after,
    run_async,
    run_sync,
    seconds_left,
)

if TYPE_CHECKING:
    from ._config import ClientConfig

__all__ = [
    "LOCAL",
    "AccountSlots",
    "InFlightLimiter",
    "LimiterStats",
    "LocalLimiter",
    "account_id",
    "account_slots",
    "limiter_for",
    "process_limiter",
    "queue_full",
]

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


class _Account:
    """One account's counter and FIFO of waiters (guarded by the limiter's lock)."""

    __slots__ = ("in_flight", "waiters")

    def __init__(self) -> None:
        self.in_flight = 0
        self.waiters: deque[Waiter] = deque()


_LOCAL_LIMITERS: weakref.WeakSet[LocalLimiter] = weakref.WeakSet()


class LocalLimiter(InFlightLimiter):
    """The in-process limiter: a lock, a counter and a FIFO of waiters per account.

    A released slot is handed straight to the first waiter, so a newcomer never overtakes a
    queued request. Safe across threads and event loops.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        _LOCAL_LIMITERS.add(self)

    def __repr__(self) -> str:
        return f"LocalLimiter(accounts={len(self._accounts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as a fresh limiter (slots do not travel); the process one stays itself."""
        return (process_limiter, ()) if self is _PROCESS else (LocalLimiter, ())

    def in_flight(self, account: str) -> int:
        """Slots of ``account`` held now in this process."""
        found = self._accounts.get(account)
        return 0 if found is None else found.in_flight

    def waiting(self, account: str) -> int:
        """Requests of ``account`` queued for a slot now."""
        found = self._accounts.get(account)
        return 0 if found is None else len(found.waiters)

    def _account(self, account: str) -> _Account:
        found = self._accounts.get(account)
        if found is None:
            found = self._accounts[account] = _Account()
        return found

    def _take_now(self, account: str, limit: int) -> _Account | None:
        with self._lock:
            acc = self._account(account)
            if acc.waiters or acc.in_flight >= limit:
                return None
            acc.in_flight += 1
        self._count(acquired=1)
        return acc

    def _acquire(
        self, account: str, limit: int, timeout: float | None, new_waiter: NewWaiter
    ) -> Steps[object]:
        deadline = deadline_after(timeout)
        with self._lock:
            acc = self._account(account)
            if not acc.waiters and acc.in_flight < limit:
                acc.in_flight += 1
                self._count(acquired=1)
                return acc
            waiter = new_waiter()
            waiter.limit = limit
            acc.waiters.append(waiter)
        try:
            while not waiter.granted:
                left = seconds_left(deadline)
                if left is not None and left <= 0:
                    self._count(timed_out=1)
                    raise queue_full(limit, timeout)
                yield Park(waiter, left)
        except BaseException:
            self._abandon(acc, waiter)
            raise
        self._count(acquired=1, waited=1)
        return acc

    def _abandon(self, acc: _Account, waiter: Waiter) -> None:
        """A waiter gave up: dequeue it, or give back the slot it was handed meanwhile."""
        with self._lock:
            if waiter.granted:
                acc.in_flight -= 1
            else:
                with contextlib.suppress(ValueError):
                    acc.waiters.remove(waiter)
            self._grant(acc)

    def _release(self, lease: object) -> None:
        assert isinstance(lease, _Account)
        with self._lock:
            lease.in_flight -= 1
            self._grant(lease)
        return None

    @staticmethod
    def _grant(acc: _Account) -> None:
        """Hand free slots to the waiters at the head of the queue (lock held)."""
        while acc.waiters and acc.in_flight < acc.waiters[0].limit:
            waiter = acc.waiters.popleft()
            waiter.granted = True
            acc.in_flight += 1
            try:
                waiter.wake()
            except RuntimeError:  # its event loop is closed: nobody is waiting any more
                waiter.granted = False
                acc.in_flight -= 1

    def _after_fork(self) -> None:
        """In a forked child: the parent's slots and waiters are not this process's."""
        self._lock = threading.Lock()
        self._accounts = {}


def _reset_after_fork() -> None:
    for limiter in list(_LOCAL_LIMITERS):
        limiter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

_PROCESS = LocalLimiter()


def process_limiter() -> LocalLimiter:
    """The process-wide in-process limiter every client uses by default."""
    return _PROCESS


def account_id(api_key: str, base_url: str) -> str:
    """The account's name in limiters: a hash of the API key and base URL, never the key."""
    digest = hashlib.sha256(f"{base_url}\n{api_key}".encode())
    return digest.hexdigest()[:32]


def limiter_for(config: ClientConfig) -> InFlightLimiter:
    """The limiter a config names: its own object, Redis (shared per process) or this process."""
    backend = config.in_flight_backend
    if isinstance(backend, InFlightLimiter):
        return backend
    if backend is None or backend == LOCAL:
        return _PROCESS
    from ._redis_limiter import shared_redis_limiter

    return shared_redis_limiter(
        backend, lease=config.in_flight_lease, fallback=config.in_flight_fallback
    )


class AccountSlots:
    """One account's slots in one limiter, with the config's wait deadline (the transport's)."""

    __slots__ = ("account", "limiter", "timeout")

    def __init__(self, limiter: InFlightLimiter, account: str, timeout: float | None) -> None:
        self.limiter, self.account, self.timeout = limiter, account, timeout

    def __repr__(self) -> str:
        return f"AccountSlots({self.limiter!r})"

    def slot(self, limit: int | None) -> Any:
        """A ``with``/``async with`` block holding one slot (no-op when ``limit`` is falsy)."""
        return self.limiter.slot(self.account, limit, timeout=self.timeout)

    slot_async = slot


def account_slots(config: ClientConfig, api_key: str) -> AccountSlots:
    """The slots a transport of ``config`` (authenticating with ``api_key``) takes."""
    account = account_id(api_key, config.base_url)
    return AccountSlots(limiter_for(config), account, config.in_flight_wait_timeout)
