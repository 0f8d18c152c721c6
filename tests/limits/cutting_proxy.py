"""A TCP proxy on 127.0.0.1 that cuts a fraction of a server's replies with a reset.

Test support for the Redis limiter: clients connect to the proxy, the proxy to Redis. Bytes
from the client pass untouched; each chunk Redis sends back (one reply, with this request and
response traffic) is cut with probability ``cut``: half of it is forwarded, then the client's
connection is reset (``SO_LINGER`` 0: an RST, not a clean close) and Redis' side is closed. So
the command ran in Redis and the client lost its reply, the case a retry must survive.
``first_replies=n`` also cuts the first reply of each of the first ``n`` connections (the
reply to a new connection's handshake).
The proxy runs an event loop in a thread of its own; the seeded generator makes runs alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from typing import Any

__all__ = ["CuttingProxy"]


class CuttingProxy:
    """``with CuttingProxy(redis_port, cut=0.04) as proxy:`` serves ``proxy.url``."""

    def __init__(
        self, upstream_port: int, cut: float, seed: int = 21, first_replies: int = 0
    ) -> None:
        self.upstream_port, self.cut, self.first_replies = upstream_port, cut, first_replies
        self.connections = 0
        self.replies = 0
        """Chunks Redis sent back through the proxy."""
        self.cuts = 0
        """Of those, how many were cut (half sent, then a reset)."""
        self._rng = random.Random(seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` of the proxy."""
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        self.port = int(server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _serve(self) -> asyncio.AbstractServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self._server

    async def _close(self) -> None:
        """Stop accepting, drop every connection, and let the handlers end by themselves."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self._open.add(client_w)
        try:
            redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:  # Redis is down: the client sees its connection closed
            self._done(handler, client_w)
            return
        self._open.add(redis_w)
        self.connections += 1
        cut_first = self.connections <= self.first_replies
        up = asyncio.ensure_future(_pump(client_r, redis_w))
        down = asyncio.ensure_future(self._replies(redis_r, client_w, cut_first))
        await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        self._done(handler, client_w, redis_w)

    def _done(self, handler: asyncio.Task[None], *writers: asyncio.StreamWriter) -> None:
        for writer in writers:
            writer.close()
            self._open.discard(writer)
        self._handlers.discard(handler)

    async def _replies(
        self, redis_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, cut_first: bool
    ) -> None:
        with contextlib.suppress(OSError):
            await self._forward(redis_r, client_w, cut_first)

    async def _forward(
        self, redis_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, cut_first: bool
    ) -> None:
        while data := await redis_r.read(65536):
            self.replies += 1
            if not cut_first and self._rng.random() >= self.cut:
                client_w.write(data)
                await client_w.drain()
                continue
            self.cuts += 1
            client_w.write(data[: len(data) // 2])
            await _flushed(client_w)
            _reset(client_w)
            return


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


async def _flushed(writer: asyncio.StreamWriter) -> None:
    """Until the transport has handed every byte to the kernel (an abort drops the rest)."""
    writer.transport.set_write_buffer_limits(high=0)
    await writer.drain()  # returns once the buffer is empty (its high-water mark is 0)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (what a dropped connection looks like), not a FIN."""
    sock: Any = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
