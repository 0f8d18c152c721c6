"""The clients against the stand-in server, each test run sync and async."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from _support import MODEL

from modelslab_core import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncModelsLabClient,
    AuthenticationError,
    BadRequestError,
    ChatRequest,
    ChatResult,
    ClientConfig,
    InsufficientCreditsError,
    InternalServerError,
    Message,
    ModelInfo,
    ModelsLabClient,
    NotFoundError,
    OverloadedError,
    PermissionDeniedError,
    ProcessingResponseError,
    RateLimitError,
    RequestTooLargeError,
    RetryPolicy,
    ServiceUnavailableError,
    StreamDelta,
    StreamInterruptedError,
    StreamTimeoutError,
)
from modelslab_core.testing import Fault, Reply, StandIn

FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05, max_server_delay=0.2)
R = TypeVar("R")


def request(text: str = "Hello there", **fields: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[Message.text("user", text)], **fields)


class Caller:
    """Runs one client operation through the sync or the async client (fresh client each call)."""

    def __init__(self, mode: str, standin: StandIn, **config: Any) -> None:
        self.mode = mode
        fields: dict[str, Any] = {
            "api_key": standin.api_key,
            "base_url": standin.base_url,
            "retry": FAST,
            **config,
        }
        self.config = ClientConfig(**fields)

    def _run(
        self,
        sync: Callable[[ModelsLabClient], R],
        aio: Callable[[AsyncModelsLabClient], Awaitable[R]],
    ) -> R:
        if self.mode == "sync":
            with ModelsLabClient(self.config) as client:
                return sync(client)

        async def go() -> R:
            async with AsyncModelsLabClient(self.config) as client:
                return await aio(client)

        return asyncio.run(go())

    def chat(self, req: ChatRequest, **kw: Any) -> ChatResult:
        return self._run(lambda c: c.chat(req, **kw), lambda c: c.chat(req, **kw))

    def stream(self, req: ChatRequest, **kw: Any) -> list[StreamDelta]:
        deltas, error = self.stream_until_error(req, **kw)
        if error is not None:
            raise error
        return deltas

    def stream_until_error(
        self, req: ChatRequest, **kw: Any
    ) -> tuple[list[StreamDelta], APIError | None]:
        got: list[StreamDelta] = []

        def sync(c: ModelsLabClient) -> APIError | None:
            try:
                got.extend(c.stream(req, **kw))
            except APIError as err:
                return err
            return None

        async def aio(c: AsyncModelsLabClient) -> APIError | None:
            try:
                async for d in c.stream(req, **kw):
                    got.append(d)
            except APIError as err:
                return err
            return None

        error = self._run(sync, aio)
        return got, error

    def count_tokens(self, req: ChatRequest) -> int:
        return self._run(lambda c: c.count_tokens(req), lambda c: c.count_tokens(req))

    def list_models(self) -> list[ModelInfo]:
        return self._run(lambda c: c.list_models(), lambda c: c.list_models())


def caller(mode: str, standin: StandIn, **config: Any) -> Caller:
    return Caller(mode, standin, **config)


def text_of(deltas: list[StreamDelta]) -> str:
    return "".join(d.text for d in deltas)


# ----------------------------------------------------------------------------- happy paths


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_chat(mode: str, standin: StandIn, dialect: str) -> None:
    result = caller(mode, standin).chat(request(), dialect=dialect)
    assert "Hello there" in result.text
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.input_tokens > 0
    assert result.raw
    rec = standin.last_request
    assert rec is not None
    assert rec.path.endswith("/chat/completions" if dialect == "openai" else "/v1/messages")
    assert rec.json is not None and rec.json["model"] == MODEL and rec.json["model_id"] == MODEL
    assert ("anthropic-version" in rec.headers) == (dialect == "anthropic")


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_stream_matches_chat(mode: str, standin: StandIn, dialect: str) -> None:
    call = caller(mode, standin)
    whole = call.chat(request(), dialect=dialect)
    deltas = call.stream(request(), dialect=dialect)
    assert text_of(deltas) == whole.text
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert any(d.usage is not None for d in deltas)
    assert standin.last_request is not None and standin.last_request.json is not None
    assert standin.last_request.json["stream"] is True
    assert standin.last_request.headers["accept"] == "text/event-stream"


def test_stream_survives_keepalives_and_slow_chunks(mode: str, standin: StandIn) -> None:
    standin.keepalive_every = 1
    standin.chunk_delay = 0.05
    deltas = caller(mode, standin, stream_chunk_timeout=1.0).stream(request("one two three"))
    assert "one two three" in text_of(deltas)


def test_scripted_reply_with_tool_call(mode: str, standin: StandIn) -> None:
    standin.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    result = caller(mode, standin).chat(request())
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]


def test_config_dialect_is_the_default(mode: str, standin: StandIn) -> None:
    caller(mode, standin, dialect="anthropic").chat(request())
    assert standin.last_request is not None
    assert standin.last_request.path.endswith("/v1/messages")


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_count_tokens_always_anthropic(mode: str, standin: StandIn, dialect: str) -> None:
    tokens = caller(mode, standin, dialect=dialect).count_tokens(request("a b c d e f"))
    assert isinstance(tokens, int) and tokens > 0
    rec = standin.last_request
    assert rec is not None and rec.method == "POST"
    assert rec.path.endswith("/v1/messages/count_tokens")
    assert rec.json is not None and rec.json["model"] == MODEL
    assert rec.headers.get("anthropic-version") == "2023-06-01"


def test_list_models(mode: str, standin: StandIn) -> None:
    models = caller(mode, standin).list_models()
    assert models and all(isinstance(m, ModelInfo) for m in models)
    assert MODEL in {m.id for m in models}
    rec = standin.last_request
    assert rec is not None and rec.method == "GET" and rec.path.endswith("/v1/models")


# ----------------------------------------------------------------------------- the wire


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("auth", ["bearer", "body", "x-api-key"])
def test_auth_modes_on_the_wire(mode: str, standin: StandIn, auth: str, dialect: str) -> None:
    caller(mode, standin, auth=auth).chat(request(), dialect=dialect)
    rec = standin.last_request
    assert rec is not None and rec.json is not None
    key = standin.api_key
    body_key = auth == "body" and dialect == "openai"
    assert (rec.json.get("key") == key) is body_key
    # x-api-key is documented for the /v1 paths only; /chat/completions falls back to Bearer
    x_api_key = auth == "x-api-key" and dialect == "anthropic"
    assert (rec.headers.get("x-api-key") == key) is x_api_key
    bearer = not body_key and not x_api_key
    assert (rec.headers.get("authorization") == f"Bearer {key}") is bearer
    assert key not in rec.path


def test_wrong_key_is_authentication_error(mode: str, standin: StandIn) -> None:
    call = Caller(mode, standin, api_key="wrong-key-0123")
    with pytest.raises(AuthenticationError) as info:
        call.chat(request())
    assert "wrong-key-0123" not in str(info.value) and "wrong-key-0123" not in repr(info.value.body)
    assert len(standin.requests) == 1


@pytest.mark.parametrize("field", ["model", "model_id", "both"])
def test_model_field(mode: str, standin: StandIn, field: str) -> None:
    caller(mode, standin, model_field=field).chat(request())
    rec = standin.last_request
    assert rec is not None and rec.json is not None
    assert ("model" in rec.json) is (field in ("model", "both"))
    assert ("model_id" in rec.json) is (field in ("model_id", "both"))


def test_user_agent_and_default_headers(mode: str, standin: StandIn) -> None:
    call = caller(mode, standin, default_headers={"X-Trace": "abc"})
    call.list_models()
    rec = standin.last_request
    assert rec is not None
    assert rec.headers["user-agent"] == call.config.user_agent
    assert rec.headers["user-agent"].startswith("modelslab-integrations/")
    assert rec.headers["x-trace"] == "abc"


# ----------------------------------------------------------------------------- errors

NOT_RETRIED = [
    (400, BadRequestError),
    (401, AuthenticationError),
    (402, InsufficientCreditsError),
    (403, PermissionDeniedError),
    (404, NotFoundError),
    (413, RequestTooLargeError),
    (422, BadRequestError),
]
RETRIED = [
    (429, RateLimitError),
    (500, InternalServerError),
    (503, ServiceUnavailableError),
    (529, OverloadedError),
]


@pytest.mark.parametrize(("status", "cls"), NOT_RETRIED)
def test_status_errors_not_retried(
    mode: str, standin: StandIn, status: int, cls: type[APIError]
) -> None:
    standin.enqueue(Fault.status(status))
    with pytest.raises(cls) as info:
        caller(mode, standin).chat(request())
    assert info.value.status_code == status and info.value.message
    assert len(standin.requests) == 1


@pytest.mark.parametrize(("status", "cls"), RETRIED)
def test_status_errors_retried_until_exhausted(
    mode: str, standin: StandIn, status: int, cls: type[APIError]
) -> None:
    standin.enqueue(*[Fault.status(status, retry_after=0.01)] * 3)
    with pytest.raises(cls) as info:
        caller(mode, standin).chat(request())
    assert info.value.status_code == status
    assert len(standin.requests) == 3  # max_retries=2


@pytest.mark.parametrize(("status", "cls"), RETRIED)
def test_status_errors_in_streams(
    mode: str, standin: StandIn, status: int, cls: type[APIError]
) -> None:
    standin.enqueue(Fault.status(status))
    deltas, error = caller(mode, standin, retry=RetryPolicy(max_retries=0)).stream_until_error(
        request()
    )
    assert type(error) is cls and deltas == []


def test_retry_then_success(mode: str, standin: StandIn) -> None:
    standin.enqueue(
        Fault.status(503), Fault.cut_before_headers(), Fault.status(429, retry_after=0.05)
    )
    call = caller(
        mode, standin, retry=RetryPolicy(max_retries=3, initial_delay=0.01, max_server_delay=0.2)
    )
    start = time.monotonic()
    assert "Hello there" in call.chat(request()).text
    assert time.monotonic() - start >= 0.05  # the server's retry_after was honoured
    assert len(standin.requests) == 4


def test_server_delay_is_capped(mode: str, standin: StandIn) -> None:
    standin.enqueue(
        Fault.status(429, retry_after=30), Fault.status(503, headers={"Retry-After": "30"})
    )
    start = time.monotonic()
    caller(mode, standin).chat(request())
    assert time.monotonic() - start < 2.0  # capped at max_server_delay=0.2 each
    assert len(standin.requests) == 3


def test_x_should_retry_false_is_obeyed(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.status(503, headers={"x-should-retry": "false"}))
    with pytest.raises(ServiceUnavailableError):
        caller(mode, standin).chat(request())
    assert len(standin.requests) == 1


def test_stream_retried_before_first_byte(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.status(500), Fault.cut_before_headers())
    deltas = caller(mode, standin).stream(request())
    assert "Hello there" in text_of(deltas)
    assert len(standin.requests) == 3


def test_connection_refused(mode: str) -> None:
    config = ClientConfig(
        api_key="k",
        base_url="http://127.0.0.1:9/api/v7/llm",
        retry=RetryPolicy(max_retries=1, initial_delay=0.01),
    )
    call = Caller.__new__(Caller)
    call.mode, call.config = mode, config
    with pytest.raises(APIConnectionError):
        call.chat(request())


def test_cut_before_headers_without_retries(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.cut_before_headers())
    with pytest.raises(APIConnectionError):
        caller(mode, standin, retry=RetryPolicy(max_retries=0)).chat(request())


def test_envelope_error_on_200(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.envelope_error("Provider returned error"))
    with pytest.raises(APIStatusError) as info:
        caller(mode, standin).chat(request())
    assert info.value.message == "Provider returned error"
    assert len(standin.requests) == 1  # no retry_after: not retried


def test_envelope_error_with_retry_after_is_retried(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.envelope_error("Rate limit exceeded", retry_after=0.01))
    assert caller(mode, standin).chat(request()).text
    assert len(standin.requests) == 2


def test_envelope_error_to_stream_request(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.envelope_error("upstream rejected 'top_k'"))
    deltas, error = caller(mode, standin).stream_until_error(request())
    assert isinstance(error, APIStatusError) and "top_k" in error.message and deltas == []


def test_processing_envelope(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.processing(id="job-77"))
    with pytest.raises(ProcessingResponseError) as info:
        caller(mode, standin).chat(request())
    assert info.value.processing_id == "job-77" and "job-77" in str(info.value)
    assert len(standin.requests) == 1


@pytest.mark.parametrize(
    ("dialect", "error_type", "cls"),
    [
        ("openai", None, APIStatusError),
        ("openai", "overloaded_error", OverloadedError),
        ("anthropic", None, InternalServerError),
        ("anthropic", "overloaded_error", OverloadedError),
        ("anthropic", "rate_limit_error", RateLimitError),
    ],
)
def test_error_mid_stream(
    mode: str, standin: StandIn, dialect: str, error_type: str | None, cls: type[APIError]
) -> None:
    standin.enqueue(
        Fault.error_mid_stream(after_events=3, message="upstream failed", error_type=error_type)
    )
    deltas, error = caller(mode, standin).stream_until_error(request("a b c d e"), dialect=dialect)
    assert type(error) is cls
    assert error is not None and error.message == "upstream failed"
    assert deltas, "the deltas before the error reach the caller"
    assert len(standin.requests) == 1  # never retried after the first chunk


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_cut_stream_is_interrupted_not_retried(mode: str, standin: StandIn, dialect: str) -> None:
    standin.enqueue(Fault.cut_mid_stream(after_events=3))
    deltas, error = caller(mode, standin).stream_until_error(request("a b c d e"), dialect=dialect)
    assert isinstance(error, StreamInterruptedError)
    assert deltas and not any(d.finish_reason for d in deltas)
    assert len(standin.requests) == 1


def test_cut_json_body_is_retried(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.cut_mid_stream())
    assert caller(mode, standin).chat(request()).text
    assert len(standin.requests) == 2


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_stall_mid_stream_times_out(mode: str, standin: StandIn, dialect: str) -> None:
    standin.enqueue(Fault.stall(1.5, after_events=2))
    start = time.monotonic()
    deltas, error = caller(mode, standin, stream_chunk_timeout=0.3).stream_until_error(
        request("a b c d"), dialect=dialect
    )
    assert isinstance(error, StreamTimeoutError)
    assert deltas, "events before the stall reached the caller, so no retry"
    assert time.monotonic() - start < 1.4
    assert len(standin.requests) == 1


def test_stall_before_headers(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.stall(1.5))
    call = caller(
        mode, standin, stream_chunk_timeout=0.3, read_timeout=0.3, retry=RetryPolicy(max_retries=0)
    )
    _, error = call.stream_until_error(request())
    assert isinstance(error, StreamTimeoutError)
    standin.enqueue(Fault.stall(1.5))
    with pytest.raises(APITimeoutError):
        call.chat(request())


def test_total_timeout_is_a_deadline(mode: str, standin: StandIn) -> None:
    standin.enqueue(*[Fault.stall(1.0)] * 3)
    call = caller(mode, standin, read_timeout=5.0, total_timeout=0.4)
    start = time.monotonic()
    with pytest.raises(APITimeoutError):
        call.chat(request())
    assert time.monotonic() - start < 0.9


def test_malformed_json(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.malformed_json())
    with pytest.raises(APIResponseValidationError):
        caller(mode, standin).chat(request())
    assert len(standin.requests) == 1


def test_malformed_sse(mode: str, standin: StandIn) -> None:
    standin.enqueue(Fault.malformed_sse(after_events=2))
    deltas, error = caller(mode, standin).stream_until_error(request())
    assert isinstance(error, APIResponseValidationError)
    assert deltas
    assert len(standin.requests) == 1


# ----------------------------------------------------------------------------- in-flight cap


def test_in_flight_cap_seen_from_the_server(mode: str, standin: StandIn) -> None:
    standin.max_in_flight = 5
    standin.chunk_delay = 0.005
    config = ClientConfig(
        api_key=standin.api_key,
        base_url=standin.base_url,
        max_in_flight=5,
        retry=RetryPolicy(max_retries=0),
    )
    reqs = [request(f"prompt number {i}") for i in range(40)]
    if mode == "sync":
        with ModelsLabClient(config) as client, concurrent.futures.ThreadPoolExecutor(40) as pool:
            texts = list(pool.map(lambda r: text_of(list(client.stream(r))), reqs))
    else:

        async def one(client: AsyncModelsLabClient, r: ChatRequest) -> str:
            return text_of([d async for d in client.stream(r)])

        async def main() -> list[str]:
            async with AsyncModelsLabClient(config) as client:
                return list(await asyncio.gather(*(one(client, r) for r in reqs)))

        texts = asyncio.run(main())
    assert all(f"prompt number {i}" in t for i, t in enumerate(texts))
    assert len(standin.requests) == 40  # zero 429s: nothing was rejected and retried
    assert 2 <= standin.max_in_flight_seen <= 5


# ----------------------------------------------------------------------------- client life


def test_async_client_on_two_loops_one_after_another(standin: StandIn) -> None:
    client = AsyncModelsLabClient(api_key=standin.api_key, base_url=standin.base_url)
    first = asyncio.run(client.chat(request("first")))
    second = asyncio.run(client.chat(request("second")))
    assert "first" in first.text and "second" in second.text

    async def close() -> None:
        await client.close()

    asyncio.run(close())


async def test_async_client_reuses_one_http_client_per_loop(standin: StandIn) -> None:
    client = AsyncModelsLabClient(api_key=standin.api_key, base_url=standin.base_url)
    await client.chat(request())
    await client.list_models()
    assert standin.connections_opened == 1
    await client.close()


def test_sync_client_reuses_connections(standin: StandIn) -> None:
    with ModelsLabClient(api_key=standin.api_key, base_url=standin.base_url) as client:
        client.chat(request())
        list(client.stream(request()))
        list(client.stream(request(), dialect="anthropic"))
        client.count_tokens(request())
    assert standin.connections_opened == 1  # streams were read to the end


def test_injected_http_client_is_used_and_left_open(standin: StandIn) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    with ModelsLabClient(
        api_key=standin.api_key, base_url=standin.base_url, http_client=http
    ) as client:
        client.chat(request())
    assert seen == ["/api/v7/llm/chat/completions"]
    assert not http.is_closed
    http.close()


async def test_injected_async_http_client(standin: StandIn) -> None:
    async with httpx.AsyncClient(headers={"X-Injected": "yes"}) as http:
        client = AsyncModelsLabClient(
            api_key=standin.api_key, base_url=standin.base_url, http_client=http
        )
        await client.chat(request())
        await client.close()
        assert not http.is_closed
    assert standin.last_request is not None
    assert standin.last_request.headers["x-injected"] == "yes"


def test_pickle_round_trip(mode: str, standin: StandIn) -> None:
    cls = ModelsLabClient if mode == "sync" else AsyncModelsLabClient
    client = cls(api_key=standin.api_key, base_url=standin.base_url)
    if mode == "sync":
        assert isinstance(client, ModelsLabClient)
        client.chat(request())
    clone = pickle.loads(pickle.dumps(client))
    assert clone.config == client.config
    if isinstance(clone, ModelsLabClient):
        assert "Hello" in clone.chat(request()).text
        clone.close()
        client.close()
    else:
        assert isinstance(clone, AsyncModelsLabClient)

        async def go() -> str:
            async with clone as c:
                return (await c.chat(request())).text

        assert "Hello" in asyncio.run(go())


# ----------------------------------------------------------------------------- input checks


def test_missing_key_fails_before_the_network(
    mode: str, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELSLAB_API_KEY", raising=False)
    call = caller(mode, standin, api_key=None)
    for op in (
        lambda: call.chat(request()),
        lambda: call.stream(request()),
        lambda: call.count_tokens(request()),
        call.list_models,
    ):
        with pytest.raises(ValueError, match="MODELSLAB_API_KEY"):
            op()
    assert standin.requests == []


def test_bad_requests_fail_before_the_network(mode: str, standin: StandIn) -> None:
    call = caller(mode, standin)
    with pytest.raises(ValueError, match="messages"):
        call.chat(ChatRequest(model=MODEL, messages=[]))
    with pytest.raises(ValueError, match="messages"):
        call.stream(ChatRequest(model=MODEL, messages=[]))
    with pytest.raises(ValueError, match="model"):
        call.chat(ChatRequest(model=" ", messages=[Message.text("user", "hi")]))
    with pytest.raises(TypeError):
        call.chat({"model": MODEL})  # type: ignore[arg-type]
    assert standin.requests == []


def test_stream_checks_input_at_call_time(standin: StandIn) -> None:
    client = AsyncModelsLabClient(api_key=standin.api_key, base_url=standin.base_url)
    with pytest.raises(ValueError):
        client.stream(ChatRequest(model=MODEL, messages=[]))  # no iteration needed
    sync = ModelsLabClient(api_key=standin.api_key, base_url=standin.base_url)
    with pytest.raises(ValueError):
        sync.stream(ChatRequest(model=MODEL, messages=[]))


# ----------------------------------------------------------------------------- the key stays secret


def test_key_never_in_repr_logs_or_errors(
    mode: str, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    key = standin.api_key
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "modelslab_core"):
        caplog.set_level(logging.DEBUG, logger=name)
    errors: list[APIError] = []
    for auth in ("bearer", "body", "x-api-key"):
        call = caller(mode, standin, auth=auth)
        call.chat(request())
        call.stream(request(), dialect="anthropic")
        standin.enqueue(Fault.status(401, body={"error": {"message": f"bad key {key}"}}))
        with pytest.raises(AuthenticationError) as info:
            call.chat(request())
        errors.append(info.value)
        standin.enqueue(Fault.cut_mid_stream(after_events=2))
        _, err = call.stream_until_error(request("a b c"))
        assert err is not None
        errors.append(err)
    assert caplog.records, "debug logging was captured"
    assert key not in caplog.text
    for err in errors:
        assert key not in str(err) and key not in repr(err) and key not in repr(err.body)
    for client in (ModelsLabClient(api_key=key), AsyncModelsLabClient(api_key=key)):
        assert key not in repr(client) and key not in repr(client.config)
        assert key not in str(vars(client))


# ----------------------------------------------------------------------------- follow-ups


def test_anthropic_with_model_id_field_still_sends_model(mode: str, standin: StandIn) -> None:
    """The stand-in (like Anthropic) requires ``model`` on /v1/messages; model_id rides along."""
    result = caller(mode, standin, dialect="anthropic", model_field="model_id").chat(request())
    assert result.text == "You said: Hello there"
    rec = standin.last_request
    assert rec is not None and rec.json is not None and rec.path.endswith("/v1/messages")
    assert rec.json["model"] == rec.json["model_id"] == MODEL


def test_openai_tool_result_images_reach_the_server(mode: str, standin: StandIn) -> None:
    """Images of a tool result arrive in a user message after the tool run (none dropped)."""
    from modelslab_core.types import ImagePart, TextPart, ToolCall

    image = ImagePart(data="QUJD", mime_type="image/png")
    messages = [
        Message.text("user", "Draw it."),
        Message(role="assistant", tool_calls=[ToolCall(id="c1", name="draw")]),
        Message(role="tool", tool_call_id="c1", content=[TextPart(text="drawn"), image]),
    ]
    caller(mode, standin).chat(ChatRequest(model=MODEL, messages=messages))
    rec = standin.last_request
    assert rec is not None and rec.json is not None
    assert rec.json["messages"][2:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "drawn"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Images returned by tool call c1:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
            ],
        },
    ]
