"""A budget shared by processes and machines: spend and reservations kept in Redis.

``track_spend(budget, shared="nightly-eval")`` (and the adapters' ``shared=``) open a ledger
whose store is a `RedisStore`: every process that opens the same name reserves, settles and
reads against one total, each step one atomic Lua script (`budget_scripts`) on the Redis of
``budget_backend=`` (a URL or a `RedisBudgetBackend`) or of ``MODELSLAB_IN_FLIGHT_URL``.

A reservation carries a lease (default two minutes, on the Redis clock): when its process
dies, it becomes spend once the lease runs out (never released: the request may have been
billed). Redis unreachable inside a shared budget is a `BudgetUnavailableError` before the
request is sent (bounded: 2 s connect and socket timeouts, one immediate retry), never an
unbudgeted request. redis-py is imported here, lazily; the keys live until `forget`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..env import IN_FLIGHT_URL_ENV
from ..exceptions import BudgetUnavailableError
from ..limits.redis.scripts import redact_url
from ..types import Usage
from .budget_scripts import (
    DEFAULT_PREFIX,
    FORFEIT,
    RELEASE,
    RESERVE,
    SETTLE,
    TOTALS,
    budget_keys,
    from_atto,
    to_atto,
)
from .pricing import Cost, exact_sum
from .reservations import Admission
from .stores import ModelSpend, Totals

if TYPE_CHECKING:
    import redis

__all__ = ["RedisBudgetBackend", "RedisStore", "shared_store"]

_SCRIPTS = {"reserve": RESERVE, "settle": SETTLE, "forfeit": FORFEIT, "release": RELEASE}
_SCRIPTS["totals"] = TOTALS
_log = logging.getLogger("modelslab_core")


class RedisBudgetBackend:
    """The Redis that holds shared budgets.

    Args:
        url: ``redis://``, ``rediss://`` or ``unix://``.
        lease: seconds after which a reservation left by a dead process becomes spend.
        prefix: the key prefix.
        timeout: connect and socket timeout of each call (seconds).
    """

    def __init__(
        self, url: str, *, lease: float = 120.0, prefix: str = DEFAULT_PREFIX, timeout: float = 2.0
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"budget_backend must be a redis://, rediss:// or unix:// URL: {url!r}"
            )
        if lease <= 0 or timeout <= 0:
            raise ValueError("lease and timeout must be positive")
        self.url, self.lease, self.prefix, self.timeout = url, lease, prefix, timeout
        self._lock = threading.Lock()
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"RedisBudgetBackend({redact_url(self.url)!r}, lease={self.lease:g})"

    def __reduce__(self) -> Any:
        return (_rebuild, (self.url, self.lease, self.prefix, self.timeout))

    def store(self, name: str) -> RedisStore:
        """The store of shared budget ``name``."""
        return RedisStore(self, name)

    def forget(self, name: str) -> None:
        """Delete shared budget ``name``'s keys (its totals start again from zero)."""
        keys = budget_keys(self.prefix, name)
        self._call("forget", name, lambda client, scripts: client.delete(*keys))

    def _connect(self) -> tuple[redis.Redis, dict[str, Any]]:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                import redis
                from redis.backoff import NoBackoff
                from redis.retry import Retry

                self._pid = os.getpid()
                self._client = redis.Redis.from_url(
                    self.url,
                    socket_connect_timeout=self.timeout,
                    socket_timeout=self.timeout,
                    retry=Retry(NoBackoff(), 1),
                )
                self._scripts = {k: self._client.register_script(v) for k, v in _SCRIPTS.items()}
            return self._client, self._scripts

    def _call(self, what: str, name: str, run: Any) -> Any:
        import redis

        try:
            return run(*self._connect())
        except (redis.RedisError, OSError) as exc:
            unsent = "; the request was not sent" if what == "reserve" else ""
            raise BudgetUnavailableError(
                f"Shared budget {name!r}: Redis at {redact_url(self.url)} failed on {what} "
                f"({type(exc).__name__}: {exc}){unsent}"
            ) from None

    def run(self, script: str, name: str, args: list[Any]) -> Any:
        """Run one budget script on ``name``'s keys (`BudgetUnavailableError` on failure)."""
        keys = budget_keys(self.prefix, name)
        return self._call(
            script, name, lambda client, scripts: scripts[script](keys, ["", *args], client)
        )


def _rebuild(url: str, lease: float, prefix: str, timeout: float) -> RedisBudgetBackend:
    return RedisBudgetBackend(url, lease=lease, prefix=prefix, timeout=timeout)


@functools.lru_cache(maxsize=32)
def _backend_for(url: str) -> RedisBudgetBackend:
    return RedisBudgetBackend(url)


def shared_store(name: str, backend: str | RedisBudgetBackend | None) -> RedisStore:
    """The store of shared budget ``name`` on ``backend`` (default: the Redis of
    ``MODELSLAB_IN_FLIGHT_URL``); a clear error when there is no Redis to share it in."""
    if not isinstance(name, str) or not name or "{" in name or "}" in name:
        raise ValueError(f"shared must be a non-empty name without braces, got {name!r}")
    if backend is None:
        backend = os.environ.get(IN_FLIGHT_URL_ENV) or None
        if backend is None:
            raise ValueError(
                f"A shared budget needs a Redis: pass budget_backend='redis://...' or set "
                f"{IN_FLIGHT_URL_ENV}"
            )
    if isinstance(backend, str):
        backend = _backend_for(backend)
    if not isinstance(backend, RedisBudgetBackend):
        raise TypeError(f"budget_backend must be a URL or a RedisBudgetBackend, not {backend!r}")
    return backend.store(name)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _models(flat: list[Any]) -> dict[str, ModelSpend]:
    """Per-model totals from the ``models`` hash (``model\\tfield`` -> value)."""
    raw: dict[str, dict[str, str]] = {}
    for key, value in zip(flat[::2], flat[1::2], strict=True):
        model, _, name = _text(key).rpartition("\t")
        raw.setdefault(model, {})[name] = _text(value)
    out = {}
    for model, fields in raw.items():
        cost_in, cost_out = from_atto(fields.get("cost_in")), from_atto(fields.get("cost_out"))
        counts = {
            name: int(fields.get(name, "0"))
            for name in ModelSpend.__dataclass_fields__
            if name not in ("model", "cost")
        }
        cost = Cost(input=cost_in, output=cost_out, total=exact_sum(cost_in, cost_out))
        out[model] = ModelSpend(model, cost=cost, **counts)
    return out


class RedisStore:
    """A shared budget's store: each call one atomic script on its Redis (`SpendStore`)."""

    shared = True

    def __init__(self, backend: RedisBudgetBackend, name: str) -> None:
        self.backend, self.name = backend, name

    def __repr__(self) -> str:
        return f"RedisStore({self.name!r}, {self.backend!r})"

    def reserve(self, rid: str, model: str, worst: Cost, budget: Decimal | None) -> Admission:
        limit = "" if budget is None else to_atto(budget, up=False)
        lease = str(int(self.backend.lease * 1000))
        args = [rid, model, to_atto(worst.input), to_atto(worst.output), limit, lease]
        ok, spent, reserved = self.backend.run("reserve", self.name, args)
        return Admission(bool(ok), from_atto(spent), from_atto(reserved))

    def _after(self, script: str, args: list[Any]) -> None:
        """A call after the request was sent: a failure is logged, not raised (the answer is
        the caller's; a reservation left behind becomes spend when its lease runs out)."""
        try:
            self.backend.run(script, self.name, args)
        except BudgetUnavailableError as exc:
            _log.warning("%s; its reservation becomes spend when its lease runs out", exc)

    def settle(self, rid: str | None, model: str, usage: Usage | None, cost: Cost | None) -> None:
        tokens: list[Any] = ["0", 0, 0, 0]
        if usage is not None:
            total = usage.total_tokens or usage.input_tokens + usage.output_tokens
            tokens = ["1", usage.input_tokens, usage.output_tokens, total]
        money = ["", ""] if cost is None else [to_atto(cost.input), to_atto(cost.output)]
        self._after("settle", [rid or "", model, *tokens, *money])

    def forfeit(self, rid: str) -> None:
        self._after("forfeit", [rid])

    def release(self, rid: str) -> None:
        self._after("release", [rid])

    def totals(self) -> Totals:
        spent, reserved, n_open, flat = self.backend.run("totals", self.name, [])
        return Totals(from_atto(spent), from_atto(reserved), int(n_open), _models(flat))
