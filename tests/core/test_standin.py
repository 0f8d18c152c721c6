"""Tests of the stand-in server itself, with plain httpx (no client code of ours)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jsonschema
import pytest
from _support import MODEL, WEATHER_TOOL
from pydantic import BaseModel

from modelslab_core.testing import Fault, RecordedRequest, Reply, StandIn
from modelslab_core.testing._schema_fill import instance_for

WEATHER = WEATHER_TOOL
ADDER = {
    "type": "function",
    "function": {
        "name": "add_numbers",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


@pytest.fixture
def http(standin: StandIn) -> Iterator[httpx.Client]:
    """A plain httpx client on the stand-in, authenticated with a Bearer token."""
    headers = {"Authorization": f"Bearer {standin.api_key}"}
    with httpx.Client(base_url=standin.base_url, headers=headers, timeout=5) as client:
        yield client


def chat(**extra: Any) -> dict[str, Any]:
    """An OpenAI chat body."""
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], **extra}


def msgs(**extra: Any) -> dict[str, Any]:
    """An Anthropic messages body."""
    return {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello there"}],
        **extra,
    }


def sse(client: httpx.Client, path: str, body: dict[str, Any]) -> list[tuple[str | None, str]]:
    """POST and parse the SSE answer into (event, data) pairs; comments become ('#', text)."""
    out: list[tuple[str | None, str]] = []
    event: str | None = None
    with client.stream("POST", path, json=body) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith(":"):
                out.append(("#", line[1:].strip()))
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                out.append((event, line[5:].strip()))
                event = None
    return out


def openai_stream_text(events: list[tuple[str | None, str]]) -> tuple[str, list[dict[str, Any]]]:
    """Joined content and the parsed chunks of an OpenAI stream (without [DONE])."""
    chunks = [json.loads(d) for e, d in events if e != "#" and d != "[DONE]"]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    return text, chunks


# -- contract shapes -----------------------------------------------------------------------


def test_openai_chat_shape_and_honest_usage(http: httpx.Client) -> None:
    body = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there friend"},
        ]
    )
    resp = http.post("/chat/completions", json=body)
    assert resp.status_code == 200
    data = resp.json()
    assert data["id"].startswith("gen-") and data["object"] == "chat.completion"
    assert data["model"] == MODEL
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "You said: Hello there friend"}
    assert choice["finish_reason"] == "stop"
    assert data["usage"] == {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}


def test_anthropic_message_shape(http: httpx.Client) -> None:
    resp = http.post("/v1/messages", json=msgs(system="Be brief."))
    assert resp.status_code == 200
    data = resp.json()
    assert data["id"].startswith("msg_") and data["type"] == "message"
    assert data["role"] == "assistant" and data["model"] == MODEL
    assert data["content"] == [{"type": "text", "text": "You said: Hello there"}]
    assert data["stop_reason"] == "end_turn"
    assert data["usage"] == {"input_tokens": 4, "output_tokens": 4}


def test_ids_are_unique_per_request(http: httpx.Client) -> None:
    ids = {http.post("/chat/completions", json=chat()).json()["id"] for _ in range(3)}
    assert len(ids) == 3


def test_count_tokens_and_models(http: httpx.Client) -> None:
    body = {"model": MODEL, "system": "one two", "messages": [{"role": "user", "content": "a b c"}]}
    resp = http.post("/v1/messages/count_tokens", json=body)
    assert resp.json() == {"input_tokens": 5}
    models = http.get("/v1/models").json()
    assert models["object"] == "list"
    assert MODEL in [m["id"] for m in models["data"]]
    assert all(
        m["object"] == "model" and "created" in m and "owned_by" in m for m in models["data"]
    )


def test_model_id_is_accepted_and_echoed(http: httpx.Client) -> None:
    body = chat()
    body["model_id"] = body.pop("model")
    resp = http.post("/chat/completions", json=body)
    assert resp.status_code == 200 and resp.json()["model"] == MODEL


# -- auth ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "body_key", "ok"),
    [
        ("/chat/completions", {"Authorization": "Bearer test-key"}, None, True),
        ("/chat/completions", {}, "test-key", True),
        ("/chat/completions", {"x-api-key": "test-key"}, None, False),
        ("/chat/completions", {"Authorization": "Bearer wrong"}, None, False),
        ("/chat/completions", {}, None, False),
        ("/v1/messages", {"x-api-key": "test-key"}, None, True),
        ("/v1/messages", {"Authorization": "Bearer test-key"}, None, True),
        ("/v1/messages", {}, "test-key", False),
        ("/v1/messages", {"x-api-key": "nope"}, None, False),
    ],
)
def test_auth_rules(
    standin: StandIn, path: str, headers: dict[str, str], body_key: str | None, ok: bool
) -> None:
    body = chat() if path == "/chat/completions" else msgs()
    if body_key:
        body["key"] = body_key
    resp = httpx.post(standin.base_url + path, json=body, headers=headers)
    assert resp.status_code == (200 if ok else 401)
    if not ok and path == "/chat/completions":
        err = resp.json()["error"]
        assert err["type"] == "authentication_error" and err["message"] and err["code"]
    elif not ok:
        assert resp.json()["type"] == "error"
        assert resp.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    "headers", [{"x-api-key": "test-key"}, {"Authorization": "Bearer test-key"}]
)
def test_models_auth(standin: StandIn, headers: dict[str, str]) -> None:
    assert httpx.get(standin.base_url + "/v1/models", headers=headers).status_code == 200
    assert httpx.get(standin.base_url + "/v1/models").status_code == 401


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": MODEL}, "messages"),
        (chat(messages=[]), "messages"),
        (chat(messages="hi"), "messages"),
        (chat(temperature=2.5), "temperature"),
        (chat(temperature="hot"), "temperature"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(stop=["a", "b", "c", "d", "e"]), "stop"),
        (chat(messages=[{"role": "robot", "content": "x"}]), "role"),
        (
            chat(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}),
            "tool_choice",
        ),
    ],
)
def test_openai_invalid_bodies(http: httpx.Client, body: dict[str, Any], needle: str) -> None:
    resp = http.post("/chat/completions", json=body)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert needle in err["message"] and err["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({k: v for k, v in msgs().items() if k != "max_tokens"}, "max_tokens"),
        ({k: v for k, v in msgs().items() if k != "model"}, "model"),
        (
            msgs(messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "y"}]),
            "system",
        ),
        (msgs(temperature=1.5), "temperature"),
        (msgs(tools=[{"name": "t"}]), "input_schema"),
    ],
)
def test_anthropic_invalid_bodies(http: httpx.Client, body: dict[str, Any], needle: str) -> None:
    resp = http.post("/v1/messages", json=body)
    assert resp.status_code == 400
    data = resp.json()
    assert data["type"] == "error" and needle in data["error"]["message"]


def test_consecutive_same_roles_are_fine(http: httpx.Client) -> None:
    body = msgs(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert http.post("/v1/messages", json=body).status_code == 200


def test_unknown_model_and_route_are_404(http: httpx.Client) -> None:
    assert http.post("/chat/completions", json=chat(model="no-such-model")).status_code == 404
    assert http.post("/v1/messages", json=msgs(model="no-such-model")).status_code == 404
    assert http.post("/v1/nothing", json={}).status_code == 404


def test_non_json_body_is_400(http: httpx.Client) -> None:
    resp = http.post(
        "/chat/completions", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400


# -- deterministic replies -------------------------------------------------------------------


def test_repeat_and_say(http: httpx.Client) -> None:
    body = chat(messages=[{"role": "user", "content": "Repeat after me: 'blue whales sing'"}])
    assert (
        http.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        == "blue whales sing"
    )
    body = msgs(messages=[{"role": "user", "content": "Say hello world."}])
    assert http.post("/v1/messages", json=body).json()["content"][0]["text"] == "hello world"


def test_max_tokens_truncates_with_length(http: httpx.Client) -> None:
    body = chat(messages=[{"role": "user", "content": "one two three four five six"}], max_tokens=3)
    data = http.post("/chat/completions", json=body).json()
    assert data["choices"][0]["message"]["content"] == "You said: one"
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 3
    data = http.post("/v1/messages", json=msgs(max_tokens=2)).json()
    assert data["stop_reason"] == "max_tokens" and data["usage"]["output_tokens"] == 2


def test_stop_sequences(http: httpx.Client) -> None:
    body = chat(messages=[{"role": "user", "content": "alpha beta gamma"}], stop=["gamma"])
    data = http.post("/chat/completions", json=body).json()
    assert data["choices"][0]["message"]["content"] == "You said: alpha beta "
    assert data["choices"][0]["finish_reason"] == "stop"
    body = msgs(messages=[{"role": "user", "content": "alpha beta gamma"}], stop_sequences=["beta"])
    data = http.post("/v1/messages", json=body).json()
    assert data["stop_reason"] == "stop_sequence" and data["stop_sequence"] == "beta"
    assert data["content"][0]["text"] == "You said: alpha "


@pytest.mark.parametrize(
    "choice", [None, "auto", "required", {"type": "function", "function": {"name": "add_numbers"}}]
)
def test_openai_tool_call_from_prompt(http: httpx.Client, choice: Any) -> None:
    body = chat(
        messages=[{"role": "user", "content": "Use add_numbers to add 3 and 4"}],
        tools=[WEATHER, ADDER],
    )
    if choice is not None:
        body["tool_choice"] = choice
    data = http.post("/chat/completions", json=body).json()
    choice0 = data["choices"][0]
    assert choice0["finish_reason"] == "tool_calls"
    (call,) = choice0["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "add_numbers"
    assert json.loads(call["function"]["arguments"]) == {"a": 3, "b": 4}


def test_no_tool_call_when_none_or_after_tool_result(http: httpx.Client) -> None:
    body = chat(tools=[WEATHER], tool_choice="none")
    assert (
        "tool_calls"
        not in http.post("/chat/completions", json=body).json()["choices"][0]["message"]
    )
    history = [
        {"role": "user", "content": "Weather in 'Paris'?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "It's sunny, 24C."},
    ]
    data = http.post("/chat/completions", json=chat(messages=history, tools=[WEATHER])).json()
    assert data["choices"][0]["finish_reason"] == "stop"
    assert "It's sunny, 24C." in data["choices"][0]["message"]["content"]


def test_forced_tool_without_names_uses_first_tool(http: httpx.Client) -> None:
    body = chat(tools=[WEATHER, ADDER], tool_choice="required")
    (call,) = http.post("/chat/completions", json=body).json()["choices"][0]["message"][
        "tool_calls"
    ]
    assert call["function"]["name"] == "get_weather"


def test_parallel_tool_calls(http: httpx.Client) -> None:
    prompt = "Call get_weather for 'Rome' and add_numbers for 1 and 2"
    body = chat(messages=[{"role": "user", "content": prompt}], tools=[ADDER, WEATHER])
    calls = http.post("/chat/completions", json=body).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "add_numbers"]
    assert len({c["id"] for c in calls}) == 2
    body["parallel_tool_calls"] = False
    calls = http.post("/chat/completions", json=body).json()["choices"][0]["message"]["tool_calls"]
    assert len(calls) == 1


def test_anthropic_tool_use_and_result(http: httpx.Client) -> None:
    tool = {
        "name": "unicode_customer",
        "description": "Create a customer.",
        "input_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}, "description": {"type": "string"}},
            "required": ["customer_name", "description"],
        },
    }
    prompt = "Create a customer named '你好啊集团' (Hello Group)"
    body = msgs(
        messages=[{"role": "user", "content": prompt}], tools=[tool], tool_choice={"type": "any"}
    )
    data = http.post("/v1/messages", json=body).json()
    assert data["stop_reason"] == "tool_use"
    (block,) = data["content"]
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_")
    assert block["input"]["customer_name"] == "你好啊集团"
    follow = msgs(
        tools=[tool],
        messages=[
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": [block]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": block["id"], "content": "created id 42"}
                ],
            },
        ],
    )
    data = http.post("/v1/messages", json=follow).json()
    assert data["stop_reason"] == "end_turn"
    assert "created id 42" in data["content"][0]["text"]


class _Address(BaseModel):
    city: str
    zip_code: int


class _Order(BaseModel):
    customer: str
    quantity: int
    price: float
    express: bool
    size: str
    tags: list[str]
    address: _Address
    note: str | None = None


def _order_schema() -> dict[str, Any]:
    schema = _Order.model_json_schema()
    schema["properties"]["size"] = {"type": "string", "enum": ["small", "medium", "large"]}
    return schema


def test_tool_arguments_follow_nested_schema(http: httpx.Client) -> None:
    schema = _order_schema()
    tool = {"type": "function", "function": {"name": "place_order", "parameters": schema}}
    prompt = "place_order for 'Ada' : 7 large mugs at 3.5 each, not express"
    body = chat(messages=[{"role": "user", "content": prompt}], tools=[tool])
    (call,) = http.post("/chat/completions", json=body).json()["choices"][0]["message"][
        "tool_calls"
    ]
    args = json.loads(call["function"]["arguments"])
    jsonschema.validate(args, schema)
    order = _Order.model_validate(args)
    assert (order.customer, order.quantity, order.price) == ("Ada", 7, 3.5)
    assert order.size == "large" and order.express is False


def test_response_format_json_object_and_schema(http: httpx.Client) -> None:
    prompt = "Tell me a joke about cats. Return JSON with 'setup' and 'punchline' keys."
    body = chat(
        messages=[{"role": "user", "content": prompt}], response_format={"type": "json_object"}
    )
    obj = json.loads(
        http.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    )
    assert set(obj) == {"setup", "punchline"}
    schema = _order_schema()
    body["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "order", "schema": schema},
    }
    text = http.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(text), schema)


def test_prompt_asking_for_json_gets_json(http: httpx.Client) -> None:
    body = msgs(
        system="Respond with a single valid JSON object and nothing else.",
        messages=[{"role": "user", "content": "Describe 'name' and 'color' of a fox"}],
    )
    obj = json.loads(http.post("/v1/messages", json=body).json()["content"][0]["text"])
    assert set(obj) == {"name", "color"}


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "exclusiveMinimum": 10, "maximum": 12}},
            "required": ["n"],
        },
        {
            "type": "object",
            "properties": {
                "x": {"anyOf": [{"type": "null"}, {"type": "number"}]},
                "k": {"const": "fixed"},
            },
        },
        {
            "$defs": {
                "P": {"type": "object", "properties": {"q": {"type": "boolean"}}, "required": ["q"]}
            },
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/P"}},
            "required": ["p"],
        },
        {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "items": {"type": "string", "minLength": 3},
                }
            },
            "required": ["items"],
        },
        {
            "type": "object",
            "properties": {
                "a": {
                    "allOf": [
                        {
                            "type": "object",
                            "properties": {"b": {"type": "integer"}},
                            "required": ["b"],
                        }
                    ]
                }
            },
            "required": ["a"],
        },
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date"},
                "mood": {"enum": ["sad", "happy"]},
            },
        },
    ],
)
def test_schema_instances_are_valid(schema: dict[str, Any]) -> None:
    value = instance_for(schema, "Make it happy with 3 and 'ok'")
    jsonschema.validate(value, schema, format_checker=jsonschema.FormatChecker())


# -- streaming -------------------------------------------------------------------------------


def test_openai_stream_text_and_usage(http: httpx.Client, standin: StandIn) -> None:
    body = chat(
        messages=[{"role": "user", "content": "a b c d e f"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    events = sse(http, "/chat/completions", body)
    assert events[0] == ("#", "OPENROUTER PROCESSING")
    assert sum(1 for e in events if e[0] == "#") >= 3
    assert events[-1] == (None, "[DONE]")
    text, chunks = openai_stream_text(events)
    assert text == "You said: a b c d e f"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert sum(1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")) > 3
    assert all(
        c["object"] == "chat.completion.chunk" and c["id"].startswith("gen-") for c in chunks
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14}
    body.pop("stream_options")
    _, chunks = openai_stream_text(sse(http, "/chat/completions", body))
    assert all("usage" not in c for c in chunks)


def test_openai_stream_tool_call_fragments(http: httpx.Client) -> None:
    body = chat(
        messages=[{"role": "user", "content": "Use add_numbers on 12 and 30"}],
        tools=[ADDER],
        stream=True,
    )
    _, chunks = openai_stream_text(sse(http, "/chat/completions", body))
    parts = [
        tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert parts[0]["id"].startswith("call_") and parts[0]["function"]["name"] == "add_numbers"
    assert all("id" not in p and "name" not in p["function"] for p in parts[1:])
    assert len(parts) >= 3
    args = "".join(p["function"]["arguments"] for p in parts)
    assert json.loads(args) == {"a": 12, "b": 30}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_anthropic_stream_events(http: httpx.Client) -> None:
    events = sse(http, "/v1/messages", msgs(stream=True))
    names = [e for e, _ in events if e != "#"]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names[-2] == "message_delta"
    assert {"content_block_start", "ping", "content_block_delta", "content_block_stop"} <= set(
        names
    )
    data = {e: json.loads(d) for e, d in events if e == "message_delta"}
    assert data["message_delta"]["delta"]["stop_reason"] == "end_turn"
    assert data["message_delta"]["usage"]["output_tokens"] == 4
    text = "".join(json.loads(d)["delta"]["text"] for e, d in events if e == "content_block_delta")
    assert text == "You said: Hello there"


def test_anthropic_stream_tool_use(http: httpx.Client) -> None:
    tool = {"name": "add_numbers", "input_schema": ADDER["function"]["parameters"]}
    body = msgs(
        messages=[{"role": "user", "content": "add_numbers 5 and 6"}], tools=[tool], stream=True
    )
    events = [(e, json.loads(d)) for e, d in sse(http, "/v1/messages", body) if e != "#"]
    start = next(d for e, d in events if e == "content_block_start")
    assert start["content_block"]["type"] == "tool_use"
    partial = [d["delta"]["partial_json"] for e, d in events if e == "content_block_delta"]
    assert len(partial) >= 2 and json.loads("".join(partial)) == {"a": 5, "b": 6}
    stop = next(d for e, d in events if e == "message_delta")
    assert stop["delta"]["stop_reason"] == "tool_use"


def test_chunk_delay_and_keepalive_settings(http: httpx.Client, standin: StandIn) -> None:
    standin.keepalive_every = 0
    standin.chunk_delay = 0.02
    started = time.monotonic()
    events = sse(http, "/chat/completions", chat(stream=True))
    assert time.monotonic() - started >= 0.02 * (len(events) - 2)
    assert [e for e in events if e[0] == "#"] == [("#", "OPENROUTER PROCESSING")]


# -- scripted replies ------------------------------------------------------------------------


def test_scripted_reply_both_routes(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(
        Reply(
            text="scripted",
            reasoning="thinking hard",
            usage={"prompt_tokens": 9, "completion_tokens": 2},
        ),
        Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
    )
    data = http.post("/chat/completions", json=chat()).json()
    msg = data["choices"][0]["message"]
    assert msg["content"] == "scripted" and msg["reasoning_content"] == "thinking hard"
    assert data["usage"] == {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    data = http.post("/v1/messages", json=msgs()).json()
    assert data["content"][0]["input"] == {"city": "Oslo"}
    assert data["stop_reason"] == "tool_use"
    assert standin.pending == 0


def test_scripted_reasoning_streams(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Reply(text="answer", reasoning="step one"))
    events = [
        (e, json.loads(d)) for e, d in sse(http, "/v1/messages", msgs(stream=True)) if e != "#"
    ]
    kinds = [d["delta"]["type"] for e, d in events if e == "content_block_delta"]
    assert kinds[0] == "thinking_delta" and "signature_delta" in kinds and "text_delta" in kinds


# -- faults ----------------------------------------------------------------------------------


def test_status_faults(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(
        Fault.status(429, headers={"Retry-After": "2"}, retry_after=3),
        Fault.status(402),
        Fault.status(503),
        Fault.status(400, body={"x": 1}),
    )
    resp = http.post("/chat/completions", json=chat())
    assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
    assert resp.json()["status"] == "error" and resp.json()["retry_after"] == 3
    resp = http.post("/v1/messages", json=msgs())
    assert resp.status_code == 402 and "Insufficient credits" in resp.json()["message"]
    assert http.get("/v1/models").status_code == 503
    assert http.post("/chat/completions", json=chat()).json() == {"x": 1}
    assert http.post("/chat/completions", json=chat()).status_code == 200


def test_envelope_and_processing(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(
        Fault.envelope_error("Provider returned error", retry_after=5), Fault.processing(id="abc")
    )
    resp = http.post("/chat/completions", json=chat())
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "error",
        "message": "Provider returned error",
        "retry_after": 5,
    }
    assert http.post("/chat/completions", json=chat()).json()["status"] == "processing"


def test_cut_before_headers(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.cut_before_headers())
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/chat/completions", json=chat())
    assert http.post("/chat/completions", json=chat()).status_code == 200


@pytest.mark.parametrize("stream", [True, False])
def test_cut_mid_stream(http: httpx.Client, standin: StandIn, stream: bool) -> None:
    standin.enqueue(Fault.cut_mid_stream(after_events=2))
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/chat/completions", json=chat(stream=stream)) as resp,
    ):
        assert resp.status_code == 200
        seen.extend(resp.iter_lines())
    if stream:
        assert sum(1 for line in seen if line.startswith("data:")) == 2
        assert "data: [DONE]" not in seen


def test_error_mid_stream_openai(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.error_mid_stream(after_events=2, message="upstream said no"))
    events = sse(http, "/chat/completions", chat(stream=True))
    data = [d for e, d in events if e != "#"]
    assert len(data) == 3 and "[DONE]" not in data
    assert json.loads(data[-1]) == {"status": "error", "message": "upstream said no"}


def test_error_mid_stream_anthropic(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.error_mid_stream(after_events=1, error_type="overloaded_error"))
    events = [(e, d) for e, d in sse(http, "/v1/messages", msgs(stream=True)) if e != "#"]
    assert [e for e, _ in events] == ["message_start", "error"]
    assert json.loads(events[-1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Provider returned error"},
    }


def test_error_mid_stream_on_plain_request_is_an_envelope(
    http: httpx.Client, standin: StandIn
) -> None:
    standin.enqueue(Fault.error_mid_stream(message="bad param"))
    assert http.post("/chat/completions", json=chat()).json() == {
        "status": "error",
        "message": "bad param",
    }


def test_malformed_json_and_sse(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.malformed_json(), Fault.malformed_sse(after_events=1))
    resp = http.post("/chat/completions", json=chat())
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.text == '{"id": "gen-'
    events = sse(http, "/chat/completions", chat(stream=True))
    assert [d for e, d in events if e != "#"][-1] == "{not json"


def test_stall_before_headers_and_mid_stream(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.stall(1.0), Fault.stall(1.0, after_events=2))
    with pytest.raises(httpx.ReadTimeout):
        http.post("/chat/completions", json=chat(), timeout=0.2)
    seen: list[str] = []
    with (
        pytest.raises(httpx.ReadTimeout),
        http.stream("POST", "/chat/completions", json=chat(stream=True), timeout=0.2) as resp,
    ):
        seen.extend(resp.iter_lines())
    assert sum(1 for line in seen if line.startswith("data:")) == 2
    deadline = time.monotonic() + 0.5
    while standin.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert standin.in_flight == 0, "a stall should end when its client hangs up"
    started = time.monotonic()
    standin.enqueue(Fault.stall(0.1, after_events=1))
    _, chunks = openai_stream_text(sse(http, "/chat/completions", chat(stream=True)))
    assert time.monotonic() - started >= 0.1 and chunks[-1]["choices"][0]["finish_reason"]


def test_steps_are_consumed_in_order_by_any_endpoint(http: httpx.Client, standin: StandIn) -> None:
    standin.enqueue(Fault.status(500), Reply(text="second"), Fault.status(404))
    assert http.get("/v1/models").status_code == 500
    assert (
        http.post("/chat/completions", json=chat()).json()["choices"][0]["message"]["content"]
        == "second"
    )
    assert http.post("/v1/messages/count_tokens", json=msgs()).status_code == 404
    assert standin.pending == 0
    with pytest.raises(TypeError):
        standin.enqueue("not a step")  # type: ignore[arg-type]


# -- connections, concurrency, recording -----------------------------------------------------


def test_keep_alive_reuses_one_connection(http: httpx.Client, standin: StandIn) -> None:
    for _ in range(5):
        assert http.post("/chat/completions", json=chat()).status_code == 200
    sse(http, "/chat/completions", chat(stream=True))
    assert standin.connections_opened == 1
    assert len(standin.requests) == 6


def test_in_flight_rejection(standin: StandIn) -> None:
    standin.max_in_flight = 2
    standin.enqueue(Fault.stall(0.6), Fault.stall(0.6))
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        resp = httpx.post(
            standin.base_url + "/chat/completions",
            json=chat(),
            headers={"Authorization": "Bearer test-key"},
            timeout=5,
        )
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 3
    while standin.in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    late = [threading.Thread(target=send) for _ in range(2)]
    for t in late:
        t.start()
    for t in threads + late:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 200, 429, 429]
    body = next(r.json() for r in results if r.status_code == 429)
    assert body["status"] == "error" and "Rate limit" in body["message"]
    assert body["retry_after"] == standin.reject_retry_after
    assert standin.max_in_flight_seen >= 3 and standin.in_flight == 0


def test_many_concurrent_connections(standin: StandIn) -> None:
    standin.chunk_delay = 0.03  # each stream lasts ~0.3 s, so many of them overlap
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)

    def one(client: httpx.Client) -> str:
        with client.stream("POST", "/chat/completions", json=chat(stream=True)) as resp:
            return "".join(resp.iter_text()).rsplit("data: ", 1)[-1].strip()

    with (
        httpx.Client(
            base_url=standin.base_url,
            limits=limits,
            timeout=20,
            headers={"Authorization": "Bearer test-key"},
        ) as client,
        ThreadPoolExecutor(max_workers=100) as pool,
    ):
        tails = list(pool.map(lambda _: one(client), range(300)))
    assert tails == ["[DONE]"] * 300
    assert standin.max_in_flight_seen >= 30
    assert 30 <= standin.connections_opened <= 100


def test_recording_and_reset(http: httpx.Client, standin: StandIn) -> None:
    http.post("/chat/completions", json=chat(), headers={"X-Custom": "Yes"})
    rec = standin.last_request
    assert isinstance(rec, RecordedRequest)
    assert (rec.method, rec.path) == ("POST", "/api/v7/llm/chat/completions")
    assert rec.headers["x-custom"] == "Yes" and rec.headers["authorization"] == "Bearer test-key"
    assert rec.json == chat() and json.loads(rec.body) == chat()
    assert "test-key" not in repr(rec) and "test-key" not in repr(standin)
    standin.enqueue(Fault.status(500))
    standin.max_in_flight = 1
    standin.reset()
    assert (standin.requests, standin.pending, standin.max_in_flight) == ([], 0, None)
    assert standin.connections_opened == 0 and standin.max_in_flight_seen == 0


def test_reset_forgets_requests_still_running(standin: StandIn) -> None:
    """A request of an earlier test that is still being answered counts nowhere after a reset:
    not in ``max_in_flight_seen``, not against the cap; ``in_flight`` still shows it."""
    standin.enqueue(Fault.stall(1.0))
    headers = {"Authorization": f"Bearer {standin.api_key}"}
    with (
        httpx.Client(base_url=standin.base_url, headers=headers, timeout=5) as old,
        ThreadPoolExecutor(1) as pool,
    ):
        running = pool.submit(old.post, "/chat/completions", json=chat())
        deadline = time.monotonic() + 3
        while standin.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        standin.reset()
        assert standin.in_flight == 1 and standin.max_in_flight_seen == 0
        standin.max_in_flight = 1
        with httpx.Client(base_url=standin.base_url, headers=headers, timeout=5) as new:
            assert new.post("/chat/completions", json=chat()).status_code == 200
        assert standin.max_in_flight_seen == 1 and standin.rejected == 0
        assert running.result().status_code == 200
    assert standin.in_flight == 0 and len(standin.requests) == 1


def test_start_stop_is_quick_even_with_a_stalled_request() -> None:
    srv = StandIn(api_key="k").start()
    srv.enqueue(Fault.stall(30))
    thread = threading.Thread(target=lambda: _swallow(srv.base_url + "/v1/models"))
    thread.start()
    deadline = time.monotonic() + 3
    while srv.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    srv.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2 and not thread.is_alive()


def _swallow(url: str) -> None:
    """GET ``url`` and ignore the failure."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(url, headers={"x-api-key": "k"}, timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_command_line_serves_until_interrupted(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelslab_core.testing",
            "--port",
            "0",
            "--api-key",
            "cli-key",
            "--max-in-flight",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v7/llm")
        resp = httpx.post(
            url + "/chat/completions", json=chat(), headers={"Authorization": "Bearer cli-key"}
        )
        assert resp.status_code == 200
    finally:
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0


# -- token counting with tools and system; strict model fields ------------------------------


def _anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI tool definition in Anthropic's shape."""
    fn = tool["function"]
    return {"name": fn["name"], "description": fn["description"], "input_schema": fn["parameters"]}


def test_count_tokens_counts_tools_and_system(http: httpx.Client) -> None:
    base = {"model": MODEL, "messages": [{"role": "user", "content": "a b c"}]}

    def count(**extra: Any) -> int:
        resp = http.post("/v1/messages/count_tokens", json={**base, **extra})
        assert resp.status_code == 200
        value = resp.json()["input_tokens"]
        assert isinstance(value, int)
        return value

    bare = count()
    assert bare == 3
    assert count(system="one two") == bare + 2
    one = count(tools=[_anthropic_tool(WEATHER)])
    two = count(tools=[_anthropic_tool(WEATHER), _anthropic_tool(ADDER)])
    assert bare < one < two
    spec = {
        "name": "get_weather",
        "description": WEATHER["function"]["description"],
        "parameters": WEATHER["function"]["parameters"],
    }
    assert one - bare == len(json.dumps(spec, sort_keys=True).split())


def test_chat_usage_counts_tools_like_count_tokens(http: httpx.Client) -> None:
    """Both dialects report the same prompt tokens as count_tokens, tools included."""
    user = [{"role": "user", "content": "a b c"}]
    counted = http.post(
        "/v1/messages/count_tokens",
        json={"model": MODEL, "messages": user, "tools": [_anthropic_tool(WEATHER)]},
    ).json()["input_tokens"]
    openai = http.post(
        "/chat/completions", json=chat(messages=user, tools=[WEATHER], tool_choice="none")
    ).json()
    anthropic = http.post(
        "/v1/messages",
        json=msgs(messages=user, tools=[_anthropic_tool(WEATHER)], tool_choice={"type": "none"}),
    ).json()
    assert openai["usage"]["prompt_tokens"] == counted == anthropic["usage"]["input_tokens"]
    assert counted > 3


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_anthropic_routes_require_model_not_model_id(http: httpx.Client, path: str) -> None:
    body = msgs()
    body["model_id"] = body.pop("model")
    resp = http.post(path, json=body)
    assert resp.status_code == 400
    assert "'model' is required" in resp.text


def test_tool_message_parts_must_be_text(http: httpx.Client) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    text_parts = {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]}
    ok = http.post("/chat/completions", json=chat(messages=[*history, text_parts]))
    assert ok.status_code == 200
    with_image = {**text_parts, "content": [{"type": "text", "text": "ok"}, image]}
    bad = http.post("/chat/completions", json=chat(messages=[*history, with_image]))
    assert bad.status_code == 400
    assert "tool message content parts must be text" in bad.text
