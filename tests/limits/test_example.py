"""The worked example in notebooks/ runs as users would run it: a process pool sharing one
account limit through Redis, against the stand-in with ModelsLab's queue limit on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "notebooks" / "shared_limit_batch.py"


def test_the_shared_limit_batch_example(redis_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELSLAB_")}
    env["MODELSLAB_IN_FLIGHT_URL"] = redis_url  # the only setting the workers get
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--workers", "4", "--items", "80"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "processes:  4" in out
    assert "answers:    80 of 80" in out
    assert "rejections: 0" in out
    assert "server saw at most 5 in flight" in out
    waited = re.search(r"waited:\s+(\d+) requests waited", out)
    assert waited is not None and int(waited.group(1)) > 0  # the limit was actually hit
    assert re.search(r"throughput: [\d.]+ requests/s", out)
