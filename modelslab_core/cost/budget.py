"""Spend over a block of code: tokens and cost per model, and an optional budget.

``with track_spend(budget="0.50") as ledger:`` opens a `SpendLedger` for the block. It lives in
a context variable, so everything that runs in the block's context shares it: asyncio tasks
created inside it and threads started with a copy of the context (LangChain's ``batch``
executor, ``asyncio.to_thread``, LangGraph and LlamaIndex workflow steps). A plain
``threading.Thread`` does not copy contexts: run it through ``contextvars.copy_context().run``.

The client records every answer's usage and cost (`Charge`) into each ledger open where the
request was made, while the request still holds its in-flight slot. The transport calls
`admit_request` right before sending a chat request (after it got its in-flight slot, and again
before each retry): once an open ledger's recorded spend has reached its budget, the request
fails with `BudgetExceededError` and is never sent.

What holds under concurrency (``abatch`` of 20 calls, threads): **no request is sent once the
recorded spend has reached the budget.** The cost of a call is known only when its answer
arrives, so the call whose answer crosses the budget completes, and so do the calls already in
flight at that moment: the final spend is below ``budget + n x (cost of the dearest call)``,
``n`` being the in-flight cap (``max_in_flight``, default 5 per key); without a cap, ``n`` is
the number of calls running at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from ..exceptions import ModelsLabError
from ..types import ChatResult, StreamDelta, Usage
from .pricing import ZERO_COST, Cost, ModelPricing, cost_of, exact_sum, to_decimal, usd

__all__ = [
    "BILLED_PATHS",
    "AnswerHook",
    "BudgetExceededError",
    "Charge",
    "ModelSpend",
    "SpendLedger",
    "UnpricedModelError",
    "admit_request",
    "hand_over",
    "open_ledgers",
    "spending",
    "track_spend",
]

_log = logging.getLogger("modelslab_core")
AnswerHook = Callable[[dict[str, Any]], None]
"""Given to the transport with a request: sees its successful JSON answer before the request
releases its in-flight slot (`Charge.on_answer`)."""
BILLED_PATHS = frozenset({"/chat/completions", "/v1/messages"})
"""The paths whose requests cost money (chat, both dialects)."""
_O = TypeVar("_O")
_L = TypeVar("_L", bound="SpendLedger")


class BudgetExceededError(ModelsLabError):
    """The spend recorded in a `track_spend` block reached its budget: the request was not
    sent. ``spent`` and ``budget`` are US dollars (`Decimal`)."""

    def __init__(self, spent: Decimal, budget: Decimal) -> None:
        super().__init__(
            f"Budget exceeded: ${usd(spent)} spent of a ${usd(budget)} budget; "
            "the request was not sent"
        )
        self.spent = spent
        self.budget = budget

    def __reduce__(self) -> Any:
        return (type(self), (self.spent, self.budget))


class UnpricedModelError(ModelsLabError, ValueError):
    """A budget is open but the model has no known price, so its spend cannot be counted."""


@dataclass
class ModelSpend:
    """What one model's calls used and cost in a ledger."""

    model: str
    requests: int = 0
    """Answers recorded (with or without usage)."""
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost: Cost = field(default_factory=lambda: ZERO_COST)
    unpriced: int = 0
    """Answers with usage but no known price (their cost is not in ``cost``)."""
    unmetered: int = 0
    """Answers whose server reported no usage (neither tokens nor cost counted)."""


def _summed(name: str, doc: str) -> property:
    """A read-only total of one `ModelSpend` count over every model."""

    def total(ledger: SpendLedger) -> int:
        return sum(getattr(spend, name) for spend in ledger.by_model.values())

    return property(total, doc=doc)


class SpendLedger:
    """Tokens and cost per model over a block of code, with an optional budget in USD."""

    input_tokens = _summed("input_tokens", "Input tokens over every model.")
    output_tokens = _summed("output_tokens", "Output tokens over every model.")
    total_tokens = _summed("total_tokens", "All tokens over every model.")
    answers = _summed("requests", "Answers recorded over every model.")

    def __init__(self, budget: Decimal | str | int | float | None = None) -> None:
        limit = None if budget is None else to_decimal(budget, "budget")
        if limit is not None and limit < 0:
            raise ValueError(f"budget must be >= 0, got {budget!r}")
        self.budget: Decimal | None = limit
        """The limit in US dollars (None: no limit, only totals)."""
        self.requests_sent = 0
        """Chat requests (attempts) this ledger let through."""
        self.requests_refused = 0
        """Chat requests it refused (`BudgetExceededError`)."""
        self._lock = threading.Lock()
        self._models: dict[str, ModelSpend] = {}
        self._spent = Decimal(0)

    def __repr__(self) -> str:
        budget = "none" if self.budget is None else f"${usd(self.budget)}"
        return (
            f"{type(self).__name__}(spent=${usd(self.spent)}, budget={budget}, "
            f"requests={self.requests_sent}, refused={self.requests_refused})"
        )

    @property
    def spent(self) -> Decimal:
        """Dollars spent so far (priced answers only)."""
        return self._spent

    @property
    def remaining(self) -> Decimal | None:
        """Dollars left before the budget (never negative); None without a budget."""
        return None if self.budget is None else max(self.budget - self._spent, Decimal(0))

    @property
    def by_model(self) -> dict[str, ModelSpend]:
        """A snapshot of the totals per model id."""
        with self._lock:
            return {name: _copy(spend) for name, spend in self._models.items()}

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
        return (
            f"{self.total_tokens} tokens ({self.input_tokens} in, {self.output_tokens} out) "
            f"in {self.answers} answers: ${usd(self._spent)}{self._of_budget()}"
        )

    def check(self) -> None:
        """Raise `BudgetExceededError` (counting a refusal) if the budget is reached."""
        with self._lock:
            if self.budget is not None and self._spent >= self.budget:
                self.requests_refused += 1
                raise BudgetExceededError(self._spent, self.budget)

    def count_sent(self) -> None:
        """Count one request let through."""
        with self._lock:
            self.requests_sent += 1

    def record(self, model: str, usage: Usage | None, cost: Cost | None) -> None:
        """Add one answer's usage and cost to ``model``'s totals."""
        with self._lock:
            spend = self._models.get(model)
            if spend is None:
                spend = self._models[model] = ModelSpend(model)
            spend.requests += 1
            if usage is None:
                spend.unmetered += 1
                return
            spend.input_tokens += usage.input_tokens
            spend.output_tokens += usage.output_tokens
            spend.total_tokens += usage.total
            if cost is None:
                spend.unpriced += 1
                return
            spend.cost = spend.cost + cost
            self._spent = exact_sum(self._spent, cost.total)


def _copy(spend: ModelSpend) -> ModelSpend:
    return ModelSpend(**{name: getattr(spend, name) for name in spend.__dataclass_fields__})


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
    budget: Decimal | str | int | float | None = None,
) -> contextlib.AbstractContextManager[SpendLedger]:
    """Count the spend of the block in a new `SpendLedger` with ``budget`` (US dollars)."""
    return spending(SpendLedger(budget))


def admit_request(path: str) -> None:
    """Right before sending a request to ``path``: a billed one needs every open ledger to be
    under its budget (else `BudgetExceededError`) and is counted as sent."""
    ledgers = _OPEN.get()
    if not ledgers or path not in BILLED_PATHS:
        return
    for ledger in ledgers:
        ledger.check()
    for ledger in ledgers:
        ledger.count_sent()


def hand_over(outcome: _O, hook: AnswerHook | None) -> _O:
    """``outcome`` unchanged, after ``hook`` saw it if it is an answer (a JSON object, not a
    failure); the transport calls this inside the in-flight slot."""
    if hook is not None and isinstance(outcome, dict):
        hook(outcome)
    return outcome


@dataclass(slots=True)
class Charge:
    """Prices one request's answer and records it in the ledgers open where it runs."""

    model: str
    pricing: ModelPricing | None
    settled: bool = False
    result: ChatResult | None = None
    """The decoded answer of a non-streaming call (set by the `on_answer` hook)."""

    @classmethod
    def open(cls, model: str, pricing: ModelPricing | None) -> Charge:
        """A charge for ``model``; `UnpricedModelError` (before anything is sent) when a
        budget is open but the model's price is unknown."""
        if pricing is None and any(lg.budget is not None for lg in _OPEN.get()):
            raise UnpricedModelError(
                f"No price is known for model {model!r}, so a budget cannot count its spend: "
                "pass pricing=ModelPricing.per_million(...) or add it to a catalog file."
            )
        return cls(model, pricing)

    def settle(self, usage: Usage | None) -> Cost | None:
        """Record ``usage`` (None: the server reported none) and return its cost."""
        self.settled = True
        cost = None if usage is None or self.pricing is None else cost_of(usage, self.pricing)
        for ledger in _OPEN.get():
            ledger.record(self.model, usage, cost)
        return cost

    def settle_result(self, result: ChatResult) -> ChatResult:
        """Price and record a complete answer (its ``cost`` is set)."""
        result.cost = self.settle(result.usage)
        self.result = result
        return result

    def on_answer(self, decode: Callable[[dict[str, Any]], ChatResult]) -> AnswerHook:
        """The transport hook of a non-streaming call: decode, price and record the answer
        while its in-flight slot is held (`answered` returns it)."""

        def settle(payload: dict[str, Any]) -> None:
            self.settle_result(decode(payload))

        return settle

    def answered(self) -> ChatResult:
        """The answer `on_answer` decoded."""
        if self.result is None:
            raise RuntimeError("no answer was decoded for this charge")
        return self.result

    def see(self, delta: StreamDelta) -> StreamDelta:
        """Price and record the stream delta that carries usage; others pass unchanged."""
        if delta.usage is not None:
            delta.cost = self.settle(delta.usage)
        return delta

    def close(self) -> None:
        """The stream ended: an answer that reported no usage is recorded as unmetered."""
        if not self.settled and _OPEN.get():
            _log.warning(
                "ModelsLab reported no usage for a %s stream: its tokens and cost are not "
                "counted (keep stream usage on to count them)",
                self.model,
            )
            self.settle(None)
