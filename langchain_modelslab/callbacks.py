"""Totals and budgets over a block of LangChain code: `get_modelslab_callback`.

```python
from langchain_modelslab import ChatModelsLab, get_modelslab_callback

model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
with get_modelslab_callback(budget="0.05") as cb:
    model.invoke("Hello")  # or an agent, a batch, a stream...
print(cb.total_cost, cb.usage_metadata)
```

In the spirit of ``get_openai_callback`` (the same attribute names) and
``get_usage_metadata_callback`` (``usage_metadata`` per model), but counted by the core client
itself rather than by a callback handler: every ModelsLab request made in the block counts,
whatever runs it (``invoke``, ``batch``, streams, ``create_agent``, LangGraph), in every thread
and task that inherits the block's context, and no handler is attached to the runs (so streams
keep their fast path). With a ``budget`` (US dollars), a request whose worst case (its input
bound plus ``max_tokens`` of output) no longer fits what is left of it (spend and the
reservations of requests under way deducted) fails with `modelslab_core.BudgetExceededError` before it is sent, so what ModelsLab bills
never exceeds the budget, however many calls run at once; see `modelslab_core.cost.budget`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal
from typing import cast

from langchain_core.messages.ai import UsageMetadata

from modelslab_core.cost.budget import SpendLedger, spending
from modelslab_core.cost.pricing import usd
from modelslab_core.cost.redis_budget import RedisBudgetBackend

__all__ = ["ModelsLabCallback", "get_modelslab_callback"]


class ModelsLabCallback(SpendLedger):
    """Tokens and exact cost of the ModelsLab calls of a `get_modelslab_callback` block, with
    ``get_openai_callback``'s names (``total_tokens``, ``prompt_tokens``, ``completion_tokens``,
    ``successful_requests``, ``total_cost``) and ``get_usage_metadata_callback``'s
    ``usage_metadata`` per model; see `SpendLedger` for the rest (``cost_by_model``, ``budget``,
    ``remaining``, ``requests_sent``, ``requests_refused``)."""

    prompt_tokens = SpendLedger.input_tokens
    completion_tokens = SpendLedger.output_tokens
    successful_requests = SpendLedger.answers
    total_cost = SpendLedger.spent

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
        return (
            f"Tokens Used: {self.total_tokens}\n"
            f"\tPrompt Tokens: {self.input_tokens}\n"
            f"\tCompletion Tokens: {self.output_tokens}\n"
            f"Successful Requests: {self.answers}\n"
            f"Total Cost (USD): ${usd(self.spent)}{self._of_budget()}"
        )


def get_modelslab_callback(
    budget: Decimal | str | int | float | None = None,
    *,
    shared: str | None = None,
    budget_backend: str | RedisBudgetBackend | None = None,
    count_input_tokens: bool = False,
) -> AbstractContextManager[ModelsLabCallback]:
    """Count the tokens and cost of the ModelsLab calls made in the block, per model; with a
    ``budget`` in US dollars, what ModelsLab bills for them never exceeds it (a request whose
    worst case does not fit is refused before it is sent). ``shared="name"``: one budget for
    every process that opens that name (Redis: ``budget_backend=`` or
    ``MODELSLAB_IN_FLIGHT_URL``); ``count_input_tokens``: bound inputs by ``count_tokens``
    instead of their bytes (see `modelslab_core.SpendLedger`)."""
    return spending(
        ModelsLabCallback(
            budget,
            shared=shared,
            budget_backend=budget_backend,
            count_input_tokens=count_input_tokens,
        )
    )
