"""The hot paths of `ModelsLab` (issue 7): cheap stream snapshots that are still exact pydantic
objects, LlamaIndex instrumentation run only when someone listens (and then in full), and
injected httpx clients."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from li_helpers import chat, complete, stream_chat, stream_complete
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, TextBlock, ThinkingBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import callbacks as li_callbacks
from pydantic import Field

from llama_index_modelslab import ModelsLab
from llama_index_modelslab._fast_path import is_observed
from modelslab_core.testing import Reply, StandIn

HI = [ChatMessage(role="user", content="hi")]
TEXT = "one two three four five six seven"


class _Recorder(BaseEventHandler):
    """Keeps the class name of every instrumentation event."""

    names: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "HotPathRecorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.names.append(type(event).__name__)


@pytest.fixture(params=["root", "callbacks-module"])
def recorder(request: pytest.FixtureRequest) -> Iterator[_Recorder]:
    """An event handler on the root dispatcher, or on the one LlamaIndex's LLM callbacks use."""
    dispatcher = get_dispatcher() if request.param == "root" else li_callbacks.dispatcher
    handler = _Recorder()
    dispatcher.add_event_handler(handler)
    try:
        yield handler
    finally:
        dispatcher.event_handlers.remove(handler)


# -- snapshots -----------------------------------------------------------------------------


def test_the_fast_builder_is_active_for_the_installed_llama_index() -> None:
    from llama_index.core.base.llms.types import ChatMessage, ThinkingBlock, ToolCallBlock

    from modelslab_core.construct import is_plain

    # The snapshot classes are plain (else the guarded builder falls back to model_construct).
    for cls in (TextBlock, ThinkingBlock, ToolCallBlock, ChatMessage, ChatResponse):
        assert is_plain(cls), cls


async def test_stream_snapshots_are_exact_independent_models(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    standin.enqueue(Reply(text=TEXT))
    responses = await stream_chat(llm, sync, HI)
    assert len(responses) > 3
    so_far = ""
    for r in responses[:-1]:
        so_far += r.delta or ""
        assert r.message.content == so_far  # each snapshot kept its own text
        assert isinstance(r.message.blocks[0], TextBlock)
        # What validation builds from the same data is equal, field for field.
        assert ChatResponse.model_validate(r.model_dump()) == r
        assert r.model_fields_set == {"message", "raw", "delta", "additional_kwargs"}
        assert pickle.loads(pickle.dumps(r)) == r
        assert copy.deepcopy(r) == r
    assert so_far == TEXT and responses[-1].message.content == TEXT
    first = responses[0]
    first.message.blocks = [TextBlock(text="edited")]  # assignment works (fields_set is a set)
    assert first.message.content == "edited" and responses[1].message.content != "edited"


async def test_reasoning_snapshots_carry_a_thinking_block(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    standin.enqueue(Reply(text="42", reasoning="Let me think about it"))
    responses = await stream_chat(llm, sync, HI)
    thinking = [r for r in responses if r.additional_kwargs.get("thinking_delta")]
    assert thinking
    for r in responses[:-1]:
        assert ChatResponse.model_validate(r.model_dump()) == r
    block = responses[-2].message.blocks[0]
    assert isinstance(block, ThinkingBlock) and block.content == "Let me think about it"
    assert responses[-2].message.content == "42"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_tool_call_snapshots_are_exact_models(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    from llama_index.core.tools import FunctionTool

    tools = [FunctionTool.from_defaults(fn=add)]
    standin.enqueue(Reply(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}}]))
    if sync:
        responses = list(llm.stream_chat_with_tools(tools, user_msg="2+3?"))
    else:
        gen = await llm.astream_chat_with_tools(tools, user_msg="2+3?")
        responses = [r async for r in gen]
    partial = [r for r in responses if r.additional_kwargs.get("partial_tool_calls")]
    assert partial
    for r in partial:
        assert ChatResponse.model_validate(r.model_dump()) == r
    calls = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("add", {"a": 2, "b": 3})]


# -- instrumentation -------------------------------------------------------------------------


def test_is_observed_follows_handlers(make_llm: Callable[..., ModelsLab]) -> None:
    llm = make_llm()
    assert not is_observed(llm)  # only LlamaIndex's null handler on the root
    root = get_dispatcher()
    handler = _Recorder()
    root.add_event_handler(handler)
    try:
        assert is_observed(llm)
    finally:
        root.event_handlers.remove(handler)
    assert not is_observed(llm)
    assert is_observed(make_llm(callback_manager=CallbackManager([TokenCountingHandler()])))


async def test_an_event_handler_sees_every_event_of_every_call(
    llm: ModelsLab, standin: StandIn, sync: bool, recorder: _Recorder
) -> None:
    standin.enqueue(Reply(text=TEXT))
    responses = await stream_chat(llm, sync, HI)
    names = recorder.names
    assert names.count("LLMChatInProgressEvent") == len(responses)  # one per chunk
    assert names.count("LLMChatStartEvent") == names.count("LLMChatEndEvent") == 1

    recorder.names.clear()
    await chat(llm, sync, HI)
    assert recorder.names.count("LLMChatStartEvent") == 1
    assert recorder.names.count("LLMChatEndEvent") == 1

    recorder.names.clear()
    standin.enqueue(Reply(text=TEXT))
    completions = await stream_complete(llm, sync, "hi")
    assert recorder.names.count("LLMCompletionInProgressEvent") == len(completions)
    assert recorder.names.count("LLMCompletionEndEvent") == 1

    recorder.names.clear()
    await complete(llm, sync, "hi")
    assert recorder.names.count("LLMCompletionEndEvent") == 1


async def test_unobserved_and_observed_streams_give_the_same_responses(
    llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    standin.enqueue(Reply(text=TEXT))
    plain = await stream_chat(llm, sync, HI)
    root = get_dispatcher()
    handler = _Recorder()
    root.add_event_handler(handler)
    try:
        standin.enqueue(Reply(text=TEXT))
        observed = await stream_chat(llm, sync, HI)
    finally:
        root.event_handlers.remove(handler)

    def shown(rs: list[ChatResponse]) -> list[Any]:  # all but ``raw`` (a fresh id per call)
        return [(r.delta, r.message.model_dump(), r.additional_kwargs) for r in rs]

    assert shown(plain) == shown(observed)
    assert handler.names  # and the second one was seen


async def test_token_counting_still_counts_streams(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    standin.enqueue(Reply(text=TEXT, usage={"prompt_tokens": 70, "completion_tokens": 7}))
    await stream_chat(llm, sync, HI)
    assert [(c.prompt_token_count, c.completion_token_count) for c in counter.llm_token_counts] == [
        (70, 7)
    ]


def test_decorated_methods_keep_their_signatures() -> None:
    import inspect

    assert list(inspect.signature(ModelsLab.stream_chat).parameters) == [
        "self",
        "messages",
        "kwargs",
    ]
    assert ModelsLab.astream_chat.__name__ == "astream_chat"
    assert "prompt" in inspect.signature(ModelsLab.complete).parameters


# -- injected httpx clients ------------------------------------------------------------------


async def test_injected_clients_carry_the_calls(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    client = httpx.Client(headers={"x-injected": "sync"})
    aclient = httpx.AsyncClient(headers={"x-injected": "async"})
    try:
        llm = make_llm(http_client=client, async_http_client=aclient)
        want = "sync" if sync else "async"
        assert (await chat(llm, sync, HI)).message.content == "You said: hi"
        assert standin.last_request.headers.get("x-injected") == want
        standin.enqueue(Reply(text=TEXT))
        assert (await stream_chat(llm, sync, HI))[-1].message.content == TEXT
        assert standin.last_request.headers.get("x-injected") == want
        assert not client.is_closed and not aclient.is_closed  # never closed by us
    finally:
        client.close()  # noqa: ASYNC212 (the sync half of a sync/async pair)
        await aclient.aclose()


def test_injected_clients_are_not_serialized_or_pickled(
    make_llm: Callable[..., ModelsLab], standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    client = httpx.Client(headers={"x-injected": "sync"})
    try:
        llm = make_llm(http_client=client, async_http_client=httpx.AsyncClient())
        llm.chat(HI)
        for form in (llm.to_dict(), llm.model_dump()):
            assert "http_client" not in form and "async_http_client" not in form
        properties = ModelsLab.model_json_schema()["properties"]
        assert "http_client" not in properties and "async_http_client" not in properties
        assert "Client" not in repr(llm)
        clone = pickle.loads(pickle.dumps(llm))
        assert "unpickleable" not in caplog.text
        assert clone.http_client is None and clone.async_http_client is None
        assert llm.http_client is client  # the original keeps its client
        assert clone.chat(HI).message.content == "You said: hi"  # on a client of its own
        assert "x-injected" not in standin.last_request.headers
        llm.chat(HI)  # and the original still sends through it
        assert standin.last_request.headers.get("x-injected") == "sync"
    finally:
        client.close()


def test_a_wrong_client_type_is_refused() -> None:
    with pytest.raises(ValueError, match="http_client"):
        ModelsLab(api_key="k", http_client=httpx.AsyncClient())


# -- tool schemas ----------------------------------------------------------------------------


def test_tool_specs_are_cached_but_never_shared() -> None:
    from llama_index.core.tools import FunctionTool

    from llama_index_modelslab._tools import to_tool_spec

    tool = FunctionTool.from_defaults(fn=add)
    first = to_tool_spec(tool)
    first.parameters["properties"]["a"]["title"] = "changed by a caller"
    again = to_tool_spec(tool)
    assert again.parameters["properties"]["a"]["title"] == "A"  # a fresh copy each time
    assert again.parameters == FunctionTool.from_defaults(fn=add).metadata.get_parameters_dict()
    tool.metadata.description = "Adds, described anew."
    assert to_tool_spec(tool).description == "Adds, described anew."  # a new key
