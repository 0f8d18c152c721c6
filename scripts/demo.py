#!/usr/bin/env python3
"""The demo (``make demo``): both adapters on a real model, each step with its token usage.

Without ``MODELSLAB_API_KEY`` it uses the local llama.cpp server (scripts/llama_server.py:
Qwen2.5-Coder-0.5B-Instruct, ModelsLab's wire format and paths), started if needed and held
for this run: at the end it stops only if no other run (another demo, a test session) holds
it. With the key set it sends the same requests to ModelsLab itself. Steps:

1. a LangChain chat (system prompt + question)
2. a streamed answer, printed token by token
3. a forced tool call, the tool run, and its result sent back for an answer
4. a structured-output extraction into a pydantic model (``json_schema``)
5. a LlamaIndex RAG query over ``notebooks/data/*.md`` with a local embedding model, its
   context window from the server's ``/v1/models``

Answers are greedy (temperature 0, a fixed seed). Each step checks what it shows (usage
reported and adding up, streamed pieces joining to the answer, tool arguments valid for the
tool's schema, the structured object parsed, the retrieved passage in the prompt that was
sent); a step that fails says why, the others still run, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

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

FERRY_LINE = "the first ferry leaves Port Ailean at 07:15"
"""The line of notebooks/data/ferry.md that answers the RAG question."""
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
    day: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = (
        Field(description="the day of travel")
    )
    adults: int = Field(ge=1, description="number of adults")
    bicycle: bool = Field(description="whether a bicycle comes along")


def heading(number: int, title: str) -> None:
    """Print a section title."""
    print(f"\n=== {number}. {title} " + "=" * max(3, 60 - len(title)), flush=True)


class StepFailed(AssertionError):
    """A step of the demo did not show what it is meant to show."""


def check(condition: object, what: str) -> None:
    """Fail the step with ``what`` unless ``condition`` holds."""
    if not condition:
        raise StepFailed(what)


def usage_line(message: BaseMessage | None, seconds: float) -> str:
    """``usage: 41 in + 12 out = 53 tokens, 1.9 s`` from an AI message's usage_metadata."""
    usage = getattr(message, "usage_metadata", None) or {}
    check(usage, "the answer reports no token usage")
    return tokens_line(
        usage["input_tokens"], usage["output_tokens"], usage["total_tokens"], seconds
    )


def tokens_line(prompt: int, completion: int, total: int, seconds: float, extra: str = "") -> str:
    """The usage line, once the numbers are checked: positive, and adding up."""
    check(prompt > 0 and completion > 0, f"usage numbers must be positive: {prompt}, {completion}")
    check(
        total == prompt + completion, f"usage does not add up: {prompt} + {completion} != {total}"
    )
    return f"usage: {prompt} in + {completion} out = {total} tokens{extra}, {seconds:.1f} s"


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
    check(isinstance(reply.content, str) and reply.content.strip(), "the answer is empty")
    print(usage_line(reply, seconds))


def demo_stream(llm: ChatModelsLab) -> None:
    """A streamed answer, printed as it arrives."""
    heading(2, "Streaming, token by token")
    question = "Describe a lighthouse at night in two short sentences."
    print(f"user: {question}\nassistant: ", end="", flush=True)
    started = time.monotonic()
    total: Any = None
    pieces: list[str] = []
    for chunk in llm.stream([SystemMessage(SYSTEM), HumanMessage(question)]):
        print(chunk.content, end="", flush=True)
        pieces.append(str(chunk.content))
        total = chunk if total is None else total + chunk
    print()
    check(len(pieces) > 1, "the answer did not arrive in pieces")
    check("".join(pieces) == total.content and total.content.strip(), "the pieces do not join")
    print(f"{len(pieces)} pieces")
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
    check([c["name"] for c in call_msg.tool_calls] == ["ferry_fare"], "no single ferry_fare call")
    messages.append(call_msg)
    for call in call_msg.tool_calls:
        # the arguments must be exactly the tool's, each of its type (raises otherwise)
        ferry_fare.args_schema.model_validate(call["args"], strict=True)  # type: ignore[union-attr]
        result = ferry_fare.invoke(call["args"])
        print(f"tool result: {result}")
        messages.append(ToolMessage(str(result), tool_call_id=call["id"] or "call-0"))
    # A 0.5B model answers from a tool result far more reliably when asked to in a user turn
    # (without it, it often repeats the call as text); capable models do not mind the nudge.
    messages.append(HumanMessage("Using that result, answer my question in one sentence."))
    answer, seconds = timed(lambda: llm.invoke(messages))
    print(f"assistant: {answer.content or answer.tool_calls}")
    check(isinstance(answer.content, str) and answer.content.strip(), "no answer in text")
    print(usage_line(answer, seconds))


def demo_structured(llm: ChatModelsLab) -> None:
    """Extract a pydantic object from free text (JSON schema response format)."""
    heading(4, "Structured output")
    text = "Hi, this is Morag Campbell. I'd like to cross on Saturday with my husband and my bike."
    print(f"text: {text}")
    extractor = llm.with_structured_output(Booking, method="json_schema", include_raw=True)
    out, seconds = timed(lambda: extractor.invoke(f"Extract the booking request: {text}"))
    print(f"parsed: {out['parsed']!r}")
    check(out["parsing_error"] is None, f"parsing error: {out['parsing_error']}")
    check(isinstance(out["parsed"], Booking), "no Booking object")
    print(usage_line(out["raw"], seconds))


def demo_rag(endpoint: _local.Endpoint, dialect: str, max_tokens: int) -> None:
    """A LlamaIndex query engine over the bundled documents, embedded locally."""
    from llama_index.core import VectorStoreIndex
    from local_embedding import MiniLMEmbedding

    from llama_index_modelslab import ModelsLab
    from modelslab_core import resolve_model

    heading(5, "LlamaIndex RAG (local MiniLM embedding)")
    documents = _local.load_documents()
    index, seconds = timed(
        lambda: VectorStoreIndex.from_documents(documents, embed_model=MiniLMEmbedding())
    )
    print(f"indexed {len(documents)} documents from notebooks/data in {seconds:.1f} s")
    wire = _local.WireLog()
    llm = ModelsLab(
        **endpoint.llama_index_kwargs(
            max_tokens=max_tokens, dialect=dialect, http_client=wire.client
        )
    )
    # the server's model list tells the context window LlamaIndex sizes prompts for (the
    # model catalog keeps what /v1/models says: llama-server reports the context it serves)
    llm.list_models()
    facts = resolve_model(llm.model, base_url=llm.api_base)
    window = facts.context_window if facts else None
    check(window, f"no context window known for {llm.model}")
    print(f"context window: {window} tokens ({facts and facts.sources['context_window']})")
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    question = "When does the first ferry leave Port Ailean on weekdays?"
    print(f"question: {question}")
    meter = _local.UsageMeter().install()
    try:
        response, seconds = timed(lambda: engine.query(question))
    finally:
        meter.uninstall()
    print(f"answer: {str(response).strip()}")
    sources = [node.metadata.get("file_name") for node in response.source_nodes]
    print(f"sources: {sources}")
    check(str(response).strip(), "the answer is empty")
    check(sources and sources[0] == "ferry.md", "ferry.md is not the first source")
    check(FERRY_LINE in wire.text(), "the retrieved timetable is not in the prompt sent")
    print(f"the prompt sent held the retrieved line: {FERRY_LINE!r}")
    check(meter.calls == 1, f"{meter.calls} LLM calls, expected 1")
    total = meter.prompt_tokens + meter.completion_tokens
    calls = f" in {meter.calls} LLM call"
    print(tokens_line(meter.prompt_tokens, meter.completion_tokens, total, seconds, calls))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dialect", choices=["openai", "anthropic"], default="openai")
    parser.add_argument("--max-tokens", type=int, default=64, help="per answer (default 64)")
    return parser.parse_args(argv)


def run_steps(steps: list[tuple[str, Callable[[], None]]]) -> list[str]:
    """Run every step; a failing step is reported and the next one runs. The failed names."""
    failed = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # report it, run the other steps, exit non-zero at the end
            print(f"\nFAILED: {name}: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
    return failed


def main(argv: list[str] | None = None) -> int:
    """Run every step; let go of the local server (it stops if nobody else holds it). 1 if a
    step failed."""
    args = parse_args(argv)
    started = time.monotonic()
    endpoint = _local.connect()
    try:
        print(f"wire dialect: {args.dialect}, max_tokens per answer: {args.max_tokens}")
        llm = ChatModelsLab(
            **endpoint.langchain_kwargs(max_tokens=args.max_tokens, dialect=args.dialect)
        )
        failed = run_steps(
            [
                ("chat", lambda: demo_chat(llm)),
                ("streaming", lambda: demo_stream(llm)),
                ("tool calling", lambda: demo_tools(llm)),
                ("structured output", lambda: demo_structured(llm)),
                ("RAG", lambda: demo_rag(endpoint, args.dialect, args.max_tokens)),
            ]
        )
    finally:
        outcome = _local.release(endpoint)
        if outcome["stopped"]:
            print("\nstopped the local server")
        elif outcome["running"]:
            print(f"\nleft the local server running for {', '.join(outcome['holders'])}")
    seconds = time.monotonic() - started
    if failed:
        print(f"\ndemo FAILED in {seconds:.0f} s: {', '.join(failed)}")
        return 1
    print(f"\ndemo finished in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
