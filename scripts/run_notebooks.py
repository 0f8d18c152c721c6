#!/usr/bin/env python3
"""Bring every notebook's ``.ipynb`` up to date with its ``.py`` source and run it, keeping
the outputs a reader sees (``make notebooks``).

    .venv/bin/python scripts/run_notebooks.py [NAME ...]   # all, or those whose name holds one

The tutorials (``notebooks/NN_*``) run on the local llama.cpp server (started if it does not
run yet, and left running, as ``make llama-server`` does), configured only by the
``MODELSLAB_*`` variables of ``scripts/llama_server.py env``; the two worked examples run with
no ``MODELSLAB_*`` variable set, so they start the stand-in (and a throwaway redis-server)
themselves, as they do for a reader without a key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 600


def local_server_env() -> dict[str, str]:
    """The ``MODELSLAB_*`` variables of the running local server (started if needed)."""
    script = [sys.executable, str(ROOT / "scripts" / "llama_server.py")]
    state = json.loads(
        subprocess.run([*script, "start", "--json"], check=True, stdout=subprocess.PIPE).stdout
    )
    return {
        "MODELSLAB_BASE_URL": state["base_url"],
        "MODELSLAB_API_KEY": state["api_key"],
        "MODELSLAB_MODEL": state["model"],
    }


def run(path: Path, env: dict[str, str]) -> float:
    """Sync ``path`` (an ``.ipynb``) from its ``.py``, run it with ``env``, save it; seconds."""
    subprocess.run(
        [sys.executable, "-m", "jupytext", "--sync", "-q", str(path.with_suffix(".py"))], check=True
    )
    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this environment
    try:
        started = time.monotonic()
        client = NotebookClient(
            nb,
            timeout=CELL_TIMEOUT,
            kernel_name="python3",
            coalesce_streams=True,  # one output per streamed answer, not one per chunk
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    nbformat.write(nb, path)
    return time.monotonic() - started


def main(names: list[str]) -> int:
    """Run the named notebooks (all when none is named)."""
    paths = [
        p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if not names or any(n in p.stem for n in names)
    ]
    plain = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODELSLAB_") or k == "MODELSLAB_REDIS_SERVER"
    }
    server = local_server_env() if any(p.stem[:2].isdigit() for p in paths) else {}
    for path in paths:
        env = {**plain, **server} if path.stem[:2].isdigit() else plain
        print(f"{path.name}: {run(path, env):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
