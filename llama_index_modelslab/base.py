"""`ModelsLab`: a LlamaIndex `FunctionCallingLLM` on the shared `modelslab_core` transport."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    LLMMetadata,
)
from llama_index.core.constants import DEFAULT_TEMPERATURE
from llama_index.core.llms.llm import ToolSelection
from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

import modelslab_core as core
from modelslab_core import env
from modelslab_core.cost.pricing import ModelPricing
from modelslab_core.normalize import DEFAULT_MODEL, build_request
from modelslab_core.types import ChatRequest, Dialect, ModelInfo

from ._convert import to_chat_response, to_messages
from ._docs import MODELSLAB_DOC
from ._fast_path import chat_callback, completion_method
from ._keywords import constructor_values
from ._metadata import DEFAULT_CONTEXT_WINDOW, llm_metadata
from ._snapshots import aresponses, responses
from ._structured_llm import StructuredOutputLLM
from ._tool_calling import keep_first_call, tool_chat_kwargs, tool_selections
from ._tools import response_format_for, to_tool_spec

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

    from modelslab_core import AsyncModelsLabClient, ModelsLabClient

__all__ = ["DEFAULT_CONTEXT_WINDOW", "DEFAULT_MODEL", "ModelsLab"]


_FRAMEWORK_KWARGS = frozenset(
    {"tool_required", "allow_parallel_tool_calls", "verbose", "error_on_no_tool_call", "formatted"}
)
"""LlamaIndex-internal keywords that must never reach the wire."""


def _http_client_field(what: str) -> Any:
    """A field for an injected httpx client: not serialized, not pickled, never closed by us."""
    return Field(
        default=None,
        exclude=True,
        repr=False,
        description=f"{what} (not serialized or pickled; used as is and never closed by us).",
    )


def _env_key() -> SecretStr | None:
    value = env.read(env.API_KEY_ENV)
    return SecretStr(value) if value else None


def _env_base() -> str:
    return env.read(env.BASE_URL_ENV) or core.DEFAULT_BASE_URL


class ModelsLab(StructuredOutputLLM):
    __doc__ = MODELSLAB_DOC

    model: str = Field(
        default=DEFAULT_MODEL, description="The ModelsLab model id (also model_name=)."
    )
    api_key: SecretStr | None = Field(
        default_factory=_env_key,
        exclude=True,
        repr=False,
        description="API key (default: the MODELSLAB_API_KEY environment variable).",
    )
    api_base: str = Field(
        default_factory=_env_base,
        description="Base URL, also base_url= (default: MODELSLAB_BASE_URL, else ModelsLab's "
        "v7 LLM API).",
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Seconds to connect and to wait for each read (None: 10 s / 120 s).",
    )
    max_retries: int = Field(default=2, ge=0, description="Retries before any byte arrives.")
    max_in_flight: int | None = Field(
        default=5, ge=0, description="Requests in flight per account (0/None: no cap)."
    )
    in_flight_backend: SkipJsonSchema[str | core.InFlightLimiter | None] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Where max_in_flight is counted: None (the Redis of MODELSLAB_IN_FLIGHT_URL "
        "if set, else this process), 'local', 'redis://host:6379/0' (every process sharing that "
        "Redis) or a modelslab_core.RedisLimiter; lease, fallback and wait deadline via "
        "client_options (in_flight_lease, in_flight_fallback, in_flight_retry_window, "
        "in_flight_wait_timeout).",
    )
    temperature: float | None = Field(default=DEFAULT_TEMPERATURE, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0, description="Most tokens to generate.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Sent with every request (e.g. top_p, seed)."
    )
    dialect: Dialect = Field(default="openai", description="'openai' or 'anthropic' wire format.")
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Tokens per call (default: the model catalog; unknown: 8192, with a warning).",
    )
    pricing: ModelPricing | None = Field(
        default=None,
        description="Prices of the model in dollars per token (ModelPricing.per_million(...)); "
        "they win over the model catalog for costs and budgets.",
    )
    catalog_file: str | None = Field(
        default=None,
        description="A model catalog file of your own (default: MODELSLAB_MODEL_CATALOG).",
    )
    is_function_calling_model: bool = Field(
        default=True, description="Whether the model takes tools (agents need it)."
    )
    auth: core.AuthMode = Field(default="bearer", description="bearer, x-api-key or body.")
    model_field: core.ModelField = Field(
        default="both",
        description="model, model_id or both (/v1/messages always sends model).",
    )
    default_headers: dict[str, str] = Field(
        default_factory=dict, exclude=True, repr=False, description="Extra HTTP headers."
    )
    client_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Other ClientConfig fields, e.g. {'retry': {'initial_delay': 0.1}}.",
    )
    http_client: SkipJsonSchema[httpx.Client | None] = _http_client_field(
        "An httpx.Client for the blocking calls"
    )
    async_http_client: SkipJsonSchema[httpx.AsyncClient | None] = _http_client_field(
        "An httpx.AsyncClient for the async calls, e.g. one on httpx_aiohttp.AiohttpTransport()"
    )

    @field_validator("client_options")
    @classmethod
    def _no_key_in_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "api_key" in value:
            raise ValueError("Pass the key as api_key=..., not in client_options")
        return value

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, values: Any) -> Any:
        """Other spellings renamed (``_keywords.SPELLINGS``); an unknown keyword is an error."""
        return constructor_values(cls, values) if isinstance(values, dict) else values

    _clients: core.ClientPair | None = PrivateAttr(default=None)

    def __init__(self, **kwargs: Any) -> None:
        key = kwargs.get("api_key")
        if isinstance(key, str):
            kwargs["api_key"] = SecretStr(key) if key else None
        super().__init__(**kwargs)

    @classmethod
    def class_name(cls) -> str:
        """Serialization name."""
        return "ModelsLab_LLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and output size: explicit settings, else the model catalog."""
        return llm_metadata(self)

    def to_payload(self) -> dict[str, Any]:
        """Non-sensitive description for instrumentation (no key, no headers).

        What llama-index-core's own `LLM.to_payload` gives (from 0.14.23 on: class name and
        metadata) plus the dialect, built here so that older cores get the same payload.
        """
        return {
            "class_name": self.class_name(),
            **self.metadata.model_dump(),
            "dialect": self.dialect,
        }

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without HTTP clients: injected ones are dropped, ours are rebuilt on use.

        Taken from a copy: `BaseComponent.__getstate__` deletes what does not pickle from
        the live ``__dict__`` it is given.
        """
        clone = self.model_copy(update={"http_client": None, "async_http_client": None})
        clone._clients = None
        state: dict[str, Any] = super(ModelsLab, clone).__getstate__()
        (state.get("__pydantic_private__") or {}).pop("_clients", None)
        return state

    # -- clients --------------------------------------------------------------------------

    def client_config(self) -> core.ClientConfig:
        """The core `ClientConfig` these settings describe."""
        return core.ClientConfig.from_settings(
            **{
                "model": self.model,
                "pricing": self.pricing,
                "timeout": self.timeout,
                "max_retries": self.max_retries,
                "api_key": self.api_key,
                "base_url": self.api_base,
                "auth": self.auth,
                "model_field": self.model_field,
                "dialect": self.dialect,
                "max_in_flight": self.max_in_flight,
                "in_flight_backend": self.in_flight_backend,
                "default_headers": self.default_headers,
                "catalog_file": self.catalog_file,
                **self.client_options,
            }
        )

    def _pair(self) -> core.ClientPair:
        if self._clients is None:
            self._clients = core.ClientPair(
                self.client_config(),
                http_client=self.http_client,
                async_http_client=self.async_http_client,
            )
        return self._clients

    def _sync_client(self) -> ModelsLabClient:
        return self._pair().sync

    def _async_client(self) -> AsyncModelsLabClient:
        return self._pair().aio

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatRequest:
        """The neutral request: the settings, then the call's ``kwargs`` (the core's
        `build_request` decides; bad input fails here, before any I/O)."""
        options: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        options.update(self.additional_kwargs)
        options.update((k, v) for k, v in kwargs.items() if k not in _FRAMEWORK_KWARGS)
        if options.get("tools"):
            options["tools"] = [to_tool_spec(t) for t in options["tools"]]
        if options.get("response_format") is not None:
            options["response_format"] = response_format_for(options["response_format"])
        return build_request(self.model, to_messages(messages), options)

    # -- chat -----------------------------------------------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        return to_chat_response(self._sync_client().chat(request))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        return to_chat_response(await self._async_client().chat(request))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return responses(self._sync_client().stream(self._request(messages, kwargs)))

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return aresponses(self._async_client().stream(self._request(messages, kwargs)))

    @chat_callback
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat turn."""
        return self._chat(messages, **kwargs)

    @chat_callback
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat turn (async)."""
        return await self._achat(messages, **kwargs)

    @chat_callback
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream a chat turn: each response has the ``delta`` and the message so far."""
        return self._stream_chat(messages, **kwargs)

    @chat_callback
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Stream a chat turn (async)."""
        return await self._astream_chat(messages, **kwargs)

    # -- completion (through chat, undecorated so each call counts once) -------------------

    complete: ClassVar[Callable[..., Any]] = completion_method(
        chat_to_completion_decorator, "_chat"
    )
    acomplete: ClassVar[Callable[..., Any]] = completion_method(
        achat_to_completion_decorator, "_achat", is_async=True
    )
    stream_complete: ClassVar[Callable[..., Any]] = completion_method(
        stream_chat_to_completion_decorator, "_stream_chat"
    )
    astream_complete: ClassVar[Callable[..., Any]] = completion_method(
        astream_chat_to_completion_decorator, "_astream_chat", is_async=True
    )

    # -- tokens and models (the same answers as ChatModelsLab's) ---------------------------

    def _count_request(
        self, messages: Sequence[ChatMessage], tools: Sequence[BaseTool] | None
    ) -> ChatRequest:
        return self._request(messages, {"tools": list(tools)} if tools else {})

    def count_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[BaseTool] | None = None
    ) -> int:
        """Input tokens of ``messages`` (and ``tools``) as ModelsLab counts them.

        Always ``POST /v1/messages/count_tokens``, whatever the chat ``dialect``.
        """
        return self._sync_client().count_tokens(self._count_request(messages, tools))

    async def acount_tokens(
        self, messages: Sequence[ChatMessage], tools: Sequence[BaseTool] | None = None
    ) -> int:
        """Input tokens of ``messages`` (and ``tools``), async."""
        return await self._async_client().count_tokens(self._count_request(messages, tools))

    def list_models(self) -> list[ModelInfo]:
        """The models ModelsLab offers (``GET /v1/models``); ``[m.id for m in ...]`` for ids."""
        return self._sync_client().list_models()

    async def alist_models(self) -> list[ModelInfo]:
        """The models ModelsLab offers (``GET /v1/models``), async."""
        return await self._async_client().list_models()

    # -- tools ----------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: Any = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat kwargs for a tool turn: tool specs, ``tool_choice``, ``parallel_tool_calls``."""
        return tool_chat_kwargs(
            tools,
            user_msg,
            chat_history,
            strict=self.strict if strict is None else strict,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            tool_choice=tool_choice,
            kwargs=kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed."""
        return response if allow_parallel_tool_calls else keep_first_call(response)

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of ``response`` as `ToolSelection`s.

        Mid-stream snapshots (marked ``additional_kwargs["partial_tool_calls"]``) are read
        leniently: cut-short arguments are recovered as far as they go, for progress display.
        A final answer (non-streaming, or a stream's last chunk, or any unmarked response) is
        read exactly: arguments that do not parse as a JSON object raise a `ValueError`
        naming the call, so no tool runs with cut values (``predict_and_call`` and
        ``FunctionAgent.run`` fail with that error; the response keeps the raw text in that
        call's `ToolCallBlock.tool_kwargs`). LlamaIndex's OpenAI integration instead repairs
        or empties such arguments and runs the tool anyway.
        """
        return tool_selections(response, error_on_no_tool_call)
