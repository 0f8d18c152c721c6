"""The two background threads of a Redis limiter in one process.

- `WakeListener` subscribes to the wake-up channel and wakes the local waiter whose id a
  release just granted (a thread or a task, through its `Waiter`), marked granted: the
  message is the grant (the script published it after adding the lease), so the waiter
  goes on without another round trip. After every (re)subscription
  it wakes all local waiters once, so a grant published while it was not listening is seen.
- `Renewer` renews every lease this process holds, every third of the lease time, in one
  script call per account; leases that Redis lost (a restart, a long stall) are re-registered.
Both are daemon threads started on first use; neither ever blocks a request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from ..waiting import Waiter
from .io import RedisIO, redis_errors

__all__ = ["Renewer", "WakeListener"]

_log = logging.getLogger("modelslab_core")
_RETRY_MAX = 1.0


def _wake(waiter: Waiter) -> None:
    with contextlib.suppress(RuntimeError):  # its event loop is closed: nobody waits there
        waiter.wake()


class _Background:
    """A daemon thread started on first use, stopped by `stop`."""

    _thread: threading.Thread | None

    def __init__(self) -> None:
        self._stop = threading.Event()

    def _ensure_thread(self, target: Callable[[], None], name: str) -> None:
        """Start the thread unless it runs or the object was stopped (lock held)."""
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=target, name=name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread (within about half a second)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)


class WakeListener(_Background):
    """Wakes local waiters when Redis publishes that their id was granted a slot."""

    def __init__(self, io: RedisIO, channel: str) -> None:
        super().__init__()
        self._io, self._channel = io, channel
        self.after_fork()

    def after_fork(self) -> None:
        """Fresh state (also in a forked child, where the thread does not exist)."""
        self._lock = threading.Lock()
        self._waiters: dict[str, Waiter] = {}
        self._thread: threading.Thread | None = None
        self._delay = 0.05

    def watch(self, ticket: str, waiter: Waiter) -> None:
        """Wake ``waiter`` when ``ticket`` is granted (starts the thread on first use)."""
        with self._lock:
            self._waiters[ticket] = waiter
            self._ensure_thread(self._run, "modelslab-inflight-wake")

    def unwatch(self, ticket: str) -> None:
        """Stop watching ``ticket``."""
        with self._lock:
            self._waiters.pop(ticket, None)

    def wake_all(self) -> None:
        """Make every local waiter ask Redis again."""
        with self._lock:
            waiters = list(self._waiters.values())
        for waiter in waiters:
            _wake(waiter)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except redis_errors() as exc:
                _log.debug("ModelsLab in-flight wake-up channel lost: %s", type(exc).__name__)
                self.wake_all()  # they ask again, and fail over or raise if Redis is down
                self._stop.wait(self._delay)
                self._delay = min(self._delay * 2, _RETRY_MAX)

    def _listen(self) -> None:
        pubsub = self._io.client().pubsub()
        try:
            pubsub.subscribe(self._channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self._delay = 0.05
                    self.wake_all()
                elif message["type"] == "message":
                    with self._lock:
                        waiter = self._waiters.get(message["data"].decode())
                    if waiter is not None:  # a script granted this id: no need to ask again
                        waiter.granted = True
                        _wake(waiter)
        finally:
            pubsub.close()


RenewCall = Callable[[str, list[str]], int]
"""Renew ``ids`` of an account in Redis (blocking); returns how many were missing and re-added."""


class Renewer(_Background):
    """Renews the leases this process holds, every ``every`` seconds."""

    def __init__(
        self, renew: RenewCall, every: float, lease: float, on_back: Callable[[int], None]
    ) -> None:
        super().__init__()
        self._renew, self._every, self._lease, self._on_back = renew, every, lease, on_back
        self.after_fork()

    def after_fork(self) -> None:
        """Fresh state (also in a forked child, where the thread does not exist)."""
        self._lock = threading.Lock()
        self._held: dict[str, set[str]] = {}
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None

    def hold(self, account: str, lease_id: str) -> None:
        """Keep renewing ``lease_id`` until `drop` (starts the thread on first use)."""
        with self._lock:
            self._held.setdefault(account, set()).add(lease_id)
            self._ensure_thread(self._run, "modelslab-inflight-renew")

    def drop(self, account: str, lease_id: str) -> None:
        """Stop renewing ``lease_id``."""
        with self._lock:
            ids = self._held.get(account)
            if ids is not None:
                ids.discard(lease_id)
                if not ids:
                    del self._held[account]

    def _run(self) -> None:
        # While Redis fails, retry at least every second (and never less often than the
        # renewal period): after a restart the fence lasts one lease, three periods.
        while not self._stop.wait(
            self._every if self._failing_since is None else min(self._every, _RETRY_MAX)
        ):
            with self._lock:
                batch = {account: sorted(ids) for account, ids in self._held.items()}
            for account, ids in batch.items():
                self._renew_account(account, ids)

    def _renew_account(self, account: str, ids: list[str]) -> None:
        try:
            back = self._renew(account, ids)
        except redis_errors() as exc:
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                _log.warning(
                    "ModelsLab in-flight limit: Redis unreachable (%s); %d running requests' "
                    "leases are not renewed and expire within %gs",
                    type(exc).__name__,
                    len(ids),
                    self._lease,
                )
            return
        if self._failing_since is not None:
            self._failing_since = None
            _log.warning("ModelsLab in-flight limit: Redis reachable again, leases renewed")
        if back:
            self._on_back(back)
            _log.warning(
                "ModelsLab in-flight limit: %d running requests' leases were missing in Redis "
                "(restarted, or this process stalled past the lease time); registered again",
                back,
            )
