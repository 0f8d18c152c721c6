"""Drive one chat turn through any layer (core client, LangChain, LlamaIndex) the same way.

`run_turn` sends one user prompt through the chosen layer, dialect, sync/async mode and
streaming/non-streaming path, and returns an `Outcome`: the text the caller received (for a
stream, the pieces in order, so a cut stream shows what was already delivered), the tool calls
as the layer presents them (valid and invalid), and the exception the caller saw, if any.
Only public APIs are used; every call goes over real HTTP to a stand-in server.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from _support import MODEL, WEATHER_TOOL, get_weather

from modelslab_core import (
    AsyncModelsLabClient,
    ChatRequest,
    Message,
    ModelsLabClient,
    RetryPolicy,
    StreamAccumulator,
    ToolSpec,
)
from modelslab_core.testing import StandIn

LAYERS = ("core", "langchain", "llama_index")
DIALECTS = ("openai", "anthropic")
MODES = ("sync", "async")


@dataclass(frozen=True)
class Combo:
    """One cell of the matrix: layer x dialect x sync/async x streaming."""

    layer: str
    dialect: str
    mode: str
    stream: bool

    @property
    def id(self) -> str:
        return f"{self.layer}-{self.dialect}-{self.mode}-{'stream' if self.stream else 'plain'}"


COMBOS = [
    Combo(layer, dialect, mode, stream)
    for layer, dialect, mode, stream in itertools.product(LAYERS, DIALECTS, MODES, (False, True))
]
ALL_COMBOS = pytest.mark.parametrize("combo", COMBOS, ids=[c.id for c in COMBOS])


@dataclass
class Settings:
    """Client settings every layer can express."""

    max_retries: int = 2
    initial_delay: float = 0.01
    chunk_timeout: float | None = None
    read_timeout: float | None = None
    max_in_flight: int | None = None


@dataclass
class Outcome:
    """What the caller of one turn saw."""

    pieces: list[str] = field(default_factory=list)
    final_text: str | None = None
    """The text of a non-streamed answer."""
    folded: str | None = None
    """A stream's final message as the layer folds it (the core's ``acc.result()``,
    LangChain's merged chunk, LlamaIndex's last response): it must equal the pieces."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Valid calls: ``{"name", "args"}`` with ``args`` a dict."""
    invalid_calls: list[dict[str, Any]] = field(default_factory=list)
    """Calls the layer flags as unparseable: ``{"name", "raw"}``."""
    error: BaseException | None = None

    @property
    def text(self) -> str:
        """The full text: the final text, else the streamed pieces joined."""
        return self.final_text if self.final_text is not None else "".join(self.pieces)

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


# --------------------------------------------------------------------------- builders


def core_client(
    combo: Combo, url: str, key: str, s: Settings
) -> ModelsLabClient | AsyncModelsLabClient:
    retry = RetryPolicy(
        max_retries=s.max_retries,
        initial_delay=s.initial_delay,
        max_delay=0.5,
        max_server_delay=0.5,
    )
    fields: dict[str, Any] = {
        "api_key": key,
        "base_url": url,
        "dialect": combo.dialect,
        "retry": retry,
        "max_in_flight": s.max_in_flight,
    }
    if s.chunk_timeout is not None:
        fields["stream_chunk_timeout"] = s.chunk_timeout
    if s.read_timeout is not None:
        fields["read_timeout"] = s.read_timeout
    cls = ModelsLabClient if combo.mode == "sync" else AsyncModelsLabClient
    return cls(**fields)


def lc_model(combo: Combo, url: str, key: str, s: Settings, **extra: Any) -> Any:
    from langchain_modelslab import ChatModelsLab

    fields: dict[str, Any] = {
        "api_key": key,
        "base_url": url,
        "dialect": combo.dialect,
        "model": MODEL,
        "max_retries": s.max_retries,
        "retry_initial_delay": s.initial_delay,
        "max_in_flight": s.max_in_flight,
    }
    if s.chunk_timeout is not None:
        fields["stream_chunk_timeout"] = s.chunk_timeout
    if s.read_timeout is not None:
        fields["timeout"] = s.read_timeout
    return ChatModelsLab(**{**fields, **extra})


def li_model(combo: Combo, url: str, key: str, s: Settings, **extra: Any) -> Any:
    from llama_index_modelslab import ModelsLab

    options: dict[str, Any] = {"retry": {"initial_delay": s.initial_delay}}
    if s.chunk_timeout is not None:
        options["stream_chunk_timeout"] = s.chunk_timeout
    fields: dict[str, Any] = {
        "api_key": key,
        "api_base": url,
        "dialect": combo.dialect,
        "model": MODEL,
        "max_retries": s.max_retries,
        "max_in_flight": s.max_in_flight,
        "client_options": options,
    }
    if s.read_timeout is not None:
        fields["timeout"] = s.read_timeout
    return ModelsLab(**{**fields, **extra})


# --------------------------------------------------------------------------- one turn


def run_turn(
    combo: Combo,
    url: str,
    key: str,
    prompt: str = "Say: alpha beta gamma delta",
    settings: Settings | None = None,
    *,
    tools: bool = False,
) -> Outcome:
    """One user turn through ``combo``; errors are captured in the outcome, never raised."""
    s = settings or Settings()
    out = Outcome()
    runner = {"core": _core, "langchain": _langchain, "llama_index": _llama_index}[combo.layer]
    try:
        if combo.mode == "sync":
            runner(combo, url, key, prompt, s, tools, out)
        else:
            asyncio.run(runner(combo, url, key, prompt, s, tools, out))
    except Exception as exc:
        out.error = exc
    return out


def _core(
    combo: Combo, url: str, key: str, prompt: str, s: Settings, tools: bool, out: Outcome
) -> Any:
    spec = WEATHER_TOOL["function"]
    request = ChatRequest(
        model=MODEL,
        messages=[Message.text("user", prompt)],
        tools=[
            ToolSpec(
                name=spec["name"], description=spec["description"], parameters=spec["parameters"]
            )
        ]
        if tools
        else [],
        max_tokens=200,
    )
    client = core_client(combo, url, key, s)

    def fold(result: Any) -> None:
        out.final_text = result.text
        for call in result.tool_calls:
            if call.parse_error is None:
                out.tool_calls.append({"name": call.name, "args": call.arguments})
            else:
                out.invalid_calls.append({"name": call.name, "raw": call.raw_arguments})

    if isinstance(client, ModelsLabClient):
        with client:
            if not combo.stream:
                fold(client.chat(request))
                return None
            acc = StreamAccumulator()
            for delta in client.stream(request):
                acc.add(delta)
                if delta.text:
                    out.pieces.append(delta.text)
            fold(acc.result())
            out.folded, out.final_text = out.final_text, None
        return None

    async def go() -> None:
        async with client:
            if not combo.stream:
                fold(await client.chat(request))
                return
            acc = StreamAccumulator()
            async for delta in client.stream(request):
                acc.add(delta)
                if delta.text:
                    out.pieces.append(delta.text)
            fold(acc.result())
            out.folded, out.final_text = out.final_text, None

    return go()


def _lc_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        b if isinstance(b, str) else str(b.get("text", ""))
        for b in content
        if isinstance(b, str) or b.get("type") == "text"
    )


def _langchain(
    combo: Combo, url: str, key: str, prompt: str, s: Settings, tools: bool, out: Outcome
) -> Any:
    model = lc_model(combo, url, key, s)
    runnable = model.bind_tools([WEATHER_TOOL]) if tools else model

    def fold(message: Any) -> None:
        out.tool_calls = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
        out.invalid_calls = [
            {"name": c["name"], "raw": c["args"]} for c in message.invalid_tool_calls
        ]

    if combo.mode == "sync":
        if not combo.stream:
            message = runnable.invoke(prompt)
            out.final_text = _lc_text(message.content)
            fold(message)
            return None
        total = None
        for chunk in runnable.stream(prompt):
            total = chunk if total is None else total + chunk
            if piece := _lc_text(chunk.content):
                out.pieces.append(piece)
        fold(total)
        out.folded = _lc_text(total.content)
        return None

    async def go() -> None:
        if not combo.stream:
            message = await runnable.ainvoke(prompt)
            out.final_text = _lc_text(message.content)
            fold(message)
            return
        total = None
        async for chunk in runnable.astream(prompt):
            total = chunk if total is None else total + chunk
            if piece := _lc_text(chunk.content):
                out.pieces.append(piece)
        fold(total)
        out.folded = _lc_text(total.content)

    return go()


def _llama_index(
    combo: Combo, url: str, key: str, prompt: str, s: Settings, tools: bool, out: Outcome
) -> Any:
    from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
    from llama_index.core.tools import FunctionTool

    llm = li_model(combo, url, key, s)
    messages = [ChatMessage(role="user", content=prompt)]
    tool_list = [FunctionTool.from_defaults(fn=get_weather)]

    def fold(response: Any) -> None:
        for block in response.message.blocks:
            if isinstance(block, ToolCallBlock):
                if isinstance(block.tool_kwargs, dict):
                    out.tool_calls.append({"name": block.tool_name, "args": block.tool_kwargs})
                else:
                    out.invalid_calls.append({"name": block.tool_name, "raw": block.tool_kwargs})

    if combo.mode == "sync":
        if not combo.stream:
            response = (
                llm.chat_with_tools(tool_list, user_msg=prompt) if tools else llm.chat(messages)
            )
            out.final_text = response.message.content or ""
            fold(response)
            return None
        gen = (
            llm.stream_chat_with_tools(tool_list, user_msg=prompt)
            if tools
            else llm.stream_chat(messages)
        )
        last = None
        for last in gen:
            if last.delta:
                out.pieces.append(last.delta)
        fold(last)
        out.folded = last.message.content or ""
        return None

    async def go() -> None:
        if not combo.stream:
            response = await (
                llm.achat_with_tools(tool_list, user_msg=prompt) if tools else llm.achat(messages)
            )
            out.final_text = response.message.content or ""
            fold(response)
            return
        gen = await (
            llm.astream_chat_with_tools(tool_list, user_msg=prompt)
            if tools
            else llm.astream_chat(messages)
        )
        last = None
        async for last in gen:
            if last.delta:
                out.pieces.append(last.delta)
        fold(last)
        out.folded = last.message.content or ""

    return go()


# --------------------------------------------------------------------------- timing


class Arrivals:
    """Notes when each request reaches a stand-in (timestamped on the server's thread).

    The stand-in records requests but not their arrival times, so this wraps its admission
    hook for the duration of a ``with`` block (instrumentation only: behaviour is unchanged).
    """

    def __init__(self, server: StandIn) -> None:
        self._server = server
        self.times: list[float] = []

    def __enter__(self) -> Arrivals:
        admit = self._server._admit

        def timed(record: Any) -> Any:
            self.times.append(time.perf_counter())
            return admit(record)

        self._server._admit = timed
        return self

    def __exit__(self, *exc: object) -> None:
        del self._server._admit

    @property
    def gaps(self) -> list[float]:
        """Seconds between consecutive arrivals."""
        return [b - a for a, b in itertools.pairwise(self.times)]


def elapsed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the seconds it took."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def invoke_in_worker(obj: Any, layer: str, prompt: str) -> str:
    """Run one turn with an unpickled model or client (called in a worker process)."""
    if layer == "core":
        request = ChatRequest(model=MODEL, messages=[Message.text("user", prompt)])
        return str(obj.chat(request).text)
    if layer == "langchain":
        return str(obj.invoke(prompt).content)
    from llama_index.core.base.llms.types import ChatMessage

    return str(obj.chat([ChatMessage(role="user", content=prompt)]).message.content)
