"""One account, many processes: the shared in-flight limit through LangChain and LlamaIndex.

Every test runs a stand-in that answers 429 past 5 requests in flight (like ModelsLab's
per-account queue) and records the highest in-flight count it saw. Clients have no retries,
so each rejection surfaces. Workers are real OS processes (forkserver: forked from a clean
server process, not from pytest), threads and event loops, each with its own client objects.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from share_driver import (
    MODEL,
    Job,
    Outcome,
    _sync_call,
    build_models,
    hold_streams,
    process_main,
    run_loop,
    run_threads,
)

from modelslab_core import InFlightFallbackWarning, LimiterUnavailableError
from modelslab_core.limits import account_id
from modelslab_core.limits.redis.scripts import DEFAULT_PREFIX, account_keys
from modelslab_core.testing import Fault, RedisServer, StandIn

KEY = "shared-limit-key"
CAP = 5


@pytest.fixture(scope="module")
def ctx() -> Any:
    """Processes forked from a server process that has the adapters imported already."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["share_driver", "langchain_modelslab", "llama_index_modelslab"])
    return context


@pytest.fixture
def capped() -> Iterator[StandIn]:
    """A stand-in whose queue admits 5 in flight; streams take a few ms per event."""
    with StandIn(api_key=KEY, max_in_flight=CAP, chunk_delay=0.01, keepalive_every=0) as srv:
        yield srv


def run_processes(ctx: Any, jobs: list[Job], timeout: float = 240) -> tuple[set[int], Outcome]:
    """Run one process per job at once; their pids and their outcomes together."""
    results = ctx.Queue()
    procs = [ctx.Process(target=process_main, args=(job, results)) for job in jobs]
    for proc in procs:
        proc.start()
    pids, total = set(), Outcome()
    for _ in procs:
        pid, outcome = results.get(timeout=timeout)
        pids.add(pid)
        total = total.add(outcome)
    for proc in procs:
        proc.join(10)
    return pids, total


def four_jobs(srv: StandIn, backend: str | None, env_url: str | None = None) -> list[Job]:
    """4 x 100 requests; with ``env_url`` two processes name Redis only in the environment."""
    return [
        Job(
            srv.base_url,
            KEY,
            None if env_url and i % 2 else backend,
            count=100,
            tag=f"p{i}",
            env_url=env_url if i % 2 else None,
        )
        for i in range(4)
    ]


def assert_all_answered(srv: StandIn, outcome: Outcome, total: int) -> None:
    assert outcome.errors == [] and outcome.wrong == []
    assert outcome.ok == total
    assert srv.rejected == 0
    assert len(srv.requests) == total  # nothing was sent twice
    assert srv.max_in_flight_seen == CAP


def test_four_processes_share_one_account_limit(ctx: Any, capped: StandIn, redis_url: str) -> None:
    pids, outcome = run_processes(ctx, four_jobs(capped, redis_url, env_url=redis_url))
    assert len(pids) == 4 and os.getpid() not in pids
    assert_all_answered(capped, outcome, 400)


def test_contrast_per_process_caps_overrun_the_account(ctx: Any, capped: StandIn) -> None:
    """The same load with each process capping itself: the account sees up to 20 (429s)."""
    pids, outcome = run_processes(ctx, four_jobs(capped, "local"))
    assert len(pids) == 4
    assert capped.rejected > 0 and capped.max_in_flight_seen > CAP
    assert any("RateLimit" in error for error in outcome.errors)
    assert outcome.ok + len(outcome.errors) == 400


def test_two_event_loops_and_eight_threads_share_one_limit(capped: StandIn, redis_url: str) -> None:
    job = Job(capped.base_url, KEY, redis_url, count=200, tag="t")
    loops = [Job(capped.base_url, KEY, redis_url, count=100, tag=f"l{i}") for i in range(2)]
    results: list[Outcome] = []
    workers = [threading.Thread(target=lambda: results.append(run_threads(job, 8)))]
    workers += [threading.Thread(target=lambda j=j: results.append(run_loop(j))) for j in loops]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(240)
    assert len(results) == 3
    total = results[0].add(results[1]).add(results[2])
    assert_all_answered(capped, total, 400)


def live_leases(client: redis.Redis, srv: StandIn) -> int:
    """Leases of the stand-in's account that have not expired (on the Redis clock)."""
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    leases = account_keys(DEFAULT_PREFIX, account_id(KEY, srv.base_url))[0]
    return int(client.zcount(leases, f"({now_ms}", "+inf"))


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_killed_process_gives_its_slots_back_within_the_lease(ctx: Any, redis_url: str) -> None:
    lease = 1.5
    client = redis.Redis.from_url(redis_url)
    with StandIn(api_key=KEY, max_in_flight=CAP, keepalive_every=0) as srv:
        srv.enqueue(*[Fault.stall(120, after_events=1)] * CAP)  # five streams that hang
        holder = ctx.Process(
            target=hold_streams, args=(srv.base_url, KEY, redis_url, lease, CAP), daemon=True
        )
        holder.start()
        wait_until(lambda: live_leases(client, srv) == CAP, 120, "the holder's five slots")
        time.sleep(2 * lease)  # past the lease time: the live holder keeps renewing them
        assert live_leases(client, srv) == CAP and srv.in_flight == CAP

        lc, li = build_models(Job(srv.base_url, KEY, redis_url, 0, "k", lease=lease))
        done: list[float] = []
        answers: list[str | Exception] = []

        def ask(i: int) -> None:
            try:
                answers.append(_sync_call(lc, li, i, f"Say: after-{i}"))
            except Exception as exc:
                answers.append(exc)
            done.append(time.monotonic())

        askers = [threading.Thread(target=ask, args=(i,)) for i in range(CAP)]
        for asker in askers:
            asker.start()
        time.sleep(0.5)
        assert done == []  # the account is full: they wait (in Redis' queue), not 429
        os.kill(holder.pid or 0, signal.SIGKILL)
        killed = time.monotonic()
        for asker in askers:
            asker.join(30)
        recovery = max(done) - killed
        print(f"\nslots back {recovery:.2f}s after kill -9 (lease {lease:g}s)")
        assert sorted(map(str, answers)) == [f"after-{i}" for i in range(CAP)]
        assert recovery < lease + 1.0
        assert srv.rejected == 0
        holder.join(10)
    client.close()


def run_through_outage(
    redis_server: RedisServer, srv: StandIn, *, fallback: bool
) -> tuple[list[tuple[float, float, str]], float, tuple[float, float]]:
    """8 threads ask in a loop; Redis stops after 1 s and comes back (empty) after 2 s: an
    outage longer than the clients' retry window (0.3 s), so calls do see it.

    Returns every call as (start, end, outcome), when Redis went down, and when its restart
    began and when it answered again.
    """
    job = Job(
        srv.base_url, KEY, redis_server.url, 0, "o", fallback=fallback, lease=1.0, retry_window=0.3
    )
    calls: list[tuple[float, float, str]] = []
    stop = threading.Event()
    models = [build_models(job) for _ in range(8)]  # before the clock starts: imports are slow
    _sync_call(*models[0], 0, "Say: warm-up")

    def worker(w: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            expected, started = f"w{w}-{i}", time.monotonic()
            try:
                got = _sync_call(*models[w], i, f"Say: {expected}")
                kind = "ok" if got == expected else f"wrong {got!r}"
            except LimiterUnavailableError:
                kind = "unavailable"
            except Exception as exc:
                kind = f"{type(exc).__name__}: {exc}"
            calls.append((started, time.monotonic(), kind))

    workers = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for thread in workers:
        thread.start()
    time.sleep(1.0)
    redis_server.stop()
    down = time.monotonic()
    time.sleep(1.0)
    restarting = time.monotonic()
    redis_server.start()
    up = time.monotonic()
    time.sleep(2.5)
    stop.set()
    for thread in workers:
        thread.join(30)
    assert not any(thread.is_alive() for thread in workers)
    return calls, down, (restarting, up)


def test_redis_stopped_mid_run_is_a_typed_error_then_recovers(own_redis: RedisServer) -> None:
    with StandIn(api_key=KEY, max_in_flight=CAP, chunk_delay=0.005, keepalive_every=0) as srv:
        calls, down, (restarting, up) = run_through_outage(own_redis, srv, fallback=False)
        kinds = {kind for _, _, kind in calls}
        assert kinds == {"ok", "unavailable"}
        assert max(end - start for start, end, _ in calls) < 5  # no hang
        assert any(kind == "unavailable" and down <= s <= restarting for s, _, kind in calls)
        assert any(kind == "ok" and s < down for s, _, kind in calls)
        assert any(kind == "ok" and s > up for s, _, kind in calls)  # back on Redis
        # no call is served while Redis is down: one that began then and succeeded waited (in
        # this process' queue) until Redis was back; one begun and ended in the outage failed
        assert not any(kind == "ok" and down + 0.2 < s and e < restarting for s, e, kind in calls)
        assert srv.rejected == 0 and srv.max_in_flight_seen <= CAP


def test_redis_stopped_mid_run_with_fallback_warns_and_caps_locally(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="modelslab_core")
    with (
        StandIn(api_key=KEY, max_in_flight=CAP, chunk_delay=0.005, keepalive_every=0) as srv,
        warnings.catch_warnings(record=True) as caught,  # process-wide: the workers' too
    ):
        warnings.simplefilter("always")
        calls, down, (restarting, _) = run_through_outage(own_redis, srv, fallback=True)
        assert {kind for _, _, kind in calls} == {"ok"}
        assert max(end - start for start, end, _ in calls) < 5
        assert any(down + 0.2 < s < restarting for s, _, _ in calls)  # served while down
        assert srv.rejected == 0 and srv.max_in_flight_seen <= CAP
    assert any("capped in this process" in r.getMessage() for r in caplog.records)
    assert any(issubclass(w.category, InFlightFallbackWarning) for w in caught)


def test_models_are_checked_against_the_stand_in_model_list() -> None:
    assert MODEL in StandIn().models
