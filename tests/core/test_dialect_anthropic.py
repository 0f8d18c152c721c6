"""The Anthropic messages codec: request encoding, response and event decoding (pure)."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from _support import FIXTURES, read_sse
from hypothesis import given, settings
from hypothesis import strategies as st

from modelslab_core.dialects import ANTHROPIC, DialectCodec
from modelslab_core.dialects.anthropic_decode import decode_event, new_stream_state
from modelslab_core.dialects.anthropic_encode import (
    DEFAULT_MAX_TOKENS,
    JSON_OBJECT_INSTRUCTION,
    encode_count_tokens,
)
from modelslab_core.exceptions import (
    APIResponseValidationError,
    OverloadedError,
)
from modelslab_core.structured import plan
from modelslab_core.transport.accumulate import StreamAccumulator
from modelslab_core.types import (
    ChatRequest,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    ReasoningPart,
    StreamDelta,
    TextPart,
    ToolCall,
    ToolSpec,
)

CODEC: DialectCodec = ANTHROPIC


def run_stream(name: str) -> tuple[list[StreamDelta], list[tuple[str | None, bool, int]]]:
    """All deltas, and ``(event, done, number of deltas)`` per event."""
    state = CODEC.new_stream_state()
    deltas: list[StreamDelta] = []
    trace = []
    for event, data in read_sse(name):
        out, done = CODEC.decode_event(state, event, data)
        deltas.extend(out)
        trace.append((event, done, len(out)))
    return deltas, trace


def req(messages: list[Message], **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="claude-sonnet-4", messages=messages, **kwargs)


def encode(request: ChatRequest, *, stream: bool = False) -> Any:
    return CODEC.encode_request(request, stream=stream, model_field="model")


# --------------------------------------------------------------------------- encoding


def test_dialect_identity() -> None:
    assert (CODEC.name, CODEC.path) == ("anthropic", "/v1/messages")


def test_system_hoisted_and_roles_merged() -> None:
    body = encode(
        req(
            [
                Message.text("system", "Be brief."),
                Message.text("user", "Hello"),
                Message.text("user", "Are you there?"),
                Message.text("system", "Answer in French."),
                Message.text("assistant", "Oui."),
            ]
        )
    )
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hello"},
                {"type": "text", "text": "Are you there?"},
            ],
        },
        {"role": "assistant", "content": "Oui."},
    ]
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS == 1024


def test_tool_use_and_tool_results() -> None:
    messages = [
        Message.text("user", "Weather in Paris and Rome?"),
        Message.text(
            "assistant",
            "Checking.",
            tool_calls=[
                ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"}),
                ToolCall(id="toolu_2", name="get_weather", arguments={"city": "Rome"}),
            ],
        ),
        Message.text("tool", "21C", tool_call_id="toolu_1"),
        Message.text("tool", "boom", tool_call_id="toolu_2", is_error=True),
        Message.text("user", "Thanks"),
    ]
    wire = encode(req(messages))["messages"]
    assert [m["role"] for m in wire] == ["user", "assistant", "user"]
    assert wire[1]["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert wire[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "21C"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
        {"type": "text", "text": "Thanks"},
    ]


def test_tool_results_come_first_in_a_merged_user_turn() -> None:
    messages = [
        Message(role="assistant", tool_calls=[ToolCall(id="t", name="f")]),
        Message.text("user", "also this"),
        Message.text("tool", "done", tool_call_id="t"),
    ]
    content = encode(req(messages))["messages"][1]["content"]
    assert [b["type"] for b in content] == ["tool_result", "text"]


def test_images_and_thinking() -> None:
    user = Message(
        role="user",
        content=[
            TextPart(text="Compare"),
            ImagePart(url="https://example.com/a.png"),
            ImagePart(data="QUJD", mime_type="image/jpeg"),
            ImagePart(url="data:image/gif;base64,R0lG"),
        ],
    )
    assistant = Message(
        role="assistant",
        content=[
            TextPart(text="They differ."),
            ReasoningPart(text="signed thought", signature="sig"),
            ReasoningPart(text="unsigned thought"),
        ],
    )
    wire = encode(req([user, assistant]))["messages"]
    assert wire[0]["content"][1:] == [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0lG"}},
    ]
    assert wire[1]["content"] == [
        {"type": "thinking", "thinking": "signed thought", "signature": "sig"},
        {"type": "text", "text": "They differ."},
    ]


def test_tool_result_with_image_is_a_block_list() -> None:
    result = Message(
        role="tool",
        tool_call_id="t",
        content=[TextPart(text="chart:"), ImagePart(url="https://x/y.png")],
    )
    block = encode(req([result]))["messages"][0]["content"][0]
    assert block["content"] == [
        {"type": "text", "text": "chart:"},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
    ]


def test_fields_and_extra_body() -> None:
    params = {"type": "object", "properties": {"q": {"type": "string"}}}
    body = encode(
        req(
            [Message.text("user", "hi")],
            max_tokens=300,
            temperature=0.2,
            top_p=0.8,
            top_k=5,
            stop=["END"],
            seed=3,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            repetition_penalty=1.2,
            tools=[ToolSpec(name="search", description="Search", parameters=params)],
            extra_body={"metadata": {"user_id": "u"}, "max_tokens": 77},
        ),
        stream=True,
    )
    assert body["max_tokens"] == 77
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.8, 5)
    assert body["stop_sequences"] == ["END"]
    assert body["stream"] is True
    assert body["metadata"] == {"user_id": "u"}
    assert body["tools"] == [{"name": "search", "description": "Search", "input_schema": params}]
    for absent in (
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "stop",
        "stream_options",
        "tool_choice",
        "system",
    ):
        assert absent not in body


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (NamedToolChoice(name="f"), None, {"type": "tool", "name": "f"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: Any) -> None:
    body = encode(
        req(
            [Message.text("user", "hi")],
            tools=[ToolSpec(name="f")],
            tool_choice=choice,
            parallel_tool_calls=parallel,
        )
    )
    assert body.get("tool_choice") == expected


def test_json_schema_becomes_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    body = encode(
        req(
            [Message.text("user", "Who?")],
            tools=[ToolSpec(name="other")],
            tool_choice="auto",
            response_format=JsonSchemaFormat(name="Person", schema=schema),
        )
    )
    assert body["tools"][-1]["name"] == "Person"
    assert body["tools"][-1]["input_schema"] == schema
    assert body["tool_choice"] == {"type": "tool", "name": "Person"}
    answer = {
        "content": [
            {"type": "tool_use", "id": "toolu_9", "name": "Person", "input": {"name": "Ada"}}
        ],
        "stop_reason": "tool_use",
    }
    chosen = plan("json_schema", {"name": "Person", "parameters": schema})
    assert chosen.read_result(CODEC.decode_response(answer), "anthropic") == {"name": "Ada"}


@pytest.mark.parametrize("system", [None, "Be nice."])
def test_json_object_becomes_a_system_instruction(system: str | None) -> None:
    messages = [Message.text("user", "Give me JSON")]
    if system:
        messages.insert(0, Message.text("system", system))
    body = encode(req(messages, response_format=JsonObjectFormat()))
    assert body["system"].endswith(JSON_OBJECT_INSTRUCTION)
    assert body["system"].startswith(system or JSON_OBJECT_INSTRUCTION)
    assert "response_format" not in body


def test_count_tokens_body() -> None:
    request = req(
        [Message.text("system", "S"), Message.text("user", "hi")],
        tools=[ToolSpec(name="f")],
        max_tokens=50,
    )
    body = encode_count_tokens(request)
    assert body == {
        "model": "claude-sonnet-4",
        "messages": [{"role": "user", "content": "hi"}],
        "system": "S",
        "tools": [
            {"name": "f", "description": "", "input_schema": {"type": "object", "properties": {}}}
        ],
    }


def test_encoding_is_linear_in_history_length() -> None:
    roles: list[Any] = ["user", "user", "assistant", "tool"]
    big = req([Message.text(roles[i % 4], f"m{i}", tool_call_id="t") for i in range(10_000)])
    start = time.perf_counter()
    body = encode(big)
    assert time.perf_counter() - start < 2.0
    assert len(body["messages"]) == 5_001  # [u u] then [a], [t u u] x 2500


# --------------------------------------------------------------------------- responses


def test_decode_response_fixture() -> None:
    body = json.loads((FIXTURES / "anthropic_response.json").read_text())
    result = CODEC.decode_response(body)
    assert (result.id, result.model) == ("msg_01Aq9w938a90dw8q", "claude-sonnet-4-20250514")
    assert result.text == "I'll check the weather."
    assert (result.reasoning, result.reasoning_signature) == (
        "The user wants the weather.",
        "sig-abc",
    )
    assert result.tool_calls == [
        ToolCall(
            id="toolu_01A09q90qw90lq917835lq9",
            name="get_weather",
            arguments={"location": "San Francisco, CA", "unit": "celsius"},
        )
    ]
    assert (result.finish_reason, result.raw_finish_reason) == ("tool_calls", "tool_use")
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (2195, 503)
    assert result.usage.total_tokens == 2698
    assert result.usage.cache_read_tokens == 100
    assert result.raw["content"][-1]["type"] == "server_tool_use_future"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "unknown"),
    ],
)
def test_stop_reasons(raw: str, expected: str) -> None:
    result = CODEC.decode_response({"content": [], "stop_reason": raw})
    assert (result.finish_reason, result.raw_finish_reason) == (expected, raw)


def test_missing_content_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError, match="content"):
        CODEC.decode_response({"id": "msg_x", "type": "message"})


def test_error_body_is_a_typed_error() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(OverloadedError):
        CODEC.decode_response(body)


def test_round_trip_assistant_turn() -> None:
    calls = [ToolCall(id="toolu_1", name="f", arguments={"a": [1, {"b": None}]})]
    msg = Message(role="assistant", content=[TextPart(text="Sure.")], tool_calls=calls)
    wire = encode(req([Message.text("user", "q"), msg]))["messages"][1]
    result = CODEC.decode_response({"content": wire["content"], "stop_reason": "tool_use"})
    assert (result.text, result.tool_calls) == ("Sure.", calls)


# --------------------------------------------------------------------------- streaming


def test_stream_tools_fixture() -> None:
    deltas, trace = run_stream("anthropic_stream_tools.sse")
    assert [done for _, done, _ in trace] == [False] * (len(trace) - 1) + [True]
    assert ("ping", False, 0) in trace
    assert deltas[0].id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert deltas[0].model == "claude-sonnet-4-20250514"
    chunks = [c for d in deltas for c in d.tool_call_chunks]
    assert [(c.index, c.id, c.name) for c in chunks if c.id] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        (1, "toolu_02", "get_time"),
    ]
    usages = [d.usage for d in deltas if d.usage is not None]
    assert len(usages) == 1
    assert (usages[0].input_tokens, usages[0].output_tokens) == (472, 89)
    acc = StreamAccumulator()
    for d in deltas:
        acc.add(d)
    result = acc.result()
    assert result.text == "Okay, let me check the weather."
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"location": "San Francisco, CA", "unit": "fahrenheit"}),
        ("get_time", {}),
    ]
    assert result.finish_reason == "tool_calls"


def test_stream_thinking_fixture() -> None:
    deltas, trace = run_stream("anthropic_stream_thinking.sse")
    assert ("future_event_type", False, 0) in trace
    acc = StreamAccumulator()
    for d in deltas:
        acc.add(d)
    result = acc.result()
    assert result.reasoning is not None
    assert result.reasoning.startswith("Let me solve this step by step")
    assert result.reasoning.endswith("400 + 50 + 3")
    assert result.reasoning_signature == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    assert result.text == "27 * 453 = 12,231"
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (46, 282)
    assert result.usage.cache_read_tokens == 10


def test_stream_usage_from_message_start_when_delta_has_none() -> None:
    state = new_stream_state()
    decode_event(
        state,
        "message_start",
        {
            "type": "message_start",
            "message": {"id": "m", "usage": {"input_tokens": 9, "output_tokens": 3}},
        },
    )
    out, _ = decode_event(
        state, "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
    )
    assert out[0].usage is not None and out[0].usage.input_tokens == 9
    end, done = decode_event(state, "message_stop", {"type": "message_stop"})
    assert (end, done) == ([], True)


def test_stream_event_name_used_when_type_missing() -> None:
    state = new_stream_state()
    out, done = decode_event(
        state, "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "hi"}}
    )
    assert [d.text for d in out] == ["hi"] and not done


def test_stream_error_event_raises_typed_error() -> None:
    data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(OverloadedError, match="Overloaded"):
        decode_event(new_stream_state(), "error", data)


def test_stream_malformed_event_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError):
        decode_event(new_stream_state(), None, {"type": "content_block_delta", "delta": "x"})


# --------------------------------------------------------------------------- properties

_text = st.text(min_size=1, max_size=12)
_ids = st.from_regex(r"toolu_[a-z0-9]{1,6}", fullmatch=True)
_message = st.one_of(
    st.builds(Message.text, st.sampled_from(["system", "user", "assistant"]), _text),
    st.builds(
        lambda t, i: Message.text(
            "assistant", t, tool_calls=[ToolCall(id=i, name="f", arguments={"t": t})]
        ),
        _text,
        _ids,
    ),
    st.builds(lambda t, i: Message.text("tool", t, tool_call_id=i), _text, _ids),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_message, min_size=1, max_size=15))
def test_property_encode_merges_and_keeps_everything(messages: list[Message]) -> None:
    body = CODEC.encode_request(req(messages), stream=False, model_field="both")
    json.dumps(body)
    wire = body["messages"]
    roles = [m["role"] for m in wire]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert set(roles) <= {"user", "assistant"}
    systems = [m.text_content for m in messages if m.role == "system"]
    assert body.get("system") == ("\n\n".join(systems) if systems else None)
    blocks = [
        b
        for m in wire
        for b in (
            m["content"]
            if isinstance(m["content"], list)
            else [{"type": "text", "text": m["content"]}]
        )
    ]
    uses = [(b["id"], b["input"]) for b in blocks if b["type"] == "tool_use"]
    assert uses == [(c.id, c.arguments) for m in messages for c in m.tool_calls]
    results = [(b["tool_use_id"], b["content"]) for b in blocks if b["type"] == "tool_result"]
    assert sorted(results) == sorted(
        (m.tool_call_id, m.text_content) for m in messages if m.role == "tool"
    )
    texts = [b["text"] for b in blocks if b["type"] == "text"]
    assert sorted(texts) == sorted(
        m.text_content for m in messages if m.role in ("user", "assistant")
    )


# --------------------------------------------------------------------------- model field


@pytest.mark.parametrize(
    ("model_field", "keys"),
    [("model", {"model"}), ("model_id", {"model", "model_id"}), ("both", {"model", "model_id"})],
)
@pytest.mark.parametrize("stream", [False, True])
def test_model_is_always_sent(model_field: Any, keys: set[str], stream: bool) -> None:
    """/v1/messages requires ``model``: ``model_id`` is only ever added next to it."""
    body = CODEC.encode_request(
        req([Message.text("user", "hi")]), stream=stream, model_field=model_field
    )
    assert {k for k in ("model", "model_id") if k in body} == keys
    assert all(body[k] == "claude-sonnet-4" for k in keys)
