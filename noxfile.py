"""The support matrix: the stand-in suites on the lowest allowed and on the locked dependencies.

Every session installs from a committed lock, so a fresh clone tests exactly what the last
green run tested (``make matrix``, part of ``make test``):

- ``lowest-core`` (Python 3.10): the core with ``[aiohttp,redis]`` at their floors (uv's
  ``lowest-direct``: our direct dependencies at their lower bounds), ``tests/core``; importing
  the core must raise no warning.
- ``lowest-langchain`` (3.10): the ``[langchain]`` extra alone (llama-index-core would lift
  pydantic above the LangChain floor), ``tests/langchain``.
- ``lowest`` (3.10): every extra together, every other stand-in suite.
- ``locked`` (3.13, the newest Python the frameworks support): ``uv.lock`` (the versions the
  main ``.venv`` has), every stand-in suite.

The three lowest sessions' locks are ``locks/<session>.txt``: the package resolved first, then
a test dependency group on top (constrained by the first resolution), so the versions under
test are the package's, not the test tools'; ``TEST_FLOORS`` are the only floors the test tools
impose. Each lock's first line is a key of what it was resolved from (the dependencies in
``pyproject.toml`` and the session's choices): a stale lock is an error that says to run
``make lock``, never a silent resolve.

Not in the default run: ``newest`` (3.13), every extra resolved at its newest today, for
upgrades (``make newest``); ``lock`` re-resolves the lowest locks, keeping their pins where they
still fit (``--upgrade`` in the posargs takes the newest transitive versions). ``make upgrade``
runs both lock steps with upgrades, then the suites.

Venvs and uv's cache live in ``~/.cache/modelslab-integrations/matrix/`` and a venv is synced
only when its lock changed. Interpreters come from pyenv (``~/.pyenv/versions/3.10.*``) or PATH
(``python3.10``), each asked for its version; a missing one is an error that says so, never a
skipped session.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import nox
import tomllib
from nox.virtualenv import find_uv

CACHE = Path(
    os.environ.get("MODELSLAB_CACHE_DIR", Path.home() / ".cache" / "modelslab-integrations")
)
ROOT = Path(__file__).resolve().parent
# One matrix per checkout: its venvs hold this checkout as an editable install.
MATRIX = CACHE / "matrix" / hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
EXTRAS = ("all", "aiohttp", "redis")
UV = find_uv()[1]
# langchain-tests (the standard suites) needs httpx 0.28.1; the core's own httpx floor is
# tested by ``lowest-core``.
TEST_FLOORS = ("httpx>=0.28.1",)
# The slowest stress tests and worked examples (processes, thousands of requests, a notebook
# script; 20-40 s each) run in the full suite on the default Python, not here: they exercise
# our own concurrency, not the dependencies' APIs, and the matrix must fit CI's time.
SLOW = (
    "tests/limits/test_example.py",
    "tests/test_cost_example.py",
    "tests/reliability/test_load.py::test_2000_async_requests_at_concurrency_100_leak_nothing",
    "tests/reliability/test_secrets.py::test_process_pool_runs_every_layer",
    "tests/limits/test_lease_scripts.py::test_lease_scripts_match_the_model",
    "tests/limits/test_shared_limit.py::test_four_processes_share_one_account_limit",
    "tests/limits/test_redis_limiter.py::test_stress_many_processes_threads_and_tasks",
    # A wall-clock bound (0.15 s timeouts, 1.65 s allowed): twice over it (1.70 s, 1.94 s) on
    # two workers beside the real-model tests of another checkout; the full suite keeps it.
    "tests/reliability/test_fault_matrix.py::test_stall_after_output_is_a_timeout_not_a_replay",
)
# tests/test_packaging.py (marker packaging) builds and installs the package itself with the
# dev group's tools: it runs once, in the full suite.
PYTEST = ("-m", "not real_model and not packaging", "-p", "no:cacheprovider", "-q", "-n", "2")
PYTEST += tuple(f"--deselect={test}" for test in SLOW)
LOCKS = ROOT / "locks"
# The lowest sessions: name -> (extras, test dependency group, floors of the test tools).
LOWEST: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "lowest-core": (("aiohttp", "redis"), "test-core", ()),
    "lowest-langchain": (("langchain",), "test", TEST_FLOORS),
    "lowest": (EXTRAS, "test", TEST_FLOORS),
}

os.environ.setdefault("UV_CACHE_DIR", str(CACHE / "uv"))
os.environ.setdefault(
    "UV_PYTHON_DOWNLOADS", "never"
)  # the interpreters are found here, not fetched
nox.options.default_venv_backend = "uv"
nox.options.envdir = str(MATRIX / "venvs")
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lowest-core", "lowest-langchain", "lowest", "locked"]
nox.options.error_on_missing_interpreters = True


def interpreter(version: str) -> str:
    """The path of a working Python ``version`` interpreter here, or a clear error.

    pyenv's versions first: its ``python3.10`` shim exists on PATH but fails unless that
    version is selected, so each candidate is asked for its version before it is used.
    """
    pyenv = sorted(glob.glob(str(Path.home() / f".pyenv/versions/{version}.*/bin/python")))
    on_path = [found] if (found := shutil.which(f"python{version}")) else []
    ask = "import sys; print('%d.%d' % sys.version_info[:2])"
    for path in pyenv[::-1] + on_path:
        run = subprocess.run([path, "-c", ask], capture_output=True, text=True, check=False)
        if run.returncode == 0 and run.stdout.strip() == version:
            return path
    raise SystemExit(
        f"noxfile.py: no working Python {version} found (looked in ~/.pyenv/versions/"
        f"{version}.* and for python{version} on PATH): install Python {version} to run the matrix"
    )


def _uv(session: nox.Session, *args: str) -> None:
    """Run uv quietly (its output only when it fails)."""
    session.run(UV, *args, external=True, silent=True)


def _python(session: nox.Session) -> str:
    return str(Path(session.virtualenv.location) / "bin" / "python")


def _group(groups: dict[str, list[Any]], name: str) -> list[str]:
    """The requirements of dependency group ``name``, its included groups expanded."""
    found: list[str] = []
    for item in groups[name]:
        found += _group(groups, item["include-group"]) if isinstance(item, dict) else [item]
    return found


def lock_key(name: str) -> str:
    """What the lock of session ``name`` is resolved from: the package's dependencies, the
    session's extras and floors, and its test group's requirements (no other group's)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras, group, floors = LOWEST[name]
    asked = {
        "python": project["project"]["requires-python"],
        "dependencies": project["project"]["dependencies"],
        "extras": project["project"]["optional-dependencies"],
        "group": _group(project["dependency-groups"], group),
        "session": [name, list(extras), group, list(floors)],
    }
    digest = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:16]
    return f"# lock key {digest}: make lock writes this file (noxfile.py)"


def _resolve(session: nox.Session, name: str, upgrade: bool) -> None:
    """Write ``locks/<name>.txt`` for this session's interpreter, keeping the pins of the one
    there unless ``upgrade``."""
    extras, group, floors = LOWEST[name]
    work = MATRIX / "resolve" / name
    work.mkdir(parents=True, exist_ok=True)
    package, floor, lock = work / "package.txt", work / "floors.txt", LOCKS / f"{name}.txt"
    floor.write_text("".join(f"{line}\n" for line in floors))
    common = ["pip", "compile", "-q", "--python", _python(session), "--no-header", "--no-annotate"]
    common += ["--upgrade"] if upgrade else []
    if lock.exists() and not upgrade:
        shutil.copy(lock, package)  # the old pins are the preferences of both steps
    _uv(
        session,
        *common,
        "pyproject.toml",
        *(f"--extra={e}" for e in extras),
        "--resolution=lowest-direct",
        "-c",
        str(floor),
        "-o",
        str(package),
    )
    out = work / "lock.txt"
    if lock.exists() and not upgrade:
        shutil.copy(lock, out)
    _uv(
        session,
        *common,
        str(package),
        f"--group=pyproject.toml:{group}",
        "-c",
        str(package),
        "-o",
        str(out),
    )
    LOCKS.mkdir(exist_ok=True)
    lock.write_text(f"{lock_key(name)}\n{out.read_text()}")


def _sync(session: nox.Session, lock: Path) -> None:
    """Make the venv exactly ``lock`` (only when the lock changed since the last sync)."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".matrix-lock"
    if not stamp.exists() or stamp.read_text() != digest:
        _uv(session, "pip", "sync", "-q", "--python", _python(session), str(lock))
        _uv(session, "pip", "install", "-q", "--python", _python(session), "--no-deps", "-e", ".")
        stamp.write_text(digest)
    session.run("python", "scripts/versions.py")


def install_lowest(session: nox.Session) -> None:
    """Sync the venv from this session's committed lock; a lock that no longer matches
    ``pyproject.toml`` is an error, never a silent resolve."""
    lock = LOCKS / f"{session.name}.txt"
    if not lock.exists() or lock.read_text().splitlines()[0] != lock_key(session.name):
        session.error(f"{lock.relative_to(ROOT)} is missing or stale: run `make lock`")
    _sync(session, lock)


@nox.session(python=interpreter("3.10"))
def lowest(session: nox.Session) -> None:
    """The stand-in suites the two sessions below leave out, on Python 3.10 with the lowest
    allowed dependencies of the package and every extra together."""
    install_lowest(session)
    others = ["tests", "--ignore=tests/core", "--ignore=tests/langchain"]
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or others))


@nox.session(name="lowest-core", python=interpreter("3.10"))
def lowest_core(session: nox.Session) -> None:
    """The core's suite on Python 3.10 with the core alone at its lowest dependencies (no
    extra: the frameworks would raise pydantic and httpx above the core's own bounds)."""
    install_lowest(session)
    session.run("python", "-W", "error", "-c", "import modelslab_core, modelslab_core.testing")
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or ["tests/core"]))


@nox.session(name="lowest-langchain", python=interpreter("3.10"))
def lowest_langchain(session: nox.Session) -> None:
    """The LangChain suite on Python 3.10 with the ``langchain`` extra alone at its lowest
    (llama-index-core would raise pydantic to 2.11.5, above the LangChain extra's floor)."""
    install_lowest(session)
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or ["tests/langchain"]))


@nox.session(python=interpreter("3.13"))
def locked(session: nox.Session) -> None:
    """The stand-in suites on Python 3.13 with the versions of ``uv.lock``."""
    lock = Path(session.virtualenv.location) / "uv-lock.txt"
    _uv(
        session,
        "export",
        "--locked",
        "-q",
        "--no-hashes",
        "--no-emit-project",
        "--extra=all",
        "--no-default-groups",
        "--group=test",
        "--python",
        _python(session),
        "-o",
        str(lock),
    )
    _sync(session, lock)
    session.run("python", "-m", "pytest", *PYTEST, *session.posargs)


@nox.session(python=interpreter("3.13"), default=False)
def newest(session: nox.Session) -> None:
    """For upgrades: the stand-in suites on Python 3.13 with every extra resolved at its
    newest today (``make newest``)."""
    lock = Path(session.virtualenv.location) / "newest.txt"
    package = Path(session.virtualenv.location) / "package.txt"
    common = ["pip", "compile", "-q", "--python", _python(session), "--no-header", "--upgrade"]
    _uv(session, *common, "pyproject.toml", *(f"--extra={e}" for e in EXTRAS), "-o", str(package))
    _uv(
        session,
        *common,
        str(package),
        "--group=pyproject.toml:test",
        "-c",
        str(package),
        "-o",
        str(lock),
    )
    _sync(session, lock)
    session.run("python", "-m", "pytest", *PYTEST, *session.posargs)


@nox.session(python=interpreter("3.10"), default=False)
def lock(session: nox.Session) -> None:
    """Write the lowest sessions' locks (``make lock``; ``-- --upgrade`` re-resolves the
    transitive versions too, as ``make upgrade`` does)."""
    for name in LOWEST:
        _resolve(session, name, upgrade="--upgrade" in session.posargs)
