"""The tutorial ``notebooks/shared_budget.ipynb`` (paired with ``shared_budget.py``), executed
with nbclient on a throwaway redis-server and the stand-in."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_the_ipynb_is_the_paired_source() -> None:
    source = jupytext.read(NOTEBOOKS / "shared_budget.py")
    paired = nbformat.read(NOTEBOOKS / "shared_budget.ipynb", as_version=4)
    assert [c.source for c in source.cells] == [c.source for c in paired.cells]


def test_a_process_pool_shares_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODELSLAB_API_KEY", "MODELSLAB_IN_FLIGHT_URL", "MODELSLAB_SHARED_BUDGET"):
        monkeypatch.delenv(name, raising=False)
    notebook = nbformat.read(NOTEBOOKS / "shared_budget.ipynb", as_version=4)
    NotebookClient(notebook, timeout=240, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(
        env=dict(os.environ)
    )
    out = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    workers = [line for line in out.splitlines() if line.startswith("worker ")]
    assert len(workers) == 4
    refused = sum(int(line.rsplit("'refused': ", 1)[1].rstrip("}")) for line in workers)
    assert refused > 0  # the budget engaged across the pool
    spent, budget = re.search(r"^Spent \$(\S+) of \$(\S+); reserved now \$0$", out, re.M).groups()
    assert Decimal(spent) <= Decimal(budget)  # the pool stayed within its one budget
    answered = int(re.search(r"^(\d+) answers, ", out, re.M).group(1))
    billed, bills = re.search(
        r"^The stand-in would bill \$(\S+) for (\d+) answers$", out, re.M
    ).groups()
    assert Decimal(billed) <= Decimal(budget) and int(bills) == answered
