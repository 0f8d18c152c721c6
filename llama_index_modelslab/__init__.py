"""LlamaIndex integration for ModelsLab's LLM API: ``from llama_index_modelslab import ModelsLab``.

Needs the ``llama-index`` extra: ``pip install "modelslab-integrations[llama-index]"``.
"""

from __future__ import annotations

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "llama_index_modelslab needs llama-index-core: "
        'pip install "modelslab-integrations[llama-index]"'
    ) from exc

from modelslab_core import BudgetExceededError, Cost, ModelPricing

from ._structured import NoToolCallError
from .base import ModelsLab
from .callbacks import ModelsLabCostHandler, response_cost, track_costs

__all__ = [
    "BudgetExceededError",
    "Cost",
    "ModelPricing",
    "ModelsLab",
    "ModelsLabCostHandler",
    "NoToolCallError",
    "response_cost",
    "track_costs",
]
