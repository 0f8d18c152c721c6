"""Where the demo sends its requests: ModelsLab itself, or a local model (and helpers the
real-model tests share). The notebooks do not use this module: they are configured by the
``MODELSLAB_*`` variables alone.

- ``MODELSLAB_API_KEY`` set: that key, ``MODELSLAB_BASE_URL`` (default: ModelsLab's v7 LLM API)
  and ``MODELSLAB_MODEL`` (default ``meta-llama-llama-3.2-3b-instruct``). The tests point the
  demo at an already running local server this way.
- otherwise: the local llama.cpp server of ``scripts/llama_server.py`` (Qwen2.5-Coder-0.5B-Instruct
  speaking ModelsLab's wire format), started here unless it already runs, and held for this
  process (a lease): it stops when the last run holding it lets go, never under another run.

Usage::

    import _local
    endpoint = _local.connect()          # prints where requests go
    llm = ChatModelsLab(**endpoint.langchain_kwargs(max_tokens=64))
    ...
    _local.disconnect(endpoint)          # releases this process's hold on the local server

On the local server every answer is greedy (``langchain_kwargs``, ``llama_index_kwargs``: temperature 0, a fixed
seed) on a server with one slot and no prompt cache, so a run gives the same outputs every
time and its checks can be exact.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR",
    "DEFAULT_REMOTE_MODEL",
    "Endpoint",
    "UsageMeter",
    "WireLog",
    "connect",
    "disconnect",
    "load_documents",
    "prompt_text",
    "release",
]

ROOT = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = ROOT / "scripts" / "llama_server.py"
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_REMOTE_MODEL = "meta-llama-llama-3.2-3b-instruct"
DEFAULT_REMOTE_BASE = "https://modelslab.com/api/v7/llm"
SEED = 42


@dataclass(frozen=True)
class Endpoint:
    """One place to send chat requests. The key is left out of the repr."""

    base_url: str
    api_key: str = field(repr=False)
    model: str
    local: bool
    started: bool = False
    startup_seconds: float | None = None

    def describe(self) -> str:
        """One line saying where requests go (never the key)."""
        if not self.local:
            where = "ModelsLab" if self.base_url == DEFAULT_REMOTE_BASE else "server"
            return f"{where} at {self.base_url} (from MODELSLAB_*), model {self.model}"
        how = f"started in {self.startup_seconds} s" if self.started else "already running"
        return f"local llama.cpp server at {self.base_url} ({how}), model {self.model}"

    def langchain_kwargs(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``ChatModelsLab``: greedy, a fixed seed, then ``extra``."""
        where = {"model": self.model, "api_key": self.api_key, "base_url": self.base_url}
        return {**where, "temperature": 0.0, "seed": SEED, **extra}

    def llama_index_kwargs(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``llama_index_modelslab.ModelsLab``: greedy, a fixed seed,
        then ``extra``."""
        where = {"model": self.model, "api_key": self.api_key, "api_base": self.base_url}
        sampling = {"temperature": 0.0, "additional_kwargs": {"seed": SEED}}
        return {**where, **sampling, **extra}


def endpoint_from_env(env: dict[str, str] | os._Environ[str]) -> Endpoint | None:
    """The remote endpoint the environment names, or None when no key is set."""
    key = env.get("MODELSLAB_API_KEY")
    if not key:
        return None
    base = env.get("MODELSLAB_BASE_URL") or DEFAULT_REMOTE_BASE
    model = env.get("MODELSLAB_MODEL") or DEFAULT_REMOTE_MODEL
    return Endpoint(base_url=base, api_key=key, model=model, local=False)


def endpoint_from_state(state: dict[str, Any]) -> Endpoint:
    """The endpoint of the local server from ``llama_server.py start --json``'s state."""
    return Endpoint(
        base_url=str(state["base_url"]),
        api_key=str(state["api_key"]),
        model=str(state["model"]),
        local=True,
        started=bool(state.get("started", False)),
        startup_seconds=state.get("startup_seconds"),
    )


def start_local_server() -> Endpoint:
    """Start (or reuse) the local server, held for this process; its progress (first build,
    model) goes to stderr."""
    proc = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "start", "--json", "--lease", str(os.getpid())],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"could not start the local llama.cpp server ({SERVER_SCRIPT.name} start failed, "
            "see the messages above); or set MODELSLAB_API_KEY to use ModelsLab itself"
        )
    return endpoint_from_state(json.loads(proc.stdout.strip().splitlines()[-1]))


def connect(quiet: bool = False) -> Endpoint:
    """ModelsLab when ``MODELSLAB_API_KEY`` is set, else the local server (started if needed,
    and held for this process until `disconnect`, or its exit)."""
    endpoint = endpoint_from_env(os.environ) or start_local_server()
    if endpoint.local:
        atexit.register(disconnect, endpoint)
    if not quiet:
        print(f"Using the {endpoint.describe()}")
    return endpoint


def disconnect(endpoint: Endpoint) -> None:
    """Release this process's hold on the local server: it stops only if no other run holds
    it (idempotent)."""
    release(endpoint)


def release(endpoint: Endpoint) -> dict[str, Any]:
    """`disconnect`, saying what happened: ``{"running", "stopped", "holders"}`` as
    ``llama_server.py stop --json`` prints it."""
    if not endpoint.local:
        return {"running": False, "stopped": False, "holders": []}
    proc = subprocess.run(
        [sys.executable, str(SERVER_SCRIPT), "stop", "--json", "--lease", str(os.getpid())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=False,
    )
    try:
        outcome: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"running": None, "stopped": False, "holders": []}
    return outcome


def load_documents() -> list[Any]:
    """The bundled Markdown documents (``notebooks/data/*.md``) as LlamaIndex ``Document``s."""
    from llama_index.core import Document

    return [
        Document(text=path.read_text(encoding="utf-8"), metadata={"file_name": path.name})
        for path in sorted(DATA_DIR.glob("*.md"))
    ]


@dataclass
class UsageMeter:
    """Adds up the token usage of every LlamaIndex LLM call (through its instrumentation)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _handler: Any = field(default=None, repr=False)

    def install(self) -> UsageMeter:
        """Listen to LlamaIndex's LLM events from now on."""
        from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
        from llama_index.core.instrumentation.event_handlers import BaseEventHandler

        meter = self

        class _Handler(BaseEventHandler):
            @classmethod
            def class_name(cls) -> str:
                return "UsageMeter"

            def handle(self, event: Any, **kwargs: Any) -> None:
                meter.observe(event)

        self._handler = _Handler()
        get_dispatcher().add_event_handler(self._handler)
        return self

    def uninstall(self) -> None:
        """Stop listening."""
        from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]

        handlers = get_dispatcher().event_handlers
        if self._handler in handlers:
            handlers.remove(self._handler)

    def observe(self, event: Any) -> None:
        """Count the usage of an ``LLMChatEndEvent`` / ``LLMCompletionEndEvent``."""
        if type(event).__name__ not in ("LLMChatEndEvent", "LLMCompletionEndEvent"):
            return
        response = getattr(event, "response", None)
        usage = getattr(response, "additional_kwargs", None) or {}
        if "prompt_tokens" not in usage:
            return
        self.calls += 1
        self.prompt_tokens += int(usage.get("prompt_tokens", 0))
        self.completion_tokens += int(usage.get("completion_tokens", 0))

    def reset(self) -> None:
        """Start counting from zero."""
        self.calls = self.prompt_tokens = self.completion_tokens = 0

    def __str__(self) -> str:
        return (
            f"{self.calls} LLM call(s): {self.prompt_tokens} prompt + "
            f"{self.completion_tokens} completion tokens"
        )


class WireLog:
    """httpx clients (sync and async) that keep the JSON body of every request they send: give
    them to a model (``http_client=``, ``http_async_client=`` / ``async_http_client=``) to see
    exactly what reached the server."""

    def __init__(self) -> None:
        import httpx

        self.bodies: list[dict[str, Any]] = []
        self.client = httpx.Client(event_hooks={"request": [self._record]})
        self.async_client = httpx.AsyncClient(event_hooks={"request": [self._arecord]})

    def _record(self, request: Any) -> None:
        if request.method == "POST":
            self.bodies.append(json.loads(request.content))

    async def _arecord(self, request: Any) -> None:
        self._record(request)

    def text(self, index: int = -1) -> str:
        """Every string of one request's system prompt and messages (what the model read)."""
        return prompt_text(self.bodies[index])

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        self.bodies.clear()


def prompt_text(body: Any) -> str:
    """Every string of a request body's system prompt and messages: what the model read."""
    body = body if isinstance(body, dict) else {}
    return "\n".join(_strings([body.get("system"), body.get("messages")]))


def _strings(value: Any) -> list[str]:
    """The string leaves of a JSON value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
