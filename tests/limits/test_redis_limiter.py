"""`RedisLimiter` on a real redis-server: FIFO across processes, wake-up on release, the wait
deadline, cancellation, an unreachable or hung Redis, restarts, the fallback, and a stress run.

Several limiter objects, each with its own in-process limiter, stand for several processes.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from modelslab_core import (
    InFlightFallbackWarning,
    LimiterUnavailableError,
    LocalLimiter,
    QueueFullError,
    RedisLimiter,
)
from modelslab_core.limits.redis.scripts import DEFAULT_PREFIX, account_keys
from modelslab_core.testing import RedisServer


@pytest.fixture
def made() -> Iterator[list[RedisLimiter]]:
    """Limiters a test makes, closed after it."""
    limiters: list[RedisLimiter] = []
    yield limiters
    for limiter in limiters:
        limiter.close()


def process(made: list[RedisLimiter], url: str, **kwargs: Any) -> RedisLimiter:
    """A limiter standing for one process (its own in-process limiter)."""
    limiter = RedisLimiter(url, local=LocalLimiter(), **kwargs)
    made.append(limiter)
    return limiter


def zcard(url: str, account: str, key: str) -> int:
    with redis.Redis.from_url(url) as client:
        name = account_keys(DEFAULT_PREFIX, account)[["leases", "queue"].index(key)]
        return int(client.zcard(name))


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def test_fifo_across_processes(redis_url: str, account: str, made: list[RedisLimiter]) -> None:
    holder = process(made, redis_url).slot(account, 1)
    holder.__enter__()
    order: list[int] = []

    def waiter(i: int, limiter: RedisLimiter) -> None:
        with limiter.slot(account, 1, timeout=20):
            order.append(i)

    threads = []
    for i in range(5):
        t = threading.Thread(target=waiter, args=(i, process(made, redis_url)))
        t.start()
        threads.append(t)
        wait_until(lambda i=i: zcard(redis_url, account, "queue") == i + 1)
    holder.__exit__(None, None, None)
    for t in threads:
        t.join(20)
    assert order == [0, 1, 2, 3, 4]
    assert zcard(redis_url, account, "leases") == zcard(redis_url, account, "queue") == 0


@pytest.mark.parametrize("mode", ["thread", "task"])
def test_a_release_wakes_the_next_waiter_at_once(
    redis_url: str, account: str, made: list[RedisLimiter], mode: str
) -> None:
    """With 30 s leases a waiter only re-checks every 10 s: waking in ms means pub/sub did it."""
    first, second = process(made, redis_url), process(made, redis_url)
    holder = first.slot(account, 1)
    holder.__enter__()
    entered: list[float] = []

    def blocking() -> None:
        with second.slot(account, 1, timeout=20):
            entered.append(time.monotonic())

    async def awaiting() -> None:
        async with second.slot(account, 1, timeout=20):
            entered.append(time.monotonic())

    target = blocking if mode == "thread" else (lambda: asyncio.run(awaiting()))
    thread = threading.Thread(target=target)
    thread.start()
    wait_until(lambda: zcard(redis_url, account, "queue") == 1)
    time.sleep(0.3)  # its listener has subscribed and it has parked
    released = time.monotonic()
    holder.__exit__(None, None, None)
    thread.join(20)
    assert entered and entered[0] - released < 0.5
    assert second.stats().waited == 1


def test_a_wait_past_its_deadline_raises_queue_full_and_leaves_the_queue(
    redis_url: str, account: str, made: list[RedisLimiter]
) -> None:
    holder = process(made, redis_url).slot(account, 1)
    holder.__enter__()
    other = process(made, redis_url)
    started = time.monotonic()
    with (
        pytest.raises(QueueFullError, match="queue stayed full"),
        other.slot(account, 1, timeout=0.3),
    ):
        pass
    assert 0.25 < time.monotonic() - started < 3
    assert zcard(redis_url, account, "queue") == 0
    assert other.stats().timed_out == 1
    holder.__exit__(None, None, None)
    with other.slot(account, 1, timeout=2):
        assert zcard(redis_url, account, "leases") == 1


async def test_a_cancelled_waiter_leaves_the_queue(
    redis_url: str, account: str, made: list[RedisLimiter]
) -> None:
    holder = process(made, redis_url).slot(account, 1)
    await holder.__aenter__()  # type: ignore[union-attr]
    other = process(made, redis_url)

    async def wait() -> None:
        async with other.slot(account, 1):
            pass

    task = asyncio.create_task(wait())
    await asyncio.to_thread(wait_until, lambda: zcard(redis_url, account, "queue") == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert zcard(redis_url, account, "queue") == 0
    await holder.__aexit__(None, None, None)  # type: ignore[union-attr]
    assert zcard(redis_url, account, "leases") == 0
    await asyncio.wait_for(wait(), 5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["thread", "task"])
def test_an_unreachable_redis_is_a_typed_error_after_the_retry_window(
    account: str, made: list[RedisLimiter], mode: str
) -> None:
    url = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"  # nothing listens there
    limiter = process(made, url, retry_window=0.5)

    async def enter() -> None:
        async with limiter.slot(account, 5):
            pass

    started = time.monotonic()
    with pytest.raises(LimiterUnavailableError, match="unreachable") as info:
        if mode == "thread":
            with limiter.slot(account, 5):
                pass
        else:
            asyncio.run(enter())
    assert 0.5 <= time.monotonic() - started < 2  # retried for the window, then gave up
    assert "s3cret-pw" not in str(info.value) and "in_flight_fallback" in str(info.value)
    assert limiter._local.in_flight(account) == 0  # the in-process slot was given back


def test_a_redis_that_never_answers_is_a_typed_error_not_a_hang(
    account: str, made: list[RedisLimiter]
) -> None:
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)  # accepts connections, never says a word
        limiter = process(made, f"redis://127.0.0.1:{mute.getsockname()[1]}/0")
        started = time.monotonic()
        with pytest.raises(LimiterUnavailableError), limiter.slot(account, 5):
            pass
        assert time.monotonic() - started < 6  # a socket timeout (2 s) ends the retry window


def test_after_a_restart_running_requests_register_again_before_newcomers(
    own_redis: RedisServer, account: str, made: list[RedisLimiter]
) -> None:
    lease = 1.5
    first = process(made, own_redis.url, lease=lease)
    second = process(made, own_redis.url, lease=lease)
    running = [first.slot(account, 3), first.slot(account, 3)]
    for slot in running:
        slot.__enter__()
    with second.slot(account, 3):
        pass  # the second process has seen this Redis' epoch too
    own_redis.stop()
    own_redis.start()  # empty: the two running requests are unknown to it
    restarted = time.monotonic()
    newcomer = second.slot(account, 3, timeout=20)
    newcomer.__enter__()  # fenced until the first process registered its two again
    assert time.monotonic() - restarted > lease * 0.6
    assert first.stats().reclaimed == 2
    assert zcard(own_redis.url, account, "leases") == 3
    late: list[float] = []
    thread = threading.Thread(target=lambda: late.append(_enter_and_time(second, account)))
    thread.start()
    time.sleep(0.5)
    assert late == []  # 3 in flight: the account is full
    running[0].__exit__(None, None, None)
    thread.join(10)
    assert late
    running[1].__exit__(None, None, None)
    newcomer.__exit__(None, None, None)


def _enter_and_time(limiter: RedisLimiter, account: str) -> float:
    with limiter.slot(account, 3, timeout=20):
        return time.monotonic()


def test_fallback_slots_are_registered_in_redis_once_it_is_back(
    own_redis: RedisServer, account: str, made: list[RedisLimiter]
) -> None:
    limiter = process(made, own_redis.url, lease=1.5, fallback=True)
    with limiter.slot(account, 2):
        pass  # it knows this Redis
    own_redis.stop()
    held = limiter.slot(account, 2)
    with pytest.warns(InFlightFallbackWarning, match="capped in this process"):
        held.__enter__()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per outage, not per request
        second = limiter.slot(account, 2)
        second.__enter__()
    assert limiter._local.in_flight(account) == 2
    third = limiter.slot(account, 2, timeout=0.2)
    with pytest.raises(QueueFullError):
        third.__enter__()  # the in-process cap holds while Redis is down
    own_redis.start()
    wait_until(lambda: zcard(own_redis.url, account, "leases") == 2)  # both registered
    assert limiter.stats().fallbacks == 2 and limiter.stats().reclaimed == 2
    held.__exit__(None, None, None)
    second.__exit__(None, None, None)
    assert zcard(own_redis.url, account, "leases") == 0


def test_stress_many_processes_threads_and_tasks(
    redis_url: str, account: str, made: list[RedisLimiter]
) -> None:
    """3 'processes' x (4 threads + a loop of 6 tasks); random holds, deadlines, cancels."""
    limit, lock = 3, threading.Lock()
    state = {"now": 0, "peak": 0, "held": 0, "full": 0}
    rng = random.Random(7)

    def enter() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            state["held"] += 1

    def leave() -> None:
        with lock:
            state["now"] -= 1

    def threads_of(limiter: RedisLimiter) -> None:
        for _ in range(12):
            try:
                with limiter.slot(account, limit, timeout=rng.choice([0.05, 5])):
                    enter()
                    try:
                        time.sleep(rng.random() * 0.01)
                    finally:
                        leave()
            except QueueFullError:
                with lock:
                    state["full"] += 1

    async def tasks_of(limiter: RedisLimiter) -> None:
        async def one() -> None:
            async with limiter.slot(account, limit, timeout=5):
                enter()
                try:
                    await asyncio.sleep(rng.random() * 0.01)
                finally:
                    leave()  # also when cancelled while holding the slot

        jobs = [asyncio.create_task(one()) for _ in range(18)]
        await asyncio.sleep(0.02)
        for job in jobs[::5]:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)

    workers = []
    for _ in range(3):
        limiter = process(made, redis_url)
        workers += [threading.Thread(target=threads_of, args=(limiter,)) for _ in range(4)]
        workers.append(threading.Thread(target=asyncio.run, args=(tasks_of(limiter),)))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers)
    assert state["peak"] == limit and state["now"] == 0
    assert state["held"] > 100
    assert zcard(redis_url, account, "leases") == zcard(redis_url, account, "queue") == 0
    assert all(limiter._local.in_flight(account) == 0 for limiter in made)


def test_the_langchain_twins_of_the_new_errors() -> None:
    from langchain_core.exceptions import ModelConnectionError, ModelTimeoutError

    from langchain_modelslab._errors import to_langchain_error
    from modelslab_core import QueueFullError as Full

    full = to_langchain_error(Full("queue stayed full"))
    down = to_langchain_error(LimiterUnavailableError("unreachable"))
    assert isinstance(full, Full) and isinstance(full, ModelTimeoutError)
    assert isinstance(down, LimiterUnavailableError) and isinstance(down, ModelConnectionError)


async def test_a_cancellation_reaches_the_caller_only_after_the_round_trip() -> None:
    """The Python 3.10 path of `Eval.arun`: the call ends, then the cancellation is raised."""
    from modelslab_core.limits.redis.io import _shielded

    ended = asyncio.Event()

    async def round_trip() -> str:
        await asyncio.sleep(0.05)
        ended.set()
        return "reply"

    task = asyncio.create_task(_shielded(round_trip()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ended.is_set()
    assert await _shielded(round_trip()) == "reply"


async def test_a_swallowed_cancellation_is_raised_after_the_call(
    redis_url: str, account: str, made: list[RedisLimiter]
) -> None:
    """redis.asyncio may finish a command despite a cancel; the caller still sees it."""
    limiter = process(made, redis_url)
    async with limiter.slot(account, 5):
        pass  # this loop's client is connected: the next enter goes straight to Redis
    slot = limiter.slot(account, 5)
    task = asyncio.create_task(slot.__aenter__())  # type: ignore[union-attr]
    await asyncio.sleep(0)  # the command is sent; the task awaits the reply
    time.sleep(0.05)  # noqa: ASYNC251 (blocking on purpose: the reply arrives meanwhile)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert zcard(redis_url, account, "leases") == 0  # what it got was given back
    assert limiter._local.in_flight(account) == 0
