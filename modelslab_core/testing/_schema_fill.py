"""Build a JSON value valid against a JSON schema, with values taken from a prompt.

Pure and deterministic: integers and numbers come from the numbers in the prompt (in order),
strings from quoted text or the phrase the prompt is about, enums from the option the prompt
names (else the first), booleans from negation words. ``required`` properties are always
present; ``$ref``/``$defs``, ``anyOf``/``oneOf``/``allOf``, arrays and nested objects are
followed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PromptFacts", "instance_for", "prompt_facts"]

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(
    r"\"([^\"]+)\"|\u201c([^\u201d]+)\u201d|\u300c([^\u300d]+)\u300d"
    r"|(?<![\w])'([^']+)'(?![\w])|\u2018([^\u2019]+)\u2019"
)
_TOPIC = re.compile(
    r"\b(?:in|for|about|of|named|called|on|at|to)\s+([^?.!;:()\n]+?)\s*(?:[?.!;:()\n]|$)",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(r"\b(no|not|false|never|disable|disabled|off)\b", re.IGNORECASE)
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)


@dataclass
class PromptFacts:
    """What a prompt offers to fill a schema with; cursors advance as values are used."""

    text: str
    numbers: list[float] = field(default_factory=list)
    quoted: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    num_pos: int = 0
    str_pos: int = 0

    def next_number(self) -> float | None:
        """The next unused number of the prompt, or ``None``."""
        if self.num_pos < len(self.numbers):
            self.num_pos += 1
            return self.numbers[self.num_pos - 1]
        return self.numbers[-1] if self.numbers else None

    def next_string(self) -> str:
        """The next quoted text, else the prompt's topic phrase, else the prompt itself."""
        pool = self.quoted or self.topics
        if pool:
            value = pool[min(self.str_pos, len(pool) - 1)]
            self.str_pos += 1
            return value
        return self.text.strip() or "value"


def prompt_facts(text: str) -> PromptFacts:
    """Extract numbers, quoted strings and topic phrases from ``text``."""
    numbers = [float(m.group(0)) for m in _NUMBER.finditer(text)]
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
    topics = [_ARTICLE.sub("", m.group(1)).strip() for m in _TOPIC.finditer(text)]
    return PromptFacts(text, numbers, quoted, [t for t in topics if t])


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """Follow local ``$ref``s (``#/$defs/X``, ``#/definitions/X``)."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        node: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) and part else node
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **rest} if isinstance(node, dict) else rest
        seen += 1
    return schema if isinstance(schema, dict) else {}


def _pick_type(schema: dict[str, Any]) -> str | None:
    """The schema's type; the first non-null one when it lists several."""
    t = schema.get("type")
    if isinstance(t, list):
        non_null = [x for x in t if x != "null"]
        return str(non_null[0]) if non_null else "null"
    if t is None and "properties" in schema:
        return "object"
    return None if t is None else str(t)


def _clamp(value: float, schema: dict[str, Any], integer: bool) -> float:
    """Clamp ``value`` into the schema's (exclusive) bounds."""
    step = 1 if integer else 0.5
    if "minimum" in schema and value < schema["minimum"]:
        value = schema["minimum"]
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + step
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - step
    return value


def _enum_value(options: list[Any], facts: PromptFacts) -> Any:
    """The enum option the prompt mentions, else the first option."""
    lowered = facts.text.lower()
    for option in options:
        if isinstance(option, str) and option.lower() in lowered:
            return option
    return options[0] if options else None


def _string_value(schema: dict[str, Any], facts: PromptFacts) -> str:
    """A string honouring ``format``, ``minLength`` and ``maxLength``."""
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2024-01-01T00:00:00Z"
    if fmt == "date":
        return "2024-01-01"
    if fmt == "email":
        return "user@example.com"
    if fmt in ("uri", "url"):
        return "https://example.com"
    value = facts.next_string()
    min_len = int(schema.get("minLength", 0))
    if len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value


def _object_value(
    schema: dict[str, Any], facts: PromptFacts, root: dict[str, Any], depth: int
) -> dict[str, Any]:
    """An object with every declared property (so ``required`` ones are always there)."""
    props = schema.get("properties") or {}
    out: dict[str, Any] = {}
    for name, sub in props.items():
        out[str(name)] = _value(sub, facts, root, depth + 1)
    for name in schema.get("required") or []:
        if name not in out:
            out[str(name)] = facts.next_string()
    return out


def _value(schema: Any, facts: PromptFacts, root: dict[str, Any], depth: int) -> Any:
    """Dispatch on the schema's kind."""
    node = _resolve(schema, root)
    if depth > 12:
        return None
    if "const" in node:
        return node["const"]
    if isinstance(node.get("enum"), list):
        return _enum_value(node["enum"], facts)
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list) and node[key]:
            options = [_resolve(o, root) for o in node[key]]
            chosen = next((o for o in options if _pick_type(o) != "null"), options[0])
            return _value(chosen, facts, root, depth + 1)
    if isinstance(node.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in node["allOf"]:
            merged.update(_resolve(part, root))
        return _value(merged, facts, root, depth + 1)
    if "default" in node and node.get("default") is not None and not node.get("type"):
        return node["default"]
    kind = _pick_type(node)
    if kind == "integer":
        number = facts.next_number()
        return int(_clamp(int(number) if number is not None else 1, node, True))
    if kind == "number":
        number = facts.next_number()
        return _clamp(number if number is not None else 1.0, node, False)
    if kind == "boolean":
        return _NEGATIVE.search(facts.text) is None
    if kind == "null":
        return None
    if kind == "array":
        count = max(1, int(node.get("minItems", 1)))
        if "maxItems" in node:
            count = min(count, int(node["maxItems"]))
        return [_value(node.get("items", {}), facts, root, depth + 1) for _ in range(count)]
    if kind == "object":
        return _object_value(node, facts, root, depth)
    return _string_value(node, facts)


def instance_for(schema: dict[str, Any] | None, text: str) -> Any:
    """A value valid against ``schema`` built from the prompt ``text`` (``{}`` for no schema)."""
    if not schema:
        return {}
    return _value(schema, prompt_facts(text), schema, 0)
