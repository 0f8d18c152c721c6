"""Connections of the Redis limiter: one blocking client, one asyncio client per event loop.

redis-py is imported here, lazily: a process that never names a Redis never imports it. Every
command is bounded (connect and socket timeouts, one immediate retry for a connection that a
restart left stale), so a dead Redis is an error within seconds, never a hang.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable
from typing import TYPE_CHECKING, Any

from ..waiting import Op
from .resp import RespConnection, resp_connection_for
from .scripts import ACQUIRE, RELEASE, RENEW, redact_url

if TYPE_CHECKING:
    import redis
    import redis.asyncio
    from redis.commands.core import AsyncScript, Script

__all__ = ["SCRIPTS", "Eval", "RedisIO", "redis_errors", "require_redis"]

SCRIPTS = {"acquire": ACQUIRE, "release": RELEASE, "renew": RENEW}
_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}


def require_redis() -> None:
    """A clear error when redis-py is missing (before any request)."""
    if importlib.util.find_spec("redis") is None:
        raise ImportError(
            "A Redis in-flight limit needs redis-py: pip install 'modelslab-integrations[redis]'"
        )


@functools.cache
def _no_script() -> type[Exception]:
    from redis.exceptions import NoScriptError

    return NoScriptError


@functools.cache
def _connection_errors() -> tuple[type[Exception], ...]:
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, OSError)


@functools.cache
def redis_errors() -> tuple[type[Exception], ...]:
    """What a failing Redis raises (connection loss, timeouts, server errors)."""
    import redis.exceptions

    return (redis.exceptions.RedisError, OSError)


def _sync_options() -> dict[str, Any]:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {**_TIMEOUTS, "retry": Retry(NoBackoff(), 1)}


def _async_options() -> dict[str, Any]:
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return {**_TIMEOUTS, "retry": Retry(NoBackoff(), 1)}


async def _closed_with_loop(
    client: redis.asyncio.Redis | RespConnection,
) -> AsyncGenerator[None, None]:
    """Parked at its ``yield``; the loop's ``shutdown_asyncgens()`` closes the client."""
    try:
        yield
    finally:
        if isinstance(client, RespConnection):
            client.close()
        else:
            await client.aclose()


class RedisIO:
    """The clients and loaded scripts of one Redis URL in this process."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        require_redis()
        self.url = url
        self.options = dict(options)
        self._lock = threading.Lock()
        self._sync: redis.Redis | None = None
        self._sync_scripts: dict[str, Script] = {}
        self._threads = threading.local()
        self._thread_conns: weakref.WeakSet[Any] = weakref.WeakSet()
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, dict[str, AsyncScript]]
        ] = weakref.WeakKeyDictionary()
        self._resp: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RespConnection | None] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"RedisIO({redact_url(self.url)!r})"

    def client(self) -> redis.Redis:
        """The blocking client (thread-safe; a pool of connections)."""
        with self._lock:
            if self._sync is None:
                import redis

                self._sync = redis.Redis.from_url(self.url, **{**_sync_options(), **self.options})
                self._sync_scripts = {
                    name: self._sync.register_script(src) for name, src in SCRIPTS.items()
                }
            return self._sync

    def call(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of `SCRIPTS`, blocking, on this thread's own connection.

        A request's acquire and release are the hot path: a connection held by the thread
        skips the pool and the command wrapper (about 100 us of CPU per call). A stale
        connection (Redis restarted) is reconnected once; a flushed script cache is reloaded.
        """
        conn = self._thread_connection()
        sha = self._sync_scripts[script].sha
        for attempt in range(2):
            try:
                conn.send_command("EVALSHA", sha, len(keys), *keys, *args)
                return conn.read_response()
            except _no_script():
                conn.send_command("SCRIPT", "LOAD", SCRIPTS[script])
                conn.read_response()
            except _connection_errors():
                conn.disconnect()
                if attempt:
                    raise
        return self._sync_scripts[script](keys=keys, args=args)  # pragma: no cover

    def _thread_connection(self) -> Any:
        conn = getattr(self._threads, "conn", None)
        if conn is None or getattr(conn, "pid", None) != os.getpid():
            conn = self.client().connection_pool.make_connection()
            self._threads.conn = conn
            self._thread_conns.add(conn)
        return conn

    async def acall(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of `SCRIPTS` on this loop's connection (`_redis_resp`: the hot path), or
        through redis-py's asyncio client for what that connection does not serve."""
        conn = await self._loop_resp()
        if conn is not None:
            return await conn.evalsha(SCRIPTS[script], keys, args)
        scripts = await self._loop_scripts()
        return await scripts[script](keys=keys, args=args)

    async def _loop_resp(self) -> RespConnection | None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if loop in self._resp:
                return self._resp[loop]
            # redis-py options of the user's own (TLS settings, ...): keep redis-py's client.
            plain = not self.options
            conn = resp_connection_for(self.url, _TIMEOUTS["socket_timeout"]) if plain else None
            self._resp[loop] = conn
        if conn is not None:
            closer = _closed_with_loop(conn)
            await closer.__anext__()
        return conn

    async def _loop_scripts(self) -> dict[str, AsyncScript]:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._loops.get(loop)
        if entry is not None:
            return entry[1]
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(self.url, **{**_async_options(), **self.options})
        scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}
        with self._lock:
            self._loops[loop] = (client, scripts)
        closer = _closed_with_loop(client)
        await closer.__anext__()
        return scripts

    def close(self) -> None:
        """Close the blocking client (asyncio clients close with their loops)."""
        with self._lock:
            client = self._sync
            self._sync = None
        for conn in list(self._thread_conns):
            conn.disconnect()
        if client is not None:
            client.close()

    def after_fork(self) -> None:
        """In a forked child: the parent's sockets are not ours; reconnect on demand."""
        self._lock = threading.Lock()
        self._sync = None
        self._threads = threading.local()
        self._thread_conns = weakref.WeakSet()
        self._loops = weakref.WeakKeyDictionary()
        self._resp = weakref.WeakKeyDictionary()


class Eval(Op):
    """One script round trip, blocking or awaited."""

    __slots__ = ("args", "io", "keys", "script")

    def __init__(self, io: RedisIO, script: str, keys: list[str], args: list[Any]) -> None:
        self.io, self.script, self.keys, self.args = io, script, keys, args

    def run(self) -> Any:
        return self.io.call(self.script, self.keys, self.args)

    async def arun(self) -> Any:
        # redis.asyncio can swallow a cancellation that lands mid-command (redis-py #2028,
        # #2551): such a cancellation is raised here, once the round trip has ended, so the
        # steps clean up in order (give back whatever the call got).
        task = asyncio.current_task()
        if task is None or not hasattr(task, "cancelling"):  # Python 3.10
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
