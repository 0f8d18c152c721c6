"""The sdist and wheel a release would ship: built, checked, installed and imported.

Builds both with ``uv build`` (the wheel from the sdist, so the sdist alone must build it),
runs ``twine check --strict``, reads what each archive holds (the LICENSE, each package's
``py.typed``, the metadata a package index shows; no benchmark results or dev tooling in the
sdist), then installs the wheel with ``[all]`` into a fresh venv and imports the three packages
from a directory outside the source tree. uv's cache is used (the project's, as the Makefile
sets it); what is not cached comes from the package index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from email.parser import HeaderParser
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("modelslab_core", "langchain_modelslab", "llama_index_modelslab")
SDIST_TOP = {"modelslab_core", "langchain_modelslab", "llama_index_modelslab", "tests",
             "notebooks", "scripts", "README.md", "ARCHITECTURE.md", "LICENSE",
             "pyproject.toml", "PKG-INFO", ".gitignore"}  # fmt: skip
"""Everything the sdist may hold at its top level: what builds the wheel and runs its tests."""


def _uv() -> str:
    """The uv of this environment (the dev group installs it), else the one on PATH."""
    local = Path(sys.executable).with_name("uv")
    found = str(local) if local.is_file() else shutil.which("uv")
    assert found, "uv is needed to build the package (the dev group installs it: make venv)"
    return found


def _run(*cmd: str, cwd: Path) -> str:
    env = dict(os.environ)
    env.setdefault("UV_CACHE_DIR", str(Path.home() / ".cache" / "modelslab-integrations" / "uv"))
    env["UV_PYTHON_DOWNLOADS"] = "never"
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=500)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(sdist, wheel), built once for this module into a temporary directory."""
    out = tmp_path_factory.mktemp("dist")
    _run(_uv(), "build", "--quiet", "--out-dir", str(out), str(ROOT), cwd=out)
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in out.iterdir())
    yield sdists[0], wheels[0]


def test_twine_check_passes(dist: tuple[Path, Path]) -> None:
    sdist, wheel = dist
    out = _run(sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel), cwd=sdist.parent)  # fmt: skip
    assert out.count("PASSED") == 2, out


def test_wheel_has_license_typing_markers_and_metadata(dist: tuple[Path, Path]) -> None:
    _, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = HeaderParser().parsestr(archive.read(f"{info}/METADATA").decode())
        license_text = archive.read(f"{info}/licenses/LICENSE").decode()
    assert {f"{package}/py.typed" for package in PACKAGES} <= names
    assert {n.split("/")[0] for n in names} == {*PACKAGES, info}
    assert "modelslab_core/data/models.json" in names
    assert license_text.startswith("MIT License")
    assert "ModelsLab integrations contributors" in license_text
    assert metadata["License-Expression"] == "MIT"
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL", []))
    assert urls["Homepage"] == "https://modelslab.com"
    assert {"Documentation", "Repository", "Issues"} <= urls.keys()
    extras = set(metadata.get_all("Provides-Extra", []))
    assert extras == {"all", "langchain", "llama-index", "aiohttp", "redis"}


def test_sdist_holds_the_sources_and_tests_only(dist: tuple[Path, Path]) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        names = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
    top = {name.split("/")[0] for name in names}
    assert top <= SDIST_TOP, top - SDIST_TOP
    assert {"LICENSE", "tests", "modelslab_core", "pyproject.toml"} <= top
    assert not [n for n in names if n.startswith("benchmarks/") or "/results/" in n]
    junk = [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "checkpoint" in n]
    assert junk == []


def test_wheel_installs_with_all_extras_and_imports_outside_the_tree(
    dist: tuple[Path, Path], tmp_path: Path
) -> None:
    _, wheel = dist
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    _run(_uv(), "venv", "--quiet", "--python", sys.executable, str(venv), cwd=tmp_path)
    _run(_uv(), "pip", "install", "--quiet", "--python", python, f"{wheel}[all]", cwd=tmp_path)
    _run(_uv(), "pip", "check", "--python", python, cwd=tmp_path)
    probe = (
        "import importlib, json\n"
        f"mods = [importlib.import_module(n) for n in {PACKAGES!r}]\n"
        "import redis, httpx_aiohttp\n"  # the [all] extras: redis, aiohttp
        "from langchain_modelslab import ChatModelsLab\n"
        "from llama_index_modelslab import ModelsLab\n"
        "print(json.dumps([m.__file__ for m in mods]))\n"
    )
    out = _run(python, "-I", "-c", probe, cwd=tmp_path)
    files = [Path(f) for f in json.loads(out)]
    for path in files:
        assert venv in path.parents and "site-packages" in path.parts, path
        assert ROOT not in path.parents, path
