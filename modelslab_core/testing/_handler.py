"""The request handler of the stand-in: reads a request, applies faults, writes bytes."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from ._faults import Fault, Reply
from ._render import (
    SseEvent,
    anthropic_body,
    anthropic_events,
    models_body,
    openai_body,
    openai_events,
)
from ._replies import make_id, plan_reply
from ._validate import validate_anthropic, validate_count_tokens, validate_openai
from ._view import view_anthropic, view_openai

if TYPE_CHECKING:
    from ._server import StandIn

__all__ = ["DEFAULT_MODELS", "PREFIX", "Abort", "Handler", "RecordedRequest", "shutdown_socket"]

DEFAULT_MODELS = (
    "meta-llama-llama-3.2-3b-instruct",
    "meta-llama-llama-3.1-8b-instruct",
    "qwen-qwen2.5-7b-instruct",
    "mistralai-mistral-7b-instruct",
)
PREFIX = "/api/v7/llm"
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
_SECRET_HEADERS = ("authorization", "x-api-key")
_ROUTES = {
    ("POST", "/chat/completions"): "openai",
    ("POST", "/v1/messages"): "anthropic",
    ("POST", "/v1/messages/count_tokens"): "count_tokens",
    ("GET", "/v1/models"): "models",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stand-in received it (``path`` from the server root)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes = field(repr=False)

    def __repr__(self) -> str:
        """Repr without secret headers or the body."""
        shown = {k: ("***" if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return f"RecordedRequest(method={self.method!r}, path={self.path!r}, headers={shown!r})"


class Abort(Exception):
    """Internal: stop handling and cut the connection."""


def shutdown_socket(conn: socket.socket) -> None:
    """Shut a socket down both ways, ignoring errors."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


def error_body(route: str, status: int, message: str, err_type: str) -> dict[str, Any]:
    """An error body in the route's dialect."""
    if route in ("anthropic", "count_tokens"):
        return {"type": "error", "error": {"type": err_type, "message": message}}
    return {"error": {"message": message, "type": err_type, "code": str(status)}}


def auth_problem(route: str, headers: dict[str, str], body: Any, key: str) -> str | None:
    """``None`` when the request carries ``key`` the way ``route`` accepts, else a message."""
    offered: list[str] = []
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        offered.append(auth[7:].strip())
    if route != "openai" and "x-api-key" in headers:
        offered.append(headers["x-api-key"])
    if route == "openai" and isinstance(body, dict) and isinstance(body.get("key"), str):
        offered.append(body["key"])
    if not offered:
        return "Missing API key. Pass it as 'Authorization: Bearer <key>'."
    return None if key in offered else "Invalid API key provided."


def _frame(name: str | None, data: str) -> bytes:
    """One SSE event."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {data}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    """Serves one connection (keep-alive) of the stand-in."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE writes must not wait for delayed ACKs
    server_version = "ModelsLabStandIn/1.0"
    sys_version = ""

    @property
    def standin(self) -> StandIn:
        """The owning stand-in."""
        return self.server.standin  # type: ignore[attr-defined,no-any-return]

    def setup(self) -> None:
        super().setup()
        self.standin._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.standin._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: never log requests (they carry the key)."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    # -- reading ---------------------------------------------------------------------------
    def _stall(self, seconds: float) -> None:
        """Go silent for ``seconds``; give up early if the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if self.standin._stopping.is_set():
                raise Abort
            if readable:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    raise Abort
                self.standin._sleep(deadline - time.monotonic())
                return

    def _read_body(self) -> bytes:
        """The request body (Content-Length or chunked)."""
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        """Record, admit, dispatch; cut the connection on ``Abort`` or a socket error."""
        raw = self._read_body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = RecordedRequest(self.command, self.path, headers, parsed, raw)
        admitted, seq, step, self._epoch = self.standin._admit(record)
        self._counted = True
        try:
            if admitted:
                self._dispatch(record, seq, step)
            else:
                self._reject()
        except (Abort, OSError):
            self.close_connection = True
            shutdown_socket(self.connection)
        finally:
            self._done()

    def _done(self) -> None:
        """The request leaves the in-flight count, once: before the last bytes are written,
        as a server finishes a request before its client reads the end (a client that starts
        its next request at once must not find this one still counted)."""
        if self._counted:
            self._counted = False
            self.standin._release(self._epoch)

    # -- dispatch --------------------------------------------------------------------------
    def _reject(self) -> None:
        """ModelsLab's 429 for a request past the in-flight cap."""
        cap = self.standin.max_in_flight
        body = {
            "status": "error",
            "retry_after": self.standin.reject_retry_after,
            "message": f"Rate limit exceeded: your plan allows {cap} requests in flight.",
        }
        self._send_json(429, body)

    def _dispatch(self, rec: RecordedRequest, seq: int, step: Fault | Reply | None) -> None:
        """Answer one admitted request."""
        fault = step if isinstance(step, Fault) else None
        reply = step if isinstance(step, Reply) else None
        if fault is not None and self._early_fault(fault):
            return
        path = rec.path.split("?", 1)[0]
        route = _ROUTES.get((rec.method, path[len(PREFIX) :])) if path.startswith(PREFIX) else None
        if route is None:
            self._error("openai", 404, f"No route for {rec.method} {path}", "not_found_error")
            return
        problem = auth_problem(route, rec.headers, rec.json, self.standin.api_key)
        if problem is not None:
            self._error(route, 401, problem, "authentication_error")
            return
        if route == "models":
            details = self.standin.model_details
            self._send_json(200, models_body(self.standin.models, int(time.time()), details))
            return
        if not isinstance(rec.json, dict):
            self._error(
                route, 400, "The request body must be a JSON object.", "invalid_request_error"
            )
            return
        self._answer(route, rec, seq, fault, reply)

    def _early_fault(self, fault: Fault) -> bool:
        """Faults that replace the whole response; True when one was applied."""
        if fault.kind == "stall" and fault.after_events == 0:
            self._stall(fault.seconds)
            return False
        if fault.kind == "status":
            self._send_json(fault.code, fault.body, fault.headers)
        elif fault.kind == "cut_before_headers":
            raise Abort
        elif fault.kind == "malformed_json":
            self._send_bytes(200, b'{"id": "gen-', "application/json")
        else:
            return False
        return True

    def _answer(
        self, route: str, rec: RecordedRequest, seq: int, fault: Fault | None, reply: Reply | None
    ) -> None:
        """Validate and answer a chat or count_tokens request."""
        body: dict[str, Any] = rec.json
        check = {
            "openai": validate_openai,
            "anthropic": validate_anthropic,
            "count_tokens": validate_count_tokens,
        }[route]
        problem = check(body)
        if problem is not None:
            self._error(route, problem[0], problem[1], "invalid_request_error")
            return
        view = view_openai(body) if route == "openai" else view_anthropic(body)
        models = self.standin.models
        asked = [str(body[k]) for k in ("model", "model_id") if body.get(k)]
        unknown = [m for m in asked if m not in models]
        if unknown:
            self._error(route, 404, f"Model '{unknown[0]}' not found.", "not_found_error")
            return
        if route == "count_tokens":
            self._send_json(200, {"input_tokens": view.prompt_tokens})
            return
        model = asked[0] if asked else models[0]
        seed = f"{seq}:{rec.body.decode('utf-8', 'replace')}"
        plan = plan_reply(view, seed, reply)
        self.standin._bill(self._epoch, model, plan, fault, view.stream)
        created = int(time.time())
        if route == "openai":
            rid = make_id("gen-", seed)
            if view.stream:
                self._stream(
                    route,
                    openai_events(
                        plan,
                        rid=rid,
                        model=model,
                        created=created,
                        include_usage=view.include_usage,
                    ),
                    fault,
                )
            else:
                self._send_body(openai_body(plan, rid=rid, model=model, created=created), fault)
        else:
            rid = make_id("msg_", seed)
            if view.stream:
                self._stream(route, anthropic_events(plan, rid=rid, model=model), fault)
            else:
                self._send_body(anthropic_body(plan, rid=rid, model=model), fault)

    # -- writing ---------------------------------------------------------------------------
    def _error(self, route: str, status: int, message: str, err_type: str) -> None:
        self._send_json(status, error_body(route, status, message, err_type))

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, data, "application/json", headers)

    def _send_bytes(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", make_id("req_", f"{id(self)}{time.time()}"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self._done()
        self.wfile.write(data)

    def _start_chunked(self, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", make_id("req_", f"{id(self)}{time.time()}"))
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _end_chunked(self) -> None:
        self._done()
        self.wfile.write(b"0\r\n\r\n")

    def _send_body(self, body: dict[str, Any], fault: Fault | None) -> None:
        """A JSON answer, or its fault-shaped variant."""
        kind = fault.kind if fault else None
        if kind == "error_mid_stream":
            assert fault is not None
            self._send_json(200, {"status": "error", "message": fault.message})
        elif kind == "malformed_sse":
            self._send_bytes(200, b'{"id": "gen-', "application/json")
        elif kind in ("cut_mid_stream", "stall") and fault is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self._start_chunked("application/json")
            self._chunk(data[: len(data) // 2])
            if kind == "cut_mid_stream":
                raise Abort
            self._stall(fault.seconds)
            self._chunk(data[len(data) // 2 :])
            self._end_chunked()
        else:
            self._send_json(200, body)

    def _stream(self, route: str, events: list[SseEvent], fault: Fault | None) -> None:
        """Write SSE events one chunk each, with keep-alives, delays and stream faults."""
        self._start_chunked("text/event-stream; charset=utf-8")
        self._chunk(KEEPALIVE)
        at = min(fault.after_events, len(events) - 1) if fault else -1
        every, delay = self.standin.keepalive_every, self.standin.chunk_delay
        for i, (name, data) in enumerate(events):
            if i == at and fault is not None and self._stream_fault(route, fault):
                return
            if i and delay:
                self.standin._sleep(delay)
            if i and every and i % every == 0:
                self._chunk(KEEPALIVE)
            self._chunk(_frame(name, data))
        self._end_chunked()

    def _stream_fault(self, route: str, fault: Fault) -> bool:
        """Apply a fault inside a stream; True when the stream ends here."""
        if fault.kind == "cut_mid_stream":
            raise Abort
        if fault.kind == "stall":
            self._stall(fault.seconds)
            return False
        if fault.kind == "error_mid_stream":
            if route == "openai":
                payload: dict[str, Any] = {"status": "error", "message": fault.message}
                if fault.error_type:
                    payload["error"] = {"type": fault.error_type, "message": fault.message}
                self._chunk(_frame(None, json.dumps(payload)))
            else:
                err = {"type": fault.error_type or "api_error", "message": fault.message}
                self._chunk(_frame("error", json.dumps({"type": "error", "error": err})))
        elif fault.kind == "malformed_sse":
            self._chunk(b"data: {not json\n\n")
        else:
            return False
        self._end_chunked()
        return True
