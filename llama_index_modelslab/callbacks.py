"""Totals and budgets over a block of LlamaIndex code: `track_costs`.

```python
from llama_index_modelslab import ModelsLab, track_costs

llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")
with track_costs(budget="0.05") as costs:
    llm.complete("Hello")  # or a FunctionAgent run, a stream...
print(costs.total_cost, costs.total_llm_token_count)
```

The counts have the names of LlamaIndex's ``TokenCountingHandler`` (``prompt_llm_token_count``,
``completion_llm_token_count``, ``total_llm_token_count``) plus the exact cost, per model too.
They are recorded by the core client itself, not by a callback or instrumentation handler:
every ModelsLab request of the block counts (chat, complete, streams, structured output,
``FunctionAgent`` and other workflows), in every asyncio task and context-copying thread the
block starts, and none is attached to a ``CallbackManager`` or dispatcher (a registered
handler would also be global, not scoped to the block, and would turn off the LLM's
unobserved fast path). With a ``budget`` (US dollars), a request whose worst case (its input
bound plus ``max_tokens`` of output) no longer fits what is left of it (spend and the
reservations of requests under way deducted) fails with `modelslab_core.BudgetExceededError` before it is sent, so what ModelsLab bills
never exceeds the budget, however many calls run at once; see `modelslab_core.cost.budget`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

from modelslab_core.cost.budget import SpendLedger, spending
from modelslab_core.cost.pricing import Cost
from modelslab_core.cost.redis_budget import RedisBudgetBackend

__all__ = ["ModelsLabCostHandler", "response_cost", "track_costs"]


class ModelsLabCostHandler(SpendLedger):
    """Tokens and exact cost of the ModelsLab calls of a `track_costs` block, with
    ``TokenCountingHandler``'s names plus ``total_cost`` and ``costs_by_model``; see
    `SpendLedger` for the rest (``budget``, ``remaining``, ``requests_sent``, ...)."""

    prompt_llm_token_count = SpendLedger.input_tokens
    completion_llm_token_count = SpendLedger.output_tokens
    total_llm_token_count = SpendLedger.total_tokens
    total_cost = SpendLedger.spent
    costs_by_model = SpendLedger.cost_by_model


def track_costs(
    budget: Decimal | str | int | float | None = None,
    *,
    shared: str | None = None,
    budget_backend: str | RedisBudgetBackend | None = None,
    count_input_tokens: bool = False,
) -> AbstractContextManager[ModelsLabCostHandler]:
    """Count the tokens and cost of the ModelsLab calls made in the block, per model; with a
    ``budget`` in US dollars, what ModelsLab bills for them never exceeds it (a request whose
    worst case does not fit is refused before it is sent). ``shared="name"``: one budget for
    every process that opens that name (Redis: ``budget_backend=`` or
    ``MODELSLAB_IN_FLIGHT_URL``); ``count_input_tokens``: bound inputs by ``count_tokens``
    instead of their bytes (see `modelslab_core.SpendLedger`)."""
    return spending(
        ModelsLabCostHandler(
            budget,
            shared=shared,
            budget_backend=budget_backend,
            count_input_tokens=count_input_tokens,
        )
    )


def response_cost(response: ChatResponse | CompletionResponse) -> Cost | None:
    """The exact `Cost` a `ModelsLab` response carries in ``additional_kwargs["cost"]``
    (None when it has none: no usage reported, or no price known for the model). Streams
    carry it on their last response."""
    data = response.additional_kwargs.get("cost")
    return Cost.from_metadata(data) if isinstance(data, dict) else None
