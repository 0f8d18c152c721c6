"""Bad input fails fast: a clear ValueError/TypeError naming the problem, before any request.

Every case runs through each layer (core client, LangChain, LlamaIndex) and, where the dialect
matters, both dialects; the stand-in must have recorded zero requests afterwards.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages import ChatMessage as LCChatMessage
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    MessageRole,
)
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool, ToolMetadata
from pydantic import BaseModel, ConfigDict
from rel_drivers import DIALECTS, LAYERS, MODEL, WEATHER_TOOL

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import (
    AsyncModelsLabClient,
    ChatRequest,
    JsonSchemaFormat,
    Message,
    ModelsLabClient,
    StreamAccumulator,
    TextPart,
    ToolCall,
    ToolSpec,
)
from modelslab_core.dialects import codec_for
from modelslab_core.testing import StandIn

BAD = (ValueError, TypeError)
WHEN = datetime.datetime(2024, 5, 1, 12, 0)


def fails_fast(standin: StandIn, call: Callable[[], Any], *needles: str) -> BaseException:
    """``call()`` raises a ValueError/TypeError mentioning every needle; nothing was sent."""
    with pytest.raises(BAD) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle.lower() in message.lower(), f"{needle!r} not named in: {message}"
    assert standin.requests == [], "a request was sent for bad input"
    return info.value


def core(standin: StandIn, dialect: str = "openai") -> ModelsLabClient:
    return ModelsLabClient(api_key=standin.api_key, base_url=standin.base_url, dialect=dialect)


def lc(standin: StandIn, dialect: str = "openai", **fields: Any) -> ChatModelsLab:
    return ChatModelsLab(
        api_key=standin.api_key, base_url=standin.base_url, dialect=dialect, model=MODEL, **fields
    )


def li(standin: StandIn, dialect: str = "openai", **fields: Any) -> ModelsLab:
    return ModelsLab(
        api_key=standin.api_key, api_base=standin.base_url, dialect=dialect, model=MODEL, **fields
    )


def core_request(messages: list[Message], **fields: Any) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=messages, **fields)


# --------------------------------------------------------------------------- empty messages


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("path", ["sync", "async", "stream", "astream"])
def test_empty_message_list(standin: StandIn, dialect: str, path: str) -> None:
    client = core(standin, dialect)
    aclient = AsyncModelsLabClient(client.config)
    model, llm = lc(standin, dialect), li(standin, dialect)
    request = core_request([])

    async def drain(agen: Any) -> None:
        async for _ in agen:
            pass

    calls: dict[str, list[Callable[[], Any]]] = {
        "sync": [lambda: client.chat(request), lambda: model.invoke([]), lambda: llm.chat([])],
        "async": [
            lambda: asyncio.run(aclient.chat(request)),
            lambda: asyncio.run(model.ainvoke([])),
            lambda: asyncio.run(llm.achat([])),
        ],
        "stream": [
            lambda: list(client.stream(request)),
            lambda: list(model.stream([])),
            lambda: list(llm.stream_chat([])),
        ],
        "astream": [
            lambda: asyncio.run(drain(aclient.stream(request))),
            lambda: asyncio.run(drain(model.astream([]))),
            lambda: asyncio.run(_li_astream(llm)),
        ],
    }
    for call in calls[path]:
        fails_fast(standin, call, "message")


async def _li_astream(llm: ModelsLab) -> None:
    async for _ in await llm.astream_chat([]):
        pass


# --------------------------------------------------------------------------- roles


def test_unknown_role_core(standin: StandIn) -> None:
    fails_fast(
        standin,
        lambda: core(standin).chat(
            core_request([Message(role="wizard", content=[TextPart(text="hi")])])
        ),
        "role",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_role_langchain(standin: StandIn, dialect: str) -> None:
    model = lc(standin, dialect)
    fails_fast(
        standin, lambda: model.invoke([LCChatMessage(role="wizard", content="hi")]), "wizard"
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_unknown_role_llama_index(standin: StandIn, dialect: str) -> None:
    stray = ChatMessage.model_construct(role="wizard", blocks=[], additional_kwargs={})
    fails_fast(standin, lambda: li(standin, dialect).chat([stray]), "wizard")


@pytest.mark.parametrize("role", list(MessageRole), ids=lambda r: r.value)
def test_every_llama_index_role_is_sent_or_named(standin: StandIn, role: MessageRole) -> None:
    """Each LlamaIndex role is either converted or refused with a ValueError (no crash)."""
    llm = li(standin)
    try:
        llm.chat([ChatMessage(role=role, content="hi")])
    except BAD as exc:
        assert standin.requests == []
        assert "tool" in str(exc).lower() or role.value in str(exc)
    else:
        assert len(standin.requests) == 1


# --------------------------------------------------------------------------- content


def test_unsupported_content_core(standin: StandIn) -> None:
    fails_fast(
        standin,
        lambda: core(standin).chat(
            core_request(
                [
                    Message.model_validate(
                        {"role": "user", "content": [{"type": "audio", "data": "AA"}]}
                    )
                ]
            )
        ),
        "audio",
    )


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "block",
    [
        {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
        {"type": "file", "base64": "JVBERi0=", "mime_type": "application/pdf"},
        {"type": "video", "url": "https://example.com/v.mp4"},
    ],
    ids=lambda b: b["type"],
)
def test_unsupported_content_langchain(standin: StandIn, dialect: str, block: Any) -> None:
    message = HumanMessage(content=[{"type": "text", "text": "look"}, block])
    fails_fast(standin, lambda: lc(standin, dialect).invoke([message]), block["type"])


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "block",
    [
        AudioBlock(audio=b"AAAA", format="wav"),
        DocumentBlock(data=b"%PDF-1.4", document_mimetype="application/pdf"),
    ],
    ids=lambda b: type(b).__name__,
)
def test_unsupported_content_llama_index(standin: StandIn, dialect: str, block: Any) -> None:
    message = ChatMessage(role="user", blocks=[block])
    fails_fast(standin, lambda: li(standin, dialect).chat([message]), type(block).__name__)


# --------------------------------------------------------------------------- system messages


@pytest.mark.parametrize("layer", LAYERS)
def test_late_system_message_is_hoisted_under_anthropic(standin: StandIn, layer: str) -> None:
    """Anthropic takes the system prompt only as the top-level ``system`` string.

    Decision (documented here): a system message after the first turn is not an error; the
    anthropic dialect hoists every system message, in order, into ``system`` and keeps the
    order of the other turns. The openai dialect sends it where it stands.
    """
    turns = [
        ("user", "hi"),
        ("assistant", "hello"),
        ("system", "Answer briefly."),
        ("user", "Say: done"),
    ]
    if layer == "core":
        reply = (
            core(standin, "anthropic")
            .chat(core_request([Message.text(r, t) for r, t in turns]))
            .text
        )
    elif layer == "langchain":
        kinds = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage}
        reply = str(lc(standin, "anthropic").invoke([kinds[r](t) for r, t in turns]).content)
    else:
        messages = [ChatMessage(role=r, content=t) for r, t in turns]
        reply = str(li(standin, "anthropic").chat(messages).message.content)
    assert reply == "done"
    body = standin.last_request.json
    assert body["system"] == "Answer briefly."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_system_message_stays_in_place_under_openai(standin: StandIn) -> None:
    turns = [
        ("user", "hi"),
        ("assistant", "hello"),
        ("system", "Answer briefly."),
        ("user", "Say: done"),
    ]
    core(standin, "openai").chat(core_request([Message.text(r, t) for r, t in turns]))
    body = standin.last_request.json
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "system", "user"]


# --------------------------------------------------------------------------- sampling values

_OUT_OF_RANGE = [
    ("temperature", -0.1),
    ("temperature", 2.5),
    ("top_p", 1.5),
    ("top_p", -0.5),
    ("max_tokens", 0),
    ("max_tokens", -5),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("field", "value"), _OUT_OF_RANGE, ids=lambda v: str(v))
def test_out_of_range_sampling_values(
    standin: StandIn, dialect: str, field: str, value: float
) -> None:
    hi_core = [Message.text("user", "hi")]
    fails_fast(
        standin, lambda: core(standin, dialect).chat(core_request(hi_core, **{field: value})), field
    )
    fails_fast(standin, lambda: lc(standin, dialect).invoke("hi", **{field: value}), field)
    fails_fast(standin, lambda: list(lc(standin, dialect).stream("hi", **{field: value})), field)
    fails_fast(standin, lambda: lc(standin, dialect, **{field: value}).invoke("hi"), field)
    hi_li = [ChatMessage(role="user", content="hi")]
    fails_fast(standin, lambda: li(standin, dialect).chat(hi_li, **{field: value}), field)
    fails_fast(
        standin, lambda: list(li(standin, dialect).stream_chat(hi_li, **{field: value})), field
    )


def test_out_of_range_llama_index_settings(standin: StandIn) -> None:
    fails_fast(standin, lambda: li(standin, temperature=3.0), "temperature")
    fails_fast(standin, lambda: li(standin, max_tokens=0), "max_tokens")


# --------------------------------------------------------------------------- tool arguments


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("layer", LAYERS)
def test_non_serialisable_tool_arguments(standin: StandIn, layer: str, dialect: str) -> None:
    args = {"when": WHEN}
    if layer == "core":
        messages = [
            Message.text("user", "book it"),
            Message(role="assistant", tool_calls=[ToolCall(id="c1", name="book", arguments=args)]),
            Message.text("tool", "ok", tool_call_id="c1"),
        ]

        def call() -> Any:
            return core(standin, dialect).chat(core_request(messages))

    elif layer == "langchain":
        history = [
            HumanMessage("book it"),
            AIMessage(content="", tool_calls=[{"name": "book", "args": args, "id": "c1"}]),
            ToolMessage("ok", tool_call_id="c1"),
        ]

        def call() -> Any:
            return lc(standin, dialect).invoke(history)

    else:
        legacy = [{"id": "c1", "type": "function", "function": {"name": "book", "arguments": args}}]
        chat = [
            ChatMessage(role="user", content="book it"),
            ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": legacy}),
            ChatMessage(role="tool", content="ok", additional_kwargs={"tool_call_id": "c1"}),
        ]

        def call() -> Any:
            return li(standin, dialect).chat(chat)

    fails_fast(standin, call, "book", "JSON")


# --------------------------------------------------------------------------- schemas


class _Opaque:
    """A type pydantic can hold but not describe in JSON schema."""


class Unschemable(BaseModel):
    """A pydantic model whose JSON schema cannot be generated."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    handle: _Opaque


@pytest.mark.parametrize("dialect", DIALECTS)
def test_schema_not_json_core(standin: StandIn, dialect: str) -> None:
    hi = [Message.text("user", "hi")]
    tool = ToolSpec(
        name="lookup", parameters={"type": "object", "properties": {"x": {"type": str}}}
    )
    fails_fast(
        standin,
        lambda: core(standin, dialect).chat(core_request(hi, tools=[tool])),
        "lookup",
        "JSON",
    )
    fmt = JsonSchemaFormat(name="answer", schema={"type": "object", "default": {1, 2}})
    fails_fast(
        standin,
        lambda: core(standin, dialect).chat(core_request(hi, response_format=fmt)),
        "response_format",
        "JSON",
    )


@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
def test_schema_not_json_langchain_structured_output(standin: StandIn, method: str) -> None:
    model = lc(standin)
    fails_fast(
        standin,
        lambda: model.with_structured_output(Unschemable, method=method).invoke("hi"),
        "Unschemable",
    )


def test_schema_not_json_langchain_tools(standin: StandIn) -> None:
    model = lc(standin)
    fails_fast(standin, lambda: model.bind_tools([Unschemable]).invoke("hi"), "Unschemable")


def test_not_a_schema_langchain(standin: StandIn) -> None:
    model = lc(standin)
    fails_fast(standin, lambda: model.bind_tools([42]).invoke("hi"), "42")
    fails_fast(standin, lambda: model.with_structured_output(int).invoke("hi"), "int")


def _noop(handle: str) -> str:
    """Does nothing."""
    return handle


def test_schema_not_json_llama_index_tool(standin: StandIn) -> None:
    tool = FunctionTool(
        fn=_noop, metadata=ToolMetadata(name="opaque_tool", description="d", fn_schema=Unschemable)
    )
    fails_fast(standin, lambda: li(standin).chat_with_tools([tool], user_msg="hi"), "opaque_tool")


@pytest.mark.parametrize("mode", ["function_calling", "json_schema"])
def test_schema_not_json_llama_index_structured(standin: StandIn, mode: str) -> None:
    llm = li(standin, structured_output_mode=mode)
    prompt = PromptTemplate("hi")
    fails_fast(standin, lambda: llm.structured_predict(Unschemable, prompt), "Unschemable")


@pytest.mark.parametrize("mode", ["function_calling", "json_schema"])
def test_not_a_schema_llama_index_structured(standin: StandIn, mode: str) -> None:
    llm = li(standin, structured_output_mode=mode)
    fails_fast(standin, lambda: llm.structured_predict(int, PromptTemplate("hi")), "int")


def test_langchain_tool_schema_is_checked_on_bind(standin: StandIn) -> None:
    """A good tool still goes through (the checks do not reject valid input)."""
    message = lc(standin).bind_tools([WEATHER_TOOL]).invoke("Weather in get_weather Paris?")
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"
    assert len(standin.requests) == 1


# --------------------------------------------------------------------------- properties


_chunk_texts = st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8)
_args = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()),
    max_size=4,
)


def _openai_stream_events(pieces: list[str], args: dict[str, Any], cut: int) -> list[Any]:
    raw = json.dumps(args)
    head = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": raw[:cut]},
    }
    deltas = [{"content": p} for p in pieces]
    deltas += [
        {"tool_calls": [head]},
        {"tool_calls": [{"index": 0, "function": {"arguments": raw[cut:]}}]},
    ]
    return [{"choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]


def _anthropic_stream_events(pieces: list[str], args: dict[str, Any], cut: int) -> list[Any]:
    raw = json.dumps(args)
    events: list[Any] = [
        {"type": "message_start", "message": {"id": "m", "model": "x", "usage": {}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
        for p in pieces
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": raw[:cut]},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": raw[cut:]},
        },
        {"type": "content_block_stop", "index": 1},
    ]
    return events


@settings(max_examples=60, deadline=None)
@given(
    pieces=_chunk_texts,
    args=_args,
    cut=st.integers(min_value=0, max_value=200),
    dialect=st.sampled_from(DIALECTS),
)
def test_property_stream_decode_round_trip(
    pieces: list[str], args: dict[str, Any], cut: int, dialect: str
) -> None:
    """Text and tool arguments split anywhere come back whole through decode + accumulate."""
    codec = codec_for(dialect)
    build = _openai_stream_events if dialect == "openai" else _anthropic_stream_events
    state = codec.new_stream_state()
    acc = StreamAccumulator()
    for event in build(pieces, args, min(cut, len(json.dumps(args)))):
        deltas, _ = codec.decode_event(state, event.get("type"), event)
        for delta in deltas:
            acc.add(delta)
    result = acc.result()
    assert result.text == "".join(pieces)
    assert [(c.name, c.arguments, c.parse_error) for c in result.tool_calls] == [("f", args, None)]


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40), args=_args, dialect=st.sampled_from(DIALECTS))
def test_property_assistant_turn_round_trip(text: str, args: dict[str, Any], dialect: str) -> None:
    """An assistant turn encoded for the wire decodes back to the same text and tool call."""
    call = ToolCall(id="call_1", name="f", arguments=args)
    request = core_request(
        [Message.text("user", "go"), Message.text("assistant", text, tool_calls=[call])]
    )
    codec = codec_for(dialect)
    turn = codec.encode_request(request, stream=False, model_field="model")["messages"][-1]
    if dialect == "openai":
        result = codec.decode_response({"choices": [{"message": turn}]})
    else:
        content = turn["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        result = codec.decode_response({"type": "message", "role": "assistant", "content": blocks})
    assert result.text == text
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("call_1", "f", args)]
