"""`ModelsLabClient` and `AsyncModelsLabClient`: a dialect codec composed with a transport.

Clients are cheap to build: the httpx client is created lazily on first use and then reused
(the async client keeps one per running event loop, never sharing one across loops). An
injected ``http_client`` is used as is and never closed by us. Inputs are checked before any
network call. Clients pickle (their httpx clients are dropped and recreated on demand).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any

import httpx
from httpx._config import create_ssl_context
from pydantic import ValidationError

from ._config import ClientConfig
from ._exceptions import APIResponseValidationError
from ._metering import metered, metered_async
from ._transport import AsyncTransport, EventHandler, SyncTransport
from .budget import Charge
from .catalog import remember_listing, resolve_model
from .dialects import anthropic_messages, openai_chat
from .dialects._base import DialectCodec
from .types import ChatRequest, ChatResult, Dialect, JsonSchemaFormat, ModelInfo, StreamDelta

__all__ = ["AsyncModelsLabClient", "ModelsLabClient"]

_CODECS: dict[str, DialectCodec] = {
    "openai": openai_chat.DIALECT,
    "anthropic": anthropic_messages.DIALECT,
}
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
MODELS_PATH = "/v1/models"
_UNPICKLED = ("_http", "_injected", "_transport", "_lock", "_clients")


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """The TLS context of the httpx clients we create, built once per process.

    httpx builds a fresh one per client, and loading the CA bundle costs ~50 ms of CPU with the
    GIL held: paid by every model instance and every event loop without this cache.
    """
    return create_ssl_context()


def _make_config(config: ClientConfig | None, fields: dict[str, Any]) -> ClientConfig:
    """A config from an existing one and/or keyword fields (fields win)."""
    if config is None:
        return ClientConfig(**fields)
    if not isinstance(config, ClientConfig):
        raise TypeError(f"config must be a ClientConfig, not {type(config).__name__}")
    if not fields:
        return config
    return ClientConfig(**{**dict(config), **fields})


def _check_request(request: ChatRequest) -> None:
    """Reject bad input before any network call."""
    if not isinstance(request, ChatRequest):
        raise TypeError(f"request must be a ChatRequest, not {type(request).__name__}")
    if not request.messages:
        raise ValueError("ChatRequest.messages is empty: send at least one message")
    if not request.model.strip():
        raise ValueError("ChatRequest.model is empty: name the model to use")
    _check_sampling(request)
    _check_serialisable(request)


_RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
"""Documented bounds of the sampling fields (``modelslab-llm-openapi.json``)."""


def _check_sampling(request: ChatRequest) -> None:
    """Out-of-range sampling values fail here, not as a 400 (or worse, silently) later."""
    for name, (low, high) in _RANGES.items():
        value = getattr(request, name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    if request.max_tokens is not None and request.max_tokens <= 0:
        raise ValueError(f"max_tokens must be a positive integer, got {request.max_tokens!r}")


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: not JSON-serialisable ({exc})") from None


def _check_serialisable(request: ChatRequest) -> None:
    """Everything sent as JSON must be JSON; the error names the part that is not."""
    for message in request.messages:
        for call in message.tool_calls:
            _check_json(call.arguments, f"The arguments of tool call {call.name!r} ({call.id})")
    for tool in request.tools:
        _check_json(tool.parameters, f"The parameters schema of tool {tool.name!r}")
    if isinstance(request.response_format, JsonSchemaFormat):
        _check_json(request.response_format.schema_, "The response_format schema")
    _check_json(request.extra_body, "extra_body")


def _decode_chat(codec: DialectCodec, payload: dict[str, Any]) -> ChatResult:
    try:
        return codec.decode_response(payload)
    except (ValueError, TypeError, KeyError) as exc:
        raise APIResponseValidationError(
            f"Unexpected {codec.name} response: {exc}", body=payload
        ) from exc


def _decode_tokens(payload: dict[str, Any]) -> int:
    tokens = payload.get("input_tokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise APIResponseValidationError(
            "count_tokens answer has no integer 'input_tokens'", body=payload
        )
    return tokens


def _decode_models(payload: dict[str, Any]) -> list[ModelInfo]:
    data = payload.get("data")
    if not isinstance(data, list):
        raise APIResponseValidationError("/v1/models answer has no 'data' list", body=payload)
    try:
        return [ModelInfo.model_validate(item) for item in data]
    except ValidationError as exc:
        raise APIResponseValidationError(f"Unexpected model entry: {exc}", body=payload) from exc


_LoopClient = tuple[httpx.AsyncClient, AsyncGenerator[None, None]]


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Closes ``client`` when finalised: parked at its ``yield``, it is closed by the loop's
    ``shutdown_asyncgens()`` (which ``asyncio.run`` calls), so no socket outlives its loop."""
    try:
        yield
    finally:
        await client.aclose()


class _ClientBase:
    """Config, input checks and codec choice shared by both clients."""

    def __init__(self, config: ClientConfig | None = None, **config_fields: Any) -> None:
        self.config = _make_config(config, config_fields)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"{type(self).__name__}(base_url={cfg.base_url!r}, dialect={cfg.dialect!r}, "
            f"auth={cfg.auth!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _UNPICKLED}

    def _codec(self, dialect: Dialect | None) -> DialectCodec:
        name = dialect or self.config.dialect
        if name not in _CODECS:
            raise ValueError(f"Unknown dialect {name!r}; use 'openai' or 'anthropic'")
        return _CODECS[name]

    def _chat_body(
        self, request: ChatRequest, codec: DialectCodec, *, stream: bool
    ) -> tuple[dict[str, Any], Charge]:
        """The wire body and the `Charge` that will price and record the answer."""
        cfg = self.config
        cfg.require_api_key()
        _check_request(request)
        body = codec.encode_request(request, stream=stream, model_field=cfg.model_field)
        return body, self._charge(request.model)

    def _charge(self, model: str) -> Charge:
        """A charge at ``model``'s catalog price (a bad catalog file fails here, unsent)."""
        cfg = self.config
        facts = resolve_model(
            model,
            base_url=cfg.base_url,
            catalog_file=cfg.catalog_file,
            pricing=cfg.pricing.get(model),
        )
        return Charge.open(model, None if facts is None else facts.pricing)

    def _listing(self, models: list[ModelInfo]) -> list[ModelInfo]:
        """Remember the facts a ``/v1/models`` answer carries (see `catalog`)."""
        remember_listing(self.config.base_url, models)
        return models

    def _count_body(self, request: ChatRequest) -> dict[str, Any]:
        self.config.require_api_key()
        _check_request(request)
        return anthropic_messages.DIALECT.encode_count_tokens(request)

    @staticmethod
    def _handler(codec: DialectCodec) -> Callable[[], EventHandler[StreamDelta]]:
        """A factory of fresh per-attempt event handlers (codec state bound)."""

        def new() -> EventHandler[StreamDelta]:
            state = codec.new_stream_state()
            return lambda event, data: codec.decode_event(state, event, data)

        return new


class ModelsLabClient(_ClientBase):
    """Blocking client. ``ModelsLabClient(api_key=..., base_url=...)`` or pass a `ClientConfig`."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http_client: httpx.Client | None = None,
        **config_fields: Any,
    ) -> None:
        super().__init__(config, **config_fields)
        self._injected = http_client
        self._reset_io()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._injected = None
        self._reset_io()

    def _reset_io(self) -> None:
        self._http: httpx.Client | None = None
        self._transport: SyncTransport | None = None
        self._lock = threading.Lock()

    def _get_http(self) -> httpx.Client:
        if self._injected is not None:
            return self._injected
        with self._lock:
            if self._http is None or self._http.is_closed:
                self._http = httpx.Client(verify=_ssl_context())
            return self._http

    def _t(self) -> SyncTransport:
        if self._transport is None:
            self._transport = SyncTransport(self.config, self._get_http)
        return self._transport

    def chat(self, request: ChatRequest, *, dialect: Dialect | None = None) -> ChatResult:
        """Send ``request`` and return the complete answer (``cost`` set when priced)."""
        codec = self._codec(dialect)
        body, charge = self._chat_body(request, codec, stream=False)
        self._t().request_json(
            "POST", codec.path, body, charge.on_answer(functools.partial(_decode_chat, codec))
        )
        return charge.answered()

    def stream(
        self, request: ChatRequest, *, dialect: Dialect | None = None
    ) -> Iterator[StreamDelta]:
        """Stream the answer as deltas; a cut stream raises `StreamInterruptedError`."""
        codec = self._codec(dialect)
        body, charge = self._chat_body(request, codec, stream=True)
        return metered(self._t().stream(codec.path, body, self._handler(codec)), charge)

    def count_tokens(self, request: ChatRequest) -> int:
        """Input tokens of ``request`` (always via the Anthropic ``count_tokens`` endpoint)."""
        body = self._count_body(request)
        return _decode_tokens(self._t().request_json("POST", COUNT_TOKENS_PATH, body))

    def list_models(self) -> list[ModelInfo]:
        """The models the key can use (``GET /v1/models``)."""
        self.config.require_api_key()
        return self._listing(_decode_models(self._t().request_json("GET", MODELS_PATH)))

    def close(self) -> None:
        """Close the httpx client this object created (an injected one is left open)."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> ModelsLabClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncModelsLabClient(_ClientBase):
    """Async client; one httpx client per running event loop. ``await c.close()`` when done."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        **config_fields: Any,
    ) -> None:
        super().__init__(config, **config_fields)
        self._injected = http_client
        self._reset_io()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._injected = None
        self._reset_io()

    def _reset_io(self) -> None:
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self._transport: AsyncTransport | None = None
        self._lock = threading.Lock()

    async def _get_http(self) -> httpx.AsyncClient:
        if self._injected is not None:
            return self._injected
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]  # closed by its loop's shutdown_asyncgens (or gone)
            entry = self._clients.get(loop)
            if entry is not None and not entry[0].is_closed:
                return entry[0]
            client = httpx.AsyncClient()
            closer = _close_with_loop(client)
            self._clients[loop] = (client, closer)
        await closer.__anext__()  # parked at its yield, registered with this loop
        return client

    def _t(self) -> AsyncTransport:
        if self._transport is None:
            self._transport = AsyncTransport(self.config, self._get_http)
        return self._transport

    async def chat(self, request: ChatRequest, *, dialect: Dialect | None = None) -> ChatResult:
        """Send ``request`` and return the complete answer (``cost`` set when priced)."""
        codec = self._codec(dialect)
        body, charge = self._chat_body(request, codec, stream=False)
        hook = charge.on_answer(functools.partial(_decode_chat, codec))
        await self._t().request_json("POST", codec.path, body, hook)
        return charge.answered()

    def stream(
        self, request: ChatRequest, *, dialect: Dialect | None = None
    ) -> AsyncIterator[StreamDelta]:
        """Stream the answer as deltas (``async for``); input is checked at call time."""
        codec = self._codec(dialect)
        body, charge = self._chat_body(request, codec, stream=True)
        return metered_async(self._t().stream(codec.path, body, self._handler(codec)), charge)

    async def count_tokens(self, request: ChatRequest) -> int:
        """Input tokens of ``request`` (always via the Anthropic ``count_tokens`` endpoint)."""
        body = self._count_body(request)
        return _decode_tokens(await self._t().request_json("POST", COUNT_TOKENS_PATH, body))

    async def list_models(self) -> list[ModelInfo]:
        """The models the key can use (``GET /v1/models``)."""
        self.config.require_api_key()
        return self._listing(_decode_models(await self._t().request_json("GET", MODELS_PATH)))

    async def close(self) -> None:
        """Close the httpx client of the running loop; drop those of other loops."""
        loop = asyncio.get_running_loop()
        with self._lock:
            clients, self._clients = self._clients, {}
        entry = clients.get(loop)
        if entry is not None:
            await entry[1].aclose()

    aclose = close

    async def __aenter__(self) -> AsyncModelsLabClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
