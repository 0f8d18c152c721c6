"""The model catalog: the shipped file, user files, ``/v1/models`` entries, layering, unknowns."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from modelslab_core import ModelsLabClient
from modelslab_core.cost.catalog import (
    CATALOG_ENV,
    FACTS,
    CatalogError,
    ModelFacts,
    facts_from_listing,
    load_catalog,
    remember_listing,
    resolve_model,
    shipped_catalog,
)
from modelslab_core.cost.pricing import ModelPricing
from modelslab_core.testing import StandIn
from modelslab_core.types import ModelInfo

SEED = "meta-llama-llama-3.2-3b-instruct"
OTHER = "qwen-qwen2.5-7b-instruct"
ROUTER = "https://router.example/api/v7/llm"
OPENROUTER_ENTRY: dict[str, Any] = {
    "id": OTHER,
    "name": "Qwen 2.5 7B Instruct",
    "context_length": 32768,
    "pricing": {"prompt": "0.00000004", "completion": "0.0000001", "image": "0"},
    "top_provider": {"context_length": 32768, "max_completion_tokens": 4096},
    "supported_parameters": ["tools", "tool_choice", "response_format", "max_tokens"],
    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
}


def write_catalog(path: Path, models: dict[str, Any]) -> str:
    path.write_text(json.dumps({"format": 1, "models": models}), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- shipped file


def test_shipped_seed_model_has_exactly_the_documented_facts() -> None:
    facts = shipped_catalog().get(SEED)
    assert facts is not None
    assert facts.known() == {
        "name": "Llama 3.2 3B Instruct",
        "context_window": 128_000,
        "tool_calling": True,
        "json_mode": True,
        "pricing": ModelPricing.per_million("0.051", "0.34"),
    }
    assert facts.pricing == ModelPricing(
        input_per_token=Decimal("0.000000051"), output_per_token=Decimal("0.00000034")
    )
    # Undocumented: unknown, not false.
    assert facts.structured_output is facts.image_input is facts.max_output_tokens is None


def test_every_shipped_fact_names_its_source() -> None:
    catalog = shipped_catalog()
    assert len(catalog) >= 1
    for facts in catalog:
        assert set(facts.sources) == set(facts.known()), facts.id
        assert all("MODELSLAB_API.md" in source for source in facts.sources.values())


def test_shipped_file_is_in_the_package_data() -> None:
    import modelslab_core

    path = Path(modelslab_core.__file__).parent / "data" / "models.json"
    assert load_catalog(path).get(SEED) == shipped_catalog().get(SEED)


def test_unknown_model_gets_no_facts() -> None:
    assert shipped_catalog().get(OTHER) is None
    assert resolve_model(OTHER) is None
    assert resolve_model(OTHER, base_url=ROUTER) is None


# --------------------------------------------------------------------------- user files


def test_user_file_extends_and_overrides_fact_by_fact(tmp_path: Path) -> None:
    path = write_catalog(
        tmp_path / "mine.json",
        {
            SEED: {"context_window": 4096, "structured_output": True},
            OTHER: {"input_price_per_token": "0.0000002", "output_price_per_token": "0.0000004"},
        },
    )
    seed = resolve_model(SEED, catalog_file=path)
    assert seed is not None
    assert (seed.context_window, seed.structured_output) == (4096, True)
    assert seed.pricing == ModelPricing.per_million("0.051", "0.34")  # kept from the shipped file
    assert seed.sources["context_window"] == f"catalog file {path}"
    assert "MODELSLAB_API.md" in seed.sources["pricing"]
    other = resolve_model(OTHER, catalog_file=path)
    assert other is not None and other.known() == {"pricing": ModelPricing.per_million(0.2, 0.4)}


def test_user_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_catalog(tmp_path / "env.json", {OTHER: {"context_window": 1000}})
    monkeypatch.setenv(CATALOG_ENV, path)
    facts = resolve_model(OTHER)
    assert facts is not None and facts.context_window == 1000


def test_user_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = write_catalog(tmp_path / "c.json", {OTHER: {"context_window": 1000}})
    assert resolve_model(OTHER, catalog_file=path).context_window == 1000  # type: ignore[union-attr]
    write_catalog(tmp_path / "c.json", {OTHER: {"context_window": 2000}})
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert resolve_model(OTHER, catalog_file=path).context_window == 2000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"models": []}', "'models' object"),
        ('{"models": {"m": {"context_window": 0}}}', "model 'm'"),
        ('{"models": {"m": {"context_size": 10}}}', "context_size"),
        ('{"models": {"m": {"input_price_per_token": "1"}}}', "give both"),
        ('{"models": {"m": {"input_price_per_token": "x", "output_price_per_token": "1"}}}', "'x'"),
        ('{"models": {"m": {"input_price_per_token": "-1", "output_price_per_token": "1"}}}', "m"),
    ],
)
def test_bad_user_file_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CatalogError, match=str(path)) as caught:
        resolve_model(SEED, catalog_file=path)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_missing_user_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot be read"):
        resolve_model(SEED, catalog_file=tmp_path / "nope.json")


# --------------------------------------------------------------------------- /v1/models


def test_openrouter_style_entry_is_read() -> None:
    facts = facts_from_listing(ModelInfo.model_validate(OPENROUTER_ENTRY), "listing")
    assert facts.known() == {
        "name": "Qwen 2.5 7B Instruct",
        "context_window": 32768,
        "max_output_tokens": 4096,
        "tool_calling": True,
        "json_mode": True,
        "structured_output": False,
        "image_input": False,
        "pricing": ModelPricing(
            input_per_token=Decimal("0.00000004"), output_per_token=Decimal("0.0000001")
        ),
    }
    assert set(facts.sources.values()) == {"listing"}


LLAMA_CPP_ENTRY = {  # what llama.cpp's llama-server (build 11434) lists for its model
    "id": "qwen2.5-coder-0.5b-instruct",
    "aliases": ["qwen2.5-coder-0.5b-instruct"],
    "tags": [],
    "object": "model",
    "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
    "created": 1796546804,
    "owned_by": "llamacpp",
    "meta": {
        "vocab_type": 2,
        "n_vocab": 151936,
        "n_ctx": 8192,
        "n_ctx_train": 32768,
        "n_embd": 896,
        "n_params": 630167424,
        "size": 485452288,
        "ftype": "Q4_K - Medium",
    },
}


def test_llama_cpp_entry_gives_the_context_the_server_serves() -> None:
    """``meta.n_ctx`` (the server's -c) wins over ``meta.n_ctx_train`` (the model's)."""
    facts = facts_from_listing(ModelInfo.model_validate(LLAMA_CPP_ENTRY), "listing")
    assert facts.known() == {"context_window": 8192, "image_input": False}
    trained_only = {**LLAMA_CPP_ENTRY, "meta": {"n_ctx_train": 32768}}
    assert facts_from_listing(trained_only, "listing").context_window == 32768
    explicit = {**LLAMA_CPP_ENTRY, "context_length": 4096}
    assert facts_from_listing(explicit, "listing").context_window == 4096


@pytest.mark.parametrize(
    "entry",
    [
        {"id": OTHER, "object": "model", "created": 1, "owned_by": "qwen"},
        {"id": OTHER, "meta": {"n_ctx": 0, "n_ctx_train": "big"}},
        {"id": OTHER, "meta": [8192]},
        {"id": OTHER, "context_length": "lots", "pricing": {"prompt": "-1", "completion": "-1"}},
        {"id": OTHER, "context_length": True, "pricing": {"prompt": "0.1"}, "top_provider": 5},
        {"id": OTHER, "context_length": -5, "pricing": "cheap", "supported_parameters": "tools"},
        {"id": OTHER, "architecture": {"input_modalities": None}, "name": 7},
    ],
)
def test_malformed_listing_fields_are_unknown(entry: dict[str, Any]) -> None:
    assert facts_from_listing(entry, "listing").known() == {}


def test_listing_wins_over_shipped_file_and_loses_to_user_file(tmp_path: Path) -> None:
    remember_listing(
        ROUTER,
        [
            ModelInfo.model_validate(
                {
                    "id": SEED,
                    "context_length": 131072,
                    "pricing": {"prompt": "1E-7", "completion": "2E-7"},
                }
            )
        ],
    )
    listed = resolve_model(SEED, base_url=ROUTER)
    assert listed is not None
    assert listed.context_window == 131072
    assert listed.pricing == ModelPricing.per_million("0.1", "0.2")
    assert listed.sources["context_window"] == f"GET {ROUTER}/v1/models"
    assert listed.name == "Llama 3.2 3B Instruct"  # not in the listing: the shipped fact stays
    assert resolve_model(SEED).context_window == 128_000  # type: ignore[union-attr]  # other URL
    path = write_catalog(tmp_path / "mine.json", {SEED: {"context_window": 5000}})
    mine = resolve_model(SEED, base_url=ROUTER, catalog_file=path)
    assert mine is not None and mine.context_window == 5000
    assert mine.pricing == ModelPricing.per_million("0.1", "0.2")
    priced = resolve_model(
        SEED, base_url=ROUTER, catalog_file=path, pricing=ModelPricing.per_million(3, 4)
    )
    assert priced is not None and priced.pricing == ModelPricing.per_million(3, 4)
    assert priced.sources["pricing"] == "pricing= setting"


def test_pricing_setting_makes_an_unknown_model_priced() -> None:
    facts = resolve_model(OTHER, pricing=ModelPricing.per_million(1, 2))
    assert facts == ModelFacts(
        id=OTHER, pricing=ModelPricing.per_million(1, 2), sources={"pricing": "pricing= setting"}
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_client_list_models_feeds_the_catalog(standin: StandIn, mode: str) -> None:
    standin.model_details = {OTHER: OPENROUTER_ENTRY}
    config = {"api_key": standin.api_key, "base_url": standin.base_url}
    if mode == "sync":
        models = ModelsLabClient(**config).list_models()
    else:
        from modelslab_core import AsyncModelsLabClient

        models = await AsyncModelsLabClient(**config).list_models()
    entry = next(m for m in models if m.id == OTHER)
    assert entry.model_dump()["context_length"] == 32768
    facts = resolve_model(OTHER, base_url=standin.base_url)
    assert facts is not None and facts.context_window == 32768 and facts.max_output_tokens == 4096
    assert resolve_model(SEED, base_url=standin.base_url) == shipped_catalog().get(SEED)


def test_merged_keeps_known_facts() -> None:
    base = ModelFacts(id="m", context_window=10, tool_calling=True, sources={"context_window": "a"})
    top = ModelFacts(id="m", tool_calling=False, sources={"tool_calling": "b"})
    merged = base.merged(top)
    assert merged.known() == {"context_window": 10, "tool_calling": False}
    assert merged.sources == {"context_window": "a", "tool_calling": "b"}
    assert base.merged(ModelFacts(id="m")) is base
    assert set(FACTS) == set(ModelFacts.model_fields) - {"id", "sources"}
