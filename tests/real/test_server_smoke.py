"""Smoke tests of the real local llama-server: ModelsLab's paths, auth and response shapes.

Plain httpx, short answers; they assert shapes, not the small model's choices.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.real_model

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def _bearer(server: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def _chat(server: Any, **body: Any) -> dict[str, Any]:
    """POST /chat/completions and return the JSON body (asserting 200)."""
    payload = {"model": server.model, "max_tokens": 8, **body}
    response = httpx.post(
        server.base_url + "/chat/completions", json=payload, headers=_bearer(server), timeout=120
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_chat_completion_and_stream(llama_server: Any) -> None:
    """A plain completion and an SSE stream have OpenAI's shapes; the stream ends in [DONE]."""
    messages = [{"role": "user", "content": "Say hello."}]
    data = _chat(llama_server, messages=messages)
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert data["model"] == llama_server.model
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str) and choice["message"]["content"]
    assert choice["finish_reason"] in {"stop", "length"}
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]

    body = {"model": llama_server.model, "messages": messages, "max_tokens": 8, "stream": True}
    body["stream_options"] = {"include_usage": True}
    with httpx.stream(
        "POST",
        llama_server.base_url + "/chat/completions",
        json=body,
        headers=_bearer(llama_server),
        timeout=120,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: ") :]) for line in lines[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] in {"stop", "length"}
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_required_tool_call(llama_server: Any) -> None:
    """Under tool_choice "required" the server parses our template's fenced json into a call."""
    data = _chat(
        llama_server,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=48,
    )
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    calls = choice["message"]["tool_calls"]
    assert len(calls) >= 1
    assert calls[0]["type"] == "function"
    assert calls[0]["function"]["name"] == "get_weather"
    assert isinstance(json.loads(calls[0]["function"]["arguments"]), dict)
    assert calls[0]["id"]


def test_models_count_tokens_and_auth(llama_server: Any) -> None:
    """/v1/models and /v1/messages/count_tokens answer with x-api-key; no key is a 401."""
    key_header = {"x-api-key": llama_server.api_key, "anthropic-version": "2023-06-01"}
    models = httpx.get(llama_server.base_url + "/v1/models", headers=key_header, timeout=30)
    assert models.status_code == 200
    assert [m["id"] for m in models.json()["data"]] == [llama_server.model]

    def count(text: str) -> int:
        body = {"model": llama_server.model, "messages": [{"role": "user", "content": text}]}
        response = httpx.post(
            llama_server.base_url + "/v1/messages/count_tokens",
            json=body,
            headers=key_header,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["input_tokens"])

    short, longer = count("Hello"), count("Hello " * 20)
    assert 0 < short < longer

    anonymous = httpx.get(llama_server.base_url + "/v1/models", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"
