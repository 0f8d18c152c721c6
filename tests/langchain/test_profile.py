"""``ChatModelsLab.profile`` from the model catalog, and what LangChain 1.x does with it:
``create_agent``'s structured-output strategy (checked on the wire) and
``SummarizationMiddleware``'s fractional trigger."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import SummarizationMiddleware
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel

from langchain_modelslab import ChatModelsLab, ModelPricing
from modelslab_core.cost.catalog import CATALOG_ENV
from modelslab_core.testing import StandIn

MakeModel = Callable[..., ChatModelsLab]
SEED = "meta-llama-llama-3.2-3b-instruct"
OTHER = "qwen-qwen2.5-7b-instruct"


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


def catalog(tmp_path: Path, models: dict[str, Any]) -> str:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": models}), encoding="utf-8")
    return str(path)


def test_profile_of_the_documented_model() -> None:
    assert ChatModelsLab(model=SEED).profile == {
        "name": "Llama 3.2 3B Instruct",
        "max_input_tokens": 128_000,
        "tool_calling": True,
    }


def test_unknown_model_has_no_profile() -> None:
    assert ChatModelsLab(model=OTHER).profile is None
    assert ChatModelsLab(model=OTHER, pricing=ModelPricing.per_million(1, 2)).profile is None


def test_own_profile_wins() -> None:
    assert ChatModelsLab(model=SEED, profile={"max_input_tokens": 10}).profile == {
        "max_input_tokens": 10
    }


def test_profile_from_a_user_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = catalog(tmp_path, {OTHER: {"context_window": 32768, "image_input": True}})
    assert ChatModelsLab(model=OTHER, catalog_file=path).profile == {
        "max_input_tokens": 32768,
        "image_inputs": True,
    }
    monkeypatch.setenv(CATALOG_ENV, path)
    assert ChatModelsLab(model=OTHER).profile == {"max_input_tokens": 32768, "image_inputs": True}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_listing_with_facts_refreshes_a_catalog_profile(
    standin: StandIn, make_model: MakeModel, mode: str
) -> None:
    standin.model_details = {
        OTHER: {
            "context_length": 32768,
            "top_provider": {"max_completion_tokens": 4096},
            "supported_parameters": ["tools", "response_format", "structured_outputs"],
        }
    }
    model, own = make_model(model=OTHER), make_model(model=OTHER, profile={"max_input_tokens": 9})
    assert model.profile is None
    for each in (model, own):
        each.list_models() if mode == "sync" else await each.alist_models()
    assert model.profile == {
        "max_input_tokens": 32768,
        "max_output_tokens": 4096,
        "tool_calling": True,
        "structured_output": True,
    }
    assert own.profile == {"max_input_tokens": 9}
    assert make_model(model=OTHER).profile == model.profile  # new instances see it too


# --------------------------------------------------------------------------- create_agent


def test_agent_uses_a_tool_strategy_when_native_output_is_unknown(
    standin: StandIn, make_model: MakeModel, dialect: str
) -> None:
    agent = create_agent(make_model(dialect=dialect), tools=[], response_format=City)
    result = agent.invoke({"messages": [HumanMessage("Paris is a city in France.")]})
    assert isinstance(result["structured_response"], City)
    body = standin.requests[0].json
    assert "response_format" not in body and "output_format" not in body
    names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
    assert names == ["City"]
    assert body["tool_choice"] in ("required", {"type": "any"})


def test_agent_uses_native_output_when_the_catalog_says_so(
    standin: StandIn, make_model: MakeModel, tmp_path: Path
) -> None:
    path = catalog(tmp_path, {SEED: {"structured_output": True}})
    model = make_model(catalog_file=path)
    assert model.profile is not None and model.profile["structured_output"] is True
    agent = create_agent(model, tools=[], response_format=City)
    result = agent.invoke({"messages": [HumanMessage("Paris is a city in France.")]})
    assert isinstance(result["structured_response"], City)
    body = standin.requests[0].json
    assert "tools" not in body
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "City"
    schema = body["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"name", "country"}


def test_anthropic_dialect_profile_keeps_the_tool_strategy(
    standin: StandIn, make_model: MakeModel, tmp_path: Path
) -> None:
    """``/v1/messages`` has no native JSON-schema answers (a schema goes as a forced tool)."""
    path = catalog(tmp_path, {SEED: {"structured_output": True}})
    model = make_model(dialect="anthropic", catalog_file=path)
    assert model.profile is not None and "structured_output" not in model.profile
    agent = create_agent(model, tools=[], response_format=City)
    result = agent.invoke({"messages": [HumanMessage("Paris is a city in France.")]})
    assert isinstance(result["structured_response"], City)
    body = standin.requests[0].json
    assert [t["name"] for t in body["tools"]] == ["City"]
    assert body["tool_choice"] == {"type": "any"}


# --------------------------------------------------------------------------- summarization


def _history(words: int) -> list[Any]:
    filler = " ".join(["lighthouse"] * words)
    return [
        HumanMessage(f"First question. {filler}"),
        AIMessage(f"First answer. {filler}"),
        HumanMessage("What did we talk about?"),
    ]


def test_fractional_summarization_needs_and_uses_the_catalog_window(
    standin: StandIn, make_model: MakeModel, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="profile"):
        SummarizationMiddleware(model=make_model(model=OTHER), trigger=("fraction", 0.5))
    model = make_model(catalog_file=catalog(tmp_path, {SEED: {"context_window": 400}}))
    assert model.profile is not None and model.profile["max_input_tokens"] == 400
    middleware = SummarizationMiddleware(
        model=model, trigger=("fraction", 0.5), keep=("messages", 1)
    )
    agent = create_agent(model, tools=[], middleware=[middleware])

    agent.invoke({"messages": _history(words=20)})  # ~137 tokens: under 50% of 400
    assert len(standin.requests) == 1
    assert len(standin.requests[0].json["messages"]) == 3

    standin.reset()
    agent.invoke({"messages": _history(words=150)})  # ~852 tokens: past 50% of 400
    summary_call, agent_call = (r.json for r in standin.requests)
    asked = json.dumps(summary_call["messages"])  # the summarizer gets the older messages
    assert "First question." in asked and "First answer." in asked
    assert "What did we talk about?" not in asked
    sent = agent_call["messages"]
    assert len(sent) == 2  # the summary in place of the two older messages, then the kept one
    assert "summary of the conversation" in json.dumps(sent[0]).lower()
    assert sent[-1]["content"] == "What did we talk about?"
