"""Scenario suites for one client, run in its own process; prints one ``RESULT {json}`` line.

    python clients.py SUITE --client NAME --port PORT [--quick] [--cpu N]

Suites: ``perf`` (sync/async call, sync/async 1,000-chunk stream, streamed tool call,
abatch on httpx and on the aiohttp transport), ``encoding`` (histories of 10 to 10,000
messages), ``memory`` (peak RSS of one streamed answer, ``--model`` picks its size),
``profile`` (pyinstrument over one scenario, ``--scenario``). CPU is ``time.process_time()``
of this process; connections and server CPU come from the fake server's ``/stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import json
import os
import resource
import statistics
import time
import traceback
from collections.abc import Callable
from typing import Any

import payloads
from runners import Runner, SkipClient, close_aiohttp_clients, make_runner

PORT = 0
EXPECTED = {m: len(payloads.text_of(v)) for m, v in payloads.VARIANTS.items()}


def server_stats() -> dict[str, Any]:
    """The fake server's counters (over a connection of its own, not counted)."""
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
    conn.request("GET", "/stats", headers={"connection": "close"})
    data = json.loads(conn.getresponse().read())
    conn.close()
    return dict(data)


class Window:
    """Measures one window: wall, CPU, server connections, requests and CPU."""

    def __enter__(self) -> Window:
        # The same for every client: start each window with the cyclic GC's generations
        # empty, so that a full collection owed by the imports (langchain-core, llama-index)
        # does not land in whichever scenario happens to run first.
        gc.collect()
        self.s0 = server_stats()
        self.c0, self.t0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu = time.process_time() - self.c0
        self.wall = time.perf_counter() - self.t0
        s1 = server_stats()
        self.conns = s1["connections"] - self.s0["connections"]
        self.requests = s1["requests"] - self.s0["requests"]
        self.server_cpu = s1["cpu_s"] - self.s0["cpu_s"]

    def summary(self, ops: int) -> dict[str, Any]:
        """Per-operation figures for ``ops`` operations in this window."""
        return {
            "ops": ops,
            "wall_ms": 1e3 * self.wall / ops,
            "cpu_ms": 1e3 * self.cpu / ops,
            "new_conns_per_op": self.conns / ops,
            "server_cpu_frac": self.server_cpu / self.wall if self.wall else 0.0,
            "server_cpu_ms_per_op": 1e3 * self.server_cpu / ops,
        }


def check(got: Any, want: Any, what: str) -> None:
    """Fail loudly when a client decoded something else than what was served."""
    if got != want:
        raise AssertionError(f"{what}: got {str(got)[:120]!r}, want {str(want)[:120]!r}")


def bench_calls(fn: Callable[[], str], n: int, warm: int) -> dict[str, Any]:
    """``n`` sequential sync calls after ``warm`` unmeasured ones."""
    want = payloads.text_of(payloads.VARIANTS["bench-call"])
    for _ in range(warm):
        check(fn(), want, "call")
    with Window() as w:
        for _ in range(n):
            fn()
    return w.summary(n)


async def abench_calls(fn: Callable[[], Any], n: int, warm: int) -> dict[str, Any]:
    """``n`` sequential async calls after ``warm`` unmeasured ones."""
    want = payloads.text_of(payloads.VARIANTS["bench-call"])
    for _ in range(warm):
        check(await fn(), want, "acall")
    with Window() as w:
        for _ in range(n):
            await fn()
    return w.summary(n)


def _stream_summary(w: Window, n: int, ttfc: list[float], chunks: int) -> dict[str, Any]:
    out = w.summary(n)
    out["ttfc_ms"] = 1e3 * statistics.median(ttfc)
    out["chunks_per_s"] = chunks * n / w.wall
    out["chunks_per_cpu_s"] = chunks * n / w.cpu
    out["cpu_us_per_chunk"] = 1e6 * w.cpu / (chunks * n)
    return out


def bench_stream(r: Runner, model: str, n: int, warm: int) -> dict[str, Any]:
    """``n`` sync streams of ``model``: chunks/s, time to first chunk, connections."""
    ttfc: list[float] = []
    for i in range(warm + n):
        if i == warm:
            w = Window().__enter__()
        t0 = time.perf_counter()
        first, total = 0.0, 0
        for piece in r.stream(model):
            if not first and piece:
                first = time.perf_counter()
            total += len(piece)
        check(total, EXPECTED[model], f"{model} text length")
        if i >= warm:
            ttfc.append(first - t0)
    w.__exit__()
    return _stream_summary(w, n, ttfc, payloads.VARIANTS[model].chunks)


async def abench_stream(
    r: Runner, model: str, n: int, warm: int, aiohttp: bool = False
) -> dict[str, Any]:
    """The async twin of `bench_stream`."""
    ttfc: list[float] = []
    for i in range(warm + n):
        if i == warm:
            w = Window().__enter__()
        t0 = time.perf_counter()
        first, total = 0.0, 0
        async for piece in r.astream(model, aiohttp):
            if not first and piece:
                first = time.perf_counter()
            total += len(piece)
        check(total, EXPECTED[model], f"{model} text length")
        if i >= warm:
            ttfc.append(first - t0)
    w.__exit__()
    return _stream_summary(w, n, ttfc, payloads.VARIANTS[model].chunks)


def bench_tool(r: Runner, n: int, warm: int) -> dict[str, Any]:
    """``n`` streamed tool calls, each checked for the exact arguments."""
    for _ in range(warm):
        check(r.tool(), payloads.TOOL_ARGS, "tool arguments")
    with Window() as w:
        for _ in range(n):
            r.tool()
    return w.summary(n)


async def abench_batch(r: Runner, n: int, conc: int, reps: int, aiohttp: bool) -> dict[str, Any]:
    """``reps`` batches of ``n`` prompts at ``conc`` in flight (after a warm-up batch)."""
    want = payloads.text_of(payloads.VARIANTS["bench-call"])
    out = await r.abatch(conc, conc, aiohttp)
    check(out, [want] * conc, "abatch answers")
    with Window() as w:
        for _ in range(reps):
            await r.abatch(n, conc, aiohttp)
    res = w.summary(n * reps)
    res["req_per_s"] = n * reps / w.wall
    res["req_per_cpu_s"] = n * reps / w.cpu
    return res


def _guard(results: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    try:
        results[name] = fn()
    except SkipClient as exc:
        results[name] = {"skipped": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}


async def _aguard(results: dict[str, Any], name: str, coro: Any) -> None:
    try:
        results[name] = await coro
    except SkipClient as exc:
        results[name] = {"skipped": str(exc)}
    except Exception as exc:
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}


def suite_perf(r: Runner, quick: bool) -> dict[str, Any]:
    """Every throughput/latency scenario, sync first, then all async ones in one loop."""
    calls, streams, tools, batches = (60, 3, 25, 1) if quick else (200, 8, 80, 2)
    res: dict[str, Any] = {}
    _guard(res, "call", lambda: bench_calls(r.call, calls, 15))
    _guard(res, "stream", lambda: bench_stream(r, "bench-s1k", streams, 1))
    _guard(res, "tool", lambda: bench_tool(r, tools, 5))

    async def run_async() -> None:
        await _aguard(res, "acall", abench_calls(r.acall, calls, 15))
        await _aguard(res, "astream", abench_stream(r, "bench-s1k", streams, 1))
        await _aguard(res, "astream_aiohttp", abench_stream(r, "bench-s1k", streams, 1, True))
        await _aguard(res, "abatch", abench_batch(r, 200, 50, batches, aiohttp=False))
        await _aguard(res, "abatch_aiohttp", abench_batch(r, 200, 50, batches, aiohttp=True))
        await close_aiohttp_clients()

    asyncio.run(run_async())
    return res


HISTORY_SIZES = (10, 100, 1_000, 10_000)


def suite_encoding(r: Runner, quick: bool) -> dict[str, Any]:
    """Calls with a history of each size: median time and time per message.

    Every size is measured at least three times (a median of one sample is that sample), and
    each call starts with the GC's generations empty, as every other window does: the objects
    the benchmark itself built for the history (tens of thousands at 10,000 messages) must
    not push a full collection of the whole process into the call being measured."""
    res: dict[str, Any] = {}
    r.call_history(r.make_history(HISTORY_SIZES[0]))  # warm-up
    for size in HISTORY_SIZES:
        history = r.make_history(size)
        reps = max(3, 3000 // size) if quick else max(5, 10_000 // size)
        walls, cpus = [], []
        for _ in range(reps):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            r.call_history(history)
            cpus.append(time.process_time() - c0)
            walls.append(time.perf_counter() - t0)
        res[str(size)] = {
            "reps": reps,
            "wall_ms": 1e3 * statistics.median(walls),
            "cpu_ms": 1e3 * statistics.median(cpus),
            "cpu_us_per_msg": 1e6 * statistics.median(cpus) / size,
        }
    return res


def rss_mb() -> float:
    """Current resident set size, in MB (from /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def suite_memory(r: Runner, model: str) -> dict[str, Any]:
    """Peak RSS of one sync stream of ``model`` in this fresh process."""
    before = rss_mb()
    t0 = time.perf_counter()
    total = 0
    for piece in r.stream(model):
        total += len(piece)
    check(total, EXPECTED[model], f"{model} text length")
    return {
        "model": model,
        "rss_before_mb": before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_s": time.perf_counter() - t0,
    }


async def _batch_closing(r: Runner) -> dict[str, Any]:
    try:
        return await abench_batch(r, 200, 50, 3, aiohttp=True)
    finally:
        await close_aiohttp_clients()


async def _astream_aiohttp(r: Runner) -> dict[str, Any]:
    try:
        return await abench_stream(r, "bench-s1k", 20, 2, aiohttp=True)
    finally:
        await close_aiohttp_clients()


def flat_self_times(root: Any, top: int = 30) -> list[tuple[float, float, str]]:
    """``(self seconds, share, "file:function")`` for the ``top`` costliest functions."""
    acc: dict[str, float] = {}
    stack = [root]
    while stack:
        fr = stack.pop()
        stack.extend(fr.children)
        if fr.is_synthetic:
            if fr.function in ("[self]", "[await]") or not fr.children:
                name = f"{fr.parent.file_path_short if fr.parent else '?'}:{fr.parent.function if fr.parent else '?'}"
                acc[name] = acc.get(name, 0.0) + fr.time
            continue
        if not fr.children:
            key = f"{fr.file_path_short}:{fr.function}"
            acc[key] = acc.get(key, 0.0) + fr.time
    total = root.time or 1.0
    rows = sorted(acc.items(), key=lambda kv: -kv[1])[:top]
    return [(t, t / total, name) for name, t in rows]


def by_package(flat: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The flat self times summed per top-level package (first path component)."""
    acc: dict[str, tuple[float, float]] = {}
    for t, share, name in flat:
        pkg = name.split("/", 1)[0] if "/" in name else name.split(":", 1)[0]
        a, b = acc.get(pkg, (0.0, 0.0))
        acc[pkg] = (a + t, b + share)
    return sorted(((t, s, p) for p, (t, s) in acc.items()), key=lambda x: -x[0])[:15]


def suite_profile(r: Runner, scenario: str, out_dir: str) -> dict[str, Any]:
    """Run one scenario under pyinstrument; write a tree and a flat self-time table."""
    from pyinstrument import Profiler

    runs: dict[str, Callable[[], Any]] = {
        "call": lambda: bench_calls(r.call, 300, 20),
        "acall": lambda: asyncio.run(abench_calls(r.acall, 300, 20)),
        "stream": lambda: bench_stream(r, "bench-s1k", 20, 2),
        "astream": lambda: asyncio.run(abench_stream(r, "bench-s1k", 20, 2)),
        "astream_aiohttp": lambda: asyncio.run(_astream_aiohttp(r)),
        "tool": lambda: bench_tool(r, 150, 5),
        "abatch": lambda: asyncio.run(abench_batch(r, 200, 50, 3, aiohttp=False)),
        "abatch_aiohttp": lambda: asyncio.run(_batch_closing(r)),
        "encoding": lambda: suite_encoding(r, quick=True),
    }
    prof = Profiler(interval=0.0005, async_mode="enabled")
    prof.start()
    try:
        res = runs[scenario]()
    except SkipClient as exc:
        return {"skipped": str(exc)}
    finally:
        prof.stop()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{r.name}-{scenario}.txt")
    session = prof.last_session
    assert session is not None
    flat = flat_self_times(session.root_frame())
    with open(path, "w") as f:
        f.write(f"# {r.name} {scenario}: self time by function (leaf frames), top {len(flat)}\n")
        for t, share, name in flat:
            f.write(f"{100 * share:6.1f}%  {t:8.4f}s  {name}\n")
        f.write("\n# self time by package\n")
        for t, share, name in by_package(flat_self_times(session.root_frame(), top=10_000)):
            f.write(f"{100 * share:6.1f}%  {t:8.4f}s  {name}\n")
        f.write("\n")
        f.write(prof.output_text(unicode=False, color=False, show_all=False))
    return {"profile": path, "result": res}


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def main() -> None:
    """Parse arguments, build the runner, run the suite, print ``RESULT {json}``."""
    global PORT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("suite", choices=["perf", "encoding", "memory", "profile"])
    ap.add_argument("--client", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cpu", type=int, default=None)
    ap.add_argument("--model", default="bench-s1k")
    ap.add_argument("--scenario", default="stream")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "profiles"))
    args = ap.parse_args()
    _pin(args.cpu)
    PORT = args.port
    result: dict[str, Any] = {"client": args.client, "suite": args.suite}
    try:
        runner = make_runner(args.client, f"http://127.0.0.1:{PORT}/api/v7/llm")
    except SkipClient as exc:
        result["skipped"] = str(exc)
    else:
        if args.suite == "perf":
            result["scenarios"] = suite_perf(runner, args.quick)
        elif args.suite == "encoding":
            result["encoding"] = suite_encoding(runner, args.quick)
        elif args.suite == "memory":
            result["memory"] = suite_memory(runner, args.model)
        else:
            result["profile"] = suite_profile(runner, args.scenario, args.out)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
