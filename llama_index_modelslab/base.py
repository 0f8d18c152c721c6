"""`ModelsLab`: a LlamaIndex `FunctionCallingLLM` on the shared `modelslab_core` transport."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS, DEFAULT_TEMPERATURE
from llama_index.core.llms.llm import ToolSelection
from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic.json_schema import SkipJsonSchema

from modelslab_core import (
    AsyncModelsLabClient,
    ClientConfig,
    InFlightLimiter,
    ModelsLabClient,
    RetryPolicy,
)
from modelslab_core._accumulate import parse_partial_json
from modelslab_core._config import DEFAULT_BASE_URL, AuthMode
from modelslab_core.dialects._base import ModelField
from modelslab_core.types import ChatRequest, Dialect, ModelInfo

from ._convert import build_request, resolve_tool_choice, to_chat_response, to_tool_spec
from ._instrument import chat_callback, completion_callback
from ._stream import PARTIAL_TOOL_CALLS, StreamFolder
from ._structured_llm import StructuredOutputLLM

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_CONTEXT_WINDOW", "DEFAULT_MODEL", "ModelsLab"]

DEFAULT_MODEL = "meta-llama-llama-3.2-3b-instruct"
DEFAULT_CONTEXT_WINDOW = 8192
"""Conservative: fits most ModelsLab chat models. Set ``context_window`` for your model."""


def _env_key() -> SecretStr | None:
    value = os.environ.get("MODELSLAB_API_KEY")
    return SecretStr(value) if value else None


def _env_base() -> str:
    return os.environ.get("MODELSLAB_BASE_URL") or DEFAULT_BASE_URL


def _partial_kwargs(kwargs: dict[str, Any] | str) -> dict[str, Any]:
    """Mid-stream tool arguments as a dict: exact JSON when complete, else what a cut recovers."""
    if isinstance(kwargs, dict):
        return kwargs
    try:
        value = json.loads(kwargs) if kwargs.strip() else {}
    except ValueError:
        value = parse_partial_json(kwargs)
    return value if isinstance(value, dict) else {}


def _exact_kwargs(block: ToolCallBlock) -> dict[str, Any]:
    """Final tool arguments as a dict; a `ValueError` naming the call if they are no JSON object."""
    kwargs = block.tool_kwargs
    if isinstance(kwargs, dict):
        return kwargs
    try:
        value = json.loads(kwargs) if kwargs.strip() else {}
    except ValueError as exc:
        reason: str = f"not valid JSON ({exc})"
    else:
        if isinstance(value, dict):
            return value
        reason = f"a JSON {type(value).__name__}, not an object"
    raise ValueError(
        f"Tool call {block.tool_name!r} (id {block.tool_call_id!r}) has arguments that are "
        f"{reason}, so it is not run (was the answer cut short by max_tokens?). "
        f"Arguments received: {kwargs[:200]!r}"
    )


class ModelsLab(StructuredOutputLLM):
    """ModelsLab's LLM API as a LlamaIndex function-calling LLM.

    Speaks the OpenAI-compatible ``/chat/completions`` dialect (default) or the
    Anthropic-compatible ``/v1/messages`` one, with tool calling, streaming, structured
    output, reasoning (`ThinkingBlock`) and images. Retries, timeouts, the per-key in-flight
    cap and ModelsLab's HTTP-200 error envelopes are handled by `modelslab_core`; failures
    raise its typed errors (`modelslab_core.RateLimitError`, ...). The API key is never part
    of ``to_dict()``, ``to_json()``, ``to_payload()`` or the repr.

    Examples:
        ```python
        from llama_index_modelslab import ModelsLab
        from llama_index.core.llms import ChatMessage

        llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")  # key: MODELSLAB_API_KEY
        print(llm.complete("Say hi").text)
        for chunk in llm.stream_chat([ChatMessage(role="user", content="Count to 3")]):
            print(chunk.delta, end="")

        # Agents and tools
        from llama_index.core.agent.workflow import FunctionAgent
        def add(a: int, b: int) -> int:
            "Add two numbers."
            return a + b
        agent = FunctionAgent(tools=[add], llm=llm)
        answer = await agent.run("What is 2 + 3?")

        # Structured output (function calling by default; or structured_output_mode="json_schema")
        from pydantic import BaseModel
        class City(BaseModel):
            name: str
            country: str
        city = llm.as_structured_llm(City).complete("The capital of France").raw

        # Your own httpx clients, e.g. aiohttp's pool for many concurrent async calls
        # (pip install httpx-aiohttp); they are used as given and never closed by us.
        import httpx, httpx_aiohttp
        fast = ModelsLab(async_http_client=httpx.AsyncClient(
            transport=httpx_aiohttp.AiohttpTransport()))

        # Token counting and model listing (as in langchain_modelslab.ChatModelsLab)
        from llama_index.core.tools import FunctionTool
        tools = [FunctionTool.from_defaults(fn=add)]
        n = llm.count_tokens([ChatMessage(role="user", content="What is 2 + 3?")], tools=tools)
        ids = [m.id for m in llm.list_models()]
        ```
    """

    model: str = Field(default=DEFAULT_MODEL, description="The ModelsLab model id.")
    api_key: SecretStr | None = Field(
        default_factory=_env_key,
        exclude=True,
        repr=False,
        description="API key (default: the MODELSLAB_API_KEY environment variable).",
    )
    api_base: str = Field(
        default_factory=_env_base,
        description="Base URL (default: MODELSLAB_BASE_URL, else ModelsLab's v7 LLM API).",
    )
    timeout: float = Field(default=120.0, gt=0, description="Read timeout in seconds.")
    max_retries: int = Field(default=2, ge=0, description="Retries before any byte arrives.")
    max_in_flight: int | None = Field(
        default=5, ge=0, description="Requests in flight per account (0/None: no cap)."
    )
    in_flight_backend: SkipJsonSchema[str | InFlightLimiter | None] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Where max_in_flight is counted: None (the Redis of MODELSLAB_IN_FLIGHT_URL "
        "if set, else this process), 'local', 'redis://host:6379/0' (every process sharing that "
        "Redis) or a modelslab_core.RedisLimiter; lease, fallback and wait deadline via "
        "client_options (in_flight_lease, in_flight_fallback, in_flight_wait_timeout).",
    )
    temperature: float | None = Field(default=DEFAULT_TEMPERATURE, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0, description="Most tokens to generate.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Sent with every request (e.g. top_p, seed)."
    )
    dialect: Dialect = Field(default="openai", description="'openai' or 'anthropic' wire format.")
    context_window: int = Field(default=DEFAULT_CONTEXT_WINDOW, gt=0)
    is_function_calling_model: bool = Field(
        default=True, description="Whether the model takes tools (agents need it)."
    )
    auth: AuthMode = Field(default="bearer", description="bearer, x-api-key or body.")
    model_field: ModelField = Field(
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
    http_client: SkipJsonSchema[httpx.Client | None] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="An httpx.Client for the blocking calls (not serialized or pickled; "
        "used as is and never closed by us).",
    )
    async_http_client: SkipJsonSchema[httpx.AsyncClient | None] = Field(
        default=None,
        exclude=True,
        repr=False,
        description="An httpx.AsyncClient for the async calls, e.g. one on "
        "httpx_aiohttp.AiohttpTransport() (not serialized or pickled; never closed by us).",
    )

    @field_validator("client_options")
    @classmethod
    def _no_key_in_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "api_key" in value:
            raise ValueError("Pass the key as api_key=..., not in client_options")
        return value

    _client: ModelsLabClient | None = PrivateAttr(default=None)
    _aclient: AsyncModelsLabClient | None = PrivateAttr(default=None)

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
        """Context window, output size and capabilities (explicit settings, no model tables)."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            is_function_calling_model=self.is_function_calling_model,
            model_name=self.model,
        )

    def to_payload(self) -> dict[str, Any]:
        """Non-sensitive description for instrumentation (no key, no headers)."""
        return {**super().to_payload(), "dialect": self.dialect}

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without HTTP clients: injected ones are dropped, ours are rebuilt on use.

        Taken from a copy: `BaseComponent.__getstate__` deletes what does not pickle from
        the live ``__dict__`` it is given.
        """
        clone = self.model_copy(update={"http_client": None, "async_http_client": None})
        clone._client = clone._aclient = None
        state: dict[str, Any] = super(ModelsLab, clone).__getstate__()
        private = state.get("__pydantic_private__") or {}
        private.pop("_client", None)
        private.pop("_aclient", None)
        return state

    # -- clients --------------------------------------------------------------------------

    def client_config(self) -> ClientConfig:
        """The core `ClientConfig` these settings describe."""
        options = dict(self.client_options)
        retry = RetryPolicy(**{"max_retries": self.max_retries, **options.pop("retry", {})})
        fields: dict[str, Any] = {
            "api_key": self.api_key,
            "base_url": self.api_base,
            "auth": self.auth,
            "model_field": self.model_field,
            "dialect": self.dialect,
            "connect_timeout": min(10.0, self.timeout),
            "read_timeout": self.timeout,
            "max_in_flight": self.max_in_flight,
            "in_flight_backend": self.in_flight_backend,
            "default_headers": dict(self.default_headers),
        }
        return ClientConfig(**{**fields, **options, "retry": retry})

    def _sync_client(self) -> ModelsLabClient:
        if self._client is None:
            self._client = ModelsLabClient(self.client_config(), http_client=self.http_client)
        return self._client

    def _async_client(self) -> AsyncModelsLabClient:
        if self._aclient is None:
            self._aclient = AsyncModelsLabClient(
                self.client_config(), http_client=self.async_http_client
            )
        return self._aclient

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatRequest:
        """The neutral request (bad input fails here, before any I/O)."""
        defaults = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        defaults.update(self.additional_kwargs)
        return build_request(self.model, messages, defaults, kwargs)

    # -- chat -----------------------------------------------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        return to_chat_response(self._sync_client().chat(request))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        request = self._request(messages, kwargs)
        return to_chat_response(await self._async_client().chat(request))

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        deltas = self._sync_client().stream(self._request(messages, kwargs))

        def gen() -> ChatResponseGen:
            folder = StreamFolder()
            for delta in deltas:
                response = folder.add(delta)
                if response is not None:
                    yield response
            yield folder.final()

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        deltas = self._async_client().stream(self._request(messages, kwargs))

        async def gen() -> ChatResponseAsyncGen:
            folder = StreamFolder()
            async for delta in deltas:
                response = folder.add(delta)
                if response is not None:
                    yield response
            yield folder.final()

        return gen()

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

    @completion_callback
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete ``prompt`` (sent as one user message)."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @completion_callback
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Complete ``prompt`` (async)."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @completion_callback
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream a completion of ``prompt``."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @completion_callback
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Stream a completion of ``prompt`` (async)."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

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
        use_strict = self.strict if strict is None else strict
        specs = [to_tool_spec(t, strict=True if use_strict else None) for t in tools]
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            prepared["tools"] = specs
            prepared["tool_choice"] = resolve_tool_choice(tool_choice, tool_required=tool_required)
            prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call when parallel calls were not allowed."""
        if allow_parallel_tool_calls:
            return response
        blocks = response.message.blocks
        calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
        if len(calls) > 1:
            response.message.blocks = [
                b for b in blocks if not isinstance(b, ToolCallBlock) or b is calls[0]
            ]
            legacy = response.message.additional_kwargs.get("tool_calls")
            if legacy:
                response.message.additional_kwargs["tool_calls"] = legacy[:1]
        return response

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
        blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not blocks and error_on_no_tool_call:
            raise ValueError(f"Expected at least one tool call, but got {len(blocks)} tool calls.")
        partial = bool(response.additional_kwargs.get(PARTIAL_TOOL_CALLS))
        return [
            ToolSelection(
                tool_id=b.tool_call_id or "",
                tool_name=b.tool_name,
                tool_kwargs=_partial_kwargs(b.tool_kwargs) if partial else _exact_kwargs(b),
            )
            for b in blocks
        ]
