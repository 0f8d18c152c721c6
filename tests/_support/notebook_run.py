"""Running a tutorial notebook the way a reader does, and watching it from outside.

The notebooks are tutorials: their cells hold no checks. A test runs a notebook here on one
kernel (testbook over nbclient), section by section (a section is the cells under one markdown
heading), and then asserts on what the section left in the kernel (`NotebookRun.value`), on what
it printed (`NotebookRun.output`) and on what it sent: the kernel's ``MODELSLAB_BASE_URL``
points at a `RecordingProxy` in front of the real server, which keeps every request body.
"""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from _local import prompt_text
from markdown_it import MarkdownIt
from testbook import testbook

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT = 600
"""Seconds one cell may take (a slow CPU model under load)."""

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host"}


@dataclass(frozen=True)
class Request:
    """One request the notebook sent: its path below the host, and its JSON body."""

    method: str
    path: str
    body: Any = field(repr=False)

    def text(self) -> str:
        """Every string of the system prompt and messages: what the model read."""
        return prompt_text(self.body)


class RecordingProxy:
    """A reverse proxy on 127.0.0.1 in front of ``upstream`` (a base URL) that records every
    request and streams every answer back as it arrives. ``base_url`` has upstream's path."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.requests: list[Request] = []
        self._client = httpx.Client(timeout=None)
        handler = type("Handler", (_Forward,), {"proxy": self})
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}{parts.path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def forward(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        """Record the request, send it upstream and copy the answer back chunk by chunk."""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.requests.append(Request(handler.command, handler.path, parsed))
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        outgoing = self._client.build_request(
            handler.command, self._origin + handler.path, headers=headers, content=body
        )
        answer = self._client.send(outgoing, stream=True)
        try:
            handler.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    handler.send_header(name, value)
            handler.send_header("Connection", "close")  # the body ends when the socket closes
            handler.end_headers()
            for chunk in answer.iter_raw():
                handler.wfile.write(chunk)
                handler.wfile.flush()
        finally:
            answer.close()


class _Forward(http.server.BaseHTTPRequestHandler):
    proxy: RecordingProxy

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.proxy.forward(self, self.rfile.read(length) if length else b"")

    do_GET = do_POST = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the requests are in ``proxy.requests``."""


def headings(markdown: str) -> list[str]:
    """The texts of a markdown cell's headings, in order."""
    tokens = MarkdownIt().parse(markdown)
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def _cell_headings(cell: Any) -> list[str]:
    return headings(cell.source) if cell.cell_type == "markdown" else []


class NotebookRun:
    """One notebook on one kernel, run in order, a section at a time."""

    def __init__(self, tb: Any, proxy: RecordingProxy | None) -> None:
        self.tb = tb
        self.proxy = proxy
        self.next_cell = 0
        self.ran: dict[str, list[int]] = {}
        self.sent: dict[str, list[Request]] = {}

    def _section_end(self, heading: str) -> int:
        """The index just past the last cell of the section under ``heading``."""
        found = [_cell_headings(c) for c in self.tb.nb.cells]
        starts = [i for i, names in enumerate(found) if heading in names]
        if not starts:
            raise LookupError(f"no section {heading!r}: {[n for names in found for n in names]}")
        later = [i for i in range(starts[0] + 1, len(found)) if found[i]]
        return later[0] if later else len(found)

    def run_through(self, heading: str | None) -> list[Request]:
        """Run every cell not yet run up to the end of ``heading``'s section (None: to the
        end); return the requests the section's own cells sent."""
        end = len(self.tb.nb.cells) if heading is None else self._section_end(heading)
        section = "(start)"
        for index in range(self.next_cell, end):
            cell = self.tb.nb.cells[index]
            if cell.cell_type == "markdown":
                section = ([section, *_cell_headings(cell)])[-1]
                continue
            before = len(self.proxy.requests) if self.proxy else 0
            self.tb.execute_cell(index)
            self.ran.setdefault(section, []).append(index)
            if self.proxy:
                self.sent.setdefault(section, []).extend(self.proxy.requests[before:])
        self.next_cell = max(self.next_cell, end)
        return self.sent.get(heading or section, [])

    def value(self, expression: str) -> Any:
        """The JSON value of ``expression`` evaluated in the kernel."""
        return self.tb.value(expression)

    def output(self, heading: str) -> str:
        """Everything the cells of ``heading``'s section printed (streams and results)."""
        texts = []
        for index in self.ran.get(heading, []):
            for out in self.tb.nb.cells[index].get("outputs", []):
                if out.output_type == "stream":
                    texts.append(out.text)
                elif out.output_type in ("execute_result", "display_data"):
                    texts.append(out.get("data", {}).get("text/plain", ""))
        return "".join(texts)

    def errors(self) -> list[str]:
        """The errors shown by the cells run (``"ename: evalue"``)."""
        outputs = [o for c in self.tb.nb.cells for o in c.get("outputs", [])]
        return [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]

    def all_outputs(self) -> str:
        """Every output of every cell run, as one string (to look for what must not be there)."""
        return json.dumps([c.get("outputs", []) for c in self.tb.nb.cells if "outputs" in c])


@contextmanager
def notebook(
    name: str, env: dict[str, str | None], proxy: RecordingProxy | None = None
) -> Iterator[NotebookRun]:
    """Start a kernel for ``notebooks/<name>.ipynb`` with ``env`` set (a None value: unset),
    cwd notebooks/, as a reader's Jupyter would."""
    saved = dict(os.environ)
    for key, value in env.items():  # the kernel inherits this process's environment
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        where = {"metadata": {"path": str(NOTEBOOK_DIR)}}
        book = testbook(str(path), timeout=CELL_TIMEOUT, resources=where, coalesce_streams=True)
        with book as tb:
            yield NotebookRun(tb, proxy)
    finally:
        os.environ.clear()
        os.environ.update(saved)
