"""What each ``ChatModelsLab`` answer cost, totals over a block, and budgets (incl. agents and
20 concurrent calls), against the stand-in's honest usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from _support.budget import MIXED, aneeded, billed_cost, needed
from _support.pricing import ONE, OTHER, PROMPT, SEED_PRICE
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_core.tracers.context import collect_runs

from langchain_modelslab import (
    BudgetExceededError,
    ChatModelsLab,
    Cost,
    ModelPricing,
    get_modelslab_callback,
    message_cost,
)
from modelslab_core.cost.pricing import cost_of, usd
from modelslab_core.testing import StandIn
from modelslab_core.types import Usage

MakeModel = Callable[..., ChatModelsLab]


def expected(message: BaseMessage, pricing: ModelPricing = SEED_PRICE) -> Cost:
    """Usage x price, from the usage the message reports."""
    usage = message.usage_metadata  # type: ignore[attr-defined]
    assert usage and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    return cost_of(
        Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"]), pricing
    )


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


def check_stream(chunks: list[AIMessageChunk]) -> Cost:
    """Only the last chunk carries the cost, and the merged message has it once."""
    assert [message_cost(c) is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert chunks[-1].chunk_position == "last"
    whole = merged(chunks)
    cost = message_cost(whole)
    assert cost is not None and cost == message_cost(chunks[-1]) == expected(whole)
    return cost


class Listener(BaseCallbackHandler):
    """Any handler sends streams down langchain-core's own path (not the fast path)."""


@pytest.mark.parametrize(
    "how", ["invoke", "ainvoke", "stream", "astream", "slow-stream", "streaming"]
)
async def test_every_answer_carries_its_exact_cost(
    make_model: MakeModel, dialect: str, how: str
) -> None:
    model = make_model(dialect=dialect, **({"streaming": True} if how == "streaming" else {}))
    if how in ("invoke", "streaming"):
        cost = message_cost(message := model.invoke(PROMPT))
        assert cost == expected(message)
    elif how == "ainvoke":
        cost = message_cost(message := await model.ainvoke(PROMPT))
        assert cost == expected(message)
    elif how == "stream":
        cost = check_stream(list(model.stream(PROMPT)))
    elif how == "astream":
        cost = check_stream([c async for c in model.astream(PROMPT)])
    else:
        cost = check_stream(list(model.stream(PROMPT, config={"callbacks": [Listener()]})))
    assert cost == Cost(input=Decimal("0.000000204"), output=Decimal("0.00000102"), total=ONE)


def test_cost_is_json_safe_and_exact(make_model: MakeModel) -> None:
    message = make_model().invoke(PROMPT)
    assert message.response_metadata["cost"] == {
        "input_cost": "0.000000204",
        "output_cost": "0.00000102",
        "total_cost": "0.000001224",
        "currency": "USD",
    }
    assert "cost" not in str(message.usage_metadata)  # UsageMetadata keeps tokens only
    revived = loads(dumps(message), allowed_objects=[AIMessage])
    assert message_cost(revived) == message_cost(message)


def test_unknown_model_has_no_cost_until_priced(make_model: MakeModel) -> None:
    assert message_cost(make_model(model=OTHER).invoke(PROMPT)) is None
    price = ModelPricing.per_million(1, 2)
    message = make_model(model=OTHER, pricing=price).invoke(PROMPT)
    assert message_cost(message) == expected(message, price)


def test_pricing_survives_serialization(standin: StandIn) -> None:
    price = ModelPricing.per_million("0.1", "0.2")
    model = ChatModelsLab(model=OTHER, pricing=price, api_key="k", base_url=standin.base_url)
    text = dumps(model)
    assert '"pricing": {"input_per_token": "0.0000001", "output_per_token": "0.0000002"' in text
    revived = loads(
        text,
        allowed_objects=[ChatModelsLab],
        secrets_map={"MODELSLAB_API_KEY": "k"},
        valid_namespaces=["langchain_modelslab"],
    )
    assert revived.pricing == price


def test_a_traced_run_carries_cost_usage_and_model(make_model: MakeModel) -> None:
    """What a LangSmith-style tracer records for one call."""
    with collect_runs() as runs:
        make_model().invoke(PROMPT)
    (run,) = runs.traced_runs
    metadata = run.extra["metadata"]
    assert (metadata["ls_provider"], metadata["ls_model_name"]) == (
        "modelslab",
        "meta-llama-llama-3.2-3b-instruct",
    )
    kwargs = run.outputs["generations"][0][0]["message"]["kwargs"]  # type: ignore[index]
    assert kwargs["usage_metadata"] == {"input_tokens": 4, "output_tokens": 3, "total_tokens": 7}
    assert kwargs["response_metadata"]["cost"]["total_cost"] == "0.000001224"


async def test_totals_over_a_mixed_batch_are_the_sum(make_model: MakeModel) -> None:
    seed, other = make_model(), make_model(model=OTHER, pricing=ModelPricing.per_million(1, 2))
    answers: list[BaseMessage] = []
    with get_modelslab_callback() as cb:
        answers += seed.batch(["say a b", "hello there"])
        answers += await other.abatch(["say c d e", "say f"])
        answers.append(merged(list(make_model(dialect="anthropic").stream("say g h"))))
        answers.append(merged([c async for c in other.astream("say i")]))
        answers.append(await seed.ainvoke("say j k l m"))
    costs = [message_cost(a) for a in answers]
    assert all(c is not None for c in costs)
    assert cb.total_cost == sum((c.total for c in costs if c), Decimal(0))
    assert cb.successful_requests == cb.requests_sent == 7
    for model, picks in (("meta-llama-llama-3.2-3b-instruct", (0, 1, 4, 6)), (OTHER, (2, 3, 5))):
        usages = [answers[i].usage_metadata for i in picks]  # type: ignore[attr-defined]
        assert cb.usage_metadata[model] == {
            key: sum(u[key] for u in usages)
            for key in ("input_tokens", "output_tokens", "total_tokens")
        }
        assert cb.cost_by_model[model].total == sum((costs[i].total for i in picks), Decimal(0))  # type: ignore[union-attr]
    assert cb.total_tokens == cb.prompt_tokens + cb.completion_tokens
    assert repr(cb).endswith(f"Total Cost (USD): ${cb.total_cost.normalize():f}")


def test_budget_stops_the_request_whose_worst_case_does_not_fit(
    standin: StandIn, make_model: MakeModel
) -> None:
    model = make_model(max_tokens=8)
    worst = needed(lambda: model.invoke(PROMPT))
    assert needed(lambda: list(model.stream(PROMPT))) > worst  # a stream's body is longer
    budget = worst + ONE * Decimal("1.5")
    with get_modelslab_callback(budget=budget) as cb:
        model.invoke(PROMPT)
        model.invoke(PROMPT)  # spent ONE: its worst case still fits
        with pytest.raises(BudgetExceededError) as caught:
            model.invoke(PROMPT)  # spent 2 x ONE + the worst case > budget: refused, unsent
        with pytest.raises(BudgetExceededError):
            list(model.stream(PROMPT))
    assert len(standin.requests) == 2
    assert (caught.value.spent, caught.value.reserved, caught.value.needed) == (ONE * 2, 0, worst)
    assert f"$0.000002448 spent and $0 reserved of a ${usd(budget)} budget" in str(caught.value)
    assert (cb.requests_sent, cb.requests_refused, cb.total_cost) == (2, 2, ONE * 2)


WEATHER_CALLS: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    WEATHER_CALLS.append(city)
    return f"It is sunny in {city}."


@pytest.mark.parametrize("streaming", [False, True])
def test_budget_stops_an_agent_before_its_next_model_call(
    standin: StandIn, make_model: MakeModel, dialect: str, streaming: bool
) -> None:
    llm = make_model(dialect=dialect, streaming=streaming, max_tokens=64)
    agent = create_agent(llm, tools=[get_weather])
    ask = {"messages": [HumanMessage("Use get_weather for Paris.")]}
    first = needed(lambda: agent.invoke(ask))  # the first turn's worst case
    WEATHER_CALLS.clear()
    with get_modelslab_callback(budget=first) as cb, pytest.raises(BudgetExceededError):
        agent.invoke(ask)
    assert WEATHER_CALLS == ["Paris"]  # the tool ran ...
    assert len(standin.requests) == 1  # ... and the second model call was never sent
    assert cb.requests_sent == 1 and cb.requests_refused == 1
    assert 0 < cb.total_cost <= first and billed_cost(standin) == cb.total_cost


# --------------------------------------------------------------------------- concurrency


def check_hard_limit(results: list[Any], standin: StandIn, cb: Any, budget: Decimal) -> None:
    """Billed <= budget, the ledger counts at least what was billed, and the budget engaged."""
    answers = [r for r in results if isinstance(r, BaseMessage | list)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answers) + len(refused) == len(results)
    assert 3 <= len(answers) < len(results)
    assert len(standin.billed) == len(answers) == cb.requests_sent
    assert cb.requests_refused == len(refused)
    billed = billed_cost(standin)
    assert billed <= budget, f"billed {billed} > budget {budget}"
    assert cb.total_cost >= billed and cb.reserved == 0
    assert all(e.spent + e.reserved + e.needed > budget for e in refused)


async def test_abatch_of_24_mixed_prompts_never_bills_past_the_budget(
    standin: StandIn, make_model: MakeModel
) -> None:
    model = make_model(max_in_flight=5, timeout=60, max_tokens=64)
    budget = await aneeded(lambda: model.ainvoke(MIXED[-1])) * 3
    with get_modelslab_callback(budget=budget) as cb:
        results = await model.abatch(MIXED, return_exceptions=True)
    check_hard_limit(results, standin, cb, budget)
    assert cb.total_cost == billed_cost(standin)  # usage arrived: exact


def test_batch_of_24_threads_never_bills_past_the_budget(
    standin: StandIn, make_model: MakeModel
) -> None:
    model = make_model(max_in_flight=5, timeout=60, max_tokens=64)
    budget = needed(lambda: model.invoke(MIXED[-1])) * 3
    with get_modelslab_callback(budget=budget) as cb:
        results = model.batch(MIXED, {"max_concurrency": 24}, return_exceptions=True)
    check_hard_limit(results, standin, cb, budget)


def first_chunk_only(model: ChatModelsLab, text: str) -> list[AIMessageChunk]:
    stream = model.stream(text)
    first = next(stream)
    stream.close()  # type: ignore[attr-defined]
    return [first]


async def afirst_chunk_only(model: ChatModelsLab, text: str) -> list[AIMessageChunk]:
    stream = model.astream(text)
    first = await stream.__anext__()
    await stream.aclose()  # type: ignore[attr-defined]
    return [first]


@pytest.mark.parametrize("how", ["no-usage", "first-chunk"])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_streams_never_bill_past_the_budget(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str, how: str
) -> None:
    """``stream_usage=False`` and streams closed after their first chunk, 20 at once."""
    model = make_model(dialect=dialect, max_tokens=64, stream_usage=how != "no-usage")
    budget = needed(lambda: list(model.stream(MIXED[-1]))) * 3
    with get_modelslab_callback(budget=budget) as cb:
        if mode == "sync":
            run = first_chunk_only if how == "first-chunk" else lambda m, t: list(m.stream(t))
            results = RunnableLambda(lambda t: run(model, t)).batch(
                MIXED[:20], {"max_concurrency": 20}, return_exceptions=True
            )
        else:

            async def one(text: str) -> Any:
                if how == "first-chunk":
                    return await afirst_chunk_only(model, text)
                return [c async for c in model.astream(text)]

            results = await asyncio.gather(*map(one, MIXED[:20]), return_exceptions=True)
            assert cb.total_cost + cb.reserved >= billed_cost(standin)
            await asyncio.sleep(0.05)  # closed streams' inner generators finish on the loop
    check_hard_limit(results, standin, cb, budget)
    if how == "no-usage":  # asked for under the budget, not shown: the ledger is exact
        assert cb.total_cost == billed_cost(standin)
        chunks = [c for r in results if isinstance(r, list) for c in r]
        assert chunks and all(c.usage_metadata is None for c in chunks)
    else:
        assert cb.forfeited == len(standin.billed)
