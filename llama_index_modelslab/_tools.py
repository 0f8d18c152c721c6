"""LlamaIndex tools and output classes -> JSON schema, with LlamaIndex's own converters.

A tool's schema comes from ``tool.metadata.to_openai_tool()`` (cached: agents send the same
tools every turn); the core (`modelslab_core.normalize`) turns it into a `ToolSpec` and decides
tool choices. Pydantic output classes become ``json_schema`` response formats here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, PydanticUserError

from modelslab_core.normalize import response_format, tool_spec
from modelslab_core.types import JsonSchemaFormat, OutputFormat, ToolSpec

__all__ = ["json_schema_of", "model_schema", "response_format_for", "to_tool_spec"]

_T = TypeVar("_T")


def json_schema_of(what: str, make: Callable[[], _T]) -> _T:
    """``make()``, a conversion to JSON schema; the one place its failures are translated.

    Pydantic raises `PydanticInvalidForJsonSchema` (a `RuntimeError`) for a type it cannot
    describe; that becomes a `TypeError` naming ``what``, with pydantic's error chained.
    """
    try:
        return make()
    except PydanticUserError as exc:
        reason = getattr(exc, "message", None) or str(exc)
        raise TypeError(f"{what} cannot be described as JSON schema: {reason}") from exc


def model_schema(model_cls: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic class (`TypeError` naming the class if it has none)."""
    return json_schema_of(model_cls.__name__, model_cls.model_json_schema)


def _openai_function(metadata: Any, kind: str) -> dict[str, Any]:
    """The ``function`` of ``metadata.to_openai_tool()``, a fresh copy from a cache.

    Building a tool's JSON schema (~150 us) was the largest per-call cost of a tool turn,
    and agents send the same tools on every turn. The key is everything that schema is made
    of (a changed name, description or ``fn_schema`` is a new entry).
    """
    try:
        key = (type(metadata), metadata.name, metadata.description, metadata.fn_schema)
        hash(key)
    except (AttributeError, TypeError):
        return _build_function(metadata, kind)
    function = _FUNCTIONS.get(key)
    if function is None:
        function = _build_function(metadata, kind)
        if len(_FUNCTIONS) >= _FUNCTIONS_SIZE:
            _FUNCTIONS.clear()  # simple and thread-safe; tool sets are small
        _FUNCTIONS[key] = function
    return copy.deepcopy(function)


def _build_function(metadata: Any, kind: str) -> dict[str, Any]:
    label = f"Tool {getattr(metadata, 'name', None) or kind!r}"
    tool = json_schema_of(label, lambda: metadata.to_openai_tool(skip_length_check=True))
    function: dict[str, Any] = tool["function"]
    return function


_FUNCTIONS: dict[tuple[Any, ...], dict[str, Any]] = {}
_FUNCTIONS_SIZE = 256


def to_tool_spec(tool: Any, *, strict: bool | None = None) -> ToolSpec:
    """A LlamaIndex tool (via ``tool.metadata``), a tool dict or a `ToolSpec`."""
    metadata = getattr(tool, "metadata", None)
    if metadata is not None and hasattr(metadata, "to_openai_tool"):
        return tool_spec(_openai_function(metadata, type(tool).__name__), strict=strict)
    if isinstance(tool, Mapping | ToolSpec):
        return tool_spec(tool, strict=strict)
    raise TypeError(f"Cannot use {type(tool).__name__} as a tool")


def response_format_for(value: Any) -> OutputFormat | None:
    """A response format from a pydantic class (its JSON schema, named after it), or any
    form `modelslab_core.normalize.response_format` takes."""
    if isinstance(value, type) and issubclass(value, BaseModel):
        schema = model_schema(value)
        return JsonSchemaFormat(
            name=value.__name__, schema_=schema, description=schema.get("description")
        )
    return response_format(value)
