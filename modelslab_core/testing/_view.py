"""Normalise an OpenAI or Anthropic request body into one dialect-neutral view (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "RequestView",
    "ToolDef",
    "count_tokens",
    "tool_tokens",
    "view_anthropic",
    "view_openai",
]

Route = Literal["openai", "anthropic"]


def count_tokens(text: str) -> int:
    """The stand-in's tokenizer: whitespace-separated words."""
    return len(text.split())


@dataclass(frozen=True)
class ToolDef:
    """One offered tool."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class RequestView:
    """What the reply rules need from a request, whatever its dialect."""

    route: Route
    model: str
    system: str = ""
    texts: tuple[str, ...] = ()
    last_role: str = "user"
    last_user_text: str = ""
    tool_results: tuple[str, ...] = ()
    tools: tuple[ToolDef, ...] = ()
    tool_choice: str = "auto"
    named_tool: str | None = None
    parallel: bool = True
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    response_format: str | None = None
    response_schema: dict[str, Any] | None = field(default=None)
    stream: bool = False
    include_usage: bool = False

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens: words of the system prompt, every message and the tools' JSON."""
        words = count_tokens(self.system) + sum(count_tokens(t) for t in self.texts)
        return max(1, words + sum(tool_tokens(t) for t in self.tools))


def tool_tokens(tool: ToolDef) -> int:
    """Words of a tool's JSON (name, description, schema), the same in both dialects."""
    spec = {"name": tool.name, "description": tool.description, "parameters": tool.schema}
    return count_tokens(json.dumps(spec, sort_keys=True, ensure_ascii=False))


def _text_of(content: Any) -> str:
    """Plain text of a string or a list of content parts/blocks (text parts only)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "tool_result":
                parts.append(_text_of(part.get("content")))
        return "\n".join(parts)
    return ""


def _model_of(body: dict[str, Any]) -> str:
    """``model`` or ``model_id``."""
    return str(body.get("model") or body.get("model_id") or "")


def _stop_list(value: Any) -> tuple[str, ...]:
    """``stop`` as a tuple of strings."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str) and s)
    return ()


def _openai_tools(body: dict[str, Any]) -> tuple[ToolDef, ...]:
    """``tools`` of an OpenAI request."""
    out = []
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and fn.get("name"):
            params = fn.get("parameters")
            params = params if isinstance(params, dict) else {}
            out.append(ToolDef(str(fn["name"]), str(fn.get("description") or ""), params))
    return tuple(out)


def _openai_choice(value: Any) -> tuple[str, str | None]:
    """(mode, named tool) of an OpenAI ``tool_choice``."""
    if isinstance(value, dict):
        fn = value.get("function")
        name = fn.get("name") if isinstance(fn, dict) else value.get("name")
        return "named", str(name) if name else None
    if value in ("none", "required"):
        return str(value), None
    if value == "any":
        return "required", None
    return "auto", None


def _openai_format(value: Any) -> tuple[str | None, dict[str, Any] | None]:
    """(kind, schema) of an OpenAI ``response_format``."""
    if not isinstance(value, dict):
        return None, None
    kind = value.get("type")
    if kind == "json_object":
        return "json_object", None
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        return "json_schema", schema if isinstance(schema, dict) else {}
    return None, None


def view_openai(body: dict[str, Any]) -> RequestView:
    """View of a ``/chat/completions`` body (assumed already validated)."""
    system: list[str] = []
    texts: list[str] = []
    results: list[str] = []
    user_text = ""
    messages = body.get("messages") or []
    for msg in messages:
        role, text = msg.get("role"), _text_of(msg.get("content"))
        if role in ("system", "developer"):
            system.append(text)
            continue
        texts.append(text)
        for call in msg.get("tool_calls") or []:
            texts.append(str((call.get("function") or {}).get("arguments") or ""))
        if role == "user":
            user_text = text
    last_role = str(messages[-1].get("role")) if messages else "user"
    if last_role == "tool":
        for msg in reversed(messages):
            if msg.get("role") != "tool":
                break
            results.insert(0, _text_of(msg.get("content")))
    mode, named = _openai_choice(body.get("tool_choice"))
    fmt, schema = _openai_format(body.get("response_format"))
    opts = body.get("stream_options")
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    return RequestView(
        route="openai",
        model=_model_of(body),
        system="\n".join(system),
        texts=tuple(texts),
        last_role=last_role,
        last_user_text=user_text,
        tool_results=tuple(results),
        tools=_openai_tools(body),
        tool_choice=mode,
        named_tool=named,
        parallel=body.get("parallel_tool_calls") is not False,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        stop=_stop_list(body.get("stop")),
        response_format=fmt,
        response_schema=schema,
        stream=body.get("stream") is True,
        include_usage=isinstance(opts, dict) and opts.get("include_usage") is True,
    )


def _anthropic_blocks(content: Any) -> list[dict[str, Any]]:
    """Content as a list of blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _anthropic_choice(value: Any) -> tuple[str, str | None, bool]:
    """(mode, named tool, parallel allowed) of an Anthropic ``tool_choice``."""
    if not isinstance(value, dict):
        return "auto", None, True
    parallel = value.get("disable_parallel_tool_use") is not True
    kind = value.get("type")
    if kind == "any":
        return "required", None, parallel
    if kind == "tool":
        return "named", str(value.get("name") or ""), parallel
    if kind == "none":
        return "none", None, parallel
    return "auto", None, parallel


def _anthropic_format(body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """Structured output via ``output_format`` (``{"type": "json_schema", "schema": ...}``)."""
    value = body.get("output_format")
    if isinstance(value, dict) and value.get("type") == "json_schema":
        schema = value.get("schema")
        return "json_schema", schema if isinstance(schema, dict) else {}
    return None, None


def _schema_of(value: Any) -> dict[str, Any]:
    """A schema dict, or ``{}``."""
    return value if isinstance(value, dict) else {}


def view_anthropic(body: dict[str, Any]) -> RequestView:
    """View of a ``/v1/messages`` (or ``count_tokens``) body (assumed already validated)."""
    texts: list[str] = []
    user_text = ""
    results: list[str] = []
    messages = body.get("messages") or []
    last_role = "user"
    for msg in messages:
        blocks = _anthropic_blocks(msg.get("content"))
        is_result = any(b.get("type") == "tool_result" for b in blocks)
        for block in blocks:
            if block.get("type") == "tool_use":
                texts.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
            else:
                texts.append(_text_of([block]))
        if msg.get("role") == "user" and not is_result:
            user_text = _text_of([b for b in blocks if b.get("type") == "text"])
        last_role = "tool" if is_result else str(msg.get("role"))
        results = [_text_of(b.get("content")) for b in blocks if b.get("type") == "tool_result"]
    mode, named, parallel = _anthropic_choice(body.get("tool_choice"))
    tools = tuple(
        ToolDef(str(t["name"]), str(t.get("description") or ""), _schema_of(t.get("input_schema")))
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("name")
    )
    fmt, schema = _anthropic_format(body)
    return RequestView(
        route="anthropic",
        model=_model_of(body),
        system=_text_of(body.get("system")),
        texts=tuple(texts),
        last_role=last_role,
        last_user_text=user_text,
        tool_results=tuple(results) if last_role == "tool" else (),
        tools=tools,
        tool_choice=mode,
        named_tool=named,
        parallel=parallel,
        max_tokens=body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else None,
        stop=_stop_list(body.get("stop_sequences")),
        response_format=fmt,
        response_schema=schema,
        stream=body.get("stream") is True,
        include_usage=True,
    )
