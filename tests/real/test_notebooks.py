"""The four tutorial notebooks and the demo, run for real against the local llama.cpp server.

The notebooks reuse the running server: its URL, key and model reach the kernel as
``MODELSLAB_BASE_URL`` / ``MODELSLAB_API_KEY`` / ``MODELSLAB_MODEL`` (what ``_local.connect``
reads before it would start a server of its own). Also checked, without a server: the committed
notebooks hold exactly the cells ``notebooks/_build.py`` writes, and (against the stand-in)
that the demo fails loudly when the server refuses the key.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from real_env import server_values

from modelslab_core.testing import StandIn

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


USAGE = re.compile(r"^usage: (\d+) in \+ (\d+) out = (\d+) tokens", re.MULTILINE)


WHERE = ("MODELSLAB_BASE_URL", "MODELSLAB_API_KEY", "MODELSLAB_MODEL")


def _run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run scripts/demo.py with ``env``; without ``MODELSLAB_*`` in it, none is inherited
    either (the demo then finds the local server itself, as ``make demo`` does)."""
    inherited = {k: v for k, v in os.environ.items() if k not in WHERE}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env={**inherited, **env},
        timeout=880,
        check=False,
    )


def _warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r"warn", line, re.IGNORECASE)]


@pytest.mark.real_model
@pytest.mark.timeout(900)
def test_demo_runs(llama_server: Any) -> None:
    """``make demo``'s run: it finds the local server this session holds (through
    scripts/llama_server.py, as ``make demo`` does), and every step ran and printed its
    checked numbers: usage that adds up, the tool's call and result, the parsed object, the
    first source and the retrieved line in the prompt. No warning, and the server this session
    still holds is left running. (Tests pointed at a server of their own by
    ``MODELSLAB_REAL_BASE_URL`` run the demo on it through ``MODELSLAB_*``.)"""
    own_server = bool(os.environ.get("MODELSLAB_REAL_BASE_URL"))
    proc = _run_demo(_server_env(llama_server) if own_server else {})
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert _warning_lines(proc.stderr) == [], proc.stderr[-3000:]
    if not own_server:
        assert f"Using the local llama.cpp server at {llama_server.base_url}" in out
        left = [line for line in out.splitlines() if line.startswith("left the local server")]
        assert len(left) == 1 and f"pid {os.getpid()}" in left[0].split(" for ")[1], out
        health = httpx.get(
            llama_server.base_url + "/health",
            headers={"Authorization": f"Bearer {llama_server.api_key}"},
            timeout=30,
        )
        assert health.status_code == 200
    assert re.search(r"^context window: \d+ tokens \(GET .*/v1/models\)$", out, re.M), out
    for step in range(1, 6):
        assert f"=== {step}. " in out
    usages = [tuple(map(int, match)) for match in USAGE.findall(out)]
    assert len(usages) == 6, out  # chat, stream, tool call + answer, extraction, RAG
    for prompt, completion, total in usages:
        assert prompt > 0 and completion > 0 and total == prompt + completion
    assert usages[-1][0] > 100, "the RAG prompt carries the retrieved passages"
    assert "tool calls: [('ferry_fare', {'adults': 2, 'children': 3})]" in out
    assert "tool result: 49 pounds" in out
    assert re.search(r"^parsed: Booking\(name='.+', day='\w+day', adults=\d+, ", out, re.M)
    assert "sources: ['ferry.md'" in out
    assert "the prompt sent held the retrieved line: 'the first ferry leaves Port Ailean" in out
    assert "FAILED" not in out and "demo finished" in out
    assert server_values(llama_server)["api_key"] not in out + proc.stderr


@pytest.mark.timeout(300)
def test_demo_fails_when_its_steps_fail(standin: StandIn) -> None:
    """With a key the server refuses, every step fails, says so, and the exit code is 1. No
    model answers here, so the stand-in (ModelsLab's own 401) is the server: this keeps the
    CPU-bound real-model part shorter."""
    env = {
        "MODELSLAB_BASE_URL": standin.base_url,
        "MODELSLAB_API_KEY": "sk-not-the-right-key",
        "MODELSLAB_MODEL": "meta-llama-llama-3.2-3b-instruct",
    }
    proc = _run_demo(env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = re.findall(r"^FAILED: ([a-zA-Z ]+): (\w+)", proc.stdout, re.MULTILINE)
    langchain = ("ModelsLabAuthenticationError",)  # LangChain's twin of the core's error
    assert failed == [
        ("chat", *langchain),
        ("streaming", *langchain),
        ("tool calling", *langchain),
        ("structured output", *langchain),
        ("RAG", "AuthenticationError"),  # LlamaIndex raises the core's own error
    ]
    assert "demo FAILED" in proc.stdout and "demo finished" not in proc.stdout
    assert not USAGE.search(proc.stdout)
