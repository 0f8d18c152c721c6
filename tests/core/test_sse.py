"""The SSE decoder: line endings, comments, multi-line data, every chunk boundary."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelslab_core.transport.sse import ServerSentEvent, SSEDecoder, SSELineDecoder


def decode_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.flush()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


OPENAI_STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"id":"gen-1","choices":[{"delta":{"content":"Hel"}}]}\n\n'
    b": OPENROUTER PROCESSING\n\n"
    b'data: {"id":"gen-1","choices":[{"delta":{"content":"lo \xe2\x80\xa8 \xc3\xa9"}}]}\n\n'
    b"data: [DONE]\n\n"
)
EXPECTED_OPENAI = [
    ServerSentEvent(data='{"id":"gen-1","choices":[{"delta":{"content":"Hel"}}]}'),
    ServerSentEvent(data='{"id":"gen-1","choices":[{"delta":{"content":"lo \u2028 \u00e9"}}]}'),
    ServerSentEvent(data="[DONE]"),
]


def test_openai_stream_whole() -> None:
    assert decode_all([OPENAI_STREAM]) == EXPECTED_OPENAI


@pytest.mark.parametrize("newline", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_every_single_chunk_boundary(newline: bytes) -> None:
    data = OPENAI_STREAM.replace(b"\n", newline)
    for cut in range(len(data) + 1):
        assert decode_all([data[:cut], data[cut:]]) == EXPECTED_OPENAI, (newline, cut)


def test_byte_by_byte() -> None:
    data = OPENAI_STREAM.replace(b"\n", b"\r\n")
    assert decode_all([data[i : i + 1] for i in range(len(data))]) == EXPECTED_OPENAI


def test_cr_then_lf_in_next_chunk_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # the LF completes the CRLF, it is not a blank line
    assert decoder.feed(b"\r") == [ServerSentEvent(data="a")]
    assert decoder.feed(b"\ndata: b\r\n\r\n") == [ServerSentEvent(data="b")]


def test_cr_cr_is_a_blank_line() -> None:
    assert decode_all([b"data: a\r\r"]) == [ServerSentEvent(data="a")]


def test_named_events_multiline_data_id_retry() -> None:
    data = (
        b"event: message_start\n"
        b"id: 7\n"
        b"retry: 1500\n"
        b"data: line one\n"
        b"data:line two\n"
        b"data\n"
        b"\n"
        b"event: ping\ndata: {}\n\n"
    )
    assert decode_all([data]) == [
        ServerSentEvent(event="message_start", data="line one\nline two\n", id="7", retry=1500),
        ServerSentEvent(event="ping", data="{}", id="7"),
    ]


def test_comments_and_unknown_fields_are_ignored() -> None:
    data = b": keep-alive\n\nfoo: bar\n\n:\n\ndata: x\n: in the middle\n\n"
    assert decode_all([data]) == [ServerSentEvent(data="x")]


def test_only_one_space_after_colon_is_stripped() -> None:
    assert decode_all([b"data:  two spaces\n\n"]) == [ServerSentEvent(data=" two spaces")]


def test_bad_retry_and_nul_id_ignored() -> None:
    assert decode_all([b"retry: soon\nid: a\x00b\ndata: x\n\n"]) == [ServerSentEvent(data="x")]


def test_unicode_line_separators_are_not_newlines() -> None:
    payload = "a\u2028b\u2029c\u0085d"
    assert decode_all([f"data: {payload}\n\n".encode()]) == [ServerSentEvent(data=payload)]


def test_multibyte_character_split_across_chunks() -> None:
    data = "data: é€😀\n\n".encode()
    for cut in range(len(data) + 1):
        assert decode_all(split_at(data, [cut])) == [ServerSentEvent(data="é€😀")]


def test_bom_is_stripped_once() -> None:
    data = b"\xef\xbb\xbfdata: a\n\n"
    for cut in range(len(data) + 1):
        assert decode_all(split_at(data, [cut])) == [ServerSentEvent(data="a")]
    assert decode_all([b"data: \xef\xbb\xbfa\n\n"]) == [ServerSentEvent(data="\ufeffa")]


def test_flush_dispatches_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [ServerSentEvent(data="[DONE]")]
    assert decoder.flush() == []


def test_blank_lines_without_fields_dispatch_nothing() -> None:
    assert decode_all([b"\n\n\r\n\r\r"]) == []
    assert decode_all([b"id: 1\n\n\n\n"]) == [ServerSentEvent(id="1")]


def test_line_decoder_direct() -> None:
    lines = SSELineDecoder()
    assert lines.decode("event: error") is None
    assert lines.decode('data: {"type":"error"}') is None
    assert lines.decode("") == ServerSentEvent(event="error", data='{"type":"error"}')


def test_large_stream_is_fast() -> None:
    event = b'data: {"choices":[{"delta":{"content":"' + b"x" * 40 + b'"}}]}\n\n'
    data = event * 20000  # ~1.4 MB
    start = time.perf_counter()
    events = decode_all(split_at(data, list(range(0, len(data), 4096))))
    assert len(events) == 20000
    assert time.perf_counter() - start < 2.0


line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", codec="utf-8"),
    max_size=20,
)
field_line = st.one_of(
    st.builds(lambda v: f"data: {v}", line_text),
    st.builds(lambda v: f"event: {v}", line_text),
    st.builds(lambda v: f": {v}", line_text),
    st.builds(lambda v: f"id: {v}", line_text.filter(lambda s: "\0" not in s)),
    st.just(""),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(field_line, max_size=25),
    newline=st.sampled_from(["\n", "\r", "\r\n"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_random_chunk_boundaries_match_whole_decode(
    lines: list[str], newline: str, cuts: list[int]
) -> None:
    data = (newline.join(lines) + newline + newline).encode("utf-8")
    whole = decode_all([data])
    pieces = split_at(data, [c % (len(data) + 1) for c in cuts])
    assert decode_all(pieces) == whole
    # and the whole decode agrees with a plain line-by-line reference decoder
    reference = SSELineDecoder()
    expected = [
        e
        for ln in (newline.join(lines) + newline + newline).split(newline)
        if (e := reference.decode(ln)) is not None
    ]
    assert whole == expected
