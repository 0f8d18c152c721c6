"""What the stand-in bills and what a request reserves, for the hard-budget tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from modelslab_core import BudgetExceededError, ChatRequest, resolve_model, track_spend
from modelslab_core.cost.charge import _worst_case
from modelslab_core.cost.pricing import ModelPricing, cost_of, exact_sum
from modelslab_core.dialects import codec_for
from modelslab_core.testing import StandIn
from modelslab_core.types import Usage

from .pricing import SEED_PRICE

__all__ = ["MIXED", "aneeded", "billed_cost", "needed", "worst_case"]


def billed_cost(standin: StandIn, prices: dict[str, ModelPricing] | None = None) -> Decimal:
    """What the stand-in would bill so far: each answer's usage x its model's price."""
    table = prices or {}
    return exact_sum(
        *(
            cost_of(
                Usage(input_tokens=b.input_tokens, output_tokens=b.output_tokens),
                table.get(b.model, SEED_PRICE),
            ).total
            for b in standin.billed
        )
    )


def worst_case(request: ChatRequest, dialect: str = "openai", *, stream: bool = False) -> Decimal:
    """The reservation the client makes for ``request`` (as it encodes it)."""
    wire = request.model_copy(update={"include_usage": True}) if stream else request
    body = codec_for(dialect).encode_request(wire, stream=stream)  # type: ignore[arg-type]
    return _worst_case(request.model, resolve_model(request.model), body, None).total


def needed(run: Callable[[], Any]) -> Decimal:
    """The worst case of the first request ``run`` makes (refused unsent under a $0 budget)."""
    with track_spend(budget=0):
        try:
            run()
        except BudgetExceededError as refused:
            assert refused.needed is not None
            return refused.needed
    raise AssertionError("a $0 budget let a request through")


async def aneeded(run: Callable[[], Awaitable[Any]]) -> Decimal:
    """`needed` for a coroutine."""
    with track_spend(budget=0):
        try:
            await run()
        except BudgetExceededError as refused:
            assert refused.needed is not None
            return refused.needed
    raise AssertionError("a $0 budget let a request through")


MIXED = [f"say {' '.join(['w'] * (4 + (i * 7) % 60))}" for i in range(24)]
"""24 prompts of mixed length: answers of 4 to 63 words."""
