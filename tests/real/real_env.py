"""What the real-server tests share: the server's values, repeatable sampling, request records."""

from __future__ import annotations

import json
from typing import Any

import httpx

SEED = 42
"""The seed every real-model request carries where its route has the field (``/chat/completions``)."""
REPEATABLE: dict[str, Any] = {"temperature": 0.0, "seed": SEED}
"""Greedy decoding: with the server's one slot and no prompt cache, the same request gives the
same answer on every run (scripts/llama_server.py, ``REPEATABLE_FLAGS``)."""


def server_values(server: Any) -> dict[str, str]:
    """``{"base_url", "api_key", "model"}`` of the running local server."""
    return {"base_url": server.base_url, "api_key": server.api_key, "model": server.model}


class Recorder:
    """httpx clients (sync and async) that keep the JSON body of every request they send."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.client = httpx.Client(event_hooks={"request": [self._record]})
        self.async_client = httpx.AsyncClient(event_hooks={"request": [self._arecord]})

    def _record(self, request: httpx.Request) -> None:
        if request.method == "POST":
            self.bodies.append(json.loads(request.content))

    async def _arecord(self, request: httpx.Request) -> None:
        self._record(request)

    def prompt_text(self, index: int = -1) -> str:
        """Every string the model was shown in one recorded request (system and messages)."""
        body = self.bodies[index]
        return "\n".join(_strings([body.get("system"), body["messages"]]))


def _strings(value: Any) -> list[str]:
    """The string leaves of a JSON value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
