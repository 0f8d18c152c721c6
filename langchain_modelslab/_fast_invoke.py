"""The fast path of `ChatModelsLab.invoke`/``ainvoke``: taken when nobody listens to the run.

langchain-core's ``BaseChatModel.invoke`` runs ``generate_prompt`` -> ``generate`` ->
``_generate_with_cache`` around ``_generate``: it configures a callback manager, computes the
invocation and LangSmith parameters, formats the messages for tracing, opens a run, looks up
``_generate``'s signature and wraps the answer in an ``LLMResult``; ~0.6M CPU instructions per
call (as much as a whole raw httpx request), all of it for handlers, tracers and caches. When
none is attached (decided as for the stream's fast path, `_fast_path.nobody_listens`), no LLM
cache applies, no rate limiter is set, the call would not stream and no subclass changed the
chain, `ChatModelsLab` calls its own ``_generate``/``_agenerate`` directly and applies what
``_generate_with_cache`` does to the answer (``output_version="v1"`` content blocks, the
``lc_run-<run id>-0`` id fallback, ``response_metadata`` from ``generation_info`` and
``llm_output``), so both paths return the same message
(`tests/langchain/test_fast_invoke.py`).

Private names of langchain-core this path relies on (``tests/test_layout.py`` resolves each):

- ``langchain_core.language_models._utils._update_message_content_to_blocks``
- ``langchain_core.language_models.chat_models._gen_info_and_msg_metadata``
- ``langchain_core.caches.BaseCache``
- ``langchain_core.globals.get_llm_cache``
- ``langchain_core.utils.utils.LC_ID_PREFIX``
- ``langchain_core.utils.uuid.uuid7``
- ``langchain_core.language_models.BaseChatModel._should_stream``
- ``langchain_core.language_models.BaseChatModel._convert_input``
- ``langchain_core.language_models.BaseChatModel._generate_with_cache``
- ``langchain_core.language_models.BaseChatModel._agenerate_with_cache``
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import RunnableConfig, ensure_config

from . import _fast_path
from ._fast_path import input_messages, nobody_listens

try:  # private helpers of langchain-core's own generate; without them, no fast path
    from langchain_core.globals import get_llm_cache
    from langchain_core.language_models._utils import _update_message_content_to_blocks
    from langchain_core.language_models.chat_models import _gen_info_and_msg_metadata
    from langchain_core.utils.utils import LC_ID_PREFIX
    from langchain_core.utils.uuid import uuid7

    AVAILABLE = _fast_path.AVAILABLE  # its message normalization is the stream's
except ImportError:  # pragma: no cover - other langchain-core versions
    AVAILABLE = False

if TYPE_CHECKING:
    from .chat_models import ChatModelsLab

__all__ = ["AVAILABLE", "FastInvoke", "can_invoke_fast", "finish_result"]

_CHAIN = (
    "generate_prompt",
    "generate",
    "_generate_with_cache",
    "_generate",
    "agenerate_prompt",
    "agenerate",
    "_agenerate_with_cache",
    "_agenerate",
)
"""The methods between ``invoke`` and the answer: a subclass overriding one takes the slow path."""


@functools.cache
def _owner(cls: type) -> type:
    """The class that took `FastInvoke` among its bases (`ChatModelsLab`)."""
    return next(c for c in cls.__mro__ if FastInvoke in c.__bases__)


def can_invoke_fast(
    model: BaseChatModel, config: RunnableConfig, kwargs: dict[str, Any], *, async_api: bool
) -> bool:
    """Whether ``invoke``/``ainvoke`` may call ``_generate``/``_agenerate`` directly."""
    cls = type(model)
    if not AVAILABLE:
        return False
    owner = _owner(cls)
    if cls is not owner and any(getattr(cls, n) is not getattr(owner, n) for n in _CHAIN):
        return False
    if model.rate_limiter is not None:
        return False
    if model.cache is not False and (model.cache is not None or get_llm_cache() is not None):
        return False  # a cache to look up (or langchain-core's error for cache=True)
    if model._should_stream(async_api=async_api, **kwargs):
        return False  # langchain-core would stream (``streaming=True``, ``stream=True``)
    return nobody_listens(model, config)


def finish_result(model: BaseChatModel, result: ChatResult, run_id: Any) -> AIMessage:
    """The first generation's message, finished as ``_generate_with_cache`` finishes it."""
    if model.output_version == "v1":
        for generation in result.generations:
            generation.message = _update_message_content_to_blocks(generation.message, "v1")
    for idx, generation in enumerate(result.generations):
        if generation.message.id is None:
            generation.message.id = f"{LC_ID_PREFIX}-{run_id or uuid7()}-{idx}"
        generation.message.response_metadata = _gen_info_and_msg_metadata(generation)
    if len(result.generations) == 1 and result.llm_output is not None:
        result.generations[0].message.response_metadata = {
            **result.llm_output,
            **result.generations[0].message.response_metadata,
        }
    return cast("AIMessage", result.generations[0].message)


class FastInvoke:
    """``invoke``/``ainvoke`` of `ChatModelsLab` (listed before ``BaseChatModel`` among its
    bases, so these win): langchain-core's, or the fast path when nobody listens."""

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """``BaseChatModel.invoke``; when no callback handler listens (and no cache or rate
        limiter applies), the same message without its callback and tracing work."""
        model, ensured = cast("ChatModelsLab", self), ensure_config(config)
        if not can_invoke_fast(model, ensured, kwargs, async_api=False):
            return BaseChatModel.invoke(model, input, config, stop=stop, **kwargs)
        messages = input_messages(model, input, kwargs)
        result = model._generate(messages, stop=stop, **kwargs)
        return finish_result(model, result, ensured.get("run_id"))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        """Async twin of `invoke`: ``BaseChatModel.ainvoke``, or its fast path."""
        model, ensured = cast("ChatModelsLab", self), ensure_config(config)
        if not can_invoke_fast(model, ensured, kwargs, async_api=True):
            return await BaseChatModel.ainvoke(model, input, config, stop=stop, **kwargs)
        messages = input_messages(model, input, kwargs)
        result = await model._agenerate(messages, stop=stop, **kwargs)
        return finish_result(model, result, ensured.get("run_id"))
