"""The model catalog: what we know about each ModelsLab model, and where each fact came from.

A fact is known or unknown (``None``); nothing here guesses from a model's name. Layers, each
overriding, fact by fact, what the layers before it know (an unknown fact never erases a
known one):

1. the shipped file ``modelslab_core/data/models.json``: the documented facts, each with its
   source;
2. what ``GET /v1/models`` last returned on the same base URL, when its entries carry more than
   ids (``context_length``, ``pricing.prompt``/``pricing.completion`` in dollars per token,
   ``top_provider.max_completion_tokens``, ``supported_parameters``,
   ``architecture.input_modalities``, as OpenRouter-style routers return them; llama.cpp's
   ``llama-server`` gives ``meta.n_ctx``, the context it serves, and ``meta.n_ctx_train``),
   read leniently: a field that is missing or malformed is simply not known;
3. your own catalog file (``catalog_file=`` or the ``MODELSLAB_MODEL_CATALOG`` environment
   variable), in the shipped file's format;
4. per-instance settings (``pricing=``; the adapters' own ``profile=``/``context_window=``).

`resolve_model` folds the layers for one model id; a model no layer knows is ``None``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from ..env import CATALOG_ENV
from ..exceptions import ModelsLabError
from ..types import ModelInfo
from .pricing import ModelPricing, to_decimal

__all__ = [
    "CATALOG_ENV",
    "FACTS",
    "CatalogError",
    "ModelCatalog",
    "ModelFacts",
    "facts_from_listing",
    "forget_listings",
    "load_catalog",
    "remember_listing",
    "resolve_model",
    "shipped_catalog",
    "user_catalog_path",
]

"""Environment variable naming a catalog file of your own."""

FACTS = (
    "name",
    "context_window",
    "max_output_tokens",
    "tool_calling",
    "json_mode",
    "structured_output",
    "image_input",
    "pricing",
)
"""The facts a catalog entry may know (``sources`` says where each known one came from)."""


class CatalogError(ModelsLabError, ValueError):
    """A catalog file could not be read or does not follow the catalog format."""


class ModelFacts(BaseModel):
    """What is known about one model; ``None`` means unknown, never "no"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str | None = None
    context_window: PositiveInt | None = None
    """Tokens the model reads and writes in one call (prompt plus answer)."""
    max_output_tokens: PositiveInt | None = None
    """Most tokens one answer may have."""
    tool_calling: bool | None = None
    json_mode: bool | None = None
    """Takes ``response_format: {"type": "json_object"}``."""
    structured_output: bool | None = None
    """Takes ``response_format: {"type": "json_schema"}`` (native structured output)."""
    image_input: bool | None = None
    pricing: ModelPricing | None = None
    sources: dict[str, str] = Field(default_factory=dict)
    """Where each known fact came from (fact name -> source)."""

    def known(self) -> dict[str, Any]:
        """The known facts, by name."""
        return {name: value for name in FACTS if (value := getattr(self, name)) is not None}

    def merged(self, other: ModelFacts) -> ModelFacts:
        """These facts with ``other``'s known ones on top (and their sources)."""
        known = other.known()
        if not known:
            return self
        sources = {**self.sources, **{k: v for k, v in other.sources.items() if k in known}}
        return self.model_copy(update={**known, "sources": sources})


class ModelCatalog:
    """Model facts by model id (read-only)."""

    def __init__(self, models: Iterable[ModelFacts] = (), origin: str = "") -> None:
        self._models = {facts.id: facts for facts in models}
        self.origin = origin
        """Where this catalog came from (a file, a listing)."""

    def __repr__(self) -> str:
        return f"ModelCatalog({len(self._models)} models from {self.origin or 'memory'})"

    def get(self, model: str) -> ModelFacts | None:
        """The facts about ``model``, or None when this catalog does not know it."""
        return self._models.get(model)

    def __contains__(self, model: object) -> bool:
        return model in self._models

    def __iter__(self) -> Iterator[ModelFacts]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    @classmethod
    def from_dict(cls, data: Any, origin: str) -> ModelCatalog:
        """A catalog from the file format (``{"models": {id: {fact: value, ...}}}``); a
        `CatalogError` names the entry that does not follow it."""
        models = data.get("models") if isinstance(data, dict) else None
        if not isinstance(models, dict):
            raise CatalogError(f"{origin}: expected an object with a 'models' object")
        return cls((_entry(model, entry, origin) for model, entry in models.items()), origin)


def _entry(model: str, entry: Any, origin: str) -> ModelFacts:
    """One file entry: facts, prices per token (both or neither), sources (default: origin)."""
    if not isinstance(entry, dict):
        raise CatalogError(f"{origin}: model {model!r} must be an object")
    values = dict(entry)
    prices = (values.pop("input_price_per_token", None), values.pop("output_price_per_token", None))
    try:
        if prices != (None, None):
            if None in prices:
                raise ValueError("give both input_price_per_token and output_price_per_token")
            values["pricing"] = ModelPricing(input_per_token=prices[0], output_per_token=prices[1])
        facts = ModelFacts(id=model, **values)
    except (ValidationError, ValueError, TypeError) as exc:
        raise CatalogError(f"{origin}: model {model!r}: {exc}") from None
    defaults = {name: origin for name in facts.known() if name not in facts.sources}
    return (
        facts.model_copy(update={"sources": {**defaults, **facts.sources}}) if defaults else facts
    )


def load_catalog(path: str | os.PathLike[str]) -> ModelCatalog:
    """Read a catalog file (the shipped file's format); `CatalogError` when it cannot."""
    origin = f"catalog file {os.fspath(path)}"
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise CatalogError(f"{origin}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CatalogError(f"{origin}: not valid JSON ({exc})") from None
    return ModelCatalog.from_dict(data, origin)


@lru_cache(maxsize=1)
def shipped_catalog() -> ModelCatalog:
    """The catalog shipped in the wheel (``modelslab_core/data/models.json``)."""
    text = resources.files("modelslab_core").joinpath("data/models.json").read_text("utf-8")
    return ModelCatalog.from_dict(json.loads(text), "modelslab_core/data/models.json")


def user_catalog_path(path: str | os.PathLike[str] | None = None) -> str | None:
    """``path``, else ``MODELSLAB_MODEL_CATALOG``, else None."""
    if path is not None:
        return os.fspath(path)
    return os.environ.get(CATALOG_ENV) or None


_FILES: dict[str, tuple[int, ModelCatalog]] = {}
_FILES_LOCK = threading.Lock()


def _stamp(path: str | None) -> int | None:
    """The modification time of the user's catalog file (None: no file)."""
    if path is None:
        return None
    try:
        return os.stat(path).st_mtime_ns
    except OSError as exc:
        raise CatalogError(f"catalog file {path}: cannot be read ({exc.strerror or exc})") from None


def _user_catalog(path: str | None, stamp: int | None) -> ModelCatalog | None:
    """The user's catalog file, read again only when its modification time changes."""
    if path is None or stamp is None:
        return None
    with _FILES_LOCK:
        cached = _FILES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    catalog = load_catalog(path)
    with _FILES_LOCK:
        _FILES[path] = (stamp, catalog)
    return catalog


# --------------------------------------------------------------------------- /v1/models

_LISTINGS: dict[str, ModelCatalog] = {}
_LISTINGS_LOCK = threading.Lock()
_RESOLVED: dict[tuple[Any, ...], ModelFacts | None] = {}
"""`resolve_model` answers by (model, base URL, file and its time, pricing); cleared whenever a
listing changes (facts are immutable, so sharing them is safe)."""


def _count(value: Any) -> int | None:
    """A positive token count from an int or a digit string; None otherwise."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _first_count(data: Any, keys: tuple[str, ...]) -> int | None:
    if not isinstance(data, dict):
        return None
    return next((n for key in keys if (n := _count(data.get(key))) is not None), None)


def _listed_pricing(value: Any) -> ModelPricing | None:
    """OpenRouter-style ``pricing``: dollars per token as strings (negative: not priced)."""
    if not isinstance(value, dict):
        return None
    try:
        prompt = to_decimal(value.get("prompt", value.get("input")))
        completion = to_decimal(value.get("completion", value.get("output")))
    except (TypeError, ValueError):
        return None
    if prompt < 0 or completion < 0:
        return None
    return ModelPricing(input_per_token=prompt, output_per_token=completion)


def _names(value: Any) -> set[str] | None:
    if not isinstance(value, list):
        return None
    return {item for item in value if isinstance(item, str)}


def facts_from_listing(info: ModelInfo | Mapping[str, Any], origin: str) -> ModelFacts:
    """The facts one ``/v1/models`` entry carries beyond its id (lenient: what does not
    parse is unknown)."""
    data = info.model_dump() if isinstance(info, ModelInfo) else dict(info)
    top = data.get("top_provider")
    params = _names(data.get("supported_parameters"))
    architecture = data.get("architecture")
    modalities = (
        _names(architecture.get("input_modalities")) if isinstance(architecture, dict) else None
    )
    name = data.get("name")
    facts: dict[str, Any] = {
        "name": name if isinstance(name, str) and name else None,
        "context_window": _first_count(
            data, ("context_length", "context_window", "max_context_length", "max_model_len")
        )
        or _first_count(top, ("context_length",))
        # llama-server: the context it was started with (-c), else the model's trained one
        or _first_count(data.get("meta"), ("n_ctx", "n_ctx_train")),
        "max_output_tokens": _first_count(top, ("max_completion_tokens",))
        or _first_count(data, ("max_completion_tokens", "max_output_tokens")),
        "pricing": _listed_pricing(data.get("pricing")),
        "tool_calling": None if params is None else "tools" in params,
        "json_mode": None if params is None else "response_format" in params,
        "structured_output": None if params is None else "structured_outputs" in params,
        "image_input": None if modalities is None else "image" in modalities,
    }
    known = {k: v for k, v in facts.items() if v is not None}
    return ModelFacts(id=str(data["id"]), **known, sources=dict.fromkeys(known, origin))


def remember_listing(base_url: str, models: Iterable[ModelInfo]) -> ModelCatalog:
    """Keep what a ``/v1/models`` answer of ``base_url`` says (replacing its last listing)."""
    origin = f"GET {base_url}/v1/models"
    catalog = ModelCatalog((facts_from_listing(m, origin) for m in models), origin)
    with _LISTINGS_LOCK:
        _LISTINGS[base_url] = catalog
        _RESOLVED.clear()
    return catalog


def forget_listings() -> None:
    """Forget every remembered ``/v1/models`` answer."""
    with _LISTINGS_LOCK:
        _LISTINGS.clear()
        _RESOLVED.clear()


def _listed(base_url: str | None, model: str) -> ModelFacts | None:
    if base_url is None:
        return None
    with _LISTINGS_LOCK:
        catalog = _LISTINGS.get(base_url.rstrip("/"))
    return None if catalog is None else catalog.get(model)


def resolve_model(
    model: str,
    *,
    base_url: str | None = None,
    catalog_file: str | os.PathLike[str] | None = None,
    pricing: ModelPricing | None = None,
) -> ModelFacts | None:
    """Everything known about ``model``: shipped file, then ``base_url``'s last ``/v1/models``
    answer, then the user's catalog file (``catalog_file`` or ``MODELSLAB_MODEL_CATALOG``),
    then ``pricing``. None when nothing is known; a bad user file raises `CatalogError`."""
    path = user_catalog_path(catalog_file)
    stamp = _stamp(path)
    key = (model, base_url, path, stamp, pricing)
    if key in _RESOLVED:
        return _RESOLVED[key]
    user = _user_catalog(path, stamp)
    layers = [
        shipped_catalog().get(model),
        _listed(base_url, model),
        None if user is None else user.get(model),
    ]
    if pricing is not None:
        layers.append(
            ModelFacts(id=model, pricing=pricing, sources={"pricing": "pricing= setting"})
        )
    result: ModelFacts | None = None
    for layer in layers:
        if layer is not None:
            result = layer if result is None else result.merged(layer)
    with _LISTINGS_LOCK:
        if len(_RESOLVED) >= 4096:
            _RESOLVED.clear()
        _RESOLVED[key] = result
    return result
