"""Pure helpers for tools, tool choice and response formats.

What ``bind_tools``/``with_structured_output`` bind (and what callers may pass per call) stays
in OpenAI's JSON shapes, so bound kwargs are plain JSON for tracing and serialization; these
functions turn them into the core's neutral types when a request is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic.errors import PydanticUserError

from modelslab_core.types import (
    JsonObjectFormat,
    JsonSchemaFormat,
    NamedToolChoice,
    OutputFormat,
    ToolChoice,
    ToolSpec,
)

__all__ = [
    "StructuredMethod",
    "format_tools",
    "normalize_tool_choice",
    "to_openai_tool",
    "to_output_format",
    "to_tool_choice",
    "to_tool_specs",
    "tool_names",
]

_CHOICE_ALIASES = {"auto": "auto", "none": "none", "any": "required", "required": "required"}
_MODES: dict[str, ToolChoice] = {"auto": "auto", "none": "none", "required": "required"}

StructuredMethod = Literal["function_calling", "json_mode", "json_schema"]
"""How ``with_structured_output`` asks for structured output (see `_structured`)."""


def to_openai_tool(tool: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """``convert_to_openai_tool``, the one place tools and output schemas are converted.

    A schema pydantic cannot describe as JSON schema (e.g. a field of an arbitrary class)
    raises a ``TypeError`` naming the tool/schema and the cause (chained), before any request.
    """
    try:
        return convert_to_openai_tool(tool, strict=strict)
    except PydanticUserError as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TypeError(
            f"Tool/schema {_schema_label(tool)!r} cannot be described as JSON schema: {cause}"
        ) from exc


def _schema_label(tool: Any) -> str:
    """A short name for a tool or schema in any form, for error messages."""
    from langchain_core.tools import BaseTool  # deferred: ~10 ms of import, error path only

    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, Mapping):
        function = tool.get("function")
        if isinstance(function, Mapping) and function.get("name"):
            return str(function["name"])
        return str(tool.get("title") or tool.get("name") or "<dict schema>")
    return str(getattr(tool, "__name__", None) or type(tool).__name__)


def format_tools(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Every tool form langchain-core accepts, as OpenAI ``{"type": "function"}`` dicts."""
    return [to_openai_tool(tool, strict=strict) for tool in tools]


def tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of OpenAI-format tools."""
    names = []
    for tool in tools:
        function = tool.get("function")
        names.append(
            str(function.get("name") if isinstance(function, Mapping) else tool.get("name"))
        )
    return names


def normalize_tool_choice(choice: Any, names: Sequence[str]) -> str | dict[str, Any]:
    """``tool_choice`` as ``"auto"|"none"|"required"`` or ``{"type": "tool", "name": ...}``.

    Accepts ``"auto"``, ``"none"``, ``"any"``, ``"required"``, ``True`` (some tool must be
    called), the name of one of ``names``, or a dict in OpenAI
    (``{"type": "function", "function": {"name"}}``) or Anthropic
    (``{"type": "tool"|"any"|"auto"|"none", ...}``) form.
    """
    if choice is True:
        return "required"
    if isinstance(choice, str):
        if choice in _CHOICE_ALIASES:
            return _CHOICE_ALIASES[choice]
        if choice in names:
            return {"type": "tool", "name": choice}
        raise ValueError(f"tool_choice {choice!r} is neither a mode nor a bound tool {names}.")
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
        if kind in ("function", "tool") and isinstance(name, str):
            if names and name not in names:
                raise ValueError(f"tool_choice names {name!r}, which is not a bound tool {names}.")
            return {"type": "tool", "name": name}
        if isinstance(kind, str) and kind in _CHOICE_ALIASES:
            return _CHOICE_ALIASES[kind]
    raise ValueError(f"Unsupported tool_choice {choice!r}.")


def to_tool_specs(tools: Sequence[Any]) -> list[ToolSpec]:
    """Tools (OpenAI dicts or any form ``format_tools`` takes) as neutral `ToolSpec`s."""
    specs = []
    for tool in tools:
        if isinstance(tool, ToolSpec):
            specs.append(tool)
            continue
        formatted = tool if _is_openai_tool(tool) else to_openai_tool(tool)
        function = formatted["function"]
        specs.append(
            ToolSpec(
                name=function["name"],
                description=function.get("description") or "",
                parameters=function.get("parameters") or {"type": "object", "properties": {}},
                strict=function.get("strict"),
            )
        )
    return specs


def _is_openai_tool(tool: Any) -> bool:
    return (
        isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
        and "name" in tool["function"]
    )


def to_tool_choice(choice: Any, names: Sequence[str]) -> ToolChoice | None:
    """A bound or per-call ``tool_choice`` (tools ``names`` offered) as the neutral form."""
    if choice is None or choice is False:
        return None
    if isinstance(choice, NamedToolChoice):
        return choice
    normal = normalize_tool_choice(choice, names)
    if isinstance(normal, dict):
        return NamedToolChoice(name=normal["name"])
    return _MODES[normal]


def to_output_format(value: Any) -> OutputFormat | None:
    """``response_format`` (OpenAI shape, or a neutral format) as the neutral format."""
    if value is None or isinstance(value, JsonObjectFormat | JsonSchemaFormat):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"response_format must be a dict, got {type(value).__name__}.")
    kind = value.get("type")
    if kind == "json_object":
        return JsonObjectFormat()
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
            raise ValueError("A json_schema response_format needs json_schema.schema.")
        return JsonSchemaFormat(
            name=str(spec.get("name") or "response"),
            schema_=dict(spec["schema"]),
            description=spec.get("description"),
            strict=spec.get("strict"),
        )
    raise ValueError(f"Unsupported response_format type {kind!r}.")
