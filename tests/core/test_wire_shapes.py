"""Every field of every decoder, fed every JSON shape: a typed error or the exact answer.

Each table row names one field of a valid body (or stream event), the JSON kinds the contract
allows there, and what the decoded answer must then hold. Every other kind (and a missing key,
where the field is required) must raise `APIResponseValidationError` naming the field: a wrong
shape never turns into a silent default such as an empty answer with ``finish_reason="stop"``.
A property test then puts arbitrary JSON anywhere and allows only a typed error or an answer.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelslab_core import (
    APIError,
    APIResponseValidationError,
    ChatResult,
    StreamDelta,
    ToolCallChunk,
)
from modelslab_core.dialects import ANTHROPIC, OPENAI, DialectCodec
from modelslab_core.tool_calls import argument_text

MISSING = object()
KINDS: dict[str, Any] = {
    "missing": MISSING,
    "null": None,
    "bool": True,
    "int": 7,
    "float": 1.5,
    "str": "x",
    "empty_str": "",
    "list": [],
    "dict": {},
}
Check = Callable[[Any, Any], bool]
"""``check(decoded, value)``: whether the answer is exactly what ``value`` there means."""


@dataclass(frozen=True)
class Row:
    path: str
    allowed: dict[str, Check]
    """Allowed kinds -> the check of the answer; every other kind must be an error."""
    names: str = ""
    """What the error may name instead of the field (a later event found a part missing)."""


def _set(body: Any, path: str, value: Any) -> Any:
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    index: Any = int(last) if isinstance(node, list) else last
    if value is MISSING:
        del node[index]
    else:
        node[index] = copy.deepcopy(value)
    return out


def _where(path: str) -> str:
    """``choices.0.message`` -> ``choices[0].message`` (how errors name a field)."""
    out = ""
    for key in path.split("."):
        out += f"[{key}]" if key.isdigit() else (f".{key}" if out else key)
    return out


# --------------------------------------------------------------------------- /chat/completions

OPENAI_BODY = {
    "id": "gen-1",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning_content": "think",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 3,
        "completion_tokens": 2,
        "total_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 1},
    },
}


def _usage_is(field: str, default: Any) -> dict[str, Check]:
    return {
        "int": lambda r, v: getattr(r.usage, field) == v,
        "null": lambda r, v: getattr(r.usage, field) == default,
        "missing": lambda r, v: getattr(r.usage, field) == default,
    }


def _usage_unset(field: str) -> dict[str, Check]:
    """An optional details object: present, null or missing, ``field`` stays unset."""
    return dict.fromkeys(("dict", "null", "missing"), lambda r, v: getattr(r.usage, field) is None)


def _opt_str(attr: str, empty: Any = None) -> dict[str, Check]:
    return {
        "str": lambda r, v: getattr(r, attr) == v,
        "empty_str": lambda r, v: getattr(r, attr) in (v, empty),
        "null": lambda r, v: getattr(r, attr) == empty,
        "missing": lambda r, v: getattr(r, attr) == empty,
    }


def _call_arguments() -> dict[str, Check]:
    """Arguments are the model's output: any JSON value is kept; a non-object is an invalid
    call that keeps its text (never dropped, never a silent ``{}``)."""

    def call(r: Any) -> Any:
        return r.tool_calls[0]

    def invalid(r: Any, v: Any) -> bool:
        return call(r).parse_error is not None and call(r).raw_arguments == json.dumps(v)

    return {
        "str": lambda r, v: call(r).parse_error is not None and call(r).raw_arguments == v,
        "empty_str": lambda r, v: call(r).arguments == {} and call(r).parse_error is None,
        "dict": lambda r, v: call(r).arguments == v and call(r).parse_error is None,
        "null": lambda r, v: call(r).arguments == {} and call(r).parse_error is None,
        "missing": lambda r, v: call(r).arguments == {} and call(r).parse_error is None,
        **{k: invalid for k in ("bool", "int", "float", "list")},
    }


_NO_CALLS: Check = lambda r, v: r.tool_calls == []  # noqa: E731
OPENAI_ROWS = [
    Row("id", _opt_str("id")),
    Row("model", _opt_str("model")),
    Row("choices", {}),
    Row("choices.0", {}),
    Row(
        "choices.0.message",
        {"dict": lambda r, v: (r.text, r.tool_calls, r.reasoning) == ("", [], None)},
    ),
    Row(
        "choices.0.message.content",
        {
            **_opt_str("text", ""),
            "list": lambda r, v: r.text == "",
        },
    ),
    Row("choices.0.message.reasoning_content", _opt_str("reasoning")),
    Row(
        "choices.0.message.tool_calls", {"null": _NO_CALLS, "missing": _NO_CALLS, "list": _NO_CALLS}
    ),
    Row("choices.0.message.tool_calls.0", {}),
    Row(
        "choices.0.message.tool_calls.0.id",
        {
            "str": lambda r, v: r.tool_calls[0].id == v,
            "empty_str": lambda r, v: r.tool_calls[0].id == "call_0",
            "null": lambda r, v: r.tool_calls[0].id == "call_0",
            "missing": lambda r, v: r.tool_calls[0].id == "call_0",
        },
    ),
    Row("choices.0.message.tool_calls.0.function", {}),
    Row(
        "choices.0.message.tool_calls.0.function.name",
        {"str": lambda r, v: r.tool_calls[0].name == v},
    ),
    Row("choices.0.message.tool_calls.0.function.arguments", _call_arguments()),
    Row(
        "choices.0.finish_reason",
        {
            "str": lambda r, v: r.raw_finish_reason == v and r.finish_reason == "unknown",
            "empty_str": lambda r, v: r.finish_reason is None,
            "null": lambda r, v: r.finish_reason is None and r.raw_finish_reason is None,
            "missing": lambda r, v: r.finish_reason is None and r.raw_finish_reason is None,
        },
    ),
    Row("usage", {"null": lambda r, v: r.usage is None, "missing": lambda r, v: r.usage is None}),
    Row(
        "usage.prompt_tokens",
        {"int": lambda r, v: r.usage.input_tokens == v and r.usage.total_tokens == 5},
    ),
    Row("usage.completion_tokens", {"int": lambda r, v: r.usage.output_tokens == v}),
    Row(
        "usage.total_tokens",
        {
            "int": lambda r, v: r.usage.total_tokens == v,
            "null": lambda r, v: r.usage.total_tokens == 5,
            "missing": lambda r, v: r.usage.total_tokens == 5,
        },
    ),
    Row("usage.prompt_tokens_details", _usage_unset("cache_read_tokens")),
    Row("usage.prompt_tokens_details.cached_tokens", _usage_is("cache_read_tokens", None)),
    Row("usage.completion_tokens_details", _usage_unset("reasoning_tokens")),
    Row("usage.completion_tokens_details.reasoning_tokens", _usage_is("reasoning_tokens", None)),
]

OPENAI_CHUNK = {
    "id": "gen-1",
    "model": "m",
    "choices": [
        {
            "index": 0,
            "delta": {
                "content": "hi",
                "reasoning_content": "r",
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{"}}
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


def _chunk_call(d: StreamDelta) -> Any:
    return d.tool_call_chunks[0]


OPENAI_CHUNK_ROWS = [
    Row("id", _opt_str("id")),
    Row("model", _opt_str("model")),
    Row("choices.0", {}),
    Row(
        "choices.0.delta",
        {
            "dict": lambda d, v: d.text == "" and d.finish_reason == "stop",
            "null": lambda d, v: d.text == "" and d.finish_reason == "stop",
            "missing": lambda d, v: d.text == "" and d.finish_reason == "stop",
        },
    ),
    Row("choices.0.delta.content", {**_opt_str("text", ""), "list": lambda d, v: d.text == ""}),
    Row("choices.0.delta.reasoning_content", _opt_str("reasoning", "")),
    Row(
        "choices.0.delta.tool_calls",
        {k: (lambda d, v: d.tool_call_chunks == []) for k in ("null", "missing", "list")},
    ),
    Row(
        "choices.0.delta.tool_calls.0",
        {"dict": lambda d, v: _chunk_call(d) == ToolCallChunk(0, None, None, "")},
    ),
    Row(
        "choices.0.delta.tool_calls.0.index",
        {
            "int": lambda d, v: _chunk_call(d).index == v,
            "null": lambda d, v: _chunk_call(d).index == 0,
            "missing": lambda d, v: _chunk_call(d).index == 0,
        },
    ),
    Row(
        "choices.0.delta.tool_calls.0.id",
        {k: (lambda d, v: _chunk_call(d).id == (v or None)) for k in ("str", "empty_str", "null")}
        | {"missing": lambda d, v: _chunk_call(d).id is None},
    ),
    Row(
        "choices.0.delta.tool_calls.0.function",
        {
            k: (lambda d, v: (_chunk_call(d).name, _chunk_call(d).arguments) == (None, ""))
            for k in ("dict", "null", "missing")
        },
    ),
    Row(
        "choices.0.delta.tool_calls.0.function.name",
        {k: (lambda d, v: _chunk_call(d).name == (v or None)) for k in ("str", "empty_str", "null")}
        | {"missing": lambda d, v: _chunk_call(d).name is None},
    ),
    Row(
        "choices.0.delta.tool_calls.0.function.arguments",
        {k: (lambda d, v: _chunk_call(d).arguments == argument_text(v)) for k in KINDS},
    ),
    Row(
        "choices.0.finish_reason",
        {
            "str": lambda d, v: d.raw_finish_reason == v,
            "empty_str": lambda d, v: d.finish_reason is None and d.usage is None,
            "null": lambda d, v: d.finish_reason is None and d.usage is None,
            "missing": lambda d, v: d.finish_reason is None and d.usage is None,
        },
    ),
    Row("usage", {k: (lambda d, v: d.usage is None) for k in ("null", "missing")}),
    Row("usage.prompt_tokens", {"int": lambda d, v: d.usage.input_tokens == v}),
    Row("usage.completion_tokens", {"int": lambda d, v: d.usage.output_tokens == v}),
]

# --------------------------------------------------------------------------- /v1/messages

ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 1},
}

ANTHROPIC_ROWS = [
    Row("id", _opt_str("id")),
    Row("model", _opt_str("model")),
    Row("content", {"list": lambda r, v: (r.text, r.tool_calls, r.reasoning) == ("", [], None)}),
    Row("content.0", {}),
    Row("content.0.type", {"str": lambda r, v: r.reasoning is None and r.text == "hi"}),
    Row("content.0.thinking", {**_opt_str("reasoning"), "str": lambda r, v: r.reasoning == v}),
    Row("content.0.signature", _opt_str("reasoning_signature")),
    Row("content.1.type", {"str": lambda r, v: r.text == ""}),
    Row("content.1.text", _opt_str("text", "")),
    Row("content.2.type", {"str": lambda r, v: r.tool_calls == []}),
    Row(
        "content.2.id",
        {
            "str": lambda r, v: r.tool_calls[0].id == v,
            **{
                k: (lambda r, v: r.tool_calls[0].id == "toolu_0")
                for k in ("empty_str", "null", "missing")
            },
        },
    ),
    Row("content.2.name", {"str": lambda r, v: r.tool_calls[0].name == v}),
    Row("content.2.input", _call_arguments()),
    Row(
        "stop_reason",
        {
            "str": lambda r, v: r.raw_finish_reason == v,
            **{k: (lambda r, v: r.finish_reason is None) for k in ("empty_str", "null", "missing")},
        },
    ),
    Row("usage", {k: (lambda r, v: r.usage is None) for k in ("null", "missing")}),
    Row("usage.input_tokens", {"int": lambda r, v: r.usage.input_tokens == v + 1}),
    Row("usage.output_tokens", {"int": lambda r, v: r.usage.output_tokens == v}),
    Row(
        "usage.cache_read_input_tokens",
        {
            "int": lambda r, v: r.usage.cache_read_tokens == v,
            **{k: (lambda r, v: r.usage.cache_read_tokens is None) for k in ("null", "missing")},
        },
    ),
]

# The stream events of one answer; each row mutates one event and replays the stream.
ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}},
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'},
    },
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}},
    {"type": "message_stop"},
]


def _replay(events: list[dict[str, Any]]) -> ChatResult:
    from modelslab_core.transport.accumulate import StreamAccumulator

    state, acc = ANTHROPIC.new_stream_state(), StreamAccumulator()
    for data in events:
        deltas, _ = ANTHROPIC.decode_event(state, data.get("type"), data)
        for delta in deltas:
            acc.add(delta)
    return acc.result()


ANTHROPIC_EVENT_ROWS = [
    Row("0.message", {}, names="input_tokens"),
    Row("0.message.id", _opt_str("id")),
    Row("0.message.model", _opt_str("model")),
    Row("0.message.usage", {}, names="usage"),
    Row("0.message.usage.input_tokens", {"int": lambda r, v: r.usage.input_tokens == v}),
    Row("1.content_block", {}),
    Row("1.content_block.type", {"str": lambda r, v: r.text == "hi"}),
    Row(
        "1.content_block.text",
        {
            k: (lambda r, v: r.text == (v or "") + "hi")
            for k in ("str", "empty_str", "null", "missing")
        },
    ),
    Row("2.delta", {}),
    Row("2.delta.type", {"str": lambda r, v: r.text == ""}),
    Row(
        "2.delta.text",
        {k: (lambda r, v: r.text == (v or "")) for k in ("str", "empty_str", "null", "missing")},
    ),
    Row(
        "3.content_block.id",
        {
            k: (lambda r, v: r.tool_calls[0].id == (v or "call_0"))
            for k in ("str", "empty_str", "null", "missing")
        },
    ),
    Row("3.content_block.name", {"str": lambda r, v: r.tool_calls[0].name == v}),
    Row("4.index", {}),
    Row(
        "4.delta.partial_json",
        {k: (lambda r, v: r.tool_calls[0].raw_arguments == v) for k in ("str",)}
        | {
            k: (lambda r, v: r.tool_calls[0].arguments == {})
            for k in ("empty_str", "null", "missing")
        },
    ),
    Row("5.delta", {"dict": lambda r, v: r.finish_reason is None and r.usage.output_tokens == 5}),
    Row(
        "5.delta.stop_reason",
        {"str": lambda r, v: r.raw_finish_reason == v}
        | {k: (lambda r, v: r.finish_reason is None) for k in ("empty_str", "null", "missing")},
    ),
    Row(
        "5.usage",
        {k: (lambda r, v: r.usage.output_tokens == 1) for k in ("null", "missing", "dict")},
    ),
    Row(
        "5.usage.output_tokens",
        {
            "int": lambda r, v: r.usage.output_tokens == v,
            "null": lambda r, v: r.usage.output_tokens == 1,
            "missing": lambda r, v: r.usage.output_tokens == 1,
        },
    ),
]

# --------------------------------------------------------------------------- the tables


def _openai_chunk(body: Any) -> StreamDelta:
    deltas, done = OPENAI.decode_event(OPENAI.new_stream_state(), None, body)
    assert not done and len(deltas) == 1
    return deltas[0]


@dataclass(frozen=True)
class Route:
    name: str
    base: Any
    rows: list[Row]
    decode: Callable[[Any], Any]


def _decode_with(codec: DialectCodec) -> Callable[[Any], Any]:
    return codec.decode_response


ROUTES = [
    Route("openai-response", OPENAI_BODY, OPENAI_ROWS, _decode_with(OPENAI)),
    Route("openai-chunk", OPENAI_CHUNK, OPENAI_CHUNK_ROWS, _openai_chunk),
    Route("anthropic-response", ANTHROPIC_BODY, ANTHROPIC_ROWS, _decode_with(ANTHROPIC)),
    Route("anthropic-stream", ANTHROPIC_EVENTS, ANTHROPIC_EVENT_ROWS, _replay),
]
CASES = [
    pytest.param(route, row, kind, id=f"{route.name}:{row.path}:{kind}")
    for route in ROUTES
    for row in route.rows
    for kind in KINDS
    # removing an array item is the parent array with fewer items: the parent's own row
    if not (kind == "missing" and row.path.rsplit(".", 1)[-1].isdigit())
]


@pytest.mark.parametrize(("route", "row", "kind"), CASES)
def test_every_field_every_shape(route: Route, row: Row, kind: str) -> None:
    value = KINDS[kind]
    body = _set(route.base, row.path, value)
    check = row.allowed.get(kind)
    if check is None:
        with pytest.raises(APIResponseValidationError) as info:
            route.decode(body)
        leaf = [k for k in row.path.split(".") if not k.isdigit()][-1]
        names = {leaf, row.names} - {""}
        assert any(n in str(info.value) for n in names), str(info.value)  # names the field
        return
    answer = route.decode(body)
    assert check(answer, None if value is MISSING else value), (answer, value)


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_the_base_bodies_decode(route: Route) -> None:
    answer = route.decode(route.base)
    assert answer is not None


def test_an_input_json_delta_without_its_tool_block_is_an_error() -> None:
    events = [
        e for e in ANTHROPIC_EVENTS if e.get("index") != 1 or e["type"] != "content_block_start"
    ]
    with pytest.raises(APIResponseValidationError, match="tool_use block"):
        _replay(events)


def test_a_null_message_is_never_an_empty_answer() -> None:
    for message in (None, "text", 3, []):
        body = {"choices": [{"message": message, "finish_reason": "stop"}]}
        with pytest.raises(APIResponseValidationError, match=r"choices\[0\]\.message"):
            OPENAI.decode_response(body)


def _paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = list(value.items())
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return []
    out = []
    for key, child in items:
        path = f"{prefix}.{key}" if prefix else key
        out.append(path)
        out.extend(_paths(child, path))
    return out


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ROUTES), st.data())
def test_property_any_json_anywhere_is_an_answer_or_a_typed_error(
    route: Route, data: st.DataObject
) -> None:
    paths = _paths(route.base)
    if route.name == "anthropic-stream":  # the transport hands over JSON objects only
        paths = [p for p in paths if "." in p]
    path = data.draw(st.sampled_from(paths))
    value = data.draw(_json | st.just(MISSING))
    body = _set(route.base, path, value)
    with contextlib.suppress(APIError):
        route.decode(body)
