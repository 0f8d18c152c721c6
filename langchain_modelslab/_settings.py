"""`ChatModelsLab`'s settings -> the core `ClientConfig` (pure), and when to rebuild it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.language_models import LangSmithParams
from langchain_core.utils import get_pydantic_field_names
from langchain_core.utils.utils import _build_model_kwargs

from modelslab_core import ClientConfig
from modelslab_core.keywords import canonical_keywords
from modelslab_core.types import SAMPLING_FIELDS

from ._convert import PROVIDER
from ._tools import format_tools

if TYPE_CHECKING:
    from .chat_models import ChatModelsLab

__all__ = [
    "CONFIG_FIELDS",
    "SPELLINGS",
    "config_key",
    "constructor_values",
    "ls_params",
    "make_config",
    "request_options",
]

SPELLINGS: dict[str, tuple[str, ...]] = {
    "model": ("model_name",),
    "base_url": ("api_base", "modelslab_api_base"),
    "api_key": ("modelslab_api_key",),
    "timeout": ("request_timeout",),
    "max_tokens": ("max_completion_tokens",),
    "stop": ("stop_sequences",),
}
"""The other spellings of a setting: LangChain's (``model_name``, ``request_timeout`` and
``max_completion_tokens`` as in ``ChatOpenAI``, ``stop_sequences`` as in ``ChatAnthropic``), the
provider-prefixed field names of LangChain partner packages, and LlamaIndex's ``api_base``."""

CONFIG_FIELDS = (
    "model",
    "api_key",
    "base_url",
    "auth",
    "model_field",
    "dialect",
    "timeout",
    "stream_chunk_timeout",
    "max_retries",
    "retry_initial_delay",
    "max_in_flight",
    "in_flight_backend",
    "in_flight_lease",
    "in_flight_fallback",
    "in_flight_retry_window",
    "in_flight_wait_timeout",
    "default_headers",
    "pricing",
    "catalog_file",
)
"""The model fields the client configuration is made of."""


def constructor_values(cls: type[ChatModelsLab], values: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords as the fields take them: every spelling renamed to its setting (two
    spellings of one setting given together: a `TypeError`), then LangChain's convention for
    the rest: an unknown keyword moves to ``model_kwargs`` with a warning."""
    values = canonical_keywords(values, SPELLINGS, cls.__name__)
    return _build_model_kwargs(values, get_pydantic_field_names(cls))


def config_key(model: ChatModelsLab) -> tuple[Any, ...]:
    """What the configuration depends on (a changed setting gives a new key)."""
    fields = model.__dict__
    return tuple(
        tuple(v.items()) if isinstance(v, dict) else v for v in [fields[n] for n in CONFIG_FIELDS]
    )


def make_config(model: ChatModelsLab) -> ClientConfig:
    """The core `ClientConfig` for a model's settings (``timeout`` as the core defines it)."""
    return ClientConfig.from_settings(**{name: getattr(model, name) for name in CONFIG_FIELDS})


def ls_params(
    model: ChatModelsLab, stop: list[str] | None, kwargs: dict[str, Any]
) -> LangSmithParams:
    """The LangSmith parameters of a call (provider, model, temperature, max tokens, stop)."""
    requested = kwargs.get("model")
    params = LangSmithParams(
        ls_provider=PROVIDER,
        ls_model_name=requested if isinstance(requested, str) else model.model,
        ls_model_type="chat",
    )
    temperature = kwargs.get("temperature", model.temperature)
    if isinstance(temperature, int | float):
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", model.max_tokens)
    if isinstance(max_tokens, int):
        params["ls_max_tokens"] = max_tokens
    if stop_list := stop or kwargs.get("stop") or model.stop:
        params["ls_stop"] = list(stop_list)
    return params


def request_options(
    model: ChatModelsLab, stop: list[str] | None, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The options of one request for `modelslab_core.normalize.build_request`: the model's
    settings, then the call's ``kwargs`` (bound or per call), then ``stop``."""
    options: dict[str, Any] = {name: getattr(model, name) for name in SAMPLING_FIELDS}
    options["stop"] = model.stop
    options["include_usage"] = model.stream_usage
    call = dict(kwargs)
    call.pop("stream", None)
    if "stream_usage" in call:
        call["include_usage"] = call.pop("stream_usage")
    if call.get("tools"):
        call["tools"] = format_tools(call["tools"])
    call_extra = call.pop("extra_body", None) or {}
    options.update(
        call, extra_body={**model.model_kwargs, **(model.extra_body or {}), **call_extra}
    )
    if stop:
        options["stop"] = stop
    return options
