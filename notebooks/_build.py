"""Write the four tutorial notebooks from the cell sources in ``_cells.py``, and run them.

    .venv/bin/python notebooks/_build.py            # write the .ipynb files (no outputs)
    .venv/bin/python notebooks/_build.py --execute  # write, then run each and save its outputs

``--execute`` starts the local llama.cpp server once (unless ``MODELSLAB_API_KEY`` is set) so
that every notebook reuses it, holds it while they run and lets go at the end (it stops unless
another run still holds it). Kernel: ``python3`` of this interpreter
(install it with ``.venv/bin/python -m ipykernel install --sys-prefix`` if missing).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import nbformat as _nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _cells  # noqa: E402
import _local  # noqa: E402

nbformat: Any = _nbformat  # untyped library: one typed handle
CELL_TIMEOUT = 600
"""Seconds one cell may take (a slow CPU model under load)."""


def build_notebook(cells: list[tuple[str, str]]) -> Any:
    """A notebook from ``(kind, source)`` pairs, ``kind`` being ``"md"`` or ``"code"``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for index, (kind, source) in enumerate(cells):
        v4 = nbformat.v4
        cell = v4.new_markdown_cell(source) if kind == "md" else v4.new_code_cell(source)
        cell["id"] = f"cell-{index:02d}"  # stable ids keep the diffs small
        nb.cells.append(cell)
    return nb


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> float:
    """Run the notebook at ``path`` in place (cwd: its folder); return the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    started = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        coalesce_streams=True,  # one output per streamed answer, not one per chunk
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    nbformat.write(nb, path)
    return time.monotonic() - started


def write_all(names: list[str]) -> list[Path]:
    """Write the named notebooks (all when empty); return their paths."""
    paths = []
    for name, cells in _cells.NOTEBOOKS.items():
        if names and not any(n in name for n in names):
            continue
        path = HERE / f"{name}.ipynb"
        nbformat.write(build_notebook(cells), path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Write, and with ``--execute`` run, the notebooks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--execute", action="store_true", help="run them and save the outputs")
    parser.add_argument("names", nargs="*", help="only notebooks whose name contains one of these")
    args = parser.parse_args(argv)
    paths = write_all(args.names)
    if not args.execute:
        print("\n".join(f"wrote {p.name}" for p in paths))
        return 0
    endpoint = _local.connect()
    try:
        for path in paths:
            print(f"running {path.name} ...", flush=True)
            print(f"  {execute(path):.0f} s", flush=True)
    finally:
        _local.disconnect(endpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
