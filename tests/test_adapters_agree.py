"""Both adapters decide a request the same way: one table of inputs, one neutral `ChatRequest`.

Each row is a call as a user of either framework writes it (tool choices in every spelling,
response formats, sampling fields, stop, unknown fields); both adapters must build the same
`ChatRequest` from it, or fail the same way before any request.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from _support import MODEL, WEATHER_TOOL
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import ChatRequest, ImagePart
from modelslab_core.normalize import DEFAULT_MODEL, DEFAULT_SCHEMA_NAME

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
NAMED_OPENAI = {"type": "function", "function": {"name": "get_weather"}}
NAMED_ANTHROPIC = {"type": "tool", "name": "get_weather"}
TOOLS = {"tools": [WEATHER_TOOL]}
ROWS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("sampling", {"temperature": 0.3, "top_p": 0.9, "top_k": 5, "max_tokens": 40, "seed": 7}),
    ("penalties", {"frequency_penalty": 0.5, "presence_penalty": -0.5, "repetition_penalty": 1.1}),
    ("stop string", {"stop": "END"}),
    ("stop list", {"stop": ["END", "STOP"]}),
    ("unknown field", {"logprobs": True, "extra_body": {"provider": {"order": ["x"]}}}),
    ("model override", {"model": "meta-llama-llama-3.1-8b-instruct"}),
    ("tools", TOOLS),
    ("choice auto", {**TOOLS, "tool_choice": "auto"}),
    ("choice none", {**TOOLS, "tool_choice": "none"}),
    ("choice required", {**TOOLS, "tool_choice": "required"}),
    ("choice any", {**TOOLS, "tool_choice": "any"}),
    ("choice True", {**TOOLS, "tool_choice": True}),
    ("choice name", {**TOOLS, "tool_choice": "get_weather"}),
    ("choice openai dict", {**TOOLS, "tool_choice": NAMED_OPENAI}),
    ("choice anthropic dict", {**TOOLS, "tool_choice": NAMED_ANTHROPIC}),
    ("choice anthropic any", {**TOOLS, "tool_choice": {"type": "any"}}),
    ("parallel", {**TOOLS, "parallel_tool_calls": False}),
    ("parallel without tools", {"parallel_tool_calls": False}),
    ("auto without tools", {"tool_choice": "auto"}),
    ("json mode", {"response_format": {"type": "json_object"}}),
    (
        "json schema",
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Out", "schema": SCHEMA},
            }
        },
    ),
    (
        "json schema unnamed",
        {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
    ),
]
BAD_ROWS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown tool name", {**TOOLS, "tool_choice": "get_time"}, "not a bound tool"),
    (
        "unknown dict name",
        {**TOOLS, "tool_choice": {"type": "tool", "name": "x"}},
        "not a bound tool",
    ),
    ("forced without tools", {"tool_choice": "required"}, "no tools are bound"),
    ("bad choice", {**TOOLS, "tool_choice": 3}, "Unsupported tool_choice"),
    ("bad format", {"response_format": {"type": "yaml"}}, "Unsupported response_format"),
    (
        "schema without schema",
        {"response_format": {"type": "json_schema", "json_schema": {}}},
        "needs json_schema.schema",
    ),
]

LC_HISTORY = [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello!"), HumanMessage("Weather?")]  # fmt: skip
LI_HISTORY = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="Hi"),
    ChatMessage(role="assistant", content="Hello!"),
    ChatMessage(role="user", content="Weather?"),
]


def _langchain(kwargs: dict[str, Any]) -> ChatRequest:
    model = ChatModelsLab(api_key="k", model=MODEL)
    call = dict(kwargs)
    stop = call.pop("stop", None)
    return model._request(LC_HISTORY, [stop] if isinstance(stop, str) else stop, call)


def _llama_index(kwargs: dict[str, Any]) -> ChatRequest:
    return ModelsLab(api_key="k", model=MODEL, temperature=None)._request(LI_HISTORY, kwargs)


@pytest.mark.parametrize(("kwargs"), [r[1] for r in ROWS], ids=[r[0] for r in ROWS])
def test_same_inputs_same_request(kwargs: dict[str, Any]) -> None:
    from_langchain, from_llama_index = _langchain(kwargs), _llama_index(kwargs)
    assert from_langchain == from_llama_index
    assert from_langchain.model == kwargs.get("model", MODEL)


@pytest.mark.parametrize(("kwargs", "error"), [r[1:] for r in BAD_ROWS], ids=[r[0] for r in BAD_ROWS])  # fmt: skip
def test_same_bad_inputs_same_error(kwargs: dict[str, Any], error: str) -> None:
    for build in (_langchain, _llama_index):
        with pytest.raises((ValueError, TypeError), match=error):
            build(kwargs)


def test_one_default_model_and_schema_name() -> None:
    assert ChatModelsLab(api_key="k").model == ModelsLab(api_key="k").model == DEFAULT_MODEL
    unnamed = dict(ROWS)["json schema unnamed"]
    fmt = _llama_index(unnamed).response_format
    assert fmt is not None and fmt.type == "json_schema" and fmt.name == DEFAULT_SCHEMA_NAME


def test_one_meaning_of_timeout() -> None:
    lc = ChatModelsLab(api_key="k", timeout=7)._client_config()
    li = ModelsLab(api_key="k", timeout=7).client_config()
    assert (lc.connect_timeout, lc.read_timeout) == (li.connect_timeout, li.read_timeout) == (7, 7)
    defaults = ChatModelsLab(api_key="k")._client_config(), ModelsLab(api_key="k").client_config()
    assert {(c.connect_timeout, c.read_timeout) for c in defaults} == {(10.0, 120.0)}


def test_one_path_from_settings_to_config(tmp_path: Any) -> None:
    """The same settings give the same `ClientConfig` (``ClientConfig.from_settings``)."""
    from modelslab_core import ModelPricing

    price = ModelPricing.per_million("0.05", "0.3")
    common: dict[str, Any] = {
        "api_key": "k",
        "model": MODEL,
        "timeout": 7,
        "max_retries": 4,
        "max_in_flight": 3,
        "pricing": price,
        "catalog_file": str(tmp_path / "catalog.json"),
        "default_headers": {"X-Team": "a"},
        "dialect": "anthropic",
    }
    lc = ChatModelsLab(base_url="http://127.0.0.1:1/v1", **common)._client_config()
    li = ModelsLab(api_base="http://127.0.0.1:1/v1", **common).client_config()
    assert lc == li
    assert lc.pricing == {MODEL: price} and lc.retry.max_retries == 4
    assert lc.base_url == "http://127.0.0.1:1" and lc.default_headers == {"X-Team": "a"}


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 24).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 24).decode()
UNKNOWN = base64.b64encode(b"not an image at all, just bytes").decode()
IMAGE_ROWS: list[tuple[str, str, Any]] = [
    ("data URL with its type", f"data:image/png;base64,{PNG}", ("image/png", PNG)),
    ("data URL without a type, PNG bytes", f"data:;base64,{PNG}", ("image/png", PNG)),
    ("data URL without a type, JPEG bytes", f"data:;base64,{JPEG}", ("image/jpeg", JPEG)),
    ("data URL of unknown bytes", f"data:;base64,{UNKNOWN}", "needs its MIME type"),
    ("data URL not base64", "data:text/plain,hello", "Only base64 data: URLs"),
]


@pytest.mark.parametrize(("url", "expected"), [r[1:] for r in IMAGE_ROWS], ids=[r[0] for r in IMAGE_ROWS])  # fmt: skip
def test_one_rule_for_inline_images(url: str, expected: Any) -> None:
    """A ``data:`` URL (and base64 without a MIME type) reads the same in both adapters: the
    type given, else the one the bytes show, else an error before sending."""
    from llama_index.core.base.llms.types import ImageBlock, TextBlock

    lc_message = HumanMessage(content=[{"type": "text", "text": "?"}, {"type": "image_url", "image_url": {"url": url}}])  # fmt: skip
    li_message = ChatMessage(role="user", blocks=[TextBlock(text="?"), ImageBlock(url=url)])
    model, llm = ChatModelsLab(api_key="k", model=MODEL), ModelsLab(api_key="k", model=MODEL)
    if isinstance(expected, str):
        for build in (lambda: model._request([lc_message], None, {}), lambda: llm._request([li_message], {})):  # fmt: skip
            with pytest.raises(ValueError, match=expected):
                build()
        return
    lc_part = model._request([lc_message], None, {}).messages[-1].content[-1]
    li_part = llm._request([li_message], {}).messages[-1].content[-1]
    assert lc_part == li_part
    assert isinstance(lc_part, ImagePart) and (lc_part.mime_type, lc_part.data) == expected


def test_base64_without_a_type_reads_the_bytes() -> None:
    """LangChain's base64 block without ``mime_type`` (langchain-core would refuse it) gets the
    type its bytes show, like LlamaIndex's `ImageBlock` (llama-index-core guesses it)."""
    model = ChatModelsLab(api_key="k", model=MODEL)
    message = HumanMessage(content=[{"type": "image", "base64": JPEG}])
    part = model._request([message], None, {}).messages[-1].content[-1]
    assert isinstance(part, ImagePart) and part.mime_type == "image/jpeg"
    with pytest.raises(ValueError, match="needs its MIME type"):
        model._request([HumanMessage(content=[{"type": "image", "base64": UNKNOWN}])], None, {})
