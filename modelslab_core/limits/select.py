"""How a config picks its limiter, and the slots a transport holds (`AccountSlots`).

The only module that knows both limiters: the interface (`base`) knows neither, and the Redis
limiter is imported on first use, for processes that configure one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import LOCAL, InFlightLimiter, account_id
from .local import process_limiter

if TYPE_CHECKING:
    from ..config import ClientConfig

__all__ = ["AccountSlots", "account_slots", "limiter_for"]


def limiter_for(config: ClientConfig) -> InFlightLimiter:
    """The limiter a config names: its own object, Redis (shared per process) or this process."""
    backend = config.in_flight_backend
    if isinstance(backend, InFlightLimiter):
        return backend
    if backend is None or backend == LOCAL:
        return process_limiter()
    from .redis.limiter import shared_redis_limiter

    return shared_redis_limiter(
        backend,
        lease=config.in_flight_lease,
        fallback=config.in_flight_fallback,
        retry_window=config.in_flight_retry_window,
    )


class AccountSlots:
    """One account's slots in one limiter, with the config's wait deadline (the transport's)."""

    __slots__ = ("account", "limiter", "timeout")

    def __init__(self, limiter: InFlightLimiter, account: str, timeout: float | None) -> None:
        self.limiter, self.account, self.timeout = limiter, account, timeout

    def __repr__(self) -> str:
        return f"AccountSlots({self.limiter!r})"

    def slot(self, limit: int | None) -> Any:
        """A ``with``/``async with`` block holding one slot (no-op when ``limit`` is falsy)."""
        return self.limiter.slot(self.account, limit, timeout=self.timeout)

    slot_async = slot


def account_slots(config: ClientConfig, api_key: str) -> AccountSlots:
    """The slots a transport of ``config`` (authenticating with ``api_key``) takes."""
    account = account_id(api_key, config.base_url)
    return AccountSlots(limiter_for(config), account, config.in_flight_wait_timeout)
