"""Structured output calls: LlamaIndex's glue around the core's `modelslab_core.structured`.

The core decides what a mode sends, where the answer arrives and how it is read
(`modelslab_core.structured.plan`); here the output class becomes a schema with LlamaIndex's
own converters (the forced tool is the one ``get_function_tool`` makes, a response format the
class's JSON schema), and the answer a pydantic object: exact for a complete answer
(`StructuredCall.parse`), partial objects for a stream (`PartialObjects`). An answer without
the forced tool call is a `NoToolCallError` (LlamaIndex's ``OutputParserException`` and the
core's `StructuredOutputError`), never an empty or ``None`` object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.output_parsers.base import OutputParserException
from llama_index.core.program.utils import create_flexible_model
from pydantic import BaseModel, ValidationError

from modelslab_core.structured import StructuredMode, StructuredOutputError, StructuredPlan, plan
from modelslab_core.types import Dialect, ToolSpec

from ._tools import model_schema, to_tool_spec

__all__ = [
    "NoToolCallError",
    "PartialObjects",
    "StructuredCall",
    "StructuredMode",
    "check_output_cls",
]

_flexible = lru_cache(maxsize=64)(create_flexible_model)
"""One flexible twin per output class (so equal partial objects compare equal)."""

_REPLACED = ("tools", "tool_choice", "parallel_tool_calls", "response_format")
"""Call kwargs a structured call's own options replace."""


class NoToolCallError(StructuredOutputError, OutputParserException):
    """The model answered without calling the tool the request forced (e.g. a server that
    ignores ``tool_choice`` replied in text). Also a `ValueError`, as LlamaIndex raises."""


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


def _schema_tool(output_cls: type[BaseModel], mode: StructuredMode) -> ToolSpec:
    """``output_cls`` as a schema: LlamaIndex's own function tool for function calling (as its
    ``FunctionCallingProgram`` sends it), else the class's JSON schema named after it."""
    if mode == "function_calling":
        from llama_index.core.program.function_program import get_function_tool

        return to_tool_spec(get_function_tool(output_cls))
    schema = model_schema(output_cls)
    description = schema.get("description")
    return ToolSpec(name=output_cls.__name__, description=description or "", parameters=schema)


def _calls(response: ChatResponse) -> list[tuple[str, Any]]:
    blocks = response.message.blocks
    return [(b.tool_name, b.tool_kwargs) for b in blocks if isinstance(b, ToolCallBlock)]


@dataclass
class StructuredCall:
    """One structured call: the chat to send and how to read its answer."""

    output_cls: type[BaseModel]
    messages: list[ChatMessage]
    kwargs: dict[str, Any]
    plan: StructuredPlan
    dialect: Dialect

    @classmethod
    def make(
        cls,
        output_cls: type[BaseModel],
        mode: StructuredMode,
        messages: Sequence[ChatMessage],
        llm_kwargs: dict[str, Any] | None,
        *,
        strict: bool | None,
        dialect: Dialect,
    ) -> StructuredCall:
        """The call for ``output_cls`` in ``mode``: the core's plan as chat kwargs (they replace
        the call's own tools and formats), its instruction as a leading system turn."""
        chosen = plan(mode, _schema_tool(output_cls, mode), strict=strict)
        chat = list(messages)
        if chosen.instruction is not None:
            chat.insert(0, ChatMessage(role=MessageRole.SYSTEM, content=chosen.instruction))
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in _REPLACED}
        return cls(output_cls, chat, {**kwargs, **chosen.options}, chosen, dialect)

    def partials(self) -> PartialObjects:
        """A reducer of this call's streamed responses into partial objects."""
        return PartialObjects(self)

    def parse(self, response: ChatResponse) -> BaseModel:
        """The exact object of a complete answer (`NoToolCallError`, the core's
        `StructuredOutputError` or pydantic's `ValidationError` when it has none)."""
        text = response.message.content or ""
        try:
            data = self.plan.read(self.dialect, text, _calls(response))
        except StructuredOutputError as error:
            if error.kind != "no_call":
                raise
            raise NoToolCallError(
                error.message, text=error.text, tool=error.tool, kind=error.kind
            ) from None
        return self.output_cls.model_validate(data)

    def partial(self, response: ChatResponse) -> BaseModel | None:
        """A partial object (or its flexible twin) from a streamed answer so far."""
        text = response.message.content or ""
        payload = self.plan.read_partial(self.dialect, text, _calls(response))
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
