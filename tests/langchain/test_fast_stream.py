"""`ChatModelsLab.stream`/`astream`: the fast path (nobody listens) and langchain-core's path
(a handler attached) yield the same chunks; handlers still see every chunk and the run's end."""

from __future__ import annotations

import gc
import json
import re
import uuid
import weakref
from collections.abc import Callable
from typing import Any

import langsmith
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import LLMResult
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.runnables import ensure_config
from langchain_core.tracers.context import collect_runs
from langsmith import utils as ls_utils

from langchain_modelslab import ChatModelsLab
from langchain_modelslab._fast_path import ChunkFinisher, nobody_listens
from modelslab_core.testing import Reply, StandIn

MakeModel = Callable[..., ChatModelsLab]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
SCENARIOS: dict[str, Reply] = {
    "text": Reply(
        text="one two three four five six", usage={"input_tokens": 3, "output_tokens": 6}
    ),
    "reasoning": Reply(text="It is 4.", reasoning="Two plus two is four."),
    "tools": Reply(
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3}},
            {"name": "get_weather", "arguments": '{"city": "Par'},
        ]
    ),
}


class Recorder(BaseCallbackHandler):
    """Records what langchain-core reports to a handler."""

    def __init__(self) -> None:
        self.starts = 0
        self.tokens: list[Any] = []
        self.ends: list[LLMResult] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.starts += 1

    def on_llm_new_token(self, token: Any, **kwargs: Any) -> None:
        self.tokens.append(token)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.ends.append(response)


@pytest.fixture
def core_streams(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the calls that go through langchain-core's own ``stream``/``astream``."""
    calls: list[str] = []
    sync_stream, async_stream = BaseChatModel.stream, BaseChatModel.astream

    def spy_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("stream")
        return sync_stream(self, *args, **kwargs)

    def spy_astream(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("astream")
        return async_stream(self, *args, **kwargs)

    monkeypatch.setattr(BaseChatModel, "stream", spy_stream)
    monkeypatch.setattr(BaseChatModel, "astream", spy_astream)
    return calls


async def collect(runnable: Any, mode: str, **kwargs: Any) -> list[AIMessageChunk]:
    if mode == "sync":
        return list(runnable.stream("What is the weather?", **kwargs))
    return [c async for c in runnable.astream("What is the weather?", **kwargs)]


_ID = re.compile(r"\b(?:gen-|msg_|call_|toolu_)[0-9a-f]{24}\b")


def dumps(chunks: list[AIMessageChunk]) -> str:
    """The chunks as JSON, ids renamed by order of appearance (the stand-in's ids differ per
    request); every chunk carries the answer's id."""
    assert len({c.id for c in chunks}) == 1 and chunks[0].id is not None
    text = json.dumps([c.model_dump() for c in chunks], sort_keys=True)
    seen: dict[str, str] = {}
    return _ID.sub(lambda m: seen.setdefault(m.group(0), f"<id{len(seen)}>"), text)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("output_version", ["v0", "v1"])
async def test_fast_and_handler_paths_yield_identical_chunks(
    standin: StandIn,
    make_model: MakeModel,
    dialect: str,
    mode: str,
    scenario: str,
    output_version: str,
    core_streams: list[str],
) -> None:
    standin.enqueue(SCENARIOS[scenario], SCENARIOS[scenario])
    model = make_model(dialect=dialect, output_version=output_version)
    runnable = model.bind_tools([WEATHER]) if scenario == "tools" else model
    fast = await collect(runnable, mode)
    assert core_streams == []  # nobody listened: langchain-core's stream was skipped
    recorder = Recorder()
    slow = await collect(runnable, mode, config={"callbacks": [recorder]})
    assert len(core_streams) == 1  # a handler: langchain-core's own stream ran
    assert dumps(fast) == dumps(slow)
    assert len(fast) > 2 and fast[-1].chunk_position == "last"
    assert recorder.starts == 1 and len(recorder.tokens) == len(slow)
    full = fast[0]
    for chunk in fast[1:]:
        full = full + chunk
    generation = recorder.ends[0].generations[0][0]
    assert generation.text == full.text
    if scenario == "tools":
        assert full.tool_calls[0]["args"] == {"city": "Zürich", "days": 3}
        assert len(full.tool_calls) == 1 and len(full.invalid_tool_calls) == 1


async def test_model_callbacks_still_fire(
    standin: StandIn, make_model: MakeModel, mode: str, core_streams: list[str]
) -> None:
    recorder = Recorder()
    chunks = await collect(make_model(callbacks=[recorder]), mode)
    assert core_streams and recorder.starts == 1
    assert "".join(str(t) for t in recorder.tokens) == "".join(c.text for c in chunks)
    assert recorder.ends[0].generations[0][0].text == "You said: What is the weather?"


async def test_collect_runs_sees_the_run(
    standin: StandIn, make_model: MakeModel, mode: str, core_streams: list[str]
) -> None:
    with collect_runs() as runs:
        chunks = await collect(make_model(), mode)
    assert core_streams
    assert len(runs.traced_runs) == 1
    assert runs.traced_runs[0].outputs is not None
    assert "".join(c.text for c in chunks) == "You said: What is the weather?"


async def test_astream_events_sees_every_chunk(standin: StandIn, make_model: MakeModel) -> None:
    model = make_model()
    plain = [c async for c in model.astream("hi")]
    events = [e async for e in model.astream_events("hi", version="v2")]
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert dumps(streamed) == dumps(plain)
    assert [e["event"] for e in events][-1] == "on_chat_model_end"


def test_tracing_means_someone_listens(
    make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_model()
    assert nobody_listens(model, ensure_config(None))
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-test")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "http://127.0.0.1:9")
    with langsmith.tracing_context(enabled=True):
        assert not nobody_listens(model, ensure_config(None))
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]
    try:
        assert not nobody_listens(model, ensure_config(None))
    finally:
        monkeypatch.delenv("LANGSMITH_TRACING")
        ls_utils.get_env_var.cache_clear()  # type: ignore[attr-defined]
    assert nobody_listens(model, ensure_config(None))


async def test_rate_limiter_takes_langchain_core_path(
    standin: StandIn, make_model: MakeModel, mode: str, core_streams: list[str]
) -> None:
    limiter = InMemoryRateLimiter(requests_per_second=100, check_every_n_seconds=0.01)
    chunks = await collect(make_model(rate_limiter=limiter), mode)
    assert core_streams and "".join(c.text for c in chunks) == "You said: What is the weather?"


async def test_disabled_streaming_falls_back_to_invoke(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    chunks = await collect(make_model(disable_streaming=True), mode)
    assert len(chunks) == 1 and chunks[0].text == "You said: What is the weather?"
    assert standin.last_request is not None and not standin.last_request.json.get("stream")


async def test_fast_path_keeps_no_chunk(standin: StandIn, make_model: MakeModel) -> None:
    standin.enqueue(Reply(text=" ".join(f"w{i}" for i in range(50))))
    stream = make_model().stream("hi")
    first = next(stream)
    ref = weakref.ref(first)
    del first
    next(stream)
    gc.collect()
    assert ref() is None  # langchain-core's path would keep it for on_llm_end
    rest = list(stream)
    assert rest[-1].chunk_position == "last"


def test_chunk_finisher_gives_langchain_core_ids() -> None:
    run_id = uuid.uuid4()
    finish = ChunkFinisher(run_id, v1=False)
    chunk = finish(AIMessageChunk(content="x"), {"lc_gateway_metadata": 1, "extra": 2})
    assert chunk.id == f"lc_run--{run_id}"
    assert chunk.response_metadata == {"extra": 2}
    closing = finish.closing(chunk)
    assert closing is not None and closing.chunk_position == "last" and closing.id == chunk.id
    assert finish.closing(closing) is None and finish.closing(None) is None
