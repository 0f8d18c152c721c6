"""Request validation for the stand-in: ``None`` when valid, else (status, message). Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["validate_anthropic", "validate_count_tokens", "validate_openai"]

Problem = tuple[int, str]

_OPENAI_ROLES = {"system", "developer", "user", "assistant", "tool"}


def _number_in(body: dict[str, Any], key: str, low: float, high: float) -> Problem | None:
    """``body[key]``, when present, must be a number in [low, high]."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 400, f"'{key}' must be a number"
    if not low <= value <= high:
        return 400, f"'{key}' must be between {low:g} and {high:g}, got {value}"
    return None


def _max_tokens(body: dict[str, Any], *, required: bool) -> Problem | None:
    """``max_tokens`` must be a positive integer (and present when required)."""
    value = body.get("max_tokens")
    if value is None:
        return (400, "'max_tokens' is required") if required else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return 400, "'max_tokens' must be a positive integer"
    return None


def _messages_list(body: dict[str, Any]) -> Problem | None:
    """``messages`` must be a non-empty list of objects with a role."""
    messages = body.get("messages")
    if messages is None:
        return 400, "'messages' is required"
    if not isinstance(messages, list) or not messages:
        return 400, "'messages' must be a non-empty array"
    if not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages):
        return 400, "each message must be an object with a string 'role'"
    return None


def _openai_message(i: int, msg: dict[str, Any]) -> Problem | None:
    """One OpenAI message."""
    role, content = msg["role"], msg.get("content")
    if role not in _OPENAI_ROLES:
        return 400, f"messages[{i}].role must be one of {sorted(_OPENAI_ROLES)}, got {role!r}"
    if content is None and not (role == "assistant" and msg.get("tool_calls")):
        return 400, f"messages[{i}].content is required"
    if content is not None and not isinstance(content, (str, list)):
        return 400, f"messages[{i}].content must be a string or an array of parts"
    if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
        return 400, f"messages[{i}].tool_call_id is required for tool messages"
    if (
        role == "tool"
        and isinstance(content, list)
        and any(not isinstance(p, dict) or p.get("type") != "text" for p in content)
    ):
        return 400, f"messages[{i}]: tool message content parts must be text"
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
            return 400, f"messages[{i}].tool_calls[].function.arguments must be a JSON string"
    return None


def _openai_tool_problem(tool: Any) -> tuple[str | None, str]:
    """(the name, else None; the problem) of one OpenAI tool."""
    fn = tool.get("function") if isinstance(tool, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    return (name if isinstance(name, str) else None), (
        "each tool must be {'type': 'function', 'function': {'name': ...}}"
    )


def _anthropic_tool_problem(tool: Any) -> tuple[str | None, str]:
    """(the name, else None; the problem) of one Anthropic tool."""
    name = tool.get("name") if isinstance(tool, dict) else None
    if not isinstance(name, str):
        return None, "each tool needs a string 'name'"
    if not isinstance(tool.get("input_schema"), dict):
        return None, f"tool {name!r} needs an 'input_schema' object"
    return name, ""


def _tool_names(
    body: dict[str, Any], check: Callable[[Any], tuple[str | None, str]]
) -> set[str] | Problem:
    """The names of ``body``'s tools (each judged by ``check``), or the first problem."""
    tools = body.get("tools")
    if tools is None:
        return set()
    if not isinstance(tools, list):
        return 400, "'tools' must be an array"
    names: set[str] = set()
    for tool in tools:
        name, problem = check(tool)
        if name is None:
            return 400, problem
        names.add(name)
    return names


def _openai_choice(choice: Any, names: set[str]) -> Problem | None:
    """An OpenAI ``tool_choice`` against the tools offered."""
    if isinstance(choice, dict):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if name not in names:
            return 400, f"tool_choice names a tool that is not offered: {name!r}"
    elif choice is not None and choice not in ("auto", "none", "required", "any"):
        return 400, f"invalid 'tool_choice': {choice!r}"
    return None


def _tools_problem(
    body: dict[str, Any],
    tool_check: Callable[[Any], tuple[str | None, str]],
    choice_check: Callable[[Any, set[str]], Problem | None],
) -> Problem | None:
    """``tools`` (each judged by ``tool_check``), then ``tool_choice`` against their names."""
    names = _tool_names(body, tool_check)
    if isinstance(names, tuple):
        return names
    return choice_check(body.get("tool_choice"), names)


def _openai_tools(body: dict[str, Any]) -> Problem | None:
    """``tools``, ``tool_choice`` and ``response_format``."""
    problem = _tools_problem(body, _openai_tool_problem, _openai_choice)
    fmt = body.get("response_format")
    if (
        problem is None
        and fmt is not None
        and (
            not isinstance(fmt, dict)
            or fmt.get("type") not in ("text", "json_object", "json_schema")
        )
    ):
        return 400, "'response_format.type' must be text, json_object or json_schema"
    return problem


def validate_openai(body: dict[str, Any]) -> Problem | None:
    """Check a ``/chat/completions`` body."""
    problem = _messages_list(body)
    for i, msg in enumerate(body.get("messages") or []):
        problem = problem or _openai_message(i, msg)
    problem = problem or _number_in(body, "temperature", 0, 2)
    problem = problem or _number_in(body, "top_p", 0, 1)
    problem = problem or _number_in(body, "presence_penalty", -2, 2)
    problem = problem or _number_in(body, "frequency_penalty", -2, 2)
    problem = problem or _max_tokens(body, required=False)
    stop = body.get("stop")
    if (
        problem is None
        and stop is not None
        and not (
            isinstance(stop, str)
            or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))
        )
    ):
        problem = 400, "'stop' must be a string or an array of at most 4 strings"
    if problem is None and "stream" in body and not isinstance(body["stream"], bool):
        problem = 400, "'stream' must be a boolean"
    return problem or _openai_tools(body)


def _anthropic_messages(body: dict[str, Any]) -> Problem | None:
    """Roles (user/assistant only) and content types of an Anthropic ``messages``."""
    problem = _messages_list(body)
    for i, msg in enumerate(body.get("messages") or []):
        if problem:
            break
        role, content = msg["role"], msg.get("content")
        if role == "system":
            problem = (
                400,
                (
                    f"messages[{i}]: unexpected role 'system'; use the top-level "
                    "'system' parameter for a system prompt"
                ),
            )
        elif role not in ("user", "assistant"):
            problem = 400, f"messages[{i}].role must be 'user' or 'assistant', got {role!r}"
        elif not isinstance(content, (str, list)):
            problem = 400, f"messages[{i}].content must be a string or an array of blocks"
    system = body.get("system")
    if problem is None and system is not None and not isinstance(system, (str, list)):
        problem = 400, "'system' must be a string or an array of text blocks"
    return problem


def _anthropic_choice(choice: Any, names: set[str]) -> Problem | None:
    """An Anthropic ``tool_choice`` against the tools offered."""
    if choice is None:
        return None
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        return 400, "'tool_choice.type' must be auto, any, tool or none"
    if choice["type"] == "tool" and choice.get("name") not in names:
        return 400, f"tool_choice names a tool that is not offered: {choice.get('name')!r}"
    return None


def _anthropic_tools(body: dict[str, Any]) -> Problem | None:
    """``tools`` and ``tool_choice`` of an Anthropic request."""
    return _tools_problem(body, _anthropic_tool_problem, _anthropic_choice)


def validate_anthropic(body: dict[str, Any]) -> Problem | None:
    """Check a ``/v1/messages`` body."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, "'model' is required"
    problem = _max_tokens(body, required=True) or _anthropic_messages(body)
    problem = problem or _number_in(body, "temperature", 0, 1)
    problem = problem or _number_in(body, "top_p", 0, 1)
    stops = body.get("stop_sequences")
    if (
        problem is None
        and stops is not None
        and not (isinstance(stops, list) and all(isinstance(s, str) for s in stops))
    ):
        problem = 400, "'stop_sequences' must be an array of strings"
    return problem or _anthropic_tools(body)


def validate_count_tokens(body: dict[str, Any]) -> Problem | None:
    """Check a ``/v1/messages/count_tokens`` body."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return 400, "'model' is required"
    return _anthropic_messages(body) or _anthropic_tools(body)
