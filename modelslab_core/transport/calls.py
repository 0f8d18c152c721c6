"""What each client call sends and reads, as pure functions: the input checks made before any
I/O, the ``count_tokens`` plan, and decoding of answers (errors masked at this boundary)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from ..dialects import DialectCodec
from ..dialects.anthropic_encode import encode_count_tokens
from ..exceptions import APIError, APIResponseValidationError
from ..types import ChatRequest, ChatResult, JsonSchemaFormat, Message, ModelInfo
from .errors import DECODE_BUGS, as_api_error

__all__ = [
    "check_request",
    "combine_counts",
    "count_bodies",
    "decode_chat",
    "decode_models",
    "decode_tokens",
]


def check_request(request: ChatRequest, *, chat: bool = True) -> None:
    """Reject bad input before any network call (a chat needs a message; a count does not)."""
    if not isinstance(request, ChatRequest):
        raise TypeError(f"request must be a ChatRequest, not {type(request).__name__}")
    if chat and not request.messages:
        raise ValueError("At least one message is required (ChatRequest.messages is empty)")
    if not request.model.strip():
        raise ValueError("ChatRequest.model is empty: name the model to use")
    _check_sampling(request)
    _check_serialisable(request)


_RANGES = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "frequency_penalty": (-2.0, 2.0),
    "presence_penalty": (-2.0, 2.0),
}
"""Documented bounds of the sampling fields (``modelslab-llm-openapi.json``)."""


def _check_sampling(request: ChatRequest) -> None:
    """Out-of-range sampling values fail here, not as a 400 (or worse, silently) later."""
    for name, (low, high) in _RANGES.items():
        value = getattr(request, name)
        if value is not None and not low <= value <= high:
            raise ValueError(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    if request.max_tokens is not None and request.max_tokens <= 0:
        raise ValueError(f"max_tokens must be a positive integer, got {request.max_tokens!r}")


def _check_json(value: Any, what: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: not JSON-serialisable ({exc})") from None


def _check_serialisable(request: ChatRequest) -> None:
    """Everything sent as JSON must be JSON; the error names the part that is not."""
    for message in request.messages:
        for call in message.tool_calls:
            _check_json(call.arguments, f"The arguments of tool call {call.name!r} ({call.id})")
    for tool in request.tools:
        _check_json(tool.parameters, f"The parameters schema of tool {tool.name!r}")
    if isinstance(request.response_format, JsonSchemaFormat):
        _check_json(request.response_format.schema_, "The response_format schema")
    _check_json(request.extra_body, "extra_body")


def decode_chat(codec: DialectCodec, payload: dict[str, Any], secret: str) -> ChatResult:
    try:
        return codec.decode_response(payload)
    except (APIError, *DECODE_BUGS) as exc:
        raise as_api_error(exc, secret=secret, body=payload) from None


_PROBE = Message.text("user", ".")
"""The turn added to a count of a request that has none (``count_tokens`` requires one)."""


def count_bodies(request: ChatRequest) -> list[dict[str, Any]]:
    """The ``count_tokens`` bodies whose counts `combine_counts` turns into ``request``'s.

    ``[]`` when there is nothing to count (0 tokens); one body for a request with turns; for
    a request with only a system prompt and/or tools (which the endpoint refuses alone), the
    request plus a one-word user turn, and that turn alone: the difference is what the system
    prompt and tools cost inside a real request.
    """
    if any(m.role != "system" for m in request.messages):
        return [encode_count_tokens(request)]
    if not request.messages and not request.tools:
        return []
    probe = request.model_copy(update={"messages": [_PROBE], "tools": []})
    with_probe = request.model_copy(update={"messages": [*request.messages, _PROBE]})
    return [encode_count_tokens(with_probe), encode_count_tokens(probe)]


def combine_counts(counts: list[int]) -> int:
    """The token count of a request from the counts of its `count_bodies`."""
    if not counts:
        return 0
    return counts[0] if len(counts) == 1 else max(counts[0] - counts[1], 0)


def decode_tokens(payload: dict[str, Any]) -> int:
    tokens = payload.get("input_tokens")
    if type(tokens) is not int or tokens < 0:
        raise APIResponseValidationError(
            "count_tokens answer has no non-negative integer 'input_tokens'", body=payload
        )
    return tokens


def decode_models(payload: dict[str, Any]) -> list[ModelInfo]:
    data = payload.get("data")
    if not isinstance(data, list):
        raise APIResponseValidationError("/v1/models answer has no 'data' list", body=payload)
    try:
        return [ModelInfo.model_validate(item) for item in data]
    except ValidationError as exc:
        raise APIResponseValidationError(f"Unexpected model entry: {exc}", body=payload) from exc
