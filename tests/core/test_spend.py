"""Costs and budgets in the core client, against the stand-in's honest usage."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from _support.budget import worst_case
from _support.pricing import SEED_PRICE

from modelslab_core import (
    AsyncModelsLabClient,
    ChatRequest,
    ChatResult,
    ClientConfig,
    Message,
    ModelsLabClient,
    RetryPolicy,
    StreamDelta,
)
from modelslab_core.cost.budget import (
    BudgetExceededError,
    SpendLedger,
    UnpricedModelError,
    open_ledgers,
    track_spend,
)
from modelslab_core.cost.pricing import Cost, ModelPricing, cost_of
from modelslab_core.testing import Fault, StandIn

SEED = "meta-llama-llama-3.2-3b-instruct"
OTHER = "qwen-qwen2.5-7b-instruct"


def request(text: str = "say one two three", model: str = SEED, **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.text("user", text)], **fields)


def config(standin: StandIn, **fields: Any) -> ClientConfig:
    retry = RetryPolicy(initial_delay=0.01, max_delay=0.05)
    return ClientConfig(api_key=standin.api_key, base_url=standin.base_url, retry=retry, **fields)


def answer(cfg: ClientConfig, req: ChatRequest, *, mode: str, stream: bool, dialect: str) -> Any:
    """``(usage, cost)`` of one call through the sync or async client, plain or streamed."""

    def pick(items: list[StreamDelta]) -> tuple[Any, Any]:
        carrying = [d for d in items if d.usage is not None]
        assert len(carrying) == 1, "usage (and cost) ride on exactly one delta"
        assert all(d.cost is None for d in items if d.usage is None)
        return carrying[0].usage, carrying[0].cost

    if mode == "sync":
        with ModelsLabClient(cfg) as client:
            if stream:
                return pick(list(client.stream(req, dialect=dialect)))  # type: ignore[arg-type]
            result = client.chat(req, dialect=dialect)  # type: ignore[arg-type]
            return result.usage, result.cost

    async def go() -> Any:
        async with AsyncModelsLabClient(cfg) as client:
            if stream:
                return pick([d async for d in client.stream(req, dialect=dialect)])  # type: ignore[arg-type]
            result: ChatResult = await client.chat(req, dialect=dialect)  # type: ignore[arg-type]
            return result.usage, result.cost

    return asyncio.run(go())


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cost_is_usage_times_price(standin: StandIn, mode: str, stream: bool, dialect: str) -> None:
    usage, cost = answer(config(standin), request(), mode=mode, stream=stream, dialect=dialect)
    # The stand-in counts words: "say one two three" in, "one two three" out.
    assert (usage.input_tokens, usage.output_tokens) == (4, 3)
    assert cost == Cost(
        input=Decimal("0.000000204"), output=Decimal("0.00000102"), total=Decimal("0.000001224")
    )
    assert cost == cost_of(usage, SEED_PRICE)


def test_unknown_model_has_usage_but_no_cost(standin: StandIn) -> None:
    with track_spend() as ledger:
        usage, cost = answer(
            config(standin), request(model=OTHER), mode="sync", stream=False, dialect="openai"
        )
    assert usage.total_tokens > 0 and cost is None
    spend = ledger.by_model[OTHER]
    assert (spend.requests, spend.unpriced, spend.total_tokens) == (1, 1, usage.total_tokens)
    assert ledger.spent == 0


def test_config_pricing_prices_its_model_only(standin: StandIn) -> None:
    price = ModelPricing.per_million(1, 2)
    cfg = config(standin, pricing={OTHER: price})
    usage, cost = answer(cfg, request(model=OTHER), mode="sync", stream=False, dialect="openai")
    assert cost == cost_of(usage, price)
    usage, cost = answer(cfg, request(), mode="sync", stream=False, dialect="openai")
    assert cost == cost_of(usage, SEED_PRICE)


def test_ledger_totals_over_a_mixed_batch_are_the_sum(standin: StandIn) -> None:
    cfg = config(standin, pricing={OTHER: ModelPricing.per_million(1, 2)})
    calls = [
        (request("say a"), "sync", False, "openai"),
        (request("say b c d e", model=OTHER), "async", True, "anthropic"),
        (request("hello there"), "async", False, "anthropic"),
        (request("say f g", model=OTHER), "sync", True, "openai"),
    ]
    with track_spend() as ledger:
        seen = [answer(cfg, r, mode=m, stream=s, dialect=d) for r, m, s, d in calls]
    assert ledger.spent == sum((cost.total for _, cost in seen), Decimal(0))
    assert ledger.cost == seen[0][1] + seen[1][1] + seen[2][1] + seen[3][1]
    for model, indexes in ((SEED, (0, 2)), (OTHER, (1, 3))):
        spend = ledger.by_model[model]
        assert spend.requests == 2
        assert spend.input_tokens == sum(seen[i][0].input_tokens for i in indexes)
        assert spend.output_tokens == sum(seen[i][0].output_tokens for i in indexes)
        assert spend.cost == seen[indexes[0]][1] + seen[indexes[1]][1]
    assert ledger.requests_sent == 4 and ledger.requests_refused == 0


def test_budget_stops_the_next_request_before_it_is_sent(standin: StandIn) -> None:
    one = Decimal("0.000001224")  # one call of request(), as above
    capped = request(max_tokens=8)
    worst = worst_case(capped)
    budget = worst + 2 * one + one / 2  # room for the worst case after two answers, not three
    with ModelsLabClient(config(standin)) as client, track_spend(budget=budget) as ledger:
        for _ in range(3):
            client.chat(capped)  # spent 0, 1, 2 x one: the worst case still fits
        for _ in range(3):
            with pytest.raises(BudgetExceededError) as caught:
                client.chat(capped)
        with pytest.raises(BudgetExceededError):
            list(client.stream(capped))
        assert client.count_tokens(capped) > 0  # free calls still go through
        assert client.list_models()
    error = caught.value
    assert (error.spent, error.reserved, error.budget, error.needed) == (3 * one, 0, budget, worst)
    assert [r.path.rsplit("/", 1)[-1] for r in standin.requests] == [
        "completions",
        "completions",
        "completions",
        "count_tokens",
        "models",
    ]
    assert (ledger.requests_sent, ledger.requests_refused, ledger.spent) == (3, 4, 3 * one)
    assert ledger.remaining == budget - 3 * one and ledger.reserved == 0


def test_each_attempt_is_admitted_and_the_answer_counted_once(standin: StandIn) -> None:
    standin.enqueue(Fault.status(500))
    with ModelsLabClient(config(standin)) as client, track_spend(budget=1) as ledger:
        result = client.chat(request())
    assert len(standin.requests) == 2
    assert ledger.requests_sent == 2
    assert ledger.by_model[SEED].requests == 1 and ledger.spent == result.cost.total  # type: ignore[union-attr]


def test_nested_blocks_each_count_and_each_budget_applies(standin: StandIn) -> None:
    capped = request(max_tokens=8)
    with ModelsLabClient(config(standin)) as client, track_spend() as outer:
        first = client.chat(capped)
        with track_spend(budget=worst_case(capped) + Decimal("0.0000001")) as inner:
            second = client.chat(capped)
            with pytest.raises(BudgetExceededError):
                client.chat(capped)
            assert open_ledgers() == (outer, inner)
        third = client.chat(capped)  # the inner budget no longer applies
    assert open_ledgers() == ()
    costs = [r.cost.total for r in (first, second, third)]  # type: ignore[union-attr]
    assert outer.spent == sum(costs, Decimal(0)) and inner.spent == costs[1]
    assert outer.requests_refused == 0 and inner.requests_refused == 1


def test_unpriced_model_under_a_budget_fails_before_sending(standin: StandIn) -> None:
    with ModelsLabClient(config(standin)) as client, track_spend(budget=1):
        with pytest.raises(UnpricedModelError, match=OTHER):
            client.chat(request(model=OTHER))
        with pytest.raises(UnpricedModelError):
            client.stream(request(model=OTHER))
    assert standin.requests == []


def test_stream_without_usage_is_counted_as_unmetered(
    standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with ModelsLabClient(config(standin)) as client, track_spend() as ledger:
        deltas = list(client.stream(request(include_usage=False)))
    assert all(d.usage is None and d.cost is None for d in deltas)
    spend = ledger.by_model[SEED]
    assert (spend.requests, spend.unmetered, spend.total_tokens) == (1, 1, 0)
    assert any("no usage" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_threads_with_a_copied_context_share_the_ledger(standin: StandIn) -> None:
    cfg = config(standin)

    def call() -> Cost | None:
        with ModelsLabClient(cfg) as client:
            return client.chat(request()).cost

    with track_spend() as ledger:
        with ThreadPoolExecutor(4) as pool:
            copied = [pool.submit(contextvars.copy_context().run, call) for _ in range(6)]
            costs = [f.result() for f in copied]
        bare = threading.Thread(target=call)  # a bare thread starts from an empty context
        bare.start()
        bare.join()
    assert ledger.by_model[SEED].requests == 6
    assert ledger.spent == sum((c.total for c in costs if c), Decimal(0))


def test_ledger_validates_its_budget() -> None:
    with pytest.raises(ValueError, match="budget"):
        SpendLedger(-1)
    with pytest.raises(TypeError):
        SpendLedger(object())  # type: ignore[arg-type]
    assert SpendLedger("0.5").budget == Decimal("0.5")
    assert repr(SpendLedger()) == "SpendLedger(spent=$0, budget=none, requests=0, refused=0)"
