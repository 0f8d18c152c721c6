"""The benchmark's own virtual environment: created once per requirements hash, then reused."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["REPO", "ensure_venv", "venv_dir"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelslab-integrations"


def _checkout() -> str:
    """This checkout's tag: its venv installs this checkout (editable), not another's."""
    return hashlib.sha256(str(REPO).encode()).hexdigest()[:8]


def venv_dir() -> Path:
    """``bench-venv-<checkout>-<hash>``: one per checkout; the hash covers requirements.txt,
    pyproject.toml and Python."""
    h = hashlib.sha256()
    for name in (HERE / "requirements.txt", REPO / "pyproject.toml"):
        h.update(name.read_bytes())
    h.update(sys.version.split()[0].encode())
    return CACHE / f"bench-venv-{_checkout()}-{h.hexdigest()[:12]}"


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(log: bool = True) -> Path:
    """The bench venv's python, creating the venv first when missing (about half a minute).

    A half-built venv (no ``.complete`` marker) is rebuilt; a lock file keeps two runs
    from building it at once.
    """
    venv = venv_dir()
    marker = venv / ".complete"
    if marker.exists():
        return _python(venv)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / (venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return _python(venv)
        t0 = time.perf_counter()
        if log:
            print(f"creating the benchmark venv {venv} ...", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(_python(venv)), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        reqs = ["-r", str(HERE / "requirements.txt"), "-e", f"{REPO}[all,aiohttp]"]
        subprocess.run([*pip, *reqs], check=True)
        marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
        for old in CACHE.glob(f"bench-venv-{_checkout()}-*"):  # this checkout's superseded ones
            if old.is_dir() and old != venv:
                shutil.rmtree(old, ignore_errors=True)
        if log:
            print(f"benchmark venv ready in {time.perf_counter() - t0:.0f}s", flush=True)
    return _python(venv)
