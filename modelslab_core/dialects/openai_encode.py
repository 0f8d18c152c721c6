"""Neutral request -> ``POST /chat/completions`` JSON (pure).

Notes on choices made here:

- Assistant tool-call arguments are sent as ``json.dumps(arguments)`` (always valid JSON, even
  for calls whose original text did not parse: servers that re-parse history would reject it).
- Reasoning parts are never sent: the chat-completions format has no field for them.
- Tool messages take text only in chat completions, so images in a tool result are not
  dropped but carried in one ``user`` message placed right after that run of tool messages
  (before the next turn): for each tool call with images, a text part
  ``"Images returned by tool call <id>:"`` then its ``image_url`` parts. The tool message
  keeps the text. (Several OpenAI-compatible integrations do the same.)
- ``Message.is_error`` has no chat-completions field and is not sent; the tool message's
  content goes as is (like LangChain's ``ChatOpenAI``): frameworks already word failed tool
  runs in the content itself (e.g. ``"Error: ..."``), so a prefix would only repeat it.
"""

from __future__ import annotations

import json
from typing import Any

from ..tool_calls import openai_tool_call
from ..types import (
    SAMPLING_FIELDS,
    ChatRequest,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    ModelField,
    NamedToolChoice,
    TextPart,
    ToolSpec,
)
from ._common import finish_body, message_text

__all__ = [
    "encode_message",
    "encode_messages",
    "encode_request",
    "encode_response_format",
    "encode_tool",
]


def _image_url(part: ImagePart) -> dict[str, Any]:
    """An ``image_url`` content part (URL as given, or base64 data as a ``data:`` URI; the
    MIME type is settled by `ImagePart`)."""
    url = part.url or f"data:{part.mime_type};base64,{part.data or ''}"
    image: dict[str, Any] = {"url": url}
    if part.detail:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _encode_content(message: Message) -> str | list[dict[str, Any]]:
    """A string when the content is text only; else a list of text/image parts."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    if not any(isinstance(p, ImagePart) for p in parts):
        return message.text_content
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            out.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            out.append(_image_url(part))
    return out


def encode_message(message: Message) -> dict[str, Any]:
    """One neutral message as an OpenAI chat message (a tool result keeps its text only;
    `encode_messages` carries its images)."""
    role = message.role
    if role == "tool":
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id or "",
            "content": message_text(message),
        }
    out: dict[str, Any] = {"role": role}
    if role == "assistant" and message.tool_calls:
        text = message.text_content
        out["content"] = text or None
        out["tool_calls"] = [
            openai_tool_call(c.id, c.name, json.dumps(c.arguments)) for c in message.tool_calls
        ]
    else:
        out["content"] = _encode_content(message)
    if message.name:
        out["name"] = message.name
    return out


def _tool_images(message: Message) -> list[dict[str, Any]]:
    """The image parts of a tool result, labelled with their call id (``[]`` if none)."""
    if len(message.content) == 1 and type(message.content[0]) is TextPart:
        return []
    images = [_image_url(p) for p in message.content if isinstance(p, ImagePart)]
    if not images:
        return []
    label = f"Images returned by tool call {message.tool_call_id or ''}:"
    return [{"type": "text", "text": label}, *images]


def encode_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """The wire messages; images of tool results follow their tool run in a user message."""
    out: list[dict[str, Any]] = []
    carried: list[dict[str, Any]] = []
    for message in messages:
        if message.role != "tool" and carried:
            out.append({"role": "user", "content": carried})
            carried = []
        out.append(encode_message(message))
        if message.role == "tool":
            carried.extend(_tool_images(message))
    if carried:
        out.append({"role": "user", "content": carried})
    return out


def encode_tool(tool: ToolSpec) -> dict[str, Any]:
    """A tool in OpenAI's wire shape (also the JSON form structured output binds)."""
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _encode_tool_choice(choice: str | NamedToolChoice) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


def encode_response_format(
    fmt: JsonObjectFormat | JsonSchemaFormat | None,
) -> dict[str, Any] | None:
    """A response format in OpenAI's wire shape (also the JSON form structured output binds)."""
    if fmt is None:
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema_}
    if fmt.description:
        schema["description"] = fmt.description
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": schema}


def encode_request(
    request: ChatRequest, *, stream: bool, model_field: ModelField = "both"
) -> dict[str, Any]:
    """The ``/chat/completions`` JSON body for ``request`` (``extra_body`` merged last)."""
    body: dict[str, Any] = {}
    if model_field in ("model", "both"):
        body["model"] = request.model
    if model_field in ("model_id", "both"):
        body["model_id"] = request.model
    body["messages"] = encode_messages(request.messages)
    if request.tools:
        body["tools"] = [encode_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _encode_tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    response_format = encode_response_format(request.response_format)
    if response_format is not None:
        body["response_format"] = response_format
    usage = {"stream_options": {"include_usage": True}} if request.include_usage else None
    return finish_body(
        body, request, SAMPLING_FIELDS, stop_key="stop", stream=stream, stream_extra=usage
    )
