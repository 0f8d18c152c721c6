"""`ModelsLabClient` and `AsyncModelsLabClient`: a dialect codec composed with a transport.

Clients are cheap to build: the httpx client is created lazily on first use and then reused
(the async client keeps one per running event loop, never sharing one across loops). An
injected ``http_client`` is used as is and never closed by us. Inputs are checked before any
network call. Clients pickle (their httpx clients are dropped and recreated on demand).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

import httpx
from httpx._config import create_ssl_context

from .config import ClientConfig
from .cost.budget import open_ledgers
from .cost.catalog import ModelFacts, remember_listing
from .cost.charge import AnswerHook, Charge
from .cost.metering import metered, metered_async
from .dialects import DialectCodec, codec_for
from .transport.calls import (
    check_request,
    combine_counts,
    count_bodies,
    decode_chat,
    decode_models,
    decode_tokens,
)
from .transport.http import AsyncTransport, EventHandler, SyncTransport
from .types import ChatRequest, ChatResult, Dialect, ModelInfo, StreamDelta

__all__ = ["AsyncModelsLabClient", "ModelsLabClient"]

_H = TypeVar("_H", httpx.Client, httpx.AsyncClient)
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


_LoopClient = tuple[httpx.AsyncClient, AsyncGenerator[None, None]]


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Closes ``client`` when finalised: parked at its ``yield``, it is closed by the loop's
    ``shutdown_asyncgens()`` (which ``asyncio.run`` calls), so no socket outlives its loop."""
    try:
        yield
    finally:
        await client.aclose()


class _ClientBase(Generic[_H]):
    """Config, injected httpx client, input checks and codec choice shared by both clients."""

    def __init__(
        self,
        config: ClientConfig | None = None,
        *,
        http_client: _H | None = None,
        **config_fields: Any,
    ) -> None:
        self.config = _make_config(config, config_fields)
        self._injected: _H | None = http_client
        self._reset_io()

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"{type(self).__name__}(base_url={cfg.base_url!r}, dialect={cfg.dialect!r}, "
            f"auth={cfg.auth!r})"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in _UNPICKLED}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._injected = None
        self._reset_io()

    def _reset_io(self) -> None:
        raise NotImplementedError

    def _codec(self, dialect: Dialect | None) -> DialectCodec:
        return codec_for(dialect or self.config.dialect)

    def _chat_call(
        self, request: ChatRequest, dialect: Dialect | None, *, stream: bool
    ) -> tuple[DialectCodec, dict[str, Any], Charge]:
        """The codec, the JSON body and the `Charge` that will reserve, price and record the
        request (bad input, a bad catalog file or an unbounded cost under a budget fails here,
        before any I/O). A stream under a budget asks for usage even if ``request`` does not
        (the caller still does not see it)."""
        codec = self._codec(dialect)
        self.config.require_api_key()
        check_request(request)
        facts = self._facts(request.model)
        ledgers = open_ledgers()
        forced = stream and not request.include_usage and any(lg.budget for lg in ledgers)
        wire = request.model_copy(update={"include_usage": True}) if forced else request
        body = codec.encode_request(wire, stream=stream, model_field=self.config.model_field)
        charge = Charge.open(request.model, facts, body)
        charge.strip_usage = forced
        return codec, body, charge

    def _facts(self, model: str) -> ModelFacts | None:
        """What the catalog knows about ``model`` (with the config's price for it)."""
        return self.config.model_facts(model)

    def _counted(self, request: ChatRequest, charge: Charge, body: dict[str, Any], n: int) -> None:
        """Bound the input by the server's count (``count_input_tokens=True``)."""
        charge.use_input_count(self._facts(request.model), body, n)

    def _answer_hook(self, codec: DialectCodec, charge: Charge) -> AnswerHook:
        """The transport hook of a plain chat: decode (masked errors), price and record the
        answer while its in-flight slot is held."""
        secret = self.config.require_api_key()
        return charge.on_answer(lambda payload: decode_chat(codec, payload, secret))

    def _t(self) -> Any:
        raise NotImplementedError

    def _listing(self, models: list[ModelInfo]) -> list[ModelInfo]:
        """Remember the facts a ``/v1/models`` answer carries (see `catalog`)."""
        remember_listing(self.config.base_url, models)
        return models

    def _count_bodies(self, request: ChatRequest) -> list[dict[str, Any]]:
        self.config.require_api_key()
        check_request(request, chat=False)
        return count_bodies(request)

    @staticmethod
    def _handler(codec: DialectCodec) -> Callable[[], EventHandler[StreamDelta]]:
        """A factory of fresh per-attempt event handlers (codec state bound)."""

        def new() -> EventHandler[StreamDelta]:
            state = codec.new_stream_state()
            return functools.partial(codec.decode_event, state)  # a C-level call per event

        return new


class ModelsLabClient(_ClientBase[httpx.Client]):
    """Blocking client. ``ModelsLabClient(api_key=..., base_url=...)`` or pass a `ClientConfig`;
    ``http_client``: an ``httpx.Client`` to use as is (never closed by us)."""

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
        codec, body, charge = self._chat_call(request, dialect, stream=False)
        if charge.counts_input:
            self._counted(request, charge, body, self.count_tokens(request))
        hook = self._answer_hook(codec, charge)
        try:
            self._t().request_json("POST", codec.path, body, hook, charge)
        finally:
            charge.abandon()
        return charge.answered()

    def stream(
        self, request: ChatRequest, *, dialect: Dialect | None = None
    ) -> Iterator[StreamDelta]:
        """Stream the answer as deltas; a cut stream raises `StreamInterruptedError`."""
        codec, body, charge = self._chat_call(request, dialect, stream=True)
        if charge.counts_input:
            self._counted(request, charge, body, self.count_tokens(request))
        deltas = self._t().stream(codec.path, body, self._handler(codec), charge)
        return metered(deltas, charge)

    def count_tokens(self, request: ChatRequest) -> int:
        """Input tokens of ``request`` as the server counts them in a real request (always via
        the Anthropic ``count_tokens`` endpoint; no turns and no tools: 0, no request)."""
        bodies = self._count_bodies(request)
        t = self._t()
        return combine_counts(
            [decode_tokens(t.request_json("POST", COUNT_TOKENS_PATH, b)) for b in bodies]
        )

    def list_models(self) -> list[ModelInfo]:
        """The models the key can use (``GET /v1/models``)."""
        self.config.require_api_key()
        return self._listing(decode_models(self._t().request_json("GET", MODELS_PATH)))

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


class AsyncModelsLabClient(_ClientBase[httpx.AsyncClient]):
    """Async client; one httpx client per running event loop. ``await c.close()`` when done.
    ``http_client``: an ``httpx.AsyncClient`` to use as is (never closed by us)."""

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
        codec, body, charge = self._chat_call(request, dialect, stream=False)
        if charge.counts_input:
            self._counted(request, charge, body, await self.count_tokens(request))
        hook = self._answer_hook(codec, charge)
        try:
            await self._t().request_json("POST", codec.path, body, hook, charge)
        finally:
            await charge.off_loop(charge.abandon)
        return charge.answered()

    def stream(
        self, request: ChatRequest, *, dialect: Dialect | None = None
    ) -> AsyncIterator[StreamDelta]:
        """Stream the answer as deltas (``async for``); input is checked at call time."""
        codec, body, charge = self._chat_call(request, dialect, stream=True)

        async def count() -> None:
            self._counted(request, charge, body, await self.count_tokens(request))

        deltas = self._t().stream(codec.path, body, self._handler(codec), charge)
        return metered_async(deltas, charge, count if charge.counts_input else None)

    async def count_tokens(self, request: ChatRequest) -> int:
        """Input tokens of ``request`` (see `ModelsLabClient.count_tokens`)."""
        bodies = self._count_bodies(request)
        t = self._t()
        return combine_counts(
            [decode_tokens(await t.request_json("POST", COUNT_TOKENS_PATH, b)) for b in bodies]
        )

    async def list_models(self) -> list[ModelInfo]:
        """The models the key can use (``GET /v1/models``)."""
        self.config.require_api_key()
        return self._listing(decode_models(await self._t().request_json("GET", MODELS_PATH)))

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
