"""What the stand-in bills and what a request reserves, for the hard-budget tests."""

from __future__ import annotations

from decimal import Decimal

from modelslab_core import ChatRequest, resolve_model
from modelslab_core.cost.charge import _worst_case
from modelslab_core.cost.pricing import ModelPricing, cost_of, exact_sum
from modelslab_core.dialects import codec_for
from modelslab_core.testing import StandIn
from modelslab_core.types import Usage

from .pricing import SEED_PRICE

__all__ = ["billed_cost", "worst_case"]


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
