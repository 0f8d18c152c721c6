"""langchain-tests' standard integration suite for `ChatModelsLab` against the stand-in server.

Runs once per wire dialect. The suite downloads its test image from GitHub with
``httpx.get``; with no network here, `_local_test_image` serves the suite a local PNG for that
one URL (our own client still talks real HTTP to the stand-in).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _support.standard import SuiteSettings
from langchain_tests.integration_tests import ChatModelIntegrationTests

from modelslab_core.testing import StandIn

# A 1x1 transparent PNG.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_SUITE_IMAGE_HOST = "raw.githubusercontent.com"


@pytest.fixture(autouse=True)
def _standin_env(standin_env: StandIn) -> StandIn:
    """Every model the suite builds (also inside tests) talks to the stand-in."""
    return standin_env


@pytest.fixture(autouse=True)
def _local_test_image(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Serve the suite's image download from local bytes (only that host; others fail)."""
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if httpx.URL(str(url)).host == _SUITE_IMAGE_HOST:
            return httpx.Response(200, content=_PNG, request=httpx.Request("GET", url))
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr("langchain_tests.integration_tests.chat_models.httpx.get", get)
    yield


class _Base(SuiteSettings, ChatModelIntegrationTests):
    dialect = "openai"

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "meta-llama-llama-3.2-3b-instruct",
            "dialect": self.dialect,
            "retry_initial_delay": 0.01,
        }

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True


class TestChatModelsLabOpenAI(_Base):
    dialect = "openai"

    @property
    def supports_image_tool_message(self) -> bool:
        """Chat-completions tool messages carry text only: the dialect sends the images in a
        user message right after the tool messages."""
        return True


class TestChatModelsLabAnthropic(_Base):
    dialect = "anthropic"

    @property
    def supports_image_tool_message(self) -> bool:
        """``tool_result`` blocks carry images on /v1/messages."""
        return True
