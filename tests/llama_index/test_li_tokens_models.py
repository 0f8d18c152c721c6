"""`ModelsLab` token counting and model listing against the stand-in: exact wire JSON, both
chat dialects (counting always goes to ``/v1/messages/count_tokens``), sync and async, and the
same answers as LangChain's `ChatModelsLab`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from li_helpers import MODEL, user
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import ModelInfo, NotFoundError
from modelslab_core.testing import StandIn


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


ADD = FunctionTool.from_defaults(fn=add)
ADD_WIRE = {
    "name": "add",
    "description": ADD.metadata.description,  # LlamaIndex's own: signature + docstring
    "input_schema": {
        "properties": {
            "a": {"title": "A", "type": "integer"},
            "b": {"title": "B", "type": "integer"},
        },
        "required": ["a", "b"],
        "type": "object",
    },
}
MESSAGES = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="What is 2 + 3?"),
]
PLAIN_WORDS = 7  # "Be brief." + "What is 2 + 3?", in the stand-in's whitespace tokens


async def count(
    llm: ModelsLab, sync: bool, messages: Sequence[ChatMessage], tools: Any = None
) -> int:
    """``count_tokens`` or ``acount_tokens``."""
    if sync:
        return llm.count_tokens(messages, tools=tools)
    return await llm.acount_tokens(messages, tools=tools)


async def models(llm: ModelsLab, sync: bool) -> list[ModelInfo]:
    """``list_models`` or ``alist_models``."""
    return llm.list_models() if sync else await llm.alist_models()


def tool_words(wire_tool: dict[str, Any]) -> int:
    """The stand-in's count of one tool: words of its JSON (name, description, schema)."""
    spec = {
        "name": wire_tool["name"],
        "description": wire_tool["description"],
        "parameters": wire_tool["input_schema"],
    }
    return len(json.dumps(spec, sort_keys=True).split())


async def test_count_tokens_exact_wire_json(llm: ModelsLab, standin: StandIn, sync: bool) -> None:
    n = await count(llm, sync, MESSAGES)

    assert n == PLAIN_WORDS
    assert len(standin.requests) == 1
    rec = standin.last_request
    assert rec.method == "POST" and rec.path.endswith("/v1/messages/count_tokens")
    assert rec.json == {"model": MODEL, "system": "Be brief.", "messages": [user("What is 2 + 3?")]}


async def test_count_tokens_with_tools_counts_more(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    plain = await count(llm, sync, MESSAGES)
    with_tools = await count(llm, sync, MESSAGES, tools=[ADD])

    assert standin.last_request.json == {
        "model": MODEL,
        "system": "Be brief.",
        "messages": [user("What is 2 + 3?")],
        "tools": [ADD_WIRE],
    }
    assert with_tools == plain + tool_words(ADD_WIRE) > plain


async def test_count_tokens_sends_model_only_whatever_the_model_field(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    llm = make_llm(model_field="model_id", model="qwen-qwen2.5-7b-instruct")
    assert llm.model in standin.models
    await count(llm, sync, [ChatMessage(role="user", content="a b c")])
    assert standin.last_request.json == {"model": llm.model, "messages": [user("a b c")]}


async def test_count_tokens_unknown_model_is_not_found(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    llm = make_llm(model="no-such-model")
    with pytest.raises(NotFoundError):
        await count(llm, sync, MESSAGES)
    assert len(standin.requests) == 1  # a 404 is not retried


async def test_count_tokens_of_nothing_is_zero_without_a_request(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    assert await count(llm, sync, []) == 0
    assert standin.requests == []


async def test_list_models(llm: ModelsLab, standin: StandIn, sync: bool) -> None:
    found = await models(llm, sync)

    assert all(isinstance(m, ModelInfo) for m in found)
    assert [m.id for m in found] == list(standin.models)
    assert MODEL in [m.id for m in found]
    rec = standin.last_request
    assert rec.method == "GET" and rec.path.endswith("/v1/models")
    assert len(standin.requests) == 1


async def test_both_adapters_agree(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    """The LangChain model answers the same count and list for the same input."""
    chat_model = ChatModelsLab(
        model=MODEL, api_key=standin.api_key, base_url=standin.base_url, dialect=dialect
    )
    lc_messages = [SystemMessage("Be brief."), HumanMessage("What is 2 + 3?")]
    lc_tool = {"type": "function", "function": ADD.metadata.to_openai_tool()["function"]}

    assert await count(llm, sync, MESSAGES, tools=[ADD]) == (
        chat_model.get_num_tokens_from_messages(lc_messages, tools=[lc_tool])
    )
    li_request, lc_request = standin.requests[-2:]
    assert li_request.json == lc_request.json
    lc_models = chat_model.list_models() if sync else await chat_model.alist_models()
    assert await models(llm, sync) == lc_models
