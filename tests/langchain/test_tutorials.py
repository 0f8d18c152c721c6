"""What LangChain's own tutorials do with a chat model, against the stand-in.

- "Build a Chatbot" trims history with ``trim_messages(..., token_counter=model,
  include_system=True)``: it counts lists a real request never has alone (a system message
  alone, nothing at all), and every count must be what the server counts in a real request.
- The structured-output how-to calls ``with_structured_output(None, method="json_mode")``
  and expects dicts.
- A server that ignores a forced ``tool_choice`` and answers in text must not make
  structured output return ``None``: that is an output-parsing error saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from _support import WEATHER_TOOL
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages
from pydantic import BaseModel

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import Reply, StandIn

MakeModel = Callable[..., ChatModelsLab]
SYSTEM = SystemMessage("you're a good assistant, you always answer in one line")
HISTORY = [
    SYSTEM,
    HumanMessage("hi! I'm bob"),
    AIMessage("hi!"),
    HumanMessage("I like vanilla ice cream"),
    AIMessage("nice"),
    HumanMessage("whats 2 + 2"),
    AIMessage("4"),
    HumanMessage("thanks"),
    AIMessage("no problem!"),
    HumanMessage("having fun?"),
    AIMessage("yes!"),
]


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


def test_counts_are_what_a_real_request_costs(standin: StandIn, make_model: MakeModel, dialect: str) -> None:  # fmt: skip
    model = make_model(dialect=dialect)
    human = HumanMessage("what is the capital of France?")
    system_alone = model.get_num_tokens_from_messages([SYSTEM])
    human_alone = model.get_num_tokens_from_messages([human])
    tools_alone = model.get_num_tokens_from_messages([], tools=[WEATHER_TOOL])
    assert system_alone > 0 and human_alone > 0 and tools_alone > 0
    # The server's own count of a real request is the sum of its parts' counts.
    assert model.get_num_tokens_from_messages([SYSTEM, human]) == system_alone + human_alone
    both = model.get_num_tokens_from_messages([human], tools=[WEATHER_TOOL])
    assert both == human_alone + tools_alone
    answer = model.bind_tools([WEATHER_TOOL]).invoke([SYSTEM, human])
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == system_alone + human_alone + tools_alone
    # Nothing to count costs nothing, and no request.
    before = len(standin.requests)
    assert model.get_num_tokens_from_messages([]) == 0
    assert len(standin.requests) == before


def test_chatbot_tutorial_trims_history_with_the_model(standin: StandIn, make_model: MakeModel, dialect: str) -> None:  # fmt: skip
    model = make_model(dialect=dialect)
    trimmer = trim_messages(
        max_tokens=25,
        strategy="last",
        token_counter=model,
        include_system=True,
        allow_partial=False,
        start_on="human",
    )
    trimmed = trimmer.invoke(HISTORY)
    assert trimmed[0] == SYSTEM
    assert isinstance(trimmed[1], HumanMessage) and trimmed[-1] == HISTORY[-1]
    assert len(trimmed) < len(HISTORY)
    # The longest tail starting on a human turn that fits with the system prompt, by the
    # model's own counts (the server's):
    fitting = [
        [SYSTEM, *HISTORY[start:]]
        for start in range(1, len(HISTORY))
        if isinstance(HISTORY[start], HumanMessage)
        and model.get_num_tokens_from_messages([SYSTEM, *HISTORY[start:]]) <= 25
    ]
    assert trimmed == fitting[0]
    answer = (trimmer | model).invoke(HISTORY)
    assert isinstance(answer, AIMessage) and answer.content


async def test_json_mode_without_a_schema_gives_dicts(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    prompt = "Give the 'name' and 'country' of the capital of France as JSON."
    structured = make_model(dialect=dialect).with_structured_output(None, method="json_mode")
    out = structured.invoke(prompt) if mode == "sync" else await structured.ainvoke(prompt)
    assert isinstance(out, dict) and set(out) == {"name", "country"}
    raw = make_model(dialect=dialect).with_structured_output(
        None, method="json_mode", include_raw=True
    )
    got = raw.invoke(prompt) if mode == "sync" else await raw.ainvoke(prompt)
    assert isinstance(got["raw"], AIMessage) and got["parsing_error"] is None
    assert isinstance(got["parsed"], dict) and set(got["parsed"]) == {"name", "country"}
    with pytest.raises(ValueError, match="needs a schema"):
        make_model().with_structured_output(None)


@pytest.mark.parametrize("schema", [City, City.model_json_schema()], ids=["pydantic", "dict"])
async def test_forced_tool_answered_in_text_is_a_parsing_error(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str, schema: Any
) -> None:
    text = "Paris is the capital of France."
    model = make_model(dialect=dialect)
    standin.enqueue(Reply(text=text))
    structured = model.with_structured_output(schema)
    with pytest.raises(OutputParserException, match="did not call the tool 'City'") as info:
        _ = structured.invoke("x") if mode == "sync" else await structured.ainvoke("x")
    assert text in str(info.value)
    standin.enqueue(Reply(text=text))
    raw = model.with_structured_output(schema, include_raw=True)
    got = raw.invoke("x") if mode == "sync" else await raw.ainvoke("x")
    assert got["parsed"] is None and got["raw"].content == text
    assert isinstance(got["parsing_error"], OutputParserException)
    standin.enqueue(Reply(text=text))
    with pytest.raises(OutputParserException, match="did not call the tool 'City'"):
        if mode == "sync":
            list(structured.stream("x"))
        else:
            _ = [chunk async for chunk in structured.astream("x")]
