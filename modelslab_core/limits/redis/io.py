"""The limiter's Redis clients: redis-py's blocking client, and one asyncio client per loop.

redis-py is imported here, lazily: a process that never names a Redis never imports it. The
scripts run as redis-py `Script` objects (``EVALSHA``, reloaded after a ``NOSCRIPT``), through
redis-py's pool, command layer and hiredis parser; nothing of the protocol is ours. Every
command is bounded: connect and socket timeouts of 2 s, and a failed command is retried with
backoff until the retry window has passed (`retry.WindowRetry`: a reply cut by a reset or a
Redis restarted within the window costs no call; safe because the scripts are idempotent).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import sys
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING, Any

from ..waiting import Op
from .scripts import ACQUIRE, RELEASE, RENEW, redact_url

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from redis.commands.core import AsyncScript, Script

__all__ = ["DEFAULT_RETRY_WINDOW", "SCRIPTS", "Eval", "RedisIO", "redis_errors", "require_redis"]

SCRIPTS = {"acquire": ACQUIRE, "release": RELEASE, "renew": RENEW}
DEFAULT_RETRY_WINDOW = 2.0
"""Seconds during which a command that failed on a connection error or timeout is retried."""
_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}


def require_redis() -> None:
    """A clear error when redis-py is missing (before any request)."""
    if importlib.util.find_spec("redis") is None:
        raise ImportError(
            "A Redis in-flight limit needs redis-py: pip install 'modelslab-integrations[redis]'"
        )


_IMPORT_LOCK = threading.Lock()


def _import_redis() -> None:
    """Import redis-py's blocking and asyncio clients and our retry policy, one thread at a
    time: two threads importing ``redis.asyncio`` through different submodules at once can
    meet Python's import deadlock detection (``_DeadlockError``, seen with four processes of
    threads and event loops starting together)."""
    with _IMPORT_LOCK:
        import redis.asyncio  # noqa: F401 - loaded here, once, for every later use

        from . import retry  # noqa: F401


@functools.cache
def redis_errors() -> tuple[type[Exception], ...]:
    """What a failing Redis raises (connection loss, timeouts, server errors)."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError)


async def _closed_with_loop(client: redis.asyncio.Redis) -> AsyncGenerator[None, None]:
    """Parked at its ``yield``; the loop's ``shutdown_asyncgens()`` closes the client."""
    try:
        yield
    finally:
        await client.aclose()


class RedisIO:
    """The clients and registered scripts of one Redis URL in this process."""

    def __init__(
        self, url: str, options: dict[str, Any], retry_window: float = DEFAULT_RETRY_WINDOW
    ) -> None:
        require_redis()
        _import_redis()
        self.url = url
        self.options = dict(options)
        self.retry_window = retry_window
        self._lock = threading.Lock()
        self._sync: tuple[redis.Redis, dict[str, Script]] | None = None
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, AsyncScript]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"RedisIO({redact_url(self.url)!r})"

    def _options(self, *, asynchronous: bool) -> dict[str, Any]:
        """Timeouts and the retry policy, then the user's own ``redis_options`` (they win)."""
        from .retry import retry_options

        return {
            **_TIMEOUTS,
            **retry_options(self.retry_window, asynchronous=asynchronous),
            **self.options,
        }

    def client(self) -> redis.Redis:
        """The blocking client (thread-safe; a pool of connections)."""
        return self._blocking()[0]

    def _blocking(self) -> tuple[redis.Redis, dict[str, Script]]:
        with self._lock:
            if self._sync is None:
                import redis

                client = redis.Redis.from_url(self.url, **self._options(asynchronous=False))
                scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
                self._sync = (client, scripts)
            return self._sync

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of `SCRIPTS`, blocking."""
        scripts = (self._sync or self._blocking())[1]
        return scripts[script](keys=keys, args=args)

    async def acall(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of `SCRIPTS` on this event loop's client."""
        scripts = self._loops.get(asyncio.get_running_loop())
        if scripts is None:
            scripts = await self._loop_scripts()
        return await scripts[script](keys=keys, args=args)

    async def _loop_scripts(self) -> dict[str, AsyncScript]:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url, **self._options(asynchronous=True))
        scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        with self._lock:
            self._loops[asyncio.get_running_loop()] = scripts
        closer = _closed_with_loop(client)
        await closer.__anext__()
        return scripts

    def close(self) -> None:
        """Close the blocking client (asyncio clients close with their loops)."""
        with self._lock:
            state, self._sync = self._sync, None
        if state is not None:
            state[0].close()

    def after_fork(self) -> None:
        """In a forked child: the parent's sockets are not ours; reconnect on demand."""
        self._lock = threading.Lock()
        self._sync = None
        self._loops = weakref.WeakKeyDictionary()


class Eval(Op):
    """One script round trip, blocking or awaited."""

    __slots__ = ("args", "io", "keys", "script")

    def __init__(self, io: RedisIO, script: str, keys: list[str], args: list[Any]) -> None:
        self.io, self.script, self.keys, self.args = io, script, keys, args

    def run(self) -> Any:
        return self.io.call(self.script, self.keys, self.args)

    async def arun(self) -> Any:
        # redis.asyncio can swallow a cancellation that lands mid-command (redis-py #2028,
        # #2551; still so in 8.2: `test_a_swallowed_cancellation_is_raised_after_the_call`
        # fails without this): such a cancellation is raised here, once the round trip has
        # ended, so the steps clean up in order (give back whatever the call got).
        task = asyncio.current_task()
        if task is None or sys.version_info < (3, 11):
            # 3.10 has no Task.cancelling(); a backported one (pytest-asyncio's runner) also
            # counts the cancels that async_timeout makes and absorbs inside redis-py
            return await _shielded(self.io.acall(self.script, self.keys, self.args))
        requested = task.cancelling()
        result = await self.io.acall(self.script, self.keys, self.args)
        if task.cancelling() > requested:
            raise asyncio.CancelledError
        return result


async def _shielded(call: Awaitable[Any]) -> Any:
    """Await ``call`` in a task of its own: a cancellation reaches us after it has ended."""
    inner = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        await asyncio.wait((inner,))
        if not inner.cancelled():
            inner.exception()  # retrieved: the cancellation is what we report
        raise
