"""Every Python example in the README and in ``docs/`` runs as written against the stand-in.

Each example is linted (ruff: no undefined names) and run by pytest-examples with only
``MODELSLAB_API_KEY`` and ``MODELSLAB_BASE_URL`` set, pointed at the stand-in; an example that
reads ``MODELSLAB_IN_FLIGHT_URL`` gets a real redis-server's URL there. An example that shows
output (``#>`` lines after a ``print``) must print exactly that: every print of it is checked.
``pytest tests/docs --update-examples`` rewrites the ``#>`` lines from a run.
"""

from __future__ import annotations

import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from modelslab_core.testing import RedisServer, StandIn

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "docs")
EXAMPLES = [
    e
    for e in find_examples(*SOURCES)
    if e.path.suffix == ".md" and e.prefix.split()[0] in ("py", "python")
]


def _docstring_examples(cls: type, path: Path) -> list[CodeExample]:
    """The ``python`` blocks of a class docstring the API reference renders (set at run time,
    so pytest-examples' own search of source files does not see them)."""
    found = re.findall(r"```python\n(.*?)```", cls.__doc__ or "", re.S)
    return [CodeExample.create(textwrap.dedent(block), path=path) for block in found]


def _reference_examples() -> list[CodeExample]:
    from llama_index_modelslab import ModelsLab

    # ChatModelsLab's docstring blocks share one namespace: tests/langchain/test_docs.py runs them.
    return _docstring_examples(ModelsLab, ROOT / "llama_index_modelslab" / "_docs.py")


EXAMPLES += _reference_examples()
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
    return f"{example.path.relative_to(ROOT)}:{example.start_line}"  # docstrings: line 0


def test_every_page_has_examples() -> None:
    pages = {e.path.relative_to(ROOT).as_posix() for e in EXAMPLES}
    assert "README.md" in pages
    assert len(pages) >= 9, sorted(pages)


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
