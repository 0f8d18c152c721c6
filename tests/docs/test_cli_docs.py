"""The stand-in's command line is documented as it is: the option tables of the README and
of docs/testing.md list exactly the options ``--help`` shows, with their real defaults."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from modelslab_core.testing.__main__ import _parse

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("README.md", "docs/testing.md")


def _help_options() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "modelslab_core.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(re.findall(r"^\s+(--[\w-]+)", done.stdout, re.M)) - {"--help"}


def _table(page: str) -> dict[str, str]:
    """The ``| option | default | what |`` table of ``page``: option -> default cell."""
    text = (ROOT / page).read_text()
    start = text.index("| option | default | what |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1].strip("`")
    return rows


@pytest.mark.parametrize("page", PAGES)
def test_documented_options_are_the_command_lines(page: str) -> None:
    table = _table(page)
    assert set(table) == _help_options()
    defaults = vars(_parse([]))
    for option, documented in table.items():
        actual = defaults[option.removeprefix("--").replace("-", "_")]
        assert documented == ("none" if actual is None else str(actual)), option


@pytest.mark.parametrize("page", PAGES)
def test_documented_command_is_the_real_one(page: str) -> None:
    text = (ROOT / page).read_text()
    assert "python -m modelslab_core.testing --port 8765 --api-key test-key" in text
    assert "http://127.0.0.1:8765/api/v7/llm" in text
