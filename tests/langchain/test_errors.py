"""LangChain's error twins are made from the core's one list of error classes."""

from __future__ import annotations

import pickle

import pytest
from langchain_core.exceptions import LangChainException

import langchain_modelslab
import modelslab_core as core
from langchain_modelslab import _errors
from modelslab_core import exceptions

CORE_API_ERRORS = [
    getattr(exceptions, name)
    for name in exceptions.__all__
    if isinstance(getattr(exceptions, name), type)
    and issubclass(getattr(exceptions, name), core.APIError)
]


def test_every_core_api_error_has_a_twin() -> None:
    assert set(_errors._TABLE) == set(CORE_API_ERRORS)


@pytest.mark.parametrize("error", CORE_API_ERRORS, ids=lambda c: c.__name__)
def test_a_twin_is_both_errors_and_named_as_exported(error: type[core.APIError]) -> None:
    twin = _errors._TABLE[error]
    core_base, langchain_base = twin.__bases__
    assert core_base is error and langchain_base.__module__ == "langchain_core.exceptions"
    assert issubclass(twin, LangChainException)
    assert getattr(langchain_modelslab, twin.__name__) is twin
    assert twin.__name__ in _errors.__all__ and twin.__module__ == _errors.__name__
    assert twin.__doc__ == error.__doc__
    raised = _errors.to_langchain_error(error("boom", status_code=418, request_id="r1"))
    assert type(raised) is twin
    copy = pickle.loads(pickle.dumps(raised))
    assert type(copy) is twin and (copy.message, copy.status_code) == ("boom", 418)


def test_langchain_core_bases_are_kept() -> None:
    from langchain_core.exceptions import (
        ContextOverflowError,
        ModelConnectionError,
        ModelRateLimitError,
    )

    assert issubclass(langchain_modelslab.ModelsLabRateLimitError, ModelRateLimitError)
    assert issubclass(langchain_modelslab.ModelsLabContextOverflowError, ContextOverflowError)
    assert issubclass(langchain_modelslab.ModelsLabStreamInterruptedError, ModelConnectionError)
    assert len(_errors.__all__) == len(CORE_API_ERRORS) + 1  # + to_langchain_error
