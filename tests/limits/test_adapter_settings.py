"""Both adapters hand the shared-limit settings to the core config, and keep the Redis URL
(which may carry a password) out of reprs and serialized forms."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
from langchain_core.load import dumps

from langchain_modelslab import ChatModelsLab
from llama_index_modelslab import ModelsLab
from modelslab_core import LocalLimiter, RedisLimiter
from modelslab_core.limits import limiter_for

URL = "redis://:pw-7Hq2@127.0.0.1:1/0"


def test_langchain_passes_the_settings_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSLAB_IN_FLIGHT_URL", raising=False)
    default = ChatModelsLab(api_key="k")._client_config()
    assert default.in_flight_backend is None
    assert (default.in_flight_lease, default.in_flight_wait_timeout) == (30.0, 600.0)
    assert default.in_flight_retry_window == 2.0
    model = ChatModelsLab(
        api_key="k",
        in_flight_backend=URL,
        in_flight_lease=5,
        in_flight_fallback=True,
        in_flight_retry_window=0.5,
        in_flight_wait_timeout=2,
    )
    config = model._client_config()
    assert config.in_flight_backend == URL and config.in_flight_lease == 5.0
    assert config.in_flight_fallback and config.in_flight_wait_timeout == 2.0
    assert config.in_flight_retry_window == 0.5
    limiter = limiter_for(config)
    assert isinstance(limiter, RedisLimiter) and limiter.fallback and limiter.lease == 5.0
    assert limiter.retry_window == 0.5
    assert pickle.loads(pickle.dumps(limiter)) is limiter  # the same settings: the same limiter
    model.in_flight_backend = "local"  # a changed setting rebuilds the config
    assert model._client_config().in_flight_backend == "local"
    assert "pw-7Hq2" not in repr(model) + dumps(ChatModelsLab(api_key="k", in_flight_backend=URL))


def test_llama_index_passes_the_settings_through() -> None:
    shared = LocalLimiter()
    llm = ModelsLab(
        api_key="k",
        in_flight_backend=shared,
        client_options={
            "in_flight_wait_timeout": 3,
            "in_flight_lease": 4,
            "in_flight_retry_window": 0,
        },
    )
    config = llm.client_config()
    assert config.in_flight_backend is shared and limiter_for(config) is shared
    assert (config.in_flight_wait_timeout, config.in_flight_lease) == (3.0, 4.0)
    assert config.in_flight_retry_window == 0.0
    with_url = ModelsLab(api_key="k", in_flight_backend=URL)
    assert "pw-7Hq2" not in repr(with_url) + with_url.to_json()


def test_the_env_var_reaches_both_adapters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSLAB_IN_FLIGHT_URL", "redis://127.0.0.1:3/0")
    for config in (
        ChatModelsLab(api_key="k")._client_config(),
        ModelsLab(api_key="k").client_config(),
    ):
        assert isinstance(limiter_for(config), RedisLimiter)


def test_a_bad_retry_window_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="in_flight_retry_window"):
        ChatModelsLab(api_key="k", in_flight_retry_window=-1)._client_config()
    with pytest.raises(ValueError, match="retry_window"):
        RedisLimiter(URL, retry_window=float("nan"))


def test_an_infinite_wait_timeout_means_no_deadline() -> None:
    limiter = LocalLimiter()
    held = limiter.slot("a", 1)
    held.__enter__()
    threading.Timer(0.2, held.__exit__, args=(None, None, None)).start()
    started = time.monotonic()
    with limiter.slot("a", 1, timeout=float("inf")):
        assert time.monotonic() - started >= 0.15
