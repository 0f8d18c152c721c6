"""Totals and budgets over a block of LangChain code: `get_modelslab_callback`.

>>> with get_modelslab_callback(budget="0.05") as cb:     # doctest: +SKIP
...     agent.invoke({"messages": [...]})
>>> cb.total_cost, cb.usage_metadata                       # doctest: +SKIP

In the spirit of ``get_openai_callback`` (the same attribute names) and
``get_usage_metadata_callback`` (``usage_metadata`` per model), but counted by the core client
itself rather than by a callback handler: every ModelsLab request made in the block counts,
whatever runs it (``invoke``, ``batch``, streams, ``create_agent``, LangGraph), in every thread
and task that inherits the block's context, and no handler is attached to the runs (so streams
keep their fast path). With a ``budget`` (US dollars), a request made once the block's spend
has reached it fails with `modelslab_core.BudgetExceededError` before it is sent; see
`modelslab_core.budget` for what holds when calls run concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import cast

from langchain_core.messages.ai import UsageMetadata

from modelslab_core.budget import SpendLedger, track_spend
from modelslab_core.pricing import Cost, usd

__all__ = ["ModelsLabCallback", "get_modelslab_callback"]


class ModelsLabCallback(SpendLedger):
    """Tokens and exact cost of the ModelsLab calls of a `get_modelslab_callback` block."""

    @property
    def prompt_tokens(self) -> int:
        """Input tokens over every model."""
        return sum(spend.input_tokens for spend in self.by_model.values())

    @property
    def completion_tokens(self) -> int:
        """Output tokens over every model."""
        return sum(spend.output_tokens for spend in self.by_model.values())

    @property
    def total_tokens(self) -> int:
        """All tokens over every model."""
        return sum(spend.total_tokens for spend in self.by_model.values())

    @property
    def successful_requests(self) -> int:
        """Answers received."""
        return sum(spend.requests for spend in self.by_model.values())

    @property
    def total_cost(self) -> Decimal:
        """Dollars spent (exact)."""
        return self.spent

    @property
    def cost_by_model(self) -> dict[str, Cost]:
        """The exact cost per model id."""
        return {name: spend.cost for name, spend in self.by_model.items()}

    @property
    def usage_metadata(self) -> dict[str, UsageMetadata]:
        """Token usage per model id, as ``get_usage_metadata_callback`` reports it."""
        return {
            name: cast(
                "UsageMetadata",
                {
                    "input_tokens": spend.input_tokens,
                    "output_tokens": spend.output_tokens,
                    "total_tokens": spend.total_tokens,
                },
            )
            for name, spend in self.by_model.items()
        }

    def __repr__(self) -> str:
        budget = "" if self.budget is None else f" of a ${usd(self.budget)} budget"
        return (
            f"Tokens Used: {self.total_tokens}\n"
            f"\tPrompt Tokens: {self.prompt_tokens}\n"
            f"\tCompletion Tokens: {self.completion_tokens}\n"
            f"Successful Requests: {self.successful_requests}\n"
            f"Total Cost (USD): ${usd(self.total_cost)}{budget}"
        )


@contextmanager
def get_modelslab_callback(
    budget: Decimal | str | int | float | None = None,
) -> Iterator[ModelsLabCallback]:
    """Count the tokens and cost of the ModelsLab calls made in the block, per model; with a
    ``budget`` in US dollars, refuse requests once the block's spend has reached it."""
    callback = ModelsLabCallback(budget)
    with track_spend(ledger=callback):
        yield callback
