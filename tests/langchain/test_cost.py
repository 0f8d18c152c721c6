"""What each ``ChatModelsLab`` answer cost, totals over a block, and budgets (incl. agents and
20 concurrent calls), against the stand-in's honest usage."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from _support.pricing import ONE, OTHER, PROMPT, SEED_PRICE
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumps, loads
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
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
from modelslab_core.cost.pricing import cost_of
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


def test_budget_stops_the_request_after_the_one_that_reaches_it(
    standin: StandIn, make_model: MakeModel
) -> None:
    model = make_model()
    with get_modelslab_callback(budget=ONE * 2) as cb:
        model.invoke(PROMPT)
        list(model.stream(PROMPT))  # spent ONE < 2 x ONE: sent
        with pytest.raises(BudgetExceededError) as caught:
            model.invoke(PROMPT)  # spent == budget: refused, not sent
        with pytest.raises(BudgetExceededError):
            list(model.stream(PROMPT))
    assert len(standin.requests) == 2
    assert (caught.value.spent, caught.value.budget) == (ONE * 2, ONE * 2)
    assert "$0.000002448 spent of a $0.000002448 budget" in str(caught.value)
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
    agent = create_agent(make_model(dialect=dialect, streaming=streaming), tools=[get_weather])
    WEATHER_CALLS.clear()
    with get_modelslab_callback(budget="0.0000001") as cb, pytest.raises(BudgetExceededError):
        agent.invoke({"messages": [HumanMessage("Use get_weather for Paris.")]})
    assert WEATHER_CALLS == ["Paris"]  # the tool ran ...
    assert len(standin.requests) == 1  # ... and the second model call was never sent
    assert cb.requests_sent == 1 and cb.requests_refused == 1
    assert cb.total_cost > Decimal("0.0000001")


# --------------------------------------------------------------------------- concurrency

CAP = 5


def check_concurrent_guarantee(
    results: list[Any], standin: StandIn, cb: Any, budget: Decimal
) -> None:
    """20 identical calls (ONE each), at most CAP in flight, under ``budget`` = 2.5 x ONE."""
    answers = [r for r in results if isinstance(r, AIMessage)]
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert len(answers) + len(refused) == 20
    # Sent only while the spend was below 2.5 x ONE, i.e. before a third answer was recorded:
    # at most the 2 recorded ones plus CAP in flight; at least 3 (the budget is reached).
    assert 3 <= len(answers) <= CAP + 2
    assert len(standin.requests) == len(answers) == cb.requests_sent
    assert cb.requests_refused == len(refused)
    assert cb.total_cost == ONE * len(answers)
    assert budget <= cb.total_cost < budget + CAP * ONE  # reached; overshoot under CAP calls
    assert all(e.spent >= budget and e.budget == budget for e in refused)


async def test_abatch_of_20_under_a_budget(standin: StandIn, make_model: MakeModel) -> None:
    model, budget = make_model(max_in_flight=CAP, timeout=60), ONE * Decimal("2.5")
    with get_modelslab_callback(budget=budget) as cb:
        results = await model.abatch([PROMPT] * 20, return_exceptions=True)
    check_concurrent_guarantee(results, standin, cb, budget)


def test_batch_of_20_threads_under_a_budget(standin: StandIn, make_model: MakeModel) -> None:
    model, budget = make_model(max_in_flight=CAP, timeout=60), ONE * Decimal("2.5")
    with get_modelslab_callback(budget=budget) as cb:
        results = model.batch([PROMPT] * 20, {"max_concurrency": 20}, return_exceptions=True)
    check_concurrent_guarantee(results, standin, cb, budget)
