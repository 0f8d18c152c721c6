"""One chat request's account with the ledgers open where it was made: `Charge`.

The client opens a charge per request (pricing and worst case known before anything is sent)
and the transport drives it, per attempt, inside the in-flight slot:

``admit()`` before each send: every budgeted ledger reserves the worst case (none held yet),
  or the request fails with `BudgetExceededError`, unsent;
``failed(billed, final)`` after a failed attempt: a reservation of an attempt that may have
  been billed becomes spend (a retry reserves again); one never billed is kept for the retry,
  or released when the transport gives up;
``settle(usage)`` when the answer's usage arrives: exact cost (no usage: the worst case stays);
``abandon()`` when the request ends any other way (an exception, a stream closed or collected
  early): what is still reserved becomes spend.

All of it once per request or attempt, never per stream chunk.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..types import ChatResult, StreamDelta, Usage
from .budget import SpendLedger, UnboundedCostError, UnpricedModelError, open_ledgers
from .catalog import ModelFacts
from .pricing import Cost, ModelPricing, cost_of
from .reservations import (
    input_token_bound,
    output_token_bound,
    request_shape,
    worst_case_cost,
)

__all__ = ["AnswerHook", "Charge", "hand_over"]

AnswerHook = Callable[[dict[str, Any]], None]
"""Given to the transport with a request: sees its successful JSON answer before the request
releases its in-flight slot (`Charge.on_answer`)."""
_log = logging.getLogger("modelslab_core")
_O = TypeVar("_O")
_R = TypeVar("_R")


def hand_over(outcome: _O, hook: AnswerHook | None) -> _O:
    """``outcome`` unchanged, after ``hook`` saw it if it is an answer (a JSON object, not a
    failure); the transport calls this inside the in-flight slot."""
    if hook is not None and isinstance(outcome, dict):
        hook(outcome)
    return outcome


def _worst_case(
    model: str, facts: ModelFacts | None, body: dict[str, Any], input_tokens: int | None
) -> Cost:
    """The request's worst-case cost, or `UnboundedCostError` (before anything is sent)."""
    pricing = None if facts is None else facts.pricing
    if pricing is None:
        raise UnpricedModelError(
            f"No price is known for model {model!r}, so a budget cannot count its spend: "
            "pass pricing=ModelPricing.per_million(...) or add it to a catalog file."
        )
    shape = request_shape(body)
    out = output_token_bound(
        shape.max_tokens,
        None if facts is None else facts.max_output_tokens,
        None if facts is None else facts.context_window,
    )
    if out is None:
        raise UnboundedCostError(
            f"A budget is open but the cost of this {model!r} request is unbounded: set "
            "max_tokens, or add the model's max_output_tokens or context_window to a catalog."
        )
    tokens_in = input_token_bound(shape) if input_tokens is None else input_tokens
    return worst_case_cost(tokens_in, out, pricing)


@dataclass(slots=True, eq=False)
class Charge:
    """Reserves, prices and records one request in the ledgers open where it was made."""

    model: str
    pricing: ModelPricing | None
    ledgers: tuple[SpendLedger, ...] = ()
    worst: Cost | None = None
    """The reservation (None: no budget applies)."""
    strip_usage: bool = False
    """Usage was asked for only to settle a budget: the caller does not see it."""
    held: list[tuple[SpendLedger, str]] = field(default_factory=list)
    settled: bool = False
    result: ChatResult | None = None
    """The decoded answer of a non-streaming call (set by the `on_answer` hook)."""

    @classmethod
    def open(cls, model: str, facts: ModelFacts | None, body: dict[str, Any]) -> Charge:
        """A charge for ``model`` in the open ledgers; under a budget its worst case is known
        (else `UnboundedCostError`, before anything is sent)."""
        ledgers = open_ledgers()
        pricing = None if facts is None else facts.pricing
        worst = None
        if any(lg.budget is not None for lg in ledgers):
            worst = _worst_case(model, facts, body, None)
        return cls(model, pricing, ledgers, worst)

    @property
    def budgeted(self) -> bool:
        """A budget applies: the request reserves its worst case."""
        return self.worst is not None

    @property
    def shared(self) -> bool:
        """A ledger keeps its totals in Redis (its calls do I/O)."""
        return any(lg.store.shared for lg in self.ledgers)

    @property
    def counts_input(self) -> bool:
        """A budgeted ledger asked to bound the input with ``count_tokens``."""
        return self.budgeted and any(
            lg.count_input_tokens and lg.budget is not None for lg in self.ledgers
        )

    def use_input_count(self, facts: ModelFacts | None, body: dict[str, Any], n: int) -> None:
        """Bound the input by the server's count ``n`` instead of the body's bytes."""
        self.worst = _worst_case(self.model, facts, body, n)

    async def off_loop(self, method: Callable[..., _R], *args: Any) -> _R:
        """``method(*args)``, in a worker thread when a ledger is shared (Redis I/O)."""
        if self.shared:
            return await asyncio.to_thread(method, *args)
        return method(*args)

    # -- the transport's calls, per attempt ------------------------------------------------
    def admit(self) -> None:
        """Right before sending: reserve in every budgeted ledger (or raise
        `BudgetExceededError`, releasing what this call reserved) and count the attempt."""
        if self.worst is not None and not self.held:
            for ledger in self.ledgers:
                if ledger.budget is None:
                    continue
                rid = uuid.uuid4().hex
                try:
                    ledger.reserve(rid, self.model, self.worst)
                except BaseException:
                    self.failed(billed=False, final=True)
                    raise
                self.held.append((ledger, rid))
        for ledger in self.ledgers:
            ledger.count_sent()

    def failed(self, billed: bool, final: bool) -> None:
        """An attempt failed: ``billed`` (it may have been) keeps its reservations as spend;
        otherwise they are kept for the retry, or released when ``final``."""
        if billed or final:
            held, self.held = self.held, []
            for ledger, rid in held:
                if billed:
                    ledger.store.forfeit(rid)
                else:
                    ledger.store.release(rid)

    def abandon(self) -> None:
        """The request ended without its usage (an exception, a stream closed early): what
        is still reserved becomes spend."""
        if self.held:
            self.failed(billed=True, final=True)

    # -- answers ---------------------------------------------------------------------------
    def settle(self, usage: Usage | None) -> Cost | None:
        """Record ``usage`` (None: the server reported none) and return its cost."""
        self.settled = True
        cost = None if usage is None or self.pricing is None else cost_of(usage, self.pricing)
        reservations = dict((id(lg), rid) for lg, rid in self.held)
        self.held = []
        for ledger in self.ledgers:
            ledger.store.settle(reservations.get(id(ledger)), self.model, usage, cost)
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

    def see(self, delta: StreamDelta) -> StreamDelta | None:
        """Price and record the stream delta that carries usage; None when that usage was
        asked for only for the budget and the delta carries nothing else."""
        cost = self.settle(delta.usage)
        if not self.strip_usage:
            delta.cost = cost
            return delta
        delta.usage = None
        empty = not (delta.text or delta.reasoning or delta.tool_call_chunks)
        return None if empty and delta.finish_reason is None else delta

    def close(self) -> None:
        """The stream ended: an answer that reported no usage is recorded without it (under a
        budget its reservation stays as spend)."""
        if not self.settled and self.ledgers:
            if not self.held:
                _log.warning(
                    "ModelsLab reported no usage for a %s stream: its tokens and cost are not "
                    "counted (keep stream usage on to count them)",
                    self.model,
                )
            self.settle(None)
