"""Shared test data: the stand-in's model id, one tool in OpenAI form, recorded SSE files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelslab_core.transport.sse import SSEDecoder

__all__ = ["FIXTURES", "MODEL", "WEATHER_TOOL", "get_weather", "read_sse"]

MODEL = "meta-llama-llama-3.2-3b-instruct"
"""The model id the tests send (the seed's model)."""

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
"""Recorded responses and streams (``tests/fixtures``)."""

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
"""A tool in OpenAI's shape, as LangChain binds it."""


def get_weather(city: str) -> str:
    """Current weather of a city."""
    return f"sunny in {city}"


def read_sse(name: str) -> list[tuple[str | None, Any]]:
    """``(event, data)`` of every event of a recorded SSE file, read with the core's decoder;
    ``data`` is parsed JSON, or the string ``"[DONE]"``."""
    decoder = SSEDecoder()
    events = decoder.feed((FIXTURES / name).read_bytes()) + decoder.flush()
    return [
        (sse.event, sse.data if sse.data == "[DONE]" else json.loads(sse.data)) for sse in events
    ]
