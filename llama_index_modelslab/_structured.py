"""Structured output through ``response_format`` (JSON schema / JSON mode): pure helpers.

Function calling (the default) needs nothing here: LlamaIndex's `FunctionCallingProgram`
drives it through `ModelsLab._prepare_chat_with_tools` and `get_tool_calls_from_response`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.program.utils import create_flexible_model
from pydantic import BaseModel, ValidationError

from modelslab_core.partial_json import parse_partial_json
from modelslab_core.structured import parse_json_text
from modelslab_core.types import JsonObjectFormat, JsonSchemaFormat

from ._tools import model_schema

__all__ = [
    "JsonCall",
    "PartialObjects",
    "StructuredMode",
    "check_output_cls",
    "output_format",
    "parse_final",
    "parse_partial",
    "with_schema_instruction",
]

StructuredMode = Literal["function_calling", "json_schema", "json_mode"]

_flexible = lru_cache(maxsize=64)(create_flexible_model)
"""One flexible twin per output class (so equal partial objects compare equal)."""

_INSTRUCTION = (
    "Answer with a single JSON object that is valid against this JSON schema, "
    "and nothing else:\n{schema}"
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


def _payload_text(response: ChatResponse, fmt: JsonObjectFormat | JsonSchemaFormat) -> Any:
    """The structured payload: the forced tool's arguments (Anthropic ``json_schema``) or text."""
    if isinstance(fmt, JsonSchemaFormat):
        for block in response.message.blocks:
            if isinstance(block, ToolCallBlock) and block.tool_name == fmt.name:
                return block.tool_kwargs
    return response.message.content or ""


def parse_final(
    response: ChatResponse,
    output_cls: type[BaseModel],
    fmt: JsonObjectFormat | JsonSchemaFormat,
) -> BaseModel:
    """The exact ``output_cls`` from a complete answer (`ValueError`/`ValidationError` if not)."""
    payload = _payload_text(response, fmt)
    data = payload if isinstance(payload, dict) else parse_json_text(payload)
    return output_cls.model_validate(data)


def parse_partial(
    response: ChatResponse,
    output_cls: type[BaseModel],
    fmt: JsonObjectFormat | JsonSchemaFormat,
) -> BaseModel | None:
    """A partial ``output_cls`` (or its flexible twin) from a streamed answer so far."""
    payload = _payload_text(response, fmt)
    if isinstance(payload, str):
        start = payload.find("{")
        if start < 0:
            return None
        payload = parse_partial_json(payload[start:])
    if not isinstance(payload, dict):
        return None
    try:
        return output_cls.model_validate(payload)
    except ValidationError:
        try:
            return _flexible(output_cls).model_validate(payload)
        except ValidationError:
            return None


@dataclass
class JsonCall:
    """One structured call through ``response_format``: what to send and how to read it."""

    output_cls: type[BaseModel]
    fmt: JsonObjectFormat | JsonSchemaFormat
    messages: list[ChatMessage]
    kwargs: dict[str, Any]

    @classmethod
    def build(
        cls,
        output_cls: type[BaseModel],
        mode: StructuredMode,
        messages: Sequence[ChatMessage],
        llm_kwargs: dict[str, Any] | None,
        *,
        strict: bool,
    ) -> JsonCall:
        """The call for ``output_cls`` in ``mode``: its format, messages (JSON mode gets the
        schema in a system turn) and chat kwargs (never tools or a ``tool_choice``)."""
        fmt = output_format(output_cls, mode, strict=strict)
        if mode == "json_mode":
            messages = with_schema_instruction(messages, output_cls)
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in ("tool_choice", "tools")}
        kwargs["response_format"] = fmt
        return cls(output_cls, fmt, list(messages), kwargs)

    def parse(self, response: ChatResponse) -> BaseModel:
        """The exact object from the complete answer."""
        return parse_final(response, self.output_cls, self.fmt)

    def partials(self) -> PartialObjects:
        """A reducer of this call's streamed responses into partial objects."""
        return PartialObjects(self)


class PartialObjects:
    """Streamed responses -> each new partial object, then the exact one (a pure reducer)."""

    def __init__(self, call: JsonCall) -> None:
        self._call = call
        self._last: ChatResponse | None = None
        self._previous: BaseModel | None = None

    def add(self, response: ChatResponse) -> BaseModel | None:
        """The partial object after ``response``, when it is new (else ``None``)."""
        self._last = response
        partial = parse_partial(response, self._call.output_cls, self._call.fmt)
        if partial is None or partial == self._previous:
            return None
        self._previous = partial
        return partial

    def final(self) -> BaseModel | None:
        """The exact object of the whole answer, when it differs from the last partial."""
        if self._last is None:
            return None
        final = self._call.parse(self._last)
        return None if final == self._previous else final
