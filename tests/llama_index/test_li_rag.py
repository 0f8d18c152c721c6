"""A RAG app on `ModelsLab`: a `VectorStoreIndex` embedded locally (all-MiniLM-L6-v2, int8 ONNX,
no download), a query engine, a streaming query engine and chat engines. The retrieved
context must be in the request the server received, and only the relevant document."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from local_embedding import MiniLMEmbedding

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import StandIn

DOCS = {
    "volcano": "Mount Taranaki is a dormant stratovolcano on the west coast of New Zealand's North Island.",
    "bread": "Sourdough bread is leavened by a culture of wild yeast and lactic acid bacteria.",
    "chess": "In chess, castling moves the king two squares towards a rook on the same rank.",
    "comet": "Halley's Comet is visible from Earth every 75 to 79 years; it last appeared in 1986.",
}


@pytest.fixture(scope="module")
def embed_model() -> MiniLMEmbedding:
    return MiniLMEmbedding()


@pytest.fixture(scope="module")
def index(embed_model: MiniLMEmbedding) -> VectorStoreIndex:
    documents = [Document(text=text, doc_id=key) for key, text in DOCS.items()]
    return VectorStoreIndex.from_documents(documents, embed_model=embed_model)


def _sent_text(standin: StandIn) -> str:
    """Everything the last request carried as text (system and messages)."""
    body = standin.last_request.json
    return str(body.get("system", "")) + " ".join(str(m["content"]) for m in body["messages"])


def _assert_only_context(standin: StandIn, key: str) -> None:
    sent = _sent_text(standin)
    assert DOCS[key] in sent
    for other, text in DOCS.items():
        if other != key:
            assert text not in sent


def test_embeddings_are_real(embed_model: MiniLMEmbedding) -> None:
    baking, yeast, chess = embed_model.get_text_embedding_batch(
        ["How do you bake bread?", "wild yeast leavening", "castling the king"]
    )
    dot = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert len(baking) == 384
    assert abs(dot(baking, baking) - 1.0) < 1e-4
    assert dot(baking, yeast) > dot(baking, chess)


async def test_query_engine(
    index: VectorStoreIndex, llm: ModelsLab, standin: StandIn, sync: bool
) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=1)
    question = "When did Halley's Comet last appear?"
    response = engine.query(question) if sync else await engine.aquery(question)

    _assert_only_context(standin, "comet")
    assert question in _sent_text(standin)
    assert str(response).startswith("You said:")
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["comet"]


async def test_streaming_query_engine(
    index: VectorStoreIndex, llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=1, streaming=True)
    question = "Which volcano is on the North Island?"
    if sync:
        response: Any = engine.query(question)
        pieces = list(response.response_gen)
    else:
        response = await engine.aquery(question)
        pieces = [p async for p in response.async_response_gen()]

    assert standin.last_request.json["stream"] is True
    _assert_only_context(standin, "volcano")
    assert len(pieces) > 3
    assert "".join(pieces).startswith("You said:")
    assert question in "".join(pieces)


@pytest.mark.parametrize("chat_mode", ["context", "condense_plus_context"])
async def test_chat_engine(
    index: VectorStoreIndex, llm: ModelsLab, standin: StandIn, sync: bool, chat_mode: str
) -> None:
    engine = index.as_chat_engine(llm=llm, chat_mode=chat_mode, similarity_top_k=1)
    first = "How is sourdough bread leavened?"
    answer = engine.chat(first) if sync else await engine.achat(first)
    _assert_only_context(standin, "bread")
    assert str(answer)

    second = "Tell me how castling works in chess."
    if sync:
        streamed = engine.stream_chat(second)
        text = "".join(streamed.response_gen)
    else:
        streamed = await engine.astream_chat(second)
        text = "".join([t async for t in streamed.async_response_gen()])
    assert text
    _assert_only_context(standin, "chess")
    assert standin.last_request.json["stream"] is True
    assert first in _sent_text(standin)  # the history went along
