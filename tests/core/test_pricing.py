"""Exact money: prices per token, a call's cost, the shapes tracing tools take."""

from __future__ import annotations

import pickle
from decimal import Decimal
from fractions import Fraction

import pytest
from _support.pricing import SEED_PRICE
from hypothesis import given
from hypothesis import strategies as st

from modelslab_core.cost.budget import BudgetExceededError
from modelslab_core.cost.pricing import Cost, ModelPricing, cost_of, usd
from modelslab_core.types import Usage


def test_per_million_is_exact() -> None:
    assert SEED_PRICE.input_per_token == Decimal("0.000000051")
    assert SEED_PRICE.output_per_token == Decimal("0.00000034")
    assert ModelPricing.per_million(0.051, 0.34) == SEED_PRICE  # floats by their shortest repr
    assert str(SEED_PRICE) == "$0.051 / 1M input tokens, $0.34 / 1M output tokens"


@pytest.mark.parametrize("bad", [-1, "-0.1", "NaN", "Infinity", "abc", True, None, [1]])
def test_bad_prices_are_rejected(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        ModelPricing(input_per_token=bad, output_per_token=0)


def test_cost_is_usage_times_price() -> None:
    cost = cost_of(Usage(input_tokens=1500, output_tokens=9, total_tokens=1509), SEED_PRICE)
    assert cost == Cost(
        input=Decimal("0.0000765"), output=Decimal("0.00000306"), total=Decimal("0.00007956")
    )
    assert cost.as_metadata() == {
        "input_cost": "0.0000765",
        "output_cost": "0.00000306",
        "total_cost": "0.00007956",
        "currency": "USD",
    }
    assert Cost.from_metadata(cost.as_metadata()) == cost
    assert str(cost) == "$0.00007956 (input $0.0000765, output $0.00000306)"


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=1000, places=12, allow_nan=False, allow_infinity=False),
)
def test_cost_has_no_rounding(n_in: int, n_out: int, p_in: Decimal, p_out: Decimal) -> None:
    pricing = ModelPricing(input_per_token=p_in, output_per_token=p_out)
    cost = cost_of(Usage(input_tokens=n_in, output_tokens=n_out), pricing)
    assert Fraction(cost.input) == n_in * Fraction(p_in)
    assert Fraction(cost.output) == n_out * Fraction(p_out)
    assert Fraction(cost.total) == n_in * Fraction(p_in) + n_out * Fraction(p_out)


def test_costs_add_exactly_and_render_for_each_tool() -> None:
    one = cost_of(Usage(input_tokens=3, output_tokens=2), SEED_PRICE)
    total = one + one + one
    assert total.total == Decimal("0.000000833") * 3
    assert one.langsmith_usage() == {
        "input_cost": 1.53e-07,
        "output_cost": 6.8e-07,
        "total_cost": 8.33e-07,
    }
    assert one.langfuse_cost_details() == {"input": 1.53e-07, "output": 6.8e-07, "total": 8.33e-07}
    assert one.openinference_attributes() == {
        "llm.cost.prompt": 1.53e-07,
        "llm.cost.completion": 6.8e-07,
        "llm.cost.total": 8.33e-07,
    }


def test_usd_never_uses_an_exponent() -> None:
    assert usd(Decimal("5.1E-8")) == "0.000000051"
    assert usd(Decimal("1E+3")) == "1000"
    assert usd(Decimal("0.000")) == "0"


def test_budget_error_names_spend_and_limit_and_pickles() -> None:
    error = BudgetExceededError(
        Decimal("0.0000012"), Decimal("0.000002"), Decimal("0.0000005"), Decimal("0.0000004")
    )
    assert str(error) == (
        "Budget exceeded: $0.0000012 spent and $0.0000005 reserved of a $0.000002 budget; "
        "this request may cost up to $0.0000004; the request was not sent"
    )
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.spent, clone.budget, clone.reserved, clone.needed, str(clone)) == (
        error.spent,
        error.budget,
        error.reserved,
        error.needed,
        str(error),
    )
