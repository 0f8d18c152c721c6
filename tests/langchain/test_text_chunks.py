"""`TextChunks`: the common stream chunk is a copy of a validated prototype, equal to a validated
chunk in every respect and sharing no container with the prototype or with other chunks."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessageChunk

from langchain_modelslab import _chunks
from langchain_modelslab._chunks import (
    TEXT_CHUNKS,
    TextChunks,
    text_chunk,
    validated_text_chunk,
)

SAMPLES = [
    ("Hello", "chatcmpl-1"),
    ("", None),
    (" Zürich 🦊\n", "gen-abc"),
    ("x" * 5000, "msg_01"),
]


def test_copies_are_exact_here() -> None:
    """Else every chunk is validated: correct, but the speed-up is gone."""
    assert TEXT_CHUNKS.exact
    assert text_chunk == TEXT_CHUNKS.copy


@pytest.mark.parametrize(("text", "id"), SAMPLES)
def test_copy_equals_validated_chunk(text: str, id: str | None) -> None:
    copied, validated = text_chunk(text, id), validated_text_chunk(text, id)
    assert type(copied) is AIMessageChunk
    assert copied == validated
    assert copied.model_dump() == validated.model_dump()
    assert copied.model_fields_set == validated.model_fields_set
    assert copied.__pydantic_extra__ == validated.__pydantic_extra__
    assert copied.text == text and copied.content_blocks == validated.content_blocks


def test_each_chunk_owns_its_containers() -> None:
    first = text_chunk("a", "id-1")
    first.additional_kwargs["k"] = 1
    first.response_metadata["finish_reason"] = "stop"
    first.tool_call_chunks.append({"name": "f", "args": "", "id": None, "index": 0})
    first.tool_calls.append({"name": "f", "args": {}, "id": None})
    first.invalid_tool_calls.append({"name": "f", "args": "", "id": None, "error": None})
    first.name = "renamed"  # pydantic adds "name" to this chunk's fields set
    second = text_chunk("b", "id-1")
    assert second == validated_text_chunk("b", "id-1")
    assert second.model_fields_set == {"content", "response_metadata", "id"}


def test_copies_merge_like_validated_chunks() -> None:
    copies = [text_chunk(t, "id-1") for t in ("one ", "two ", "three")]
    validated = [validated_text_chunk(t, "id-1") for t in ("one ", "two ", "three")]
    assert sum(copies[1:], copies[0]) == sum(validated[1:], validated[0])
    assert copies[0].content == "one "  # merging left its parts as they were


def test_validates_when_copies_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A langchain-core whose validation depended on the text (here: ``name`` set from it)
    makes copies differ from validated chunks: the check sees it and every chunk is validated."""

    def validating(text: str, id: str | None) -> AIMessageChunk:
        chunk = AIMessageChunk(
            content=text, response_metadata={"model_provider": "modelslab"}, id=id
        )
        chunk.name = text or None
        return chunk

    monkeypatch.setattr(_chunks, "validated_text_chunk", validating)
    chunks = TextChunks()
    assert not chunks.exact
    assert chunks("Hello", "i").name == "Hello"
    assert chunks.copy("Hello", "i").name is None  # what a copy would have given
