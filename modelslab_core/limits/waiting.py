"""Waiting for a slot, written once for threads and tasks.

A limiter's acquire and release are generators (`Steps`) that yield *operations* (`Op`): park
until woken, or one round trip to a backend. The generator holds all the logic; two tiny edges
run it: `run_sync` performs each operation blocking, `run_async` awaits it. Exceptions raised
by an operation (a timeout, a dead backend, a task cancellation) are thrown back into the
generator, so its ``try``/``except`` cleans up the same way on both paths.

`run_sync` is the async driver stepped by hand: its operations complete at once (`_Done`), so
the driver coroutine never suspends and there is one driver, not two.

Waiters are woken from any thread: a `ThreadWaiter` through a `threading.Event`, a `TaskWaiter`
through ``loop.call_soon_threadsafe`` on the loop that waits.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

__all__ = [
    "Op",
    "Park",
    "Steps",
    "TaskWaiter",
    "ThreadWaiter",
    "Waiter",
    "deadline_after",
    "run_async",
    "run_sync",
    "seconds_left",
]

T = TypeVar("T")


class Op(ABC):
    """One operation a limiter's steps ask their edge to perform."""

    __slots__ = ()

    @abstractmethod
    def run(self) -> Any:
        """Perform it, blocking the calling thread."""

    @abstractmethod
    async def arun(self) -> Any:
        """Perform it without blocking the event loop."""


Steps = Generator[Op, Any, T]
"""A limiter operation written once: yields `Op`s, receives their results, returns ``T``."""


class Waiter:
    """Something a thread or a task parks on until another thread wakes it."""

    __slots__ = ("granted", "limit")

    def __init__(self) -> None:
        self.granted = False
        self.limit = 0

    def wake(self) -> None:
        """Wake the parked thread or task (any thread; RuntimeError if its loop is closed)."""
        raise NotImplementedError

    def rearm(self) -> None:
        """Forget an earlier wake-up, before checking again and parking again."""
        raise NotImplementedError

    def park(self, timeout: float | None) -> None:
        """Block the calling thread until woken or ``timeout`` seconds passed."""
        raise TypeError(f"{type(self).__name__} is awaited, not blocked on")

    async def apark(self, timeout: float | None) -> None:
        """Wait in the running loop until woken or ``timeout`` seconds passed."""
        raise TypeError(f"{type(self).__name__} is blocked on, not awaited")


class ThreadWaiter(Waiter):
    """A blocked thread, woken through an event."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        super().__init__()
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def rearm(self) -> None:
        self._event.clear()

    def park(self, timeout: float | None) -> None:
        self._event.wait(timeout)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class TaskWaiter(Waiter):
    """A task on one event loop, woken through ``call_soon_threadsafe`` (its loop must run)."""

    __slots__ = ("_future", "_loop")

    def __init__(self) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._future: asyncio.Future[None] = self._loop.create_future()

    def wake(self) -> None:
        self._loop.call_soon_threadsafe(_resolve, self._future)

    def rearm(self) -> None:
        if self._future.done():
            self._future = self._loop.create_future()

    async def apark(self, timeout: float | None) -> None:
        # asyncio.wait never cancels the future: a wake-up that races a timeout is kept.
        await asyncio.wait((self._future,), timeout=timeout)


class Park(Op):
    """Wait until ``waiter`` is woken or ``timeout`` seconds passed (None: no limit)."""

    __slots__ = ("timeout", "waiter")

    def __init__(self, waiter: Waiter, timeout: float | None) -> None:
        self.waiter = waiter
        self.timeout = timeout

    def run(self) -> None:
        self.waiter.park(self.timeout)

    async def arun(self) -> None:
        await self.waiter.apark(self.timeout)


class _Done:
    """An awaitable that is already complete: what a blocking edge hands the driver."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        yield from ()
        return self.value


async def _drive(steps: Steps[T], perform: Callable[[Op], Awaitable[Any]]) -> T:
    """Run ``steps`` to their end, performing each operation; errors go back into them."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            value = await perform(op)
        except BaseException as exc:  # cancellation and interrupts too: the steps clean up
            error = exc


def _blocking(op: Op) -> _Done:
    return _Done(op.run())


def _awaiting(op: Op) -> Awaitable[Any]:
    return op.arun()


def run_sync(steps: Steps[T]) -> T:
    """Run ``steps`` in the calling thread, blocking on each operation."""
    driver = _drive(steps, _blocking)
    try:
        driver.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    driver.close()
    raise RuntimeError("a blocking limiter step suspended")  # pragma: no cover


async def run_async(steps: Steps[T]) -> T:
    """Run ``steps`` in the running event loop, awaiting each operation."""
    return await _drive(steps, _awaiting)


def deadline_after(timeout: float | None) -> float | None:
    """The monotonic time ``timeout`` seconds from now (None or infinite: no deadline)."""
    return None if timeout is None or math.isinf(timeout) else time.monotonic() + timeout


def seconds_left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (may be negative), or None without one."""
    return None if deadline is None else deadline - time.monotonic()
