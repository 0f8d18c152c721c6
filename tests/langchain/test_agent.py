"""A LangChain v1 agent (``create_agent``) with two tools runs to a final answer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import StandIn

MakeModel = Callable[..., ChatModelsLab]
CALLS: list[str] = []


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    CALLS.append(f"weather:{city}")
    return f"It is sunny and 21 degrees in {city}."


@tool
def get_population(city: str) -> int:
    """Get the population of a city."""
    CALLS.append(f"population:{city}")
    return 2_100_000


PROMPT = "Use get_weather and get_population for Paris, then summarise both results."


def _check_run(messages: list[Any], standin: StandIn) -> None:
    """The run called both tools, fed their results back, and ended on a text answer."""
    tool_messages = [m for m in messages if isinstance(m, ToolMessage)]
    assert sorted(str(m.name) for m in tool_messages) == ["get_population", "get_weather"]
    called = [c for m in messages if isinstance(m, AIMessage) for c in m.tool_calls]
    assert {c["id"] for c in called} == {m.tool_call_id for m in tool_messages}
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert not final.tool_calls
    assert "sunny" in final.text and "2100000" in final.text
    assert len(standin.requests) == 2
    assert all(m.usage_metadata for m in messages if isinstance(m, AIMessage))


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def test_agent_invoke(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    agent = create_agent(make_model(dialect=dialect), tools=[get_weather, get_population])
    result = agent.invoke({"messages": [HumanMessage(PROMPT)]})
    _check_run(result["messages"], standin)
    assert sorted(c.split(":")[0] for c in CALLS) == ["population", "weather"]
    assert all("Paris" in c for c in CALLS)


async def _astream(agent: Any) -> tuple[list[str], dict[str, Any]]:
    """Stream ``agent`` in the messages and values modes: (text pieces, final state)."""
    tokens: list[str] = []
    final: dict[str, Any] = {}
    async for mode, data in agent.astream(
        {"messages": [HumanMessage(PROMPT)]}, stream_mode=["messages", "values"]
    ):
        if mode == "messages":
            chunk = data[0]
            if isinstance(chunk, AIMessage) and chunk.text:
                tokens.append(chunk.text)
        elif isinstance(data, dict):
            final = data
    return tokens, final


async def test_agent_astream(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    agent = create_agent(
        make_model(dialect=dialect, streaming=True), tools=[get_weather, get_population]
    )
    tokens, final = await _astream(agent)
    _check_run(final["messages"], standin)
    assert tokens and "".join(tokens).endswith(final["messages"][-1].text)
    assert all(r.json and r.json.get("stream") is True for r in standin.requests)


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason=(
        "Python < 3.11: asyncio tasks take no context, so LangChain cannot carry its callbacks "
        "into create_agent's async model call and stream_mode='messages' gets the answer as one "
        "message (langchain-core's own fake chat model does the same; LangGraph documents it)"
    ),
)
async def test_agent_astream_messages_arrive_token_by_token(
    standin: StandIn, make_model: MakeModel
) -> None:
    agent = create_agent(make_model(streaming=True), tools=[get_weather, get_population])
    tokens, final = await _astream(agent)
    assert len(tokens) > 1
    assert "".join(tokens).endswith(final["messages"][-1].text)


def test_agent_stream_sync(standin: StandIn, make_model: MakeModel) -> None:
    agent = create_agent(make_model(streaming=True), tools=[get_weather, get_population])
    last: dict[str, Any] = {}
    for state in agent.stream({"messages": [HumanMessage(PROMPT)]}, stream_mode="values"):
        last = state
    _check_run(last["messages"], standin)
