"""The worked example ``notebooks/cost_and_budget.ipynb``, run as a reader without a key runs
it: the notebook starts the stand-in itself (`modelslab_core.testing.StandIn`, in its kernel)
and the test reads what each section left there."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from _support.notebook_run import notebook

MODELSLAB_VARIABLES = (
    "MODELSLAB_API_KEY",
    "MODELSLAB_BASE_URL",
    "MODELSLAB_MODEL",
    "MODELSLAB_MODEL_CATALOG",
)


def test_cost_and_budget_notebook() -> None:
    with notebook("cost_and_budget", dict.fromkeys(MODELSLAB_VARIABLES)) as nb:
        nb.run_through("Setup")
        assert nb.output("Setup") == "No MODELSLAB_API_KEY: requests go to the offline stand-in\n"

        nb.run_through("What the catalog knows")
        assert nb.value("facts is not None and facts.pricing is not None") is True
        profile = nb.value("llm.profile")
        assert profile["name"] == "Llama 3.2 3B Instruct"
        assert profile["max_input_tokens"] == nb.value("facts.context_window") == 128000
        printed = nb.output("What the catalog knows")
        assert "Price: $0.051 / 1M input tokens, $0.34 / 1M output tokens" in printed
        assert "  pricing: ModelsLab model page" in printed  # each fact names its source

        nb.run_through("What one call cost")
        usage = nb.value("usage")
        prices = nb.value(
            "[str(facts.pricing.input_per_token), str(facts.pricing.output_per_token)]"
        )
        cost = nb.value("[str(cost.input), str(cost.output), str(cost.total)]")
        expected_in = usage["input_tokens"] * Decimal(prices[0])
        expected_out = usage["output_tokens"] * Decimal(prices[1])
        assert [Decimal(c) for c in cost] == [expected_in, expected_out, expected_in + expected_out]
        printed = nb.output("What one call cost")
        assert "cost $0.000002006 (input $0.000000306, output $0.0000017)" in printed

        nb.run_through("A budget stops a LangChain agent")
        first_turn = Decimal(nb.value("str(first_turn)"))
        assert first_turn > 0
        assert nb.value("type(agent_stop).__name__") == "BudgetExceededError"
        assert nb.value("[cb.requests_sent, cb.requests_refused]") == [1, 1]
        assert Decimal(nb.value("str(cb.total_cost)")) <= first_turn  # billed within the budget
        assert "Agent stopped: Budget exceeded:" in nb.output("A budget stops a LangChain agent")

        nb.run_through("LlamaIndex: costs and budgets")
        assert nb.value("li_llm.metadata.context_window") == 128000
        assert nb.value("response_cost(li_response) is not None") is True
        assert nb.value("type(li_stop).__name__") == "BudgetExceededError"
        assert nb.value("costs.requests_refused") == 1
        assert Decimal(nb.value("str(costs.total_cost)")) <= Decimal(
            nb.value("str(li_first_turn)")
        )
        assert "FunctionAgent stopped:" in nb.output("LlamaIndex: costs and budgets")
        # One call, then each agent's first turn; neither agent's second turn was sent.
        assert nb.value("len(standin.requests)") == 4

        base_url = nb.value("standin.base_url")
        nb.run_through(None)
        with pytest.raises(httpx.ConnectError):  # the clean-up cell stopped the stand-in
            httpx.get(base_url + "/v1/models", timeout=5)
        assert nb.errors() == []
