"""Hard budgets in the core client: what the stand-in bills never exceeds the budget, and the
ledger never counts less than was billed, on every path (issue 20)."""

from __future__ import annotations

import asyncio
import contextvars
import gc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from _support.budget import billed_cost, worst_case
from _support.pricing import SEED_PRICE

from modelslab_core import (
    AsyncModelsLabClient,
    ChatRequest,
    ClientConfig,
    Message,
    ModelsLabClient,
    RetryPolicy,
    UnboundedCostError,
)
from modelslab_core.cost.budget import BudgetExceededError, SpendLedger, track_spend
from modelslab_core.cost.pricing import ModelPricing
from modelslab_core.cost.reservations import (
    Book,
    RequestShape,
    input_token_bound,
    request_shape,
    worst_case_cost,
)
from modelslab_core.testing import Fault, StandIn

SEED = "meta-llama-llama-3.2-3b-instruct"
WORDS = " ".join(f"w{i}" for i in range(80))


def prompt(i: int = 0, *, max_tokens: int = 64, **fields: Any) -> ChatRequest:
    """A request whose answer runs to ``max_tokens`` (the stand-in says back 80 words)."""
    text = f"say {'x ' * (i % 7)}{WORDS}"
    return ChatRequest(
        model=SEED, messages=[Message.text("user", text)], max_tokens=max_tokens, **fields
    )


def config(standin: StandIn, **fields: Any) -> ClientConfig:
    retry = RetryPolicy(initial_delay=0.01, max_delay=0.05)
    return ClientConfig(
        api_key=standin.api_key, base_url=standin.base_url, retry=retry, max_in_flight=5, **fields
    )


# --------------------------------------------------------------------------- pure parts


def test_the_input_bound_covers_what_the_server_counts(standin: StandIn) -> None:
    with ModelsLabClient(config(standin)) as client:
        for request in (prompt(3), prompt(0, max_tokens=5)):
            body = client._codec(None).encode_request(request, stream=False)
            assert input_token_bound(request_shape(body)) >= client.count_tokens(request)
    shape = RequestShape(body_bytes=100, items=2, images=1, max_tokens=None)
    assert input_token_bound(shape) == 100 + 256 + 2 * 16 + 8192


def test_worst_case_is_exact() -> None:
    price = ModelPricing.per_million("0.051", "0.34")
    cost = worst_case_cost(1000, 64, price)
    assert (cost.input, cost.output) == (Decimal("0.000051"), Decimal("0.00002176"))
    assert cost.total == Decimal("0.00007276")


def test_book_reserves_settles_forfeits_and_releases() -> None:
    book, first = Book().reserve("a", Decimal(3), Decimal(10))
    book, second = book.reserve("b", Decimal(3), Decimal(10))
    assert first.admitted and second.admitted and second.reserved == 3
    same, third = book.reserve("c", Decimal(5), Decimal(10))
    assert not third.admitted and (third.spent, third.reserved) == (0, 6) and same is book
    book = book.settle("a", Decimal(1))  # the answer cost less than its worst case
    assert (book.spent, book.reserved) == (1, 3)
    book = book.forfeit("b")  # no usage arrived: the worst case is spend
    assert (book.spent, book.reserved) == (4, 0)
    book, again = book.reserve("c", Decimal(5), Decimal(10))
    assert again.admitted
    book = book.release("c")  # never billed
    assert (book.spent, book.reserved, dict(book.open)) == (4, 0, {})
    assert book.forfeit("zzz").spent == 4  # closing an unknown id changes nothing


def test_an_unbounded_worst_case_is_refused_before_sending(standin: StandIn) -> None:
    other = ChatRequest(model="qwen-qwen2.5-7b-instruct", messages=[Message.text("user", "hi")])
    priced = config(standin, pricing={other.model: ModelPricing.per_million(1, 2)})
    with ModelsLabClient(priced) as client, track_spend(budget=1):
        with pytest.raises(UnboundedCostError, match="max_tokens"):
            client.chat(other)  # a price but no max_tokens and no known maximum output
        assert client.chat(other.model_copy(update={"max_tokens": 4})).usage is not None
    assert len(standin.requests) == 1


# --------------------------------------------------------------------------- every path


def run_20(standin: StandIn, mode: str, call: Callable[..., Any], **cfg: Any) -> list[Any]:
    """20 calls of ``call(client, request)`` at once (threads or tasks); results or errors."""
    requests = [prompt(i) for i in range(20)]
    if mode == "sync":
        with ModelsLabClient(config(standin, **cfg)) as client, ThreadPoolExecutor(8) as pool:

            def one(req: ChatRequest) -> Any:
                try:
                    return call(client, req)
                except BudgetExceededError as exc:
                    return exc

            futures = [pool.submit(contextvars.copy_context().run, one, r) for r in requests]
            return [f.result() for f in futures]

    async def go() -> list[Any]:
        async with AsyncModelsLabClient(config(standin, **cfg)) as client:
            jobs = [call(client, r) for r in requests]
            return list(await asyncio.gather(*jobs, return_exceptions=True))

    return asyncio.run(go())


def plain(client: Any, req: ChatRequest) -> Any:
    return client.chat(req)


def stream_no_usage(client: Any, req: ChatRequest) -> Any:
    """Streams with usage turned off (``stream_usage=False``): the caller sees none."""
    req = req.model_copy(update={"include_usage": False})
    if isinstance(client, ModelsLabClient):
        deltas = list(client.stream(req))
        assert all(d.usage is None and d.cost is None for d in deltas)
        return deltas

    async def go() -> Any:
        deltas = [d async for d in client.stream(req)]
        assert all(d.usage is None and d.cost is None for d in deltas)
        return deltas

    return go()


def stream_first_chunk(client: Any, req: ChatRequest) -> Any:
    """Streams closed after their first chunk."""
    if isinstance(client, ModelsLabClient):
        stream = client.stream(req)
        first = next(stream)
        stream.close()
        return first

    async def go() -> Any:
        stream = client.stream(req)
        first = await stream.__anext__()
        await stream.aclose()
        return first

    return go()


CALLS = {"plain": plain, "no-usage": stream_no_usage, "first-chunk": stream_first_chunk}


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("how", list(CALLS))
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_billed_never_exceeds_the_budget(
    standin: StandIn, mode: str, how: str, dialect: str
) -> None:
    budget = worst_case(prompt(6), dialect, stream=how != "plain") * 3
    with track_spend(budget=budget) as ledger:
        results = run_20(standin, mode, CALLS[how], dialect=dialect)
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert not [r for r in results if isinstance(r, BaseException) and r not in refused]
    billed = billed_cost(standin)
    assert 3 <= len(standin.billed) == ledger.requests_sent == 20 - len(refused) < 20
    assert billed <= budget, f"billed {billed} > budget {budget}"
    assert ledger.spent >= billed and ledger.reserved == 0
    if how == "first-chunk":
        assert ledger.forfeited == len(standin.billed)
    else:  # the usage arrived (asked for even when the caller turned it off): exact
        assert ledger.spent == billed and ledger.forfeited == 0
    assert all(e.spent + e.reserved + e.needed > budget for e in refused)  # type: ignore[operator]


def test_a_garbage_collected_stream_keeps_its_reservation_as_spend(standin: StandIn) -> None:
    with ModelsLabClient(config(standin)) as client, track_spend(budget=1) as ledger:
        stream = client.stream(prompt())
        next(stream)
        assert ledger.reserved == worst_case(prompt(), stream=True) > 0
        del stream
        gc.collect()
        assert ledger.reserved == 0 and ledger.spent == worst_case(prompt(), stream=True)
    assert ledger.spent >= billed_cost(standin) > 0


async def test_an_async_stream_collected_early_keeps_its_reservation(standin: StandIn) -> None:
    async with AsyncModelsLabClient(config(standin)) as client:
        with track_spend(budget=1) as ledger:
            stream = client.stream(prompt(), dialect="anthropic")
            await stream.__anext__()
            del stream
            gc.collect()
            for _ in range(5):
                await asyncio.sleep(0)  # the loop runs the generator's aclose()
    assert ledger.reserved == 0 and ledger.forfeited == 1
    assert ledger.spent == worst_case(prompt(), "anthropic", stream=True) >= billed_cost(standin)


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retry_after_a_refusal_keeps_one_reservation(standin: StandIn, mode: str) -> None:
    """An error status is not billed: the retry reuses the reservation (a budget that fits
    one worst case lets it through)."""
    standin.enqueue(Fault.status(500), Fault.status(503))
    budget = worst_case(prompt())
    with track_spend(budget=budget) as ledger:
        result = run_one(standin, mode, prompt())
    assert len(standin.requests) == 3 and len(standin.billed) == 1
    assert ledger.requests_sent == 3 and ledger.spent == billed_cost(standin) == result.cost.total


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_retry_after_a_cut_answer_reserves_again(standin: StandIn, mode: str) -> None:
    """A connection lost after sending may have been billed: that reservation stays as
    spend and the retry reserves again (refused when the budget has no room for it)."""
    budget = worst_case(prompt()) * 2
    standin.enqueue(Fault.cut_mid_stream())
    with track_spend(budget=budget) as ledger:
        result = run_one(standin, mode, prompt())
    assert len(standin.billed) == 2  # the cut answer was billed too
    assert ledger.spent == worst_case(prompt()) + result.cost.total >= billed_cost(standin)
    standin.reset()
    standin.enqueue(Fault.cut_mid_stream())
    with track_spend(budget=worst_case(prompt())) as tight, pytest.raises(BudgetExceededError):
        run_one(standin, mode, prompt())
    assert len(standin.billed) == 1 and tight.spent == worst_case(prompt()) >= billed_cost(standin)


def test_a_stream_cut_midway_is_spend_and_is_not_retried(standin: StandIn) -> None:
    standin.enqueue(Fault.cut_mid_stream(after_events=3))
    with (
        ModelsLabClient(config(standin)) as client,
        track_spend(budget=1) as ledger,
        pytest.raises(Exception, match="stream"),
    ):
        list(client.stream(prompt()))
    assert ledger.forfeited == 1 and ledger.spent == worst_case(prompt(), stream=True)
    assert ledger.spent >= billed_cost(standin) > 0


def run_one(standin: StandIn, mode: str, req: ChatRequest) -> Any:
    if mode == "sync":
        with ModelsLabClient(config(standin)) as client:
            return client.chat(req)

    async def go() -> Any:
        async with AsyncModelsLabClient(config(standin)) as client:
            return await client.chat(req)

    return asyncio.run(go())


def test_count_input_tokens_reserves_less(standin: StandIn) -> None:
    req = prompt(2)
    with ModelsLabClient(config(standin)) as client:
        counted = client.count_tokens(req)
        with track_spend(budget=1, count_input_tokens=True) as ledger:
            stream = client.stream(req)
            next(stream)
            reserved = ledger.reserved
            stream.close()
    assert reserved == worst_case_cost(counted, 64, SEED_PRICE).total
    assert reserved < worst_case(req, stream=True)
    assert [r.path.rsplit("/", 1)[-1] for r in standin.requests] == ["count_tokens"] * 2 + [
        "completions"
    ]


def test_a_ledger_repr_and_remaining_count_reservations() -> None:
    ledger = SpendLedger("0.5")
    assert ledger.remaining == Decimal("0.5") and ledger.reserved == 0
    assert ledger.forfeited == 0
