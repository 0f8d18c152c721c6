"""The layout rules of the three packages, checked on their source.

- No module over 400 lines, no function over 60, no formatter switched off (``fmt: skip``/``off``).
- The core is laid out by concern: at most 16 modules at its top level, the rest in
  subpackages that say what they hold, and no import cycle between its modules (deferred
  imports included: a cycle at call time is a cycle).
- The core imports no framework; the adapters import only the core's public modules (its top
  level, ``cost``, ``dialects`` and ``testing``; never ``transport`` or ``limits`` internals).
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
    "langchain_modelslab._chunks",
    "langchain_modelslab._fast_invoke",
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
def test_the_formatter_is_never_switched_off(path: Path) -> None:
    marks = re.findall(r"#\s*fmt:\s*(?:skip|off)\b", path.read_text())
    assert not marks, f"{_rel(path)} switches the formatter off {len(marks)} times"


def test_the_core_top_level_stays_small() -> None:
    top = sorted(p.name for p in (ROOT / "modelslab_core").glob("*.py"))
    assert len(top) <= 16, f"{len(top)} modules at modelslab_core's top level: {top}"


def _core_module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _core_edges(path: Path) -> set[str]:
    """The core modules ``path`` imports, at import or call time (not under TYPE_CHECKING),
    with the packages that importing them initialises."""
    name = _core_module(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    hidden = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for n in ast.walk(child)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
            if node.level == 0:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    edges = set()
    for module in found:
        parts = module.split(".")
        for cut in range(2, len(parts) + 1):  # the package inits it runs, then the module
            target = ".".join(parts[:cut])
            if target in CORE_MODULES and not name.startswith(target + "."):
                edges.add(target)
    edges.discard(name)
    return edges


CORE_SOURCES = sorted((ROOT / "modelslab_core").rglob("*.py"))
CORE_MODULES = {_core_module(p) for p in CORE_SOURCES}


def test_the_core_has_no_import_cycle() -> None:
    graph = {_core_module(p): _core_edges(p) for p in CORE_SOURCES}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_imports_follow_the_layers(path: Path) -> None:
    imported = _imports(path)
    if path.relative_to(ROOT).parts[0] == "modelslab_core":
        framework = [n for n in imported if n.split(".")[0] in ("langchain_core", "llama_index")]
        assert not framework, f"the core imports a framework: {framework}"
        return
    core = [n.split(".")[1:] for n in imported if n.startswith("modelslab_core.")]
    private = [
        ".".join(parts)
        for parts in core
        if any(p.startswith("_") for p in parts) or parts[0] in ("transport", "limits")
    ]
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
