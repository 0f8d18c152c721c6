"""Tool calling: `_prepare_chat_with_tools` on the wire, `get_tool_calls_from_response`
(partial mid-stream, exact at the end), tool-call round trips, `predict_and_call`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from li_helpers import user, wire
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool, ToolMetadata
from pydantic import BaseModel, ConfigDict

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


CUT = '{"a": 2, "b'  # arguments cut short (as when max_tokens ends the answer mid-call)


async def test_final_cut_arguments_raise_not_a_selection(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    """A final answer is read exactly: cut arguments name the call in a ValueError."""
    standin.enqueue(Reply(tool_calls=[{"name": "add", "arguments": CUT}]))
    response = await chat_with_tools(llm, sync, [ADD], user_msg="What is 2 plus 3?")
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_name, b.tool_kwargs) for b in blocks] == [("add", CUT)]  # raw text kept
    with pytest.raises(ValueError, match=r"Tool call 'add'.*not valid JSON") as info:
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    assert blocks[0].tool_call_id in str(info.value) and CUT in str(info.value)


@pytest.mark.parametrize("raw", ["[1, 2]", '"a"'], ids=["array", "string"])
def test_final_arguments_must_be_an_object(llm: ModelsLab, raw: str) -> None:
    response = ChatResponse(
        message=ChatMessage(
            role="assistant",
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs=raw)],
        )
    )
    with pytest.raises(ValueError, match=r"'add'.*not an object"):
        llm.get_tool_calls_from_response(response)


def test_final_arguments_as_json_text_are_parsed(llm: ModelsLab) -> None:
    """An unmarked response whose arguments are whole JSON text (e.g. from memory) is fine."""
    blocks = [
        ToolCallBlock(tool_call_id="c1", tool_name="add", tool_kwargs='{"a": 1, "b": 2}'),
        ToolCallBlock(tool_call_id="c2", tool_name="add", tool_kwargs=""),
    ]
    response = ChatResponse(message=ChatMessage(role="assistant", blocks=blocks))
    calls = llm.get_tool_calls_from_response(response)
    assert [(c.tool_id, c.tool_kwargs) for c in calls] == [("c1", {"a": 1, "b": 2}), ("c2", {})]


async def test_streamed_cut_arguments_lenient_mid_stream_strict_at_the_end(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    standin.enqueue(Reply(tool_calls=[{"name": "add", "arguments": CUT}]))
    if sync:
        responses = list(llm.stream_chat_with_tools([ADD], user_msg="What is 2 plus 3?"))
    else:
        gen = await llm.astream_chat_with_tools([ADD], user_msg="What is 2 plus 3?")
        responses = [r async for r in gen]
    *middle, last = responses
    seen = [llm.get_tool_calls_from_response(r, error_on_no_tool_call=False) for r in middle]
    assert [s[0].tool_kwargs for s in seen if s][-1] == {"a": 2}  # recovered for display
    with_calls = [r for r in middle if any(isinstance(b, ToolCallBlock) for b in r.message.blocks)]
    assert with_calls and all(r.additional_kwargs["partial_tool_calls"] for r in with_calls)
    assert "partial_tool_calls" not in last.additional_kwargs
    final = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_name, b.tool_kwargs) for b in final] == [("add", CUT)]
    with pytest.raises(ValueError, match=r"Tool call 'add'.*not valid JSON"):
        llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)


async def test_predict_and_call_refuses_cut_arguments(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    ran: list[tuple[int, int]] = []

    def record(a: int, b: int = 0) -> int:
        """Add two integers (b defaults to 0)."""
        ran.append((a, b))
        return a + b

    standin.enqueue(Reply(tool_calls=[{"name": "record", "arguments": CUT}]))
    tool = FunctionTool.from_defaults(record)
    with pytest.raises(ValueError, match="'record'"):
        if sync:
            llm.predict_and_call([tool], user_msg="What is 2 plus 3?")
        else:
            await llm.apredict_and_call([tool], user_msg="What is 2 plus 3?")
    assert ran == []  # the tool never ran with the cut value b=<missing> -> 0


def test_tool_schema_that_is_not_json_fails_before_sending(
    llm: ModelsLab, standin: StandIn
) -> None:
    class Opaque:
        pass

    class Args(BaseModel):
        model_config = ConfigDict(arbitrary_types_allowed=True)
        handle: Opaque

    tool = FunctionTool(
        fn=lambda handle: handle,
        metadata=ToolMetadata(name="opaque_tool", description="d", fn_schema=Args),
    )
    with pytest.raises(TypeError, match="Tool 'opaque_tool' cannot be described as JSON schema"):
        list(llm.stream_chat_with_tools([tool], user_msg="hi"))
    with pytest.raises(TypeError, match="opaque_tool"):
        llm.count_tokens([ChatMessage(role="user", content="hi")], tools=[tool])
    assert standin.requests == []
