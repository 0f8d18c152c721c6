"""A fast OpenAI- and Anthropic-compatible fake server for the benchmark (127.0.0.1 only).

Run as its own process: ``python fake_server.py [--port 0] [--cpu N]``. It prints
``READY <port>`` once listening. Every answer is precomputed bytes (see ``payloads.py``), so
per request the server only finds the end of the headers, the body length, the model name
and the stream flag. HTTP/1.1 keep-alive, one asyncio ``Protocol`` (uvloop when installed).

Routes: ``POST .../chat/completions`` and ``POST .../v1/messages`` (the model name picks the
answer), ``GET /stats`` (accepted connections, requests, the server's own CPU seconds).
Connections that only ask for ``/stats`` are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field

import payloads

_CLEN = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.IGNORECASE)
_MODEL = re.compile(rb'"model"\s*:\s*"([^"]*)"')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 58\r\n\r\n"
    b'{"error":{"message":"unknown route","type":"not_found"}}\r\n'
)


@dataclass
class Stats:
    """What ``/stats`` reports."""

    connections: int = 0
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def snapshot(self) -> bytes:
        """The stats as a JSON HTTP response (with the server's CPU seconds so far)."""
        data = asdict(self)
        data["cpu_s"] = time.process_time()
        data["wall_s"] = time.time() - self.started
        body = json.dumps(data).encode()
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: %d\r\n\r\n" % len(body) + body
        )


STATS = Stats()
_CACHE: dict[tuple[str, bytes, bool], bytes | None] = {}


def _answer(dialect: str, body: bytes) -> bytes:
    """The precomputed response for a chat request body (cached per variant)."""
    m = _MODEL.search(body)
    model = m.group(1) if m else b""
    key = (dialect, model, _STREAM.search(body) is not None)
    resp = _CACHE.get(key)
    if resp is None and key not in _CACHE:
        resp = _CACHE[key] = payloads.response_bytes(dialect, model.decode(), key[2])
    return resp if resp is not None else _NOT_FOUND


class BenchProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.head_end = -1
        self.total = -1
        self.served = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection."""
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport
        STATS.connections += 1

    def data_received(self, data: bytes) -> None:
        """Buffer bytes; answer each complete request."""
        self.buf += data
        while self._parse_one():
            pass

    def _parse_one(self) -> bool:
        if self.head_end < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            self.head_end = end
            m = _CLEN.search(self.buf, 0, end + 2)
            self.total = end + 4 + (int(m.group(1)) if m else 0)
        if len(self.buf) < self.total:
            return False
        head = bytes(self.buf[: self.head_end])
        body = bytes(self.buf[self.head_end + 4 : self.total])
        del self.buf[: self.total]
        self.head_end = self.total = -1
        self._respond(head, body)
        return True

    def _respond(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        line_end = head.find(b"\r\n")
        parts = head[: line_end if line_end >= 0 else len(head)].split(b" ")
        path = parts[1] if len(parts) > 1 else b"/"
        if path.endswith(b"/stats"):
            if self.served == 0:
                STATS.connections -= 1
            self.transport.write(STATS.snapshot())
            self.transport.close()
            return
        STATS.requests += 1
        self.served += 1
        if path.endswith(b"/chat/completions"):
            route, resp = "openai", _answer("openai", body)
        elif path.endswith(b"/v1/messages"):
            route, resp = "anthropic", _answer("anthropic", body)
        else:
            route, resp = "other", _NOT_FOUND
        STATS.by_route[route] = STATS.by_route.get(route, 0) + 1
        self.transport.write(resp)
        if _CLOSE.search(head):
            self.transport.close()


def _pin(cpu: int | None) -> str:
    """Pin this process to one CPU when asked and possible; say what happened."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return "unpinned"
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        return f"unpinned ({exc})"
    return f"cpu{cpu}"


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:``port`` and report the bound port on stdout."""
    for model in payloads.VARIANTS:  # precompute outside any timed window
        for dialect in ("openai", "anthropic"):
            for stream in (False, True):
                _answer(
                    dialect,
                    b'"model":"%s","stream":%s' % (model.encode(), b"true" if stream else b"false"),
                )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(BenchProtocol, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Parse arguments, pin, and serve until killed."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cpu", type=int, default=None)
    args = ap.parse_args()
    where = _pin(args.cpu)
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        runner = uvloop.run
        kind = "uvloop"
    except ImportError:
        runner = asyncio.run
        kind = "asyncio"
    print(f"fake server: {kind}, {where}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.port))


if __name__ == "__main__":
    main()
