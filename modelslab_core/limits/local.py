"""The in-process limiter: a counter and a FIFO of waiters per account, one per process."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections import deque
from typing import Any

from .base import InFlightLimiter, NewWaiter, queue_full
from .waiting import Park, Steps, Waiter, deadline_after, seconds_left

__all__ = ["LocalLimiter", "process_limiter"]


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
