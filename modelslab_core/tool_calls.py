"""Tool-call arguments, read once: strict for final answers, lenient for mid-stream snapshots.

Every layer reads arguments through these functions: the dialect decoders, the stream
accumulator and both adapters (LangChain's invalid tool calls, LlamaIndex's `ToolSelection`s).
"""

from __future__ import annotations

import json
from typing import Any

from .partial_json import parse_partial_json
from .types import ToolCall

__all__ = [
    "argument_text",
    "lenient_tool_arguments",
    "openai_tool_call",
    "parse_tool_arguments",
    "tool_call_from_raw",
]


def argument_text(raw: Any) -> str:
    """Streamed arguments as text: a string as is, ``None`` and ``{}`` as ``""``, any other JSON
    value as its JSON (arguments are the model's output: a wrong one is kept and judged when
    the call is complete, never dropped)."""
    if isinstance(raw, str):
        return raw
    return "" if raw is None or raw == {} else json.dumps(raw)


def parse_tool_arguments(raw: Any) -> dict[str, Any]:
    """Arguments as a dict: a dict is kept, ``None`` and blank text are ``{}``, other text must
    be one JSON object. Raises `ValueError` saying why otherwise."""
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if not isinstance(raw, str):
        raise ValueError(f"arguments are a JSON {type(raw).__name__}, not an object")
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"arguments are a JSON {type(value).__name__}, not an object")
    return value


def tool_call_from_raw(call_id: str, name: str, raw: Any) -> ToolCall:
    """A `ToolCall` from raw arguments; unparseable ones keep their text and say why."""
    try:
        arguments = parse_tool_arguments(raw)
    except ValueError as exc:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        return ToolCall.model_construct(
            id=call_id, name=name, arguments={}, raw_arguments=text, parse_error=str(exc)
        )
    return ToolCall.model_construct(
        id=call_id, name=name, arguments=arguments, raw_arguments=None, parse_error=None
    )


def lenient_tool_arguments(raw: dict[str, Any] | str) -> dict[str, Any]:
    """Mid-stream arguments as a dict: exact when complete, else what the cut text recovers."""
    if isinstance(raw, dict):
        return raw
    try:
        return parse_tool_arguments(raw)
    except ValueError:
        return parse_partial_json(raw) or {}


def openai_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One tool call in OpenAI's wire shape (``arguments`` is JSON text)."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
