"""A request's worst-case cost, and the ledger of spend and open reservations (pure).

A budget is a hard limit because a chat request reserves its worst case before it is sent:

* **input tokens**, bounded without a round trip: a token covers at least one byte of what it
  encodes, so the UTF-8 bytes of the JSON body (which hold every text, tool schema and
  argument, plus quotes and keys) bound the tokens of the text; chat templates add a few
  tokens per message (`PER_ITEM_TOKENS`) and a preamble per request (`PER_REQUEST_TOKENS`,
  e.g. a tool-use system prompt); an image costs what its pixels cost, not its bytes, so each
  image part counts `PER_IMAGE_TOKENS` (``count_input_tokens=True`` asks the server instead);
* **output tokens**: the body's ``max_tokens`` (or ``max_completion_tokens``), else the
  model's maximum output, else its context window (the catalog's facts); none known: the
  worst case is unbounded and a budget refuses the request before it is sent.

`Book` is the ledger as data: ``reserve`` admits a reservation only when spend + open
reservations + it fit the budget; ``settle`` replaces one by the exact cost of its answer;
``forfeit`` turns one into spend (its usage never arrived, so it may have been billed in
full); ``release`` drops one whose request was never sent (or was refused by the server).
The in-process store and the Redis scripts (`budget_scripts`) follow these rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .pricing import EXACT, Cost, ModelPricing, exact_sum

__all__ = [
    "PER_IMAGE_TOKENS",
    "PER_ITEM_TOKENS",
    "PER_REQUEST_TOKENS",
    "Admission",
    "Book",
    "RequestShape",
    "input_token_bound",
    "output_token_bound",
    "request_shape",
    "worst_case_cost",
]

PER_REQUEST_TOKENS = 256
"""Tokens a chat template may add once per request (begin-of-text, a tool-use preamble)."""
PER_ITEM_TOKENS = 16
"""Tokens a chat template may add per message or tool (role headers, separators)."""
PER_IMAGE_TOKENS = 8192
"""Tokens one image part may cost (its pixels, not its URL or base64 bytes)."""
_IMAGE_TYPES = frozenset({"image_url", "image", "input_image"})


@dataclass(frozen=True, slots=True)
class RequestShape:
    """What the worst case needs to know about a request's wire body."""

    body_bytes: int
    items: int
    """Messages (system included) and tools."""
    images: int
    max_tokens: int | None


def _images(messages: Any) -> int:
    count = 0
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") in _IMAGE_TYPES:
                count += 1
    return count


def request_shape(body: Mapping[str, Any]) -> RequestShape:
    """The `RequestShape` of a chat body (either dialect), as it will be sent."""
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    messages, tools = body.get("messages"), body.get("tools")
    items = len(messages) if isinstance(messages, list) else 0
    items += len(tools) if isinstance(tools, list) else 0
    items += 1 if body.get("system") else 0
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    limit = limit if type(limit) is int and limit > 0 else None
    return RequestShape(len(data), items, _images(messages), limit)


def input_token_bound(shape: RequestShape) -> int:
    """At least as many tokens as the server can count for the request's input."""
    return (
        shape.body_bytes
        + PER_REQUEST_TOKENS
        + PER_ITEM_TOKENS * shape.items
        + PER_IMAGE_TOKENS * shape.images
    )


def output_token_bound(
    max_tokens: int | None, max_output_tokens: int | None, context_window: int | None
) -> int | None:
    """The most output tokens the answer may have (None: unbounded)."""
    for bound in (max_tokens, max_output_tokens, context_window):
        if bound is not None:
            return bound
    return None


def worst_case_cost(input_tokens: int, output_tokens: int, pricing: ModelPricing) -> Cost:
    """The exact cost of ``input_tokens`` in and ``output_tokens`` out at ``pricing``."""
    cost_in = EXACT.multiply(Decimal(input_tokens), pricing.input_per_token)
    cost_out = EXACT.multiply(Decimal(output_tokens), pricing.output_per_token)
    return Cost(input=cost_in, output=cost_out, total=EXACT.add(cost_in, cost_out))


@dataclass(frozen=True, slots=True)
class Admission:
    """A reservation's verdict, with the totals it was decided on."""

    admitted: bool
    spent: Decimal
    reserved: Decimal
    """Open reservations, this one excluded."""


@dataclass(frozen=True, slots=True)
class Book:
    """Spend and open reservations (id -> amount) against an optional budget."""

    spent: Decimal = Decimal(0)
    open: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def reserved(self) -> Decimal:
        """The open reservations' total."""
        return exact_sum(*self.open.values())

    def reserve(self, rid: str, amount: Decimal, budget: Decimal | None) -> tuple[Book, Admission]:
        """Open reservation ``rid`` if spend + reservations + ``amount`` <= ``budget``."""
        reserved = self.reserved
        fits = budget is None or exact_sum(self.spent, reserved, amount) <= budget
        verdict = Admission(fits, self.spent, reserved)
        if not fits:
            return self, verdict
        return replace(self, open={**self.open, rid: amount}), verdict

    def _close(self, rid: str, spend: Decimal) -> Book:
        rest = {k: v for k, v in self.open.items() if k != rid}
        return Book(exact_sum(self.spent, spend), rest)

    def settle(self, rid: str, cost: Decimal) -> Book:
        """Close ``rid``: its answer cost exactly ``cost``."""
        return self._close(rid, cost)

    def forfeit(self, rid: str) -> Book:
        """Close ``rid`` as spend: its usage never arrived, so its worst case counts."""
        return self._close(rid, self.open.get(rid, Decimal(0)))

    def release(self, rid: str) -> Book:
        """Close ``rid`` without spend: its request was never billed."""
        return self._close(rid, Decimal(0))
