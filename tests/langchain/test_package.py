"""Package surface: exports, and a clear error when the LangChain extra is missing."""

from __future__ import annotations

import subprocess
import sys

import langchain_modelslab


def test_all_exports_resolve() -> None:
    for name in langchain_modelslab.__all__:
        assert getattr(langchain_modelslab, name) is not None


def test_import_without_langchain_core_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "try:\n"
        "    import langchain_modelslab\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert 'pip install "modelslab-integrations[langchain]"' in out
