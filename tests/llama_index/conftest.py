"""Fixtures for the LlamaIndex adapter tests: an LLM on the stand-in, per dialect and mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import StandIn


@pytest.fixture(params=[True, False], ids=["sync", "async"])
def sync(request: pytest.FixtureRequest) -> bool:
    """Both the blocking and the async method of a pair."""
    return bool(request.param)


@pytest.fixture
def make_llm(standin: StandIn, dialect: str) -> Callable[..., ModelsLab]:
    """Build a `ModelsLab` on the stand-in in the test's dialect (fast retries)."""

    def make(**kwargs: Any) -> ModelsLab:
        settings: dict[str, Any] = {
            "api_key": standin.api_key,
            "api_base": standin.base_url,
            "dialect": dialect,
            "client_options": {"retry": {"initial_delay": 0.01, "max_delay": 0.05}},
        }
        settings.update(kwargs)
        return ModelsLab(**settings)

    return make


@pytest.fixture
def llm(make_llm: Callable[..., ModelsLab]) -> ModelsLab:
    """A default `ModelsLab` on the stand-in."""
    return make_llm()
