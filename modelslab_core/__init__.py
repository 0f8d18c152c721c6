"""The transport core shared by the ModelsLab LangChain and LlamaIndex integrations.

Neutral types (`ChatRequest`, `ChatResult`, `StreamDelta`, ...), the client configuration, the
typed errors, the clients `ModelsLabClient` / `AsyncModelsLabClient`, the model catalog
(`catalog`), exact costs (`pricing`) and spend ledgers with budgets (`budget`). Request
normalisation lives in `modelslab_core.normalize`, tool-call arguments in
`modelslab_core.tool_calls`, structured answers in `modelslab_core.structured`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import exceptions, types
from ._version import __version__
from .client import AsyncModelsLabClient, ModelsLabClient
from .config import DEFAULT_BASE_URL, AuthMode, ClientConfig, RetryPolicy
from .cost.budget import (
    BudgetExceededError,
    SpendLedger,
    UnboundedCostError,
    UnpricedModelError,
    track_spend,
)
from .cost.catalog import (
    CatalogError,
    ModelCatalog,
    ModelFacts,
    load_catalog,
    resolve_model,
    shipped_catalog,
)
from .cost.pricing import Cost, ModelPricing
from .cost.redis_budget import RedisBudgetBackend
from .dialects import DialectCodec
from .exceptions import *  # noqa: F403 - every error class (exceptions.__all__)
from .limits import InFlightLimiter, LimiterStats, LocalLimiter, limiter_for
from .pair import ClientPair
from .transport.accumulate import StreamAccumulator
from .types import *  # noqa: F403 - every neutral type (types.__all__)

if TYPE_CHECKING:
    from .limits.redis.limiter import InFlightFallbackWarning, RedisLimiter

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncModelsLabClient",
    "AuthMode",
    "BudgetExceededError",
    "CatalogError",
    "ClientConfig",
    "ClientPair",
    "Cost",
    "DialectCodec",
    "InFlightFallbackWarning",
    "InFlightLimiter",
    "LimiterStats",
    "LocalLimiter",
    "ModelCatalog",
    "ModelFacts",
    "ModelPricing",
    "ModelsLabClient",
    "RedisBudgetBackend",
    "RedisLimiter",
    "RetryPolicy",
    "SpendLedger",
    "StreamAccumulator",
    "UnboundedCostError",
    "UnpricedModelError",
    "__version__",
    "limiter_for",
    "load_catalog",
    "resolve_model",
    "shipped_catalog",
    "track_spend",
]
__all__ += exceptions.__all__
__all__ += types.__all__

_LAZY = {
    "InFlightFallbackWarning": "limits.redis.limiter",
    "RedisLimiter": "limits.redis.limiter",
}
"""Names whose modules load on first use: the Redis limiter is for processes that configure one."""


def __getattr__(name: str) -> Any:
    """Load a `_LAZY` name's module when the name is first read (PEP 562)."""
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
