"""The support matrix: the stand-in suites on the lowest and the newest allowed dependencies.

Python 3.10 (the oldest we support), uv's ``lowest-direct`` resolution (our direct
dependencies at their lower bounds, what they need at its newest that fits):

- ``lowest-core``: the core with ``[aiohttp,redis]`` (httpx, pydantic, httpx-aiohttp, redis at
  their floors), ``tests/core``; importing the core must raise no warning.
- ``lowest-langchain``: the ``[langchain]`` extra alone (llama-index-core would lift pydantic
  above the LangChain floor), ``tests/langchain``.
- ``lowest``: every extra together, every other stand-in suite.

Python 3.13 (the newest the frameworks support), newest versions:

- ``newest``: every extra, every stand-in suite.

Each session resolves the package first, then a test dependency group on top at its newest
that fits (constrained by the first resolution), so the versions under test are the
package's, not the test tools'; ``TEST_FLOORS`` are the only floors the test tools impose.
The lock is kept under ``~/.cache/modelslab-integrations/matrix/<checkout>/<session>/``, keyed by
``pyproject.toml``, the session's choices and the day (a new day resolves again, so new releases
reach ``newest`` by themselves; a warm run needs no network), and the venv
(``matrix/<checkout>/venvs/<session>``) is synced only when the lock changed, so a run with warm caches
spends its time in the tests. ``make matrix`` (part of ``make test``) runs every session;
``.venv/bin/nox -s lowest`` one, and arguments after ``--`` go to pytest.

Interpreters come from pyenv (``~/.pyenv/versions/3.10.*``) or PATH (``python3.10``), each
asked for its version; a missing one is an error that says so, never a skipped session.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import nox
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
PYTEST = (
    "-m", "not real_model", "-p", "no:cacheprovider", "-q", "-n", "2",
    *(f"--deselect={test}" for test in SLOW),
)  # fmt: skip

os.environ.setdefault("UV_CACHE_DIR", str(CACHE / "uv"))
os.environ.setdefault(
    "UV_PYTHON_DOWNLOADS", "never"
)  # the interpreters are found here, not fetched
nox.options.default_venv_backend = "uv"
nox.options.envdir = str(MATRIX / "venvs")
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lowest-core", "lowest-langchain", "lowest", "newest"]
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


def _compile(session: nox.Session, out: Path, *args: str) -> None:
    """``uv pip compile`` for this session's interpreter, quietly, into ``out``."""
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    session.run(
        UV, "pip", "compile", "-q", "--python", python, "--no-header", "-o", str(out), *args,
        external=True, silent=True,
    )  # fmt: skip


def install(
    session: nox.Session,
    resolution: str,
    extras: tuple[str, ...],
    group: str,
    floors: tuple[str, ...] = (),
) -> None:
    """Resolve the package with ``extras`` (``resolution``; ``floors`` are constraints the test
    tools impose), then ``group`` on top at its newest that fits; sync the venv when that lock
    changed."""
    work = MATRIX / session.name
    work.mkdir(parents=True, exist_ok=True)
    package, lock, floor = work / "package.txt", work / "lock.txt", work / "floors.txt"
    asked = "\n".join([(ROOT / "pyproject.toml").read_text(), resolution, group, *extras, *floors])
    key = hashlib.sha256(f"{asked}\n{date.today()}".encode()).hexdigest()  # a day: resolve again
    keyfile = work / "lock.key"
    if not lock.exists() or not keyfile.exists() or keyfile.read_text() != key:
        floor.write_text("".join(f"{line}\n" for line in floors))
        wanted = [f"--extra={extra}" for extra in extras]
        _compile(
            session,
            package,
            "pyproject.toml",
            *wanted,
            f"--resolution={resolution}",
            "-c",
            str(floor),
        )
        _compile(session, lock, str(package), f"--group=pyproject.toml:{group}", "-c", str(package))
        keyfile.write_text(key)
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = Path(session.virtualenv.location) / ".matrix-lock"
    if not stamp.exists() or stamp.read_text() != digest:
        session.run(UV, "pip", "sync", "-q", str(lock), external=True)
        session.run(UV, "pip", "install", "-q", "--no-deps", "-e", ".", external=True)
        stamp.write_text(digest)
    session.run("python", "scripts/versions.py")


@nox.session(python=interpreter("3.10"))
def lowest(session: nox.Session) -> None:
    """The stand-in suites the two sessions above leave out, on Python 3.10 with the lowest
    allowed dependencies of the package and every extra together."""
    install(session, "lowest-direct", EXTRAS, "test", TEST_FLOORS)
    others = ["tests", "--ignore=tests/core", "--ignore=tests/langchain"]
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or others))


@nox.session(name="lowest-core", python=interpreter("3.10"))
def lowest_core(session: nox.Session) -> None:
    """The core's suite on Python 3.10 with the core alone at its lowest dependencies (no
    extra: the frameworks would raise pydantic and httpx above the core's own bounds)."""
    install(session, "lowest-direct", ("aiohttp", "redis"), "test-core")
    session.run("python", "-W", "error", "-c", "import modelslab_core, modelslab_core.testing")
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or ["tests/core"]))


@nox.session(name="lowest-langchain", python=interpreter("3.10"))
def lowest_langchain(session: nox.Session) -> None:
    """The LangChain suite on Python 3.10 with the ``langchain`` extra alone at its lowest
    (llama-index-core would raise pydantic to 2.11.5, above the LangChain extra's floor)."""
    install(session, "lowest-direct", ("langchain",), "test", TEST_FLOORS)
    session.run("python", "-m", "pytest", *PYTEST, *(session.posargs or ["tests/langchain"]))


@nox.session(python=interpreter("3.13"))
def newest(session: nox.Session) -> None:
    """The stand-in suites on Python 3.13 with the newest dependencies."""
    install(session, "highest", EXTRAS, "test")
    session.run("python", "-m", "pytest", *PYTEST, *session.posargs)
