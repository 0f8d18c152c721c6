"""Wire-shape checks for the decoders: a field of the wrong type is an error, never a default.

Each helper returns the value when it has an allowed shape and raises
`APIResponseValidationError` naming the field (``choices[0].message``), what it was and what
the contract allows. Missing optional fields are ``None``; the decoders decide what is optional.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import APIResponseValidationError

__all__ = [
    "as_dict",
    "as_list",
    "malformed",
    "opt_dict",
    "opt_int",
    "opt_list",
    "opt_str",
    "req_str",
]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    kinds: dict[type, str] = {dict: "an object", list: "an array", str: "a string"}
    kind = kinds.get(type(value))
    if kind is not None:
        return kind
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    return type(value).__name__


def malformed(where: str, value: Any, expected: str, body: Any) -> APIResponseValidationError:
    """The error for ``where`` holding ``value`` when the contract allows ``expected``."""
    return APIResponseValidationError(
        f"Malformed response: {where} is {_describe(value)}, expected {expected}", body=body
    )


def as_dict(value: Any, where: str, body: Any) -> dict[str, Any]:
    """``value``, which must be a JSON object."""
    if type(value) is dict:
        return value
    raise malformed(where, value, "an object", body)


def opt_dict(value: Any, where: str, body: Any) -> dict[str, Any] | None:
    """``value``: a JSON object or null/absent."""
    if value is None or type(value) is dict:
        return value
    raise malformed(where, value, "an object or null", body)


def as_list(value: Any, where: str, body: Any) -> list[Any]:
    """``value``, which must be a JSON array."""
    if type(value) is list:
        return value
    raise malformed(where, value, "an array", body)


def opt_list(value: Any, where: str, body: Any) -> list[Any] | None:
    """``value``: a JSON array or null/absent."""
    if value is None or type(value) is list:
        return value
    raise malformed(where, value, "an array or null", body)


def opt_str(value: Any, where: str, body: Any) -> str | None:
    """``value``: a string or null/absent."""
    if value is None or type(value) is str:
        return value
    raise malformed(where, value, "a string or null", body)


def req_str(value: Any, where: str, body: Any) -> str:
    """``value``, which must be a non-empty string."""
    if type(value) is str and value:
        return value
    raise malformed(where, value, "a non-empty string", body)


def opt_int(value: Any, where: str, body: Any) -> int | None:
    """``value``: an integer (not a boolean) or null/absent."""
    if value is None or type(value) is int:
        return value
    raise malformed(where, value, "an integer or null", body)
