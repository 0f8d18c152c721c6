"""The fake server's own headroom: a raw-socket client that does almost nothing per request.

    python probe.py --port PORT [--cpu N] [--seconds S]

Sends keep-alive requests over one socket and reads exactly the known response length, so
nearly all the time is the server's. Prints ``RESULT {json}`` with the achieved rates and
the server's CPU per request (from ``/stats``): its capacity on one core is 1 / that.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import time
from typing import Any

import payloads


def _stats(port: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/stats", headers={"connection": "close"})
    data = json.loads(conn.getresponse().read())
    conn.close()
    return dict(data)


def _request(path: str, model: str, stream: bool) -> bytes:
    body = json.dumps(
        {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    )
    head = f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body.encode()


def blast(port: int, model: str, stream: bool, seconds: float) -> dict[str, Any]:
    """Sequential requests for ``seconds``: requests/s and server CPU µs per request."""
    req = _request("/api/v7/llm/chat/completions", model, stream)
    want = len(payloads.response_bytes("openai", model, stream) or b"")
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s0 = _stats(port)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sock.sendall(req)
        got = 0
        while got < want:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            got += len(chunk)
        n += 1
    wall = time.perf_counter() - t0
    s1 = _stats(port)
    sock.close()
    server_cpu = s1["cpu_s"] - s0["cpu_s"]
    return {
        "model": model,
        "stream": stream,
        "requests": n,
        "req_per_s": n / wall,
        "server_cpu_us_per_req": 1e6 * server_cpu / n,
        "server_capacity_per_s": n / server_cpu if server_cpu else None,
        "server_busy_frac": server_cpu / wall,
    }


def main() -> None:
    """Probe a non-streamed call and a 1,000-chunk stream; print ``RESULT {json}``."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    out = {
        "call": blast(args.port, "bench-call", False, args.seconds),
        "stream_1k": blast(args.port, "bench-s1k", True, args.seconds),
    }
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
