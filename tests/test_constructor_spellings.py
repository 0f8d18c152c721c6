"""Both adapters' constructors take the spellings their users type, checked on the wire.

One table: each row is a constructor call as a user of LangChain or LlamaIndex writes it, and
what each adapter must make of it, checked on the request that reaches the stand-in (the base
URL really routes there, the key is the one sent, the model the one named, the timeout the one
that cuts a stalled answer...). Two spellings of one setting together are an error in both;
an unknown keyword follows each framework's convention: `ChatModelsLab` moves it to
``model_kwargs`` with LangChain's warning (as ``ChatOpenAI`` does), `ModelsLab` raises a
`TypeError` naming it (as llama-index-llms-anthropic's constructor does).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

import modelslab_core as core
from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core.testing import Fault, StandIn

URL, KEY = "<stand-in url>", "<stand-in key>"
"""Placeholders, replaced by the stand-in's values when a row runs."""
OTHER = "meta-llama-llama-3.1-8b-instruct"
"""A model the stand-in serves that is not the default."""


@dataclass(frozen=True)
class Sent:
    """The call succeeds, and the request the stand-in got passes ``check``."""

    what: str
    check: Callable[[StandIn], bool]


@dataclass(frozen=True)
class Moved:
    """LangChain's convention for a keyword it does not know (``ChatOpenAI``'s too): moved to
    ``model_kwargs`` with a warning naming it, and sent as a body field."""

    name: str


@dataclass(frozen=True)
class Raises:
    """The constructor raises ``error`` matching ``match``, before any request."""

    error: type[Exception]
    match: str


@dataclass(frozen=True)
class TimesOut:
    """The call times out: a stalled answer is cut at the timeout given."""


@dataclass(frozen=True)
class Retried:
    """Two 500s in a row: the call fails after ``attempts`` requests."""

    attempts: int


Outcome = Sent | Moved | Raises | TimesOut | Retried


def body(field: str, value: Any) -> Sent:
    return Sent(f"body[{field!r}] == {value!r}", lambda s: _last(s).json.get(field) == value)


def bearer() -> Sent:
    """The stand-in's key went as a Bearer token (without a key the header is absent)."""
    auth = "the key as a Bearer token"
    return Sent(auth, lambda s: _last(s).headers.get("authorization") == f"Bearer {s.api_key}")


def _reached(s: StandIn) -> bool:
    return len(s.requests) == 1 and s.requests[0].path.startswith("/api/v7/llm/")


ROUTED = Sent("the request reached the stand-in", _reached)
HEADER = Sent("X-Trace sent", lambda s: _last(s).headers.get("x-trace") == "t-1")
UNKNOWN = Raises(TypeError, "unexpected keyword argument")
TWICE = Raises(TypeError, "spellings of one setting")

# (row id, constructor keywords, ChatModelsLab's outcome, ModelsLab's outcome)
ROWS: list[tuple[str, dict[str, Any], Outcome, Outcome]] = [
    ("base_url", {"base_url": URL}, ROUTED, ROUTED),
    ("api_base", {"api_base": URL}, ROUTED, ROUTED),
    ("modelslab_api_base", {"modelslab_api_base": URL}, ROUTED, UNKNOWN),
    ("model", {"model": OTHER}, body("model", OTHER), body("model", OTHER)),
    ("model_name", {"model_name": OTHER}, body("model", OTHER), body("model", OTHER)),
    ("api_key", {"api_key": KEY}, bearer(), bearer()),
    ("modelslab_api_key", {"modelslab_api_key": KEY}, bearer(), UNKNOWN),
    ("timeout", {"timeout": 0.3}, TimesOut(), TimesOut()),
    ("request_timeout", {"request_timeout": 0.3}, TimesOut(), TimesOut()),
    ("max_tokens", {"max_tokens": 7}, body("max_tokens", 7), body("max_tokens", 7)),
    ("max_completion_tokens", {"max_completion_tokens": 7}, body("max_tokens", 7), UNKNOWN),
    ("max_new_tokens", {"max_new_tokens": 7}, Moved("max_new_tokens"), body("max_tokens", 7)),
    ("max_retries", {"max_retries": 1}, Retried(2), Retried(2)),
    ("default_headers", {"default_headers": {"X-Trace": "t-1"}}, HEADER, HEADER),
    ("model_kwargs", {"model_kwargs": {"top_a": 0.5}}, body("top_a", 0.5), UNKNOWN),
    (
        "additional_kwargs",
        {"additional_kwargs": {"top_a": 0.5}},
        Moved("additional_kwargs"),
        body("top_a", 0.5),
    ),
    ("stop_sequences", {"stop_sequences": ["END"]}, body("stop", ["END"]), UNKNOWN),
    (
        "misspelled keyword",
        {"api_bse": "http://elsewhere.invalid"},
        Moved("api_bse"),
        Raises(TypeError, r"'api_bse' \(did you mean 'api_base'\?\)"),
    ),
    ("base_url + api_base", {"base_url": URL, "api_base": URL}, TWICE, TWICE),
    ("model + model_name", {"model": "a", "model_name": "a"}, TWICE, TWICE),
    ("timeout + request_timeout", {"timeout": 1, "request_timeout": 2}, TWICE, TWICE),
]

BASE_SPELLINGS = {"base_url", "api_base", "modelslab_api_base"}
KEY_SPELLINGS = {"api_key", "modelslab_api_key"}


def _last(standin: StandIn) -> Any:
    request = standin.last_request
    assert request is not None, "no request reached the stand-in"
    return request


def _kwargs(row: dict[str, Any], standin: StandIn) -> dict[str, Any]:
    """The row's keywords, plus the stand-in's URL and key unless the row spells them, and no
    retries unless the row sets them."""
    kwargs: dict[str, Any] = {"max_retries": 0}
    if not BASE_SPELLINGS & row.keys():
        kwargs["base_url"] = URL
    if not KEY_SPELLINGS & row.keys():
        kwargs["api_key"] = KEY
    kwargs.update(row)
    values = {URL: standin.base_url, KEY: standin.api_key}
    return {k: values.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}


def _build(adapter: str, kwargs: dict[str, Any]) -> Any:
    return ChatModelsLab(**kwargs) if adapter == "langchain" else ModelsLab(**kwargs)


def _call(adapter: str, model: Any) -> None:
    if adapter == "langchain":
        model.invoke("hi")
    else:
        model.chat([ChatMessage(role="user", content="hi")])


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MODELSLAB_BASE_URL", "MODELSLAB_API_KEY", "MODELSLAB_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
@pytest.mark.parametrize(("keywords", "lc", "li"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_constructor_spelling(
    standin: StandIn, adapter: str, keywords: dict[str, Any], lc: Outcome, li: Outcome
) -> None:
    outcome = lc if adapter == "langchain" else li
    kwargs = _kwargs(keywords, standin)
    if isinstance(outcome, Raises):
        with pytest.raises(outcome.error, match=outcome.match):
            _build(adapter, kwargs)
        assert standin.requests == []
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = _build(adapter, kwargs)
    moved = [str(w.message) for w in caught if "transferred to model_kwargs" in str(w.message)]
    if isinstance(outcome, Moved):
        assert len(moved) == 1 and f"{outcome.name} was transferred" in moved[0], moved
        assert model.model_kwargs == {outcome.name: keywords[outcome.name]}
        _call(adapter, model)
        assert _last(standin).json[outcome.name] == keywords[outcome.name]
        return
    assert moved == []
    if isinstance(outcome, TimesOut):
        standin.enqueue(Fault.stall(2.0))
        with pytest.raises(core.APITimeoutError):
            _call(adapter, model)
    elif isinstance(outcome, Retried):
        standin.enqueue(Fault.status(500), Fault.status(500))
        with pytest.raises(core.InternalServerError):
            _call(adapter, model)
        assert len(standin.requests) == outcome.attempts
    else:
        _call(adapter, model)
        assert outcome.check(standin), f"{adapter}: expected {outcome.what}; got {standin.requests}"


def test_without_the_rows_the_settings_differ(standin: StandIn) -> None:
    """The rows' checks could fail: the defaults differ from what each row sets."""
    for model in (ChatModelsLab(**_kwargs({}, standin)), ModelsLab(**_kwargs({}, standin))):
        assert model.model != OTHER and model.max_tokens != 7 and model.timeout != 0.3
    assert standin.base_url != core.DEFAULT_BASE_URL
    assert ChatModelsLab().base_url == ModelsLab().api_base == core.DEFAULT_BASE_URL
    assert ChatModelsLab().api_key is None and ModelsLab().api_key is None
