"""The tool-calling hooks of `ModelsLab` as pure functions over LlamaIndex responses.

`FunctionCallingLLM` drives tools through three hooks: ``_prepare_chat_with_tools`` (the chat
kwargs of a tool turn), ``_validate_chat_with_tools_response`` (one call only unless parallel
calls are allowed) and ``get_tool_calls_from_response`` (the calls to run). Their logic lives
here; arguments are read by the core (`modelslab_core.tool_calls`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection

from modelslab_core.tool_calls import lenient_tool_arguments, parse_tool_arguments

from ._snapshots import PARTIAL_TOOL_CALLS
from ._structured import NoToolCallError
from ._tools import to_tool_spec

__all__ = ["keep_first_call", "tool_chat_kwargs", "tool_selections"]


def tool_chat_kwargs(
    tools: Sequence[Any],
    user_msg: str | ChatMessage | None,
    chat_history: list[ChatMessage] | None,
    *,
    strict: bool | None,
    allow_parallel_tool_calls: bool,
    tool_required: bool,
    tool_choice: Any,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Chat kwargs for a tool turn: messages, tool specs, ``tool_choice``, parallel calls."""
    specs = [to_tool_spec(t, strict=strict) for t in tools]
    messages = list(chat_history or [])
    if isinstance(user_msg, str):
        user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
    if user_msg is not None:
        messages.append(user_msg)
    prepared: dict[str, Any] = {"messages": messages, **kwargs}
    if specs:
        prepared["tools"] = specs
        prepared["tool_choice"] = tool_choice or ("required" if tool_required else "auto")
        prepared["parallel_tool_calls"] = allow_parallel_tool_calls
    return prepared


def keep_first_call(response: ChatResponse) -> ChatResponse:
    """``response`` with only its first tool call (parallel calls were not allowed)."""
    blocks = response.message.blocks
    calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
    if len(calls) > 1:
        response.message.blocks = [
            b for b in blocks if not isinstance(b, ToolCallBlock) or b is calls[0]
        ]
        legacy = response.message.additional_kwargs.get("tool_calls")
        if legacy:
            response.message.additional_kwargs["tool_calls"] = legacy[:1]
    return response


def _exact(block: ToolCallBlock) -> dict[str, Any]:
    try:
        return parse_tool_arguments(block.tool_kwargs)
    except ValueError as exc:
        raise ValueError(
            f"Tool call {block.tool_name!r} (id {block.tool_call_id!r}) is not run: its {exc} "
            "(was the answer cut short by max_tokens?). "
            f"Arguments received: {str(block.tool_kwargs)[:200]!r}"
        ) from None


def tool_selections(response: ChatResponse, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls of ``response``: lenient on a mid-stream snapshot (marked
    ``PARTIAL_TOOL_CALLS``), exact otherwise (a `ValueError` names a call whose arguments
    are not a JSON object, so no tool runs with cut values)."""
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if not blocks and error_on_no_tool_call:
        raise NoToolCallError.no_call(response.message.content or "")
    partial = bool(response.additional_kwargs.get(PARTIAL_TOOL_CALLS))
    return [
        ToolSelection(
            tool_id=b.tool_call_id or "",
            tool_name=b.tool_name,
            tool_kwargs=lenient_tool_arguments(b.tool_kwargs) if partial else _exact(b),
        )
        for b in blocks
    ]
