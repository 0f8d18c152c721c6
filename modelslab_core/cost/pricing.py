"""Money, exactly: per-token prices and what a call cost, as `Decimal` US dollars.

`ModelPricing` holds a model's price per input and per output token; `cost_of` multiplies the
token counts the server reported by those prices with no rounding at all (a `Decimal` context
that traps any inexact operation), so a cost is exactly usage x price. `Cost` is the figure
every answer carries; its helpers spell it the way each tracing tool takes client-computed
costs (LangSmith's ``usage_metadata`` cost keys, Langfuse's ``cost_details``, OpenInference's
``llm.cost.*`` span attributes). Pure: no I/O, no framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

if TYPE_CHECKING:
    from ..types import Usage

__all__ = ["ZERO_COST", "Cost", "ModelPricing", "cost_of", "exact_sum", "to_decimal", "usd"]

EXACT = Context(prec=200, traps=[Inexact, Rounded, InvalidOperation])
"""Arithmetic that raises instead of rounding (prices have few digits; 200 is plenty)."""

_MILLION = Decimal(1_000_000)


def to_decimal(value: Any, what: str = "price") -> Decimal:
    """``value`` (str, int, Decimal or float) as a finite `Decimal`; floats by their shortest
    repr, so ``0.051`` is ``Decimal("0.051")``, not the binary float's 50 digits."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise TypeError(f"{what} must be a number or a numeric string, got {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be finite, got {value!r}")
    return number


def usd(amount: Decimal) -> str:
    """``amount`` as plain digits, without trailing zeros or exponent: ``"0.000000051"``."""
    return format(amount.normalize(EXACT), "f")


def exact_sum(*amounts: Decimal) -> Decimal:
    """The exact sum of ``amounts``."""
    total = Decimal(0)
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total


class ModelPricing(BaseModel):
    """A model's prices in US dollars per token (``ModelPricing.per_million`` takes the
    per-1M-token prices that model pages show)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_token: Decimal = Field(ge=0)
    """Dollars per input (prompt) token."""
    output_per_token: Decimal = Field(ge=0)
    """Dollars per output (completion) token, reasoning tokens included."""
    currency: Literal["USD"] = "USD"

    @field_validator("input_per_token", "output_per_token", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Decimal:
        return to_decimal(value)

    @field_serializer("input_per_token", "output_per_token")
    def _plain(self, value: Decimal) -> str:
        return usd(value)

    @classmethod
    def per_million(cls, input: Any, output: Any) -> ModelPricing:
        """Pricing from dollars per 1M input and output tokens, e.g. ``("0.051", "0.34")``."""
        return cls(
            input_per_token=EXACT.divide(to_decimal(input), _MILLION),
            output_per_token=EXACT.divide(to_decimal(output), _MILLION),
        )

    def __str__(self) -> str:
        per_m_in = EXACT.multiply(self.input_per_token, _MILLION)
        per_m_out = EXACT.multiply(self.output_per_token, _MILLION)
        return f"${usd(per_m_in)} / 1M input tokens, ${usd(per_m_out)} / 1M output tokens"


class Cost(BaseModel):
    """What one call (or a sum of calls) cost, exactly, in US dollars."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Decimal
    """Cost of the input tokens."""
    output: Decimal
    """Cost of the output tokens."""
    total: Decimal
    """``input + output``."""
    currency: Literal["USD"] = "USD"

    def __str__(self) -> str:
        return f"${usd(self.total)} (input ${usd(self.input)}, output ${usd(self.output)})"

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            input=exact_sum(self.input, other.input),
            output=exact_sum(self.output, other.output),
            total=exact_sum(self.total, other.total),
        )

    def as_metadata(self) -> dict[str, str]:
        """The exact figures as strings, JSON-safe (what messages and responses carry)."""
        return {
            "input_cost": usd(self.input),
            "output_cost": usd(self.output),
            "total_cost": usd(self.total),
            "currency": self.currency,
        }

    @classmethod
    def from_metadata(cls, data: Mapping[str, Any]) -> Cost:
        """The `Cost` that `as_metadata` wrote."""
        return cls(
            input=to_decimal(data["input_cost"], "input_cost"),
            output=to_decimal(data["output_cost"], "output_cost"),
            total=to_decimal(data["total_cost"], "total_cost"),
        )

    def langsmith_usage(self) -> dict[str, float]:
        """LangSmith's ``usage_metadata`` cost keys (floats, dollars), for a traced run."""
        return {
            "input_cost": float(self.input),
            "output_cost": float(self.output),
            "total_cost": float(self.total),
        }

    def langfuse_cost_details(self) -> dict[str, float]:
        """Langfuse's ``cost_details`` (dollars per usage type), for a generation."""
        return {
            "input": float(self.input),
            "output": float(self.output),
            "total": float(self.total),
        }

    def openinference_attributes(self) -> dict[str, float]:
        """OpenInference's ``llm.cost.*`` span attributes (dollars)."""
        return {
            "llm.cost.prompt": float(self.input),
            "llm.cost.completion": float(self.output),
            "llm.cost.total": float(self.total),
        }


ZERO_COST = Cost(input=Decimal(0), output=Decimal(0), total=Decimal(0))


def cost_of(usage: Usage, pricing: ModelPricing) -> Cost:
    """The exact cost of ``usage`` at ``pricing`` (input tokens include cached ones, output
    tokens include reasoning ones, as both dialects report them)."""
    input_cost = EXACT.multiply(Decimal(usage.input_tokens), pricing.input_per_token)
    output_cost = EXACT.multiply(Decimal(usage.output_tokens), pricing.output_per_token)
    return Cost(input=input_cost, output=output_cost, total=EXACT.add(input_cost, output_cost))
