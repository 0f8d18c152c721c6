"""Structured output calls: what to send for an output class, and how to read the answer.

A `StructuredCall` is one call in one of three forms: ``json_schema`` or ``json_mode`` (a
``response_format``), or a forced tool (function calling, the tool made by LlamaIndex's own
``get_function_tool``). It reads the complete answer exactly (`StructuredCall.parse`) and a
stream as partial objects (`PartialObjects`). An answer that should have arrived as the forced
tool call but did not is a `NoToolCallError`, never an empty or ``None`` object.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.output_parsers.base import OutputParserException
from llama_index.core.program.utils import create_flexible_model
from pydantic import BaseModel, ValidationError

from modelslab_core.partial_json import parse_partial_json
from modelslab_core.structured import parse_json_text
from modelslab_core.types import JsonObjectFormat, JsonSchemaFormat

from ._tools import model_schema, to_tool_spec

__all__ = [
    "NoToolCallError",
    "PartialObjects",
    "StructuredCall",
    "StructuredMode",
    "check_output_cls",
    "output_format",
    "with_schema_instruction",
]

StructuredMode = Literal["function_calling", "json_schema", "json_mode"]

_flexible = lru_cache(maxsize=64)(create_flexible_model)
"""One flexible twin per output class (so equal partial objects compare equal)."""

_INSTRUCTION = (
    "Answer with a single JSON object that is valid against this JSON schema, "
    "and nothing else:\n{schema}"
)


class NoToolCallError(OutputParserException, ValueError):
    """The model answered without calling the tool the request forced (e.g. a server that
    ignores ``tool_choice`` replied in text). Also a `ValueError`, as LlamaIndex raises."""


def no_tool_call(text: str, tool: str | None = None) -> NoToolCallError:
    """The error for an answer without a tool call (``tool``: the one that was forced)."""
    which = f"the tool {tool!r} that structured output forced" if tool else "a tool"
    said = f"it answered in text: {text[:200]!r}" if text else "it produced no call"
    return NoToolCallError(
        f"Expected at least one tool call: the model did not call {which} ({said})."
    )


def check_output_cls(output_cls: Any) -> type[BaseModel]:
    """``output_cls`` if it is a pydantic class with a JSON schema, else a clear `TypeError`."""
    if not isinstance(output_cls, type):
        raise TypeError(
            "output_cls must be a pydantic BaseModel class, "
            f"got a {type(output_cls).__name__} instance: {output_cls!r:.80}"
        )
    if not issubclass(output_cls, BaseModel):
        raise TypeError(f"output_cls must be a pydantic BaseModel class, got {output_cls.__name__}")
    model_schema(output_cls)
    return output_cls


def output_format(
    output_cls: type[BaseModel], mode: StructuredMode, *, strict: bool = False
) -> JsonObjectFormat | JsonSchemaFormat:
    """The ``response_format`` for ``output_cls`` in ``mode`` (a JSON mode)."""
    if mode == "json_mode":
        return JsonObjectFormat()
    schema = model_schema(output_cls)
    return JsonSchemaFormat(
        name=output_cls.__name__,
        schema_=schema,
        description=schema.get("description"),
        strict=True if strict else None,
    )


def with_schema_instruction(
    messages: Sequence[ChatMessage], output_cls: type[BaseModel]
) -> list[ChatMessage]:
    """``messages`` preceded by a system turn giving the schema (JSON mode has no schema)."""
    schema = json.dumps(model_schema(output_cls), ensure_ascii=False)
    instruction = ChatMessage(role=MessageRole.SYSTEM, content=_INSTRUCTION.format(schema=schema))
    return [instruction, *messages]


@dataclass
class StructuredCall:
    """One structured call: the chat to send and how to read its answer."""

    output_cls: type[BaseModel]
    messages: list[ChatMessage]
    kwargs: dict[str, Any]
    tool: str | None
    """The name under which the answer arrives as a tool call (forced tool, or Anthropic's
    rendering of ``json_schema``); ``None`` for a text answer."""
    tool_only: bool = False
    """The answer must be that tool call (function calling): text is not read."""

    @classmethod
    def response_format(
        cls,
        output_cls: type[BaseModel],
        mode: StructuredMode,
        messages: Sequence[ChatMessage],
        llm_kwargs: dict[str, Any] | None,
        *,
        strict: bool,
    ) -> StructuredCall:
        """A ``json_schema``/``json_mode`` call (JSON mode gets the schema in a system turn;
        never tools or a ``tool_choice``)."""
        fmt = output_format(output_cls, mode, strict=strict)
        if mode == "json_mode":
            messages = with_schema_instruction(messages, output_cls)
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in ("tool_choice", "tools")}
        kwargs["response_format"] = fmt
        tool = fmt.name if isinstance(fmt, JsonSchemaFormat) else None
        return cls(output_cls, list(messages), kwargs, tool)

    @classmethod
    def forced_tool(
        cls,
        output_cls: type[BaseModel],
        messages: Sequence[ChatMessage],
        llm_kwargs: dict[str, Any] | None,
        *,
        strict: bool,
    ) -> StructuredCall:
        """A function-calling call: LlamaIndex's tool for ``output_cls``, the only tool, forced
        (``required``, one call), as LlamaIndex's own program sends it."""
        from llama_index.core.program.function_program import get_function_tool

        spec = to_tool_spec(get_function_tool(output_cls), strict=True if strict else None)
        forced = {"tools": [spec], "tool_choice": "required", "parallel_tool_calls": False}
        kwargs = {**(llm_kwargs or {}), **forced}
        return cls(output_cls, list(messages), kwargs, spec.name, tool_only=True)

    def payload(self, response: ChatResponse) -> Any:
        """The answer's structured payload: the tool call's arguments, else the text
        (``None`` for a forced tool that was not called)."""
        if self.tool is not None:
            for block in response.message.blocks:
                if isinstance(block, ToolCallBlock) and block.tool_name == self.tool:
                    return block.tool_kwargs
        return None if self.tool_only else response.message.content or ""

    def partials(self) -> PartialObjects:
        """A reducer of this call's streamed responses into partial objects."""
        return PartialObjects(self)

    def parse(self, response: ChatResponse) -> BaseModel:
        """The exact object of a complete answer (`NoToolCallError`, `ValueError` or
        `ValidationError` when it has none)."""
        payload = self.payload(response)
        if payload is None:
            raise no_tool_call(response.message.content or "", self.tool)
        data = payload if isinstance(payload, dict) else parse_json_text(payload)
        return self.output_cls.model_validate(data)

    def partial(self, response: ChatResponse) -> BaseModel | None:
        """A partial object (or its flexible twin) from a streamed answer so far."""
        payload = self.payload(response)
        if isinstance(payload, str):
            start = payload.find("{")
            payload = parse_partial_json(payload[start:]) if start >= 0 else None
        if not isinstance(payload, dict):
            return None
        try:
            return self.output_cls.model_validate(payload)
        except ValidationError:
            try:
                return _flexible(self.output_cls).model_validate(payload)
            except ValidationError:
                return None


class PartialObjects:
    """Streamed responses -> each new partial object, then the exact one (a pure reducer)."""

    def __init__(self, call: StructuredCall) -> None:
        self._call = call
        self._last: ChatResponse | None = None
        self._previous: BaseModel | None = None

    def add(self, response: ChatResponse) -> BaseModel | None:
        """The partial object after ``response``, when it is new (else ``None``)."""
        self._last = response
        partial = self._call.partial(response)
        if partial is None or partial == self._previous:
            return None
        self._previous = partial
        return partial

    def final(self) -> BaseModel | None:
        """The exact object of the whole answer, when it differs from the last partial (an
        answer without the object raises, as `StructuredCall.parse`)."""
        if self._last is None:
            raise ValueError("The structured stream ended without an answer")
        final = self._call.parse(self._last)
        return None if final == self._previous else final
