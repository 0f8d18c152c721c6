"""Every ``python`` example in `ChatModelsLab`'s docstring runs against the stand-in."""

from __future__ import annotations

import re

import pytest

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import StandIn

_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _examples() -> list[str]:
    doc = ChatModelsLab.__doc__ or ""
    blocks = []
    for raw in _BLOCK.findall(doc):
        lines = raw.splitlines()
        indent = min(len(x) - len(x.lstrip()) for x in lines if x.strip())
        blocks.append("\n".join(x[indent:] for x in lines))
    return blocks


def test_docstring_has_the_partner_sections() -> None:
    doc = ChatModelsLab.__doc__ or ""
    for section in (
        "Setup:",
        "Key init args",
        "Instantiate:",
        "Invoke:",
        "Stream:",
        "Async:",
        "Tool calling:",
        "Structured output:",
        "Token usage:",
    ):
        assert section in doc
    assert len(_examples()) >= 9


def test_docstring_examples_run(standin_env: StandIn, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    for source in _examples():
        code = compile(source, "<ChatModelsLab docstring>", "exec", dont_inherit=True)
        exec(code, namespace)
    out = capsys.readouterr().out
    assert "You said: I love programming." in out
    assert "GetPopulation" in out
    assert "setup=" in out
    assert "meta-llama-llama-3.2-3b-instruct" in out
    assert len(standin_env.requests) >= 15
