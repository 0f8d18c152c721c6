"""LangChain objects built from scripted and recorded ModelsLab-shaped responses."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
)

import modelslab_core
from langchain_modelslab import (
    ChatModelsLab,
    ModelsLabProcessingError,
    ModelsLabRateLimitError,
    ModelsLabStatusError,
    ModelsLabStreamInterruptedError,
)
from modelslab_core.testing import Fault, Reply, StandIn

FIXTURES = Path(__file__).parent.parent / "fixtures"
MakeModel = Callable[..., ChatModelsLab]


def load(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / name).read_text())
    assert isinstance(data, dict)
    return data


async def collect(model: Any, prompt: Any, mode: str, **kwargs: Any) -> list[AIMessageChunk]:
    """All chunks of a sync or async stream."""
    if mode == "sync":
        return list(model.stream(prompt, **kwargs))
    return [c async for c in model.astream(prompt, **kwargs)]


async def call(model: Any, prompt: Any, mode: str, **kwargs: Any) -> BaseMessage:
    """``invoke`` or ``ainvoke``."""
    if mode == "sync":
        return model.invoke(prompt, **kwargs)  # type: ignore[no-any-return]
    return await model.ainvoke(prompt, **kwargs)  # type: ignore[no-any-return]


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


# ------------------------------------------------------------------ recorded responses


async def test_list_content_reasoning_and_cached_usage(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.enqueue(Fault.status(200, body=load("openai_response_list_content.json")))
    msg = await call(make_model(), "describe", mode)
    assert isinstance(msg, AIMessage)
    assert msg.content == "The image shows a red bicycle."
    assert msg.additional_kwargs["reasoning_content"] == "Look at the picture first."
    assert msg.content_blocks[0] == {"type": "reasoning", "reasoning": "Look at the picture first."}
    assert msg.usage_metadata == {
        "input_tokens": 1500,
        "output_tokens": 9,
        "total_tokens": 1509,
        "input_token_details": {"cache_read": 1024},
        "output_token_details": {"reasoning": 5},
    }
    assert msg.response_metadata == {
        "model_provider": "modelslab",
        "finish_reason": "stop",
        "model_name": "qwen-qwen2.5-vl-72b-instruct",
        "id": "gen-1732573333-PoIuYt",
        # Priced as the model that was asked for (the default one, $0.051 / $0.34 per 1M).
        "cost": {
            "input_cost": "0.0000765",
            "output_cost": "0.00000306",
            "total_cost": "0.00007956",
            "currency": "USD",
        },
    }
    assert msg.id == "gen-1732573333-PoIuYt"


async def test_recorded_tool_calls_valid_and_invalid(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.enqueue(Fault.status(200, body=load("openai_response_tool_calls.json")))
    msg = await call(make_model(), "go", mode)
    assert isinstance(msg, AIMessage)
    assert [(c["name"], c["args"], c["id"]) for c in msg.tool_calls] == [
        ("get_weather", {"city": "Paris"}, "call_a"),
        ("get_time", {}, "call_b"),
    ]
    assert [(c["name"], c["args"], c["id"]) for c in msg.invalid_tool_calls] == [
        ("broken", '{"city": "Par', "call_c"),
        ("listy", "[1, 2]", "call_d"),
    ]
    assert all(c["error"] for c in msg.invalid_tool_calls)
    assert msg.response_metadata["finish_reason"] == "tool_calls"


async def test_recorded_anthropic_response(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Fault.status(200, body=load("anthropic_response.json")))
    msg = make_model(dialect="anthropic").invoke("weather?")
    assert msg.content == "I'll check the weather."
    assert msg.additional_kwargs == {
        "reasoning_content": "The user wants the weather.",
        "reasoning_signature": "sig-abc",
    }
    assert msg.tool_calls[0]["args"] == {"location": "San Francisco, CA", "unit": "celsius"}
    assert msg.response_metadata["finish_reason"] == "tool_calls"
    assert msg.response_metadata["stop_reason"] == "tool_use"
    assert msg.usage_metadata is not None
    assert msg.usage_metadata["input_token_details"] == {"cache_read": 100}


def test_signed_reasoning_goes_back_on_anthropic(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Fault.status(200, body=load("anthropic_response.json")))
    model = make_model(dialect="anthropic")
    first = model.invoke("weather?")
    model.invoke(
        [
            HumanMessage("weather?"),
            AIMessage(first.content, additional_kwargs=first.additional_kwargs),
            HumanMessage("and?"),
        ]
    )
    assert standin.last_request is not None and standin.last_request.json is not None
    assistant = standin.last_request.json["messages"][1]
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "The user wants the weather.",
        "signature": "sig-abc",
    }


# ------------------------------------------------------------------ scripted streams


async def test_stream_keepalives_usage_once(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    text = "one two three four five six seven eight nine ten"
    standin.enqueue(Reply(text=text, usage={"input_tokens": 11, "output_tokens": 10}))
    chunks = await collect(make_model(dialect=dialect), "count", mode)
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    with_model = [c for c in chunks if c.response_metadata.get("model_name")]
    assert len(with_model) == 1
    full = merge(chunks)
    assert full.content == text
    assert full.usage_metadata == {"input_tokens": 11, "output_tokens": 10, "total_tokens": 21}
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["model_provider"] == "modelslab"
    assert chunks[-1].chunk_position == "last"
    assert len(chunks) > 5


async def test_stream_without_usage(standin: StandIn, make_model: MakeModel, mode: str) -> None:
    chunks = await collect(make_model(stream_usage=False), "hi", mode)
    assert all(c.usage_metadata is None for c in chunks)
    assert merge(chunks).text == "You said: hi"


async def test_stream_reasoning(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    standin.enqueue(Reply(text="It is 4.", reasoning="Two plus two is four."))
    full = merge(await collect(make_model(dialect=dialect), "2+2?", mode))
    assert full.text == "It is 4."
    assert full.additional_kwargs["reasoning_content"] == "Two plus two is four."
    blocks = full.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "Two plus two is four."}
    assert [b["type"] for b in blocks] == ["reasoning", "text"]


async def test_reasoning_in_v1_output(standin: StandIn, make_model: MakeModel, mode: str) -> None:
    standin.enqueue(Reply(text="It is 4.", reasoning="Two plus two is four."))
    msg = await call(make_model(output_version="v1"), "2+2?", mode)
    assert isinstance(msg.content, list)
    assert [b["type"] for b in msg.content] == ["reasoning", "text"]  # type: ignore[index]
    assert msg.content[0]["reasoning"] == "Two plus two is four."  # type: ignore[index]


async def test_stream_tool_calls_merge_exactly(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    standin.enqueue(
        Reply(
            tool_calls=[
                {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3}},
                {"name": "get_time", "arguments": {}},
            ]
        )
    )
    chunks = await collect(make_model(dialect=dialect), "go", mode)
    assert any(c.tool_call_chunks for c in chunks)
    full = merge(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "Zürich", "days": 3}),
        ("get_time", {}),
    ]
    assert all(c["id"] for c in full.tool_calls)
    assert full.invalid_tool_calls == []
    assert full.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("raw_args", ['{"city": "Par', "city=Paris", "[1, 2]"])
async def test_invalid_tool_arguments_become_invalid_tool_calls(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str, raw_args: str
) -> None:
    standin.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": raw_args}]))
    msg = await call(make_model(dialect=dialect), "go", mode)
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls == []
    assert [(c["name"], c["args"]) for c in msg.invalid_tool_calls] == [("get_weather", raw_args)]


@pytest.mark.parametrize("raw_args", ["city=Paris", "[1, 2]"])
async def test_streamed_unparseable_arguments_are_invalid_tool_calls(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str, raw_args: str
) -> None:
    """Streamed chunks merge with langchain-core's partial-JSON parser (which completes a
    truncated object); arguments it cannot read end up in ``invalid_tool_calls``."""
    standin.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": raw_args}]))
    full = merge(await collect(make_model(dialect=dialect), "go", mode))
    assert full.tool_calls == []
    assert [(c["name"], c["args"]) for c in full.invalid_tool_calls] == [("get_weather", raw_args)]


async def test_structured_output_streams_partials(
    standin: StandIn, make_model: MakeModel, dialect: str
) -> None:
    schema = {
        "title": "Person",
        "description": "A person.",
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    standin.enqueue(
        Reply(tool_calls=[{"name": "Person", "arguments": {"name": "Ada Lovelace", "age": 36}}])
    )
    parts = list(make_model(dialect=dialect).with_structured_output(schema).stream("who?"))
    assert parts[-1] == {"name": "Ada Lovelace", "age": 36}
    assert len(parts) > 1
    assert all(isinstance(p, dict) for p in parts)


def test_structured_output_include_raw_reports_parse_errors(
    standin: StandIn, make_model: MakeModel
) -> None:
    standin.enqueue(Reply(text="not json at all"))
    out = (
        make_model()
        .with_structured_output(
            {"title": "P", "type": "object", "properties": {"a": {"type": "string"}}},
            method="json_mode",
            include_raw=True,
        )
        .invoke("json please")
    )
    assert isinstance(out, dict)
    assert isinstance(out["raw"], AIMessage)
    assert out["parsed"] is None
    assert out["parsing_error"] is not None


# ------------------------------------------------------------------ errors


async def test_http_200_error_envelope_is_typed(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.enqueue(Fault.envelope_error("Provider returned error"))
    model = make_model(max_retries=0)
    with pytest.raises(ModelsLabStatusError) as info:
        await call(model, "hi", mode)
    assert isinstance(info.value, modelslab_core.APIStatusError)
    assert isinstance(info.value, ModelError)
    assert "Provider returned error" in str(info.value)


async def test_envelope_rate_limit_is_model_rate_limit(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.enqueue(Fault.envelope_error("Rate limit exceeded", retry_after=7))
    with pytest.raises(ModelRateLimitError) as info:
        await call(make_model(max_retries=0), "hi", mode)
    assert isinstance(info.value, ModelsLabRateLimitError)
    assert isinstance(info.value, modelslab_core.RateLimitError)
    assert info.value.retry_after == 7


@pytest.mark.parametrize(
    ("fault", "lc_type", "core_type"),
    [
        (Fault.status(401), ModelAuthenticationError, modelslab_core.AuthenticationError),
        (Fault.status(429), ModelRateLimitError, modelslab_core.RateLimitError),
        (Fault.status(500), ModelAPIError, modelslab_core.InternalServerError),
        (
            Fault.status(
                400,
                body={
                    "error": {
                        "message": "This model's maximum context length is 8192 tokens",
                        "type": "invalid_request_error",
                    }
                },
            ),
            ContextOverflowError,
            modelslab_core.ContextWindowExceededError,
        ),
        (Fault.cut_before_headers(), ModelConnectionError, modelslab_core.APIConnectionError),
    ],
)
async def test_status_errors_are_dual_typed(
    standin: StandIn,
    make_model: MakeModel,
    dialect: str,
    mode: str,
    fault: Fault,
    lc_type: type[Exception],
    core_type: type[Exception],
) -> None:
    standin.enqueue(fault)
    with pytest.raises(lc_type) as info:
        await call(make_model(dialect=dialect, max_retries=0), "hi", mode)
    assert isinstance(info.value, core_type)
    assert standin.api_key not in str(info.value)
    assert type(pickle.loads(pickle.dumps(info.value))) is type(info.value)


async def test_error_mid_stream_after_chunks(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    standin.enqueue(Fault.error_mid_stream(after_events=3, message="Provider returned error"))
    seen: list[AIMessageChunk] = []
    with pytest.raises(ModelError):
        if mode == "sync":
            seen.extend(make_model(dialect=dialect).stream("tell me a story"))
        else:
            seen.extend([c async for c in make_model(dialect=dialect).astream("story")])


async def test_cut_stream_raises_interrupted(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    standin.enqueue(Fault.cut_mid_stream(after_events=3))
    with pytest.raises(ModelsLabStreamInterruptedError) as info:
        await collect(make_model(dialect=dialect), "tell me a story", mode)
    assert isinstance(info.value, ModelConnectionError)


async def test_stalled_stream_times_out(standin: StandIn, make_model: MakeModel, mode: str) -> None:
    standin.enqueue(Fault.stall(2.0, after_events=2))
    with pytest.raises(ModelTimeoutError):
        await collect(make_model(stream_chunk_timeout=0.2, max_retries=0), "hi", mode)


def test_processing_envelope_names_its_id(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Fault.processing(id="req-777"))
    with pytest.raises(ModelsLabProcessingError) as info:
        make_model(max_retries=0).invoke("hi")
    assert info.value.processing_id == "req-777"


def test_fallbacks_catch_langchain_error_types(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Fault.status(429))
    chain = make_model(max_retries=0).with_fallbacks(
        [make_model(model="meta-llama-llama-3.1-8b-instruct")],
        exceptions_to_handle=(ModelRateLimitError,),
    )
    msg = chain.invoke("hi")
    assert msg.response_metadata["model_name"] == "meta-llama-llama-3.1-8b-instruct"


def test_retries_honour_server_delay(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Fault.status(503), Fault.status(429, retry_after=0.01))
    assert make_model(max_retries=2).invoke("hi").text == "You said: hi"
    assert len(standin.requests) == 3


def test_bad_messages_fail_before_any_request(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model()
    with pytest.raises(ValueError):
        model.invoke([])
    with pytest.raises(ValueError, match="ChatMessage role"):
        model.invoke([ChatMessage(role="wizard", content="hi")])
    with pytest.raises(TypeError, match="FunctionMessage"):
        model.invoke([FunctionMessage(name="f", content="x")])
    with pytest.raises(ValueError, match="API key"):
        ChatModelsLab(base_url=standin.base_url, api_key="").invoke("hi")
    assert standin.requests == []


# ------------------------------------------------------------------ batching and events


async def test_batch_respects_max_in_flight(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.chunk_delay = 0.01
    model = make_model(max_in_flight=2, streaming=True)
    prompts = [f"prompt number {i}" for i in range(6)]
    if mode == "sync":
        answers = model.batch(prompts, config={"max_concurrency": 6})
    else:
        answers = await model.abatch(prompts)
    assert [a.text for a in answers] == [f"You said: {p}" for p in prompts]
    assert standin.max_in_flight_seen == 2


async def test_astream_events(standin: StandIn, make_model: MakeModel) -> None:
    events = [e async for e in make_model().astream_events("hi", version="v2")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "on_chat_model_start"
    assert kinds[-1] == "on_chat_model_end"
    streamed = "".join(
        e["data"]["chunk"].text for e in events if e["event"] == "on_chat_model_stream"
    )
    assert streamed == "You said: hi"
    output = events[-1]["data"]["output"]
    assert output.usage_metadata["total_tokens"] > 0
