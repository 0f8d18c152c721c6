"""Client configuration: where to send requests, how to authenticate, how long to wait."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)

from ._version import __version__
from .cost.catalog import ModelFacts, resolve_model
from .cost.pricing import ModelPricing
from .env import API_KEY_ENV, BASE_URL_ENV, IN_FLIGHT_URL_ENV, read
from .limits.base import LOCAL, InFlightLimiter
from .limits.redis.scripts import REDIS_SCHEMES, redact_url
from .types import Dialect, ModelField

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_WHEN_NONE",
    "IN_FLIGHT_URL_ENV",
    "AuthMode",
    "ClientConfig",
    "RetryPolicy",
]

DEFAULT_BASE_URL = "https://modelslab.com/api/v7/llm"

AuthMode = Literal["bearer", "body", "x-api-key"]
"""How the key is sent: ``Authorization: Bearer`` (default), ``"key"`` in the JSON body of
``/chat/completions`` (Bearer elsewhere), or the ``x-api-key`` header (on the documented ``/v1/...``
paths; Bearer on ``/chat/completions``)."""


class RetryPolicy(BaseModel):
    """Backoff settings. Delays are in seconds; tests shrink them through configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=2, ge=0)
    initial_delay: float = Field(default=0.5, ge=0)
    max_delay: float = Field(default=8.0, ge=0)
    max_server_delay: float = Field(default=60.0, ge=0)
    """Cap on a server-requested delay (``retry_after``, ``Retry-After``, ``retry-after-ms``)."""
    jitter: float = Field(default=0.25, ge=0, le=1)


DEFAULT_WHEN_NONE = frozenset(
    {
        "stream_chunk_timeout",
        "in_flight_lease",
        "in_flight_retry_window",
        "in_flight_wait_timeout",
        "catalog_file",
    }
)
"""`ClientConfig.from_settings` fields where an adapter's ``None`` means "the default" (in a
`ClientConfig` itself, ``None`` means "no timeout"/"no deadline" for some of them)."""


class ClientConfig(BaseModel):
    """Everything a client needs. Pickles; the API key is a `SecretStr` and never printed."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,  # errors never echo what was given: a Redis URL may carry a password
        protected_namespaces=(),  # `model_field` is ours; pydantic < 2.10 would warn about "model_"
    )

    api_key: SecretStr | None = None
    base_url: str = DEFAULT_BASE_URL
    auth: AuthMode = "bearer"
    model_field: ModelField = "both"
    """``model``, ``model_id`` or both on ``/chat/completions``; ``/v1/messages`` always sends
    ``model`` (Anthropic requires it) and adds ``model_id`` for ``"model_id"``/``"both"``."""
    dialect: Dialect = "openai"
    connect_timeout: float | None = Field(default=10.0, gt=0)
    read_timeout: float | None = Field(default=120.0, gt=0)
    total_timeout: float | None = Field(default=600.0, gt=0)
    stream_chunk_timeout: float | None = Field(default=60.0, gt=0)
    """Longest silence allowed between two stream events (keep-alive comments count)."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    max_in_flight: int | None = Field(default=5, ge=0)
    """Requests in flight per account (API key and base URL); ``None`` or 0 disables the cap."""
    in_flight_backend: str | InFlightLimiter | None = Field(default=None, repr=False)
    """Where the cap is counted. ``None``: the Redis of ``MODELSLAB_IN_FLIGHT_URL`` if set, else
    this process; ``"local"``: this process; ``"redis://host:6379/0"`` (or ``rediss://``,
    ``unix://``): every process and machine sharing that Redis; or a limiter object
    (`RedisLimiter`, `LocalLimiter`) that clients share."""
    in_flight_lease: float = Field(default=30.0, gt=0, le=3600)
    """Seconds a Redis lease lives unrenewed: the slots of a process that died come back
    within this time (running requests renew theirs every third of it)."""
    in_flight_fallback: bool = False
    """Redis unreachable: cap in this process with a warning, instead of raising
    `LimiterUnavailableError`."""
    in_flight_retry_window: float = Field(default=2.0, ge=0, le=60)
    """Seconds during which a Redis command that failed on a connection error or a timeout
    is retried (with backoff), so a blip (a dropped connection, a quick Redis restart) costs no
    request; Redis unreachable for longer is `LimiterUnavailableError` (or the fallback)."""
    in_flight_wait_timeout: float | None = Field(default=600.0, gt=0)
    """Longest wait for a slot, then `QueueFullError`; ``None`` (or infinity): no deadline."""
    default_headers: dict[str, str] = Field(default_factory=dict)
    anthropic_version: str = "2023-06-01"
    catalog_file: str | None = None
    """A model catalog file of your own (None: ``MODELSLAB_MODEL_CATALOG``, if set)."""
    pricing: dict[str, ModelPricing] = Field(default_factory=dict)
    """Prices by model id that win over every catalog (`modelslab_core.cost.catalog`)."""

    @model_validator(mode="before")
    @classmethod
    def _from_env(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("api_key") is None and read(API_KEY_ENV):
                data["api_key"] = read(API_KEY_ENV)
            if data.get("base_url") is None:
                data["base_url"] = read(BASE_URL_ENV) or DEFAULT_BASE_URL
            if data.get("in_flight_backend") is None and read(IN_FLIGHT_URL_ENV):
                data["in_flight_backend"] = read(IN_FLIGHT_URL_ENV)
        return data

    @field_validator("in_flight_backend")
    @classmethod
    def _check_backend(cls, value: str | InFlightLimiter | None) -> str | InFlightLimiter | None:
        if isinstance(value, str):
            value = value.strip()
            if value != LOCAL and not value.startswith(REDIS_SCHEMES):
                raise ValueError(
                    f"in_flight_backend must be 'local', a redis://, rediss:// or unix:// URL, "
                    f"or a limiter object; got {redact_url(value)!r}"
                )
        return value

    @field_serializer("in_flight_backend")
    def _hide_backend_password(self, value: str | InFlightLimiter | None) -> str | None:
        return (
            None if value is None else redact_url(value) if isinstance(value, str) else repr(value)
        )

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {value!r}")
        # Paths are joined as base + "/v1/messages": a base that already ends in /v1 would double it.
        if url.endswith("/v1"):
            url = url[: -len("/v1")]
        return url

    @classmethod
    def from_settings(
        cls,
        *,
        model: str | None = None,
        pricing: ModelPricing | Mapping[str, ModelPricing] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        retry_initial_delay: float | None = None,
        default_headers: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> ClientConfig:
        """The config for an adapter's settings: the one path from settings to a config, so
        a setting means the same in both adapters.

        ``timeout``: seconds to connect and to wait for each read (one number, as httpx
        means it); ``None`` keeps the defaults (10 s to connect, 120 s per read).
        ``max_retries`` and ``retry_initial_delay`` override ``retry``'s. ``pricing``: the
        prices of ``model`` (or a dict by model id). Other ``fields`` are `ClientConfig`
        fields; for those in `DEFAULT_WHEN_NONE`, ``None`` means the default.
        """
        fields = {k: v for k, v in fields.items() if v is not None or k not in DEFAULT_WHEN_NONE}
        if timeout is not None:
            fields = {"connect_timeout": timeout, "read_timeout": timeout, **fields}
        policy = dict(retry) if isinstance(retry, Mapping) else dict(retry or RetryPolicy())
        if max_retries is not None:
            policy["max_retries"] = max_retries
        if retry_initial_delay is not None:
            policy["initial_delay"] = retry_initial_delay
        if isinstance(pricing, ModelPricing):
            if model is None:
                raise ValueError("pricing= needs the model it prices")
            pricing = {model: pricing}
        return cls(
            retry=RetryPolicy(**policy),
            pricing=dict(pricing or {}),
            default_headers=dict(default_headers or {}),
            **fields,
        )

    def model_facts(self, model: str) -> ModelFacts | None:
        """What the catalog layers this config points at know about ``model`` (its base URL's
        last ``/v1/models`` answer, its catalog file, its prices): `resolve_model`, called
        from here by the client and both adapters. A bad catalog file raises `CatalogError`."""
        return resolve_model(
            model,
            base_url=self.base_url,
            catalog_file=self.catalog_file,
            pricing=self.pricing.get(model),
        )

    @property
    def user_agent(self) -> str:
        """The User-Agent sent with every request."""
        return f"modelslab-integrations/{__version__} (python)"

    def url(self, path: str) -> str:
        """The full URL of an API ``path`` such as ``/chat/completions``."""
        return self.base_url + path

    def require_api_key(self) -> str:
        """The key's value, or a clear error naming where to set it (before any request)."""
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ValueError(
                f"No ModelsLab API key: pass api_key=... or set the {API_KEY_ENV} "
                "environment variable."
            )
        return self.api_key.get_secret_value()
