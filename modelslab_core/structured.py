"""Structured output, decided once for both adapters.

`plan` makes a structured call's `StructuredPlan`: the request options of its mode (in the
JSON shapes `modelslab_core.normalize.build_request` reads, so LangChain can bind them as
they are), the system instruction JSON mode needs, and where the answer arrives on each
dialect. The plan also reads the answer: exactly when it is complete (`StructuredPlan.read`:
an answer not in the schema is one `StructuredOutputError`) and leniently while it streams
(`StructuredPlan.read_partial`). The adapters bring only their framework's schema converter
and glue (LangChain's parsers and ``include_raw``, LlamaIndex's programs and partial objects).

Modes:

- ``function_calling``: the schema is the only tool, forced by ``tool_choice="required"``
  with parallel calls off. With one tool, ``"required"`` and the tool's name mean the same;
  ``"required"`` is the form every server honours (llama.cpp's reads OpenAI's named form as
  ``"auto"``), and on ``/v1/messages`` it is ``{"type": "any"}``.
- ``json_schema``: a ``json_schema`` response format. The Anthropic dialect renders it as a
  tool named after the schema, forced: there the answer is that tool call.
- ``json_mode``: a ``json_object`` response format. JSON mode carries no schema, so a given
  schema goes in a system instruction (`StructuredPlan.instruction`); without one the answer
  is any JSON object.

``strict``: ``None`` sends nothing (the server decides); ``True`` or ``False`` is sent as given,
on the tool or on the format. JSON mode has no schema to be strict about: ``strict=True`` with
it is an error.

`parse_json_text` reads JSON from a model's text answer (code fences and surrounding prose
tolerated).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from .dialects.openai_encode import encode_response_format, encode_tool
from .exceptions import StructuredOutputError
from .normalize import tool_spec
from .partial_json import parse_partial_json
from .tool_calls import lenient_tool_arguments, parse_tool_arguments
from .types import ChatResult, Dialect, JsonSchemaFormat, ToolSpec

__all__ = [
    "STRUCTURED_MODES",
    "StructuredMode",
    "StructuredOutputError",
    "StructuredPlan",
    "parse_json_text",
    "plan",
]

StructuredMode = Literal["function_calling", "json_schema", "json_mode"]
"""How a structured answer is asked for (see the module docstring)."""
STRUCTURED_MODES: tuple[StructuredMode, ...] = get_args(StructuredMode)

INSTRUCTION = (
    "Answer with a single JSON object that is valid against this JSON schema, "
    "and nothing else:\n{schema}"
)
"""The system instruction of JSON mode with a schema (``{schema}``: the schema as JSON)."""

Call = tuple[str, Any]
"""A tool call as the plan reads it: its name and its arguments (a dict, or the raw text of
arguments that did not parse)."""


@dataclass(frozen=True)
class StructuredPlan:
    """One structured call: what it sends and where its answer arrives."""

    mode: StructuredMode
    name: str | None
    """The schema's name (the forced tool's, the format's); ``None``: JSON mode, no schema."""
    options: dict[str, Any] = field(default_factory=dict)
    """Request options for `build_request` (tools, ``tool_choice``, ``parallel_tool_calls``
    or ``response_format``), in OpenAI's JSON shapes. They replace the call's own tools."""
    instruction: str | None = None
    """A system turn to put before the conversation (JSON mode with a schema), else ``None``."""

    def answer_tool(self, dialect: Dialect) -> str | None:
        """The tool call that carries the answer on ``dialect``; ``None``: the answer is text."""
        if self.mode == "function_calling" or (
            self.mode == "json_schema" and dialect == "anthropic"
        ):
            return self.name
        return None

    def read(self, dialect: Dialect, text: str, calls: Iterable[Call] = ()) -> Any:
        """The JSON value of a complete answer (``text`` and its tool ``calls``).

        Raises:
            StructuredOutputError: the forced tool was not called or its arguments are not a
                JSON object, or (a text answer) the text holds no JSON.
        """
        tool = self.answer_tool(dialect)
        if tool is None:
            return parse_json_text(text)
        for name, arguments in calls:
            if name == tool:
                try:
                    return parse_tool_arguments(arguments)
                except ValueError as exc:
                    raise StructuredOutputError(
                        f"The model called {tool!r} for structured output, but its {exc}: "
                        f"{str(arguments)[:200]!r}",
                        text=text,
                        tool=tool,
                        kind="arguments",
                    ) from None
        raise StructuredOutputError.no_call(text, tool)

    def read_result(self, result: ChatResult, dialect: Dialect) -> Any:
        """`read` on a core `ChatResult`."""
        calls = [
            (c.name, c.raw_arguments if c.parse_error else c.arguments) for c in result.tool_calls
        ]
        return self.read(dialect, result.text, calls)

    def read_partial(self, dialect: Dialect, text: str, calls: Iterable[Call] = ()) -> Any:
        """What a streamed answer holds so far (cut JSON completed), or ``None``."""
        tool = self.answer_tool(dialect)
        if tool is None:
            start = text.find("{")
            return parse_partial_json(text[start:]) if start >= 0 else None
        for name, arguments in calls:
            if name == tool and isinstance(arguments, dict | str):
                return lenient_tool_arguments(arguments)
        return None


def plan(
    mode: str, schema: Mapping[str, Any] | ToolSpec | None, *, strict: bool | None = None
) -> StructuredPlan:
    """The `StructuredPlan` of a call in ``mode`` for ``schema``.

    ``schema`` is the output schema as a tool, made by the framework's own converter: an
    OpenAI tool dict, a bare function (``{"name", "description", "parameters"}``) or a
    `ToolSpec`. ``None`` is allowed in JSON mode only (any JSON object).

    Raises:
        ValueError: an unknown mode, no schema outside JSON mode, ``strict=True`` in JSON mode.
    """
    if mode not in STRUCTURED_MODES:
        raise ValueError(
            f"Unknown structured output method {mode!r}; use 'function_calling', "
            "'json_mode' or 'json_schema'."
        )
    if mode == "json_mode" and strict:
        raise ValueError("strict is not supported with method='json_mode' (it has no schema).")
    if schema is None:
        if mode != "json_mode":
            raise ValueError(
                "Structured output needs a schema (or method='json_mode', which returns dicts)."
            )
        return StructuredPlan("json_mode", None, {"response_format": {"type": "json_object"}})
    spec = tool_spec(schema, strict=strict)
    if mode == "json_mode":
        schema_text = json.dumps(spec.parameters, ensure_ascii=False)
        options = {"response_format": {"type": "json_object"}}
        return StructuredPlan(mode, spec.name, options, INSTRUCTION.format(schema=schema_text))
    if mode == "json_schema":
        return StructuredPlan(mode, spec.name, {"response_format": _json_schema_format(spec)})
    forced = {
        "tools": [encode_tool(spec)],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    }
    return StructuredPlan("function_calling", spec.name, forced)


def _json_schema_format(spec: ToolSpec) -> dict[str, Any] | None:
    fmt = JsonSchemaFormat(
        name=spec.name,
        schema_=spec.parameters,
        description=spec.description or None,
        strict=spec.strict,
    )
    return encode_response_format(fmt)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_value(text: str) -> tuple[bool, Any]:
    """The first JSON object or array embedded in ``text``: ``(found, value)``."""
    for start, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = _DECODER.raw_decode(text, start)
            except ValueError:
                continue
            return True, value
    return False, None


def parse_json_text(text: str) -> Any:
    """Parse the JSON value in a model's answer.

    Tries, in order: the whole text; the content of a fenced block (```` ```json ````);
    the first JSON object or array embedded in the text (leading/trailing prose dropped).

    Raises:
        StructuredOutputError: no JSON value could be read (the message quotes the start of
            the text); a `ValueError`.
    """
    if not isinstance(text, str):
        raise StructuredOutputError(
            f"Expected the model's answer as text, got {type(text).__name__}"
        )
    stripped = text.strip()
    if not stripped:
        raise StructuredOutputError("The model's answer is empty: expected JSON", text=text)
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    for match in _FENCE.finditer(stripped):
        body = match.group(2).strip()
        try:
            return json.loads(body)
        except ValueError:
            found, value = _first_value(body)
            if found:
                return value
    found, value = _first_value(stripped)
    if found:
        return value
    raise StructuredOutputError(
        f"The model's answer is not valid JSON: {_snippet(stripped)!r}", text=text
    )
