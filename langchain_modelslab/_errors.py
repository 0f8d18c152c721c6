"""LangChain-facing errors: each core error also subclasses langchain-core's model error.

``except modelslab_core.RateLimitError`` and ``except langchain_core.exceptions.ModelRateLimitError``
both catch a rate limit, so LangChain's own fallbacks (``with_fallbacks``) and retries work.
Each twin is made from its core class by one line below (its docstring is the core's);
`to_langchain_error` maps a core error to its twin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import modelslab_core as core

__all__ = [
    "ModelsLabAPIError",
    "ModelsLabAuthenticationError",
    "ModelsLabBadRequestError",
    "ModelsLabBudgetUnavailableError",
    "ModelsLabConflictError",
    "ModelsLabConnectionError",
    "ModelsLabContextOverflowError",
    "ModelsLabInsufficientCreditsError",
    "ModelsLabInternalServerError",
    "ModelsLabLimiterUnavailableError",
    "ModelsLabNotFoundError",
    "ModelsLabOverloadedError",
    "ModelsLabPermissionDeniedError",
    "ModelsLabProcessingError",
    "ModelsLabQueueFullError",
    "ModelsLabRateLimitError",
    "ModelsLabRequestTooLargeError",
    "ModelsLabResponseValidationError",
    "ModelsLabServiceUnavailableError",
    "ModelsLabStatusError",
    "ModelsLabStreamInterruptedError",
    "ModelsLabStreamTimeoutError",
    "ModelsLabTimeoutError",
    "to_langchain_error",
]


_E = TypeVar("_E", bound=core.APIError)
_TABLE: dict[type[core.APIError], type[core.APIError]] = {}
"""Core error class -> LangChain-facing class (filled by `_twin`, one line per core class)."""


def _twin(error: type[_E], base: type[Exception]) -> type[_E]:
    """The class that is both the core's ``error`` and langchain-core's ``base`` (the core's
    docstring, this module's name), entered in `_TABLE`."""
    twin = type(error.__name__, (error, base), {"__doc__": error.__doc__, "__module__": __name__})
    _TABLE[error] = twin
    return twin


# The one table: each core error (`modelslab_core.exceptions`) and the langchain-core error
# its twin also is. tests/langchain/test_errors.py requires a line for every core API error.
ModelsLabAPIError = _twin(core.APIError, ModelError)
ModelsLabStatusError = _twin(core.APIStatusError, ModelError)
ModelsLabBadRequestError = _twin(core.BadRequestError, ModelInvalidRequestError)
ModelsLabContextOverflowError = _twin(core.ContextWindowExceededError, ContextOverflowError)
ModelsLabAuthenticationError = _twin(core.AuthenticationError, ModelAuthenticationError)
ModelsLabInsufficientCreditsError = _twin(core.InsufficientCreditsError, ModelError)
ModelsLabPermissionDeniedError = _twin(core.PermissionDeniedError, ModelPermissionDeniedError)
ModelsLabNotFoundError = _twin(core.NotFoundError, ModelNotFoundError)
ModelsLabConflictError = _twin(core.ConflictError, ModelError)
ModelsLabRequestTooLargeError = _twin(core.RequestTooLargeError, ModelInvalidRequestError)
ModelsLabRateLimitError = _twin(core.RateLimitError, ModelRateLimitError)
ModelsLabInternalServerError = _twin(core.InternalServerError, ModelAPIError)
ModelsLabServiceUnavailableError = _twin(core.ServiceUnavailableError, ModelAPIError)
ModelsLabOverloadedError = _twin(core.OverloadedError, ModelAPIError)
ModelsLabConnectionError = _twin(core.APIConnectionError, ModelConnectionError)
ModelsLabTimeoutError = _twin(core.APITimeoutError, ModelTimeoutError)
ModelsLabStreamTimeoutError = _twin(core.StreamTimeoutError, ModelTimeoutError)
ModelsLabQueueFullError = _twin(core.QueueFullError, ModelTimeoutError)
ModelsLabLimiterUnavailableError = _twin(core.LimiterUnavailableError, ModelConnectionError)
ModelsLabBudgetUnavailableError = _twin(core.BudgetUnavailableError, ModelConnectionError)
ModelsLabStreamInterruptedError = _twin(core.StreamInterruptedError, ModelConnectionError)
ModelsLabResponseValidationError = _twin(core.APIResponseValidationError, ModelAPIError)
ModelsLabProcessingError = _twin(core.ProcessingResponseError, ModelError)

for _name, _value in list(globals().items()):  # each twin is named as this module exports it
    if _name.startswith("ModelsLab") and _value in _TABLE.values():
        _value.__name__ = _value.__qualname__ = _name

_LANGCHAIN_CLASSES = frozenset(_TABLE.values())


def to_langchain_error(error: BaseException) -> BaseException:
    """The LangChain-facing twin of a core error (same message and attributes); others as is."""
    if not isinstance(error, core.APIError) or type(error) in _LANGCHAIN_CLASSES:
        return error
    for klass in type(error).__mro__:
        target = _TABLE.get(klass)
        if target is not None:
            return target(
                error.message,
                status_code=error.status_code,
                request_id=error.request_id,
                body=error.body,
                error_type=error.error_type,
                retry_after=error.retry_after,
            )
    return error


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise core errors raised inside the block as their LangChain-facing twins."""
    try:
        yield
    except core.APIError as error:
        converted = to_langchain_error(error)
        if converted is error:
            raise
        raise converted.with_traceback(error.__traceback__) from None
