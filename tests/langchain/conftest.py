"""Fixtures for the LangChain adapter tests: models pointed at the stand-in server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import StandIn


@pytest.fixture
def standin_env(standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """Point ``MODELSLAB_BASE_URL``/``MODELSLAB_API_KEY`` at the stand-in for this test."""
    monkeypatch.setenv("MODELSLAB_BASE_URL", standin.base_url)
    monkeypatch.setenv("MODELSLAB_API_KEY", standin.api_key)
    return standin


@pytest.fixture
def make_model(standin: StandIn) -> Callable[..., ChatModelsLab]:
    """Build a `ChatModelsLab` aimed at the stand-in with fast retries."""

    def make(**kwargs: Any) -> ChatModelsLab:
        params: dict[str, Any] = {
            "api_key": standin.api_key,
            "base_url": standin.base_url,
            "retry_initial_delay": 0.01,
            "timeout": 5,
        }
        params.update(kwargs)
        return ChatModelsLab(**params)

    return make
