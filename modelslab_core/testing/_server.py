"""The stand-in HTTP server: plumbing, auth, recording, in-flight limit and faults.

A real ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, daemon threads) on 127.0.0.1. Every
decision about *what* to answer lives in the pure modules (``_validate``, ``_view``,
``_replies``, ``_render``); this module only moves bytes.
"""

from __future__ import annotations

import collections
import socket
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from ._faults import Fault, Reply
from ._handler import DEFAULT_MODELS, PREFIX, Abort, Handler, RecordedRequest, shutdown_socket
from ._replies import Plan

__all__ = ["DEFAULT_MODELS", "Billed", "RecordedRequest", "StandIn"]


@dataclass(frozen=True)
class Billed:
    """What the stand-in bills for one chat answer: the whole planned answer, even when the
    client hangs up early or the connection breaks (as a server that finishes generating)."""

    model: str
    input_tokens: int
    output_tokens: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    standin: StandIn

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up; report real handler bugs."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class StandIn:
    """A local server speaking ModelsLab's LLM API, with scripted faults.

    Args:
        api_key: the key it accepts (Bearer, ``x-api-key``, or ``"key"`` in a
            ``/chat/completions`` body).
        max_in_flight: reject requests past this many concurrently in flight (429).
        chunk_delay: seconds between stream events.
        keepalive_every: send ``: OPENROUTER PROCESSING`` every N events (0: never).
        models: the model ids it serves.
        model_details: extra fields of their ``/v1/models`` entries, by model id (e.g.
            ``{"context_length": 4096, "pricing": {"prompt": "0.0000001", ...}}``, as
            OpenRouter-style routers list them); settable per test, reset by `reset`.
        reject_retry_after: ``retry_after`` of the in-flight rejection body.
        port: the port to bind on 127.0.0.1 (0: an ephemeral one).
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        max_in_flight: int | None = None,
        chunk_delay: float = 0.0,
        keepalive_every: int = 3,
        models: tuple[str, ...] | list[str] = DEFAULT_MODELS,
        reject_retry_after: float = 1,
        port: int = 0,
        model_details: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.api_key = api_key
        self._defaults = (max_in_flight, chunk_delay, keepalive_every)
        self.max_in_flight, self.chunk_delay, self.keepalive_every = self._defaults
        self.models = list(models)
        self._details = {m: dict(d) for m, d in (model_details or {}).items()}
        self.model_details: dict[str, dict[str, Any]] = dict(self._details)
        self.reject_retry_after = reject_retry_after
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._live: set[socket.socket] = set()
        self.in_flight = 0
        self._epoch = 0  # bumped by every reset: what earlier requests do no longer counts
        self._clear()

    def __repr__(self) -> str:
        return f"StandIn(base_url={self.base_url if self._server else None!r})"

    def _clear(self) -> None:
        """Forget queue, records and counters."""
        self._queue: collections.deque[Fault | Reply] = collections.deque()
        self._requests: list[RecordedRequest] = []
        self._billed: list[Billed] = []
        self._epoch += 1
        self._counted = 0  # in flight and admitted since the last reset (what the cap sees)
        self.max_in_flight_seen = 0
        self.rejected = 0
        self.connections_opened = 0
        self._seq = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> StandIn:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", self._port), Handler)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="modelslab-standin",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake stalled handlers and close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            live, self._live = list(self._live), set()
        for conn in live:
            shutdown_socket(conn)
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- public state ----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("StandIn is not started")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v7/llm``."""
        return self.root_url + PREFIX

    def enqueue(self, *steps: Fault | Reply) -> None:
        """Script the next requests, one step each, in order."""
        for step in steps:
            if not isinstance(step, (Fault, Reply)):
                raise TypeError(f"expected Fault or Reply, got {type(step).__name__}")
        with self._lock:
            self._queue.extend(steps)

    @property
    def pending(self) -> int:
        """Steps not consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset."""
        with self._lock:
            return list(self._requests)

    @property
    def billed(self) -> list[Billed]:
        """What it would bill since the last reset: one entry per chat answer it started
        (scripted faults before the answer, error statuses and rejections are not billed)."""
        with self._lock:
            return list(self._billed)

    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recent request."""
        with self._lock:
            return self._requests[-1] if self._requests else None

    def reset(self) -> None:
        """Clear queue, records and counters; restore the constructor's settings.

        ``in_flight`` is a live gauge and is kept (requests of an earlier test may still run),
        but from here on those requests count nowhere else: not in ``max_in_flight_seen``, not
        against ``max_in_flight``, not in the records, even if they end only later.
        """
        with self._lock:
            self._clear()
            self.max_in_flight, self.chunk_delay, self.keepalive_every = self._defaults
            self.model_details = dict(self._details)

    # -- used by the handler ---------------------------------------------------------------
    def _opened(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections_opened += 1
            self._live.add(conn)

    def _closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._live.discard(conn)

    def _admit(self, record: RecordedRequest) -> tuple[bool, int, Fault | Reply | None, int]:
        """Record a request, count it in flight; (admitted, seq, scripted step, epoch)."""
        with self._lock:
            self._requests.append(record)
            self.in_flight += 1
            self._counted += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self._counted)
            self._seq += 1
            cap = self.max_in_flight
            if cap is not None and self._counted > cap:
                self.rejected += 1
                return False, self._seq, None, self._epoch
            step = self._queue.popleft() if self._queue else None
            return True, self._seq, step, self._epoch

    def _bill(self, epoch: int, model: str, plan: Plan, fault: Fault | None, stream: bool) -> None:
        """Record what a chat answer of ``epoch`` bills: its whole planned usage, unless a
        scripted error replaces the answer before any of it is sent."""
        before_any = not stream or (fault is not None and fault.after_events == 0)
        if fault is not None and fault.kind == "error_mid_stream" and before_any:
            return
        with self._lock:
            if epoch == self._epoch:
                self._billed.append(Billed(model, plan.prompt_tokens, plan.completion_tokens))

    def _release(self, epoch: int) -> None:
        """A request admitted in ``epoch`` leaves the in-flight count."""
        with self._lock:
            self.in_flight -= 1
            if epoch == self._epoch:
                self._counted -= 1

    def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the server stops."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise Abort
