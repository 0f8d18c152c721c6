"""Serialization: ``dumpd``/``loads`` without the key, pickling, and use in a process pool."""

from __future__ import annotations

import json
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps, load, loads

from langchain_modelslab import ChatModelsLab
from modelslab_core.testing import StandIn

SECRET = "sk-very-secret-123"

pytestmark = pytest.mark.filterwarnings(
    "ignore::langchain_core._api.beta_decorator.LangChainBetaWarning"
)


def _model(standin: StandIn, **kwargs: Any) -> ChatModelsLab:
    return ChatModelsLab(
        api_key=standin.api_key,
        base_url=standin.base_url,
        temperature=0.3,
        dialect="anthropic",
        max_in_flight=3,
        **kwargs,
    )


def test_dump_has_no_key_and_names_the_env_var() -> None:
    model = ChatModelsLab(api_key=SECRET, max_tokens=10)
    text = dumps(model)
    assert SECRET not in text
    assert SECRET not in repr(model) and SECRET not in str(model.asdict())
    data = json.loads(text)
    assert data["id"] == ["langchain_modelslab", "chat_models", "ChatModelsLab"]
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["MODELSLAB_API_KEY"]}


def test_loads_round_trip_with_key_from_env(
    standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(standin)
    monkeypatch.setenv("MODELSLAB_API_KEY", standin.api_key)
    revived = loads(
        dumps(model),
        allowed_objects=[ChatModelsLab],
        secrets_from_env=True,
        valid_namespaces=["langchain_modelslab"],
    )
    assert isinstance(revived, ChatModelsLab)
    assert revived.asdict() == model.asdict()
    assert revived.api_key is not None
    assert revived.api_key.get_secret_value() == standin.api_key
    assert revived.invoke("hi").text == "You said: hi"


def test_load_with_secrets_map(standin: StandIn) -> None:
    revived = load(
        dumpd(_model(standin)),
        allowed_objects=[ChatModelsLab],
        secrets_map={"MODELSLAB_API_KEY": standin.api_key},
        valid_namespaces=["langchain_modelslab"],
    )
    assert revived.invoke("hi").text == "You said: hi"


def test_http_clients_are_not_serialized(standin: StandIn) -> None:
    with httpx.Client() as client:
        model = _model(standin, http_client=client)
        assert "http_client" not in dumpd(model)["kwargs"]
        assert model.invoke("hi").text == "You said: hi"
        clone = pickle.loads(pickle.dumps(model))
        assert clone.http_client is None
        assert clone.invoke("hi").text == "You said: hi"


def test_pickle_after_use(standin: StandIn) -> None:
    model = _model(standin)
    model.invoke("hi")
    clone = pickle.loads(pickle.dumps(model))
    assert clone.asdict() == model.asdict()
    assert clone.invoke("hello").text == "You said: hello"


async def test_pickle_after_async_use(standin: StandIn) -> None:
    model = _model(standin)
    await model.ainvoke("hi")
    clone = pickle.loads(pickle.dumps(model))
    assert (await clone.ainvoke("hey")).text == "You said: hey"


def _ask(model: ChatModelsLab, prompt: str) -> str:
    return model.invoke(prompt).text


def test_process_pool(standin: StandIn) -> None:
    model = _model(standin)
    model.invoke("warm up")  # a used instance (with live clients) still ships to workers
    prompts = [f"prompt {i}" for i in range(4)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(_ask, [model] * len(prompts), prompts))
    assert answers == [f"You said: {p}" for p in prompts]
