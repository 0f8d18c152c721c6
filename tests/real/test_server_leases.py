"""A shared local server is never stopped under another run: scripts/llama_server.py itself.

Runs the real script on a real llama-server, in a cache of its own (``MODELSLAB_CACHE`` in a
temporary directory whose build and model are the machine's cached ones, linked): its own run
directory and state file, so the server every other run on this machine shares is never
touched. "Users" are real processes holding leases; one is killed to play a crashed run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "llama_server.py"
SHARED_CACHE = Path(
    os.environ.get("MODELSLAB_CACHE") or Path.home() / ".cache" / "modelslab-integrations"
)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    """A cache of its own with the machine's build and model linked in; whatever server is
    still running from it at the end is stopped (``--force``: only this test used it)."""
    for part in ("llama-server", "model"):
        if not (SHARED_CACHE / part).is_dir():
            pytest.fail(f"no {part} in {SHARED_CACHE}: run `make real-server` first")
        (tmp_path / part).symlink_to(SHARED_CACHE / part, target_is_directory=True)
    yield tmp_path
    script(tmp_path, "stop", "--force")


def script(cache: Path, *args: str) -> dict[str, Any]:
    """Run the script on ``cache``; its JSON output."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--json"],
        env={**os.environ, "MODELSLAB_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def user() -> subprocess.Popen[bytes]:
    """A run that holds the server while it lives."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])


def alive(pid: int) -> bool:
    try:
        return b"llama-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def shared_server_pids() -> set[int]:
    """The servers the machine's shared cache knows of (never to be stopped here)."""
    pids = set()
    for path in (SHARED_CACHE / "run").glob("llama-server-*.json"):
        try:
            pids.add(int(json.loads(path.read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            continue
    return pids


def test_the_server_stops_only_when_its_last_holder_lets_go(cache: Path) -> None:
    shared_before = {pid for pid in shared_server_pids() if alive(pid)}
    a, b, crashed = user(), user(), user()
    try:
        first = script(cache, "start", "--lease", str(a.pid))
        assert first["started"] is True
        server = int(first["pid"])
        assert server not in shared_before and alive(server)

        second = script(cache, "start", "--lease", str(b.pid))
        assert second["started"] is False and second["pid"] == server

        # one of two users lets go: the other still uses it
        released = script(cache, "stop", "--lease", str(a.pid))
        assert released == {"running": True, "stopped": False, "holders": [f"pid {b.pid}"]}
        assert alive(server)
        assert script(cache, "status")["pid"] == server

        # a plain start (someone at a terminal) and a run that then crashes
        assert script(cache, "start")["pid"] == server
        assert script(cache, "start", "--lease", str(crashed.pid))["pid"] == server
        crashed.kill()
        crashed.wait()

        # a release by a process that holds nothing changes nothing
        assert script(cache, "stop", "--lease", str(os.getpid()))["stopped"] is False
        released = script(cache, "stop", "--lease", str(b.pid))
        assert released == {"running": True, "stopped": False, "holders": ["a plain `start`"]}
        assert alive(server)

        # the last live holder lets go (the crashed run's lease no longer counts): it stops
        assert script(cache, "stop") == {"running": True, "stopped": True, "holders": []}
        assert not alive(server)
        assert not list((cache / "run").glob("llama-server-*.json"))
    finally:
        for proc in (a, b, crashed):
            proc.kill()
            proc.wait()
    assert {pid for pid in shared_before if alive(pid)} == shared_before
