"""The OpenAI chat-completions codec: request encoding, response and chunk decoding (pure)."""

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest
from _support import FIXTURES, read_sse
from hypothesis import given, settings
from hypothesis import strategies as st

from modelslab_core.dialects import OPENAI, DialectCodec
from modelslab_core.dialects.openai_decode import decode_event, new_stream_state
from modelslab_core.exceptions import (
    APIResponseValidationError,
    RateLimitError,
)
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

CODEC: DialectCodec = OPENAI


def run_stream(name: str) -> tuple[list[StreamDelta], list[bool]]:
    state = CODEC.new_stream_state()
    deltas: list[StreamDelta] = []
    dones: list[bool] = []
    for event, data in read_sse(name):
        if data == "[DONE]":
            break
        out, done = CODEC.decode_event(state, event, data)
        deltas.extend(out)
        dones.append(done)
    return deltas, dones


def req(messages: list[Message], **kwargs: Any) -> ChatRequest:
    return ChatRequest(model="meta-llama-llama-3.2-3b-instruct", messages=messages, **kwargs)


def encode(request: ChatRequest, *, stream: bool = False, model_field: Any = "model") -> Any:
    return CODEC.encode_request(request, stream=stream, model_field=model_field)


# --------------------------------------------------------------------------- encoding


def test_dialect_identity() -> None:
    assert CODEC.name == "openai"
    assert CODEC.path == "/chat/completions"


@pytest.mark.parametrize(
    ("model_field", "expected"),
    [("model", {"model"}), ("model_id", {"model_id"}), ("both", {"model", "model_id"})],
)
def test_model_field(model_field: Any, expected: set[str]) -> None:
    body = encode(req([Message.text("user", "hi")]), model_field=model_field)
    assert {k for k in body if k.startswith("model")} == expected
    assert all(body[k] == "meta-llama-llama-3.2-3b-instruct" for k in expected)


def test_messages_of_every_role() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})
    messages = [
        Message.text("system", "Be brief."),
        Message.text("user", "Weather?", name="alice"),
        Message(
            role="assistant",
            content=[ReasoningPart(text="thinking...", signature="s")],
            tool_calls=[call],
        ),
        Message.text("tool", '{"temp": 21}', tool_call_id="call_1"),
        Message.text("assistant", "It is 21C."),
    ]
    wire = encode(req(messages))["messages"]
    assert wire[0] == {"role": "system", "content": "Be brief."}
    assert wire[1] == {"role": "user", "content": "Weather?", "name": "alice"}
    assert wire[2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert json.loads(wire[2]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert wire[3] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}
    assert wire[4] == {"role": "assistant", "content": "It is 21C."}


def test_assistant_text_with_tool_calls_keeps_text() -> None:
    msg = Message.text("assistant", "Let me look.", tool_calls=[ToolCall(id="c", name="f")])
    wire = encode(req([Message.text("user", "x"), msg]))["messages"][1]
    assert wire["content"] == "Let me look."
    assert wire["tool_calls"][0]["function"]["arguments"] == "{}"


def test_image_parts() -> None:
    msg = Message(
        role="user",
        content=[
            TextPart(text="What is this?"),
            ImagePart(url="https://example.com/cat.png", detail="low"),
            ImagePart(data="iVBORw0KGgo=", mime_type="image/jpeg"),
            ImagePart(url="data:image/webp;base64,AAAA"),
        ],
    )
    content = encode(req([msg]))["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,AAAA"}},
    ]


def test_reasoning_parts_are_not_sent() -> None:
    msg = Message(role="assistant", content=[ReasoningPart(text="secret"), TextPart(text="answer")])
    wire = encode(req([Message.text("user", "q"), msg]))["messages"][1]
    assert wire == {"role": "assistant", "content": "answer"}
    assert "secret" not in json.dumps(wire)


def test_tools_choice_and_formats() -> None:
    params = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    request = req(
        [Message.text("user", "hi")],
        tools=[
            ToolSpec(name="get_weather", description="Weather for a city", parameters=params),
            ToolSpec(name="noop", strict=True),
        ],
        tool_choice=NamedToolChoice(name="get_weather"),
        parallel_tool_calls=False,
        response_format=JsonSchemaFormat(name="Answer", schema={"type": "object"}, strict=True),
    )
    body = encode(request)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": params,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "noop",
                "parameters": {"type": "object", "properties": {}},
                "strict": True,
            },
        },
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Answer", "schema": {"type": "object"}, "strict": True},
    }


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_string_tool_choice(choice: Any) -> None:
    body = encode(req([Message.text("user", "hi")], tools=[ToolSpec(name="f")], tool_choice=choice))
    assert body["tool_choice"] == choice


def test_json_object_format() -> None:
    body = encode(req([Message.text("user", "hi")], response_format=JsonObjectFormat()))
    assert body["response_format"] == {"type": "json_object"}


def test_sampling_only_when_set() -> None:
    body = encode(req([Message.text("user", "hi")]))
    assert set(body) == {"model", "messages"}
    body = encode(
        req(
            [Message.text("user", "hi")],
            temperature=0.0,
            top_p=0.9,
            top_k=40,
            frequency_penalty=0.1,
            presence_penalty=0.2,
            repetition_penalty=1.1,
            max_tokens=64,
            stop=["\n\n"],
            seed=7,
        )
    )
    assert body["temperature"] == 0.0
    assert (body["top_p"], body["top_k"], body["max_tokens"], body["seed"]) == (0.9, 40, 64, 7)
    assert (body["frequency_penalty"], body["presence_penalty"]) == (0.1, 0.2)
    assert body["repetition_penalty"] == 1.1
    assert body["stop"] == ["\n\n"]


@pytest.mark.parametrize(
    ("stream", "include_usage", "expected"),
    [
        (True, True, {"stream": True, "stream_options": {"include_usage": True}}),
        (True, False, {"stream": True}),
        (False, True, {}),
    ],
)
def test_stream_flags(stream: bool, include_usage: bool, expected: dict[str, Any]) -> None:
    body = encode(req([Message.text("user", "hi")], include_usage=include_usage), stream=stream)
    assert {k: body[k] for k in ("stream", "stream_options") if k in body} == expected


def test_extra_body_merged_last() -> None:
    request = req(
        [Message.text("user", "hi")],
        max_tokens=10,
        extra_body={"max_tokens": 99, "model": "other", "transforms": ["middle-out"]},
    )
    body = encode(request, stream=True)
    assert body["max_tokens"] == 99
    assert body["model"] == "other"
    assert body["transforms"] == ["middle-out"]
    assert list(body)[-1] == "transforms"


def test_encoding_is_linear_in_history_length() -> None:
    def history(n: int) -> ChatRequest:
        roles: list[Any] = ["user", "assistant"]
        return req([Message.text(roles[i % 2], f"message {i}") for i in range(n)])

    small, large = history(1_000), history(10_000)
    # A full collection of the whole test session's heap, due after building 11,000 messages,
    # must not land inside a timed call: it is not encoding time.
    gc.collect()

    def best_of_three(request: ChatRequest) -> float:
        """The fastest of three encodings: a busy machine only ever adds time."""
        times = []
        for _ in range(3):
            start = time.perf_counter()
            encode(request)
            times.append(time.perf_counter() - start)
        return min(times)

    t_small, t_large = best_of_three(small), best_of_three(large)
    assert len(encode(large)["messages"]) == 10_000
    assert t_large < 2.0
    assert t_large < 40 * max(t_small, 1e-4)  # linear: 10x the messages, not 100x the time


# --------------------------------------------------------------------------- responses


def test_decode_tool_calls_fixture() -> None:
    body = json.loads((FIXTURES / "openai_response_tool_calls.json").read_text())
    result = CODEC.decode_response(body)
    assert result.id == "gen-1732572222-ZxCvBn"
    assert result.model == "meta-llama-llama-3.2-3b-instruct"
    assert result.text == ""
    assert (result.finish_reason, result.raw_finish_reason) == ("tool_calls", "tool_calls")
    ok, empty, broken, listy = result.tool_calls
    assert (ok.id, ok.name, ok.arguments, ok.parse_error) == (
        "call_a",
        "get_weather",
        {"city": "Paris"},
        None,
    )
    assert (empty.arguments, empty.parse_error) == ({}, None)
    assert broken.arguments == {} and broken.raw_arguments == '{"city": "Par'
    assert broken.parse_error and "JSON" in broken.parse_error
    assert listy.arguments == {} and listy.parse_error and "object" in listy.parse_error
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (120, 30)
    assert result.usage.total_tokens == 150
    assert result.raw is not None and result.raw["provider"] == "DeepInfra"


def test_decode_list_content_and_reasoning_fixture() -> None:
    body = json.loads((FIXTURES / "openai_response_list_content.json").read_text())
    result = CODEC.decode_response(body)
    assert result.text == "The image shows a red bicycle."
    assert result.reasoning == "Look at the picture first."
    assert result.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.cache_read_tokens == 1024
    assert result.usage.reasoning_tokens == 5


def test_decode_reasoning_field_and_unknown_finish() -> None:
    body = {
        "choices": [
            {"message": {"content": "hi", "reasoning": "because"}, "finish_reason": "eos_weird"}
        ]
    }
    result = CODEC.decode_response(body)
    assert (result.text, result.reasoning) == ("hi", "because")
    assert (result.finish_reason, result.raw_finish_reason) == ("unknown", "eos_weird")
    assert result.usage is None and result.id is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("function_call", "tool_calls"),
        (None, None),
    ],
)
def test_finish_reasons(raw: Any, expected: Any) -> None:
    result = CODEC.decode_response({"choices": [{"message": {}, "finish_reason": raw}]})
    assert result.finish_reason == expected


@pytest.mark.parametrize(
    "body",
    [{}, {"status": "success", "id": "x"}, {"choices": None}, {"choices": "oops"}, {"choices": []}],
)
def test_missing_choices_is_a_validation_error(body: dict[str, Any]) -> None:
    with pytest.raises(APIResponseValidationError, match="choices"):
        CODEC.decode_response(body)


def test_error_body_is_a_typed_error() -> None:
    body = {"error": {"message": "Rate limit exceeded", "type": "rate_limit_exceeded"}}
    with pytest.raises(RateLimitError, match="Rate limit exceeded"):
        CODEC.decode_response(body)


def test_unknown_fields_kept_wrong_shapes_refused() -> None:
    body = {"choices": [{"message": {"content": "hi"}}], "brand_new_field": {"x": 1}}
    result = CODEC.decode_response(body)
    assert result.text == "hi" and result.raw["brand_new_field"] == {"x": 1}
    odd = {"choices": [{"message": "not a dict"}, {"message": {"content": "second"}}]}
    with pytest.raises(APIResponseValidationError, match=r"choices\[0\]\.message is a string"):
        CODEC.decode_response(odd)
    with pytest.raises(APIResponseValidationError, match="usage is a string"):
        CODEC.decode_response({**body, "usage": "n/a"})


def test_round_trip_assistant_tool_calls() -> None:
    calls = [
        ToolCall(id="c1", name="add", arguments={"a": 1, "b": [1, 2]}),
        ToolCall(id="c2", name="echo", arguments={"text": 'héllo "quoted"'}),
    ]
    wire = encode(req([Message.text("user", "x"), Message(role="assistant", tool_calls=calls)]))
    body = {"choices": [{"message": wire["messages"][1], "finish_reason": "tool_calls"}]}
    assert CODEC.decode_response(body).tool_calls == calls


# --------------------------------------------------------------------------- streaming


def test_stream_tool_calls_fixture() -> None:
    deltas, dones = run_stream("openai_stream_tool_calls.sse")
    assert not any(dones)
    chunks = [c for d in deltas for c in d.tool_call_chunks]
    for index, call_id, name in [
        (0, "call_weather_1", "get_weather"),
        (1, "call_time_2", "get_time"),
    ]:
        mine = [c for c in chunks if c.index == index]
        assert [c.id for c in mine if c.id] == [call_id]
        assert [c.name for c in mine if c.name] == [name]
    assert any(len(d.tool_call_chunks) == 2 for d in deltas)
    assert [d.id for d in deltas if d.id] == ["gen-1732570000-AbCdEf"]
    assert deltas[0].model == "meta-llama-llama-3.2-3b-instruct"
    usages = [d.usage for d in deltas if d.usage is not None]
    assert len(usages) == 1
    assert (usages[0].input_tokens, usages[0].output_tokens, usages[0].total_tokens) == (
        182,
        41,
        223,
    )
    assert usages[0].cache_read_tokens == 64
    assert usages[0].model_extra == {"cost": 0.0000234}
    acc = StreamAccumulator()
    for d in deltas:
        acc.add(d)
    result = acc.result()
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_weather_1", "get_weather", {"city": "Paris", "unit": "celsius"}),
        ("call_time_2", "get_time", {"tz": "Europe/Paris"}),
    ]
    assert result.finish_reason == "tool_calls"


def test_stream_reasoning_fixture() -> None:
    deltas, _ = run_stream("openai_stream_reasoning.sse")
    assert "".join(d.reasoning for d in deltas) == "The user asks for 2+2. That is 4."
    assert "".join(d.text for d in deltas) == "2 + 2 = 4."
    finishes = [d.finish_reason for d in deltas if d.finish_reason]
    assert finishes == ["stop"]
    usages = [d.usage for d in deltas if d.usage]
    assert len(usages) == 1 and usages[0].reasoning_tokens == 14


def test_stream_every_call_at_index_zero_gets_its_own_index() -> None:
    state = new_stream_state()
    events = [
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}
                        ]
                    }
                }
            ]
        },
        {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]},
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "b", "function": {"name": "g", "arguments": "{}"}}
                        ]
                    }
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "b", "function": {"name": "g", "arguments": ""}}
                        ]
                    }
                }
            ]
        },
    ]
    acc = StreamAccumulator()
    for e in events:
        for d in decode_event(state, None, e)[0]:
            acc.add(d)
    calls = acc.result().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "f", {"x": 1}), ("b", "g", {})]


def test_stream_calls_without_index_use_their_position() -> None:
    state = new_stream_state()
    event = {
        "choices": [
            {
                "delta": {
                    "tool_calls": [
                        {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "b", "function": {"name": "g", "arguments": {"k": 1}}},
                    ]
                }
            }
        ]
    }
    (delta,), _ = decode_event(state, None, event)
    assert [(c.index, c.id, c.arguments) for c in delta.tool_call_chunks] == [
        (0, "a", "{}"),
        (1, "b", '{"k": 1}'),
    ]


def test_stream_running_usage_is_emitted_once() -> None:
    state = new_stream_state()
    usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
    events = [
        {"id": "x", "choices": [{"delta": {"content": "a"}}], "usage": usage},
        {
            "choices": [{"delta": {"content": "b"}, "finish_reason": "stop"}],
            "usage": {**usage, "completion_tokens": 2, "total_tokens": 7},
        },
        {"choices": [], "usage": {**usage, "completion_tokens": 2, "total_tokens": 7}},
    ]
    deltas = [d for e in events for d in decode_event(state, None, e)[0]]
    usages = [d.usage for d in deltas if d.usage]
    assert len(usages) == 1 and usages[0].output_tokens == 2


def test_stream_empty_chunks_add_nothing() -> None:
    state = new_stream_state()
    first, _ = decode_event(
        state, None, {"id": "gen-1", "model": "m", "choices": [{"delta": {"role": "assistant"}}]}
    )
    assert len(first) == 1 and (first[0].id, first[0].model) == ("gen-1", "m")
    again, done = decode_event(state, None, {"id": "gen-1", "choices": [{"delta": {}}]})
    assert (again, done) == ([], False)


def test_stream_error_chunk_raises_typed_error() -> None:
    state = new_stream_state()
    with pytest.raises(RateLimitError):
        decode_event(state, None, {"error": {"message": "slow down", "type": "rate_limit_error"}})


def test_stream_malformed_chunk_is_a_validation_error() -> None:
    with pytest.raises(APIResponseValidationError):
        decode_event(new_stream_state(), None, {"choices": [5]})


def test_stream_decode_is_fast() -> None:
    state = new_stream_state()
    chunk = {
        "id": "g",
        "choices": [{"index": 0, "delta": {"content": "tok"}, "finish_reason": None}],
    }
    start = time.perf_counter()
    for _ in range(20_000):
        decode_event(state, None, chunk)
    assert time.perf_counter() - start < 2.0


# --------------------------------------------------------------------------- properties

_text = st.text(max_size=20)
_tool_calls = st.lists(
    st.builds(
        ToolCall,
        id=st.text(min_size=1, max_size=8),
        name=st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
        arguments=st.dictionaries(st.text(max_size=5), st.integers() | _text, max_size=3),
    ),
    max_size=3,
)
_message = st.one_of(
    st.builds(Message.text, st.sampled_from(["system", "user"]), _text),
    st.builds(lambda t, c: Message.text("assistant", t, tool_calls=c), _text, _tool_calls),
    st.builds(lambda t, i: Message.text("tool", t, tool_call_id=i), _text, _text),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_message, min_size=1, max_size=12))
def test_property_encode_keeps_every_message(messages: list[Message]) -> None:
    body = encode(req(messages), model_field="both")
    json.dumps(body)
    wire = body["messages"]
    assert [w["role"] for w in wire] == [m.role for m in messages]
    for m, w in zip(messages, wire, strict=True):
        if m.role == "tool":
            assert (w["tool_call_id"], w["content"]) == (m.tool_call_id, m.text_content)
        elif m.tool_calls:
            assert w["content"] == (m.text_content or None)
            decoded = CODEC.decode_response({"choices": [{"message": w}]})
            assert decoded.tool_calls == m.tool_calls
        else:
            assert w["content"] == m.text_content


# --------------------------------------------------------------------------- tool results


def _called(*ids: str) -> Message:
    """An assistant turn calling ``f`` once per id."""
    return Message(role="assistant", tool_calls=[ToolCall(id=i, name="f") for i in ids])


def test_tool_result_images_follow_the_tool_run_in_a_user_message() -> None:
    chart = ImagePart(data="QUJD", mime_type="image/png")
    photo = ImagePart(url="https://example.com/a.jpg", detail="low")
    messages = [
        Message.text("user", "Draw both."),
        _called("c1", "c2", "c3"),
        Message(role="tool", tool_call_id="c1", content=[TextPart(text="chart:"), chart]),
        Message.text("tool", "no image", tool_call_id="c2"),
        Message(role="tool", tool_call_id="c3", content=[photo]),
        Message.text("assistant", "Done."),
    ]
    wire = encode(req(messages))["messages"]
    assert [m["role"] for m in wire] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "tool",
        "user",
        "assistant",
    ]
    assert wire[2] == {"role": "tool", "tool_call_id": "c1", "content": "chart:"}
    assert wire[3] == {"role": "tool", "tool_call_id": "c2", "content": "no image"}
    assert wire[4] == {"role": "tool", "tool_call_id": "c3", "content": ""}
    assert wire[5]["content"] == [
        {"type": "text", "text": "Images returned by tool call c1:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
        {"type": "text", "text": "Images returned by tool call c3:"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg", "detail": "low"}},
    ]
    assert wire[6] == {"role": "assistant", "content": "Done."}


def test_tool_result_images_at_the_end_of_the_history() -> None:
    image = ImagePart(url="https://example.com/x.png")
    messages = [
        Message.text("user", "Look."),
        _called("c1"),
        Message(role="tool", tool_call_id="c1", content=[TextPart(text="here"), image]),
    ]
    wire = encode(req(messages))["messages"]
    assert wire[-2] == {"role": "tool", "tool_call_id": "c1", "content": "here"}
    assert wire[-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Images returned by tool call c1:"},
            {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}},
        ],
    }


def test_text_only_tool_results_add_no_message() -> None:
    messages = [
        Message.text("user", "x"),
        _called("c1"),
        Message.text("tool", "ok", tool_call_id="c1"),
    ]
    assert [m["role"] for m in encode(req(messages))["messages"]] == ["user", "assistant", "tool"]


def test_tool_error_flag_leaves_content_as_is() -> None:
    """``is_error`` has no chat-completions field: the content goes unchanged, nothing added."""
    failed = Message.text("tool", "Error: city not found", tool_call_id="c1", is_error=True)
    wire = encode(req([Message.text("user", "x"), _called("c1"), failed]))["messages"]
    assert wire[-1] == {"role": "tool", "tool_call_id": "c1", "content": "Error: city not found"}
