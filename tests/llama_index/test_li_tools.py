"""Tool calling: `_prepare_chat_with_tools` on the wire, `get_tool_calls_from_response`
(partial mid-stream, exact at the end), tool-call round trips, `predict_and_call`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from li_helpers import user, wire
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import Reply, StandIn


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


ADD = FunctionTool.from_defaults(add)
MULTIPLY = FunctionTool.from_defaults(multiply)
PARAMS = {
    "properties": {"a": {"title": "A", "type": "integer"}, "b": {"title": "B", "type": "integer"}},
    "required": ["a", "b"],
    "type": "object",
}


def wire_tools(dialect: str, *tools: FunctionTool, strict: bool = False) -> list[dict[str, Any]]:
    """The tools as each dialect writes them."""
    out = []
    for tool in tools:
        name, description = tool.metadata.name, tool.metadata.description
        if dialect == "anthropic":
            out.append({"name": name, "description": description, "input_schema": PARAMS})
        else:
            function = {"name": name, "description": description, "parameters": PARAMS}
            if strict:
                function["strict"] = True
            out.append({"type": "function", "function": function})
    return out


def wire_choice(dialect: str, choice: str, parallel: bool) -> dict[str, Any]:
    """``tool_choice`` (+ parallel flag) as each dialect writes them."""
    if dialect == "openai":
        named = {"type": "function", "function": {"name": choice}}
        value = choice if choice in ("auto", "required") else named
        return {"tool_choice": value, "parallel_tool_calls": parallel}
    kind = {"auto": {"type": "auto"}, "required": {"type": "any"}}.get(
        choice, {"type": "tool", "name": choice}
    )
    return {"tool_choice": kind if parallel else {**kind, "disable_parallel_tool_use": True}}


async def chat_with_tools(llm: ModelsLab, sync: bool, *args: Any, **kw: Any) -> ChatResponse:
    """``chat_with_tools`` or ``achat_with_tools``."""
    if sync:
        return llm.chat_with_tools(*args, **kw)
    return await llm.achat_with_tools(*args, **kw)


@pytest.mark.parametrize(
    ("options", "choice", "parallel"),
    [
        ({}, "auto", False),
        ({"tool_required": True}, "required", False),
        ({"tool_choice": "multiply"}, "multiply", False),
        ({"tool_choice": {"type": "function", "function": {"name": "add"}}}, "add", False),
        ({"allow_parallel_tool_calls": True}, "auto", True),
    ],
)
async def test_chat_with_tools_wire(
    llm: ModelsLab,
    standin: StandIn,
    dialect: str,
    sync: bool,
    options: dict[str, Any],
    choice: str,
    parallel: bool,
) -> None:
    response = await chat_with_tools(
        llm, sync, [ADD, MULTIPLY], user_msg="What is 2 plus 3?", **options
    )

    assert standin.last_request.json == wire(
        dialect,
        [user("What is 2 plus 3?")],
        tools=wire_tools(dialect, ADD, MULTIPLY),
        **wire_choice(dialect, choice, parallel),
    )
    calls = llm.get_tool_calls_from_response(response)
    expected = "multiply" if choice == "multiply" else "add"
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [(expected, {"a": 2, "b": 3})]
    assert calls[0].tool_id.startswith("call_" if dialect == "openai" else "toolu_")
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_call_id, b.tool_name) for b in blocks] == [(calls[0].tool_id, expected)]
    legacy = response.message.additional_kwargs["tool_calls"]
    assert json.loads(legacy[0]["function"]["arguments"]) == {"a": 2, "b": 3}


async def test_strict_tools(
    make_llm: Callable[..., ModelsLab], standin: StandIn, dialect: str, sync: bool
) -> None:
    llm = make_llm(strict=True)
    await chat_with_tools(llm, sync, [ADD], user_msg="add 1 and 2")
    assert standin.last_request.json["tools"] == wire_tools(dialect, ADD, strict=True)


async def test_parallel_calls_kept_only_when_allowed(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    two = [
        {"name": "add", "arguments": {"a": 1, "b": 2}},
        {"name": "multiply", "arguments": {"a": 3, "b": 4}},
    ]
    standin.enqueue(Reply(tool_calls=two), Reply(tool_calls=two))
    single = await chat_with_tools(llm, sync, [ADD, MULTIPLY], user_msg="add and multiply")
    both = await chat_with_tools(
        llm, sync, [ADD, MULTIPLY], user_msg="add and multiply", allow_parallel_tool_calls=True
    )
    assert [c.tool_name for c in llm.get_tool_calls_from_response(single)] == ["add"]
    assert len(single.message.additional_kwargs["tool_calls"]) == 1
    assert [c.tool_kwargs for c in llm.get_tool_calls_from_response(both)] == [
        {"a": 1, "b": 2},
        {"a": 3, "b": 4},
    ]


def test_no_tool_call(llm: ModelsLab, standin: StandIn) -> None:
    response = llm.chat([ChatMessage(role="user", content="hi")])
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(response)
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


async def test_streamed_tool_calls_are_partial_then_exact(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    if sync:
        responses = list(llm.stream_chat_with_tools([ADD], user_msg="What is 2 plus 3?"))
    else:
        gen = await llm.astream_chat_with_tools([ADD], user_msg="What is 2 plus 3?")
        responses = [r async for r in gen]
    assert standin.last_request.json["stream"] is True
    seen = [llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) for r in responses]
    kwargs = [s[0].tool_kwargs for s in seen if s]
    assert kwargs[0] == {}  # the call is announced before its arguments arrive
    assert {"a": 2} in kwargs  # a cut-short '{"a": 2,' is recovered mid-stream
    assert kwargs[-1] == {"a": 2, "b": 3}
    final = [b for b in responses[-1].message.blocks if isinstance(b, ToolCallBlock)]
    assert final[0].tool_kwargs == {"a": 2, "b": 3}  # exact (parsed strictly) on the last chunk
    assert responses[-1].additional_kwargs["finish_reason"] == "tool_calls"
    assert responses[-1].additional_kwargs["completion_tokens"] > 0


def _round_trip_wire(dialect: str, call_id: str) -> list[dict[str, Any]]:
    if dialect == "openai":
        return [
            user("What is 2 plus 3?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "5"},
        ]
    return [
        user("What is 2 plus 3?"),
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": call_id, "name": "add", "input": {"a": 2, "b": 3}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call_id, "content": "5"}],
        },
    ]


@pytest.mark.parametrize("form", ["blocks", "additional_kwargs"])
async def test_tool_calls_and_results_round_trip(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool, form: str
) -> None:
    call_id = "call_abc123"
    if form == "blocks":
        assistant = ChatMessage(
            role="assistant",
            blocks=[
                ToolCallBlock(tool_call_id=call_id, tool_name="add", tool_kwargs={"a": 2, "b": 3})
            ],
        )
    else:  # how other integrations keep tool calls in memory
        legacy = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
            }
        ]
        assistant = ChatMessage(
            role="assistant", content="", additional_kwargs={"tool_calls": legacy}
        )
    history = [
        ChatMessage(role="user", content="What is 2 plus 3?"),
        assistant,
        ChatMessage(
            role="tool", blocks=[TextBlock(text="5")], additional_kwargs={"tool_call_id": call_id}
        ),
    ]
    response = await chat_with_tools(llm, sync, [ADD], chat_history=history)
    assert response.message.content == "Tool result: 5"
    assert standin.last_request.json == wire(
        dialect,
        _round_trip_wire(dialect, call_id),
        tools=wire_tools(dialect, ADD),
        **wire_choice(dialect, "auto", False),
    )


async def test_predict_and_call(llm: ModelsLab, standin: StandIn, dialect: str, sync: bool) -> None:
    if sync:
        result = llm.predict_and_call([ADD, MULTIPLY], user_msg="Please multiply 6 and 7")
    else:
        result = await llm.apredict_and_call([ADD, MULTIPLY], user_msg="Please multiply 6 and 7")
    assert result.response == "42"
    assert [s.tool_name for s in result.sources] == ["multiply"]
    assert result.sources[0].raw_input == {"args": (), "kwargs": {"a": 6, "b": 7}}
    body = standin.last_request.json
    assert body["messages"] == [user("Please multiply 6 and 7")]
    assert len(standin.requests) == 1
