"""Structured-output helpers: JSON from model text, forced-tool answers (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from modelslab_core.structured import parse_json_text, structured_output
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
    with pytest.raises(ValueError, match="JSON"):
        parse_json_text(text)


def test_structured_output_prefers_the_named_tool() -> None:
    result = ChatResult(
        text='{"from": "text"}',
        tool_calls=[
            ToolCall(id="1", name="other", arguments={"x": 1}),
            ToolCall(id="2", name="Person", arguments={"name": "Ada"}),
        ],
    )
    assert structured_output(result, "Person") == {"name": "Ada"}
    assert structured_output(result, "Missing") == {"from": "text"}
    assert structured_output(result) == {"from": "text"}


def test_structured_output_bad_tool_arguments() -> None:
    result = ChatResult(
        tool_calls=[ToolCall(id="1", name="P", raw_arguments="{", parse_error="bad")]
    )
    with pytest.raises(ValueError, match="'P'"):
        structured_output(result, "P")
