"""The price facts the cost tests share: the seed model's documented price and one call's cost."""

from __future__ import annotations

from decimal import Decimal

from modelslab_core.cost.pricing import ModelPricing

__all__ = ["ONE", "OTHER", "PROMPT", "SEED_PRICE"]

SEED_PRICE = ModelPricing.per_million("0.051", "0.34")
"""meta-llama-llama-3.2-3b-instruct: $0.051 / $0.34 per 1M tokens (its model page)."""
OTHER = "qwen-qwen2.5-7b-instruct"
"""A model the shipped catalog does not price."""
PROMPT = "say one two three"
ONE = Decimal("0.000001224")
"""PROMPT's cost on the stand-in: 4 words in, 3 out, at SEED_PRICE."""
