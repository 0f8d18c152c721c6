"""Load: the in-flight cap under a 200-prompt batch, 2,000 concurrent async requests without
leaking sockets or memory, threads sharing one model, and one model on two event loops.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from rel_drivers import MODEL

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import AsyncModelsLabClient, ChatRequest, Message, RetryPolicy
from modelslab_core.testing import StandIn

KEY = "load-key"


@pytest.fixture(scope="module")
def load_server() -> Iterator[StandIn]:
    with StandIn(api_key=KEY, keepalive_every=0) as srv:
        yield srv


@pytest.fixture
def srv(load_server: StandIn) -> StandIn:
    load_server.reset()
    return load_server


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settle(target: int, slack: int, timeout: float = 5.0) -> int:
    """Open descriptors once the server threads have closed their sockets (or the timeout)."""
    deadline = time.monotonic() + timeout
    while (count := open_fds()) > target + slack and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    return count


# --------------------------------------------------------------------------- in-flight cap


def test_abatch_200_prompts_respects_the_server_queue() -> None:
    """Like ModelsLab, the server rejects past 5 in flight; the default cap keeps us under."""
    with StandIn(api_key="cap-key", max_in_flight=5, chunk_delay=0.002) as capped:
        model = ChatModelsLab(
            api_key="cap-key", base_url=capped.base_url, model=MODEL, max_retries=0, streaming=True
        )
        prompts = [f"Say: prompt number {i}" for i in range(200)]
        answers = asyncio.run(model.abatch(prompts))
        assert [a.content for a in answers] == [f"prompt number {i}" for i in range(200)]
        assert len(capped.requests) == 200  # no rejections (max_retries=0 would surface them)
        assert 1 < capped.max_in_flight_seen <= 5


def test_without_the_cap_the_server_would_reject() -> None:
    """Control: the same batch with the cap off is rejected by the server (the test can fail)."""
    with StandIn(api_key="nocap-key", max_in_flight=5, chunk_delay=0.002) as capped:
        model = ChatModelsLab(
            api_key="nocap-key",
            base_url=capped.base_url,
            model=MODEL,
            max_retries=0,
            streaming=True,
            max_in_flight=None,
        )
        results = asyncio.run(
            model.abatch([f"Say: {i}" for i in range(60)], return_exceptions=True)
        )
        assert capped.max_in_flight_seen > 5
        assert any(isinstance(r, Exception) and "Rate limit" in str(r) for r in results)


# --------------------------------------------------------------------------- 2,000 requests


def test_2000_async_requests_at_concurrency_100_leak_nothing(srv: StandIn) -> None:
    client = AsyncModelsLabClient(
        api_key=KEY,
        base_url=srv.base_url,
        max_in_flight=None,
        retry=RetryPolicy(max_retries=0),
    )

    active = peak = 0

    async def run(count: int) -> list[str]:
        gate = asyncio.Semaphore(100)

        async def one(i: int) -> str:
            nonlocal active, peak
            request = ChatRequest(model=MODEL, messages=[Message.text("user", f"Say: n{i}")])
            async with gate:
                active += 1
                peak = max(peak, active)
                try:
                    if i % 2:
                        return (await client.chat(request)).text
                    return "".join([d.text async for d in client.stream(request)])
                finally:
                    active -= 1

        try:
            return await asyncio.gather(*(one(i) for i in range(count)))
        finally:
            await client.close()

    asyncio.run(run(200))  # warm-up: imports, caches, thread pools
    gc.collect()
    time.sleep(0.3)  # let the server threads of the warm-up close their sockets
    fds, rss = open_fds(), rss_bytes()
    srv.chunk_delay = 0.002  # streams take a few ms, so requests overlap at the server
    answers = asyncio.run(run(2000))
    assert answers == [f"n{i}" for i in range(2000)]
    assert peak == 100  # the concurrency was real ...
    assert srv.max_in_flight_seen > 5  # ... and no client-side cap of 5 was in the way
    assert settle(fds, 5) <= fds + 5, f"descriptors: {fds} -> {open_fds()}"
    gc.collect()
    growth = rss_bytes() - rss
    assert growth < 40 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"


# --------------------------------------------------------------------------- threads


def _lc_answer(model: ChatModelsLab, marker: str, streaming: bool) -> str:
    if streaming:
        return "".join(str(c.content) for c in model.stream(f"Say: {marker}"))
    return str(model.invoke(f"Say: {marker}").content)


def _li_answer(llm: ModelsLab, marker: str, streaming: bool) -> str:
    messages = [ChatMessage(role="user", content=f"Say: {marker}")]
    if streaming:
        return "".join(r.delta or "" for r in llm.stream_chat(messages))
    return str(llm.chat(messages).message.content)


@pytest.mark.parametrize("streaming", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("layer", ["langchain", "llama_index"])
def test_threads_share_one_sync_model_without_cross_talk(
    srv: StandIn, layer: str, streaming: bool
) -> None:
    model: Any
    if layer == "langchain":
        model, answer = ChatModelsLab(api_key=KEY, base_url=srv.base_url, model=MODEL), _lc_answer
    else:
        model, answer = ModelsLab(api_key=KEY, api_base=srv.base_url, model=MODEL), _li_answer
    markers = [f"marker-{i:03d}-{'x' * (i % 7)}" for i in range(96)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda m: answer(model, m, streaming), markers))
    assert replies == markers
    assert len(srv.requests) == len(markers)
    assert srv.max_in_flight_seen <= 5  # the default cap holds across threads too


# --------------------------------------------------------------------------- event loops


@pytest.mark.parametrize("layer", ["core", "langchain", "llama_index"])
def test_one_model_on_two_event_loops_one_after_another(srv: StandIn, layer: str) -> None:
    model: Any
    if layer == "core":
        model = AsyncModelsLabClient(api_key=KEY, base_url=srv.base_url)
    elif layer == "langchain":
        model = ChatModelsLab(api_key=KEY, base_url=srv.base_url, model=MODEL)
    else:
        model = ModelsLab(api_key=KEY, api_base=srv.base_url, model=MODEL)

    async def turn(word: str) -> tuple[str, str]:
        prompt = f"Say: {word}"
        if layer == "core":
            request = ChatRequest(model=MODEL, messages=[Message.text("user", prompt)])
            plain = (await model.chat(request)).text
            streamed = "".join([d.text async for d in model.stream(request)])
        elif layer == "langchain":
            plain = str((await model.ainvoke(prompt)).content)
            streamed = "".join([str(c.content) async for c in model.astream(prompt)])
        else:
            messages = [ChatMessage(role="user", content=prompt)]
            plain = str((await model.achat(messages)).message.content)
            streamed = "".join([r.delta or "" async for r in await model.astream_chat(messages)])
        return plain, streamed

    assert asyncio.run(turn("first loop")) == ("first loop", "first loop")
    assert asyncio.run(turn("second loop")) == ("second loop", "second loop")
    assert len(srv.requests) == 4
