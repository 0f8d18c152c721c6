"""How `ChatModelsLab` serializes: LangChain's ``dumpd``/``loads`` (secrets by env var name,
prices as exact decimal strings) and pickling (without HTTP clients)."""

from __future__ import annotations

from typing import Any

from modelslab_core.env import API_KEY_ENV, IN_FLIGHT_URL_ENV


class Serialization:
    """LangChain's serialization hooks and pickling for `ChatModelsLab` (listed before
    ``BaseChatModel`` among its bases, so these win)."""

    pricing: Any

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV, "in_flight_backend": IN_FLIGHT_URL_ENV}

    @property
    def lc_attributes(self) -> dict[str, Any]:
        """Prices serialize as exact decimal strings."""
        return {"pricing": self.pricing.model_dump(mode="json")} if self.pricing else {}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_modelslab", "chat_models"]

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle without HTTP clients (they are recreated on first use)."""
        state: dict[Any, Any] = super().__getstate__()  # type: ignore[misc]
        state["__dict__"] = {**state["__dict__"], "http_client": None, "http_async_client": None}
        state["__pydantic_private__"] = {"_clients": None}
        return state
