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

from modelslab_core._version import __version__
from modelslab_core.budget import BudgetExceededError
from modelslab_core.pricing import Cost, ModelPricing
from modelslab_core.types import ModelInfo

from ._errors import (
    ModelsLabAPIError,
    ModelsLabAuthenticationError,
    ModelsLabBadRequestError,
    ModelsLabConflictError,
    ModelsLabConnectionError,
    ModelsLabContextOverflowError,
    ModelsLabInsufficientCreditsError,
    ModelsLabInternalServerError,
    ModelsLabNotFoundError,
    ModelsLabOverloadedError,
    ModelsLabPermissionDeniedError,
    ModelsLabProcessingError,
    ModelsLabRateLimitError,
    ModelsLabRequestTooLargeError,
    ModelsLabResponseValidationError,
    ModelsLabServiceUnavailableError,
    ModelsLabStatusError,
    ModelsLabStreamInterruptedError,
    ModelsLabStreamTimeoutError,
    ModelsLabTimeoutError,
    to_langchain_error,
)
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
    "ModelsLabAPIError",
    "ModelsLabAuthenticationError",
    "ModelsLabBadRequestError",
    "ModelsLabCallback",
    "ModelsLabConflictError",
    "ModelsLabConnectionError",
    "ModelsLabContextOverflowError",
    "ModelsLabInsufficientCreditsError",
    "ModelsLabInternalServerError",
    "ModelsLabNotFoundError",
    "ModelsLabOverloadedError",
    "ModelsLabPermissionDeniedError",
    "ModelsLabProcessingError",
    "ModelsLabRateLimitError",
    "ModelsLabRequestTooLargeError",
    "ModelsLabResponseValidationError",
    "ModelsLabServiceUnavailableError",
    "ModelsLabStatusError",
    "ModelsLabStreamInterruptedError",
    "ModelsLabStreamTimeoutError",
    "ModelsLabTimeoutError",
    "__version__",
    "get_modelslab_callback",
    "message_cost",
    "to_langchain_error",
]
