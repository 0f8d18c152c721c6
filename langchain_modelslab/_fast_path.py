"""The fast path of `ChatModelsLab.stream`/``astream``: taken when nobody listens to the run.

langchain-core's ``BaseChatModel.stream`` costs ~19 us per chunk (a callback dispatch, metadata
merging) and keeps every chunk in a list to merge them for ``on_llm_end``: +267 MB on a
100,000-chunk stream. None of that is needed when no callback handler is attached, so then
`ChatModelsLab` yields its ``AIMessageChunk``s straight from the core's deltas, applying what
``BaseChatModel.stream`` does to each chunk (the ``lc_run-`` id fallback, ``response_metadata``
from ``generation_info``, ``output_version="v1"`` content blocks with their ``index``, a closing
``chunk_position="last"`` chunk) so both paths yield the same chunks.

Who listens is decided the way langchain-core decides it: ``CallbackManager.configure`` with
the config's callbacks, tags and metadata and the model's own callbacks and ``verbose``, which
also adds the handlers of LangSmith tracing (env or context), ``set_debug`` and configure hooks
(``collect_runs``, ``tracing_v2_enabled``); ``astream_events`` attaches its own handler. Any
handler, a rate limiter, disabled streaming or a subclass that overrides ``_stream``/
``_astream`` sends the call down langchain-core's own path.

Private names of langchain-core this path relies on (``tests/test_layout.py`` resolves each,
and fails when langchain-core renames or removes one; `tests/langchain/test_fast_stream.py`
checks that both paths yield the same chunks):

- ``langchain_core.language_models._utils._normalize_messages``
- ``langchain_core.language_models._utils._update_message_content_to_blocks``
- ``langchain_core.utils._gateway.GATEWAY_METADATA_RESPONSE_KEY``
- ``langchain_core.utils.utils.LC_ID_PREFIX``
- ``langchain_core.utils.uuid.uuid7``
- ``langchain_core.language_models.BaseChatModel._should_stream``
- ``langchain_core.language_models.BaseChatModel._convert_input``
- ``langchain_core.language_models.BaseChatModel._stream``
- ``langchain_core.language_models.BaseChatModel._astream``
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from langchain_core.callbacks import CallbackManager
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.runnables import RunnableConfig

try:  # private helpers of langchain-core's own stream; without them, no fast path
    from langchain_core.language_models._utils import (
        _normalize_messages,
        _update_message_content_to_blocks,
    )
    from langchain_core.utils._gateway import GATEWAY_METADATA_RESPONSE_KEY
    from langchain_core.utils.utils import LC_ID_PREFIX
    from langchain_core.utils.uuid import uuid7

    AVAILABLE = True
except ImportError:  # pragma: no cover - other langchain-core versions
    AVAILABLE = False

if TYPE_CHECKING:
    from .chat_models import ChatModelsLab

__all__ = [
    "AVAILABLE",
    "ChunkFinisher",
    "can_take_fast_path",
    "input_messages",
    "nobody_listens",
    "prepare",
]


def nobody_listens(model: BaseChatModel, config: RunnableConfig) -> bool:
    """Whether a stream of ``model`` under ``config`` has no callback handler at all."""
    manager = CallbackManager.configure(
        config.get("callbacks"),
        model.callbacks,
        model.verbose,
        config.get("tags"),
        model.tags,
        config.get("metadata"),
        model.metadata,
    )
    return not manager.handlers and not manager.inheritable_handlers


def can_take_fast_path(
    model: ChatModelsLab,
    owner: type[ChatModelsLab],
    config: RunnableConfig,
    kwargs: dict[str, Any],
    *,
    async_api: bool,
) -> bool:
    """Whether ``stream``/``astream`` may skip langchain-core's per-chunk machinery (not for a
    subclass that overrides ``owner``'s ``_stream``/``_astream``)."""
    cls = type(model)
    if cls._stream is not owner._stream or cls._astream is not owner._astream:
        return False
    if not AVAILABLE or model.rate_limiter is not None:
        return False
    if not model._should_stream(async_api=async_api, **{**kwargs, "stream": True}):
        return False  # langchain-core falls back to invoke
    return nobody_listens(model, config)


class ChunkFinisher:
    """Does to each chunk what ``BaseChatModel.stream`` does before yielding it."""

    __slots__ = ("_index", "_index_type", "_run_id", "_v1", "run_id")

    def __init__(self, run_id: UUID | None, *, v1: bool) -> None:
        self.run_id = run_id
        self._run_id: str | None = None
        self._v1 = v1
        self._index = -1
        self._index_type = ""

    def lc_id(self) -> str:
        """The ``lc_run--<uuid>`` id given to chunks without one (made on first use)."""
        if self._run_id is None:
            self._run_id = f"{LC_ID_PREFIX}-{self.run_id or uuid7()}"
        return self._run_id

    def __call__(
        self, message: AIMessageChunk, generation_info: dict[str, Any] | None = None
    ) -> AIMessageChunk:
        """``message`` with its id, metadata and (v1) content blocks as langchain-core sets them."""
        if message.id is None:
            message.id = self.lc_id()
        if generation_info:
            message.response_metadata = {
                **{k: v for k, v in generation_info.items() if k != GATEWAY_METADATA_RESPONSE_KEY},
                **message.response_metadata,
            }
        if self._v1:
            message = _update_message_content_to_blocks(message, "v1")
            for block in cast("list[dict[str, Any]]", message.content):
                if block["type"] != self._index_type:
                    self._index_type = block["type"]
                    self._index += 1
                if "index" not in block:
                    block["index"] = self._index
        return message

    def all(
        self, chunks: Iterator[AIMessageChunk | ChatGenerationChunk]
    ) -> Iterator[AIMessageChunk]:
        """Every chunk of a stream finished, then the closing chunk if one is due."""
        last, v0 = None, not self._v1
        for chunk in chunks:
            if v0 and type(chunk) is AIMessageChunk and chunk.id is not None:
                last = chunk  # the common chunk: nothing to do
            else:
                last = self._finish_any(chunk)
            yield last
        yield from self._end(last)

    async def aall(
        self, chunks: AsyncIterator[AIMessageChunk | ChatGenerationChunk]
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of `all`."""
        last, v0 = None, not self._v1
        async for chunk in chunks:
            if v0 and type(chunk) is AIMessageChunk and chunk.id is not None:
                last = chunk  # the common chunk: nothing to do
            else:
                last = self._finish_any(chunk)
            yield last
        for closing in self._end(last):
            yield closing

    def _finish_any(self, chunk: AIMessageChunk | ChatGenerationChunk) -> AIMessageChunk:
        if isinstance(chunk, ChatGenerationChunk):
            return self(cast("AIMessageChunk", chunk.message), chunk.generation_info)
        return self(chunk)

    def _end(self, last: AIMessageChunk | None) -> list[AIMessageChunk]:
        if last is None:
            raise ValueError("No generation chunks were returned")
        closing = self.closing(last)
        return [] if closing is None else [closing]

    def closing(self, last: AIMessageChunk | None) -> AIMessageChunk | None:
        """The empty ``chunk_position="last"`` chunk langchain-core adds when the model's own
        last chunk is not marked last (``None`` when it is, or nothing was yielded)."""
        if last is None or last.chunk_position:
            return None
        empty: str | list[str | dict[str, Any]] = "" if isinstance(last.content, str) else []
        return AIMessageChunk(content=empty, chunk_position="last", id=self.lc_id())


def prepare(
    model: BaseChatModel, input: LanguageModelInput, config: RunnableConfig, kwargs: dict[str, Any]
) -> tuple[list[BaseMessage], ChunkFinisher]:
    """The normalized input messages and the chunk finisher; pops the structured-output
    tracing kwargs from ``kwargs`` exactly as ``BaseChatModel.stream`` does."""
    finisher = ChunkFinisher(config.get("run_id"), v1=model.output_version == "v1")
    return input_messages(model, input, kwargs), finisher


def input_messages(
    model: BaseChatModel, input: LanguageModelInput, kwargs: dict[str, Any]
) -> list[BaseMessage]:
    """The normalized input messages; pops the structured-output tracing kwargs from
    ``kwargs`` exactly as ``BaseChatModel.stream`` and ``generate`` do (both fast paths)."""
    messages: Sequence[BaseMessage] = model._convert_input(input).to_messages()
    _ = kwargs.pop("ls_structured_output_format", None) or kwargs.pop(
        "structured_output_format", None
    )
    return _normalize_messages(messages)
