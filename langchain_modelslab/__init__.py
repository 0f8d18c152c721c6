"""LangChain integration for ModelsLab's LLM API: `ChatModelsLab`, its typed errors, costs and budgets."""

from __future__ import annotations

try:
    # langchain-core's chat models first: importing langchain_core.callbacks before them (as
    # isort orders our modules' imports) costs ~80 ms more CPU for the same set of modules.
    import langchain_core.language_models.chat_models  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        'langchain_modelslab needs langchain-core: pip install "modelslab-integrations[langchain]"'
    ) from exc

from modelslab_core import BudgetExceededError, Cost, ModelPricing, __version__
from modelslab_core.types import ModelInfo

from . import _errors
from ._errors import *  # noqa: F403 - the LangChain-facing errors (_errors.__all__)
from ._profile import message_cost
from .callbacks import ModelsLabCallback, get_modelslab_callback
from .chat_models import DEFAULT_MODEL, ChatModelsLab

__all__ = [
    "DEFAULT_MODEL",
    "BudgetExceededError",
    "ChatModelsLab",
    "Cost",
    "ModelInfo",
    "ModelPricing",
    "ModelsLabCallback",
    "__version__",
    "get_modelslab_callback",
    "message_cost",
]
__all__ += _errors.__all__
