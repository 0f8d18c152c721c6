"""The real local model: a session-wide llama.cpp server started through scripts/llama_server.py.

``MODELSLAB_REAL_BASE_URL`` (with ``MODELSLAB_REAL_API_KEY`` and optionally
``MODELSLAB_REAL_MODEL``) points the tests at a server that is already running instead; it is
then left running. Otherwise the fixture starts the server (or reuses the one the script already
runs), held for this test process (``--lease``), and lets go of it at the end of the session:
the script stops it only if no other run (a demo, another checkout's tests) still holds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "llama_server.py"
sys.path.insert(0, str(ROOT / "notebooks"))  # _local (the request recorder) and local_embedding
START_TIMEOUT = 300.0


@dataclass(frozen=True)
class LocalServer:
    """Where the local server listens, the key it accepts (kept out of repr) and its model alias."""

    base_url: str
    api_key: str = field(repr=False)
    model: str


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/llama_server.py`` with this interpreter."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
    )


def _prepared() -> bool:
    """True when the llama-server build and the model are already in the cache."""
    ready = _script("status", "--json", timeout=30)
    if ready.returncode == 0:
        return True
    cache = Path(os.environ.get("MODELSLAB_CACHE") or Path.home() / ".cache/modelslab-integrations")
    builds = list(cache.glob("llama-server/*/build/bin/llama-server"))
    return bool(builds) and (cache / "model" / "model.stamp.json").is_file()


def _alias_of(base_url: str, api_key: str) -> str:
    """The model id an already-running server reports on ``/v1/models``."""
    response = httpx.get(
        base_url + "/v1/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["data"][0]["id"])


@pytest.fixture(scope="session")
def llama_server() -> Iterator[LocalServer]:
    """The running local llama.cpp server (ModelsLab's paths under ``/api/v7/llm``)."""
    given = os.environ.get("MODELSLAB_REAL_BASE_URL")
    if given:
        key = os.environ.get("MODELSLAB_REAL_API_KEY", "")
        base = given.rstrip("/")
        yield LocalServer(base, key, os.environ.get("MODELSLAB_REAL_MODEL") or _alias_of(base, key))
        return
    if not _prepared():
        pytest.fail(
            "the local llama-server is not built yet (about 17 min on 2 cores): run "
            f"`python {SCRIPT} build && python {SCRIPT} model` first",
            pytrace=False,
        )
    lease = str(os.getpid())
    started = _script("start", "--json", "--lease", lease, timeout=START_TIMEOUT)
    if started.returncode != 0:
        pytest.fail(f"llama_server.py start failed:\n{started.stderr[-2000:]}", pytrace=False)
    state = json.loads(started.stdout)
    try:
        yield LocalServer(state["base_url"], state["api_key"], state["model"])
    finally:
        _script("stop", "--lease", lease, timeout=60)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests a real-server module names in ``SAME_REQUEST_AS`` (test name -> why
    another test already sends the same request to the server): shown as deselected, never run."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        module = getattr(item, "module", None)
        (dropped if item.name in getattr(module, "SAME_REQUEST_AS", {}) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
