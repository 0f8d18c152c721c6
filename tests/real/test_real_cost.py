"""Cost from the real usage numbers of the local llama.cpp server (its model alias is priced
through a user catalog file of this test only, never in the shipped catalog)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from real_env import server_values

from langchain_modelslab import ChatModelsLab, get_modelslab_callback, message_cost
from llama_index_modelslab import ModelsLab, response_cost
from modelslab_core.cost.catalog import shipped_catalog
from modelslab_core.cost.pricing import ModelPricing, cost_of
from modelslab_core.types import Usage

pytestmark = pytest.mark.real_model


def test_cost_from_real_usage(llama_server: Any, tmp_path: Path) -> None:
    server = server_values(llama_server)
    alias = server["model"]
    assert alias not in shipped_catalog()
    catalog = tmp_path / "local.json"
    catalog.write_text(
        json.dumps(
            {
                "models": {
                    alias: {
                        "context_window": 4096,
                        "input_price_per_token": "0.0000001",
                        "output_price_per_token": "0.0000004",
                    }
                }
            }
        ),
        encoding="utf-8",
    )
    price = ModelPricing.per_million("0.1", "0.4")
    common: dict[str, Any] = {"model": alias, "api_key": server["api_key"], "max_tokens": 8}
    common["catalog_file"] = str(catalog)
    llm = ChatModelsLab(base_url=server["base_url"], temperature=0, **common)
    assert llm.profile == {"max_input_tokens": 4096}
    with get_modelslab_callback() as cb:
        message = llm.invoke("Reply with one word: hello")
    usage = message.usage_metadata
    assert usage is not None and usage["input_tokens"] > 5 and usage["output_tokens"] > 0
    tokens = Usage(input_tokens=usage["input_tokens"], output_tokens=usage["output_tokens"])
    assert message_cost(message) == cost_of(tokens, price)
    assert cb.total_cost == cost_of(tokens, price).total
    li = ModelsLab(api_base=server["base_url"], **common)
    assert li.metadata.context_window == 4096
    last = list(li.stream_complete("Reply with one word: hi"))[-1]
    kw = last.additional_kwargs
    assert kw["prompt_tokens"] > 5 and kw["completion_tokens"] > 0
    li_tokens = Usage(input_tokens=kw["prompt_tokens"], output_tokens=kw["completion_tokens"])
    assert response_cost(last) == cost_of(li_tokens, price)
