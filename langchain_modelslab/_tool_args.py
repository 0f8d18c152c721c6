"""The marker that keeps rejected streamed tool-call arguments invalid after chunks merge.

langchain-core turns merged ``tool_call_chunks`` into ``tool_calls`` with the lenient
``parse_partial_json``, which closes whatever is left open (``{"city": "Par`` would become the
valid ``{"city": "Par"}``). Appended to such arguments, `invalidating_suffix` makes that parse
return ``None``, so the merged call lands in ``invalid_tool_calls`` (see `_stream`).
"""

from __future__ import annotations

from langchain_core.utils.json import parse_partial_json

__all__ = ["invalidating_suffix"]

_CLOSER = {"{": "}", "[": "]"}


def invalidating_suffix(text: str) -> str:
    """The shortest text after which langchain-core no longer reads ``text`` as a call's args.

    Empty when langchain-core already rejects ``text`` (``parse_partial_json`` gives no dict
    or fails), so such arguments merge unchanged. Otherwise ``text`` is scanned the way
    ``parse_partial_json`` does; the suffix closes an open string (completing a dangling
    backslash escape first), then adds a closing bracket that does not match the innermost
    open one (``]`` when it is ``{`` or nothing is open, else ``}``): a mismatched closer
    outside a string is malformed JSON, for which ``parse_partial_json`` returns ``None``.
    """
    try:
        lenient = parse_partial_json(text) if text else {}
    except Exception:  # langchain-core flags arguments it cannot parse as invalid itself
        return ""
    if not isinstance(lenient, dict):
        return ""
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if char == '"' and not escaped:
                in_string = False
            elif char == "\\":
                escaped = not escaped
            else:
                escaped = False
        elif char == '"':
            in_string, escaped = True, False
        elif char in _CLOSER:
            stack.append(char)
        elif char in "}]":
            if not stack or _CLOSER[stack[-1]] != char:
                return ""
            stack.pop()
    quote = ('""' if escaped else '"') if in_string else ""
    return quote + ("}" if stack and stack[-1] == "[" else "]")
