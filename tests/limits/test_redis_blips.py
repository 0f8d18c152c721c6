"""Blips cost no call: replies cut by a reset, Redis killed and restarted within a second.

Two `RedisLimiter` objects, each with its own in-process limiter, stand for two processes
sharing one account (cap 5): each runs 60 calls through LangChain and LlamaIndex, from 4
threads and an event loop at once (`share_driver.run_process`), against a stand-in that
answers 429 past 5 in flight. Without retries the issue measured 27 of 120 calls lost with 4%
of replies cut, and 60 of 120 with Redis killed and back within a second.

A reset during a new connection's handshake is retried by redis-py itself from 7.2 on (its
``connect()`` retries the handshake too; before, the pool connects outside any retry): hence
the ``[redis]`` extra's floor of 7.2.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from cutting_proxy import CuttingProxy
from share_driver import Job, Outcome, run_process

from modelslab_core import LocalLimiter, RedisLimiter
from modelslab_core.limits import account_id
from modelslab_core.limits.redis.scripts import DEFAULT_PREFIX, account_keys
from modelslab_core.testing import RedisServer, StandIn

KEY = "blip-key"
CAP = 5


@pytest.fixture
def made() -> Iterator[list[RedisLimiter]]:
    limiters: list[RedisLimiter] = []
    yield limiters
    for limiter in limiters:
        limiter.close()


@pytest.fixture
def capped() -> Iterator[StandIn]:
    with StandIn(api_key=KEY, max_in_flight=CAP, chunk_delay=0.005, keepalive_every=0) as srv:
        yield srv


def two_processes(
    srv: StandIn, url: str, made: list[RedisLimiter], **settings: Any
) -> tuple[Outcome, list[RedisLimiter]]:
    """120 calls from two 'processes' at once; their outcome together, and their limiters."""
    limiters = [RedisLimiter(url, local=LocalLimiter(), **settings) for _ in range(2)]
    made.extend(limiters)
    jobs = [Job(srv.base_url, KEY, limiter, 60, f"p{i}") for i, limiter in enumerate(limiters)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(run_process, jobs)
    return first.add(second), limiters


def left_in_redis(url: str, srv: StandIn) -> tuple[int, int]:
    """(leases, tickets) of the stand-in's account, read past the proxy."""
    leases, queue = account_keys(DEFAULT_PREFIX, account_id(KEY, srv.base_url))[:2]
    with redis.Redis.from_url(url) as client:
        return int(client.zcard(leases)), int(client.zcard(queue))


def assert_no_call_lost(srv: StandIn, outcome: Outcome) -> None:
    assert outcome.errors == [] and outcome.wrong == []
    assert outcome.ok == 120 and len(srv.requests) == 120  # each answered, none sent twice
    assert srv.rejected == 0 and srv.max_in_flight_seen <= CAP


@pytest.mark.parametrize("mode", ["thread", "task"])
def test_a_reset_during_a_new_connections_handshake_costs_no_call(
    redis_server: RedisServer, account: str, made: list[RedisLimiter], mode: str
) -> None:
    with CuttingProxy(redis_server.port, cut=0, first_replies=1) as proxy:
        limiter = RedisLimiter(proxy.url, local=LocalLimiter())
        made.append(limiter)

        async def enter() -> None:
            async with limiter.slot(account, 5):
                pass

        if mode == "thread":
            with limiter.slot(account, 5):
                pass
        else:
            asyncio.run(enter())
    assert proxy.cuts == 1 and limiter.stats().acquired == 1


def test_replies_cut_by_resets_cost_no_call(
    redis_server: RedisServer, capped: StandIn, made: list[RedisLimiter]
) -> None:
    with CuttingProxy(redis_server.port, cut=0.04) as proxy:
        outcome, limiters = two_processes(capped, proxy.url, made)
    print(f"\n{proxy.cuts} of {proxy.replies} Redis replies cut")
    assert proxy.cuts >= 3  # the run met the fault it is about
    assert_no_call_lost(capped, outcome)
    assert all(limiter.stats().release_errors == 0 for limiter in limiters)
    assert left_in_redis(redis_server.url, capped) == (0, 0)  # no slot or ticket taken twice


def test_contrast_without_retries_cut_replies_lose_calls(
    redis_server: RedisServer, capped: StandIn, made: list[RedisLimiter]
) -> None:
    """``retry_window=0``: the same faults fail calls (the limit still holds)."""
    with CuttingProxy(redis_server.port, cut=0.04) as proxy:
        # slots granted to a lost reply are held until their lease (2 s) expires
        outcome, _ = two_processes(capped, proxy.url, made, retry_window=0, lease=2)
    print(f"\n{len(outcome.errors)} of 120 calls lost without retries")
    assert proxy.cuts >= 1 and outcome.errors
    assert all("LimiterUnavailableError" in error for error in outcome.errors)
    assert outcome.ok + len(outcome.errors) == 120
    assert capped.rejected == 0 and capped.max_in_flight_seen <= CAP


def test_redis_killed_and_restarted_within_a_second_costs_no_call(
    own_redis: RedisServer, capped: StandIn, made: list[RedisLimiter]
) -> None:
    """Killed (SIGKILL: its data is gone) once 30 calls are answered, back on the same port."""
    outage: dict[str, float] = {}

    def kill_and_restart() -> None:
        deadline = time.monotonic() + 60
        while len(capped.requests) < 30 and time.monotonic() < deadline:
            time.sleep(0.002)
        outage["in_flight"] = capped.in_flight
        outage["down"] = time.monotonic()
        own_redis.kill()
        time.sleep(0.3)
        own_redis.start()
        outage["up"] = time.monotonic()

    chaos = threading.Thread(target=kill_and_restart)
    chaos.start()
    # a short lease: after the restart nobody new is admitted for one lease time (the fence)
    outcome, limiters = two_processes(capped, own_redis.url, made, lease=1.5)
    chaos.join(30)
    downtime = outage["up"] - outage["down"]
    print(f"\nRedis down {downtime:.2f}s with {outage['in_flight']:g} calls in flight")
    assert downtime < 1.0 and outage["in_flight"] > 0
    assert_no_call_lost(capped, outcome)
    assert left_in_redis(own_redis.url, capped) == (0, 0)
    assert sum(limiter.stats().fallbacks for limiter in limiters) == 0
