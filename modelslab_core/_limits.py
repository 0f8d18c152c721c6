"""The process-wide in-flight cap: at most N requests per (API key, base URL) at once.

ModelsLab rejects requests past an account's queue size with 429. Capping on the client side
makes a batch of 200 prompts wait locally instead. One `InFlightLimiter` per (key hash,
base URL) is shared by every client, thread and event loop: a `threading.Lock` guards a counter
and a FIFO of waiters; a released slot is handed straight to the first waiter (a thread is woken
through its `threading.Event`, a task through ``loop.call_soon_threadsafe``). Each waiter brings
its own limit, so clients configured with different caps still agree on one counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator

__all__ = ["InFlightLimiter", "limiter_for"]


class _Waiter:
    """One queued acquirer: a thread (``event``) or a task (``loop`` + ``future``)."""

    __slots__ = ("event", "future", "granted", "limit", "loop")

    def __init__(
        self,
        limit: int,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.limit = limit
        self.loop = loop
        self.future = future
        self.event = threading.Event() if loop is None else None
        self.granted = False


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class InFlightLimiter:
    """A counter of requests in flight with FIFO hand-off; safe across threads and loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        """Slots currently held."""
        return self._in_flight

    def _try_take(self, limit: int) -> bool:
        """Take a slot now if nobody is queued and the limit allows (lock held)."""
        if not self._waiters and self._in_flight < limit:
            self._in_flight += 1
            return True
        return False

    def acquire(self, limit: int) -> None:
        """Block the calling thread until a slot is free."""
        with self._lock:
            if self._try_take(limit):
                return
            waiter = _Waiter(limit)
            self._waiters.append(waiter)
        assert waiter.event is not None
        try:
            waiter.event.wait()
        except BaseException:
            self._abandon(waiter)
            raise

    async def acquire_async(self, limit: int) -> None:
        """Wait (without blocking the loop) until a slot is free; cancellation-safe."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._try_take(limit):
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(limit, loop=loop, future=future)
            self._waiters.append(waiter)
        try:
            await future
        except BaseException:
            self._abandon(waiter)
            raise

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up: dequeue it, or give back the slot it was handed meanwhile."""
        with self._lock:
            if not waiter.granted:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                self._grant_waiters()
                return
        self.release()

    def release(self) -> None:
        """Give a slot back and hand free slots to the waiters at the head of the queue."""
        with self._lock:
            self._in_flight -= 1
            self._grant_waiters()

    def _grant_waiters(self) -> None:
        """Hand slots to queued waiters in order while their limits allow (lock held)."""
        while self._waiters and self._in_flight < self._waiters[0].limit:
            waiter = self._waiters.popleft()
            if waiter.loop is None:
                assert waiter.event is not None
                waiter.granted = True
                self._in_flight += 1
                waiter.event.set()
                continue
            assert waiter.future is not None
            try:
                waiter.loop.call_soon_threadsafe(_wake_future, waiter.future)
            except RuntimeError:  # its event loop is closed: nobody is waiting any more
                continue
            waiter.granted = True
            self._in_flight += 1

    @contextlib.contextmanager
    def slot(self, limit: int | None) -> Iterator[None]:
        """Hold one slot for the block (no-op when ``limit`` is None or 0)."""
        if not limit:
            yield
            return
        self.acquire(limit)
        try:
            yield
        finally:
            self.release()

    @contextlib.asynccontextmanager
    async def slot_async(self, limit: int | None) -> AsyncIterator[None]:
        """Async twin of `slot`."""
        if not limit:
            yield
            return
        await self.acquire_async(limit)
        try:
            yield
        finally:
            self.release()


_REGISTRY: dict[tuple[str, str], InFlightLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(api_key: str, base_url: str) -> InFlightLimiter:
    """The process-wide limiter of one (API key, base URL); only a hash of the key is kept."""
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
    with _REGISTRY_LOCK:
        limiter = _REGISTRY.get((digest, base_url))
        if limiter is None:
            limiter = _REGISTRY[(digest, base_url)] = InFlightLimiter()
        return limiter
