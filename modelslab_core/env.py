"""The environment variables the packages read, named once.

Both adapters and the core read settings from these names only (the adapters' fields default
to them, `ClientConfig` fills in what is not given, the catalog reads its file from
`CATALOG_ENV`). `read` gives a variable's value, an empty one counting as unset.
"""

from __future__ import annotations

import os

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "CATALOG_ENV", "IN_FLIGHT_URL_ENV", "read"]

API_KEY_ENV = "MODELSLAB_API_KEY"
"""The ModelsLab API key."""
BASE_URL_ENV = "MODELSLAB_BASE_URL"
"""The API base URL (default: ModelsLab's v7 LLM API)."""
IN_FLIGHT_URL_ENV = "MODELSLAB_IN_FLIGHT_URL"
"""Set to a Redis URL, every client in the process shares its account limit through it."""
CATALOG_ENV = "MODELSLAB_MODEL_CATALOG"
"""A model catalog file of your own (`modelslab_core.cost.catalog`)."""


def read(name: str) -> str | None:
    """The value of the environment variable ``name``; ``None`` when unset or empty."""
    return os.environ.get(name) or None
