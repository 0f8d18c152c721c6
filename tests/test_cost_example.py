"""The runnable example ``notebooks/cost_and_budget.py`` against the stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelslab_core.testing import StandIn

EXAMPLE = Path(__file__).resolve().parents[1] / "notebooks" / "cost_and_budget.py"


def test_cost_and_budget_example(standin: StandIn) -> None:
    env = {
        **os.environ,
        "MODELSLAB_API_KEY": standin.api_key,
        "MODELSLAB_BASE_URL": standin.base_url,
    }
    env.pop("MODELSLAB_MODEL", None)
    env.pop("MODELSLAB_MODEL_CATALOG", None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "LangChain profile: {'name': 'Llama 3.2 3B Instruct', 'max_input_tokens': 128000" in out
    assert "Price: $0.051 / 1M input tokens, $0.34 / 1M output tokens" in out
    assert "cost $0.000002006 (input $0.000000306, output $0.0000017)" in out
    assert "Agent stopped: Budget exceeded:" in out and "FunctionAgent stopped:" in out
    assert out.rstrip().endswith("All steps passed.")
    # One call, then each agent's first turn; neither agent's second turn reached the server.
    assert len(standin.requests) == 4
