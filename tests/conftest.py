"""Shared fixtures: one stand-in ModelsLab server per test session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelslab_core.cost.catalog import CATALOG_ENV, forget_listings
from modelslab_core.testing import StandIn

STANDIN_KEY = "test-key"


@pytest.fixture(scope="session")
def standin_server() -> Iterator[StandIn]:
    """The session-wide stand-in server (do not script it directly; use ``standin``)."""
    with StandIn(api_key=STANDIN_KEY) as srv:
        yield srv


@pytest.fixture
def standin(standin_server: StandIn) -> StandIn:
    """The stand-in, with its queue, records, counters and settings reset for this test."""
    standin_server.reset()
    return standin_server


@pytest.fixture
def standin_url(standin: StandIn) -> str:
    """Base URL of the stand-in: ``http://127.0.0.1:PORT/api/v7/llm``."""
    return standin.base_url


@pytest.fixture
def standin_key(standin: StandIn) -> str:
    """The API key the stand-in accepts."""
    return standin.api_key


@pytest.fixture(autouse=True)
def _model_catalog_as_shipped(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the shipped model catalog only: no user file from the environment, and
    no facts remembered from an earlier test's ``/v1/models`` answers."""
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    forget_listings()
    yield
    forget_listings()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once through the blocking and once through the async API."""
    return str(request.param)


@pytest.fixture(params=["openai", "anthropic"])
def dialect(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once per wire dialect."""
    return str(request.param)
