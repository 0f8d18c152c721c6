"""A real redis-server for the shared-limit tests, started here on a free 127.0.0.1 port.

``make redis-server`` (part of ``make test``) installs the binary when the machine has none.
Each test works on accounts of its own (a stand-in of its own, or a unique account name), so
the session's server needs no flushing between tests; tests that stop or restart Redis start
a server of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from modelslab_core.testing import RedisServer


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """The session's redis-server (do not stop it; use ``own_redis`` for that)."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0`` of the session's server."""
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server for this test alone, free to be stopped, killed and restarted."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def account() -> str:
    """An account name no other test uses."""
    return f"test-{uuid.uuid4().hex}"
