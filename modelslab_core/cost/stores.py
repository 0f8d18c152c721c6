"""Where a spend ledger keeps its totals: in this process (`LocalStore`) or in Redis.

A store holds the spend, the open reservations and the totals per model, and applies the
rules of `reservations.Book` atomically: `LocalStore` under a lock, `redis_budget.RedisStore`
in Lua scripts, so that every process naming the same shared budget counts against one total.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ..types import Usage
from .pricing import ZERO_COST, Cost, exact_sum
from .reservations import Admission, Book

__all__ = ["LocalStore", "ModelSpend", "SpendStore", "Totals"]


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
    """Answers whose server reported no usage, outside any budget (nothing counted)."""
    forfeited: int = 0
    """Reservations kept as spend (worst case in ``cost``): the usage never arrived (no usage
    in the answer, a stream closed early, a connection lost after sending, a dead process)."""

    def add_usage(self, usage: Usage, cost: Cost | None) -> None:
        """Count one answer's tokens and cost."""
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.total_tokens += usage.total
        if cost is None:
            self.unpriced += 1
        else:
            self.cost = self.cost + cost


@dataclass(frozen=True)
class Totals:
    """A ledger's figures at one moment."""

    spent: Decimal
    reserved: Decimal
    """Worst cases of the requests under way (their answers not in yet)."""
    open: int
    """Reservations under way."""
    by_model: dict[str, ModelSpend]


class SpendStore(Protocol):
    """The interface of a ledger's store (every method atomic)."""

    shared: bool
    """True when other processes may count against the same totals (calls do I/O)."""

    def reserve(self, rid: str, model: str, worst: Cost, budget: Decimal | None) -> Admission:
        """Open reservation ``rid`` of ``worst`` if it fits ``budget``."""

    def settle(self, rid: str | None, model: str, usage: Usage | None, cost: Cost | None) -> None:
        """Record an answer (``rid``: its reservation, closed; ``usage`` None: forfeited)."""

    def forfeit(self, rid: str) -> None:
        """Reservation ``rid`` becomes spend (its usage will never arrive)."""

    def release(self, rid: str) -> None:
        """Reservation ``rid`` is dropped (its request was never billed)."""

    def totals(self) -> Totals:
        """Spend, reservations and per-model figures."""


def _copy(spend: ModelSpend) -> ModelSpend:
    return ModelSpend(**{name: getattr(spend, name) for name in spend.__dataclass_fields__})


class LocalStore:
    """The in-process store: a `Book` and the totals per model, under one lock."""

    shared = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._book = Book()
        self._held: dict[str, tuple[str, Cost]] = {}
        self._models: dict[str, ModelSpend] = {}
        self._spent = Decimal(0)

    def _model(self, model: str) -> ModelSpend:
        spend = self._models.get(model)
        if spend is None:
            spend = self._models[model] = ModelSpend(model)
        return spend

    def reserve(self, rid: str, model: str, worst: Cost, budget: Decimal | None) -> Admission:
        with self._lock:
            self._book, verdict = self._book.reserve(rid, worst.total, budget)
            if verdict.admitted:
                self._held[rid] = (model, worst)
            return verdict

    def settle(self, rid: str | None, model: str, usage: Usage | None, cost: Cost | None) -> None:
        with self._lock:
            spend = self._model(model)
            spend.requests += 1
            if rid is not None and rid in self._held and (usage is None or cost is None):
                self._forfeit(rid)
            elif rid is not None and rid in self._held:
                assert usage is not None and cost is not None
                del self._held[rid]
                self._book = self._book.settle(rid, cost.total)
                spend.add_usage(usage, cost)
            elif usage is None:
                spend.unmetered += 1
            else:
                spend.add_usage(usage, cost)
                if cost is not None:
                    self._book = Book(exact_sum(self._book.spent, cost.total), self._book.open)

    def _forfeit(self, rid: str) -> None:
        model, worst = self._held.pop(rid)
        self._book = self._book.forfeit(rid)
        spend = self._model(model)
        spend.forfeited += 1
        spend.cost = spend.cost + worst

    def forfeit(self, rid: str) -> None:
        with self._lock:
            if rid in self._held:
                self._forfeit(rid)

    def release(self, rid: str) -> None:
        with self._lock:
            if self._held.pop(rid, None) is not None:
                self._book = self._book.release(rid)

    def totals(self) -> Totals:
        with self._lock:
            book = self._book
            models = {name: _copy(spend) for name, spend in self._models.items()}
        return Totals(book.spent, book.reserved, len(book.open), models)
