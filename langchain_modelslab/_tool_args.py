"""The marker that keeps rejected streamed tool-call arguments invalid after chunks merge.

langchain-core turns merged ``tool_call_chunks`` into ``tool_calls`` with the lenient
``parse_partial_json``, which closes whatever is left open (``{"city": "Par`` would become the
valid ``{"city": "Par"}``). Appended to such arguments, `invalidating_suffix` makes that parse
return ``None``, so the merged call lands in ``invalid_tool_calls`` (see `_chunks`).
"""

from __future__ import annotations

from langchain_core.utils.json import parse_partial_json

from modelslab_core.partial_json import scan_json

__all__ = ["invalidating_suffix"]


def invalidating_suffix(text: str) -> str:
    """The shortest text after which langchain-core no longer reads ``text`` as a call's args.

    Empty when langchain-core already rejects ``text`` (``parse_partial_json`` gives no dict
    or fails), so such arguments merge unchanged. Otherwise (the core's `scan_json` tells what
    is open) the suffix closes an open string (completing a dangling backslash escape first),
    then adds a closing bracket that does not match the innermost open one (``]`` when it is
    ``{`` or nothing is open, else ``}``): a mismatched closer outside a string is malformed
    JSON, for which ``parse_partial_json`` returns ``None``.
    """
    try:
        lenient = parse_partial_json(text) if text else {}
    except Exception:  # langchain-core flags arguments it cannot parse as invalid itself
        return ""
    if not isinstance(lenient, dict):
        return ""
    scan = scan_json(text)
    if not scan.balanced:
        return ""
    quote = ('""' if scan.escaped else '"') if scan.in_string else ""
    return quote + ("}" if scan.open and scan.open[-1] == "[" else "]")
