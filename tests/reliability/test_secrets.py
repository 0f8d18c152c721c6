"""The API key never leaks: not in reprs, dumps, serialisations, exceptions, logs or URLs.

A dedicated stand-in accepts a distinctive key, so any leak is a plain substring match.
Pickling (for process pools) must work without dragging live connections along.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from langchain_core.load import dumpd, dumps
from llama_index.core.base.llms.types import ChatMessage
from rel_drivers import LAYERS, MODEL, invoke_in_worker

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import (
    APIError,
    AsyncModelsLabClient,
    ChatRequest,
    ClientConfig,
    Message,
    ModelsLabClient,
    RetryPolicy,
)
from modelslab_core.testing import Fault, StandIn

SECRET = "mlk-7Q2xZ9pL4vR8sT1uW6yB3nC5"
AUTH_MODES = ("bearer", "x-api-key", "body")
FAST = RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.02)


@pytest.fixture(scope="module")
def secret_server() -> Iterator[StandIn]:
    with StandIn(api_key=SECRET) as srv:
        yield srv


@pytest.fixture
def srv(secret_server: StandIn) -> StandIn:
    secret_server.reset()
    return secret_server


def build(layer: str, url: str, *, auth: str = "bearer", dialect: str = "openai") -> Any:
    """A model or client of ``layer`` holding the secret key."""
    if layer == "core":
        return ModelsLabClient(
            api_key=SECRET,
            base_url=url,
            auth=auth,
            dialect=dialect,
            retry=FAST,
            stream_chunk_timeout=0.3,
        )
    if layer == "langchain":
        return ChatModelsLab(
            api_key=SECRET,
            base_url=url,
            auth=auth,
            dialect=dialect,
            model=MODEL,
            max_retries=1,
            retry_initial_delay=0.01,
            stream_chunk_timeout=0.3,
        )
    return ModelsLab(
        api_key=SECRET,
        api_base=url,
        auth=auth,
        dialect=dialect,
        model=MODEL,
        max_retries=1,
        client_options={"retry": {"initial_delay": 0.01}, "stream_chunk_timeout": 0.3},
    )


def chat(layer: str, obj: Any, prompt: str = "Say: hello there") -> str:
    if layer == "core":
        return str(obj.chat(ChatRequest(model=MODEL, messages=[Message.text("user", prompt)])).text)
    if layer == "langchain":
        return str(obj.invoke(prompt).content)
    return str(obj.chat([ChatMessage(role="user", content=prompt)]).message.content)


def stream(layer: str, obj: Any, prompt: str = "Say: hello there") -> str:
    if layer == "core":
        request = ChatRequest(model=MODEL, messages=[Message.text("user", prompt)])
        return "".join(d.text for d in obj.stream(request))
    if layer == "langchain":
        return "".join(str(c.content) for c in obj.stream(prompt))
    return "".join(
        r.delta or "" for r in obj.stream_chat([ChatMessage(role="user", content=prompt)])
    )


def flatten(value: Any, depth: int = 0, seen: set[int] | None = None) -> Iterator[str]:
    """Every string reachable from ``value`` (containers, exception attributes), plus reprs."""
    seen = set() if seen is None else seen
    if depth > 6 or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        yield value if isinstance(value, str) else value.decode("utf-8", "replace")
        return
    yield repr(value)
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(k, depth + 1, seen)
            yield from flatten(v, depth + 1, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from flatten(item, depth + 1, seen)
    elif isinstance(value, BaseException):  # other objects count by their repr only
        yield from flatten(vars(value), depth + 1, seen)


def assert_no_secret(*values: Any) -> None:
    for value in values:
        for text in flatten(value):
            assert SECRET not in text, f"the key leaked: {text[:200]!r}"


def exception_chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


# --------------------------------------------------------------------------- reprs and dumps


@pytest.mark.parametrize("layer", LAYERS)
def test_key_absent_from_reprs_and_dumps_before_and_after_use(srv: StandIn, layer: str) -> None:
    obj = build(layer, srv.base_url)
    for _ in range(2):  # fresh, then with live clients inside
        views: list[Any] = [repr(obj), str(obj)]
        if layer == "core":
            views += [
                obj.config,
                obj.config.model_dump(),
                obj.config.model_dump_json(),
                repr(obj.config),
            ]
        elif layer == "langchain":
            views += [
                obj.model_dump(),
                obj.model_dump_json(),
                dumpd(obj),
                dumps(obj),
                obj._identifying_params,
                obj._get_invocation_params(),
                obj._get_llm_string(),
                obj._get_ls_params(),
                repr(obj.bind_tools([])),
            ]
        else:
            views += [
                obj.model_dump(),
                obj.model_dump_json(),
                obj.to_dict(),
                obj.to_json(),
                obj.to_payload(),
                obj.metadata,
                repr(obj.client_config()),
            ]
        assert_no_secret(*views)
        assert chat(layer, obj) == "hello there"


def test_client_config_masks_the_key() -> None:
    config = ClientConfig(api_key=SECRET)
    assert_no_secret(repr(config), str(config), config.model_dump(), config.model_dump_json())
    assert config.require_api_key() == SECRET  # still usable


def test_async_client_repr(srv: StandIn) -> None:
    client = AsyncModelsLabClient(api_key=SECRET, base_url=srv.base_url)

    async def go() -> str:
        async with client:
            result = await client.chat(
                ChatRequest(model=MODEL, messages=[Message.text("user", "Say: ok")])
            )
            assert_no_secret(repr(client), str(client), repr(client.config))
            return result.text

    assert asyncio.run(go()) == "ok"


# --------------------------------------------------------------------------- exceptions


def _faults() -> list[tuple[str, Fault | None, bool]]:
    """(name, fault, streaming) of failures; some make the server echo the key back."""
    return [
        ("401", Fault.status(401), False),
        (
            "400-echo",
            Fault.status(
                400,
                body={
                    "error": {
                        "message": f"Key {SECRET} may not use this model",
                        "type": "invalid_request_error",
                        "key": SECRET,
                    }
                },
            ),
            False,
        ),
        (
            "429-echo",
            Fault.status(
                429,
                body={
                    "status": "error",
                    "retry_after": 0.01,
                    "message": f"Too many requests for {SECRET}",
                },
            ),
            False,
        ),
        ("envelope-echo", Fault.envelope_error(f"Provider rejected key {SECRET}"), False),
        ("processing", Fault.processing(id=f"req-for-{SECRET}"), False),
        ("mid-stream-echo", Fault.error_mid_stream(after_events=3, message=f"boom {SECRET}"), True),
        ("cut", Fault.cut_mid_stream(after_events=3), True),
        ("stall", Fault.stall(3.0, after_events=3), True),
        ("malformed", Fault.malformed_json(), False),
    ]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_key_absent_from_exceptions(srv: StandIn, layer: str, dialect: str) -> None:
    obj = build(layer, srv.base_url, dialect=dialect)
    for name, fault, streaming in _faults():
        if fault is not None:
            srv.enqueue(fault, fault)  # twice: a retry sees the same failure
        with pytest.raises(APIError) as info:
            (stream if streaming else chat)(layer, obj)
        for exc in exception_chain(info.value):
            assert_no_secret(str(exc), repr(exc), exc.args, vars(exc))
        assert SECRET.encode() not in pickle.dumps(info.value), name
        srv.reset()


@pytest.mark.parametrize("layer", LAYERS)
def test_key_absent_from_wrong_key_and_connection_errors(srv: StandIn, layer: str) -> None:
    wrong = StandIn(api_key="another-key").start()
    url = wrong.base_url
    try:
        with pytest.raises(APIError) as info:
            chat(layer, build(layer, url))
        assert info.value.status_code == 401
    finally:
        wrong.stop()
    with pytest.raises(APIError) as refused:  # the server is gone now
        chat(layer, build(layer, url))
    for exc in [*exception_chain(info.value), *exception_chain(refused.value)]:
        assert_no_secret(str(exc), repr(exc), exc.args, vars(exc))


# --------------------------------------------------------------------------- logs and URLs


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
def test_key_absent_from_debug_logs_and_urls(
    srv: StandIn, caplog: pytest.LogCaptureFixture, auth: str, dialect: str
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records, httpx's too
    for name in (
        "httpx",
        "httpcore",
        "modelslab_core",
        "langchain_modelslab",
        "llama_index_modelslab",
        "langchain_core",
        "llama_index",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    for layer in LAYERS:
        obj = build(layer, srv.base_url, auth=auth, dialect=dialect)
        assert chat(layer, obj) == "hello there"
        assert stream(layer, obj) == "hello there"
        srv.enqueue(Fault.status(400, body={"error": {"message": f"bad {SECRET}"}}))
        with pytest.raises(APIError):
            chat(layer, obj)
        srv.enqueue(Fault.status(503), Fault.status(503))
        with pytest.raises(APIError):
            stream(layer, obj)
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"httpx", "httpcore"} <= loggers, loggers  # the capture really saw library logs
    handler_text = caplog.text
    assert SECRET not in handler_text
    for record in caplog.records:
        assert_no_secret(record.getMessage(), record.args, record.exc_text, record.__dict__)
    for request in srv.requests:
        assert SECRET not in request.path
    assert len(srv.requests) >= 3 * 4


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("layer", LAYERS)
def test_pickle_round_trip_after_use(srv: StandIn, layer: str) -> None:
    obj = build(layer, srv.base_url)
    assert chat(layer, obj) == "hello there"  # live httpx client and locks inside now
    copy = pickle.loads(pickle.dumps(obj))
    assert chat(layer, copy, "Say: from the copy") == "from the copy"
    assert chat(layer, obj, "Say: original still works") == "original still works"


def test_process_pool_runs_every_layer(srv: StandIn) -> None:
    objects = {layer: build(layer, srv.base_url) for layer in LAYERS}
    for layer, obj in objects.items():
        assert chat(layer, obj) == "hello there"  # used first: pickling must drop live state
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        futures = {
            layer: pool.submit(invoke_in_worker, obj, layer, f"Say: worker {layer}")
            for layer, obj in objects.items()
        }
        answers = {layer: future.result(timeout=90) for layer, future in futures.items()}
    assert answers == {layer: f"worker {layer}" for layer in LAYERS}
    assert len(srv.requests) == 2 * len(LAYERS)
