"""The layout rules of the three packages, checked on their source.

- No module over 400 lines, no function over 60.
- The core imports no framework; the adapters import only the core's public modules.
- Every fast path names, in its docstring, each private name of a framework (or of pydantic)
  it relies on, and each of those names still exists: a framework that renames or removes
  one fails here, loudly, instead of silently sending every call down the slow path.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("modelslab_core", "langchain_modelslab", "llama_index_modelslab")
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))
FAST_PATHS = (
    "langchain_modelslab._fast_path",
    "llama_index_modelslab._fast_path",
    "modelslab_core.construct",
)
_RELIED_ON = re.compile(r"^- ``([\w.]+)``", re.M)


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _imports(path: Path) -> list[str]:
    """The absolute module names ``path`` imports."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_small_modules_and_functions(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) <= 400, f"{_rel(path)} has over 400 lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 60, f"{_rel(path)}: {node.name} has {length} lines"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_imports_follow_the_layers(path: Path) -> None:
    imported = _imports(path)
    if path.relative_to(ROOT).parts[0] == "modelslab_core":
        framework = [n for n in imported if n.split(".")[0] in ("langchain_core", "llama_index")]
        assert not framework, f"the core imports a framework: {framework}"
        return
    core = [n.split(".")[1:] for n in imported if n.startswith("modelslab_core.")]
    private = [".".join(parts) for parts in core if any(p.startswith("_") for p in parts)]
    assert not private, f"{_rel(path)} imports private core modules: {private}"


def _resolve(dotted: str) -> Any:
    """The object a dotted name names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("module", FAST_PATHS)
def test_fast_paths_name_what_they_rely_on_and_it_exists(module: str) -> None:
    mod = importlib.import_module(module)
    names = _RELIED_ON.findall(mod.__doc__ or "")
    assert names, f"{module}'s docstring names no private name it relies on"
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name} ({exc})")
    assert not missing, f"{module} relies on names that are gone: {missing}"
    assert getattr(mod, "AVAILABLE", True), f"{module}'s fast path is switched off"
