"""Request normalisation, once for both adapters: every common spelling -> the neutral request.

Tool choices (``"any"``, ``True``, a tool name, OpenAI and Anthropic dicts), tool specs (OpenAI,
bare-function and Anthropic dicts), response formats (OpenAI dicts, one default schema name),
sampling fields (from `SAMPLING_FIELDS`) and the default model are decided here, so the same
inputs give the same `ChatRequest` whichever framework they came through. Adapters only turn
their own message and tool objects into neutral messages and tool dicts first.

Bad input raises `ValueError`/`TypeError` here, before any request is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .types import (
    SAMPLING_FIELDS,
    ChatRequest,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    OutputFormat,
    ToolChoice,
    ToolSpec,
)

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_SCHEMA_NAME",
    "build_request",
    "response_format",
    "tool_choice",
    "tool_spec",
]

DEFAULT_MODEL = "meta-llama-llama-3.2-3b-instruct"
"""The model both adapters use when none is named (the contract's example model)."""

DEFAULT_SCHEMA_NAME = "response"
"""The name of a ``json_schema`` response format that names none."""

_MODES: dict[str, ToolChoice] = dict(auto="auto", none="none", any="required", required="required")
_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def tool_spec(tool: Any, *, strict: bool | None = None) -> ToolSpec:
    """A `ToolSpec` from a `ToolSpec`, an OpenAI tool (``{"type": "function", "function":
    {...}}``), a bare function (``{"name", "parameters"}``) or an Anthropic tool
    (``{"name", "input_schema"}``). ``strict`` fills in an unset ``strict``."""
    if isinstance(tool, ToolSpec):
        if strict is None or tool.strict is not None:
            return tool
        return tool.model_copy(update={"strict": strict})
    if not isinstance(tool, Mapping):
        raise TypeError(f"Cannot use {type(tool).__name__} as a tool: expected a dict or ToolSpec")
    function = tool.get("function") if tool.get("type") == "function" else tool
    if not isinstance(function, Mapping):
        raise ValueError(f"A tool of type 'function' needs a 'function' object: {tool!r:.120}")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"A tool needs a non-empty string 'name': {tool!r:.120}")
    parameters = function.get("parameters", function.get("input_schema")) or _EMPTY_PARAMETERS
    if not isinstance(parameters, Mapping):
        raise TypeError(f"The parameters of tool {name!r} must be a JSON-schema object")
    own_strict = function.get("strict")
    return ToolSpec(
        name=name,
        description=function.get("description") or "",
        parameters=dict(parameters),
        strict=own_strict if own_strict is not None else strict,
    )


def _named(name: Any, names: Sequence[str]) -> NamedToolChoice:
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_choice must name a tool, got {name!r}")
    if name not in names:
        raise ValueError(f"tool_choice names {name!r}, which is not a bound tool {list(names)}")
    return NamedToolChoice(name=name)


def tool_choice(choice: Any, names: Sequence[str]) -> ToolChoice | None:
    """``choice`` as a `ToolChoice`, with ``names`` the tools offered.

    Accepts ``None``/``False`` (none given), ``"auto"``, ``"none"``, ``"any"``/``"required"``/
    ``True`` (some tool must be called), the name of an offered tool, a `NamedToolChoice`, or a
    dict in OpenAI (``{"type": "function", "function": {"name"}}``) or Anthropic
    (``{"type": "tool", "name"}``, ``{"type": "any"|"auto"|"none"}``) form. Without tools,
    ``auto``/``none`` mean nothing (``None``) and forcing a call is an error.
    """
    if choice is None or choice is False:
        return None
    if choice is True:
        choice = "required"
    if isinstance(choice, NamedToolChoice):
        resolved: ToolChoice = _named(choice.name, names)
    elif isinstance(choice, str):
        resolved = _MODES[choice] if choice in _MODES else _named(choice, names)
    elif isinstance(choice, Mapping):
        kind = choice.get("type")
        function = choice.get("function")
        if kind in ("function", "tool"):
            name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
            resolved = _named(name, names)
        elif isinstance(kind, str) and kind in _MODES:
            resolved = _MODES[kind]
        else:
            raise ValueError(f"Unsupported tool_choice {choice!r}")
    else:
        raise ValueError(f"Unsupported tool_choice {choice!r}")
    if not names:
        if resolved in ("auto", "none"):
            return None
        raise ValueError(f"tool_choice {choice!r} forces a tool call, but no tools are bound")
    return resolved


def response_format(value: Any) -> OutputFormat | None:
    """A response format from a neutral format or an OpenAI ``response_format`` dict
    (``{"type": "json_object"}``, ``{"type": "json_schema", "json_schema": {"name",
    "schema", "description", "strict"}}``); a schema without a name is `DEFAULT_SCHEMA_NAME`."""
    if value is None or isinstance(value, JsonObjectFormat | JsonSchemaFormat):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"response_format must be a dict, got {type(value).__name__}")
    kind = value.get("type")
    if kind == "json_object":
        return JsonObjectFormat()
    if kind != "json_schema":
        raise ValueError(f"Unsupported response_format type {kind!r}")
    spec = value.get("json_schema")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("schema"), Mapping):
        raise ValueError("A json_schema response_format needs json_schema.schema (an object)")
    return JsonSchemaFormat(
        name=str(spec.get("name") or DEFAULT_SCHEMA_NAME),
        schema_=dict(spec["schema"]),
        description=spec.get("description"),
        strict=spec.get("strict"),
    )


def _stop(value: Any) -> list[str] | None:
    if value is None or value == []:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(s, str) for s in value):
        return list(value)
    raise TypeError(f"stop must be a string or a list of strings, got {value!r:.80}")


def build_request(model: str, messages: list[Message], options: Mapping[str, Any]) -> ChatRequest:
    """The `ChatRequest` for neutral ``messages`` and ``options`` (settings and call kwargs,
    already merged by the adapter: later wins).

    Known keys: ``model`` (overrides ``model``), the `SAMPLING_FIELDS`, ``stop``, ``tools``
    (`ToolSpec`s or tool dicts, see `tool_spec`), ``tool_choice``, ``parallel_tool_calls``
    (both dropped without tools), ``response_format``, ``include_usage`` and ``extra_body``.
    Every other key is a request field without a name here: it goes to the wire as given
    (over ``extra_body``). ``None`` values mean "not set".
    """
    rest = dict(options)
    tools = [tool_spec(t) for t in rest.pop("tools", None) or ()]
    names = [t.name for t in tools]
    choice = tool_choice(rest.pop("tool_choice", None), names)
    parallel = rest.pop("parallel_tool_calls", None)
    fields = {name: rest.pop(name) for name in SAMPLING_FIELDS if name in rest}
    include_usage = rest.pop("include_usage", None)
    extra = dict(rest.pop("extra_body", None) or {})
    chosen = rest.pop("model", None) or model
    fmt = response_format(rest.pop("response_format", None))
    stop = _stop(rest.pop("stop", None))
    extra.update((k, v) for k, v in rest.items() if v is not None)
    return ChatRequest(
        model=chosen,
        messages=messages,
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel if tools else None,
        response_format=fmt,
        stop=stop,
        include_usage=True if include_usage is None else bool(include_usage),
        extra_body=extra,
        **{k: v for k, v in fields.items() if v is not None},
    )
