"""Tools in LangChain's forms -> OpenAI tool dicts, with langchain-core's own converter.

What ``bind_tools``/``with_structured_output`` bind stays in OpenAI's JSON shapes (plain JSON
for tracing and serialization); the core (`modelslab_core.normalize`) turns the bound values
into neutral types when a request is built, and checks tool choices against the tools.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic.errors import PydanticUserError

from modelslab_core.normalize import tool_choice
from modelslab_core.types import NamedToolChoice

__all__ = [
    "StructuredMethod",
    "bound_tool_choice",
    "format_tools",
    "to_openai_tool",
    "tool_name",
]

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


def _is_openai_tool(tool: Any) -> bool:
    return (
        isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
    )


def format_tools(tools: Sequence[Any], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """Every tool form langchain-core accepts, as OpenAI ``{"type": "function"}`` dicts
    (dicts already in that form pass through when ``strict`` does not change them)."""
    return [
        tool if strict is None and _is_openai_tool(tool) else to_openai_tool(tool, strict=strict)
        for tool in tools
    ]


def tool_name(tool: Mapping[str, Any]) -> str:
    """The name of an OpenAI-format tool."""
    return str(tool["function"]["name"])


def bound_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> Any:
    """``choice`` checked against ``tools`` now (a bad name fails at bind time), in the JSON
    form that is bound: ``"auto"|"none"|"required"`` or an OpenAI named-function dict."""
    resolved = tool_choice(choice, [tool_name(t) for t in tools])
    if isinstance(resolved, NamedToolChoice):
        return {"type": "function", "function": {"name": resolved.name}}
    return resolved
