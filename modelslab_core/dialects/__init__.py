"""The two wire dialects as data: each `DialectCodec` bundles its pure encode/decode functions.

``openai``: ``POST /chat/completions`` (`openai_encode`, `openai_decode`); ``anthropic``:
``POST /v1/messages`` (`anthropic_encode`, `anthropic_decode`). No I/O happens here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..types import ChatRequest, ChatResult, Dialect, ModelField, StreamDelta
from . import anthropic_decode, anthropic_encode, openai_decode, openai_encode

__all__ = ["ANTHROPIC", "CODECS", "OPENAI", "DialectCodec", "codec_for"]


class RequestEncoder(Protocol):
    """``encode_request(request, stream=..., model_field=...)`` -> the JSON body."""

    def __call__(
        self, request: ChatRequest, *, stream: bool, model_field: ModelField
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class DialectCodec:
    """One wire dialect: its path and its pure functions (no state, no I/O)."""

    name: Dialect
    path: str
    encode_request: RequestEncoder
    """The JSON body for a `ChatRequest` (``extra_body`` merged last)."""
    decode_response: Callable[[Any], ChatResult]
    """A whole response body as a `ChatResult` (wrong shapes raise, see `_shapes`)."""
    new_stream_state: Callable[[], Any]
    """Fresh per-stream state for `decode_event`."""
    decode_event: Callable[[Any, str | None, dict[str, Any]], tuple[list[StreamDelta], bool]]
    """``(state, event name, data) -> (deltas, done)`` for one parsed SSE event."""


OPENAI = DialectCodec(
    "openai",
    "/chat/completions",
    openai_encode.encode_request,
    openai_decode.decode_response,
    openai_decode.new_stream_state,
    openai_decode.decode_event,
)
ANTHROPIC = DialectCodec(
    "anthropic",
    "/v1/messages",
    anthropic_encode.encode_request,
    anthropic_decode.decode_response,
    anthropic_decode.new_stream_state,
    anthropic_decode.decode_event,
)
CODECS: dict[str, DialectCodec] = {"openai": OPENAI, "anthropic": ANTHROPIC}


def codec_for(name: str) -> DialectCodec:
    """The codec of dialect ``name``; a clear `ValueError` for any other name."""
    codec = CODECS.get(name)
    if codec is None:
        raise ValueError(f"Unknown dialect {name!r}; use 'openai' or 'anthropic'")
    return codec
