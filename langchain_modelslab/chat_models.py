"""`ChatModelsLab`: a LangChain chat model over ModelsLab's LLM API (the shared core client)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    convert_to_messages,
)
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.outputs import ChatResult as LCChatResult
from langchain_core.runnables import Runnable, RunnableConfig, ensure_config
from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from modelslab_core import (
    DEFAULT_BASE_URL,
    AuthMode,
    ClientConfig,
    ClientPair,
    InFlightLimiter,
    ModelField,
)
from modelslab_core.cost.pricing import ModelPricing
from modelslab_core.env import API_KEY_ENV, BASE_URL_ENV, CATALOG_ENV
from modelslab_core.normalize import DEFAULT_MODEL, build_request
from modelslab_core.types import SAMPLING_FIELDS, ChatRequest, Dialect, ModelInfo, SamplingParams

from ._chunks import StreamGeneration, StreamState, chunk_from_delta, final_generation
from ._convert import to_lc_result, to_neutral_messages
from ._docs import CHAT_MODELSLAB_DOC
from ._errors import translate_errors
from ._fast_invoke import FastInvoke
from ._fast_path import can_take_fast_path, prepare
from ._profile import profile_refresh, resolve_profile
from ._serialization import Serialization
from ._settings import config_key, constructor_values, ls_params, make_config, request_options
from ._tools import StructuredMethod, bound_tool_choice, format_tools

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from modelslab_core import AsyncModelsLabClient, ModelsLabClient

__all__ = ["DEFAULT_MODEL", "ChatModelsLab"]


class ChatModelsLab(Serialization, FastInvoke, BaseChatModel, SamplingParams):
    __doc__ = CHAT_MODELSLAB_DOC

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model id, e.g. ``meta-llama-llama-3.2-3b-instruct`` (sent as ``model``/``model_id``)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env(API_KEY_ENV, default=None))
    """ModelsLab API key; read from ``MODELSLAB_API_KEY`` when not given."""
    base_url: str = Field(default_factory=from_env(BASE_URL_ENV, default=DEFAULT_BASE_URL))
    """API base URL; read from ``MODELSLAB_BASE_URL`` when not given."""
    dialect: Dialect = "openai"
    """Wire dialect: ``"openai"`` (``/chat/completions``) or ``"anthropic"`` (``/v1/messages``)."""
    auth: AuthMode = "bearer"
    """How the key is sent: ``"bearer"``, ``"x-api-key"`` or ``"body"`` (``"key"`` field)."""
    model_field: ModelField = "both"
    """Which body field names the model: ``"model"``, ``"model_id"`` or ``"both"``
    (``/v1/messages`` always sends ``model``; ``model_id`` is added next to it)."""
    timeout: float | None = None
    """Seconds to wait to connect and for each read (``None``: core defaults, 10 s / 120 s)."""
    stream_chunk_timeout: float | None = None
    """Longest silence allowed inside a stream (``None``: core default, 60 s)."""
    max_retries: int = 2
    """Retries of failed requests (429, 5xx, connection errors), before any output."""
    retry_initial_delay: float | None = None
    """First backoff delay in seconds (``None``: core default, 0.5 s)."""
    max_in_flight: int | None = 5
    """Requests in flight per account (ModelsLab's queue limit; 0/None: off), counted where
    ``in_flight_backend`` says."""
    in_flight_backend: str | InFlightLimiter | None = Field(default=None, repr=False)
    """Where ``max_in_flight`` is counted: ``None`` (the Redis of ``MODELSLAB_IN_FLIGHT_URL``
    if set, else this process), ``"local"``, ``"redis://host:6379/0"`` (every process and
    machine sharing that Redis), or a `modelslab_core.RedisLimiter` to share."""
    in_flight_lease: float | None = None
    """Seconds an unrenewed Redis lease lives: dead processes' slots return within it (30 s)."""
    in_flight_fallback: bool = False
    """Redis unreachable: cap in this process with a warning instead of raising."""
    in_flight_retry_window: float | None = None
    """Seconds a Redis command is retried after a connection error (2 s): a blip costs nothing."""
    in_flight_wait_timeout: float | None = None
    """Longest wait for a slot, then ``QueueFullError`` (600 s; ``float("inf")``: no deadline)."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences (up to 4; ``stop_sequences`` on ``/v1/messages``)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request fields, sent as given (unknown constructor arguments land here)."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into the request body last."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    http_client: Any = Field(default=None, exclude=True)
    """An ``httpx.Client`` to use (not serialized, dropped on pickling)."""
    http_async_client: Any = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to use (not serialized, dropped on pickling)."""
    streaming: bool = False
    """Stream even for ``invoke`` (callbacks see each token)."""
    stream_usage: bool = True
    """Ask for token usage at the end of streams (``stream_options.include_usage``)."""
    structured_output_method: StructuredMethod = "function_calling"
    """Default ``with_structured_output`` method. ``function_calling`` (a forced tool call) is
    what ModelsLab documents; ``json_schema`` response formats are undocumented there."""
    pricing: ModelPricing | None = None
    """Prices of ``model`` (e.g. ``ModelPricing.per_million("0.051", "0.34")``); they win over
    the model catalog (`modelslab_core.cost.catalog`) for costs and budgets."""
    catalog_file: str | None = Field(default_factory=from_env(CATALOG_ENV, default=None))
    """A model catalog file of your own; read from ``MODELSLAB_MODEL_CATALOG`` when not given."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=False)

    _clients: tuple[tuple[Any, ...], ClientPair] | None = PrivateAttr(default=None)
    """The core clients and the settings (`config_key`) they were built from."""

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        """Other spellings renamed (``SPELLINGS``); unknown ones to ``model_kwargs`` (warned)."""
        if isinstance(values, dict):
            return constructor_values(cls, values)
        return values

    # ------------------------------------------------------------------ LangChain plumbing

    @property
    def _llm_type(self) -> str:
        return "modelslab-chat"

    def _resolve_model_profile(self) -> ModelProfile | None:
        """The profile of ``model`` from the catalog (langchain-core's partner hook)."""
        return resolve_profile(self.model, make_config(self))

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in SAMPLING_FIELDS}
        return {
            "model_name": self.model,
            "dialect": self.dialect,
            "base_url": self.base_url,
            **{k: v for k, v in params.items() if v is not None},
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return ls_params(self, stop, kwargs)

    # ------------------------------------------------------------------ clients

    def _pair(self) -> ClientPair:
        """The core clients, built once and rebuilt only if a setting changed."""
        key, built = config_key(self), self._clients  # one private-attribute read per call
        if built is None or built[0] != key:
            pair = ClientPair(
                make_config(self),
                http_client=self.http_client,
                async_http_client=self.http_async_client,
            )
            self._clients = built = (key, pair)
        return built[1]

    def _client_config(self) -> ClientConfig:
        return self._pair().config

    def _sync_client(self) -> ModelsLabClient:
        return self._pair().sync

    def _aclient(self) -> AsyncModelsLabClient:
        return self._pair().aio

    # ------------------------------------------------------------------ requests

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> ChatRequest:
        """The neutral request for ``messages``: the settings, then the call's ``kwargs``
        (bound or per call), decided by the core's `build_request`."""
        options = request_options(self, stop, kwargs)
        return build_request(self.model, to_neutral_messages(messages), options)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LCChatResult:
        request = self._request(messages, stop, kwargs)
        with translate_errors():
            return to_lc_result(self._sync_client().chat(request), request.model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LCChatResult:
        request = self._request(messages, stop, kwargs)
        with translate_errors():
            return to_lc_result(await self._aclient().chat(request), request.model)

    def _chunks(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Iterator[AIMessageChunk | StreamGeneration]:
        """The stream's message chunks, then its closing `StreamGeneration`."""
        request = self._request(messages, stop, kwargs)
        state = StreamState(request.model)
        with translate_errors():
            for delta in self._sync_client().stream(request):
                if (chunk := chunk_from_delta(delta, state)) is not None:
                    yield chunk
        yield final_generation(state)

    async def _achunks(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> AsyncIterator[AIMessageChunk | StreamGeneration]:
        """Async twin of `_chunks`."""
        request = self._request(messages, stop, kwargs)
        state = StreamState(request.model)
        with translate_errors():
            async for delta in self._aclient().stream(request):
                if (chunk := chunk_from_delta(delta, state)) is not None:
                    yield chunk
        yield final_generation(state)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, stop, kwargs):
            yield chunk if isinstance(chunk, StreamGeneration) else StreamGeneration(message=chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in self._achunks(messages, stop, kwargs):
            yield chunk if isinstance(chunk, StreamGeneration) else StreamGeneration(message=chunk)

    def _fast_path(
        self, config: RunnableConfig, kwargs: dict[str, Any], *, async_api: bool
    ) -> bool:
        """Whether this stream may skip langchain-core's per-chunk machinery (`_fast_path`)."""
        return can_take_fast_path(self, ChatModelsLab, config, kwargs, async_api=async_api)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        """``BaseChatModel.stream``; when no callback handler listens, the same chunks without
        its per-chunk callback work and without keeping every chunk (see `_fast_path`)."""
        ensured = ensure_config(config)
        if not self._fast_path(ensured, kwargs, async_api=False):
            yield from super().stream(input, config, stop=stop, **kwargs)
            return
        messages, finish = prepare(self, input, ensured, kwargs)
        yield from finish.all(self._chunks(messages, stop, kwargs))

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        """Async twin of `stream`: ``BaseChatModel.astream``, or its fast path."""
        ensured = ensure_config(config)
        if not self._fast_path(ensured, kwargs, async_api=True):
            async for item in super().astream(input, config, stop=stop, **kwargs):
                yield item
            return
        messages, finish = prepare(self, input, ensured, kwargs)
        async for chunk in finish.aall(self._achunks(messages, stop, kwargs)):
            yield chunk

    # ------------------------------------------------------------------ tools and output

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any form ``convert_to_openai_tool`` takes) to the model.

        Args:
            tools: Functions, pydantic models, TypedDicts, JSON schemas, ``BaseTool``s.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (some tool
                must be called), a tool name, or an OpenAI/Anthropic tool-choice dict.
            strict: Ask for arguments that follow the schema exactly.
            parallel_tool_calls: Allow (or forbid) several calls in one turn.
            kwargs: Other request fields to bind.
        """
        formatted = format_tools(tools, strict=strict)
        choice = bound_tool_choice(tool_choice, formatted)
        if choice is not None:
            kwargs["tool_choice"] = choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        include_raw: bool = False,
        method: StructuredMethod | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """The model returning objects of ``schema`` (pydantic, TypedDict or JSON schema).

        Args:
            schema: The output schema.
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising on
                a parse error.
            method: ``"function_calling"`` (a forced tool call), ``"json_mode"``
                (``response_format: json_object``; describe the keys in the prompt) or
                ``"json_schema"``. Default: ``structured_output_method``.
            strict: Ask the server to follow the schema exactly.
        """
        if kwargs:
            raise ValueError(f"Unsupported arguments {sorted(kwargs)}.")
        from ._structured import structured_output  # deferred: its parsers cost import time

        return structured_output(
            self,
            schema,
            method=method or self.structured_output_method,
            include_raw=include_raw,
            strict=strict,
        )

    # ------------------------------------------------------------------ tokens and models

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Tokens in ``messages`` (and ``tools``) as ModelsLab counts them (``count_tokens``)."""
        request = self._request(
            convert_to_messages(messages), None, {"tools": tools} if tools else {}
        )
        with translate_errors():
            return self._sync_client().count_tokens(request)

    def get_num_tokens(self, text: str) -> int:
        """Tokens in ``text`` sent as one user message."""
        return self.get_num_tokens_from_messages([HumanMessage(text)])

    def list_models(self) -> list[ModelInfo]:
        """The models ModelsLab offers (``GET /v1/models``); facts the entries carry (context
        length, prices) join the catalog, and a catalog-made ``profile`` is re-read."""
        with translate_errors(), profile_refresh(self):
            return self._sync_client().list_models()

    async def alist_models(self) -> list[ModelInfo]:
        """The models ModelsLab offers (``GET /v1/models``), async (see `list_models`)."""
        with translate_errors(), profile_refresh(self):
            return await self._aclient().list_models()
