"""Render a reply plan as OpenAI or Anthropic JSON bodies and SSE events (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._replies import Plan, make_id, split_text

__all__ = [
    "SseEvent",
    "anthropic_body",
    "anthropic_events",
    "models_body",
    "openai_body",
    "openai_events",
]

SseEvent = tuple[str | None, str]
"""(event name or None, data line) of one server-sent event."""

_TO_OPENAI = {
    "stop_sequence": "stop",
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}
_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def _dump(data: Any) -> str:
    """Compact JSON, unicode kept."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _fragments(raw: str, size: int = 8) -> list[str]:
    """Split a tool-arguments string into several small fragments."""
    return [raw[i : i + size] for i in range(0, len(raw), size)] or [""]


def openai_usage(plan: Plan) -> dict[str, int]:
    """OpenAI ``usage``."""
    total = plan.prompt_tokens + plan.completion_tokens
    return {
        "prompt_tokens": plan.prompt_tokens,
        "completion_tokens": plan.completion_tokens,
        "total_tokens": total,
    }


def openai_body(plan: Plan, *, rid: str, model: str, created: int) -> dict[str, Any]:
    """A ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": plan.text or None}
    if plan.calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in plan.calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _TO_OPENAI.get(plan.finish, plan.finish),
    }
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "provider": "ModelsLab",
        "choices": [choice],
        "usage": openai_usage(plan),
    }


def openai_events(
    plan: Plan, *, rid: str, model: str, created: int, include_usage: bool
) -> list[SseEvent]:
    """``chat.completion.chunk`` events ending with ``[DONE]``."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> SseEvent:
        body = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "provider": "ModelsLab",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return None, _dump(body)

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": p}) for p in split_text(plan.reasoning or "")]
    events += [chunk({"content": p}) for p in split_text(plan.text)]
    for i, call in enumerate(plan.calls):
        head = {
            "index": i,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        events += [
            chunk({"tool_calls": [{"index": i, "function": {"arguments": frag}}]})
            for frag in _fragments(call.arguments)
        ]
    events.append(chunk({}, _TO_OPENAI.get(plan.finish, plan.finish)))
    if include_usage:
        tail = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "provider": "ModelsLab",
            "choices": [],
            "usage": openai_usage(plan),
        }
        events.append((None, _dump(tail)))
    events.append((None, "[DONE]"))
    return events


def _stop_reason(plan: Plan) -> str:
    """Anthropic ``stop_reason``."""
    return _TO_ANTHROPIC.get(plan.finish, plan.finish)


def _signature(plan: Plan) -> str:
    """A stand-in thinking signature."""
    return make_id("sig_", plan.reasoning or "")


def anthropic_body(plan: Plan, *, rid: str, model: str) -> dict[str, Any]:
    """A ``message`` body."""
    content: list[dict[str, Any]] = []
    if plan.reasoning:
        content.append(
            {"type": "thinking", "thinking": plan.reasoning, "signature": _signature(plan)}
        )
    if plan.text or not plan.calls:
        content.append({"type": "text", "text": plan.text})
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _loads(c.arguments)}
        for c in plan.calls
    ]
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(plan),
        "stop_sequence": plan.stop_sequence,
        "usage": {"input_tokens": plan.prompt_tokens, "output_tokens": plan.completion_tokens},
    }


def _loads(raw: str) -> Any:
    """Parse scripted arguments; unparseable ones are passed through as a string."""
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return raw


def _block_events(
    index: int, start: dict[str, Any], deltas: list[dict[str, Any]]
) -> list[SseEvent]:
    """content_block_start, its deltas, content_block_stop."""
    events: list[SseEvent] = [
        (
            "content_block_start",
            _dump({"type": "content_block_start", "index": index, "content_block": start}),
        )
    ]
    events += [
        ("content_block_delta", _dump({"type": "content_block_delta", "index": index, "delta": d}))
        for d in deltas
    ]
    events.append(("content_block_stop", _dump({"type": "content_block_stop", "index": index})))
    return events


def anthropic_events(plan: Plan, *, rid: str, model: str) -> list[SseEvent]:
    """The named Anthropic stream events, ``message_start`` to ``message_stop``."""
    head: dict[str, Any] = {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": plan.prompt_tokens, "output_tokens": 1},
    }
    events: list[SseEvent] = [("message_start", _dump({"type": "message_start", "message": head}))]
    index = 0
    if plan.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_text(plan.reasoning)]
        deltas.append({"type": "signature_delta", "signature": _signature(plan)})
        events += _block_events(index, {"type": "thinking", "thinking": ""}, deltas)
        index += 1
    if plan.text or not plan.calls:
        deltas = [{"type": "text_delta", "text": p} for p in split_text(plan.text)]
        events += _block_events(index, {"type": "text", "text": ""}, deltas)
        index += 1
    for call in plan.calls:
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        deltas = [
            {"type": "input_json_delta", "partial_json": f} for f in _fragments(call.arguments)
        ]
        events += _block_events(index, start, deltas)
        index += 1
    events.insert(2, ("ping", _dump({"type": "ping"})))
    events.append(
        (
            "message_delta",
            _dump(
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": _stop_reason(plan),
                        "stop_sequence": plan.stop_sequence,
                    },
                    "usage": {"output_tokens": plan.completion_tokens},
                }
            ),
        )
    )
    events.append(("message_stop", _dump({"type": "message_stop"})))
    return events


def models_body(
    models: list[str], created: int, details: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """``GET /v1/models``; ``details`` adds fields to the entries of the models it names
    (e.g. OpenRouter-style ``context_length`` and ``pricing``)."""
    extra = details or {}
    return {
        "object": "list",
        "data": [
            {
                "id": m,
                "object": "model",
                "created": created,
                "owned_by": m.split("-")[0],
                **extra.get(m, {}),
            }
            for m in models
        ],
    }
