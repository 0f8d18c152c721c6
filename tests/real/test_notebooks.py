"""The four tutorial notebooks and the demo, run for real against the local llama.cpp server.

The notebooks reuse the running server: its URL, key and model reach the kernel as
``MODELSLAB_BASE_URL`` / ``MODELSLAB_API_KEY`` / ``MODELSLAB_MODEL`` (what ``_local.connect``
reads before it would start a server of its own). Also checked, without a server: the committed
notebooks hold exactly the cells ``notebooks/_build.py`` writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from real_env import server_values

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT = 600

sys.path.insert(0, str(NOTEBOOK_DIR))

import _build  # noqa: E402


def _server_env(llama_server: Any) -> dict[str, str]:
    """The environment that points `_local.connect` at the running server."""
    server = server_values(llama_server)
    return {
        "MODELSLAB_BASE_URL": server["base_url"],
        "MODELSLAB_API_KEY": server["api_key"],
        "MODELSLAB_MODEL": server["model"],
    }


def test_four_notebooks_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == list(_build._cells.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_cells(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    built = _build.build_notebook(_build._cells.NOTEBOOKS[path.stem])
    assert [(c.cell_type, c.source) for c in committed.cells] == [
        (c.cell_type, c.source) for c in built.cells
    ], "run `.venv/bin/python notebooks/_build.py --execute`"
    executed = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in executed), "committed notebooks keep their outputs"


@pytest.mark.real_model
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, llama_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _server_env(llama_server).items():
        monkeypatch.setenv(name, value)  # the kernel inherits this environment
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        coalesce_streams=True,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    first = nb.cells[2].outputs[0]["text"]
    assert server_values(llama_server)["base_url"] in first
    assert server_values(llama_server)["api_key"] not in str(nb)


@pytest.mark.real_model
@pytest.mark.timeout(900)
def test_demo_runs(llama_server: Any) -> None:
    env = {**os.environ, **_server_env(llama_server)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=880,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in range(1, 6):
        assert f"=== {step}. " in proc.stdout
    assert proc.stdout.count("usage: ") == 6  # chat, stream, tool call + answer, extraction, RAG
    assert "sources: ['ferry.md'" in proc.stdout
    assert "demo finished" in proc.stdout
    assert server_values(llama_server)["api_key"] not in proc.stdout + proc.stderr
