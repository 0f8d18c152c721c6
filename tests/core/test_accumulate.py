"""The stream accumulator and the partial-JSON helper (pure)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelslab_core.partial_json import parse_partial_json
from modelslab_core.transport.accumulate import StreamAccumulator
from modelslab_core.types import ChatResult, StreamDelta, ToolCallChunk, Usage


def chunk(index: int, arguments: str = "", **kw: Any) -> StreamDelta:
    return StreamDelta(tool_call_chunks=[ToolCallChunk(index=index, arguments=arguments, **kw)])


def test_text_reasoning_and_metadata() -> None:
    acc = StreamAccumulator()
    acc.add(StreamDelta(id="gen-1", model="m1"))
    acc.add(StreamDelta(text="Hel", reasoning="Think", id="gen-2", model="m2"))
    acc.add(StreamDelta(text="lo", reasoning="ing", reasoning_signature="ab"))
    acc.add(
        StreamDelta(
            reasoning_signature="cd", finish_reason="length", raw_finish_reason="max_tokens"
        )
    )
    result = acc.result()
    assert isinstance(result, ChatResult)
    assert (result.text, result.reasoning, result.reasoning_signature) == (
        "Hello",
        "Thinking",
        "abcd",
    )
    assert (result.id, result.model) == ("gen-1", "m1")
    assert (result.finish_reason, result.raw_finish_reason) == ("length", "max_tokens")
    assert result.tool_calls == [] and result.usage is None


def test_empty_stream() -> None:
    result = StreamAccumulator().result()
    assert (result.text, result.reasoning, result.tool_calls, result.finish_reason) == (
        "",
        None,
        [],
        None,
    )


def test_usage_last_one_wins() -> None:
    acc = StreamAccumulator()
    acc.add(StreamDelta(usage=Usage(input_tokens=1, output_tokens=1, total_tokens=2)))
    acc.add(StreamDelta(text="x"))
    acc.add(StreamDelta(usage=Usage(input_tokens=1, output_tokens=5, total_tokens=6)))
    usage = acc.result().usage
    assert usage is not None and usage.output_tokens == 5


def test_tool_calls_by_index() -> None:
    acc = StreamAccumulator()
    for delta in [
        StreamDelta(
            tool_call_chunks=[
                ToolCallChunk(index=0, id="a", name="f", arguments='{"x"'),
                ToolCallChunk(index=1, id="b", name="g"),
            ]
        ),
        chunk(0, ": 1", id="a-repeated", name="f-repeated"),
        chunk(1, ""),
        chunk(0, "}"),
        chunk(2, '{"oops": ', id="c", name="h"),
        chunk(3, "[1]", name="i"),
    ]:
        acc.add(delta)
    calls = acc.result().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {}),
        ("c", "h", {}),
        ("call_3", "i", {}),
    ]
    assert [c.parse_error is None for c in calls] == [True, True, False, False]
    assert calls[2].raw_arguments == '{"oops": '
    assert calls[3].raw_arguments == "[1]" and "object" in (calls[3].parse_error or "")
    assert acc.raw_tool_calls()[0] == (0, "a", "f", '{"x": 1}')


def test_add_is_fast() -> None:
    delta = StreamDelta(text="tok")
    tool = chunk(0, "x")
    acc = StreamAccumulator()
    start = time.perf_counter()
    for _ in range(50_000):
        acc.add(delta)
        acc.add(tool)
    assert time.perf_counter() - start < 2.0
    assert len(acc.text) == 150_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("   ", {}),
        ("{", {}),
        ('{"a": 1}', {"a": 1}),
        ('{"a": "hel', {"a": "hel"}),
        ('{"a": "x\\', {"a": "x"}),
        ('{"a": "x\\u00', {"a": "x"}),
        ('{"a": 1, "b', {"a": 1}),
        ('{"a": 1, "b":', {"a": 1}),
        ('{"a": 1,', {"a": 1}),
        ('{"a": 1.', {"a": 1}),
        ('{"a": [1, 2, {"b": tru', {"a": [1, 2, {}]}),
        ('{"a": {"b": [', {"a": {"b": []}}),
        ('{"a": "br}ace[', {"a": "br}ace["}),
        ("[1, 2", None),
        ("not json", None),
        ('{"a": 1}}', {"a": 1}),
    ],
)
def test_parse_partial_json(text: str, expected: Any) -> None:
    assert parse_partial_json(text) == expected


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
_objects = st.dictionaries(st.text(max_size=6), _json, max_size=4)


@settings(max_examples=200, deadline=None)
@given(_objects, st.data())
def test_property_split_arguments_reassemble(obj: dict[str, Any], data: st.DataObject) -> None:
    text = json.dumps(obj)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    acc = StreamAccumulator()
    for i, piece in enumerate(pieces):
        acc.add(chunk(0, piece, id="c" if i == 0 else None, name="f" if i == 0 else None))
        so_far = acc.raw_tool_calls()[0][3]
        assert isinstance(parse_partial_json(so_far), dict), so_far
    (call,) = acc.result().tool_calls
    assert (call.id, call.name, call.arguments, call.parse_error) == ("c", "f", obj, None)


@settings(max_examples=80, deadline=None)
@given(_objects)
def test_property_partial_json_never_raises(obj: dict[str, Any]) -> None:
    text = json.dumps(obj)
    for end in range(len(text) + 1):
        value = parse_partial_json(text[:end])
        assert value is None or isinstance(value, dict)
    assert parse_partial_json(text) == obj
