"""Who holds the shared local server: the lease logic of scripts/llama_server.py.

The server is shared by every run on the machine (the demo, the notebooks, the test sessions of
several checkouts); its state file counts who holds it, and ``stop`` stops it only when nobody
else does. These tests drive the script's own functions on state dicts and real processes (a
child that still runs, one that has exited); tests/real/test_server_leases.py drives the script
itself on a real server.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "llama_server.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llama_server_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ls = _load()


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A process that runs for the whole test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    """A process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def fresh() -> dict[str, Any]:
    """The state ``start`` writes for a server it just started, before any hold."""
    return {"pid": 1, "leases": [], "manual": False}


def test_a_lease_lives_as_long_as_its_process(live_pid: int, dead_pid: int) -> None:
    assert ls.lease_is_live(ls.lease_for(live_pid))
    assert ls.lease_is_live(ls.lease_for(os.getpid()))
    assert not ls.lease_is_live({"pid": dead_pid, "started": "1"})
    with pytest.raises(ls.ToolError, match=f"no process {dead_pid}"):
        ls.lease_for(dead_pid)


def test_a_reused_pid_is_not_the_lease_holder(live_pid: int) -> None:
    """Same PID, another start time: another process that got the number."""
    lease = ls.lease_for(live_pid)
    assert not ls.lease_is_live({**lease, "started": str(int(lease["started"]) + 1)})


def test_two_users_one_releases_the_other_still_holds(live_pid: int) -> None:
    me = os.getpid()
    state = ls.acquire(ls.acquire(fresh(), live_pid), me)
    assert ls.holders(state) == [f"pid {live_pid}", f"pid {me}"]
    state, had = ls.release(state, live_pid)
    assert had and ls.holders(state) == [f"pid {me}"]
    state, had = ls.release(state, me)
    assert had and ls.holders(state) == []


def test_acquiring_twice_is_one_lease(live_pid: int) -> None:
    state = ls.acquire(ls.acquire(fresh(), live_pid), live_pid)
    assert [lease["pid"] for lease in state["leases"]] == [live_pid]


def test_a_crashed_users_lease_no_longer_counts(live_pid: int) -> None:
    crashed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    state = ls.acquire(ls.acquire(fresh(), live_pid), crashed.pid)
    crashed.kill()
    crashed.wait()
    assert ls.holders(state) == [f"pid {live_pid}"]
    assert [lease["pid"] for lease in ls.holds(state)["leases"]] == [live_pid]


def test_a_plain_start_holds_until_a_plain_stop(live_pid: int) -> None:
    state = ls.acquire(ls.acquire(fresh(), None), live_pid)
    state, _ = ls.release(state, live_pid)
    assert ls.holders(state) == ["a plain `start`"]
    state, had = ls.release(state, None)
    assert had and ls.holders(state) == []


def test_a_release_by_a_process_that_held_nothing_changes_nothing(live_pid: int) -> None:
    state = ls.acquire(fresh(), live_pid)
    after, had = ls.release(state, os.getpid())
    assert not had and ls.holders(after) == ls.holders(state) == [f"pid {live_pid}"]


def test_a_state_from_before_leases_counts_as_held_by_a_plain_start() -> None:
    """Its users are unknown: only a plain ``stop`` (as before) lets go of it."""
    legacy = {"pid": 1, "base_url": "http://127.0.0.1:1/api/v7/llm"}
    assert ls.holders(legacy) == ["a plain `start`"]
    after, had = ls.release(legacy, os.getpid())
    assert not had and ls.holders(after) == ["a plain `start`"]


def test_stop_when_nothing_runs_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "MODELSLAB_CACHE": str(tmp_path)}
    cmd = [sys.executable, str(SCRIPT), "stop", "--json", "--lease", str(os.getpid())]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == '{"running": false, "stopped": false, "holders": []}'
