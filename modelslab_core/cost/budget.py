"""Spend over a block of code: tokens and cost per model, and an optional hard budget.

``with track_spend(budget="0.50") as ledger:`` opens a `SpendLedger` for the block. It lives in
a context variable, so everything that runs in the block's context shares it: asyncio tasks
created inside it and threads started with a copy of the context (LangChain's ``batch``
executor, ``asyncio.to_thread``, LangGraph and LlamaIndex workflow steps). A plain
``threading.Thread`` does not copy contexts: run it through ``contextvars.copy_context().run``.

**What ModelsLab bills for the requests of a block never exceeds its budget.** Before a chat
request is sent (and before a retry of one that may have been billed), it reserves its worst
case (`reservations`: its input bounded by its bytes, plus ``max_tokens`` of output at the
model's price); it is sent only when spend + open reservations + it fit the budget, else it
fails with `BudgetExceededError`, unsent. Its answer's usage settles the reservation to the
exact cost; a reservation whose usage never arrives (usage off, a stream closed early, a
connection lost after sending) stays as spend, so the ledger never counts less than was
billed. The trade-off: a larger ``max_tokens`` reserves more, so near the limit fewer calls
run at once.

``track_spend(budget, shared="name")`` keeps the totals in Redis (``MODELSLAB_IN_FLIGHT_URL``
or ``budget_backend=``): every process and machine that opens the same name counts against
one total (`redis_budget`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import ModelsLabError
from .pricing import ZERO_COST, Cost, to_decimal, usd
from .stores import LocalStore, ModelSpend, SpendStore, Totals

if TYPE_CHECKING:
    from .redis_budget import RedisBudgetBackend

__all__ = [
    "BudgetExceededError",
    "ModelSpend",
    "SpendLedger",
    "UnboundedCostError",
    "UnpricedModelError",
    "open_ledgers",
    "spending",
    "track_spend",
]

_L = TypeVar("_L", bound="SpendLedger")
Amount = Decimal | str | int | float


class BudgetExceededError(ModelsLabError):
    """The request's worst-case cost does not fit what is left of the budget: it was not sent.
    ``spent``, ``reserved`` (other requests under way), ``budget`` and ``needed`` (this
    request's worst case) are US dollars (`Decimal`)."""

    def __init__(
        self,
        spent: Decimal,
        budget: Decimal,
        reserved: Decimal = Decimal(0),
        needed: Decimal | None = None,
    ) -> None:
        ask = "" if needed is None else f"; this request may cost up to ${usd(needed)}"
        super().__init__(
            f"Budget exceeded: ${usd(spent)} spent and ${usd(reserved)} reserved of a "
            f"${usd(budget)} budget{ask}; the request was not sent"
        )
        self.spent, self.budget, self.reserved, self.needed = spent, budget, reserved, needed

    def __reduce__(self) -> Any:
        return (type(self), (self.spent, self.budget, self.reserved, self.needed))


class UnboundedCostError(ModelsLabError, ValueError):
    """A budget is open but the request's worst-case cost is unbounded (no known price, or
    no ``max_tokens`` and no known maximum output): it was not sent."""


class UnpricedModelError(UnboundedCostError):
    """A budget is open but the model has no known price, so its spend cannot be counted."""


def _summed(name: str, doc: str) -> property:
    """A read-only total of one `ModelSpend` count over every model."""

    def total(ledger: SpendLedger) -> int:
        return sum(getattr(spend, name) for spend in ledger.by_model.values())

    return property(total, doc=doc)


class SpendLedger:
    """Tokens and cost per model over a block of code, with an optional budget in USD.

    Args:
        budget: the limit in US dollars (None: totals only).
        shared: a name: keep spend and reservations in Redis, shared by every process that
            opens the same name (each enforces its own ``budget`` against the one total).
        budget_backend: the Redis of a shared ledger: a URL or a `RedisBudgetBackend`
            (default: ``MODELSLAB_IN_FLIGHT_URL``).
        count_input_tokens: bound each request's input with ``count_tokens`` (a free round
            trip) instead of its bytes, so a budget reserves less.
    """

    input_tokens = _summed("input_tokens", "Input tokens over every model.")
    output_tokens = _summed("output_tokens", "Output tokens over every model.")
    total_tokens = _summed("total_tokens", "All tokens over every model.")
    answers = _summed("requests", "Answers recorded over every model.")
    forfeited = _summed("forfeited", "Reservations kept as spend (usage never arrived).")

    def __init__(
        self,
        budget: Amount | None = None,
        *,
        shared: str | None = None,
        budget_backend: str | RedisBudgetBackend | None = None,
        count_input_tokens: bool = False,
    ) -> None:
        limit = None if budget is None else to_decimal(budget, "budget")
        if limit is not None and limit < 0:
            raise ValueError(f"budget must be >= 0, got {budget!r}")
        self.budget: Decimal | None = limit
        """The limit in US dollars (None: no limit, only totals)."""
        self.shared = shared
        """The shared budget's name (None: this process only)."""
        self.count_input_tokens = bool(count_input_tokens)
        self.requests_sent = 0
        """Chat requests (attempts) this ledger let through (in this process)."""
        self.requests_refused = 0
        """Chat requests it refused (`BudgetExceededError`, in this process)."""
        self._lock = threading.Lock()
        self._store: SpendStore = _store_for(shared, budget_backend)

    def __repr__(self) -> str:
        budget = "none" if self.budget is None else f"${usd(self.budget)}"
        shared = "" if self.shared is None else f"shared={self.shared!r}, "
        return (
            f"{type(self).__name__}({shared}spent=${usd(self.spent)}, budget={budget}, "
            f"requests={self.requests_sent}, refused={self.requests_refused})"
        )

    @property
    def store(self) -> SpendStore:
        """Where the totals live (in-process, or the shared Redis store)."""
        return self._store

    def totals(self) -> Totals:
        """Spend, open reservations and per-model figures, read at once (one round trip
        for a shared ledger)."""
        return self._store.totals()

    @property
    def spent(self) -> Decimal:
        """Dollars spent so far: exact costs, and reservations kept as spend."""
        return self.totals().spent

    @property
    def reserved(self) -> Decimal:
        """Worst-case dollars of the requests under way."""
        return self.totals().reserved

    @property
    def remaining(self) -> Decimal | None:
        """Dollars left to reserve (never negative); None without a budget."""
        if self.budget is None:
            return None
        now = self.totals()
        return max(self.budget - now.spent - now.reserved, Decimal(0))

    @property
    def by_model(self) -> dict[str, ModelSpend]:
        """A snapshot of the totals per model id."""
        return self.totals().by_model

    @property
    def cost(self) -> Cost:
        """The total cost (input, output, total) over every model."""
        total = ZERO_COST
        for spend in self.by_model.values():
            total = total + spend.cost
        return total

    @property
    def cost_by_model(self) -> dict[str, Cost]:
        """The exact cost per model id."""
        return {name: spend.cost for name, spend in self.by_model.items()}

    def _of_budget(self) -> str:
        return "" if self.budget is None else f" of a ${usd(self.budget)} budget"

    def __str__(self) -> str:
        now = self.totals()
        models = now.by_model.values()
        tokens_in = sum(s.input_tokens for s in models)
        tokens_out = sum(s.output_tokens for s in models)
        total = sum(s.total_tokens for s in models)
        answers = sum(s.requests for s in models)
        return (
            f"{total} tokens ({tokens_in} in, {tokens_out} out) "
            f"in {answers} answers: ${usd(now.spent)}{self._of_budget()}"
        )

    def reserve(self, rid: str, model: str, worst: Cost) -> None:
        """Reserve ``worst`` for request ``rid``, or raise `BudgetExceededError` (counting a
        refusal) when it does not fit the budget."""
        verdict = self._store.reserve(rid, model, worst, self.budget)
        if not verdict.admitted:
            with self._lock:
                self.requests_refused += 1
            assert self.budget is not None
            raise BudgetExceededError(verdict.spent, self.budget, verdict.reserved, worst.total)

    def count_sent(self) -> None:
        """Count one request let through."""
        with self._lock:
            self.requests_sent += 1


def _store_for(shared: str | None, backend: str | RedisBudgetBackend | None) -> SpendStore:
    if shared is None:
        if backend is not None:
            raise ValueError("budget_backend= needs shared='<name>' (the budget to share)")
        return LocalStore()
    from .redis_budget import shared_store

    return shared_store(shared, backend)


_OPEN: ContextVar[tuple[SpendLedger, ...]] = ContextVar("modelslab_spend_ledgers", default=())


def open_ledgers() -> tuple[SpendLedger, ...]:
    """The ledgers open in the current context, outermost first."""
    return _OPEN.get()


@contextlib.contextmanager
def spending(ledger: _L) -> Iterator[_L]:
    """Open ``ledger`` for the block (nested blocks each count, and each budget applies)."""
    token = _OPEN.set((*_OPEN.get(), ledger))
    try:
        yield ledger
    finally:
        _OPEN.reset(token)


def track_spend(
    budget: Amount | None = None,
    *,
    shared: str | None = None,
    budget_backend: str | RedisBudgetBackend | None = None,
    count_input_tokens: bool = False,
) -> contextlib.AbstractContextManager[SpendLedger]:
    """Count the spend of the block in a new `SpendLedger` with ``budget`` (US dollars);
    ``shared="name"`` shares it with every process that opens that name (see `SpendLedger`)."""
    return spending(
        SpendLedger(
            budget,
            shared=shared,
            budget_backend=budget_backend,
            count_input_tokens=count_input_tokens,
        )
    )
