"""`llama_index_modelslab.ModelsLab` against the local llama.cpp server (a real 0.5B model):
chat, streaming, a `FunctionAgent` with one tool, and a RAG query over the bundled documents
with the local MiniLM embedding. Both wire dialects; shapes are asserted, not the model's
choices (the tool call is forced with ``initial_tool_choice="required"``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatMessage
from real_env import server_values

from llama_index_modelslab import ModelsLab

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))

import _local  # noqa: E402
from local_embedding import MiniLMEmbedding  # noqa: E402

pytestmark = pytest.mark.real_model

MAX_TOKENS = 32


@pytest.fixture(params=["openai", "anthropic"])
def llm(request: pytest.FixtureRequest, llama_server: Any) -> ModelsLab:
    """A `ModelsLab` on the local server in one dialect, with short answers."""
    server = server_values(llama_server)
    return ModelsLab(
        model=server["model"],
        api_key=server["api_key"],
        api_base=server["base_url"],
        dialect=request.param,
        max_tokens=MAX_TOKENS,
        temperature=0.0,
        timeout=180,
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


def _ferry_fare(adults: int) -> str:
    """Price in pounds of return ferry tickets for a number of adults."""
    return f"{14 * adults} pounds"


async def test_function_agent_with_one_tool(llm: ModelsLab) -> None:
    agent = FunctionAgent(
        tools=[_ferry_fare],
        llm=llm.model_copy(update={"max_tokens": 64}),  # room for the whole call
        system_prompt="Use the tool to answer.",
        initial_tool_choice="required",
        early_stopping_method="generate",
    )
    handler = agent.run("What do ferry tickets cost for 3 adults?", max_iterations=3)
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    output = await handler
    assert results, "the forced first step must call the tool"
    first = results[0]
    assert first.tool_name == "_ferry_fare"
    assert set(first.tool_kwargs) == {"adults"}
    assert not first.tool_output.is_error, first.tool_output.content
    assert first.tool_output.content == _ferry_fare(**first.tool_kwargs)
    assert isinstance(output.response.content, str)


@pytest.fixture(scope="module")
def index() -> VectorStoreIndex:
    """The bundled visitor guide, embedded locally."""
    return VectorStoreIndex.from_documents(_local.load_documents(), embed_model=MiniLMEmbedding())


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "stream"])
def test_rag_query(llm: ModelsLab, index: VectorStoreIndex, streaming: bool) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=streaming)
    meter = _local.UsageMeter().install()
    try:
        response: Any = engine.query("When does the first ferry leave Port Ailean on weekdays?")
        text = "".join(response.response_gen) if streaming else str(response)
    finally:
        meter.uninstall()
    assert text.strip()
    assert response.source_nodes[0].metadata["file_name"] == "ferry.md"
    assert meter.calls == 1 and meter.prompt_tokens > 100
