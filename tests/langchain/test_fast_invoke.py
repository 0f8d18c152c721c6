"""`ChatModelsLab.invoke`/`ainvoke`: the fast path (nobody listens) and langchain-core's path
(a handler attached) return the same message; handlers, caches, rate limiters, streaming and
subclasses that change the chain still go through langchain-core."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.globals import set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatResult, LLMResult
from langchain_core.rate_limiters import InMemoryRateLimiter

from langchain_modelslab import ChatModelsLab
from langchain_modelslab._fast_invoke import finish_result
from langchain_modelslab._fast_path import input_messages
from modelslab_core.testing import Reply, StandIn

MakeModel = Callable[..., ChatModelsLab]
PROMPT = "What is the weather?"
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
    "text": Reply(text="one two three", usage={"input_tokens": 3, "output_tokens": 3}),
    "reasoning": Reply(text="It is 4.", reasoning="Two plus two is four."),
    "tools": Reply(
        tool_calls=[
            {"name": "get_weather", "arguments": {"city": "Zürich", "days": 3}},
            {"name": "get_weather", "arguments": '{"city": "Par'},
        ]
    ),
}
_ID = re.compile(r"\b(?:gen-|msg_|call_|toolu_)[0-9a-f]{24}\b")


class Recorder(BaseCallbackHandler):
    """Counts what langchain-core reports to a handler."""

    def __init__(self) -> None:
        self.starts = 0
        self.ends: list[LLMResult] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.starts += 1

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.ends.append(response)


@pytest.fixture
def core_generates(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the calls that go through langchain-core's ``generate``/``agenerate``."""
    calls: list[str] = []
    sync_generate, async_generate = BaseChatModel.generate, BaseChatModel.agenerate

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("generate")
        return sync_generate(self, *args, **kwargs)

    async def aspy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append("agenerate")
        return await async_generate(self, *args, **kwargs)

    monkeypatch.setattr(BaseChatModel, "generate", spy)
    monkeypatch.setattr(BaseChatModel, "agenerate", aspy)
    return calls


async def call(runnable: Any, mode: str, *args: Any, **kwargs: Any) -> AIMessage:
    if mode == "sync":
        return runnable.invoke(*(args or (PROMPT,)), **kwargs)  # type: ignore[no-any-return]
    return await runnable.ainvoke(*(args or (PROMPT,)), **kwargs)  # type: ignore[no-any-return]


def dumps(message: AIMessage) -> str:
    """The message as JSON, ids renamed by order of appearance (the stand-in's differ)."""
    text = json.dumps(message.model_dump())  # key order too: it is what users print
    seen: dict[str, str] = {}
    return _ID.sub(lambda m: seen.setdefault(m.group(0), f"<id{len(seen)}>"), text)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("output_version", ["v0", "v1"])
async def test_fast_and_handler_paths_return_identical_messages(
    standin: StandIn,
    make_model: MakeModel,
    dialect: str,
    mode: str,
    scenario: str,
    output_version: str,
    core_generates: list[str],
) -> None:
    standin.enqueue(SCENARIOS[scenario], SCENARIOS[scenario])
    model = make_model(dialect=dialect, output_version=output_version)
    runnable = model.bind_tools([WEATHER]) if scenario == "tools" else model
    fast = await call(runnable, mode)
    assert core_generates == []  # nobody listened: langchain-core's generate was skipped
    recorder = Recorder()
    slow = await call(runnable, mode, config={"callbacks": [recorder]})
    assert len(core_generates) == 1  # a handler: langchain-core's own generate ran
    assert type(fast) is type(slow) is AIMessage
    assert dumps(fast) == dumps(slow)
    assert recorder.starts == 1 and recorder.ends[0].generations[0][0].message == slow
    if scenario == "tools":
        assert fast.tool_calls[0]["args"] == {"city": "Zürich", "days": 3}
        assert len(fast.tool_calls) == 1 and len(fast.invalid_tool_calls) == 1


class NoIds(ChatModelsLab):
    """Answers without an id, through langchain-core's path or the fast one alike."""

    def _generate(self, messages: list[BaseMessage], *a: Any, **kw: Any) -> ChatResult:
        result = super()._generate(messages, *a, **kw)
        result.generations[0].message.id = None
        return result


def test_id_fallback_is_langchain_cores(
    standin: StandIn, make_model: MakeModel, core_generates: list[str]
) -> None:
    """An answer without an id gets ``lc_run-<run id>-0`` either way (the config's run id)."""
    run_id = uuid.uuid4()
    no_ids = NoIds(api_key=standin.api_key, base_url=standin.base_url)
    slow = no_ids.invoke(PROMPT, config={"run_id": run_id})
    assert core_generates == ["generate"]  # a subclass with its own _generate: slow path
    model = make_model()
    result = model._generate(input_messages(model, PROMPT, {}))
    result.generations[0].message.id = None
    fast = finish_result(model, result, run_id)
    assert slow.id == fast.id == f"lc_run--{run_id}-0"
    result.generations[0].message.id = None
    assert re.fullmatch(r"lc_run--[0-9a-f-]{36}-0", str(finish_result(model, result, None).id))


@pytest.mark.parametrize(
    "setting",
    [
        {"rate_limiter": InMemoryRateLimiter(requests_per_second=100, check_every_n_seconds=0.01)},
        {"streaming": True},
        {"callbacks": [Recorder()]},
        {"cache": InMemoryCache()},
    ],
    ids=["rate_limiter", "streaming", "model_callbacks", "model_cache"],
)
async def test_what_langchain_core_must_see_takes_its_path(
    standin: StandIn,
    make_model: MakeModel,
    mode: str,
    core_generates: list[str],
    setting: dict[str, Any],
) -> None:
    message = await call(make_model(**setting), mode)
    assert message.text == f"You said: {PROMPT}"
    assert len(core_generates) == 1


async def test_a_global_cache_is_used(
    standin: StandIn, make_model: MakeModel, mode: str, core_generates: list[str]
) -> None:
    set_llm_cache(InMemoryCache())
    try:
        model = make_model()
        first = await call(model, mode)
        second = await call(model, mode)
    finally:
        set_llm_cache(None)
    assert len(core_generates) == 2 and len(standin.requests) == 1  # the second: a cache hit
    assert first.text == second.text == f"You said: {PROMPT}"


async def test_stream_kwarg_streams(
    standin: StandIn, make_model: MakeModel, mode: str, core_generates: list[str]
) -> None:
    message = await call(make_model(), mode, PROMPT, stream=True)
    assert len(core_generates) == 1 and message.text == f"You said: {PROMPT}"
    assert standin.last_request is not None and standin.last_request.json.get("stream")
