"""Totals and budgets over a block of LlamaIndex code: `track_costs`.

>>> with track_costs(budget="0.05") as costs:             # doctest: +SKIP
...     await FunctionAgent(tools=[...], llm=llm).run("...")
>>> costs.total_cost, costs.total_llm_token_count           # doctest: +SKIP

The counts have the names of LlamaIndex's ``TokenCountingHandler`` (``prompt_llm_token_count``,
``completion_llm_token_count``, ``total_llm_token_count``) plus the exact cost, per model too.
They are recorded by the core client itself, not by a callback or instrumentation handler:
every ModelsLab request of the block counts (chat, complete, streams, structured output,
``FunctionAgent`` and other workflows), in every asyncio task and context-copying thread the
block starts, and none is attached to a ``CallbackManager`` or dispatcher (a registered
handler would also be global, not scoped to the block, and would turn off the LLM's
unobserved fast path). With a ``budget`` (US dollars), a request made once the block's spend
has reached it fails with `modelslab_core.BudgetExceededError` before it is sent; see
`modelslab_core.budget` for what holds when calls run concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

from modelslab_core.budget import SpendLedger, track_spend
from modelslab_core.pricing import Cost, usd

__all__ = ["ModelsLabCostHandler", "response_cost", "track_costs"]


class ModelsLabCostHandler(SpendLedger):
    """Tokens and exact cost of the ModelsLab calls of a `track_costs` block."""

    @property
    def prompt_llm_token_count(self) -> int:
        """Input tokens over every model."""
        return sum(spend.input_tokens for spend in self.by_model.values())

    @property
    def completion_llm_token_count(self) -> int:
        """Output tokens over every model."""
        return sum(spend.output_tokens for spend in self.by_model.values())

    @property
    def total_llm_token_count(self) -> int:
        """All tokens over every model."""
        return sum(spend.total_tokens for spend in self.by_model.values())

    @property
    def total_cost(self) -> Decimal:
        """Dollars spent (exact)."""
        return self.spent

    @property
    def costs_by_model(self) -> dict[str, Cost]:
        """The exact cost per model id."""
        return {name: spend.cost for name, spend in self.by_model.items()}

    def __str__(self) -> str:
        budget = "" if self.budget is None else f" of a ${usd(self.budget)} budget"
        return (
            f"LLM tokens: {self.total_llm_token_count} (prompt {self.prompt_llm_token_count}, "
            f"completion {self.completion_llm_token_count}); cost ${usd(self.spent)}{budget}"
        )


@contextmanager
def track_costs(
    budget: Decimal | str | int | float | None = None,
) -> Iterator[ModelsLabCostHandler]:
    """Count the tokens and cost of the ModelsLab calls made in the block, per model; with a
    ``budget`` in US dollars, refuse requests once the block's spend has reached it."""
    handler = ModelsLabCostHandler(budget)
    with track_spend(ledger=handler):
        yield handler


def response_cost(response: ChatResponse | CompletionResponse) -> Cost | None:
    """The exact `Cost` a `ModelsLab` response carries in ``additional_kwargs["cost"]``
    (None when it has none: no usage reported, or no price known for the model). Streams
    carry it on their last response."""
    data = response.additional_kwargs.get("cost")
    return Cost.from_metadata(data) if isinstance(data, dict) else None
