"""The versions CONTRIBUTING.md states are the ones in the metadata and the ones the matrix tests."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself depends on tomli before Python 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT: dict[str, Any] = PYPROJECT["project"]
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()
README = (ROOT / "README.md").read_text()
NOXFILE = (ROOT / "noxfile.py").read_text()


def _section(title: str) -> str:
    """The CONTRIBUTING.md section under ``## title``."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", CONTRIBUTING, re.M | re.S)
    assert match, f"CONTRIBUTING.md has no '## {title}' section"
    return match.group(1)


def _row(label: str) -> str:
    """The 'Supported versions' table row whose first cell is ``label``."""
    for line in _section("Supported versions").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == label:
            return line
    raise AssertionError(f"CONTRIBUTING.md's 'Supported versions' table has no row {label}")


def _requirements(row: str) -> set[str]:
    """The requirement strings (in backticks) of a row's second cell, before any remark."""
    second = row.strip().strip("|").split("|")[1]
    return set(re.findall(r"`([^`]+)`", second.split("(")[0]))


def test_core_requirements_are_the_documented_ones() -> None:
    row = _row("`modelslab-integrations` (the core)")
    assert _requirements(row) == set(PROJECT["dependencies"])


@pytest.mark.parametrize(
    "extra", [e for e in PYPROJECT["project"]["optional-dependencies"] if e != "all"]
)
def test_each_extras_requirements_are_the_documented_ones(extra: str) -> None:
    assert _requirements(_row(f"`[{extra}]`")) == set(PROJECT["optional-dependencies"][extra])


def test_all_is_every_extra() -> None:
    extras = PROJECT["optional-dependencies"]
    others = ",".join(sorted(e for e in extras if e != "all"))
    assert [
        re.sub(r"\[(.*)\]", lambda m: "[" + ",".join(sorted(m[1].split(","))) + "]", r)
        for r in extras["all"]
    ] == [f"{PROJECT['name']}[{others}]"]


def _python_classifiers() -> list[tuple[int, int]]:
    found = []
    for c in PROJECT["classifiers"]:
        if m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c):
            found.append((3, int(m.group(1))))
    return sorted(found)


def _matrix() -> dict[str, str]:
    """noxfile.py's default sessions (the support matrix): name -> Python version."""
    found = {}
    for args, func in re.findall(r"^@nox\.session\((.*)\)\ndef (\w+)\(", NOXFILE, re.M):
        if "default=False" in args:
            continue
        name = re.search(r'name="([\w-]+)"', args)
        python = re.search(r'interpreter\("([\d.]+)"\)', args)
        assert python, f"session {func} names no interpreter"
        found[name.group(1) if name else func] = python.group(1)
    return found


def test_python_range_is_the_metadatas_and_the_matrix_spans_it() -> None:
    versions = _python_classifiers()
    assert versions == [(3, minor) for minor in range(versions[0][1], versions[-1][1] + 1)]
    low, high = (f"{major}.{minor}" for major, minor in (versions[0], versions[-1]))
    assert PROJECT["requires-python"] == f">={low}"
    stated = f'Python {low} to {high} (`requires-python = "{PROJECT["requires-python"]}"`)'
    assert stated in _section("Supported versions")
    assert f"Python {low} to {high}." in README  # the users' one-line version of it
    matrix = _matrix()
    assert {v for k, v in matrix.items() if k.startswith("lowest")} == {low}
    assert matrix["locked"] == high


def test_contributing_lists_every_matrix_session_with_its_python() -> None:
    listed = re.search(r"nox\.options\.sessions = \[(.*?)\]", NOXFILE, re.S)
    assert listed
    matrix = _matrix()
    assert set(re.findall(r'"([\w-]+)"', listed.group(1))) == set(matrix)
    table = _section("Supported versions")
    for name, python in matrix.items():
        assert f"| `{name}` | {python} |" in table, name
