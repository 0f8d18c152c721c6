"""Wire-shape checks for the decoders: a field of the wrong type is an error, never a default.

Each helper returns the value when it has an allowed shape and raises
`APIResponseValidationError` naming the field (``choices[0].message``), what it was and what
the contract allows. Missing optional fields are ``None``; the decoders decide what is optional.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import APIResponseValidationError

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


def _want(value: Any, kind: type, optional: bool, where: str, body: Any, expected: str) -> Any:
    """``value`` when its type is exactly ``kind`` (or it is null and ``optional``)."""
    if type(value) is kind or (optional and value is None):
        return value
    raise malformed(where, value, expected, body)


def as_dict(value: Any, where: str, body: Any) -> dict[str, Any]:
    """``value``, which must be a JSON object."""
    return _want(value, dict, False, where, body, "an object")  # type: ignore[no-any-return]


def opt_dict(value: Any, where: str, body: Any) -> dict[str, Any] | None:
    """``value``: a JSON object or null/absent."""
    return _want(value, dict, True, where, body, "an object or null")  # type: ignore[no-any-return]


def as_list(value: Any, where: str, body: Any) -> list[Any]:
    """``value``, which must be a JSON array."""
    return _want(value, list, False, where, body, "an array")  # type: ignore[no-any-return]


def opt_list(value: Any, where: str, body: Any) -> list[Any] | None:
    """``value``: a JSON array or null/absent."""
    return _want(value, list, True, where, body, "an array or null")  # type: ignore[no-any-return]


def opt_str(value: Any, where: str, body: Any) -> str | None:
    """``value``: a string or null/absent."""
    return _want(value, str, True, where, body, "a string or null")  # type: ignore[no-any-return]


def req_str(value: Any, where: str, body: Any) -> str:
    """``value``, which must be a non-empty string."""
    if value == "":
        raise malformed(where, value, "a non-empty string", body)
    return _want(value, str, False, where, body, "a non-empty string")  # type: ignore[no-any-return]


def opt_int(value: Any, where: str, body: Any) -> int | None:
    """``value``: an integer (not a boolean) or null/absent."""
    return _want(value, int, True, where, body, "an integer or null")  # type: ignore[no-any-return]
