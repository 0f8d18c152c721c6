"""JSON text that may be cut short: one scanner, and the lenient parse built on it.

`scan_json` walks a JSON text once, tracking strings, escapes and open brackets the way a JSON
parser does. Everything that needs to know "what is open at the end of this text" uses it:
`parse_partial_json` (mid-stream tool arguments, partial structured output) and LangChain's
`invalidating_suffix` (``langchain_modelslab``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["JsonScan", "close_json", "parse_partial_json", "scan_json"]

_CLOSER = {"{": "}", "[": "]"}
_TAIL_TRIMS = 7


@dataclass(slots=True)
class JsonScan:
    """What is open at the end of a JSON text, as `scan_json` found it."""

    open: list[str] = field(default_factory=list)
    """The brackets (``{`` / ``[``) still open, outermost first."""
    in_string: bool = False
    """The text ends inside a string."""
    escaped: bool = False
    """The text ends right after a backslash inside a string."""
    balanced: bool = True
    """False when a closing bracket does not match the innermost open one."""
    cuts: list[int] = field(default_factory=list)
    """Structural cut points outside strings: before each ``,``/``:``, after each ``{``/``[``."""


def scan_json(text: str) -> JsonScan:
    """Scan ``text`` once; stops at the first mismatched closer (``balanced=False``)."""
    scan = JsonScan()
    stack, cuts = scan.open, scan.cuts
    in_string = escaped = False
    for pos, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
            cuts.append(pos + 1)
        elif ch in "}]":
            if not stack or _CLOSER[stack[-1]] != ch:
                scan.balanced = False
                break
            stack.pop()
        elif ch in ",:":
            cuts.append(pos)
    scan.in_string, scan.escaped = in_string, escaped
    return scan


def close_json(text: str, scan: JsonScan | None = None) -> str | None:
    """``text`` with an open string and open brackets closed; ``None`` if brackets mismatch."""
    scan = scan_json(text) if scan is None else scan
    if not scan.balanced:
        return None
    if scan.in_string:
        text = (text[:-1] if scan.escaped else text) + '"'
    return text + "".join(_CLOSER[b] for b in reversed(scan.open))


def _cuts(text: str, scan: JsonScan) -> Iterator[int]:
    """Where to try cutting ``text``: whole, then a few trailing chars, then structural points."""
    end = len(text)
    yield from range(end, max(end - _TAIL_TRIMS, 0), -1)
    yield from reversed(scan.cuts)


def parse_partial_json(text: str) -> dict[str, Any] | None:
    """Parse a JSON object that may be cut short (mid-stream tool arguments).

    Open strings and brackets are closed; an incomplete trailing token (a half key, a bare
    ``:``, ``tru``) is dropped. Returns ``{}`` for empty text and ``None`` when no object can
    be recovered (or the text is not an object).
    """
    candidate = text.strip()
    if not candidate:
        return {}
    if candidate[0] != "{":
        return None
    for cut in _cuts(candidate, scan_json(candidate)):
        closed = close_json(candidate[:cut].rstrip())
        if closed is None:
            continue
        try:
            value = json.loads(closed)
        except ValueError:
            continue
        return value if isinstance(value, dict) else None
    return None
