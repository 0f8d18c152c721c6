"""LangChain-facing errors: each core error also subclasses langchain-core's model error.

``except modelslab_core.RateLimitError`` and ``except langchain_core.exceptions.ModelRateLimitError``
both catch a rate limit, so LangChain's own fallbacks (``with_fallbacks``) and retries work.
`to_langchain_error` is the one table from core class to LangChain-facing class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


class ModelsLabStatusError(core.APIStatusError, ModelError):
    """An error status or error envelope with no more specific class."""


class ModelsLabBadRequestError(core.BadRequestError, ModelInvalidRequestError):
    """400/422: the request was rejected as invalid."""


class ModelsLabContextOverflowError(core.ContextWindowExceededError, ContextOverflowError):
    """The prompt does not fit the model's context window."""


class ModelsLabAuthenticationError(core.AuthenticationError, ModelAuthenticationError):
    """401: missing or invalid API key."""


class ModelsLabInsufficientCreditsError(core.InsufficientCreditsError, ModelError):
    """402: the account has no credits left."""


class ModelsLabPermissionDeniedError(core.PermissionDeniedError, ModelPermissionDeniedError):
    """403: the key's plan does not allow this."""


class ModelsLabNotFoundError(core.NotFoundError, ModelNotFoundError):
    """404: unknown model or path."""


class ModelsLabConflictError(core.ConflictError, ModelError):
    """409: conflict."""


class ModelsLabRequestTooLargeError(core.RequestTooLargeError, ModelInvalidRequestError):
    """413: the request body is too large."""


class ModelsLabRateLimitError(core.RateLimitError, ModelRateLimitError):
    """429 or a rate-limit envelope; ``retry_after`` is the server's delay."""


class ModelsLabInternalServerError(core.InternalServerError, ModelAPIError):
    """5xx: the server or an upstream provider failed."""


class ModelsLabServiceUnavailableError(core.ServiceUnavailableError, ModelAPIError):
    """502/503/504: the service or its upstream is unavailable."""


class ModelsLabOverloadedError(core.OverloadedError, ModelAPIError):
    """529: the upstream provider is overloaded."""


class ModelsLabConnectionError(core.APIConnectionError, ModelConnectionError):
    """The connection failed or broke before a complete answer arrived."""


class ModelsLabTimeoutError(core.APITimeoutError, ModelTimeoutError):
    """A connect, read or total timeout expired."""


class ModelsLabStreamTimeoutError(core.StreamTimeoutError, ModelTimeoutError):
    """A stream sent nothing for longer than the per-chunk timeout."""


class ModelsLabQueueFullError(core.QueueFullError, ModelTimeoutError):
    """The account's in-flight queue stayed full past the wait deadline."""


class ModelsLabLimiterUnavailableError(core.LimiterUnavailableError, ModelConnectionError):
    """The shared in-flight limit's Redis could not be reached."""


class ModelsLabBudgetUnavailableError(core.BudgetUnavailableError, ModelConnectionError):
    """A shared budget's Redis could not be reached (the request was not sent)."""


class ModelsLabStreamInterruptedError(core.StreamInterruptedError, ModelConnectionError):
    """The stream ended before its terminator."""


class ModelsLabResponseValidationError(core.APIResponseValidationError, ModelAPIError):
    """The server answered with something the contract does not allow."""


class ModelsLabProcessingError(core.ProcessingResponseError, ModelError):
    """ModelsLab queued the request instead of answering it."""


class ModelsLabAPIError(core.APIError, ModelError):
    """Any other API error."""


_TABLE: dict[type[core.APIError], type[core.APIError]] = {
    core.APIError: ModelsLabAPIError,
    core.APIStatusError: ModelsLabStatusError,
    core.BadRequestError: ModelsLabBadRequestError,
    core.ContextWindowExceededError: ModelsLabContextOverflowError,
    core.AuthenticationError: ModelsLabAuthenticationError,
    core.InsufficientCreditsError: ModelsLabInsufficientCreditsError,
    core.PermissionDeniedError: ModelsLabPermissionDeniedError,
    core.NotFoundError: ModelsLabNotFoundError,
    core.ConflictError: ModelsLabConflictError,
    core.RequestTooLargeError: ModelsLabRequestTooLargeError,
    core.RateLimitError: ModelsLabRateLimitError,
    core.InternalServerError: ModelsLabInternalServerError,
    core.ServiceUnavailableError: ModelsLabServiceUnavailableError,
    core.OverloadedError: ModelsLabOverloadedError,
    core.APIConnectionError: ModelsLabConnectionError,
    core.APITimeoutError: ModelsLabTimeoutError,
    core.StreamTimeoutError: ModelsLabStreamTimeoutError,
    core.QueueFullError: ModelsLabQueueFullError,
    core.LimiterUnavailableError: ModelsLabLimiterUnavailableError,
    core.BudgetUnavailableError: ModelsLabBudgetUnavailableError,
    core.StreamInterruptedError: ModelsLabStreamInterruptedError,
    core.APIResponseValidationError: ModelsLabResponseValidationError,
    core.ProcessingResponseError: ModelsLabProcessingError,
}
"""Core error class -> LangChain-facing class (the one table)."""

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
