"""The exact wire JSON `ChatModelsLab` sends, per feature and dialect, as the stand-in records it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import RecordedRequest, StandIn

MODEL = "meta-llama-llama-3.2-3b-instruct"
OTHER_MODEL = "meta-llama-llama-3.1-8b-instruct"
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
MakeModel = Callable[..., ChatModelsLab]


class GetWeather(BaseModel):
    """Get the weather in a city."""

    city: str = Field(description="City name")


WEATHER_PARAMS = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def last(standin: StandIn) -> RecordedRequest:
    """The last request the stand-in saw."""
    request = standin.last_request
    assert request is not None
    return request


def sent(standin: StandIn) -> dict[str, Any]:
    """The JSON body of the last request."""
    body = last(standin).json
    assert isinstance(body, dict)
    return body


# ------------------------------------------------------------------ sampling and model fields


def test_openai_sampling_fields_exact(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        top_k=40,
        frequency_penalty=0.1,
        presence_penalty=0.3,
        repetition_penalty=1.1,
        stop=["END"],
        seed=7,
    )
    model.invoke([SystemMessage("be brief"), HumanMessage("hi", name="ann")])
    assert last(standin).path.endswith("/chat/completions")
    assert sent(standin) == {
        "model": MODEL,
        "model_id": MODEL,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi", "name": "ann"},
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
        "repetition_penalty": 1.1,
        "max_tokens": 50,
        "seed": 7,
        "stop": ["END"],
    }


def test_anthropic_sampling_fields_exact(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model(
        dialect="anthropic", temperature=0.2, max_tokens=50, top_p=0.9, top_k=40, stop=["END"]
    )
    model.invoke([SystemMessage("be brief"), HumanMessage("hi")])
    assert last(standin).path.endswith("/v1/messages")
    assert sent(standin) == {
        "model": MODEL,
        "model_id": MODEL,
        "max_tokens": 50,
        "system": "be brief",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
    }


@pytest.mark.parametrize(
    ("dialect_", "model_field", "keys"),
    [
        ("openai", "model", {"model"}),
        ("openai", "model_id", {"model_id"}),
        ("openai", "both", {"model", "model_id"}),
        ("anthropic", "model", {"model"}),
        ("anthropic", "model_id", {"model", "model_id"}),  # /v1/messages always sends model
        ("anthropic", "both", {"model", "model_id"}),
    ],
)
def test_model_field(
    standin: StandIn, make_model: MakeModel, dialect_: str, model_field: str, keys: set[str]
) -> None:
    dialect = dialect_
    make_model(dialect=dialect, model_field=model_field).invoke("hi")
    body = sent(standin)
    assert {k for k in ("model", "model_id") if k in body} == keys
    assert all(body[k] == MODEL for k in keys)


def test_per_call_overrides(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    model = make_model(dialect=dialect, temperature=0.5, stop=["A"])
    answer = model.invoke("hi", model=OTHER_MODEL, temperature=0.1, stop=["B"])
    body = sent(standin)
    assert body["model"] == body["model_id"] == OTHER_MODEL
    assert body["temperature"] == 0.1
    assert body.get("stop", body.get("stop_sequences")) == ["B"]
    assert answer.response_metadata["model_name"] == OTHER_MODEL


def test_stop_from_standard_init(standin: StandIn, make_model: MakeModel) -> None:
    make_model(stop=[]).invoke("hi")
    assert "stop" not in sent(standin)


# ------------------------------------------------------------------ extra body and kwargs


def test_extra_body_is_merged_last(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    model = make_model(
        dialect=dialect,
        temperature=0.1,
        model_kwargs={"logprobs": True, "top_a": 0.5},
        extra_body={"temperature": 0.9, "provider": {"order": ["x"]}},
    )
    model.invoke("hi", extra_body={"top_a": 0.7}, user="u-1")
    body = sent(standin)
    assert body["temperature"] == 0.9
    assert body["provider"] == {"order": ["x"]}
    assert body["logprobs"] is True
    assert body["top_a"] == 0.7
    assert body["user"] == "u-1"


def test_unknown_init_kwargs_go_to_model_kwargs(standin: StandIn, make_model: MakeModel) -> None:
    with pytest.warns(UserWarning, match="transferred to model_kwargs"):
        model = make_model(logit_bias={"50256": -100})
    assert model.model_kwargs == {"logit_bias": {"50256": -100}}
    model.invoke("hi")
    assert sent(standin)["logit_bias"] == {"50256": -100}


# ------------------------------------------------------------------ streaming


def test_openai_stream_options(standin: StandIn, make_model: MakeModel) -> None:
    list(make_model().stream("hi"))
    body = sent(standin)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    list(make_model(stream_usage=False).stream("hi"))
    assert "stream_options" not in sent(standin)
    list(make_model().stream("hi", stream_usage=False))
    assert "stream_options" not in sent(standin)


def test_anthropic_stream_flag(standin: StandIn, make_model: MakeModel) -> None:
    list(make_model(dialect="anthropic").stream("hi"))
    body = sent(standin)
    assert body["stream"] is True
    assert "stream_options" not in body


def test_streaming_field_streams_invoke(standin: StandIn, make_model: MakeModel) -> None:
    answer = make_model(streaming=True).invoke("hi")
    assert sent(standin)["stream"] is True
    assert answer.text == "You said: hi"


# ------------------------------------------------------------------ auth and headers


@pytest.mark.parametrize(
    ("auth", "dialect_", "header", "in_body"),
    [
        ("bearer", "openai", "authorization", False),
        ("bearer", "anthropic", "authorization", False),
        ("x-api-key", "anthropic", "x-api-key", False),
        ("body", "openai", None, True),
    ],
)
def test_auth_modes(
    standin: StandIn,
    make_model: MakeModel,
    auth: str,
    dialect_: str,
    header: str | None,
    in_body: bool,
) -> None:
    make_model(auth=auth, dialect=dialect_).invoke("hi")
    request = last(standin)
    if header == "authorization":
        assert request.headers["authorization"] == f"Bearer {standin.api_key}"
    elif header:
        assert request.headers[header] == standin.api_key
        assert "authorization" not in request.headers
    assert (sent(standin).get("key") == standin.api_key) is in_body
    if in_body:
        assert "authorization" not in request.headers


def test_default_headers(standin: StandIn, make_model: MakeModel) -> None:
    make_model(default_headers={"X-Trace": "abc"}).invoke("hi")
    assert last(standin).headers["x-trace"] == "abc"


# ------------------------------------------------------------------ tools


def test_openai_tools_and_strict(standin: StandIn, make_model: MakeModel) -> None:
    make_model().bind_tools([GetWeather], strict=True, parallel_tool_calls=False).invoke("hi")
    body = sent(standin)
    tool = body["tools"][0]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "GetWeather"
    assert tool["function"]["description"] == "Get the weather in a city."
    assert tool["function"]["strict"] is True
    assert tool["function"]["parameters"]["properties"] == WEATHER_PARAMS["properties"]
    assert tool["function"]["parameters"]["additionalProperties"] is False
    assert body["parallel_tool_calls"] is False


def test_anthropic_tools(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model(dialect="anthropic")
    model.bind_tools([GetWeather], parallel_tool_calls=False, tool_choice="auto").invoke("hi")
    body = sent(standin)
    assert body["tools"] == [
        {
            "name": "GetWeather",
            "description": "Get the weather in a city.",
            "input_schema": WEATHER_PARAMS,
        }
    ]
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


OPENAI_CHOICES: list[tuple[Any, Any]] = [
    ("auto", "auto"),
    ("none", "none"),
    ("any", "required"),
    ("required", "required"),
    (True, "required"),
    ("GetWeather", {"type": "function", "function": {"name": "GetWeather"}}),
    (
        {"type": "function", "function": {"name": "GetWeather"}},
        {"type": "function", "function": {"name": "GetWeather"}},
    ),
    (
        {"type": "tool", "name": "GetWeather"},
        {"type": "function", "function": {"name": "GetWeather"}},
    ),
]
ANTHROPIC_CHOICES: list[tuple[Any, Any]] = [
    ("auto", {"type": "auto"}),
    ("none", {"type": "none"}),
    ("any", {"type": "any"}),
    ("required", {"type": "any"}),
    (True, {"type": "any"}),
    ("GetWeather", {"type": "tool", "name": "GetWeather"}),
    (
        {"type": "function", "function": {"name": "GetWeather"}},
        {"type": "tool", "name": "GetWeather"},
    ),
    ({"type": "any"}, {"type": "any"}),
]


@pytest.mark.parametrize(("choice", "wire"), OPENAI_CHOICES)
def test_openai_tool_choice(
    standin: StandIn, make_model: MakeModel, choice: Any, wire: Any
) -> None:
    make_model().bind_tools([GetWeather], tool_choice=choice).invoke("hi")
    assert sent(standin)["tool_choice"] == wire


@pytest.mark.parametrize(("choice", "wire"), ANTHROPIC_CHOICES)
def test_anthropic_tool_choice(
    standin: StandIn, make_model: MakeModel, choice: Any, wire: Any
) -> None:
    make_model(dialect="anthropic").bind_tools([GetWeather], tool_choice=choice).invoke("hi")
    assert sent(standin)["tool_choice"] == wire


def test_no_tool_choice_sends_none(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    make_model(dialect=dialect).bind_tools([GetWeather]).invoke("hi")
    assert "tool_choice" not in sent(standin)


def test_bad_tool_choice_fails_before_sending(standin: StandIn, make_model: MakeModel) -> None:
    with pytest.raises(ValueError, match="Nope"):
        make_model().bind_tools([GetWeather], tool_choice="Nope")
    assert standin.requests == []


# ------------------------------------------------------------------ structured output


def test_openai_response_formats(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model()
    model.with_structured_output(GetWeather, method="json_mode").invoke("JSON with key 'city'")
    assert sent(standin)["response_format"] == {"type": "json_object"}
    model.with_structured_output(GetWeather, method="json_schema", strict=True).invoke("w")
    fmt = sent(standin)["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "GetWeather"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["city"]
    model.with_structured_output(GetWeather).invoke("w")
    body = sent(standin)
    assert "response_format" not in body
    # the one tool, forced as the core decides: "required" (llama.cpp reads a named choice as
    # "auto"), one call
    assert body["tool_choice"] == "required"
    assert body["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in body["tools"]] == ["GetWeather"]


def test_anthropic_structured_output_wire(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model(dialect="anthropic")
    result = model.with_structured_output(GetWeather, method="json_schema").invoke("w")
    body = sent(standin)
    assert body["tool_choice"] == {"type": "tool", "name": "GetWeather"}
    assert body["tools"][0]["name"] == "GetWeather"
    assert isinstance(result, GetWeather)


# ------------------------------------------------------------------ message shapes


def _image_history() -> list[Any]:
    return [
        HumanMessage(
            content=[
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
                {"type": "image", "url": "https://example.com/cat.png"},
            ]
        )
    ]


def test_openai_images(standin: StandIn, make_model: MakeModel) -> None:
    make_model().invoke(_image_history())
    data_url = f"data:image/png;base64,{PNG_B64}"
    assert sent(standin)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": data_url}},
                {"type": "image_url", "image_url": {"url": data_url}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        }
    ]


def test_anthropic_images(standin: StandIn, make_model: MakeModel) -> None:
    make_model(dialect="anthropic").invoke(_image_history())
    b64 = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
    assert sent(standin)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image", "source": b64},
                {"type": "image", "source": b64},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            ],
        }
    ]


def _tool_history() -> list[Any]:
    return [
        HumanMessage("weather in Paris?"),
        AIMessage(
            content="",
            tool_calls=[{"name": "GetWeather", "args": {"city": "Paris"}, "id": "call_1"}],
        ),
        ToolMessage(content=[{"type": "text", "text": "sunny"}], tool_call_id="call_1"),
        AIMessage(
            content="",
            tool_calls=[{"name": "GetWeather", "args": {"city": "Lyon"}, "id": "call_2"}],
        ),
        ToolMessage("boom", tool_call_id="call_2", status="error"),
    ]


def test_openai_tool_messages(standin: StandIn, make_model: MakeModel) -> None:
    make_model().bind_tools([GetWeather]).invoke(_tool_history())
    assert sent(standin)["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "GetWeather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "GetWeather", "arguments": '{"city": "Lyon"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "boom"},
    ]


def test_anthropic_tool_messages(standin: StandIn, make_model: MakeModel) -> None:
    make_model(dialect="anthropic").bind_tools([GetWeather]).invoke(_tool_history())
    assert sent(standin)["messages"] == [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "GetWeather",
                    "input": {"city": "Paris"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_2",
                    "name": "GetWeather",
                    "input": {"city": "Lyon"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "call_2",
                    "content": "boom",
                    "is_error": True,
                }
            ],
        },
    ]


def test_anthropic_tool_result_blocks_in_human_message(
    standin: StandIn, make_model: MakeModel
) -> None:
    messages = [
        HumanMessage("pick a colour"),
        AIMessage(
            [
                {"type": "text", "text": "Hmm"},
                {"type": "tool_use", "input": {"c": "red"}, "id": "foo", "name": "pick"},
            ],
            tool_calls=[{"name": "pick", "args": {"c": "red"}, "id": "foo"}],
        ),
        HumanMessage(
            [
                {"type": "tool_result", "tool_use_id": "foo", "content": "nice", "is_error": False},
                {"type": "text", "text": "and now?"},
            ]
        ),
    ]
    make_model().invoke(messages)
    assert sent(standin)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Hmm",
            "tool_calls": [
                {
                    "id": "foo",
                    "type": "function",
                    "function": {"name": "pick", "arguments": '{"c": "red"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "foo", "content": "nice"},
        {"role": "user", "content": "and now?"},
    ]


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "file", "base64": "AAAA", "mime_type": "application/pdf"}],
        [{"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"}],
        [{"type": "image", "file_id": "file-1"}],
        [{"type": "image", "base64": "AAAA"}],
    ],
)
def test_unsupported_content_fails_before_sending(
    standin: StandIn, make_model: MakeModel, content: list[Any]
) -> None:
    with pytest.raises(ValueError):
        make_model().invoke([HumanMessage(content=content)])
    assert standin.requests == []


# ------------------------------------------------------------------ tokens and models


def test_count_tokens_wire(standin: StandIn, make_model: MakeModel, dialect: str) -> None:
    model = make_model(dialect=dialect)
    n = model.get_num_tokens_from_messages([HumanMessage("hello there")], tools=[GetWeather])
    assert isinstance(n, int) and n > 0
    request = last(standin)
    assert request.path.endswith("/v1/messages/count_tokens")
    body = sent(standin)
    assert body["messages"] == [{"role": "user", "content": "hello there"}]
    assert body["tools"][0]["name"] == "GetWeather"
    without_tools = model.get_num_tokens_from_messages([HumanMessage("hello there")])
    assert "tools" not in sent(standin)
    assert without_tools < n  # the tool's JSON counts too
    assert model.get_num_tokens("hello there") == without_tools


async def test_list_models(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model()
    ids = [m.id for m in model.list_models()]
    assert MODEL in ids
    assert last(standin).method == "GET"
    assert last(standin).path.endswith("/v1/models")
    assert [m.id for m in await model.alist_models()] == ids


def test_per_call_tools_and_named_choice(standin: StandIn, make_model: MakeModel) -> None:
    msg = make_model().invoke("hi", tools=[GetWeather], tool_choice="GetWeather")
    body = sent(standin)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "GetWeather"}}
    assert body["tools"][0]["function"]["name"] == "GetWeather"
    assert msg.tool_calls[0]["name"] == "GetWeather"
