#!/usr/bin/env python3
"""The demo (``make demo``): both adapters on a real model, each step with its token usage.

Without ``MODELSLAB_API_KEY`` it starts the local llama.cpp server (scripts/llama_server.py:
Qwen2.5-Coder-0.5B-Instruct, ModelsLab's wire format and paths) and stops it at the end; with
the key set it sends the same requests to ModelsLab itself. Steps:

1. a LangChain chat (system prompt + question)
2. a streamed answer, printed token by token
3. a tool call and its result sent back
4. a structured-output extraction into a pydantic model
5. a LlamaIndex RAG query over ``notebooks/data/*.md`` with a local embedding model
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "notebooks"))

import _local
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from langchain_modelslab import ChatModelsLab

SYSTEM = (
    "You are a concise travel assistant for the Isle of Corran. Answer in one or two sentences."
)


@tool
def ferry_fare(adults: int, children: int) -> str:
    """Price in pounds of return ferry tickets to Corran for a group."""
    return f"{14 * adults + 7 * children} pounds ({adults} adults at 14, {children} children at 7)"


class Booking(BaseModel):
    """A ferry booking request."""

    name: str = Field(description="the traveller's name")
    day: str = Field(description="the day of travel")
    adults: int = Field(description="number of adults")
    bicycle: bool = Field(description="whether a bicycle comes along")


def heading(number: int, title: str) -> None:
    """Print a section title."""
    print(f"\n=== {number}. {title} " + "=" * max(3, 60 - len(title)), flush=True)


def usage_line(message: BaseMessage | None, seconds: float) -> str:
    """``usage: 41 in + 12 out = 53 tokens, 1.9 s`` from an AI message's usage_metadata."""
    usage = getattr(message, "usage_metadata", None) or {}
    if not usage:
        return f"usage: not reported, {seconds:.1f} s"
    return (
        f"usage: {usage['input_tokens']} in + {usage['output_tokens']} out = "
        f"{usage['total_tokens']} tokens, {seconds:.1f} s"
    )


def timed(step: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``step``; return its result and the seconds it took."""
    started = time.monotonic()
    result = step()
    return result, time.monotonic() - started


def demo_chat(llm: ChatModelsLab) -> None:
    """One chat turn with a system prompt."""
    heading(1, "LangChain chat")
    question = "Name one thing a visitor can do on a small Scottish island."
    print(f"user: {question}")
    reply, seconds = timed(lambda: llm.invoke([SystemMessage(SYSTEM), HumanMessage(question)]))
    print(f"assistant: {reply.content}")
    print(usage_line(reply, seconds))


def demo_stream(llm: ChatModelsLab) -> None:
    """A streamed answer, printed as it arrives."""
    heading(2, "Streaming, token by token")
    question = "Describe a lighthouse at night in two short sentences."
    print(f"user: {question}\nassistant: ", end="", flush=True)
    started = time.monotonic()
    total: Any = None
    for chunk in llm.stream([SystemMessage(SYSTEM), HumanMessage(question)]):
        print(chunk.content, end="", flush=True)
        total = chunk if total is None else total + chunk
    print()
    print(usage_line(total, time.monotonic() - started))


def demo_tools(llm: ChatModelsLab) -> None:
    """A forced tool call, the tool run locally, and its result sent back for an answer."""
    heading(3, "Tool calling")
    question = "What do return ferry tickets cost for 2 adults and 3 children?"
    print(f"user: {question}")
    messages: list[BaseMessage] = [SystemMessage(SYSTEM), HumanMessage(question)]
    forced = llm.bind_tools([ferry_fare], tool_choice="required")
    call_msg, seconds = timed(lambda: forced.invoke(messages))
    assert isinstance(call_msg, AIMessage)
    print(f"tool calls: {[(c['name'], c['args']) for c in call_msg.tool_calls]}")
    print(usage_line(call_msg, seconds))
    messages.append(call_msg)
    for call in call_msg.tool_calls:
        try:
            result = ferry_fare.invoke(call["args"])
        except Exception as exc:  # a small model may send bad arguments: show it, go on
            result = f"error: {exc}"
        print(f"tool result: {result}")
        messages.append(ToolMessage(str(result), tool_call_id=call["id"] or "call-0"))
    # A 0.5B model answers from a tool result far more reliably when asked to in a user turn
    # (without it, it often repeats the call as text); capable models do not mind the nudge.
    messages.append(HumanMessage("Using that result, answer my question in one sentence."))
    answer, seconds = timed(lambda: llm.invoke(messages))
    print(f"assistant: {answer.content or answer.tool_calls}")
    print(usage_line(answer, seconds))


def demo_structured(llm: ChatModelsLab) -> None:
    """Extract a pydantic object from free text (JSON schema response format)."""
    heading(4, "Structured output")
    text = "Hi, this is Morag Campbell. I'd like to cross on Saturday with my husband and my bike."
    print(f"text: {text}")
    extractor = llm.with_structured_output(Booking, method="json_schema", include_raw=True)
    out, seconds = timed(lambda: extractor.invoke(f"Extract the booking request: {text}"))
    print(f"parsed: {out['parsed']!r}")
    if out["parsing_error"] is not None:
        print(f"parsing error: {out['parsing_error']}")
    print(usage_line(out["raw"], seconds))


def demo_rag(endpoint: _local.Endpoint, dialect: str, max_tokens: int) -> None:
    """A LlamaIndex query engine over the bundled documents, embedded locally."""
    from llama_index.core import VectorStoreIndex
    from local_embedding import MiniLMEmbedding

    from llama_index_modelslab import ModelsLab

    heading(5, "LlamaIndex RAG (local MiniLM embedding)")
    documents = _local.load_documents()
    index, seconds = timed(
        lambda: VectorStoreIndex.from_documents(documents, embed_model=MiniLMEmbedding())
    )
    print(f"indexed {len(documents)} documents from notebooks/data in {seconds:.1f} s")
    llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=max_tokens, dialect=dialect))
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    question = "When does the first ferry leave Port Ailean on weekdays?"
    print(f"question: {question}")
    meter = _local.UsageMeter().install()
    response, seconds = timed(lambda: engine.query(question))
    print(f"answer: {str(response).strip()}")
    sources = [node.metadata.get("file_name") for node in response.source_nodes]
    print(f"sources: {sources}")
    print(f"usage: {meter}, {seconds:.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialect", choices=["openai", "anthropic"], default="openai")
    parser.add_argument("--max-tokens", type=int, default=64, help="per answer (default 64)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every step; stop the local server if this run started it."""
    args = parse_args(argv)
    started = time.monotonic()
    endpoint = _local.connect()
    try:
        print(f"wire dialect: {args.dialect}, max_tokens per answer: {args.max_tokens}")
        llm = ChatModelsLab(
            **endpoint.langchain_kwargs(
                max_tokens=args.max_tokens, temperature=0.2, dialect=args.dialect
            )
        )
        demo_chat(llm)
        demo_stream(llm)
        demo_tools(llm)
        demo_structured(llm)
        demo_rag(endpoint, args.dialect, args.max_tokens)
    finally:
        _local.disconnect(endpoint)
        if endpoint.started:
            print("\nstopped the local server")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
