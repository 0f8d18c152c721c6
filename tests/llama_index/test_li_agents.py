"""LlamaIndex agents on `ModelsLab` against the stand-in: each reaches a final answer with a
tool call in between (FunctionAgent streaming on and off, AgentWorkflow, ReActAgent)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import Reply, StandIn


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def _run(workflow: Any, question: str) -> tuple[str, list[Any]]:
    """Run an agent or workflow to its end; the final text and every streamed event."""
    handler = workflow.run(user_msg=question)
    events = [event async for event in handler.stream_events()]
    result = await handler
    return str(result), events


def _tool_results(events: list[Any]) -> list[tuple[str, dict[str, Any], str]]:
    return [
        (e.tool_name, e.tool_kwargs, str(e.tool_output.content))
        for e in events
        if isinstance(e, ToolCallResult)
    ]


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "blocking"])
async def test_function_agent(
    llm: ModelsLab, standin: StandIn, dialect: str, streaming: bool
) -> None:
    agent = FunctionAgent(tools=[add], llm=llm, streaming=streaming, system_prompt="Use tools.")
    answer, events = await _run(agent, "What is 2 plus 3? Use add.")

    assert answer == "Tool result: 5"
    assert _tool_results(events) == [("add", {"a": 2, "b": 3}, "5")]
    streamed = "".join(e.delta for e in events if isinstance(e, AgentStream))
    assert (streamed == "Tool result: 5") is streaming
    assert len(standin.requests) == 2
    first, second = (r.json for r in standin.requests)
    assert ("stream" in first) is streaming
    assert [t.get("name") or t["function"]["name"] for t in first["tools"]] == ["add"]
    # The second turn carries the call and its result back, in the dialect's shape.
    if dialect == "openai":
        assert first["messages"][0] == {"role": "system", "content": "Use tools."}
        call = second["messages"][-2]["tool_calls"][0]
        assert second["messages"][-1] == {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": "5",
        }
    else:
        assert first["system"] == "Use tools."
        use = second["messages"][-2]["content"][-1]
        assert use["type"] == "tool_use" and use["input"] == {"a": 2, "b": 3}
        assert second["messages"][-1]["content"] == [
            {"type": "tool_result", "tool_use_id": use["id"], "content": "5"}
        ]


async def test_agent_workflow(llm: ModelsLab, standin: StandIn, dialect: str) -> None:
    workflow = AgentWorkflow.from_tools_or_functions([add], llm=llm)
    answer, events = await _run(workflow, "Please add 20 and 22")

    assert answer == "Tool result: 42"
    assert _tool_results(events) == [("add", {"a": 20, "b": 22}, "42")]
    assert len(standin.requests) == 2


def _react_answer(text: str) -> Reply:
    return Reply(text=f"Thought: I can answer without using any more tools.\nAnswer: {text}")


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "blocking"])
async def test_react_agent(llm: ModelsLab, standin: StandIn, streaming: bool) -> None:
    standin.enqueue(
        Reply(text='Thought: I need to add.\nAction: add\nAction Input: {"a": 2, "b": 3}'),
        _react_answer("The sum is 5."),
    )
    agent = ReActAgent(tools=[add], llm=llm, streaming=streaming)
    answer, events = await _run(agent, "What is 2 plus 3?")

    assert answer == "The sum is 5."
    assert _tool_results(events) == [("add", {"a": 2, "b": 3}, "5")]
    assert len(standin.requests) == 2
    second = standin.requests[1].json
    assert "tools" not in second and "tool_choice" not in second
    texts = [str(m.get("content")) for m in second["messages"]]
    assert any("Observation: 5" in t for t in texts)


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "blocking"])
async def test_function_agent_refuses_cut_tool_arguments(
    llm: ModelsLab, standin: StandIn, dialect: str, streaming: bool
) -> None:
    """Cut-short arguments on the final answer stop the run with a clear error; the tool
    (which would happily run with a defaulted ``b``) is never called."""
    ran: list[tuple[int, int]] = []

    def record(a: int, b: int = 0) -> int:
        """Add two integers (b defaults to 0)."""
        ran.append((a, b))
        return a + b

    standin.enqueue(Reply(tool_calls=[{"name": "record", "arguments": '{"a": 2, "b'}]))
    agent = FunctionAgent(tools=[record], llm=llm, streaming=streaming)
    with pytest.raises(ValueError, match=r"Tool call 'record'.*not valid JSON"):
        await _run(agent, "What is 2 plus 3? Use record.")
    assert ran == []
    assert len(standin.requests) == 1
