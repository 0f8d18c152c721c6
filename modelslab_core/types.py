"""Neutral, framework-free types: what adapters build and what the dialect codecs read and write.

Adapters convert their framework's messages to these types; the dialect codecs
(`modelslab_core.dialects`) turn them into wire JSON and back. Nothing here knows HTTP,
LangChain or LlamaIndex.

Wire-facing models are lenient: unknown fields are kept (``extra="allow"``) and the raw
response JSON is always reachable through ``ChatResult.raw``.

Requests and results are pydantic models; the per-chunk stream carriers `StreamDelta` and
`ToolCallChunk` are ``__slots__`` dataclasses with the same attribute names and defaults
(a stream builds one or more per event, and a pydantic model costs several times more).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .construct import trusted
from .cost.pricing import Cost

__all__ = [
    "SAMPLING_FIELDS",
    "ChatRequest",
    "ChatResult",
    "Dialect",
    "FinishReason",
    "ImagePart",
    "JsonObjectFormat",
    "JsonSchemaFormat",
    "Message",
    "ModelField",
    "ModelInfo",
    "NamedToolChoice",
    "OutputFormat",
    "Part",
    "ReasoningPart",
    "Role",
    "SamplingParams",
    "StreamDelta",
    "TextPart",
    "ToolCall",
    "ToolCallChunk",
    "ToolChoice",
    "ToolSpec",
    "Usage",
    "trusted_message",
    "trusted_text_part",
]

Role = Literal["system", "user", "assistant", "tool"]
"""Message roles. ``tool`` carries a tool result (``Message.tool_call_id`` says which call)."""

Dialect = Literal["openai", "anthropic"]
"""Which wire dialect a request uses: ``/chat/completions`` or ``/v1/messages``."""

ModelField = Literal["model", "model_id", "both"]
"""Which body field names the model: ModelsLab accepts ``model`` and ``model_id``."""

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "unknown"]
"""Normalised finish reason; the provider's own value stays in ``ChatResult.raw``."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class TextPart(_Model):
    """Plain text content."""

    type: Literal["text"] = "text"
    text: str


class ImagePart(_Model):
    """An image, by URL or as base64 ``data`` with its ``mime_type``.

    One rule for inline images, whichever adapter built the part: a ``data:`` URL is split
    into ``data`` and ``mime_type``; base64 data without a MIME type gets the one its first
    bytes show (PNG, JPEG, GIF, WebP: what both APIs take, as llama-index-core guesses it),
    and data of no known kind is a `ValueError` before any request (never a guessed
    ``image/png``, which Anthropic rejects for a JPEG)."""

    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    mime_type: str | None = None
    detail: Literal["auto", "low", "high"] | None = None

    @model_validator(mode="after")
    def _inline(self) -> ImagePart:
        if self.url is not None and self.url.startswith("data:"):
            header, _, data = self.url[5:].partition(",")
            if ";base64" not in header or not data:
                raise ValueError("Only base64 data: URLs are supported for images.")
            self.url, self.data = None, data
            self.mime_type = header.split(";")[0] or self.mime_type
        if self.data is not None and not self.mime_type:
            self.mime_type = _image_mime_type(self.data)
            if self.mime_type is None:
                raise ValueError(
                    "A base64 image needs its MIME type (e.g. 'image/png'): its bytes are not "
                    "PNG, JPEG, GIF or WebP."
                )
        return self


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _image_mime_type(data: str) -> str | None:
    """The MIME type base64 image ``data`` shows in its first bytes, else ``None``."""
    try:
        head = base64.b64decode(data[:24] + "=" * (-len(data[:24]) % 4))
    except ValueError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _IMAGE_MAGIC if head.startswith(magic)), None)


class ReasoningPart(_Model):
    """Reasoning ("thinking") text produced by a model; sent back only by dialects that take it."""

    type: Literal["reasoning"] = "reasoning"
    text: str
    signature: str | None = None


Part = Annotated[TextPart | ImagePart | ReasoningPart, Field(discriminator="type")]
"""One piece of message content."""


class ToolCall(_Model):
    """A complete tool call requested by the model.

    ``arguments`` holds the parsed JSON object. When the model's arguments could not be
    parsed as a JSON object, ``arguments`` is empty, ``raw_arguments`` holds the text as sent
    and ``parse_error`` says why; adapters surface such calls as invalid tool calls.
    """

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str | None = None
    parse_error: str | None = None


class Message(_Model):
    """One conversation turn.

    - ``system``/``user``: ``content`` (text and images).
    - ``assistant``: ``content`` (text, reasoning) and/or ``tool_calls``.
    - ``tool``: the result of the call ``tool_call_id``; ``is_error`` marks a failed tool run.
    """

    role: Role
    content: list[Part] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @classmethod
    def text(cls, role: Role, text: str, **kwargs: Any) -> Message:
        """Build a message whose content is a single text part."""
        return cls(role=role, content=[TextPart(text=text)], **kwargs)

    @property
    def text_content(self) -> str:
        """All text parts joined (reasoning and images left out)."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class ToolSpec(_Model):
    """A tool the model may call: name, description and JSON-schema ``parameters``."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class NamedToolChoice(_Model):
    """Force a call to the tool ``name``."""

    type: Literal["tool"] = "tool"
    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice
"""``auto`` (model decides), ``none``, ``required`` (any tool), or one named tool."""


class JsonObjectFormat(_Model):
    """JSON mode: the answer is one JSON object (``response_format: json_object``)."""

    type: Literal["json_object"] = "json_object"


class JsonSchemaFormat(_Model):
    """Structured output against a JSON schema (``response_format: json_schema``)."""

    type: Literal["json_schema"] = "json_schema"
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


OutputFormat = Annotated[JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")]


class SamplingParams(_Model):
    """The scalar generation settings a request may carry (``None``: the server's default).

    `SAMPLING_FIELDS` lists them; adapters and dialects take the list from here."""

    max_tokens: int | None = None
    """Most tokens to generate."""
    temperature: float | None = None
    """Sampling temperature, 0-2 (``/v1/messages``: 0-1)."""
    top_p: float | None = None
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches ``top_p``."""
    top_k: int | None = None
    """Sample from the ``top_k`` most likely tokens only."""
    frequency_penalty: float | None = None
    """Penalise tokens by how often they already appeared (-2 to 2)."""
    presence_penalty: float | None = None
    """Penalise tokens that already appeared at all (-2 to 2)."""
    repetition_penalty: float | None = None
    """Multiplicative penalty on repeated tokens (1: none)."""
    seed: int | None = None
    """Seed for repeatable sampling, where the model supports it."""


SAMPLING_FIELDS: tuple[str, ...] = tuple(SamplingParams.model_fields)
"""The names of the scalar sampling fields of `ChatRequest`, in wire order."""


class ChatRequest(SamplingParams):
    """A chat request in neutral form. ``extra_body`` is merged into the wire JSON last."""

    model: str
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: OutputFormat | None = None
    stop: list[str] | None = None
    include_usage: bool = True
    """When streaming, ask for usage on the last chunk (``stream_options.include_usage``)."""
    extra_body: dict[str, Any] = Field(default_factory=dict)


class Usage(_Model):
    """Token counts as reported by the server."""

    model_config = ConfigDict(extra="allow")

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def total(self) -> int:
        """All tokens: the server's ``total_tokens``, else input plus output (a server that
        reports no total, or a `Usage` built without one)."""
        return self.total_tokens or self.input_tokens + self.output_tokens


class ChatResult(_Model):
    """A complete answer. ``raw`` is the response JSON exactly as received."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    model: str | None = None
    text: str = ""
    reasoning: str | None = None
    reasoning_signature: str | None = None
    """Signature of the reasoning (Anthropic ``thinking``), needed to send it back."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    cost: Cost | None = None
    """What the answer cost: ``usage`` at the model's catalog price (None: either unknown)."""
    raw: dict[str, Any] = Field(default_factory=dict)


@dataclass(slots=True)
class ToolCallChunk:
    """A piece of a streamed tool call: ``id``/``name`` come once, ``arguments`` are appended.

    A plain ``__slots__`` dataclass, not a pydantic model (see `StreamDelta`).
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class StreamDelta:
    """What one stream event adds. Every field is optional; most deltas carry only text.

    ``usage`` is set at most once per stream (on the event that carries it), and
    ``finish_reason`` once, when the model says why it stopped.

    Deltas (and their `ToolCallChunk` s) are internal per-chunk carriers built by the dialect
    codecs, one or more per stream event: they are plain ``__slots__`` dataclasses, not
    pydantic models, because building a pydantic model (even with ``model_construct``) cost
    ~2.5 us per chunk, the largest cost of our own code in a stream. Nothing validates them;
    the codecs build them from already-checked values. Requests and results stay pydantic.
    """

    text: str = ""
    reasoning: str = ""
    reasoning_signature: str = ""
    """A piece of the reasoning's signature (Anthropic ``signature_delta``); appended."""
    tool_call_chunks: list[ToolCallChunk] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    cost: Cost | None = None
    """Set by the client on the delta that carries ``usage`` (see `ChatResult.cost`)."""
    id: str | None = None
    model: str | None = None


class ModelInfo(_Model):
    """One entry of ``GET /v1/models``; unknown fields are kept."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None


# --------------------------------------------------------------------------- trusted builders

_MESSAGE_FIELDS = set(Message.model_fields)
_TEXT_FIELDS = set(TextPart.model_fields)
"""Shared, complete fields sets: pydantic's ``fields_set.add`` on assignment never changes them,
and one shared set per class means fewer GC-tracked objects per message."""


def trusted_text_part(text: str) -> TextPart:
    """A `TextPart` of a ``str`` the caller has already checked (no validation)."""
    return trusted(TextPart, {"type": "text", "text": text}, _TEXT_FIELDS)


def trusted_message(
    role: Role,
    content: list[Part],
    *,
    name: str | None = None,
    tool_calls: list[ToolCall] | None = None,
    tool_call_id: str | None = None,
    is_error: bool = False,
) -> Message:
    """A `Message` from parts and values the caller has already checked (no validation).

    Adapters convert long histories with these (`modelslab_core.construct.trusted`): a
    10,000-message request then creates few enough GC-tracked objects that building it does
    not trigger a full collection."""
    values = {
        "role": role,
        "content": content,
        "tool_calls": [] if tool_calls is None else tool_calls,
        "tool_call_id": tool_call_id,
        "name": name,
        "is_error": is_error,
    }
    return trusted(Message, values, _MESSAGE_FIELDS)
