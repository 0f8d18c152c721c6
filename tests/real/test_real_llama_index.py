"""`llama_index_modelslab.ModelsLab` against the local llama.cpp server (a real 0.5B model):
chat, streaming, structured output, a `FunctionAgent` with one tool, and a RAG query over the
bundled documents with the local MiniLM embedding. Both wire dialects, greedy decoding.

What the server constrains is checked exactly (a forced tool call's arguments, structured
objects field by field); what went to the server is read off the wire (the tool's result, the
retrieved passage).
"""

from __future__ import annotations

from typing import Any

import _local  # notebooks/ is on the path (real_env)
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from local_embedding import MiniLMEmbedding
from real_env import BOOKING_TEXT, REPEATABLE, Booking, Recorder, assert_booking, server_values

from llama_index_modelslab import ModelsLab

pytestmark = pytest.mark.real_model

MAX_TOKENS = 32
FERRY_LINE = "the first ferry leaves Port Ailean at 07:15"
"""The timetable line of notebooks/data/ferry.md that answers the RAG question."""


@pytest.fixture(params=["openai", "anthropic"])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def llm(dialect: str, llama_server: Any, recorder: Recorder) -> ModelsLab:
    """A `ModelsLab` on the local server in one dialect, greedy, with short answers, whose
    HTTP clients record every request body."""
    server = server_values(llama_server)
    return ModelsLab(
        model=server["model"],
        api_key=server["api_key"],
        api_base=server["base_url"],
        dialect=dialect,
        max_tokens=MAX_TOKENS,
        temperature=REPEATABLE["temperature"],
        additional_kwargs={"seed": REPEATABLE["seed"]},
        timeout=180,
        http_client=recorder.client,
        async_http_client=recorder.async_client,
    )


def _assert_usage(extra: dict[str, Any]) -> None:
    assert extra["prompt_tokens"] > 0
    assert extra["completion_tokens"] > 0
    assert extra["total_tokens"] == extra["prompt_tokens"] + extra["completion_tokens"]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_chat(llm: ModelsLab, sync: bool) -> None:
    messages = [
        ChatMessage(role="system", content="Answer in one short sentence."),
        ChatMessage(role="user", content="What colour is the sky on a clear day?"),
    ]
    response = llm.chat(messages) if sync else await llm.achat(messages)
    assert response.message.role == "assistant"
    assert isinstance(response.message.content, str) and response.message.content.strip()
    _assert_usage(response.additional_kwargs)
    assert response.raw["usage"]


async def test_complete(llm: ModelsLab) -> None:
    response = await llm.acomplete("Say hello.")
    assert response.text.strip()
    _assert_usage(response.additional_kwargs)


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_stream_chat(llm: ModelsLab, sync: bool) -> None:
    """The deltas join to the final message."""
    messages = [ChatMessage(role="user", content="Count from 1 to 5, separated by commas.")]
    if sync:
        responses = list(llm.stream_chat(messages))
    else:
        responses = [r async for r in await llm.astream_chat(messages)]
    deltas = [r.delta for r in responses if r.delta]
    assert len(deltas) > 1, "a real stream arrives in several pieces"
    final = responses[-1]
    assert final.message.content == "".join(deltas)
    _assert_usage(final.additional_kwargs)
    if sync:  # greedy: the stream says what the same request says unstreamed
        whole = llm.chat(messages)
        assert whole.message.content == final.message.content
        assert whole.additional_kwargs == final.additional_kwargs


@pytest.mark.parametrize("mode", ["function_calling", "json_schema"])
def test_structured_predict(llm: ModelsLab, recorder: Recorder, dialect: str, mode: str) -> None:
    """``structured_predict``: a forced tool call (``tool_choice`` required) or a
    ``json_schema`` format, both enforced by the server (async: notebook 04)."""
    structured = llm.model_copy(update={"structured_output_mode": mode, "max_tokens": 64})
    prompt = PromptTemplate("Extract the ferry booking from this message: {text}")
    booking = structured.structured_predict(Booking, prompt, text=BOOKING_TEXT)
    assert_booking(booking)
    sent = recorder.bodies[0]
    if mode == "function_calling":
        choice = sent["tool_choice"]
        assert choice == "required" if dialect == "openai" else choice["type"] == "any"
    elif dialect == "openai":
        assert sent["response_format"]["type"] == "json_schema"
    else:
        assert sent["tool_choice"]["type"] == "tool"


def _ferry_fare(adults: int) -> str:
    """Price in pounds of return ferry tickets for a number of adults."""
    return f"{14 * adults} pounds"


async def test_function_agent_with_one_tool(llm: ModelsLab, recorder: Recorder) -> None:
    """The forced first step calls the tool with schema-valid arguments; its result goes back
    to the server in the next request."""
    agent = FunctionAgent(
        tools=[_ferry_fare],
        llm=llm.model_copy(update={"max_tokens": 48}),  # room for the whole call
        system_prompt="Use the tool to answer.",
        initial_tool_choice="required",
        early_stopping_method="generate",
    )
    handler = agent.run("What do ferry tickets cost for 3 adults?", max_iterations=2)
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    output = await handler
    assert results, "the forced first step must call the tool"
    first = results[0]
    assert first.tool_name == "_ferry_fare"
    assert first.tool_kwargs == {"adults": 3}
    assert not first.tool_output.is_error, first.tool_output.content
    assert first.tool_output.content == "42 pounds"
    assert len(recorder.bodies) >= 2
    assert "42 pounds" in recorder.text(1), "the tool's result reached the model"
    assert isinstance(output.response.content, str)


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    """The bundled visitor guide, embedded locally."""
    return VectorStoreIndex.from_documents(_local.load_documents(), embed_model=MiniLMEmbedding())


def test_rag_query(
    llm: ModelsLab, recorder: Recorder, index: VectorStoreIndex, dialect: str
) -> None:
    """The retrieved ferry timetable is in the prompt the server got; the sources name it.
    A plain query on /chat/completions, a streamed one on /v1/messages (notebook 03 runs both
    kinds on /chat/completions)."""
    streaming = dialect == "anthropic"
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=streaming)
    meter = _local.UsageMeter().install()
    try:
        response: Any = engine.query("When does the first ferry leave Port Ailean on weekdays?")
        text = "".join(response.response_gen) if streaming else str(response)
    finally:
        meter.uninstall()
    assert text.strip()
    assert response.source_nodes[0].metadata["file_name"] == "ferry.md"
    assert len(recorder.bodies) == 1
    assert FERRY_LINE in recorder.text(), "the retrieved passage reached the model"
    assert meter.calls == 1 and meter.prompt_tokens > 100 and meter.completion_tokens > 0
