"""Neutral request -> ``POST /v1/messages`` (and ``/v1/messages/count_tokens``) JSON (pure).

Mapping rules (the Anthropic quirks live here, once):

- ``system`` messages are hoisted to the top-level ``system`` string (several are joined with a
  blank line); consecutive turns of one role are merged; tool results become ``tool_result``
  blocks of a user turn, placed before any other block of that turn.
- A turn that is a single text block is sent as a plain string (the most compatible form).
- Reasoning parts are sent back as ``thinking`` blocks only when they carry a signature
  (the API rejects unsigned thinking); ``name``, ``seed`` and the penalties have no Anthropic
  field and are not sent (use ``extra_body`` to force them).
- ``model`` is always sent: Anthropic's body requires it and the contract documents
  ``model_id`` for ``/chat/completions`` only. ``model_field="model_id"`` or ``"both"`` adds
  ``model_id`` next to it; ``count_tokens`` sends ``model`` only.
- ``max_tokens`` is required: 1024 when the request leaves it unset.
- ``response_format``:
  ``json_schema`` becomes a tool named after the schema (its ``input_schema`` is the schema)
  that ``tool_choice`` forces; the answer arrives as that tool call (see
  `modelslab_core.structured.structured_output`). It overrides the request's ``tool_choice``.
  ``json_object`` appends an instruction to ``system`` asking for one JSON object and nothing
  else; read the answer with `modelslab_core.structured.parse_json_text`.
"""

from __future__ import annotations

from typing import Any

from ..types import (
    ChatRequest,
    ImagePart,
    Message,
    ModelField,
    NamedToolChoice,
    ReasoningPart,
    TextPart,
    ToolCall,
)
from ._common import finish_body, message_text

__all__ = [
    "ANTHROPIC_SAMPLING",
    "DEFAULT_MAX_TOKENS",
    "JSON_OBJECT_INSTRUCTION",
    "encode_count_tokens",
    "encode_messages",
    "encode_request",
]

ANTHROPIC_SAMPLING = ("temperature", "top_p", "top_k")
"""The sampling fields ``/v1/messages`` takes (``max_tokens`` is sent on its own)."""

DEFAULT_MAX_TOKENS = 1024
"""``max_tokens`` sent when the request leaves it unset (the API requires one)."""

JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no code fences."
)
"""The system instruction that stands in for ``response_format: json_object``."""

# --------------------------------------------------------------------------- encoding


def _image_block(part: ImagePart) -> dict[str, Any]:
    """An ``image`` block: a URL source, or base64 (`ImagePart` has split ``data:`` URLs and
    settled the MIME type)."""
    if part.url:
        source = {"type": "url", "url": part.url}
    else:
        source = {"type": "base64", "media_type": part.mime_type or "", "data": part.data or ""}
    return {"type": "image", "source": source}


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    """Text, image and (signed) thinking blocks of a message, thinking first."""
    parts = message.content
    if len(parts) == 1 and type(parts[0]) is TextPart:  # the common turn: one text part
        text = parts[0].text
        return [{"type": "text", "text": text}] if text else []
    thinking: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(_image_block(part))
        elif isinstance(part, ReasoningPart) and part.signature and message.role == "assistant":
            thinking.append(
                {"type": "thinking", "thinking": part.text, "signature": part.signature}
            )
    return thinking + blocks if thinking else blocks


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


def _tool_result(message: Message) -> dict[str, Any]:
    blocks = _content_blocks(message)
    content: Any = message_text(message)
    if any(b["type"] == "image" for b in blocks):
        content = blocks
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id or "",
        "content": content,
    }
    if message.is_error:
        result["is_error"] = True
    return result


def _wire_turn(
    role: str, results: list[dict[str, Any]], blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    """One merged turn: tool results first; a single text block is sent as a plain string."""
    content = results + blocks if results else blocks
    if len(content) == 1 and content[0]["type"] == "text":
        return {"role": role, "content": content[0]["text"]}
    return {"role": role, "content": content if content else ""}


def encode_messages(messages: list[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """``(system, messages)``: system hoisted, roles merged, tool results as user blocks.

    Each turn becomes its wire dict as soon as the next role starts (no per-turn objects kept:
    a long text history leaves one string-only dict per turn, which the GC does not track).
    """
    system: list[str] = []
    wire: list[dict[str, Any]] = []
    role: str | None = None
    results: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            system.append(message_text(message))
            continue
        turn = "assistant" if message.role == "assistant" else "user"
        if message.role == "tool":
            new_results, new_blocks = [_tool_result(message)], []
        else:
            new_results, new_blocks = [], _content_blocks(message)
            if message.tool_calls:
                new_blocks.extend(_tool_use(c) for c in message.tool_calls)
            if turn == "assistant" and not new_blocks:
                continue
        if turn != role:
            if role is not None:
                wire.append(_wire_turn(role, results, blocks))
            role, results, blocks = turn, new_results, new_blocks
        else:
            results.extend(new_results)
            blocks.extend(new_blocks)
    if role is not None:
        wire.append(_wire_turn(role, results, blocks))
    joined = "\n\n".join(s for s in system if s)
    return (joined or None), wire


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        wire: dict[str, Any] = {"type": "tool", "name": choice.name}
    elif choice == "required":
        wire = {"type": "any"}
    elif choice in ("auto", "none"):
        wire = {"type": choice}
    elif request.parallel_tool_calls is False and request.tools:
        wire = {"type": "auto"}
    else:
        return None
    if request.parallel_tool_calls is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    return wire


def _tools_and_choice(
    request: ChatRequest,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Wire tools and tool_choice, with a ``json_schema`` format as a forced tool."""
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters}
        for t in request.tools
    ]
    choice = _tool_choice(request)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        if all(t["name"] != fmt.name for t in tools):
            description = fmt.description or (
                f"Give the final answer by calling this tool with the `{fmt.name}` object."
            )
            tools.append(
                {"name": fmt.name, "description": description, "input_schema": fmt.schema_}
            )
        choice = {"type": "tool", "name": fmt.name}
        if request.parallel_tool_calls is False:
            choice["disable_parallel_tool_use"] = True
    return tools, choice


def _system(request: ChatRequest, system: str | None) -> str | None:
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        return f"{system}\n\n{JSON_OBJECT_INSTRUCTION}" if system else JSON_OBJECT_INSTRUCTION
    return system


def encode_request(
    request: ChatRequest, *, stream: bool, model_field: ModelField = "both"
) -> dict[str, Any]:
    """The ``/v1/messages`` JSON body for ``request`` (``extra_body`` merged last).

    ``model`` is always present; ``model_id`` is added when ``model_field`` asks for it.
    """
    system, messages = encode_messages(request.messages)
    system = _system(request, system)
    body: dict[str, Any] = {"model": request.model}
    if model_field in ("model_id", "both"):
        body["model_id"] = request.model
    body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
    if system is not None:
        body["system"] = system
    body["messages"] = messages
    tools, choice = _tools_and_choice(request)
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    return finish_body(body, request, ANTHROPIC_SAMPLING, stop_key="stop_sequences", stream=stream)


def encode_count_tokens(request: ChatRequest) -> dict[str, Any]:
    """The ``/v1/messages/count_tokens`` body: model, messages, system, tools."""
    system, messages = encode_messages(request.messages)
    system = _system(request, system)
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if system is not None:
        body["system"] = system
    tools, _ = _tools_and_choice(request)
    if tools:
        body["tools"] = tools
    return body
