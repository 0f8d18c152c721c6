"""Streams as LangChain chunks: `StreamDelta` -> ``AIMessageChunk`` in a `StreamGeneration`.

Streamed tool calls: ``tool_call_chunks`` carry the argument pieces as they arrive (keyed by
``index``), and merging the chunks (``AIMessageChunk.__add__``) gives the exact calls.
langchain-core parses merged arguments with the lenient ``parse_partial_json``, which closes
whatever is left open, so truncated arguments such as ``{"city": "Par`` would merge into the
valid call ``{"city": "Par"}`` and a tool could run with a cut value. Hence the last chunk
(``chunk_position="last"``) adds, to each call whose full arguments the core rejects (strict
JSON, not an object), a short marker (`invalidating_suffix`, e.g. ``"]``) that makes the
lenient parse fail: the merged message reports the call under ``invalid_tool_calls``
(``args`` = the raw text plus the marker), never as a call with cut arguments.

Where langchain-core sums the generations itself (``invoke`` with ``streaming=True`` or with a
streaming callback attached, via ``generate_from_stream``), `StreamGeneration` restores the
exact answer: the call's ``args`` are the raw text and ``error`` the core's parse error, as in
a non-streaming answer. The check runs once, at the end; chunks without tool calls cost the
same as before.

The common chunk (text only) is not validated: validating an ``AIMessageChunk`` cost more than
the rest of our per-chunk work together (48k of 176k CPU instructions per chunk of the sync
stream, ~4.7 us), so `TextChunks` copies one validated prototype and sets its text and id
(~0.8 us). It checks once, at import, that its copies equal validated chunks (fields, fields
set, extras, no container shared); if they do not (another langchain-core or pydantic), every
chunk is validated.

Private names of pydantic this relies on (``tests/test_layout.py`` resolves each;
``tests/langchain/test_text_chunks.py`` checks the copies):

- ``pydantic.BaseModel.__pydantic_fields_set__``
- ``pydantic.BaseModel.__pydantic_extra__``
- ``pydantic.BaseModel.__pydantic_private__``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessageChunk, InvalidToolCall
from langchain_core.messages.tool import invalid_tool_call, tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk
from pydantic import PrivateAttr

from modelslab_core import StreamAccumulator
from modelslab_core.cost.pricing import Cost
from modelslab_core.types import StreamDelta, ToolCall

from ._convert import PROVIDER, response_metadata, usage_metadata
from ._tool_args import invalidating_suffix

__all__ = [
    "TEXT_CHUNKS",
    "StreamGeneration",
    "StreamState",
    "TextChunks",
    "chunk_from_delta",
    "final_generation",
    "rejected_tool_calls",
    "text_chunk",
    "validated_text_chunk",
]

_StrictKey = tuple[str, str | None]
"""A merged invalid call as langchain-core reports it: ``(args with marker, streamed id)``."""


@dataclass
class StreamState:
    """What a stream has said so far that must be reported once (on the last chunk)."""

    requested_model: str
    id: str | None = None
    model: str | None = None
    finish_reason: str | None = None
    raw_finish_reason: str | None = None
    tools: StreamAccumulator | None = None
    """The deltas that carried tool-call pieces (created on the first one)."""
    cost: Cost | None = None
    """The answer's cost (from the delta that carried usage), reported on the last chunk."""


def chunk_from_delta(delta: StreamDelta, state: StreamState) -> AIMessageChunk | None:
    """One delta as a message chunk (``None`` when it adds no content); updates ``state``."""
    if delta.id:
        state.id = delta.id
    if delta.model:
        state.model = delta.model
    if delta.finish_reason is not None:
        state.finish_reason = delta.finish_reason
        state.raw_finish_reason = delta.raw_finish_reason
    signature = delta.reasoning_signature
    tool_chunks = delta.tool_call_chunks
    if not (tool_chunks or delta.reasoning or delta.usage or signature):
        if not delta.text:
            return None
        return text_chunk(delta.text, state.id)  # the common chunk: text only
    if delta.usage is not None:
        state.cost = delta.cost
    kwargs: dict[str, Any] = {}
    if delta.reasoning:
        kwargs["reasoning_content"] = delta.reasoning
    if signature:
        kwargs["reasoning_signature"] = signature
    if tool_chunks:
        if state.tools is None:
            state.tools = StreamAccumulator()
        state.tools.add(delta)
    return AIMessageChunk(
        content=delta.text,
        additional_kwargs=kwargs,
        tool_call_chunks=[
            tool_call_chunk(name=c.name, args=c.arguments, id=c.id, index=c.index)
            for c in tool_chunks
        ],
        usage_metadata=usage_metadata(delta.usage) if delta.usage else None,
        response_metadata={"model_provider": PROVIDER},
        id=state.id,
    )


def validated_text_chunk(text: str, id: str | None) -> AIMessageChunk:
    """A text-only chunk, validated by its constructor."""
    return AIMessageChunk(content=text, response_metadata={"model_provider": PROVIDER}, id=id)


class TextChunks:
    """Makes text-only chunks equal to `validated_text_chunk`'s by copying a validated
    prototype the way pydantic's ``__copy__`` does (its field values, fields set, extras and
    private values), each copy with its own text, id and containers: a sixth of the CPU of a
    validation."""

    __slots__ = ("_containers", "_extra", "_fields", "_fields_set", "_private", "exact")

    def __init__(self) -> None:
        prototype = validated_text_chunk("", None)
        self._fields = dict(prototype.__dict__)
        self._fields_set = set(prototype.__pydantic_fields_set__)
        self._extra = _copied(prototype.__pydantic_extra__)
        self._private = _copied(prototype.__pydantic_private__)
        self._containers = tuple(k for k, v in self._fields.items() if _is_container(v))
        samples = (("a", "chatcmpl-1"), ("", None), (" b\n", "id"))
        self.exact = all(
            self._same(self.copy(t, i), validated_text_chunk(t, i)) for t, i in samples
        )
        """Whether copies equal validated chunks here (else `__call__` validates)."""

    def copy(self, text: str, id: str | None) -> AIMessageChunk:
        """A copy of the prototype with ``text`` and ``id`` (no validation)."""
        chunk = _new(AIMessageChunk)
        fields = self._fields.copy()
        for name in self._containers:
            fields[name] = fields[name].copy()
        fields["content"] = text
        fields["id"] = id
        _set(chunk, "__dict__", fields)
        _set(chunk, "__pydantic_fields_set__", self._fields_set.copy())
        _set(chunk, "__pydantic_extra__", _copied(self._extra))
        _set(chunk, "__pydantic_private__", _copied(self._private))
        return chunk

    def __call__(self, text: str, id: str | None) -> AIMessageChunk:
        """The text-only chunk of ``text`` with ``id``."""
        return self.copy(text, id) if self.exact else validated_text_chunk(text, id)

    def _same(self, copied: AIMessageChunk, validated: AIMessageChunk) -> bool:
        """Equal fields, fields set and extras; no container shared with the prototype."""
        mine = [
            *copied.__dict__.values(),
            copied.__dict__,
            copied.__pydantic_extra__,
            copied.__pydantic_fields_set__,
            copied.__pydantic_private__,
        ]
        theirs = [*self._fields.values(), self._fields, self._extra, self._fields_set]
        return (
            copied == validated
            and copied.model_fields_set == validated.model_fields_set
            and copied.__pydantic_extra__ == validated.__pydantic_extra__
            and not any(m is t for m in mine if _is_container(m) for t in theirs)
        )


def _is_container(value: object) -> bool:
    return isinstance(value, (list, dict, set))


def _copied(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A shallow copy of a dict, or None."""
    return None if value is None else value.copy()


_new = object.__new__
_set = object.__setattr__


TEXT_CHUNKS = TextChunks()
text_chunk = TEXT_CHUNKS.copy if TEXT_CHUNKS.exact else validated_text_chunk
"""Builds the common chunk of every stream (see `TextChunks`)."""


def rejected_tool_calls(state: StreamState) -> list[tuple[int, str | None, ToolCall]]:
    """``(index, streamed id, call)`` of each streamed call whose full arguments the core
    rejects (same strict rule as a non-streaming answer: JSON object, blank text is ``{}``)."""
    if state.tools is None:
        return []
    raw = state.tools.raw_tool_calls()
    calls = state.tools.result().tool_calls
    return [
        (index, call_id, call)
        for (index, call_id, _, _), call in zip(raw, calls, strict=True)
        if call.parse_error is not None
    ]


def final_generation(state: StreamState) -> StreamGeneration:
    """The closing chunk: finish reason, model name and id, reported exactly once; each
    rejected tool call gets its marker here (see the module docs)."""
    markers, strict = [], {}
    for index, call_id, call in rejected_tool_calls(state):
        text = call.raw_arguments or ""
        if suffix := invalidating_suffix(text):
            markers.append(tool_call_chunk(name=None, args=suffix, id=None, index=index))
        strict[(text + suffix, call_id)] = invalid_tool_call(
            name=call.name, args=text, id=call.id, error=call.parse_error
        )
    message = AIMessageChunk(
        content="",
        tool_call_chunks=markers,
        response_metadata=response_metadata(
            state.finish_reason,
            state.raw_finish_reason,
            state.model or state.requested_model,
            state.id,
            state.cost,
        ),
        id=state.id,
        chunk_position="last",
    )
    return StreamGeneration(message=message).with_strict(strict)


class StreamGeneration(ChatGenerationChunk):
    """A generation chunk of our streams; its sums keep the core's strict tool-call verdicts.

    langchain-core sums generation chunks itself (``generate_from_stream``, ``on_llm_end``);
    the sum reports a rejected call with its raw arguments and parse error, exactly like a
    non-streaming answer, instead of the raw text plus the marker that message sums show.
    """

    _strict: dict[_StrictKey, InvalidToolCall] = PrivateAttr(default_factory=dict)

    @classmethod
    def lc_id(cls) -> list[str]:
        """Serialized as the langchain-core class it stands for."""
        return ChatGenerationChunk.lc_id()

    def with_strict(self, strict: dict[_StrictKey, InvalidToolCall]) -> StreamGeneration:
        """This chunk, carrying the strict verdicts ``strict`` (returns ``self``)."""
        self._strict = strict
        return self

    def __add__(
        self, other: ChatGenerationChunk | list[ChatGenerationChunk]
    ) -> ChatGenerationChunk:
        merged = super().__add__(other)
        strict = dict(self._strict)
        for part in other if isinstance(other, list) else [other]:
            if isinstance(part, StreamGeneration):
                strict.update(part._strict)
        message = merged.message
        if strict and isinstance(message, AIMessageChunk) and message.invalid_tool_calls:
            message.invalid_tool_calls = [
                strict.get((call["args"] or "", call["id"]), call)
                for call in message.invalid_tool_calls
            ]
        result = StreamGeneration(message=message, generation_info=merged.generation_info)
        return result.with_strict(strict)
