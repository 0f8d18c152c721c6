"""The benchmark's fixed answers, as wire bytes: pure functions, no I/O.

The fake server serves these precomputed bytes and the clients check what they decoded
against the expectations here, so every client is measured on the same payloads.

The model name in the request picks the variant (``bench-call``, ``bench-s1k``,
``bench-s100k``, ``bench-tool``); ``"stream": true`` picks the streamed form.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TOOL_ARGS",
    "TOOL_NAME",
    "VARIANTS",
    "Variant",
    "anthropic_body",
    "anthropic_events",
    "chunked",
    "openai_body",
    "openai_events",
    "response_bytes",
    "text_of",
]

_WORDS = [
    "",
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "streaming",
    "tokens",
    "arrive",
    "one",
    "by",
    "one",
    "from",
    "a",
    "fast",
    "local",
    "server",
    "and",
    "every",
    "client",
    "pays",
    "for",
    "what",
    "it",
    "adds",
][1:]

TOOL_NAME = "get_weather"
TOOL_ARGS: dict[str, Any] = {
    "location": "Paris, France",
    "unit": "celsius",
    "days": 5,
    "include_hourly": True,
    "notes": "benchmark tool call whose arguments arrive in twenty pieces",
}
TOOL_DELTAS = 20
CREATED = 1_700_000_000


@dataclass(frozen=True)
class Variant:
    """One answer: ``chunks`` text tokens, or a tool call whose arguments stream in pieces."""

    model: str
    chunks: int
    tool: bool = False


VARIANTS: dict[str, Variant] = {
    v.model: v
    for v in (
        Variant("bench-call", 30),
        Variant("bench-s1k", 1_000),
        Variant("bench-s100k", 100_000),
        Variant("bench-tool", 0, tool=True),
    )
}


def tokens(n: int) -> list[str]:
    """The ``n`` text tokens of an answer (deterministic, a few bytes each)."""
    return [" " + _WORDS[i % len(_WORDS)] for i in range(n)]


def text_of(variant: Variant) -> str:
    """The full answer text of ``variant``."""
    return "".join(tokens(variant.chunks))


def tool_arg_pieces() -> list[str]:
    """The tool call's JSON arguments, split into `TOOL_DELTAS` pieces."""
    raw = json.dumps(TOOL_ARGS)
    cuts = [i * len(raw) // TOOL_DELTAS for i in range(TOOL_DELTAS + 1)]
    return [raw[a:b] for a, b in itertools.pairwise(cuts)]


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _usage_openai(v: Variant) -> dict[str, int]:
    out = max(v.chunks, TOOL_DELTAS)
    return {"prompt_tokens": 12, "completion_tokens": out, "total_tokens": 12 + out}


def openai_body(v: Variant) -> bytes:
    """A non-streamed ``chat.completion``."""
    message: dict[str, Any] = {"role": "assistant", "content": text_of(v)}
    finish = "stop"
    if v.tool:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_bench_1",
                    "type": "function",
                    "function": {"name": TOOL_NAME, "arguments": json.dumps(TOOL_ARGS)},
                }
            ],
        }
        finish = "tool_calls"
    return _dump(
        {
            "id": "gen-bench-1",
            "object": "chat.completion",
            "created": CREATED,
            "model": v.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage_openai(v),
        }
    )


def _oa_chunk(v: Variant, delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {
        "id": "gen-bench-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": v.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + _dump(obj) + b"\n\n"


def openai_events(v: Variant) -> list[bytes]:
    """The SSE events of a streamed answer, one ``bytes`` per event (comment first, [DONE] last)."""
    events = [b": OPENROUTER PROCESSING\n\n"]
    if v.tool:
        events.append(
            _oa_chunk(
                v,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_bench_1",
                            "type": "function",
                            "function": {"name": TOOL_NAME, "arguments": ""},
                        }
                    ],
                },
            )
        )
        for piece in tool_arg_pieces():
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            events.append(_oa_chunk(v, delta))
        events.append(_oa_chunk(v, {}, "tool_calls"))
    else:
        events.append(_oa_chunk(v, {"role": "assistant", "content": ""}))
        events.extend(_oa_chunk(v, {"content": tok}) for tok in tokens(v.chunks))
        events.append(_oa_chunk(v, {}, "stop"))
    usage = {
        "id": "gen-bench-1",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": v.model,
        "choices": [],
        "usage": _usage_openai(v),
    }
    events.append(b"data: " + _dump(usage) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def anthropic_body(v: Variant) -> bytes:
    """A non-streamed Anthropic ``message``."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text_of(v)}]
    stop = "end_turn"
    if v.tool:
        content = [
            {"type": "tool_use", "id": "toolu_bench_1", "name": TOOL_NAME, "input": TOOL_ARGS}
        ]
        stop = "tool_use"
    return _dump(
        {
            "id": "msg_bench_1",
            "type": "message",
            "role": "assistant",
            "content": content,
            "model": v.model,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": max(v.chunks, TOOL_DELTAS)},
        }
    )


def _an_event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dump({"type": name, **data}) + b"\n\n"


def anthropic_events(v: Variant) -> list[bytes]:
    """The named SSE events of a streamed Anthropic answer."""
    start: dict[str, Any] = {
        "message": {
            "id": "msg_bench_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": v.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        }
    }
    events = [_an_event("message_start", start)]
    if v.tool:
        block = {"type": "tool_use", "id": "toolu_bench_1", "name": TOOL_NAME, "input": {}}
        events.append(_an_event("content_block_start", {"index": 0, "content_block": block}))
        events.append(_an_event("ping", {}))
        events.extend(
            _an_event(
                "content_block_delta",
                {"index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
            for piece in tool_arg_pieces()
        )
        stop = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        events.append(_an_event("content_block_start", {"index": 0, "content_block": block}))
        events.append(_an_event("ping", {}))
        events.extend(
            _an_event(
                "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": tok}}
            )
            for tok in tokens(v.chunks)
        )
        stop = "end_turn"
    events.append(_an_event("content_block_stop", {"index": 0}))
    usage = {"output_tokens": max(v.chunks, TOOL_DELTAS)}
    events.append(
        _an_event(
            "message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": usage}
        )
    )
    events.append(_an_event("message_stop", {}))
    return events


def chunked(events: list[bytes]) -> bytes:
    """An HTTP/1.1 chunked body with one chunk per SSE event, as a flushing server sends it."""
    parts = [b"%x\r\n%s\r\n" % (len(ev), ev) for ev in events]
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def response_bytes(dialect: str, model: str, stream: bool) -> bytes | None:
    """The whole HTTP response (status line, headers, body) for one request, or None."""
    v = VARIANTS.get(model)
    if v is None:
        return None
    if stream:
        events = openai_events(v) if dialect == "openai" else anthropic_events(v)
        return (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(events)
        )
    body = openai_body(v) if dialect == "openai" else anthropic_body(v)
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        % len(body)
        + body
    )
