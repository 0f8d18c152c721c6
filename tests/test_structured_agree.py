"""Both adapters do structured output the same way: one table of inputs (mode, ``strict``,
dialect, the server's answer), the same request on the wire and the same object or error.

The core decides (`modelslab_core.structured.plan`); each adapter only converts the output
class with its framework's converter (langchain-core's ``convert_to_openai_tool``, LlamaIndex's
function tool or the class's JSON schema). Those schemas are compared by what they require
(properties, required fields); everything else on the wire must be equal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import HumanMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel, ValidationError

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab, NoToolCallError
from modelslab_core import StructuredOutputError
from modelslab_core.structured import INSTRUCTION
from modelslab_core.testing import Reply, StandIn

QUESTION = "Name the capital of France."
PARIS = {"name": "Paris", "country": "France"}


class City(BaseModel):
    """A city."""

    name: str
    country: str


def _as_tool(mode: str, dialect: str) -> bool:
    return mode == "function_calling" or (mode == "json_schema" and dialect == "anthropic")


def _answer(mode: str, dialect: str, what: str) -> Reply:
    """The server's answer: the object where the mode expects it, or a wrong one."""
    if what == "text instead of the call":
        return Reply(text="Paris, in France.")
    value: Any = {
        "right": PARIS,
        "cut object": '{"name": "Paris", "country": "Fr',
        "missing field": {"name": "Paris"},
    }[what]
    if _as_tool(mode, dialect):
        return Reply(tool_calls=[{"name": "City", "arguments": value}])
    return Reply(text=value if isinstance(value, str) else json.dumps(value))


ROWS = [
    (mode, strict, dialect, what)
    for mode in ("function_calling", "json_schema", "json_mode")
    for strict in (None, True, False)
    if not (mode == "json_mode" and strict)
    for dialect in ("openai", "anthropic")
    for what in ("right", "text instead of the call", "cut object", "missing field")
    if what != "text instead of the call" or _as_tool(mode, dialect)
    if what == "right" or strict is None
]


def _schema_shape(schema: Any) -> Any:
    """What a schema requires, whichever framework wrote it."""
    return {"properties": sorted(schema["properties"]), "required": schema.get("required")}


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    """The request with each schema replaced by what it requires."""
    body = json.loads(json.dumps(body))
    for tool in body.get("tools", []):
        holder = tool.get("function", tool)
        key = "parameters" if "parameters" in holder else "input_schema"
        holder[key] = _schema_shape(holder[key])
    fmt = body.get("response_format", {}).get("json_schema")
    if fmt:
        fmt["schema"] = _schema_shape(fmt["schema"])
    prefix = INSTRUCTION.split("{schema}")[0]
    for message in body.get("messages", []):
        if message.get("role") == "system" and message["content"].startswith(prefix):
            given = json.JSONDecoder().raw_decode(message["content"], len(prefix))[0]
            message["content"] = ["instruction", _schema_shape(given)]
    if isinstance(body.get("system"), str) and body["system"].startswith(prefix):
        given, end = json.JSONDecoder().raw_decode(body["system"], len(prefix))
        body["system"] = ["instruction", _schema_shape(given), body["system"][end:]]
    return body


def _langchain(standin: StandIn, mode: str, strict: bool | None, dialect: str) -> Any:
    model = ChatModelsLab(
        api_key=standin.api_key, base_url=standin.base_url, dialect=dialect, max_retries=0
    )
    structured = model.with_structured_output(City, method=mode, strict=strict)  # type: ignore[arg-type]
    return structured.invoke([HumanMessage(QUESTION)])


def _llama_index(standin: StandIn, mode: str, strict: bool | None, dialect: str) -> Any:
    llm = ModelsLab(
        api_key=standin.api_key,
        api_base=standin.base_url,
        dialect=dialect,
        temperature=None,
        max_retries=0,
        structured_output_mode=mode,
        strict=strict,
    )
    return llm.structured_predict(City, PromptTemplate(QUESTION))


def _outcome(standin: StandIn, call: Any, *args: Any) -> tuple[Any, dict[str, Any]]:
    """The object (as a dict) or the error, and the request's shape."""
    try:
        outcome: Any = call(standin, *args).model_dump()
    except (OutputParserException, StructuredOutputError, ValidationError) as error:
        outcome = error
    return outcome, _shape(standin.last_request.json)


def _core_error(error: BaseException) -> StructuredOutputError | None:
    """The core's error behind a framework's (LangChain chains it, LlamaIndex subclasses it)."""
    if isinstance(error, StructuredOutputError):
        return error
    cause = error.__cause__
    return cause if isinstance(cause, StructuredOutputError) else None


@pytest.mark.parametrize(("mode", "strict", "dialect", "what"), ROWS, ids=["-".join(map(str, r)) for r in ROWS])  # fmt: skip
def test_same_inputs_same_request_same_answer(
    standin: StandIn, mode: str, strict: bool | None, dialect: str, what: str
) -> None:
    standin.enqueue(_answer(mode, dialect, what))
    from_langchain, lc_request = _outcome(standin, _langchain, mode, strict, dialect)
    standin.enqueue(_answer(mode, dialect, what))
    from_llama_index, li_request = _outcome(standin, _llama_index, mode, strict, dialect)
    assert lc_request == li_request
    if what == "right":
        assert from_langchain == from_llama_index == PARIS
        return
    if what == "missing field":  # each framework's own validation error
        # (langchain-core's tool parser raises pydantic's, its text parser its own)
        assert isinstance(from_langchain, ValidationError | OutputParserException)
        assert isinstance(from_llama_index, ValidationError)
        assert "country" in str(from_langchain) and "country" in str(from_llama_index)
        return
    assert isinstance(from_langchain, OutputParserException)
    lc_error, li_error = _core_error(from_langchain), _core_error(from_llama_index)
    assert lc_error is not None and li_error is not None
    assert (lc_error.kind, lc_error.message) == (li_error.kind, li_error.message)
    if what == "text instead of the call":
        assert isinstance(from_llama_index, NoToolCallError) and li_error.kind == "no_call"
        assert "did not call the tool 'City'" in str(from_langchain)
    else:
        assert li_error.kind == ("arguments" if _as_tool(mode, dialect) else "not_json")


def test_the_forced_tool_is_required_not_named(standin: StandIn) -> None:
    """One way to force the tool in both adapters: ``"required"`` with parallel calls off
    (llama.cpp reads OpenAI's named form as ``"auto"``)."""
    standin.enqueue(_answer("function_calling", "openai", "right"))
    _langchain(standin, "function_calling", None, "openai")
    body = standin.last_request.json
    assert (body["tool_choice"], body["parallel_tool_calls"]) == ("required", False)


@pytest.mark.parametrize(("strict", "sent"), [(None, "absent"), (True, True), (False, False)])
def test_strict_reaches_the_wire_alike(standin: StandIn, strict: bool | None, sent: Any) -> None:
    for call in (_langchain, _llama_index):
        standin.enqueue(_answer("json_schema", "openai", "right"))
        call(standin, "json_schema", strict, "openai")
        fmt = standin.last_request.json["response_format"]["json_schema"]
        assert fmt.get("strict", "absent") == sent
