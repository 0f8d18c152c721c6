"""The process-wide in-flight limiter: threads, tasks on several loops, cancellation, FIFO."""

from __future__ import annotations

import asyncio
import threading
import time

from modelslab_core._limits import _REGISTRY, InFlightLimiter, limiter_for


def test_threads_never_exceed_the_limit() -> None:
    limiter = InFlightLimiter()
    lock = threading.Lock()
    current = peak = 0

    def work() -> None:
        nonlocal current, peak
        with limiter.slot(3):
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
    assert limiter.in_flight == 0


def test_disabled_limit_is_a_no_op() -> None:
    limiter = InFlightLimiter()
    with limiter.slot(None), limiter.slot(0):
        assert limiter.in_flight == 0


def test_fifo_order() -> None:
    limiter = InFlightLimiter()
    limiter.acquire(1)
    order: list[int] = []

    def waiter(i: int) -> None:
        with limiter.slot(1):
            order.append(i)

    threads = []
    for i in range(5):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        threads.append(t)
        while len(limiter._waiters) < i + 1:  # queue them in a known order
            time.sleep(0.001)
    limiter.release()
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


async def test_cancelled_waiter_leaves_the_queue() -> None:
    limiter = InFlightLimiter()
    await limiter.acquire_async(1)
    task = asyncio.create_task(limiter.acquire_async(1))
    await asyncio.sleep(0)
    assert len(limiter._waiters) == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert not limiter._waiters
    limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire_async(1), 1)
    limiter.release()


async def test_cancelled_after_grant_gives_the_slot_back() -> None:
    limiter = InFlightLimiter()
    await limiter.acquire_async(1)
    task = asyncio.create_task(limiter.acquire_async(1))
    await asyncio.sleep(0)
    limiter.release()  # hands the slot to the waiter (wake-up scheduled, not yet run)
    assert limiter.in_flight == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert limiter.in_flight == 0


def test_waiters_on_other_loops_and_threads_are_woken() -> None:
    limiter = InFlightLimiter()
    limiter.acquire(1)
    woken: list[str] = []

    def loop_thread(name: str) -> None:
        async def main() -> None:
            async with limiter.slot_async(1):
                woken.append(name)
                await asyncio.sleep(0.005)

        asyncio.run(main())

    threads = [threading.Thread(target=loop_thread, args=(f"loop{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    while len(limiter._waiters) < 3:
        time.sleep(0.001)
    limiter.release()
    for t in threads:
        t.join(5)
    assert sorted(woken) == ["loop0", "loop1", "loop2"]
    assert limiter.in_flight == 0


def test_registry_is_per_key_and_url_and_keeps_no_key() -> None:
    a = limiter_for("secret-key-1", "http://x/api")
    assert limiter_for("secret-key-1", "http://x/api") is a
    assert limiter_for("secret-key-2", "http://x/api") is not a
    assert limiter_for("secret-key-1", "http://y/api") is not a
    assert "secret-key-1" not in repr(list(_REGISTRY))
