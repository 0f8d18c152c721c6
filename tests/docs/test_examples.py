"""Every Python example in the README, in ``docs/`` and in the packages' docstrings (the API
reference) runs as written against the stand-in.

Each example is linted (ruff: no undefined names) and run by pytest-examples with only
``MODELSLAB_API_KEY`` and ``MODELSLAB_BASE_URL`` set, pointed at the stand-in; an example that
reads ``MODELSLAB_IN_FLIGHT_URL`` gets a real redis-server's URL there. An example that shows
output (``#>`` lines after a ``print``) must print exactly that: every print of it is checked.
``pytest tests/docs --update-examples`` rewrites the ``#>`` lines from a run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from modelslab_core.testing import RedisServer, StandIn

ROOT = Path(__file__).resolve().parents[2]
PAGES = (ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "docs")
# The packages' docstrings (the API reference renders them): pytest-examples finds the code
# blocks of every ``"""`` docstring of their .py files, e.g. the class docstrings of
# `ChatModelsLab` and `ModelsLab`, which are the module docstrings of their ``_docs.py``.
PACKAGES = (ROOT / "langchain_modelslab", ROOT / "llama_index_modelslab", ROOT / "modelslab_core")
EXAMPLES = [
    e
    for e in [
        *(e for e in find_examples(*PAGES) if e.path.suffix == ".md"),  # not notebook sources
        *find_examples(*PACKAGES),
    ]
    if e.prefix.split()[0] in ("py", "python")
]
ENVIRONMENT = (
    "MODELSLAB_API_KEY",
    "MODELSLAB_BASE_URL",
    "MODELSLAB_IN_FLIGHT_URL",
    "MODELSLAB_MODEL",
)


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """pytest-examples runs each example as ``__main__`` and leaves it in ``sys.modules``: put
    pytest's back, so later tests (and process pools started by them) see the real one."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server for the shared-limit examples, started on first use."""
    with RedisServer() as server:
        yield server.url


def _example_id(example: CodeExample) -> str:
    return f"{example.path.relative_to(ROOT)}:{example.start_line}"


def test_every_page_has_examples() -> None:
    pages = {e.path.relative_to(ROOT).as_posix() for e in EXAMPLES}
    assert "README.md" in pages
    assert len(pages) >= 9, sorted(pages)


def test_reference_docstrings_have_examples() -> None:
    found = {e.path.relative_to(ROOT).as_posix() for e in EXAMPLES if e.in_py_file()}
    for module in (
        "langchain_modelslab/_docs.py",
        "langchain_modelslab/callbacks.py",
        "llama_index_modelslab/_docs.py",
        "llama_index_modelslab/callbacks.py",
        "modelslab_core/testing/__init__.py",
    ):
        assert module in found, sorted(found)
    # an interactive session (``>>>``) is not found by pytest-examples: it would never run
    sessions = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in package.rglob("*.py")
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if line.lstrip().startswith(">>>")
    ]
    assert sessions == []


@pytest.mark.parametrize("example", EXAMPLES, ids=_example_id)
def test_example_runs_as_written(
    example: CodeExample,
    eval_example: EvalExample,
    standin: StandIn,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELSLAB_API_KEY", standin.api_key)
    monkeypatch.setenv("MODELSLAB_BASE_URL", standin.base_url)
    if "MODELSLAB_IN_FLIGHT_URL" in example.source:
        monkeypatch.setenv("MODELSLAB_IN_FLIGHT_URL", request.getfixturevalue("redis_url"))
    eval_example.set_config(line_length=100, target_version="py310")
    if eval_example.update_examples:
        eval_example.format_ruff(example)
    else:
        eval_example.lint_ruff(example)
    if "#>" not in example.source:
        eval_example.run(example)
    elif eval_example.update_examples:
        eval_example.run_print_update(example)
    else:
        eval_example.run_print_check(example)
