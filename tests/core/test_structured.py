"""Structured output, decided once: each mode's request options, where the answer arrives on
each dialect, the exact and lenient readings, and the one error (pure)."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest

from modelslab_core import ModelsLabError, ToolSpec
from modelslab_core.normalize import build_request
from modelslab_core.structured import (
    INSTRUCTION,
    StructuredOutputError,
    parse_json_text,
    plan,
)
from modelslab_core.types import ChatResult, ToolCall


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2]\n", [1, 2]),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('```JSON\n{"a": [1, 2]}\n```\n', {"a": [1, 2]}),
        ('```\n{"a": 1}\n```', {"a": 1}),
        ('Here you go:\n```json\n{"name": "Ada"}\n```\nAnything else?', {"name": "Ada"}),
        ('Sure! {"name": "Ada", "tags": ["x"]} Hope that helps.', {"name": "Ada", "tags": ["x"]}),
        ('Result: {broken} and then {"ok": true}', {"ok": True}),
        ("42", 42),
        ('"just a string"', "just a string"),
    ],
)
def test_parse_json_text(text: str, expected: Any) -> None:
    assert parse_json_text(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"a": ', "```json\n{oops}\n```"])
def test_parse_json_text_errors(text: str) -> None:
    with pytest.raises(StructuredOutputError, match="JSON") as info:
        parse_json_text(text)
    assert isinstance(info.value, ValueError) and info.value.kind == "not_json"


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
PERSON = {"type": "function", "function": {"name": "Person", "description": "A person.", "parameters": SCHEMA}}  # fmt: skip


def test_function_calling_forces_the_one_tool_with_required() -> None:
    chosen = plan("function_calling", PERSON)
    assert chosen.options == {
        "tools": [PERSON],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    assert chosen.instruction is None
    assert [chosen.answer_tool(d) for d in ("openai", "anthropic")] == ["Person", "Person"]
    request = build_request("m", [], chosen.options)
    assert (request.tool_choice, request.parallel_tool_calls) == ("required", False)


def test_json_schema_is_a_format_answered_by_tool_on_anthropic() -> None:
    chosen = plan("json_schema", PERSON, strict=True)
    fmt = {"name": "Person", "schema": SCHEMA, "description": "A person.", "strict": True}
    assert chosen.options == {"response_format": {"type": "json_schema", "json_schema": fmt}}
    assert chosen.answer_tool("openai") is None
    assert chosen.answer_tool("anthropic") == "Person"


def test_json_mode_puts_the_schema_in_an_instruction() -> None:
    chosen = plan("json_mode", ToolSpec(name="Person", parameters=SCHEMA))
    assert chosen.options == {"response_format": {"type": "json_object"}}
    assert chosen.instruction == INSTRUCTION.format(schema=json.dumps(SCHEMA))
    assert plan("json_mode", None).instruction is None


@pytest.mark.parametrize(("strict", "sent"), [(None, "absent"), (True, True), (False, False)])
def test_strict_means_one_thing(strict: bool | None, sent: object) -> None:
    tool = plan("function_calling", PERSON, strict=strict).options["tools"][0]["function"]
    fmt = plan("json_schema", PERSON, strict=strict).options["response_format"]["json_schema"]
    assert tool.get("strict", "absent") == fmt.get("strict", "absent") == sent


@pytest.mark.parametrize(
    ("mode", "schema", "strict", "error"),
    [
        ("xml", PERSON, None, "Unknown structured output method 'xml'"),
        ("function_calling", None, None, "needs a schema"),
        ("json_schema", None, None, "needs a schema"),
        ("json_mode", PERSON, True, "strict is not supported"),
    ],
)
def test_bad_plans_fail_before_any_request(
    mode: str, schema: Any, strict: bool | None, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        plan(mode, schema, strict=strict)


def test_read_the_forced_call_or_fail_once() -> None:
    chosen = plan("function_calling", PERSON)
    calls = [("other", {"x": 1}), ("Person", {"name": "Ada"})]
    assert chosen.read("openai", '{"from": "text"}', calls) == {"name": "Ada"}
    with pytest.raises(StructuredOutputError, match="did not call the tool 'Person'") as info:
        chosen.read("openai", '{"name": "in text"}', [("other", {})])
    assert (info.value.kind, info.value.tool, info.value.text) == ("no_call", "Person", '{"name": "in text"}')  # fmt: skip
    with pytest.raises(StructuredOutputError, match=r"'Person'.*not valid JSON") as info:
        chosen.read("openai", "", [("Person", '{"name": ')])
    assert info.value.kind == "arguments"


def test_read_json_schema_by_dialect() -> None:
    chosen = plan("json_schema", PERSON)
    assert chosen.read("openai", '```json\n{"name": "Ada"}\n```') == {"name": "Ada"}
    assert chosen.read("anthropic", "", [("Person", '{"name": "Ada"}')]) == {"name": "Ada"}
    with pytest.raises(StructuredOutputError, match="did not call"):
        chosen.read("anthropic", '{"name": "Ada"}')


def test_read_a_core_result() -> None:
    chosen = plan("function_calling", PERSON)
    good = ChatResult(tool_calls=[ToolCall(id="1", name="Person", arguments={"name": "Ada"})])
    assert chosen.read_result(good, "openai") == {"name": "Ada"}
    bad = ChatResult(
        tool_calls=[ToolCall(id="1", name="Person", raw_arguments="{", parse_error="bad")]
    )
    with pytest.raises(StructuredOutputError, match="'Person'"):
        chosen.read_result(bad, "openai")


def test_read_partial_is_lenient() -> None:
    forced, text = plan("function_calling", PERSON), plan("json_schema", PERSON)
    assert forced.read_partial("openai", "", [("Person", '{"name": "Ad')]) == {"name": "Ad"}
    assert forced.read_partial("openai", "text", []) is None
    assert text.read_partial("openai", 'Sure: {"name": "Ad') == {"name": "Ad"}
    assert text.read_partial("openai", "no object yet") is None


def test_the_error_is_a_core_error_and_pickles() -> None:
    error = StructuredOutputError.no_call("hi", "Person")
    assert isinstance(error, ModelsLabError) and isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.text, copy.tool, copy.kind) == (
        StructuredOutputError,
        str(error),
        "hi",
        "Person",
        "no_call",
    )
