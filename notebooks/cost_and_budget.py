"""What a model is and what it costs: profiles, per-call cost, totals and a budget.

    .venv/bin/python notebooks/cost_and_budget.py

Runs on ModelsLab when ``MODELSLAB_API_KEY`` is set (``MODELSLAB_BASE_URL`` and
``MODELSLAB_MODEL`` optional), else on the offline stand-in (`modelslab_core.testing.StandIn`),
whose token counts are honest (one token per word). Every step checks its outcome.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from contextlib import ExitStack
from decimal import Decimal

from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage

from langchain_modelslab import (
    BudgetExceededError,
    ChatModelsLab,
    get_modelslab_callback,
    message_cost,
)
from llama_index_modelslab import ModelsLab, response_cost, track_costs
from modelslab_core import resolve_model
from modelslab_core.cost.pricing import cost_of
from modelslab_core.testing import StandIn
from modelslab_core.types import Usage

MODEL = os.environ.get("MODELSLAB_MODEL") or "meta-llama-llama-3.2-3b-instruct"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 21 degrees in {city}."


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def where(stack: ExitStack) -> dict[str, str]:
    """Base URL and key: the environment's, or a stand-in started for this run."""
    if os.environ.get("MODELSLAB_API_KEY"):
        return {
            "base_url": os.environ.get("MODELSLAB_BASE_URL") or "https://modelslab.com/api/v7/llm",
            "api_key": os.environ["MODELSLAB_API_KEY"],
        }
    server = stack.enter_context(StandIn(api_key="demo-key"))
    return {"base_url": server.base_url, "api_key": server.api_key}


def profile_and_facts(llm: ChatModelsLab) -> None:
    """1. What the catalog knows about the model, and where each fact came from."""
    facts = resolve_model(MODEL)
    assert facts is not None and facts.pricing is not None, f"{MODEL} is not in the catalog"
    print("LangChain profile:", llm.profile)
    print("Price:", facts.pricing)
    for fact, source in facts.sources.items():
        print(f"  {fact}: {source}")
    assert llm.profile is not None and llm.profile["max_input_tokens"] == facts.context_window


def one_call(llm: ChatModelsLab) -> None:
    """2. What one call cost: usage x price, exactly."""
    message = llm.invoke("Say: the ferry leaves at nine.")
    usage, cost = message.usage_metadata, message_cost(message)
    assert usage is not None and cost is not None
    print(f"Answer: {message.text!r}")
    print(f"Usage: {usage['input_tokens']} in, {usage['output_tokens']} out; cost {cost}")
    facts = resolve_model(MODEL)
    assert facts is not None and facts.pricing is not None
    tokens = Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
    assert cost == cost_of(tokens, facts.pricing)


def worst_case_of(run: Callable[[], object]) -> Decimal:
    """What the first request of ``run`` may cost at most: a $0 budget refuses it unsent and
    says how much it would have reserved (its input bound plus ``max_tokens`` of output)."""
    with get_modelslab_callback(budget=0):
        try:
            run()
        except BudgetExceededError as refused:
            assert refused.needed is not None
            return refused.needed
    raise AssertionError("a $0 budget let a request through")


def budget_stops_an_agent(llm: ChatModelsLab) -> None:
    """3. A LangChain agent under a budget that holds its first turn's worst case only: the
    first turn runs, the second (a longer request) no longer fits and is refused unsent."""
    agent = create_agent(llm, tools=[get_weather])
    ask = {"messages": [HumanMessage("Use get_weather for Lisbon.")]}
    budget = worst_case_of(lambda: agent.invoke(ask))
    print(f"First turn's worst case: ${budget}")
    with get_modelslab_callback(budget=budget) as cb:
        try:
            agent.invoke(ask)
        except BudgetExceededError as stop:
            print("Agent stopped:", stop)
        else:
            raise AssertionError("the budget did not stop the agent")
    print(cb)
    assert cb.requests_sent == 1 and cb.requests_refused == 1


async def llama_index_side(connection: dict[str, str]) -> None:
    """4. LlamaIndex: context window from the catalog, a response's cost, a budgeted agent."""
    llm = ModelsLab(
        model=MODEL, max_tokens=64, api_key=connection["api_key"], api_base=connection["base_url"]
    )
    print("LlamaIndex context window:", llm.metadata.context_window)
    response = await llm.achat([ChatMessage(role="user", content="Say: the lighthouse is white.")])
    print("LlamaIndex response cost:", response_cost(response))
    assert response_cost(response) is not None
    agent = FunctionAgent(tools=[add], llm=llm)
    with track_costs(budget=0):
        try:
            await agent.run(user_msg="What is 2 plus 3? Use add.")
        except BudgetExceededError as refused:
            first_turn = refused.needed
    with track_costs(budget=first_turn) as costs:
        try:
            await agent.run(user_msg="What is 2 plus 3? Use add.")
        except BudgetExceededError as stop:
            print("FunctionAgent stopped:", stop)
    print(costs)
    assert costs.requests_refused == 1


def main() -> None:
    with ExitStack() as stack:
        connection = where(stack)
        llm = ChatModelsLab(model=MODEL, max_tokens=64, **connection)
        profile_and_facts(llm)
        one_call(llm)
        budget_stops_an_agent(llm)
        asyncio.run(llama_index_side(connection))
    print("All steps passed.")


if __name__ == "__main__":
    main()
