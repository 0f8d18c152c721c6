"""The transport core shared by the ModelsLab LangChain and LlamaIndex integrations.

Neutral types (`ChatRequest`, `ChatResult`, `StreamDelta`, ...), the client configuration, the
typed errors, and the clients `ModelsLabClient` / `AsyncModelsLabClient`. Request
normalisation lives in `modelslab_core.normalize`, tool-call arguments in
`modelslab_core.tool_calls`, structured answers in `modelslab_core.structured`.
"""

from __future__ import annotations

from . import _exceptions, types
from ._accumulate import StreamAccumulator
from ._client import AsyncModelsLabClient, ModelsLabClient
from ._config import DEFAULT_BASE_URL, AuthMode, ClientConfig, RetryPolicy
from ._exceptions import *  # noqa: F403 - every error class (_exceptions.__all__)
from ._pair import ClientPair
from ._version import __version__
from .dialects import DialectCodec
from .types import *  # noqa: F403 - every neutral type (types.__all__)

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncModelsLabClient",
    "AuthMode",
    "ClientConfig",
    "ClientPair",
    "DialectCodec",
    "ModelsLabClient",
    "RetryPolicy",
    "StreamAccumulator",
    "__version__",
]
__all__ += _exceptions.__all__
__all__ += types.__all__
