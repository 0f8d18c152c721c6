"""What LlamaIndex users hit first, against the stand-in: counting any list of messages, and
structured output when the server answers in text instead of calling the forced tool."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.output_parsers.base import OutputParserException
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_modelslab import ModelsLab, NoToolCallError
from modelslab_core.testing import Reply, StandIn

SYSTEM = ChatMessage(
    role="system", content="you're a good assistant, you always answer in one line"
)
HUMAN = ChatMessage(role="user", content="what is the capital of France?")
TEXT = "Paris is the capital of France."
PROMPT = PromptTemplate("What is the capital of {country}?")


def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


async def count(llm: ModelsLab, sync: bool, messages: list[ChatMessage], tools: Any = None) -> int:
    if sync:
        return llm.count_tokens(messages, tools=tools)
    return await llm.acount_tokens(messages, tools=tools)


async def test_counts_are_what_a_real_request_costs(llm: ModelsLab, standin: StandIn, sync: bool) -> None:  # fmt: skip
    tools = [FunctionTool.from_defaults(fn=get_weather)]
    system_alone = await count(llm, sync, [SYSTEM])
    human_alone = await count(llm, sync, [HUMAN])
    tools_alone = await count(llm, sync, [], tools)
    assert system_alone > 0 and human_alone > 0 and tools_alone > 0
    assert (
        await count(llm, sync, [SYSTEM, HUMAN], tools) == system_alone + human_alone + tools_alone
    )
    answer = llm.chat_with_tools(tools, chat_history=[SYSTEM, HUMAN])
    assert answer.raw["usage"]["prompt_tokens" if llm.dialect == "openai" else "input_tokens"] > 0
    assert answer.additional_kwargs["prompt_tokens"] == system_alone + human_alone + tools_alone
    before = len(standin.requests)
    assert await count(llm, sync, []) == 0
    assert len(standin.requests) == before


async def test_forced_tool_answered_in_text_is_an_error(llm: ModelsLab, standin: StandIn, sync: bool) -> None:  # fmt: skip
    for run in ("predict", "structured_llm", "stream"):
        standin.enqueue(Reply(text=TEXT))
        with pytest.raises(NoToolCallError, match="did not call") as info:
            if run == "predict" and sync:
                llm.structured_predict(City, PROMPT, country="France")
            elif run == "predict":
                await llm.astructured_predict(City, PROMPT, country="France")
            elif run == "structured_llm" and sync:
                llm.as_structured_llm(City).complete("What is the capital of France?")
            elif run == "structured_llm":
                await llm.as_structured_llm(City).acomplete("What is the capital of France?")
            elif sync:
                list(llm.stream_structured_predict(City, PROMPT, country="France"))
            else:
                gen = await llm.astream_structured_predict(City, PROMPT, country="France")
                _ = [obj async for obj in gen]
        assert TEXT in str(info.value), run
        assert isinstance(info.value, OutputParserException) and isinstance(info.value, ValueError)
    assert len(standin.requests) == 3
