"""`ChatModelsLab` tool calls and structured output on the local llama.cpp server, in both wire
dialects, where the server's grammar constrains the answer: every call and object is checked
field by field against its schema (types, enum values), and what went back to the server is
read off the wire. (The standard suite covers the other structured-output methods and the
streamed tool calls; notebook 02 runs all three methods with ``include_raw``.)
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from real_env import BOOKING_TEXT, Booking, Recorder, assert_booking, chat_model

pytestmark = pytest.mark.real_model

DIALECTS = ["openai", "anthropic"]


@tool
def ferry_fare(adults: int, children: int) -> str:
    """Price in pounds of return ferry tickets to Corran for a group."""
    return f"{14 * adults + 7 * children} pounds"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_forced_tool_call_round_trip(llama_server: Any, dialect: str) -> None:
    """``tool_choice="any"``: one call with the prompt's numbers as schema-valid arguments; its
    result goes back to the server in the next request and the model answers in text.
    (Streamed tool calls: the standard suite's test_tool_calling.)"""
    recorder = Recorder()
    llm = chat_model(llama_server, dialect, recorder)
    question = HumanMessage("What do return ferry tickets cost for 2 adults and 3 children?")
    call_msg = llm.bind_tools([ferry_fare], tool_choice="any").invoke([question])
    assert isinstance(call_msg, AIMessage)
    assert not call_msg.invalid_tool_calls
    assert len(call_msg.tool_calls) == 1
    call = call_msg.tool_calls[0]
    assert call["name"] == "ferry_fare" and call["id"]
    assert call["args"] == {"adults": 2, "children": 3}
    usage = call_msg.usage_metadata
    assert usage and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]

    result = ferry_fare.invoke(call["args"])
    assert result == "49 pounds"
    history = [question, call_msg, ToolMessage(result, tool_call_id=call["id"])]
    history.append(HumanMessage("Using that result, answer my question in one sentence."))
    answer = llm.invoke(history)
    assert isinstance(answer.content, str) and answer.content.strip()
    assert "49 pounds" in recorder.text(), "the tool result reached the server"
    assert len(recorder.bodies) == 2


@pytest.mark.parametrize("dialect", DIALECTS)
def test_structured_output_json_schema(llama_server: Any, dialect: str) -> None:
    """``method="json_schema"``: parsed, no parsing error, the raw message carries it, and the
    streamed object ends equal to the invoked one."""
    recorder = Recorder()
    llm = chat_model(llama_server, dialect, recorder)
    extractor = llm.with_structured_output(Booking, method="json_schema", include_raw=True)
    out = extractor.invoke(f"Extract the booking request: {BOOKING_TEXT}")
    assert out["parsing_error"] is None
    booking = assert_booking(out["parsed"])
    raw = out["raw"]
    assert isinstance(raw, AIMessage) and raw.usage_metadata
    if dialect == "openai":  # a response_format: the object is the answer's text
        assert recorder.bodies[0]["response_format"]["type"] == "json_schema"
        assert Booking.model_validate_json(str(raw.content)) == booking
    else:  # a forced tool call: the object is the call's input
        assert recorder.bodies[0]["tool_choice"] == {"type": "tool", "name": "Booking"}
        assert [c["args"] for c in raw.tool_calls] == [booking.model_dump()]

    streamed = list(
        llm.with_structured_output(Booking, method="json_schema").stream(
            f"Extract the booking request: {BOOKING_TEXT}"
        )
    )
    assert streamed and streamed[-1] == booking
