"""Structured output: the four ``structured_predict`` variants and ``as_structured_llm``, through
function calling (default), JSON schema and JSON mode, on both dialects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from li_helpers import user, wire
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel, ConfigDict

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import Reply, StandIn

MODES = ["function_calling", "json_schema", "json_mode"]
PROMPT = PromptTemplate("Name the capital of {country}.")
QUESTION = "Name the capital of France."
PARIS = {"name": "Paris", "country": "France"}


class City(BaseModel):
    """A city."""

    name: str
    country: str


SCHEMA = City.model_json_schema()
PARAMS = {k: v for k, v in SCHEMA.items() if k in ("type", "properties", "required")}
INSTRUCTION = (
    "Answer with a single JSON object that is valid against this JSON schema, and nothing "
    "else:\n" + json.dumps(SCHEMA)
)


def scripted_reply(mode: str, dialect: str) -> Reply:
    """The server's answer for ``mode``: a tool call, or JSON text."""
    as_tool = mode == "function_calling" or (mode == "json_schema" and dialect == "anthropic")
    if as_tool:
        return Reply(tool_calls=[{"name": "City", "arguments": PARIS}])
    return Reply(text=json.dumps(PARIS))


def expected_wire(mode: str, dialect: str, question: str = QUESTION) -> dict[str, Any]:
    """The request each mode must send (never a tool_choice without tools)."""
    messages = [user(question)]
    if mode == "function_calling":
        if dialect == "openai":
            tool = {
                "type": "function",
                "function": {"name": "City", "description": "A city.", "parameters": PARAMS},
            }
            return wire(
                dialect, messages, tools=[tool], tool_choice="required", parallel_tool_calls=False
            )
        tool = {"name": "City", "description": "A city.", "input_schema": PARAMS}
        choice = {"type": "any", "disable_parallel_tool_use": True}
        return wire(dialect, messages, tools=[tool], tool_choice=choice)
    if mode == "json_schema":
        if dialect == "openai":
            fmt = {"name": "City", "schema": SCHEMA, "description": "A city."}
            return wire(
                dialect, messages, response_format={"type": "json_schema", "json_schema": fmt}
            )
        tool = {"name": "City", "description": "A city.", "input_schema": SCHEMA}
        return wire(dialect, messages, tools=[tool], tool_choice={"type": "tool", "name": "City"})
    if dialect == "openai":
        system = {"role": "system", "content": INSTRUCTION}
        return wire(dialect, [system, *messages], response_format={"type": "json_object"})
    suffix = (
        "\n\nRespond with a single valid JSON object and nothing else: no prose, no code fences."
    )
    return wire(dialect, messages, system=INSTRUCTION + suffix)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def structured_llm(make_llm: Callable[..., ModelsLab], mode: str) -> ModelsLab:
    return make_llm(structured_output_mode=mode)


async def test_structured_predict(
    structured_llm: ModelsLab, standin: StandIn, dialect: str, mode: str, sync: bool
) -> None:
    standin.enqueue(scripted_reply(mode, dialect))
    if sync:
        city = structured_llm.structured_predict(City, PROMPT, country="France")
    else:
        city = await structured_llm.astructured_predict(City, PROMPT, country="France")
    assert city == City(**PARIS)
    assert standin.last_request.json == expected_wire(mode, dialect)
    assert len(standin.requests) == 1


async def test_stream_structured_predict(
    structured_llm: ModelsLab, standin: StandIn, dialect: str, mode: str, sync: bool
) -> None:
    standin.enqueue(scripted_reply(mode, dialect))
    if sync:
        objects = list(structured_llm.stream_structured_predict(City, PROMPT, country="France"))
    else:
        gen = await structured_llm.astream_structured_predict(City, PROMPT, country="France")
        objects = [o async for o in gen]
    assert objects[-1] == City(**PARIS)
    assert len(objects) > 1  # partial objects came first
    assert any(getattr(o, "name", None) is None for o in objects[:-1])
    stream = {"stream": True} | (
        {"stream_options": {"include_usage": True}} if dialect == "openai" else {}
    )
    assert standin.last_request.json == expected_wire(mode, dialect) | stream


async def test_structured_predict_with_server_defaults(
    structured_llm: ModelsLab, standin: StandIn, dialect: str, mode: str
) -> None:
    """Unscripted, the stand-in answers from the schema: the object must still validate."""
    city = await structured_llm.astructured_predict(City, PROMPT, country="France")
    assert isinstance(city, City) and city.name and city.country


async def test_as_structured_llm(
    structured_llm: ModelsLab, standin: StandIn, dialect: str, mode: str, sync: bool
) -> None:
    sllm = structured_llm.as_structured_llm(City)
    messages = [ChatMessage(role="user", content=QUESTION)]
    standin.enqueue(scripted_reply(mode, dialect), scripted_reply(mode, dialect))
    response = sllm.chat(messages) if sync else await sllm.achat(messages)
    assert response.raw == City(**PARIS)
    assert json.loads(response.message.content or "") == PARIS
    assert standin.last_request.json == expected_wire(mode, dialect)

    if sync:
        chunks = list(sllm.stream_chat(messages))
    else:
        chunks = [c async for c in await sllm.astream_chat(messages)]
    assert chunks[-1].raw == City(**PARIS)


def test_invalid_json_is_a_clear_error(
    make_llm: Callable[..., ModelsLab], standin: StandIn
) -> None:
    llm = make_llm(structured_output_mode="json_mode")
    standin.enqueue(Reply(text="Sorry, I cannot do that."))
    with pytest.raises(ValueError, match="not valid JSON"):
        llm.structured_predict(City, PROMPT, country="France")


class _Opaque:
    """A type pydantic can hold but not describe in JSON schema."""


class Unschemable(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    handle: _Opaque


async def _structured_entry(llm: ModelsLab, entry: str, output_cls: Any) -> Any:
    """Call one structured entry point up to the point where it returns (no iteration)."""
    if entry == "structured_predict":
        return llm.structured_predict(output_cls, PROMPT, country="France")
    if entry == "astructured_predict":
        return await llm.astructured_predict(output_cls, PROMPT, country="France")
    if entry == "stream_structured_predict":
        return llm.stream_structured_predict(output_cls, PROMPT, country="France")
    if entry == "astream_structured_predict":
        return await llm.astream_structured_predict(output_cls, PROMPT, country="France")
    return llm.as_structured_llm(output_cls)


ENTRIES = [
    "structured_predict",
    "astructured_predict",
    "stream_structured_predict",
    "astream_structured_predict",
    "as_structured_llm",
]


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize(
    ("output_cls", "needle"),
    [
        (int, "got int"),
        (City(**PARIS), "got a City instance"),
        (Unschemable, "Unschemable cannot be described as JSON schema"),
    ],
    ids=["int", "instance", "unschemable"],
)
async def test_bad_output_class_fails_up_front(
    structured_llm: ModelsLab, standin: StandIn, entry: str, output_cls: Any, needle: str
) -> None:
    """Not a pydantic class, or one without a JSON schema: a TypeError naming it, at call time."""
    with pytest.raises(TypeError, match=needle) as info:
        await _structured_entry(structured_llm, entry, output_cls)
    if output_cls is Unschemable:  # pydantic's own error is kept as the cause
        assert type(info.value.__cause__).__name__ == "PydanticInvalidForJsonSchema"
    assert standin.requests == []
