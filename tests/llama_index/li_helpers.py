"""Helpers shared by the LlamaIndex tests: run a sync/async pair, build expected wire JSON."""

from __future__ import annotations

from typing import Any

from _support import MODEL
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llama_index_modelslab import ModelsLab


def wire(dialect: str, messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The body we expect on the wire: model fields, defaults of the LLM, then ``fields``."""
    body: dict[str, Any] = {"model": MODEL, "model_id": MODEL, "messages": messages}
    body["temperature"] = 0.1
    if dialect == "anthropic":
        body["max_tokens"] = 1024
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def stream_fields(dialect: str) -> dict[str, Any]:
    """What a streaming request adds."""
    if dialect == "openai":
        return {"stream": True, "stream_options": {"include_usage": True}}
    return {"stream": True}


def user(text: str) -> dict[str, Any]:
    """A user message on the wire (both dialects write plain text the same way)."""
    return {"role": "user", "content": text}


async def chat(llm: ModelsLab, sync: bool, messages: list[ChatMessage], **kw: Any) -> ChatResponse:
    """``chat`` or ``achat``."""
    return llm.chat(messages, **kw) if sync else await llm.achat(messages, **kw)


async def stream_chat(
    llm: ModelsLab, sync: bool, messages: list[ChatMessage], **kw: Any
) -> list[ChatResponse]:
    """All responses of ``stream_chat`` or ``astream_chat``."""
    if sync:
        return list(llm.stream_chat(messages, **kw))
    return [r async for r in await llm.astream_chat(messages, **kw)]


async def complete(llm: ModelsLab, sync: bool, prompt: str, **kw: Any) -> CompletionResponse:
    """``complete`` or ``acomplete``."""
    return llm.complete(prompt, **kw) if sync else await llm.acomplete(prompt, **kw)


async def stream_complete(
    llm: ModelsLab, sync: bool, prompt: str, **kw: Any
) -> list[CompletionResponse]:
    """All responses of ``stream_complete`` or ``astream_complete``."""
    if sync:
        return list(llm.stream_complete(prompt, **kw))
    return [r async for r in await llm.astream_complete(prompt, **kw)]
