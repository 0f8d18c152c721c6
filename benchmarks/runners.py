"""One runner per client: the same operations, each written the way a user of that client would.

Every runner offers ``call``/``acall`` (one short answer), ``stream``/``astream`` (text pieces
of a streamed answer), ``tool`` (the parsed arguments of a streamed tool call), ``abatch``
(``n`` prompts, ``concurrency`` at once) and ``call_history`` (one call with a long history).
Imports happen inside the factories, so a client whose package is missing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import payloads

__all__ = ["PROMPT", "RUNNERS", "Runner", "SkipClient", "close_aiohttp_clients", "make_runner"]

PROMPT = "Say something about foxes."
API_KEY = "bench-key-not-secret"
TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": payloads.TOOL_NAME,
        "description": "Get the weather forecast for a place.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "include_hourly": {"type": "boolean"},
                "notes": {"type": "string"},
            },
            "required": ["location", "unit", "days", "include_hourly", "notes"],
        },
    },
}
_AIOHTTP_PARAMS = ("http_async_client", "async_http_client", "http_aclient", "async_client")
_OPEN: list[Any] = []


class SkipClient(Exception):
    """The client (or one scenario of it) cannot run here; the message says why."""


def history_roles(n: int) -> list[str]:
    """``n`` alternating roles ending with ``user`` (valid for both dialects)."""
    return ["user" if (n - 1 - i) % 2 == 0 else "assistant" for i in range(n)]


def history_text(i: int) -> str:
    """The text of history message ``i`` (about 60 bytes)."""
    return f"message {i}: a line of earlier conversation, kept short and plain."


def aiohttp_client() -> Any:
    """An ``httpx.AsyncClient`` on the aiohttp-backed transport of ``httpx-aiohttp``."""
    try:
        import httpx
        from httpx_aiohttp import AiohttpTransport
    except ImportError as exc:
        raise SkipClient(f"httpx-aiohttp not installed: {exc}") from exc
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=60)
    _OPEN.append(client)
    return client


async def close_aiohttp_clients() -> None:
    """Close every aiohttp-backed client made so far (inside the loop that used them)."""
    while _OPEN:
        await _OPEN.pop().aclose()


def aiohttp_param(cls: type) -> str:
    """The name of the constructor argument that takes an ``httpx.AsyncClient``."""
    names = set(getattr(cls, "model_fields", {}))
    with contextlib.suppress(TypeError, ValueError):
        names |= set(inspect.signature(cls).parameters)
    for name in _AIOHTTP_PARAMS:
        if name in names:
            return name
    raise SkipClient(f"{cls.__name__} takes no httpx.AsyncClient ({'/'.join(_AIOHTTP_PARAMS)})")


class Runner:
    """The common interface; see the module docstring."""

    name = "?"

    def call(self) -> str:
        raise NotImplementedError

    async def acall(self) -> str:
        raise NotImplementedError

    def stream(self, model: str) -> Iterator[str]:
        raise NotImplementedError

    def astream(self, model: str, aiohttp: bool = False) -> AsyncIterator[str]:
        raise NotImplementedError

    def tool(self) -> dict[str, Any]:
        raise NotImplementedError

    async def abatch(self, n: int, concurrency: int, aiohttp: bool) -> list[str]:
        raise NotImplementedError

    def make_history(self, n: int) -> Any:
        raise NotImplementedError

    def call_history(self, history: Any) -> str:
        raise NotImplementedError


async def gather_limited(fn: Callable[[], Any], n: int, concurrency: int) -> list[Any]:
    """Run ``n`` calls of the coroutine function ``fn``, at most ``concurrency`` at once."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> Any:
        async with sem:
            return await fn()

    return list(await asyncio.gather(*(one() for _ in range(n))))


class RawHttpx(Runner):
    """The floor: plain httpx, json.loads per event, minimal extraction."""

    def __init__(self, base_url: str, dialect: str) -> None:
        import httpx

        self.httpx = httpx
        self.name = f"raw-httpx-{dialect}"
        self.dialect = dialect
        self.base = base_url
        self.path = "/chat/completions" if dialect == "openai" else "/v1/messages"
        self.url = base_url + self.path
        self.headers = {"authorization": f"Bearer {API_KEY}"}
        self.client = httpx.Client(headers=self.headers, timeout=60)
        self._aclients: dict[bool, Any] = {}

    def _payload(
        self, model: str, stream: bool, messages: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": messages or [{"role": "user", "content": PROMPT}],
            "max_tokens": 1024,
        }
        if stream:
            body["stream"] = True
        return body

    def _text(self, data: dict[str, Any]) -> str:
        if self.dialect == "openai":
            return str(data["choices"][0]["message"]["content"])
        return "".join(b.get("text", "") for b in data["content"])

    def call(self) -> str:
        r = self.client.post(self.url, json=self._payload("bench-call", False))
        r.raise_for_status()
        return self._text(r.json())

    def _aclient(self, aiohttp: bool) -> Any:
        if aiohttp not in self._aclients:
            c = aiohttp_client() if aiohttp else self.httpx.AsyncClient(timeout=60)
            self._aclients[aiohttp] = c
        return self._aclients[aiohttp]

    async def _apost(self, aiohttp: bool = False) -> str:
        r = await self._aclient(aiohttp).post(
            self.url, json=self._payload("bench-call", False), headers=self.headers
        )
        r.raise_for_status()
        return self._text(r.json())

    async def acall(self) -> str:
        return await self._apost()

    def _piece(self, data: dict[str, Any]) -> str:
        if self.dialect == "openai":
            ch = data.get("choices")
            return (ch[0]["delta"].get("content") or "") if ch else ""
        if data.get("type") == "content_block_delta":
            return str(data["delta"].get("text") or data["delta"].get("partial_json") or "")
        return ""

    def stream(self, model: str) -> Iterator[str]:
        with self.client.stream("POST", self.url, json=self._payload(model, True)) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield self._piece(json.loads(line[6:]))

    async def astream(self, model: str, aiohttp: bool = False) -> AsyncIterator[str]:
        c = self._aclient(aiohttp)
        async with c.stream(
            "POST", self.url, json=self._payload(model, True), headers=self.headers
        ) as r:
            r.raise_for_status()
            async for line in r.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield self._piece(json.loads(line[6:]))

    def tool(self) -> dict[str, Any]:
        args = ""
        with self.client.stream("POST", self.url, json=self._payload("bench-tool", True)) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                data = json.loads(line[6:])
                if self.dialect == "openai":
                    ch = data.get("choices")
                    for tc in (ch[0]["delta"].get("tool_calls") or []) if ch else []:
                        args += tc["function"].get("arguments") or ""
                else:
                    args += self._piece(data)
        return dict(json.loads(args))

    async def abatch(self, n: int, concurrency: int, aiohttp: bool) -> list[str]:
        return await gather_limited(lambda: self._apost(aiohttp), n, concurrency)

    def make_history(self, n: int) -> Any:
        return [{"role": r, "content": history_text(i)} for i, r in enumerate(history_roles(n))]

    def call_history(self, history: Any) -> str:
        r = self.client.post(self.url, json=self._payload("bench-call", False, history))
        r.raise_for_status()
        return self._text(r.json())


class LangChainRunner(Runner):
    """A LangChain ``BaseChatModel``, used through its public Runnable API."""

    def __init__(self, name: str, make: Callable[[str, bool], Any]) -> None:
        self.name = name
        self.make = make
        self._models: dict[tuple[str, bool], Any] = {}
        self._bound: Any = None

    def model(self, model: str, aiohttp: bool = False) -> Any:
        key = (model, aiohttp)
        if key not in self._models:
            self._models[key] = self.make(model, aiohttp)
        return self._models[key]

    def call(self) -> str:
        return str(self.model("bench-call").invoke(PROMPT).content)

    async def acall(self) -> str:
        return str((await self.model("bench-call").ainvoke(PROMPT)).content)

    def stream(self, model: str) -> Iterator[str]:
        for chunk in self.model(model).stream(PROMPT):
            c = chunk.content
            yield c if isinstance(c, str) else chunk.text

    async def astream(self, model: str, aiohttp: bool = False) -> AsyncIterator[str]:
        async for chunk in self.model(model, aiohttp).astream(PROMPT):
            c = chunk.content
            yield c if isinstance(c, str) else chunk.text

    def tool(self) -> dict[str, Any]:
        if self._bound is None:
            self._bound = self.model("bench-tool").bind_tools([TOOL_SCHEMA])
        full = None
        for chunk in self._bound.stream(PROMPT):
            full = chunk if full is None else full + chunk
        assert full is not None
        return dict(full.tool_calls[0]["args"])

    async def abatch(self, n: int, concurrency: int, aiohttp: bool) -> list[str]:
        llm = self.model("bench-call", aiohttp)
        out = await llm.abatch([PROMPT] * n, config={"max_concurrency": concurrency})
        return [str(m.content) for m in out]

    def make_history(self, n: int) -> Any:
        from langchain_core.messages import AIMessage, HumanMessage

        cls = {"user": HumanMessage, "assistant": AIMessage}
        return [cls[r](content=history_text(i)) for i, r in enumerate(history_roles(n))]

    def call_history(self, history: Any) -> str:
        return str(self.model("bench-call").invoke(history).content)


class BudgetedRunner(LangChainRunner):
    """A LangChain runner with a budget open around every operation, the way a user caps
    spend (``with get_modelslab_callback(budget=...) as cb:``); each block must have counted
    the answers it ran (else the budget measured nothing)."""

    def __init__(self, name: str, make: Callable[[str, bool], Any], budget: Any) -> None:
        super().__init__(name, make)
        self.budget = budget

    @contextlib.contextmanager
    def _open(self, answers: int = 1) -> Iterator[None]:
        with self.budget() as cb:
            yield
        if cb.successful_requests < answers or not cb.total_cost > 0:
            raise AssertionError(f"the budget counted {cb!r}, want {answers} priced answers")

    def call(self) -> str:
        with self._open():
            return super().call()

    async def acall(self) -> str:
        with self._open():
            return await super().acall()

    def stream(self, model: str) -> Iterator[str]:
        with self._open():
            yield from super().stream(model)

    async def astream(self, model: str, aiohttp: bool = False) -> AsyncIterator[str]:
        with self._open():
            async for piece in super().astream(model, aiohttp):
                yield piece

    def tool(self) -> dict[str, Any]:
        with self._open():
            return super().tool()

    async def abatch(self, n: int, concurrency: int, aiohttp: bool) -> list[str]:
        with self._open(n):
            return await super().abatch(n, concurrency, aiohttp)

    def call_history(self, history: Any) -> str:
        with self._open():
            return super().call_history(history)


def get_weather(location: str, unit: str, days: int, include_hourly: bool, notes: str) -> str:
    """Get the weather forecast for a place."""
    return f"{location}: sunny"


class LlamaIndexRunner(Runner):
    """A LlamaIndex ``FunctionCallingLLM``, used through its public chat API."""

    def __init__(self, name: str, make: Callable[[str, bool], Any]) -> None:
        from llama_index.core.llms import ChatMessage
        from llama_index.core.tools import FunctionTool

        self.name = name
        self.make = make
        self.msg = ChatMessage
        self.prompt = [ChatMessage(role="user", content=PROMPT)]
        self.tools = [FunctionTool.from_defaults(fn=get_weather)]
        self._models: dict[tuple[str, bool], Any] = {}

    def model(self, model: str, aiohttp: bool = False) -> Any:
        key = (model, aiohttp)
        if key not in self._models:
            self._models[key] = self.make(model, aiohttp)
        return self._models[key]

    def call(self) -> str:
        return str(self.model("bench-call").chat(self.prompt).message.content)

    async def acall(self) -> str:
        return str((await self.model("bench-call").achat(self.prompt)).message.content)

    def stream(self, model: str) -> Iterator[str]:
        for r in self.model(model).stream_chat(self.prompt):
            yield r.delta or ""

    async def astream(self, model: str, aiohttp: bool = False) -> AsyncIterator[str]:
        gen = await self.model(model, aiohttp).astream_chat(self.prompt)
        async for r in gen:
            yield r.delta or ""

    def tool(self) -> dict[str, Any]:
        llm = self.model("bench-tool")
        last = None
        for r in llm.stream_chat_with_tools(self.tools, chat_history=list(self.prompt)):
            last = r
        calls = llm.get_tool_calls_from_response(last, error_on_no_tool_call=True)
        return dict(calls[0].tool_kwargs)

    async def abatch(self, n: int, concurrency: int, aiohttp: bool) -> list[str]:
        llm = self.model("bench-call", aiohttp)

        async def one() -> str:
            return str((await llm.achat(self.prompt)).message.content)

        return await gather_limited(one, n, concurrency)

    def make_history(self, n: int) -> Any:
        return [self.msg(role=r, content=history_text(i)) for i, r in enumerate(history_roles(n))]

    def call_history(self, history: Any) -> str:
        return str(self.model("bench-call").chat(history).message.content)


def _chat_openai(base: str) -> Runner:
    from langchain_openai import ChatOpenAI

    def make(model: str, aiohttp: bool) -> Any:
        extra = {"http_async_client": aiohttp_client()} if aiohttp else {}
        return ChatOpenAI(model=model, base_url=base, api_key=API_KEY, max_retries=0, **extra)

    return LangChainRunner("ChatOpenAI", make)


def _chat_modelslab(base: str, dialect: str, budget: bool = False) -> Runner:
    try:
        from langchain_modelslab import ChatModelsLab, get_modelslab_callback
        from modelslab_core import ModelPricing
    except ImportError as exc:
        raise SkipClient(f"langchain_modelslab.ChatModelsLab not importable: {exc}") from exc

    def make(model: str, aiohttp: bool) -> Any:
        extra = {aiohttp_param(ChatModelsLab): aiohttp_client()} if aiohttp else {}
        if budget:  # a budget needs the model's price and a bound on the answer's length
            extra |= {"pricing": ModelPricing.per_million("0.05", "0.35"), "max_tokens": 1024}
        return ChatModelsLab(
            model=model,
            base_url=base,
            api_key=API_KEY,
            dialect=dialect,
            max_in_flight=None,
            max_retries=0,
            **extra,
        )

    suffix = "" if dialect == "openai" else "-anthropic"
    if budget:
        return BudgetedRunner(
            f"ChatModelsLab{suffix}+budget", make, lambda: get_modelslab_callback(budget="1000")
        )
    return LangChainRunner("ChatModelsLab" + suffix, make)


def _openai_like(base: str) -> Runner:
    from llama_index.llms.openai_like import OpenAILike

    def make(model: str, aiohttp: bool) -> Any:
        extra = {"async_http_client": aiohttp_client()} if aiohttp else {}
        return OpenAILike(
            model=model,
            api_base=base,
            api_key=API_KEY,
            is_chat_model=True,
            is_function_calling_model=True,
            context_window=128_000,
            max_retries=0,
            **extra,
        )

    return LlamaIndexRunner("OpenAILike", make)


def _modelslab(base: str, dialect: str) -> Runner:
    try:
        from llama_index_modelslab import ModelsLab
    except ImportError as exc:
        raise SkipClient(f"llama_index_modelslab.ModelsLab not importable: {exc}") from exc

    def make(model: str, aiohttp: bool) -> Any:
        extra = {"async_http_client": aiohttp_client()} if aiohttp else {}
        return ModelsLab(
            model=model,
            api_base=base,
            api_key=API_KEY,
            dialect=dialect,
            max_in_flight=None,
            max_retries=0,
            **extra,
        )

    suffix = "" if dialect == "openai" else "-anthropic"
    return LlamaIndexRunner("ModelsLab" + suffix, make)


RUNNERS: dict[str, Callable[[str], Runner]] = {
    "raw-httpx": lambda base: RawHttpx(base, "openai"),
    "raw-httpx-anthropic": lambda base: RawHttpx(base, "anthropic"),
    "ChatOpenAI": _chat_openai,
    "ChatModelsLab": lambda base: _chat_modelslab(base, "openai"),
    "ChatModelsLab-anthropic": lambda base: _chat_modelslab(base, "anthropic"),
    "ChatModelsLab+budget": lambda base: _chat_modelslab(base, "openai", budget=True),
    "OpenAILike": _openai_like,
    "ModelsLab": lambda base: _modelslab(base, "openai"),
    "ModelsLab-anthropic": lambda base: _modelslab(base, "anthropic"),
}


def make_runner(name: str, base_url: str) -> Runner:
    """Build the runner ``name`` against ``base_url``; raises `SkipClient` when it can't."""
    runner = RUNNERS[name](base_url)
    runner.name = name
    return runner
