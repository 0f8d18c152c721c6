"""`ChatModelsLab`'s docstring has the sections of a LangChain partner chat model, each with
an example; tests/docs/test_examples.py runs those examples (pytest-examples) one by one."""

from __future__ import annotations

from pathlib import Path

from pytest_examples import find_examples

from langchain_modelslab import ChatModelsLab, _docs

SECTIONS = (
    "Instantiate:",
    "Invoke:",
    "Stream:",
    "Async:",
    "Tool calling:",
    "Structured output:",
    "Token usage:",
    "Response metadata:",
    "List models:",
    "Errors:",
)


def _section_of(lines: list[str], line: int) -> str:
    """The section title (an unindented ``Title:`` line) above a line (1-based) of the file."""
    titles = [x for x in lines[: line - 1] if x.endswith(":") and x[:1].isalpha()]
    return titles[-1] if titles else ""


def test_docstring_has_the_partner_sections() -> None:
    doc = ChatModelsLab.__doc__ or ""
    for section in (
        "Setup:",
        "Key init args — completion params:",
        "Key init args — client params:",
    ):
        assert f"\n{section}\n" in doc
    # The blocks pytest-examples finds (and tests/docs runs) in the file the docstring comes from
    path = Path(_docs.__file__)
    source = path.read_text("utf-8")
    start = source.index('"""') + 3
    assert doc == source[start : source.index('"""', start)]
    lines = source.splitlines()
    sections = [_section_of(lines, e.start_line) for e in find_examples(path)]
    assert sections == list(SECTIONS)
