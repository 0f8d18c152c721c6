"""LlamaIndex: metadata from the model catalog, the exact cost of every response, totals over a
block and budgets (incl. ``FunctionAgent`` and 20 concurrent calls), on the stand-in."""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _support.budget import MIXED, aneeded, billed_cost, needed
from _support.pricing import ONE, OTHER, PROMPT, SEED_PRICE
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS

from llama_index_modelslab import (
    BudgetExceededError,
    Cost,
    ModelPricing,
    ModelsLab,
    response_cost,
    track_costs,
)
from modelslab_core.cost.catalog import CATALOG_ENV
from modelslab_core.cost.pricing import cost_of
from modelslab_core.testing import StandIn
from modelslab_core.types import Usage

MakeLLM = Callable[..., ModelsLab]


def user(text: str = PROMPT) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def expected(
    response: ChatResponse | CompletionResponse, pricing: ModelPricing = SEED_PRICE
) -> Cost:
    """Usage x price, from the usage the response reports (LlamaIndex's keys)."""
    kw = response.additional_kwargs
    assert kw["prompt_tokens"] > 0 and kw["completion_tokens"] > 0
    return cost_of(
        Usage(input_tokens=kw["prompt_tokens"], output_tokens=kw["completion_tokens"]), pricing
    )


# --------------------------------------------------------------------------- metadata


def test_metadata_of_the_documented_model(make_llm: MakeLLM) -> None:
    meta = make_llm().metadata
    assert (meta.context_window, meta.num_output) == (128_000, DEFAULT_NUM_OUTPUTS)


def test_settings_win_over_the_catalog(make_llm: MakeLLM) -> None:
    meta = make_llm(context_window=4096, max_tokens=300).metadata
    assert (meta.context_window, meta.num_output) == (4096, 300)


def test_unknown_model_warns_once_and_uses_the_default(make_llm: MakeLLM) -> None:
    model = f"no-such-model-{uuid.uuid4().hex[:8]}"  # warnings are once per model id
    llm = make_llm(model=model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        windows = [llm.metadata.context_window for _ in range(3)]
        windows.append(make_llm(model=model).metadata.context_window)
    assert windows == [8192] * 4
    assert [str(w.message) for w in caught if "context window" in str(w.message)] == [
        f"No context window is known for ModelsLab model {model!r}: "
        "LlamaIndex will size prompts for 8192 tokens. Set ModelsLab(context_window=...) "
        "or add the model to a catalog file (MODELSLAB_MODEL_CATALOG)."
    ]


def test_metadata_from_a_user_catalog_and_a_listing(
    make_llm: MakeLLM, standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {OTHER: {"context_window": 32768}}}), "utf-8")
    monkeypatch.setenv(CATALOG_ENV, str(path))
    assert make_llm(model=OTHER).metadata.context_window == 32768
    standin.model_details = {
        OTHER: {"context_length": 65536, "top_provider": {"max_completion_tokens": 2048}}
    }
    llm = make_llm(model=OTHER)
    assert OTHER in {m.id for m in llm.list_models()}
    meta = llm.metadata  # the user file still wins on the window; the listing adds the output
    assert (meta.context_window, meta.num_output) == (32768, 2048)
    monkeypatch.delenv(CATALOG_ENV)
    assert make_llm(model=OTHER).metadata.context_window == 65536


# --------------------------------------------------------------------------- cost


async def responses(llm: ModelsLab, how: str) -> list[Any]:
    """The response(s) of one call: a list with one item, or every streamed item."""
    if how == "chat":
        return [llm.chat(user())]
    if how == "achat":
        return [await llm.achat(user())]
    if how == "complete":
        return [llm.complete(PROMPT)]
    if how == "acomplete":
        return [await llm.acomplete(PROMPT)]
    if how == "stream_chat":
        return list(llm.stream_chat(user()))
    if how == "astream_chat":
        return [r async for r in await llm.astream_chat(user())]
    if how == "stream_complete":
        return list(llm.stream_complete(PROMPT))
    return [r async for r in await llm.astream_complete(PROMPT)]


HOWS = ["chat", "achat", "complete", "acomplete"]
STREAMS = ["stream_chat", "astream_chat", "stream_complete", "astream_complete"]


@pytest.mark.parametrize("how", HOWS + STREAMS)
async def test_every_response_carries_its_exact_cost(make_llm: MakeLLM, how: str) -> None:
    items = await responses(make_llm(), how)
    *partial, last = items
    assert all(response_cost(r) is None for r in partial)  # streams: only the last one
    assert response_cost(last) == expected(last)
    assert response_cost(last) == Cost(
        input=Decimal("0.000000204"), output=Decimal("0.00000102"), total=ONE
    )
    assert last.additional_kwargs["cost"]["total_cost"] == "0.000001224"


def test_unknown_model_has_no_cost_until_priced(make_llm: MakeLLM) -> None:
    assert response_cost(make_llm(model=OTHER, context_window=1000).chat(user())) is None
    price = ModelPricing.per_million(1, 2)
    response = make_llm(model=OTHER, pricing=price).chat(user())
    assert response_cost(response) == expected(response, price)
    revived = ModelsLab.from_dict(make_llm(model=OTHER, pricing=price).to_dict())
    assert revived.pricing == price


async def test_totals_over_a_mixed_batch_are_the_sum(make_llm: MakeLLM, dialect: str) -> None:
    seed = make_llm()
    other = make_llm(model=OTHER, pricing=ModelPricing.per_million(1, 2), context_window=1000)
    with track_costs() as costs:
        got = [seed.chat(user("say a b")), seed.complete("say c")]
        got += await asyncio.gather(other.achat(user("say d e f")), seed.acomplete("hello there"))
        got.append(list(other.stream_chat(user("say g")))[-1])
        got.append([r async for r in await seed.astream_complete("say h i")][-1])
    each = [response_cost(r) for r in got]
    assert costs.total_cost == sum((c.total for c in each if c), Decimal(0))
    assert costs.costs_by_model[OTHER].total == each[2].total + each[4].total  # type: ignore[union-attr]
    assert costs.prompt_llm_token_count == sum(r.additional_kwargs["prompt_tokens"] for r in got)
    assert costs.completion_llm_token_count == sum(
        r.additional_kwargs["completion_tokens"] for r in got
    )
    assert costs.requests_sent == costs.answers == 6
    assert str(costs).endswith(f"in 6 answers: ${costs.total_cost.normalize():f}")


# --------------------------------------------------------------------------- budgets


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "blocking"])
async def test_budget_stops_a_function_agent(
    make_llm: MakeLLM, standin: StandIn, streaming: bool
) -> None:
    ran: list[tuple[int, int]] = []

    def add_numbers(a: int, b: int) -> int:
        """Add two integers."""
        ran.append((a, b))
        return a + b

    agent = FunctionAgent(tools=[add_numbers], llm=make_llm(max_tokens=64), streaming=streaming)
    ask = "What is 2 plus 3? Use add_numbers."
    first = await aneeded(lambda: agent.run(user_msg=ask))  # the first turn's worst case
    with track_costs(budget=first) as costs, pytest.raises(BudgetExceededError) as caught:
        await agent.run(user_msg=ask)
    assert ran == [(2, 3)]  # the tool ran ...
    assert len(standin.requests) == 1  # ... and the next model turn was never sent
    assert costs.requests_refused == 1 and caught.value.spent == costs.total_cost > 0
    assert costs.total_cost == billed_cost(standin) <= first


def check_hard_limit(results: list[Any], standin: StandIn, costs: Any, budget: Decimal) -> None:
    """Billed <= budget, the ledger counts at least what was billed, and the budget engaged."""
    refused = [r for r in results if isinstance(r, BudgetExceededError)]
    assert not [r for r in results if isinstance(r, BaseException) and r not in refused]
    assert 3 <= len(results) - len(refused) < len(results)
    assert len(standin.billed) == len(results) - len(refused) == costs.requests_sent
    billed = billed_cost(standin)
    assert billed <= budget, f"billed {billed} > budget {budget}"
    assert costs.total_cost >= billed and costs.reserved == 0


async def test_24_concurrent_mixed_calls_never_bill_past_the_budget(
    make_llm: MakeLLM, standin: StandIn
) -> None:
    llm = make_llm(max_in_flight=5, timeout=60, max_tokens=64)
    budget = await aneeded(lambda: llm.achat(user(MIXED[-1]))) * 3
    with track_costs(budget=budget) as costs:
        results = await asyncio.gather(
            *(llm.achat(user(text)) for text in MIXED), return_exceptions=True
        )
    check_hard_limit(results, standin, costs, budget)
    assert costs.total_cost == billed_cost(standin)


async def first_response(llm: ModelsLab, text: str, mode: str) -> Any:
    """A stream closed after its first response."""
    if mode == "sync":
        stream = llm.stream_chat(user(text))
        first = next(stream)
        stream.close()  # type: ignore[attr-defined]
        return first
    astream = await llm.astream_chat(user(text))
    first = await astream.__anext__()
    await astream.aclose()  # type: ignore[attr-defined]
    return first


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_streams_closed_early_never_bill_past_the_budget(
    make_llm: MakeLLM, standin: StandIn, mode: str
) -> None:
    llm = make_llm(max_in_flight=5, timeout=60, max_tokens=64)
    budget = needed(lambda: list(llm.stream_chat(user(MIXED[-1])))) * 3
    with track_costs(budget=budget) as costs:
        if mode == "sync":
            results = []
            for text in MIXED[:20]:
                try:
                    results.append(await first_response(llm, text, mode))
                except BudgetExceededError as refused:
                    results.append(refused)
        else:
            jobs = (first_response(llm, text, mode) for text in MIXED[:20])
            results = await asyncio.gather(*jobs, return_exceptions=True)
            await asyncio.sleep(0.05)  # closed streams' inner generators finish on the loop
    check_hard_limit(results, standin, costs, budget)
    assert costs.forfeited == len(standin.billed)
