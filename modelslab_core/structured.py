"""Pure helpers for structured output, shared by both adapters.

- `parse_json_text` reads JSON from a model's text answer (code fences and surrounding prose
  tolerated): JSON mode, and ``json_schema`` on the OpenAI dialect.
- `structured_output` reads a `ChatResult` produced for a ``response_format``: the forced
  tool call named after the schema (how the Anthropic dialect renders ``json_schema``) when
  there is one, else the text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .types import ChatResult

__all__ = ["parse_json_text", "structured_output"]

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
        ValueError: no JSON value could be read; the message quotes the start of the text.
    """
    if not isinstance(text, str):
        raise ValueError(f"Expected the model's answer as text, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError("The model's answer is empty: expected JSON")
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
    raise ValueError(f"The model's answer is not valid JSON: {_snippet(stripped)!r}")


def structured_output(result: ChatResult, tool_name: str | None = None) -> Any:
    """The structured answer in ``result``.

    When ``tool_name`` is given and the model called that tool (the Anthropic rendering of a
    ``json_schema`` format), its arguments; otherwise the JSON in the text.

    Raises:
        ValueError: the forced tool's arguments did not parse, or the text holds no JSON.
    """
    if tool_name is not None:
        for call in result.tool_calls:
            if call.name == tool_name:
                if call.parse_error:
                    raise ValueError(f"Arguments of {tool_name!r} are invalid: {call.parse_error}")
                return call.arguments
    return parse_json_text(result.text)
