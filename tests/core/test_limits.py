"""The in-process limiter and the limiter interface: threads, tasks on several loops,
cancellation, FIFO, the wait deadline, and how a config picks its limiter."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time

import pytest

from modelslab_core import (
    ClientConfig,
    InFlightLimiter,
    LocalLimiter,
    QueueFullError,
    RedisLimiter,
)
from modelslab_core.limits import account_id, account_slots, limiter_for, process_limiter

A = "account-a"


def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.001)


def test_threads_never_exceed_the_limit() -> None:
    limiter = LocalLimiter()
    lock = threading.Lock()
    current = peak = 0

    def work() -> None:
        nonlocal current, peak
        with limiter.slot(A, 3):
            with lock:
                current += 1
                peak = max(peak, current)
            time.sleep(0.01)
            with lock:
                current -= 1

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
    assert limiter.in_flight(A) == 0
    stats = limiter.stats()
    assert stats.acquired == 20 and 0 < stats.waited < 20


def test_disabled_limit_is_a_no_op() -> None:
    limiter = LocalLimiter()
    with limiter.slot(A, None), limiter.slot(A, 0):
        assert limiter.in_flight(A) == 0


def test_accounts_are_counted_apart() -> None:
    limiter = LocalLimiter()
    with limiter.slot(A, 1), limiter.slot("account-b", 1):
        assert limiter.in_flight(A) == limiter.in_flight("account-b") == 1


def test_fifo_order() -> None:
    limiter = LocalLimiter()
    first = limiter.slot(A, 1)
    first.__enter__()
    order: list[int] = []

    def waiter(i: int) -> None:
        with limiter.slot(A, 1):
            order.append(i)

    threads = []
    for i in range(5):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        threads.append(t)
        wait_for(lambda i=i: limiter.waiting(A) == i + 1)  # queue them in a known order
    first.__exit__(None, None, None)
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def test_a_wait_past_its_deadline_raises_queue_full() -> None:
    limiter = LocalLimiter()
    with limiter.slot(A, 1):
        started = time.monotonic()
        with (
            pytest.raises(QueueFullError, match="queue stayed full") as info,
            limiter.slot(A, 1, timeout=0.2),
        ):
            pass
        assert 0.15 < time.monotonic() - started < 3
    assert "1 slots" in str(info.value) and "0.2s" in str(info.value)
    assert limiter.waiting(A) == 0 and limiter.in_flight(A) == 0
    assert limiter.stats().timed_out == 1


async def test_async_wait_past_its_deadline_raises_queue_full() -> None:
    limiter = LocalLimiter()
    async with limiter.slot(A, 1):
        with pytest.raises(QueueFullError):
            async with limiter.slot(A, 1, timeout=0.05):
                pass
    assert limiter.waiting(A) == 0 and limiter.in_flight(A) == 0


async def test_cancelled_waiter_leaves_the_queue() -> None:
    limiter = LocalLimiter()
    held = limiter.slot(A, 1)
    await held.__aenter__()  # type: ignore[union-attr]

    async def wait() -> None:
        async with limiter.slot(A, 1):
            pass

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)
    assert limiter.waiting(A) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert limiter.waiting(A) == 0
    await held.__aexit__(None, None, None)  # type: ignore[union-attr]
    assert limiter.in_flight(A) == 0
    await asyncio.wait_for(wait(), 1)


async def test_cancelled_after_grant_gives_the_slot_back() -> None:
    limiter = LocalLimiter()
    held = limiter.slot(A, 1)
    await held.__aenter__()  # type: ignore[union-attr]
    entered = asyncio.Event()

    async def wait() -> None:
        async with limiter.slot(A, 1):
            entered.set()

    task = asyncio.create_task(wait())
    await asyncio.sleep(0)
    await held.__aexit__(None, None, None)  # type: ignore[union-attr]
    assert limiter.in_flight(A) == 1  # handed to the waiter (its wake-up not yet run)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not entered.is_set()
    assert limiter.in_flight(A) == 0


def test_waiters_on_other_loops_and_threads_are_woken() -> None:
    limiter = LocalLimiter()
    held = limiter.slot(A, 1)
    held.__enter__()
    woken: list[str] = []

    def loop_thread(name: str) -> None:
        async def main() -> None:
            async with limiter.slot(A, 1):
                woken.append(name)
                await asyncio.sleep(0.005)

        asyncio.run(main())

    threads = [threading.Thread(target=loop_thread, args=(f"loop{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    wait_for(lambda: limiter.waiting(A) == 3)
    held.__exit__(None, None, None)
    for t in threads:
        t.join(5)
    assert sorted(woken) == ["loop0", "loop1", "loop2"]
    assert limiter.in_flight(A) == 0


def test_a_waiter_of_a_closed_loop_is_skipped() -> None:
    limiter = LocalLimiter()
    held = limiter.slot(A, 1)
    held.__enter__()
    loop = asyncio.new_event_loop()
    task = loop.create_task(_enter_and_leave(limiter))
    loop.run_until_complete(asyncio.sleep(0.01))  # the task is now queued
    assert limiter.waiting(A) == 1
    loop.close()  # its task will never run again
    held.__exit__(None, None, None)
    assert limiter.in_flight(A) == 0 and limiter.waiting(A) == 0
    assert not task.done()


async def _enter_and_leave(limiter: LocalLimiter) -> None:
    async with limiter.slot(A, 1):
        pass


def test_account_ids_hash_key_and_url_and_keep_no_key() -> None:
    a = account_id("secret-key-1", "http://x/api")
    assert account_id("secret-key-1", "http://x/api") == a
    assert account_id("secret-key-2", "http://x/api") != a
    assert account_id("secret-key-1", "http://y/api") != a
    assert "secret-key-1" not in a and len(a) == 32


def test_config_picks_the_limiter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSLAB_IN_FLIGHT_URL", raising=False)
    assert limiter_for(ClientConfig(api_key="k")) is process_limiter()
    mine = LocalLimiter()
    assert limiter_for(ClientConfig(api_key="k", in_flight_backend=mine)) is mine
    redis_config = ClientConfig(api_key="k", in_flight_backend="redis://127.0.0.1:1/0")
    shared = limiter_for(redis_config)
    assert isinstance(shared, RedisLimiter) and shared.lease == 30.0 and not shared.fallback
    assert limiter_for(redis_config) is shared  # one per process and settings
    tuned = ClientConfig(
        api_key="k",
        in_flight_backend="redis://127.0.0.1:1/0",
        in_flight_lease=5,
        in_flight_fallback=True,
    )
    assert limiter_for(tuned) is not shared
    slots = account_slots(tuned, "k")
    assert slots.limiter.lease == 5.0 and slots.timeout == 600.0  # type: ignore[attr-defined]


def test_the_env_var_alone_shares_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSLAB_IN_FLIGHT_URL", "redis://127.0.0.1:2/0")
    limiter = limiter_for(ClientConfig(api_key="k"))
    assert isinstance(limiter, RedisLimiter) and limiter.url == "redis://127.0.0.1:2/0"
    assert limiter_for(ClientConfig(api_key="k", in_flight_backend="local")) is process_limiter()


@pytest.mark.parametrize(
    "backend", ["http://127.0.0.1:6379", "redis:/nohost", "memcached://x", "", "LOCAL "]
)
def test_a_bad_backend_is_refused_before_any_request(backend: str) -> None:
    with pytest.raises(ValueError, match="in_flight_backend"):
        ClientConfig(api_key="k", in_flight_backend=backend)


def test_the_redis_password_stays_out_of_reprs_and_dumps() -> None:
    url = "redis://:hunter2-pass@127.0.0.1:3/0"
    config = ClientConfig(api_key="k", in_flight_backend=url)
    limiter = RedisLimiter(url)
    for text in (repr(config), str(config.model_dump()), config.model_dump_json(), repr(limiter)):
        assert "hunter2-pass" not in text
    assert "redis://:***@127.0.0.1:3/0" in config.model_dump_json()
    with pytest.raises(ValueError) as info:
        ClientConfig(api_key="k", in_flight_backend="mysql://u:hunter2-pass@h/0")
    assert "hunter2-pass" not in str(info.value)


def test_limiters_pickle_as_their_settings() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:4/0", lease=7, fallback=True, prefix="p")
    copy = pickle.loads(pickle.dumps(limiter))
    assert isinstance(copy, RedisLimiter) and copy is not limiter
    assert (copy.url, copy.lease, copy.fallback, copy.prefix) == (limiter.url, 7.0, True, "p")
    assert pickle.loads(pickle.dumps(limiter)) is copy  # one per process and settings
    config = ClientConfig(api_key="k", in_flight_backend=limiter)
    assert isinstance(pickle.loads(pickle.dumps(config)).in_flight_backend, RedisLimiter)
    assert pickle.loads(pickle.dumps(process_limiter())) is process_limiter()
    assert isinstance(pickle.loads(pickle.dumps(LocalLimiter())), LocalLimiter)


def test_the_interface_is_what_both_limiters_share() -> None:
    assert issubclass(LocalLimiter, InFlightLimiter)
    assert issubclass(RedisLimiter, InFlightLimiter)
