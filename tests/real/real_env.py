"""What the real-server tests take from the ``llama_server`` fixture: base URL, key, model."""

from __future__ import annotations

from typing import Any


def server_values(server: Any) -> dict[str, str]:
    """``{"base_url", "api_key", "model"}`` of the running local server."""
    return {"base_url": server.base_url, "api_key": server.api_key, "model": server.model}
