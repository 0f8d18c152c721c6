r"""A pure, incremental Server-Sent Events decoder (no I/O).

The line rules follow the WHATWG spec and httpx-sse's ``SSEDecoder`` (which openai-python and
anthropic-sdk-python vendor): lines end in CR, LF or CRLF (a chunk may end between the CR and
the LF), comment lines (``: OPENROUTER PROCESSING``) are ignored, several ``data`` lines join with
``\n``, and U+2028/U+2029 are *not* line breaks. Bytes are split on newlines with
``bytes.splitlines`` (which knows only CR, LF and CRLF), never walked byte by byte.

```python
from modelslab_core.transport.sse import SSEDecoder

decoder = SSEDecoder()
print(decoder.feed(b"event: ping\ndata: {}\n\n: keep-alive\n"))
#> [ServerSentEvent(event='ping', data='{}', id=None, retry=None)]
```
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSELineDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event. ``event`` is ``None`` when the server named none.

    Treat it as immutable; it is a plain slotted dataclass because a frozen one costs three
    times more to build, once per stream event.
    """

    event: str | None = None
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSELineDecoder:
    """Turns decoded lines (without their terminators) into events; an empty line dispatches."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._last_event_id: str | None = None
        self._retry: int | None = None
        self._pending = False

    def decode(self, line: str) -> ServerSentEvent | None:
        """Process one line; return the event it completes, if any."""
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_event_id = value
        elif name == "retry":
            try:
                self._retry = int(value)
            except ValueError:
                return None
        else:
            return None
        self._pending = True
        return None

    def flush(self) -> ServerSentEvent | None:
        """The event still pending when the stream ends without a final blank line."""
        return self._dispatch()

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._pending:
            return None
        sse = ServerSentEvent(
            event=self._event or None,
            data="\n".join(self._data),
            id=self._last_event_id,
            retry=self._retry,
        )
        self._event = None
        self._data = []
        self._retry = None
        self._pending = False
        return sse


class SSEDecoder:
    """Incremental byte-level decoder: ``feed(chunk)`` returns the events completed so far."""

    def __init__(self) -> None:
        self._lines = SSELineDecoder()
        self._buffer = b""
        self._skip_lf = False
        self._started = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one raw chunk (any boundary) and return the events it completes."""
        if not chunk:
            return []
        if (
            self._started
            and not self._buffer
            and not self._skip_lf
            and chunk.endswith(b"\n\n")
            and b"\r" not in chunk
        ):
            return self._decode_block(chunk.decode("utf-8", errors="replace"))
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        data = self._buffer + chunk if self._buffer else chunk
        if not self._started:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._buffer = data
                return []
            self._started = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if end < 0:
            self._buffer = data
            return []
        self._buffer = data[end + 1 :]
        if data[end] == 0x0D and end == len(data) - 1:
            self._skip_lf = True
        block = data[: end + 1]
        if b"\r" not in block:
            return self._decode_block(block.decode("utf-8", errors="replace"))
        return self._decode_lines(
            [raw.decode("utf-8", errors="replace") for raw in block.splitlines()]
        )

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: decode an unterminated last line and any event still pending."""
        lines = [self._buffer.decode("utf-8", errors="replace")] if self._buffer else []
        self._buffer = b""
        events = self._decode_lines(lines)
        last = self._lines.flush()
        if last is not None:
            events.append(last)
        return events

    def _decode_block(self, text: str) -> list[ServerSentEvent]:
        """Decode complete LF-terminated lines (no CR); one whole event takes the fast path."""
        if not self._lines._pending:
            sse = _single_event(text, self._lines._last_event_id)
            if sse is not None:
                return [sse]
        lines = text.split("\n")
        lines.pop()  # the text ends with LF: the last item is empty
        return self._decode_lines(lines)

    def _decode_lines(self, lines: list[str]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        decode = self._lines.decode
        for line in lines:
            sse = decode(line)
            if sse is not None:
                events.append(sse)
        return events


def _single_event(text: str, last_id: str | None) -> ServerSentEvent | None:
    """The event of a block that is exactly ``[event: name\n]data: value\n\n``, else None."""
    event = None
    if text.startswith("event: "):
        end = text.find("\n")
        event = text[7:end] or None
        text = text[end + 1 :]
    if text.startswith("data: ") and text.find("\n") == len(text) - 2:
        return ServerSentEvent(event, text[6:-2], last_id, None)
    return None
