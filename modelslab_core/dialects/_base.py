"""The protocol every wire dialect implements: pure encode/decode functions, no I/O."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ..types import ChatRequest, ChatResult, Dialect, StreamDelta

__all__ = ["DialectCodec", "ModelField"]

ModelField = Literal["model", "model_id", "both"]
"""Which body field names the model: ModelsLab accepts ``model`` and ``model_id``."""


class DialectCodec(Protocol):
    """Encode neutral requests to wire JSON and decode wire JSON (whole or streamed) back."""

    name: Dialect
    path: str

    def encode_request(
        self, request: ChatRequest, *, stream: bool, model_field: ModelField
    ) -> dict[str, Any]:
        """The JSON body for ``request``."""
        ...

    def decode_response(self, body: dict[str, Any]) -> ChatResult:
        """A complete (non-streamed) response body as a `ChatResult`."""
        ...

    def new_stream_state(self) -> Any:
        """Fresh per-stream state for `decode_event`."""
        ...

    def decode_event(
        self, state: Any, event: str | None, data: dict[str, Any]
    ) -> tuple[list[StreamDelta], bool]:
        """The deltas one parsed SSE event adds, and whether it ended the stream."""
        ...
