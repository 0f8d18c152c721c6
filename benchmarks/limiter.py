#!/usr/bin/env python3
"""Benchmark of the shared (Redis) in-flight limit against the in-process one (issues 12, 21).

    python benchmarks/limiter.py            # about a minute; `make bench-limiter`
    python benchmarks/limiter.py --quick    # fewer rounds and requests

Runs with the project's ``.venv`` (redis-py is in its dev group). It starts its own
``redis-server`` (``modelslab_core.testing.RedisServer``) and a small fixed-latency server in a
process of its own (``serve``: OpenAI-shaped JSON answers after ``--latency`` seconds, 429 with
ModelsLab's body past ``--cap`` requests in flight, ``GET /stats``). A request counts as in
flight from its arrival until its answer is ready, as on the service.

1. **Uncontended overhead.** One client sends requests one after another (nobody waits for a
   slot), with the in-process limiter and with the Redis one, in interleaved rounds; per
   request: wall and CPU time of the client process. Target: Redis minus in-process at most
   1 ms wall per request on loopback, sync and async (an LLM call takes seconds). The slot
   alone (enter + exit, no HTTP; sync and async) is measured the same way.
2. **Throughput.** 4 worker processes x 8 threads, one account with a cap of 5, a server that
   answers after 250 ms (an LLM answer takes seconds; 250 ms keeps the run short) and
   rejects past 5 in flight. With the Redis limiter (no retries, so any rejection shows): at
   least 0.9 x the theoretical 5 / latency, with 0 rejections. The contrast, each process
   capping itself at 5 (with retries): rejections and retries.

Every target prints PASS or FAIL (one it could not measure is a FAIL); the exit status is 1
when any fails. Ratios come from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "bench-key"
MODEL = "bench-model"
ANSWER = {
    "id": "gen-1",
    "object": "chat.completion",
    "created": 0,
    "model": MODEL,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


# --------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        server: Any = self.server
        with server.lock:
            self._send(200, dict(server.stats))

    def do_POST(self) -> None:
        server: Any = self.server
        self.rfile.read(int(self.headers.get("content-length") or 0))
        with server.lock:
            server.in_flight += 1
            server.stats["requests"] += 1
            server.stats["max_in_flight"] = max(server.stats["max_in_flight"], server.in_flight)
            rejected = server.cap and server.in_flight > server.cap
            server.stats["rejected"] += int(bool(rejected))
        # Out of the count once the answer is ready, before it is written. Counted until after
        # the write, the count lagged: the client had its answer and gave its slot back, and
        # the next request arrived before this thread decremented (6 counted in 2 of 10 runs
        # while the clients' slot spans, timed in the workers, never overlapped more than 5).
        status, body = (
            429,
            {"status": "error", "message": "Rate limit exceeded", "retry_after": 0.05},
        )
        try:
            if not rejected:
                if server.latency:
                    time.sleep(server.latency)
                status, body = 200, ANSWER
        finally:
            with server.lock:
                server.in_flight -= 1
        self._send(status, body)


def serve(port: int, latency: float, cap: int) -> None:
    """Serve until killed; print ``READY <port>`` once listening."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.lock, server.in_flight = threading.Lock(), 0
    server.latency, server.cap = latency, cap
    server.stats = {"requests": 0, "rejected": 0, "max_in_flight": 0}
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


class Server:
    """The fixed-latency server in a child process."""

    def __init__(self, latency: float, cap: int) -> None:
        args = [sys.executable, __file__, "serve", "--latency", str(latency), "--cap", str(cap)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("the benchmark server did not start")
        self.base_url = f"http://127.0.0.1:{line[1]}/api/v7/llm"

    def stats(self) -> dict[str, int]:
        import httpx

        return dict(httpx.get(self.base_url + "/stats").json())

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


# --------------------------------------------------------------------------- 1. overhead


def _request() -> Any:
    from modelslab_core import ChatRequest, Message

    return ChatRequest(model=MODEL, messages=[Message.text("user", "hi")])


def _timed(run: Callable[[], None], count: int, per: int = 1) -> tuple[float, float]:
    """(wall ms, CPU ms) per request: ``count`` calls of ``run``, each ``per`` requests."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        run()
    return (
        (time.perf_counter() - wall) * 1000 / (count * per),
        (time.process_time() - cpu) * 1000 / (count * per),
    )


def _sync_runner(base_url: str, backend: str) -> Callable[[int], tuple[float, float]]:
    from modelslab_core import ModelsLabClient

    client = ModelsLabClient(api_key=KEY, base_url=base_url, in_flight_backend=backend)
    request = _request()
    _timed(lambda: client.chat(request), 30)  # warm: connections, scripts, imports
    return lambda n: _timed(lambda: client.chat(request), n)


def _async_runner(base_url: str, backend: str) -> Callable[[int], tuple[float, float]]:
    from modelslab_core import AsyncModelsLabClient

    client = AsyncModelsLabClient(api_key=KEY, base_url=base_url, in_flight_backend=backend)
    request = _request()
    loop = asyncio.new_event_loop()

    async def many(n: int) -> None:
        for _ in range(n):
            await client.chat(request)

    def measure(n: int) -> tuple[float, float]:
        return _timed(lambda: loop.run_until_complete(many(n)), 1, per=n)

    measure(30)
    return measure


def _slot_runner(redis_url: str, backend: str) -> Callable[[int], tuple[float, float]]:
    from modelslab_core import RedisLimiter
    from modelslab_core.limits import process_limiter

    limiter = process_limiter() if backend == "local" else RedisLimiter(redis_url)

    def once() -> None:
        with limiter.slot("bench-account", 5):
            pass

    _timed(once, 50)
    return lambda n: _timed(once, n)


def _aslot_runner(redis_url: str, backend: str) -> Callable[[int], tuple[float, float]]:
    from modelslab_core import RedisLimiter
    from modelslab_core.limits import process_limiter

    limiter = process_limiter() if backend == "local" else RedisLimiter(redis_url)
    loop = asyncio.new_event_loop()

    async def many(n: int) -> None:
        for _ in range(n):
            async with limiter.slot("bench-account", 5):
                pass

    def measure(n: int) -> tuple[float, float]:
        return _timed(lambda: loop.run_until_complete(many(n)), 1, per=n)

    measure(50)
    return measure


def overhead(redis_url: str, rounds: int, count: int) -> dict[str, dict[str, float]]:
    """Per path: medians of (Redis - local) wall and CPU ms per request over paired rounds."""
    server = Server(latency=0.0, cap=0)
    try:
        paths = {
            "sync request": _sync_runner,
            "async request": _async_runner,
            "sync slot": _slot_runner,
            "async slot": _aslot_runner,
        }
        out: dict[str, dict[str, float]] = {}
        for name, make in paths.items():
            alone = name.endswith("slot")
            target = redis_url if alone else server.base_url
            runners = {b: make(target, b) for b in ("local", redis_url)}
            n = count * 5 if alone else count
            samples: dict[str, list[tuple[float, float]]] = {"local": [], "redis": []}
            for _ in range(rounds):
                samples["local"].append(runners["local"](n))
                samples["redis"].append(runners[redis_url](n))
            out[name] = _summary(samples)
        return out
    finally:
        server.close()


def _summary(samples: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    pairs = list(zip(samples["local"], samples["redis"], strict=True))
    return {
        "local_wall": statistics.median(s[0] for s in samples["local"]),
        "redis_wall": statistics.median(s[0] for s in samples["redis"]),
        "local_cpu": statistics.median(s[1] for s in samples["local"]),
        "redis_cpu": statistics.median(s[1] for s in samples["redis"]),
        "wall": statistics.median(r[0] - loc[0] for loc, r in pairs),
        "cpu": statistics.median(r[1] - loc[1] for loc, r in pairs),
    }


# --------------------------------------------------------------------------- 2. throughput


def _worker(
    base_url: str, backend: str, count: int, retries: int, go: Any, ready: Any, out: Any
) -> None:
    """A worker process: 8 threads share ``count`` requests once ``go`` is set."""
    from modelslab_core import APIError, ModelsLabClient, RateLimitError, RetryPolicy

    client = ModelsLabClient(
        api_key=KEY,
        base_url=base_url,
        in_flight_backend=backend,
        retry=RetryPolicy(max_retries=retries, initial_delay=0.05, max_delay=0.2),
    )
    request = _request()
    client.config.require_api_key()
    results: dict[str, int] = {"ok": 0, "rejected": 0, "failed": 0}
    lock = threading.Lock()

    def one(_: int) -> None:
        try:
            client.chat(request)
            kind = "ok"
        except RateLimitError:
            kind = "rejected"
        except APIError:
            kind = "failed"
        with lock:
            results[kind] += 1

    ready.put(os.getpid())
    go.wait()
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))
    out.put((started, time.time(), results))


def throughput(redis_url: str, backend: str, per_worker: int, latency: float) -> dict[str, Any]:
    """4 processes, account cap 5, a server answering after ``latency`` and rejecting past 5."""
    server = Server(latency=latency, cap=5)
    ctx = multiprocessing.get_context("spawn")
    go, ready, out = ctx.Event(), ctx.Queue(), ctx.Queue()
    retries = 0 if backend != "local" else 2
    args = (server.base_url, backend, per_worker, retries, go, ready, out)
    procs = [ctx.Process(target=_worker, args=args) for _ in range(4)]
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            ready.get(timeout=120)  # each has imported the package and built its client
        go.set()
        rows = [out.get(timeout=600) for _ in procs]
        stats = server.stats()
    finally:
        for proc in procs:
            proc.join(10)
        server.close()
    ok = sum(r[2]["ok"] for r in rows)
    seconds = max(r[1] for r in rows) - min(r[0] for r in rows)
    return {
        "ok": ok,
        "failed": sum(r[2]["rejected"] + r[2]["failed"] for r in rows),
        "seconds": seconds,
        "per_second": ok / seconds,
        "server_rejected": stats["rejected"],
        "server_requests": stats["requests"],
        "max_in_flight": stats["max_in_flight"],
    }


# --------------------------------------------------------------------------- report


def report(
    over: dict[str, dict[str, float]], shared: dict[str, Any], own: dict[str, Any], latency: float
) -> bool:
    """Print the results and the targets; True when all pass."""
    print("\n1. Uncontended overhead of the Redis limiter (median over paired rounds)")
    print(f"   {'path':<14} {'local wall':>11} {'redis wall':>11} {'+wall':>8} {'+CPU':>8}  (ms)")
    for name, row in over.items():
        print(
            f"   {name:<14} {row['local_wall']:11.3f} {row['redis_wall']:11.3f} "
            f"{row['wall']:8.3f} {row['cpu']:8.3f}"
        )
    ideal = 5 / latency
    print(f"\n2. Throughput: 4 processes x 8 threads, account cap 5, {latency * 1000:g} ms answers")
    for name, row in (("shared (Redis)", shared), ("per-process", own)):
        print(
            f"   {name:<15} {row['per_second']:7.1f} req/s = {row['per_second'] / ideal:.2f} x "
            f"{ideal:g}/s; answered {row['ok']}, failed {row['failed']}; server: "
            f"{row['server_requests']} requests, {row['server_rejected']} rejected (429), "
            f"{row['server_requests'] - row['ok'] - row['failed']} of them retried, "
            f"max {row['max_in_flight']} in flight"
        )
    checks = [
        (
            f"sync overhead {over['sync request']['wall']:.3f} ms <= 1 ms wall per request",
            over["sync request"]["wall"] <= 1.0,
        ),
        (
            f"async overhead {over['async request']['wall']:.3f} ms <= 1 ms wall per request",
            over["async request"]["wall"] <= 1.0,
        ),
        (
            f"shared-limit throughput {shared['per_second'] / ideal:.2f} x >= 0.9 x of 5/latency",
            shared["per_second"] >= 0.9 * ideal,
        ),
        (
            f"shared limit: {shared['server_rejected']} rejections == 0",
            shared["server_rejected"] == 0 and shared["failed"] == 0,
        ),
        (
            f"contrast: per-process caps got {own['server_rejected']} rejections > 0",
            own["server_rejected"] > 0,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark of the shared in-flight limit.")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "serve"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--cap", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"))
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.latency, args.cap)
        return 0
    from modelslab_core.testing import RedisServer

    rounds, count, per_worker = (5, 60, 30) if args.quick else (15, 100, 100)
    redis = None if args.redis_url else RedisServer().start()
    url = args.redis_url or redis.url  # type: ignore[union-attr]
    try:
        try:
            over = overhead(url, rounds, count)
            shared = throughput(url, url, per_worker, args.latency)
            own = throughput(url, "local", per_worker, args.latency)
        except Exception as exc:  # a target not measured is a failure
            print(f"FAIL  could not measure: {type(exc).__name__}: {exc}")
            return 1
        return 0 if report(over, shared, own, args.latency) else 1
    finally:
        if redis is not None:
            redis.close()


if __name__ == "__main__":
    sys.exit(main())
