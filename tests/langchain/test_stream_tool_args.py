"""Streamed tool-call arguments the core rejects stay invalid through every way chunks merge.

Properties of the pure marker (`invalidating_suffix`) over many truncations, the stream fold
over split deltas, and the public paths against the stand-in: ``stream``/``astream`` merged by
the caller, and ``invoke``/``ainvoke`` with ``streaming=True`` (summed by langchain-core).
Also: schemas that cannot become JSON schema fail on bind, naming the schema.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from _support import WEATHER_TOOL
from hypothesis import example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk
from langchain_core.utils.json import parse_partial_json
from pydantic import BaseModel, ConfigDict
from pydantic.errors import PydanticInvalidForJsonSchema

from langchain_modelslab import ChatModelsLab
from langchain_modelslab._chunks import (
    StreamGeneration,
    StreamState,
    chunk_from_delta,
    final_generation,
)
from langchain_modelslab._tool_args import invalidating_suffix
from modelslab_core.testing import Reply, StandIn
from modelslab_core.types import StreamDelta, ToolCallChunk

MakeModel = Callable[..., ChatModelsLab]
TOOL = WEATHER_TOOL

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab "\\\n{}[]:,é\t'), max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_objects = st.dictionaries(st.text(max_size=5), _json, max_size=4)


def _dump(value: Any, compact: bool) -> str:
    return json.dumps(value, separators=(",", ":") if compact else None, ensure_ascii=compact)


def lenient_reads_object(text: str) -> bool:
    """Whether langchain-core's merge would report ``text`` as a valid call's arguments."""
    try:
        return isinstance(parse_partial_json(text) if text else {}, dict)
    except Exception:
        return False


def strictly_object(text: str) -> bool:
    """The core's rule: blank is ``{}``, else strict JSON that is an object."""
    if not text.strip():
        return True
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


# --------------------------------------------------------------------------- the marker


@settings(max_examples=300, deadline=None)
@given(_objects, st.booleans(), st.data())
@example({"city": "Paris"}, False, None)
def test_marker_rejects_every_truncation(value: dict[str, Any], compact: bool, data: Any) -> None:
    text = _dump(value, compact)
    cuts = range(len(text)) if data is None else [data.draw(st.integers(0, len(text) - 1))]
    for cut in cuts:
        prefix = text[:cut]
        if strictly_object(prefix):
            continue
        assert not lenient_reads_object(prefix + invalidating_suffix(prefix)), prefix


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]"\\:,a1 \n'), max_size=12))
def test_marker_rejects_any_text_and_is_short(text: str) -> None:
    suffix = invalidating_suffix(text)
    if not strictly_object(text):
        assert not lenient_reads_object(text + suffix)
    assert len(suffix) <= 3
    if not lenient_reads_object(text):
        assert suffix == "", "text langchain-core already rejects must merge unchanged"


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ('{"city": "Par', '"]'),
        ('{"a": [1, 2', "}"),
        ('{"a": "x\\', '""]'),
        ('{"a": "x\\\\', '"]'),
        ("{", "]"),
        ('{"a": 1} x', "]"),  # the lenient parse would drop the tail
        ("city=Paris", ""),
        ("[1, 2]", ""),
    ],
)
def test_marker_examples(text: str, suffix: str) -> None:
    assert invalidating_suffix(text) == suffix


# --------------------------------------------------------------------------- the fold


def _stream(pieces: list[str]) -> list[ChatGenerationChunk]:
    """The generation chunks `_stream` yields for one tool call whose arguments come in pieces."""
    state = StreamState("m")
    out: list[ChatGenerationChunk] = []
    for i, piece in enumerate(pieces):
        head = {"id": "call_1", "name": "get_weather"} if i == 0 else {}
        delta = StreamDelta(tool_call_chunks=[ToolCallChunk(index=0, arguments=piece, **head)])
        chunk = chunk_from_delta(delta, state)
        assert chunk is not None
        out.append(StreamGeneration(message=chunk))
    out.append(final_generation(state))
    return out


def _merge_messages(chunks: list[ChatGenerationChunk]) -> AIMessageChunk:
    total = chunks[0].message
    for chunk in chunks[1:]:
        total = total + chunk.message
    assert isinstance(total, AIMessageChunk)
    return total


def _split(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)] or [""]


@settings(max_examples=150, deadline=None)
@given(_objects, st.booleans(), st.lists(st.integers(0, 200), max_size=4))
def test_valid_arguments_merge_exactly_without_marker(
    value: dict[str, Any], compact: bool, cuts: list[int]
) -> None:
    text = _dump(value, compact)
    chunks = _stream(_split(text, cuts))
    assert chunks[-1].message.tool_call_chunks == []  # type: ignore[attr-defined]
    total = _merge_messages(chunks)
    assert [c["args"] for c in total.tool_calls] == [value]
    assert total.invalid_tool_calls == []


@settings(max_examples=150, deadline=None)
@given(_objects, st.booleans(), st.integers(0, 500), st.lists(st.integers(0, 200), max_size=3))
def test_truncated_arguments_never_merge_into_a_call(
    value: dict[str, Any], compact: bool, cut: int, cuts: list[int]
) -> None:
    raw = _dump(value, compact)[: cut % max(len(_dump(value, compact)), 1)]
    if strictly_object(raw):
        return
    chunks = _stream(_split(raw, cuts))
    by_messages = _merge_messages(chunks)
    assert by_messages.tool_calls == []
    [bad] = by_messages.invalid_tool_calls
    assert bad["args"] == raw + invalidating_suffix(raw)
    assert bad["name"] == "get_weather"
    # langchain-core's own sum of generations (generate_from_stream) gives the exact answer
    summed = chunks[0] + chunks[1:]
    assert summed.message.tool_calls == []  # type: ignore[attr-defined]
    [exact] = summed.message.invalid_tool_calls  # type: ignore[attr-defined]
    assert (exact["name"], exact["args"], exact["id"]) == ("get_weather", raw, "call_1")
    assert exact["error"] and "JSON" in exact["error"]


def test_generation_sum_one_by_one_keeps_the_verdict() -> None:
    chunks = _stream(['{"city": ', '"Par'])
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, StreamGeneration)
    assert [c["args"] for c in total.message.invalid_tool_calls] == ['{"city": "Par']  # type: ignore[attr-defined]
    assert StreamGeneration.lc_id() == ChatGenerationChunk.lc_id()


# --------------------------------------------------------------------------- public paths


RAW = '{"city": "Par'


async def _stream_merged(model: Any, mode: str) -> AIMessageChunk:
    chunks = list(model.stream("go")) if mode == "sync" else [c async for c in model.astream("go")]
    assert chunks[-1].chunk_position == "last"
    return _merge_messages([ChatGenerationChunk(message=c) for c in chunks])


async def _invoke(model: Any, mode: str) -> AIMessage:
    message = model.invoke("go") if mode == "sync" else await model.ainvoke("go")
    assert type(message) is AIMessage
    return message


async def test_stream_merges_truncated_arguments_into_invalid_call(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    standin.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": RAW}]))
    total = await _stream_merged(make_model(dialect=dialect).bind_tools([TOOL]), mode)
    assert total.tool_calls == []
    assert [(c["name"], c["args"]) for c in total.invalid_tool_calls] == [
        ("get_weather", RAW + '"]')
    ]


async def test_streaming_invoke_equals_plain_invoke(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    answers = []
    for streaming in (False, True):
        standin.enqueue(
            Reply(
                tool_calls=[
                    {"name": "get_weather", "arguments": RAW},
                    {"name": "get_weather", "arguments": {"city": "Oslo"}},
                ]
            )
        )
        model = make_model(dialect=dialect, streaming=streaming).bind_tools([TOOL])
        answers.append(await _invoke(model, mode))
    plain, streamed = answers
    assert standin.requests[-1].json["stream"] is True
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    strip = [{k: v for k, v in c.items() if k != "id"} for c in plain.invalid_tool_calls]
    assert [{k: v for k, v in c.items() if k != "id"} for c in streamed.invalid_tool_calls] == strip
    assert strip[0]["args"] == RAW and "JSON" in str(strip[0]["error"])


# --------------------------------------------------------------------------- schemas


class _Opaque:
    """Not describable in JSON schema."""


class Opaque(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    handle: _Opaque


@pytest.mark.parametrize(
    "bind",
    [
        lambda m: m.bind_tools([TOOL, Opaque]),
        lambda m: m.with_structured_output(Opaque, method="function_calling"),
        lambda m: m.with_structured_output(Opaque, method="json_schema"),
        lambda m: m.with_structured_output(Opaque, method="json_mode"),
    ],
    ids=["bind_tools", "function_calling", "json_schema", "json_mode"],
)
def test_unschemable_schema_fails_on_bind(
    standin: StandIn, make_model: MakeModel, bind: Callable[[ChatModelsLab], Any]
) -> None:
    with pytest.raises(TypeError, match="Opaque") as info:
        bind(make_model())
    assert "JSON schema" in str(info.value)
    assert isinstance(info.value.__cause__, PydanticInvalidForJsonSchema)
    assert standin.requests == []


async def test_generate_is_plain_when_streaming_is_disabled(
    standin: StandIn, make_model: MakeModel, dialect: str, mode: str
) -> None:
    """langchain-core streams through ``_stream``; it calls ``_generate`` only when streaming
    is off for the call (here ``disable_streaming`` overrides ``streaming=True``), and then
    the request is a plain one, as the user asked."""
    standin.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": RAW}]))
    model = make_model(dialect=dialect, streaming=True, disable_streaming=True)
    bound = model.bind_tools([TOOL])
    message = bound.invoke("go") if mode == "sync" else await bound.ainvoke("go")
    assert "stream" not in standin.requests[-1].json
    assert isinstance(message, AIMessage)
    assert message.tool_calls == []
    assert [(c["name"], c["args"]) for c in message.invalid_tool_calls] == [("get_weather", RAW)]
    assert "JSON" in str(message.invalid_tool_calls[0]["error"])
