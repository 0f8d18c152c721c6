"""In-flight limits per ModelsLab account: the interface, the in-process limiter, the Redis one.

`base` (the interface), `local` (`LocalLimiter`), `select` (a config's limiter and the slots a
transport holds), `waiting` (one acquire/release logic for threads and tasks) and `redis/` (the
limiter shared by every process on one Redis, loaded on first use).
"""

from __future__ import annotations

from .base import LOCAL, InFlightLimiter, LimiterStats, account_id
from .local import LocalLimiter, process_limiter
from .select import AccountSlots, account_slots, limiter_for

__all__ = [
    "LOCAL",
    "AccountSlots",
    "InFlightLimiter",
    "LimiterStats",
    "LocalLimiter",
    "account_id",
    "account_slots",
    "limiter_for",
    "process_limiter",
]
