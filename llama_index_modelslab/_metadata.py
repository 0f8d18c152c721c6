"""`ModelsLab.metadata` from the model catalog: context window and output size unless set.

``context_window`` and ``num_output`` are what LlamaIndex sizes prompts and chunks with. An
explicit setting wins (``context_window=``, ``max_tokens=``); else the catalog's facts for the
model (`modelslab_core.cost.catalog.resolve_model`: shipped file, the base URL's last ``/v1/models``
answer, the user's catalog file); else LlamaIndex-style defaults, and for an unknown context
window a warning, once per model id, naming how to set it.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING

from llama_index.core.base.llms.types import LLMMetadata
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS

from modelslab_core.cost.catalog import ModelFacts

if TYPE_CHECKING:
    from .base import ModelsLab

__all__ = ["DEFAULT_CONTEXT_WINDOW", "llm_facts", "llm_metadata"]

DEFAULT_CONTEXT_WINDOW = 8192
"""Used only for a model whose context window no catalog knows (with a warning)."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


def llm_facts(llm: ModelsLab) -> ModelFacts | None:
    """What the catalog layers ``llm``'s settings point at know about its model (through the
    configuration of its blocking client, built once)."""
    return llm._sync_client().config.model_facts(llm.model)


def _default_window(model: str) -> int:
    with _warned_lock:
        first = model not in _warned
        _warned.add(model)
    if first:
        warnings.warn(
            f"No context window is known for ModelsLab model {model!r}: LlamaIndex will size "
            f"prompts for {DEFAULT_CONTEXT_WINDOW} tokens. Set ModelsLab(context_window=...) "
            "or add the model to a catalog file (MODELSLAB_MODEL_CATALOG).",
            stacklevel=4,
        )
    return DEFAULT_CONTEXT_WINDOW


def llm_metadata(llm: ModelsLab) -> LLMMetadata:
    """``llm``'s `LLMMetadata`: explicit settings, else the catalog, else defaults."""
    facts = llm_facts(llm)
    window = llm.context_window or (facts and facts.context_window) or _default_window(llm.model)
    output = llm.max_tokens or (facts and facts.max_output_tokens) or DEFAULT_NUM_OUTPUTS
    return LLMMetadata(
        context_window=window,
        num_output=output,
        is_chat_model=True,
        is_function_calling_model=llm.is_function_calling_model,
        model_name=llm.model,
    )
