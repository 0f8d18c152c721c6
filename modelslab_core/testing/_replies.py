"""Deterministic replies: pure functions from a request view to a reply plan and wire shapes.

Rules (``plan_reply``):

* after tool results, a text answer quoting them;
* a tool call when tools are offered and ``tool_choice`` demands one, or under ``auto`` when
  the last message is a user turn (the tools named in the prompt, else the first tool; several
  calls only when parallel calls are allowed and several tools are named); arguments valid
  against each tool's schema, derived from the prompt;
* ``json_object`` (or a system/user prompt asking to respond with JSON) -> a JSON object: an
  instance of the schema the system prompt gives in structured output's JSON-mode
  instruction (`modelslab_core.structured.INSTRUCTION`), else keys from the quoted names;
  ``json_schema`` -> an instance valid against the schema;
* ``repeat``/``say`` X -> X; otherwise ``You said: <last user text>``;
* ``stop`` cuts the text; ``max_tokens`` (words) truncates it, finish ``length``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace

from ..structured import INSTRUCTION
from ._faults import Reply
from ._schema_fill import instance_for, prompt_facts
from ._view import RequestView, ToolDef, count_tokens

__all__ = ["Plan", "PlannedCall", "make_id", "plan_reply", "split_text"]

_REPEAT = re.compile(
    r"\b(?:repeat|say)\b(?:\s+(?:back|after me|exactly|only|just|the words?|the phrase))*"
    r"\s*[:,]?\s*(.+)",
    re.IGNORECASE | re.DOTALL,
)
_ASKS_JSON = re.compile(
    r"\b(?:respond|reply|return|answer|output|format|give)\w*\b[^.!?\n]*\bjson\b", re.IGNORECASE
)
_QUOTED_NAME = re.compile(r"[\"'`\u201c\u2018]([A-Za-z_][A-Za-z0-9_]*)[\"'`\u201d\u2019]")


@dataclass(frozen=True)
class PlannedCall:
    """One tool call of a reply; ``arguments`` is a JSON string."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Plan:
    """A reply, independent of the dialect that renders it."""

    text: str
    calls: tuple[PlannedCall, ...] = ()
    reasoning: str | None = None
    finish: str = "stop"  # stop | length | tool_calls | stop_sequence
    stop_sequence: str | None = None
    prompt_tokens: int = 1
    completion_tokens: int = 0


def make_id(prefix: str, seed: str) -> str:
    """``prefix`` + 24 hex digits derived from ``seed``."""
    return prefix + hashlib.sha256(seed.encode("utf-8")).hexdigest()[:24]


def split_text(text: str) -> list[str]:
    """Split text into small stream pieces (one word with its trailing space each)."""
    return re.findall(r"\s*\S+\s*", text) or ([text] if text else [])


def _mentioned_tools(view: RequestView) -> list[ToolDef]:
    """Tools whose names appear in the last user text, in order of appearance."""
    hits = []
    for tool in view.tools:
        pattern = r"(?<![A-Za-z0-9_])" + re.escape(tool.name) + r"(?![A-Za-z0-9_])"
        spaced = tool.name.replace("_", " ")
        found = re.search(pattern, view.last_user_text, re.IGNORECASE)
        if found is None and spaced != tool.name:
            found = re.search(re.escape(spaced), view.last_user_text, re.IGNORECASE)
        if found is not None:
            hits.append((found.start(), tool))
    return [tool for _, tool in sorted(hits, key=lambda h: h[0])]


def _chosen_tools(view: RequestView) -> list[ToolDef]:
    """The tools this request should call (empty: answer with text)."""
    if not view.tools or view.tool_choice == "none":
        return []
    if view.tool_choice == "named":
        return [t for t in view.tools if t.name == view.named_tool][:1]
    forced = view.tool_choice == "required"
    if not forced and view.last_role != "user":
        return []
    mentioned = _mentioned_tools(view)
    if not mentioned:
        return [view.tools[0]]
    return mentioned if view.parallel else mentioned[:1]


def _calls_for(view: RequestView, tools: list[ToolDef], seed: str) -> tuple[PlannedCall, ...]:
    """Tool calls with schema-valid arguments drawn from the prompt."""
    prefix = "call_" if view.route == "openai" else "toolu_"
    calls = []
    for i, tool in enumerate(tools):
        args = instance_for(tool.schema, view.last_user_text)
        if not isinstance(args, dict):
            args = {}
        calls.append(
            PlannedCall(
                make_id(prefix, f"{seed}/{i}"), tool.name, json.dumps(args, ensure_ascii=False)
            )
        )
    return tuple(calls)


_SCHEMA_GIVEN = INSTRUCTION.split("{schema}")[0]


def _instructed_schema(system: str) -> dict[str, object] | None:
    """The schema a JSON-mode instruction in ``system`` gives, if there is one."""
    at = system.find(_SCHEMA_GIVEN)
    if at < 0:
        return None
    try:
        schema, _ = json.JSONDecoder().raw_decode(system, at + len(_SCHEMA_GIVEN))
    except ValueError:
        return None
    return schema if isinstance(schema, dict) else None


def _json_object_text(view: RequestView) -> str:
    """An instance of the instructed schema, else a JSON object whose keys are the names
    quoted in the prompt."""
    schema = _instructed_schema(view.system)
    if schema is not None:
        return json.dumps(instance_for(schema, view.last_user_text), ensure_ascii=False)
    source = "\n".join([view.system, view.last_user_text])
    keys = list(dict.fromkeys(_QUOTED_NAME.findall(source)))
    facts = prompt_facts(_QUOTED_NAME.sub(" ", view.last_user_text))
    if not keys:
        return json.dumps({"response": _echo(view.last_user_text)}, ensure_ascii=False)
    return json.dumps({k: facts.next_string() for k in keys}, ensure_ascii=False)


def _echo(user_text: str) -> str:
    """``repeat``/``say`` X -> X, else ``You said: <text>``."""
    text = user_text.strip()
    match = _REPEAT.search(text)
    if match:
        said = match.group(1).strip()
        quoted = re.fullmatch(r"[\"'\u201c\u2018](.+?)[\"'\u201d\u2019][.!?]?", said, re.DOTALL)
        if quoted:
            return quoted.group(1)
        return said.rstrip(".!?") or said
    return f"You said: {text}" if text else "Hello! How can I help you today?"


def _text_for(view: RequestView) -> str:
    """The text answer for a request that calls no tool."""
    if view.last_role == "tool" and view.tool_results:
        label = "Tool result" if len(view.tool_results) == 1 else "Tool results"
        return f"{label}: " + "; ".join(r.strip() for r in view.tool_results)
    asks_json = any(_ASKS_JSON.search(t) for t in (view.system, view.last_user_text))
    if view.response_format == "json_object" or (view.response_format is None and asks_json):
        return _json_object_text(view)
    if view.response_format == "json_schema":
        value = instance_for(view.response_schema or {}, view.last_user_text)
        return json.dumps(value, ensure_ascii=False)
    return _echo(view.last_user_text)


def _apply_limits(view: RequestView, text: str) -> tuple[str, str, str | None]:
    """Cut ``text`` at the first stop sequence, then at ``max_tokens`` words."""
    finish, matched = "stop", None
    cuts = [(text.find(s), s) for s in view.stop if s and text.find(s) >= 0]
    if cuts:
        pos, matched = min(cuts)
        text, finish = text[:pos], "stop_sequence"
    if view.max_tokens is not None and count_tokens(text) > view.max_tokens:
        text = "".join(split_text(text)[: view.max_tokens]).rstrip()
        finish, matched = "length", None
    return text, finish, matched


def _scripted(view: RequestView, script: Reply, seed: str) -> Plan:
    """A plan from a scripted ``Reply``."""
    prefix = "call_" if view.route == "openai" else "toolu_"
    calls = []
    for i, call in enumerate(script.tool_calls or []):
        args = call.get("arguments", {})
        raw = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        calls.append(
            PlannedCall(
                str(call.get("id") or make_id(prefix, f"{seed}/{i}")), str(call["name"]), raw
            )
        )
    finish = script.finish_reason or ("tool_calls" if calls else "stop")
    plan = Plan(script.text or "", tuple(calls), script.reasoning, finish)
    return _with_usage(view, plan, script.usage)


def _with_usage(view: RequestView, plan: Plan, usage: dict[str, int] | None = None) -> Plan:
    """Fill in honest token counts (or the scripted ones)."""
    completion = count_tokens(plan.text) + count_tokens(plan.reasoning or "")
    completion += sum(count_tokens(c.arguments.replace(",", ", ")) for c in plan.calls)
    prompt = view.prompt_tokens
    if usage:
        prompt = usage.get("prompt_tokens", usage.get("input_tokens", prompt))
        completion = usage.get("completion_tokens", usage.get("output_tokens", completion))
    return replace(plan, prompt_tokens=prompt, completion_tokens=completion)


def plan_reply(view: RequestView, seed: str, script: Reply | None = None) -> Plan:
    """The reply to ``view``; ``seed`` makes ids unique and deterministic."""
    if script is not None:
        return _scripted(view, script, seed)
    tools = _chosen_tools(view)
    if tools:
        return _with_usage(view, Plan("", _calls_for(view, tools, seed), None, "tool_calls"))
    text, finish, matched = _apply_limits(view, _text_for(view))
    return _with_usage(view, Plan(text, (), None, finish, matched))
