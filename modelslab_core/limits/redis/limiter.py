"""`RedisLimiter`: one account's in-flight limit shared by every process that shares a Redis.

A small Lua-scripted lease semaphore (`scripts`) on redis-py (and nothing else: `io`):

- a slot is a *lease* in a sorted set, scored by its expiry on the Redis clock; this process
  renews its leases while the requests run (`Renewer`), so a process that dies loses its
  slots within the lease time (``lease``, default 30 s) and nobody has to clean up after it;
- waiting is a FIFO ticket queue with hand-off: a release grants the head's ticket inside
  the same script and publishes its id; the one subscriber thread of the waiting process
  wakes exactly that waiter (`WakeListener`). Waiters also ask again when the oldest lease
  would expire and every third of the lease time (which keeps their ticket alive): a safety
  net, never the way slots move;
- every Redis command is retried on connection errors and timeouts for ``retry_window``
  seconds (the scripts are idempotent by lease id, so a retry never takes a second slot);
- a wait has a deadline (`QueueFullError`); Redis unreachable for longer than the retry window
  is `LimiterUnavailableError`, or, with ``fallback=True``, a slot of the in-process cap and a
  warning (`InFlightFallbackWarning`); such slots are registered in Redis once it is back.

Acquire and release are written once, as `Steps`, for threads and tasks alike.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
import warnings
import weakref
from dataclasses import dataclass
from typing import Any

from ...exceptions import LimiterUnavailableError
from ..base import InFlightLimiter, NewWaiter, queue_full
from ..local import LocalLimiter, process_limiter
from ..waiting import Park, Steps, Waiter, deadline_after, seconds_left
from .background import Renewer, WakeListener
from .io import DEFAULT_RETRY_WINDOW, Eval, RedisIO, redis_errors
from .scripts import DEFAULT_PREFIX, account_keys, redact_url, wake_channel

__all__ = ["InFlightFallbackWarning", "RedisLimiter", "shared_redis_limiter"]

_log = logging.getLogger("modelslab_core")
_BREAKER = 1.0
"""Seconds after a Redis failure during which acquires skip Redis (fail fast / fall back)."""


class InFlightFallbackWarning(RuntimeWarning):
    """Redis was unreachable: requests are capped in this process only, for now."""


class _Lease:
    """A held slot: its id in Redis (``remote`` False: taken while Redis was unreachable) and
    the in-process slot every Redis slot also holds (so the local count is always exact)."""

    __slots__ = ("account", "id", "local", "remote")

    def __init__(self, account: str, lease_id: str, local: object, remote: bool) -> None:
        self.account, self.id, self.local, self.remote = account, lease_id, local, remote


@dataclass(frozen=True)
class _Ask:
    """One acquire: whose slot, which id, under which limit, until when, parked on what."""

    account: str
    lease_id: str
    limit: int
    timeout: float | None
    deadline: float | None
    new_waiter: NewWaiter


class RedisLimiter(InFlightLimiter):
    """The in-flight limit of each account, shared through Redis by every process using it.

    Args:
        url: ``redis://[:password@]host:6379/0``, ``rediss://...`` or ``unix:///path``.
        lease: seconds a lease lives unrenewed: slots of a dead process come back within it.
        fallback: Redis unreachable: cap in this process with a warning instead of raising.
        retry_window: seconds during which a Redis command that failed on a connection error
            or a timeout is retried (with backoff): a blip costs no request. 0: no retry.
        prefix: the Redis key prefix (accounts are keyed by a hash of key and base URL).
        redis_options: extra keyword arguments for ``redis.Redis.from_url``.
        local: the in-process limiter that also counts this process's slots, and caps them
            during a fallback (default: the process-wide one, shared with local-only clients).

    Share one object between clients (``in_flight_backend=limiter``), or name the URL in
    ``in_flight_backend`` / ``MODELSLAB_IN_FLIGHT_URL``: then one limiter per process serves
    every client with the same settings. Pickles (as its settings).
    """

    def __init__(
        self,
        url: str,
        *,
        lease: float = 30.0,
        fallback: bool = False,
        prefix: str = DEFAULT_PREFIX,
        redis_options: dict[str, Any] | None = None,
        local: LocalLimiter | None = None,
        retry_window: float = DEFAULT_RETRY_WINDOW,
    ) -> None:
        super().__init__()
        if not lease > 0:
            raise ValueError(f"lease must be positive, got {lease!r}")
        if not 0 <= retry_window < float("inf"):
            raise ValueError(f"retry_window must be 0 or more seconds, got {retry_window!r}")
        self.url, self.lease, self.fallback, self.prefix = url, float(lease), fallback, prefix
        self.redis_options = dict(redis_options or {})
        self.retry_window = float(retry_window)
        self._io = RedisIO(url, self.redis_options, self.retry_window)
        self._lease_ms = max(int(self.lease * 1000), 1)
        self._check_every = self.lease / 3
        self._channel = wake_channel(prefix)
        self._listener = WakeListener(self._io, self._channel)
        self._renewer = Renewer(self._renew_sync, self._check_every, self.lease, self._reclaimed)
        self._local = local or process_limiter()
        self._state_lock = threading.Lock()
        self._epochs: dict[str, str] = {}
        self._keys: dict[str, list[str]] = {}
        self._token = uuid.uuid4().hex[:16]  # this limiter in this process (new after a fork)
        self._serial = itertools.count()
        self._down_until = 0.0
        self._last_error: BaseException | None = None
        self._warned = False
        _REDIS_LIMITERS.add(self)

    def __repr__(self) -> str:
        return f"RedisLimiter({redact_url(self.url)!r}, lease={self.lease:g})"

    def __reduce__(self) -> tuple[Any, ...]:
        settings = (self.url, self.lease, self.fallback, self.prefix, self.redis_options)
        return (_unpickle, (*settings, self.retry_window))

    def close(self) -> None:
        """Stop the background threads and close the blocking connections."""
        self._listener.stop()
        self._renewer.stop()
        self._io.close()

    # -- scripts ---------------------------------------------------------------------------
    def _eval(self, script: str, account: str, args: list[Any]) -> Eval:
        keys = self._keys.get(account)
        if keys is None:
            keys = self._keys[account] = account_keys(self.prefix, account)
        known = self._epochs.get(account, "")
        common = [self._lease_ms, known, self._channel, "", self._token]
        return Eval(self._io, script, keys, [*common, *args])

    def _new_id(self, limit: int) -> str:
        """A lease id unique across processes: ``"<limit>:<process token><serial>"``."""
        return f"{limit}:{self._token}{next(self._serial):x}"

    def _call(self, script: str, account: str, args: list[Any]) -> Steps[list[int]]:
        """One script round trip; remembers the account's epoch; the rest of the reply."""
        reply = yield self._eval(script, account, args)
        self._seen(account, reply[0])
        return [int(item) for item in reply[1:]]

    def _seen(self, account: str, epoch: bytes) -> None:
        with self._state_lock:
            self._epochs[account] = epoch.decode()
            self._down_until = 0.0
            self._warned = False  # the next outage warns again

    def _renew_sync(self, account: str, ids: list[str]) -> int:
        op = self._eval("renew", account, ids)
        reply = op.run()
        self._seen(account, reply[0])
        return int(reply[1])

    def _reclaimed(self, count: int) -> None:
        self._count(reclaimed=count)

    def _failed(self, exc: BaseException) -> None:
        with self._state_lock:
            self._down_until = time.monotonic() + _BREAKER
            self._last_error = exc

    # -- acquire ---------------------------------------------------------------------------
    def _acquire(
        self, account: str, limit: int, timeout: float | None, new_waiter: NewWaiter
    ) -> Steps[object]:
        deadline = deadline_after(timeout)
        local: object = self._local._take_now(account, limit)
        queued = local is None
        if local is None:  # this process alone already has ``limit`` requests out
            local = yield from self._local._acquire(account, limit, timeout, new_waiter)
        ask = _Ask(account, self._new_id(limit), limit, timeout, deadline, new_waiter)
        try:
            remote, waited = yield from self._remote(ask)
        except BaseException:
            self._local._release(local)
            raise
        self._renewer.hold(account, ask.lease_id)  # a fallback slot: registered once Redis is back
        self._count(acquired=1, waited=int(queued or waited), fallbacks=int(not remote))
        return _Lease(account, ask.lease_id, local, remote)

    def _remote(self, ask: _Ask) -> Steps[tuple[bool, bool]]:
        """(granted by Redis, had to queue); (False, False) for a fallback, or the error."""
        error: BaseException | None = None
        if time.monotonic() < self._down_until:  # Redis failed a moment ago: do not wait on it
            error = self._last_error
        else:
            try:
                queued = yield from self._wait(ask)
            except redis_errors() as exc:
                self._failed(exc)
                error = exc
            else:
                return True, queued
        self._unreachable(error, warn=not self._warned)  # warn once per outage
        return False, False

    def _wait(self, ask: _Ask) -> Steps[bool]:
        """Ask until granted; True when it had to queue."""
        waiter: Waiter | None = None
        try:
            while True:
                args = [ask.lease_id, ask.limit]
                granted, hint_ms = yield from self._call("acquire", ask.account, args)
                if granted:
                    return waiter is not None
                if waiter is None:  # watch first, then ask again: no grant can slip past
                    waiter = ask.new_waiter()
                    self._listener.watch(ask.lease_id, waiter)
                    continue
                left = seconds_left(ask.deadline)
                if left is not None and left <= 0:
                    self._count(timed_out=1)
                    raise queue_full(ask.limit, ask.timeout)
                yield Park(waiter, min(hint_ms / 1000, self._check_every, left or float("inf")))
                if waiter.granted:  # the release's script granted it and published our id
                    return True
                waiter.rearm()
        except GeneratorExit:
            raise
        except BaseException as exc:
            if isinstance(exc, redis_errors()):
                raise  # Redis is down: giving the ticket back would fail too (it expires)
            # Cancelled or timed out: whatever the last call did (queued us, or granted us a
            # slot we will not use), give it back.
            yield from self._give_back(ask.account, ask.lease_id)
            raise
        finally:
            if waiter is not None:
                self._listener.unwatch(ask.lease_id)

    def _give_back(self, account: str, lease_id: str) -> Steps[None]:
        """Leave the queue, and free the slot if one was granted meanwhile (best effort)."""
        try:
            yield from self._call("release", account, [lease_id])
        except redis_errors():
            pass  # the ticket or lease expires on its own within the lease time

    def _unreachable(self, cause: BaseException | None, *, warn: bool) -> None:
        """Redis failed: raise the typed error, or (opted in) warn and go on locally."""
        what = type(cause).__name__ if cause is not None else "error"
        where = redact_url(self.url)
        if not self.fallback:
            raise LimiterUnavailableError(
                f"The shared in-flight limit's Redis ({where}) is unreachable ({what}); "
                "set in_flight_fallback=True to cap in this process meanwhile"
            ) from cause
        if warn:
            self._warned = True
            message = (
                f"Redis ({where}) is unreachable ({what}): ModelsLab requests are capped in "
                "this process only until it is back"
            )
            _log.warning("ModelsLab in-flight limit: %s", message)
            warnings.warn(message, InFlightFallbackWarning, stacklevel=2)

    # -- release ---------------------------------------------------------------------------
    def _release(self, lease: object) -> Steps[None] | None:
        assert isinstance(lease, _Lease)
        self._renewer.drop(lease.account, lease.id)
        self._local._release(lease.local)
        if not lease.remote and time.monotonic() < self._down_until:
            return None  # taken and given back while Redis is down: never registered there
        return self._release_remote(lease)

    def _release_remote(self, lease: _Lease) -> Steps[None]:
        try:
            yield from self._call("release", lease.account, [lease.id])
        except redis_errors() as exc:
            self._failed(exc)
            if lease.remote:
                self._count(release_errors=1)
                _log.warning(
                    "ModelsLab in-flight limit: could not release a slot in Redis (%s); its "
                    "lease expires within %gs",
                    type(exc).__name__,
                    self.lease,
                )

    def _after_fork(self) -> None:
        """In a forked child: the parent's leases, waiters, threads and sockets are not ours."""
        self._stats_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._token = uuid.uuid4().hex[:16]
        self._io.after_fork()
        self._listener.after_fork()
        self._renewer.after_fork()


_REDIS_LIMITERS: weakref.WeakSet[RedisLimiter] = weakref.WeakSet()
_SHARED: dict[tuple[Any, ...], RedisLimiter] = {}
_SHARED_LOCK = threading.Lock()


def shared_redis_limiter(
    url: str,
    *,
    lease: float = 30.0,
    fallback: bool = False,
    prefix: str = DEFAULT_PREFIX,
    redis_options: dict[str, Any] | None = None,
    retry_window: float = DEFAULT_RETRY_WINDOW,
) -> RedisLimiter:
    """The process-wide `RedisLimiter` with these settings (created on first use)."""
    options = dict(redis_options or {})
    settings = (float(lease), fallback, prefix, float(retry_window))
    key = (url, *settings, repr(sorted(options.items())))
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RedisLimiter(
                url,
                lease=lease,
                fallback=fallback,
                prefix=prefix,
                redis_options=options,
                retry_window=retry_window,
            )
        return limiter


def _unpickle(
    url: str,
    lease: float,
    fallback: bool,
    prefix: str,
    options: dict[str, Any],
    retry_window: float,
) -> RedisLimiter:
    return shared_redis_limiter(
        url,
        lease=lease,
        fallback=fallback,
        prefix=prefix,
        redis_options=options,
        retry_window=retry_window,
    )


def _reset_after_fork() -> None:
    global _SHARED_LOCK
    _SHARED_LOCK = threading.Lock()
    for limiter in list(_REDIS_LIMITERS):
        limiter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
