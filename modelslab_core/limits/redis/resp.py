"""The async hot path of the Redis limiter: one RESP connection per event loop.

A request's acquire and release are one ``EVALSHA`` each. Through redis-py's asyncio client
(connection pool, command wrapper, response callbacks) one costs ~190 us of wall time on
loopback here; written straight to an asyncio stream and read with hiredis's C parser, ~80 us.
This module speaks just what the limiter sends: ``AUTH``, ``SELECT``, ``SCRIPT LOAD``,
``EVALSHA``. Commands from the tasks of one loop take turns on the connection (a lock).

Failures look like redis-py's (``redis.exceptions.ConnectionError``/``TimeoutError``/
``ResponseError``), so the limiter judges them the same way. A stale connection (Redis
restarted) is reopened once; a flushed script cache is reloaded. A cancellation that lands
while a reply is awaited lets the reply arrive first (the connection stays in step, and the
caller, `Eval.arun`, reports the cancellation with what the command did).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Any

__all__ = ["RespConnection", "resp_connection_for"]

_READ = 65536


def _encode(args: tuple[Any, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespConnection:
    """One connection to Redis for the tasks of one event loop."""

    def __init__(self, params: dict[str, Any], timeout: float) -> None:
        import hiredis

        self._params = params
        self._timeout = timeout
        self._lock = asyncio.Lock()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._parser = hiredis.Reader()
        self._reply_error = hiredis.ReplyError
        self._timed_out = False

    async def evalsha(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """``EVALSHA`` of ``source`` (loaded first when Redis does not know it)."""
        sha = hashlib.sha1(source.encode()).hexdigest()
        async with self._lock:
            for attempt in range(2):
                try:
                    reply = await self._command("EVALSHA", sha, len(keys), *keys, *args)
                    if isinstance(reply, self._reply_error) and str(reply).startswith("NOSCRIPT"):
                        await self._command("SCRIPT", "LOAD", source)
                        reply = await self._command("EVALSHA", sha, len(keys), *keys, *args)
                    return self._checked(reply)
                except _redis_error("ConnectionError"):
                    self.close()
                    if attempt:
                        raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked(self, reply: Any) -> Any:
        if isinstance(reply, self._reply_error):
            raise _redis_error("ResponseError")(str(reply))
        return reply

    async def _command(self, *args: Any) -> Any:
        if self._writer is None:
            await self._open()
        assert self._writer is not None
        self._writer.write(_encode(args))
        return await self._reply()

    async def _open(self) -> None:
        params = self._params
        context = ssl.create_default_context() if params.get("ssl") else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(params["host"], params["port"], ssl=context),
                self._timeout,
            )
        except (OSError, asyncio.TimeoutError) as exc:
            raise _redis_error("ConnectionError")(f"Cannot connect to Redis: {exc}") from None
        self._reader, self._writer = reader, writer
        self._parser = type(self._parser)()
        try:
            for command in self._login(params):
                writer.write(_encode(command))
                self._checked(await self._reply())
        except BaseException:
            self.close()  # never left half logged in
            raise

    @staticmethod
    def _login(params: dict[str, Any]) -> list[tuple[Any, ...]]:
        commands: list[tuple[Any, ...]] = []
        if params.get("password") is not None:
            user = params.get("username")
            auth = ("AUTH", user, params["password"]) if user else ("AUTH", params["password"])
            commands.append(auth)
        if params.get("db"):
            commands.append(("SELECT", params["db"]))
        return commands

    async def _reply(self) -> Any:
        """The next reply. A cancellation meanwhile does not interrupt it: the command is on
        the wire, so its reply is read (the connection stays in step) and returned; the task
        stays cancelled, and `Eval.arun` raises once it has seen what the command did."""
        while True:
            reply = self._parser.gets()
            if reply is not False:
                return reply
            try:
                data = await self._read()
            except asyncio.CancelledError:
                continue
            self._parser.feed(data)

    async def _read(self) -> bytes:
        assert self._reader is not None
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self._timeout, self._expire)
        try:
            data = await self._reader.read(_READ)
        except OSError as exc:
            self.close()
            raise _redis_error("ConnectionError")(f"Redis connection lost: {exc}") from None
        finally:
            timer.cancel()
        if data:
            return data
        timed_out = self._timed_out
        self.close()
        if timed_out:
            raise _redis_error("TimeoutError")(f"Redis sent no reply within {self._timeout:g}s")
        raise _redis_error("ConnectionError")("Redis closed the connection")

    def _expire(self) -> None:
        self._timed_out = True
        if self._writer is not None:
            self._writer.transport.abort()

    def close(self) -> None:
        """Drop the connection (the next command opens a new one)."""
        writer, self._writer, self._reader = self._writer, None, None
        self._timed_out = False
        if writer is not None:
            writer.transport.abort()


def _redis_error(name: str) -> type[Exception]:
    """redis-py's exception class ``name`` (failures look like its client's)."""
    import redis.exceptions

    error: type[Exception] = getattr(redis.exceptions, name)
    return error


def resp_connection_for(url: str, timeout: float) -> RespConnection | None:
    """A connection for ``url``, or ``None`` when this path does not serve it (a Unix socket
    or options it does not speak; hiredis missing): then redis-py's client is used."""
    try:
        import hiredis  # noqa: F401
        from redis.connection import SSLConnection, parse_url
    except ImportError:
        return None
    params: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
    if "path" in params or "host" not in params:
        return None
    params["ssl"] = params.pop("connection_class", None) is SSLConnection
    if set(params) - {"host", "port", "db", "username", "password", "ssl"}:
        return None
    params.setdefault("port", 6379)
    return RespConnection(params, timeout)
