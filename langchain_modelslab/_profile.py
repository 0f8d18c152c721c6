"""`ChatModelsLab.profile` from the model catalog, and the cost a message carries.

langchain-core's hook for partner packages is ``BaseChatModel._resolve_model_profile``: its
``_set_model_profile`` validator calls it when no ``profile=`` was given. Ours folds the
catalog layers for the model (`modelslab_core.cost.catalog.resolve_model`: the shipped file, the
base URL's last ``/v1/models`` answer, the user's catalog file, ``pricing=``) and maps the
known facts onto ``ModelProfile`` keys; unknown facts stay out, an unknown model is ``None``.

Cost: each answer's exact cost is in ``response_metadata["cost"]`` (on the last chunk of a
stream), as JSON-safe decimal strings (`Cost.as_metadata`): ``usage_metadata`` keeps langchain-
core's token-only ``UsageMetadata`` (its ``add_usage`` only adds integers, so float cost keys
there would break chunk merging and ``get_usage_metadata_callback``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

from langchain_core.language_models import BaseChatModel, ModelProfile
from langchain_core.messages import BaseMessage

from modelslab_core import ClientConfig
from modelslab_core.cost.catalog import ModelFacts
from modelslab_core.cost.pricing import Cost

__all__ = ["message_cost", "profile_from_facts", "profile_refresh", "resolve_profile"]

_PROFILE_KEYS = {
    "name": "name",
    "context_window": "max_input_tokens",
    "max_output_tokens": "max_output_tokens",
    "tool_calling": "tool_calling",
    "structured_output": "structured_output",
    "image_input": "image_inputs",
}
"""Catalog fact -> ``ModelProfile`` key (JSON mode and prices have no profile key)."""


def profile_from_facts(facts: ModelFacts | None) -> ModelProfile | None:
    """The ``ModelProfile`` of what the catalog knows (None: nothing is known)."""
    known = {} if facts is None else facts.known()
    profile = {key: known[fact] for fact, key in _PROFILE_KEYS.items() if fact in known}
    return cast("ModelProfile", profile) if profile else None


def resolve_profile(model: str, config: ClientConfig) -> ModelProfile | None:
    """The profile of ``model`` from the catalog layers ``config`` points at (its base URL's
    listing, its catalog file, its prices); a bad catalog file raises `CatalogError`.

    ``structured_output`` (native JSON-schema answers) is a fact about ``/chat/completions``:
    the ``anthropic`` dialect sends a schema as a forced tool call instead, which is what
    ``create_agent``'s tool strategy does, not the text answer its native strategy parses, so
    on that dialect the profile leaves it out."""
    facts = config.model_facts(model)
    if facts is not None and config.dialect == "anthropic":
        facts = facts.model_copy(update={"structured_output": None})
    return profile_from_facts(facts)


@contextlib.contextmanager
def profile_refresh(model: BaseChatModel) -> Iterator[None]:
    """Around a ``/v1/models`` call: a profile that came from the catalog is re-read after it,
    so the facts the listing carries show up; a ``profile=`` of your own is left alone."""
    before = model._resolve_model_profile()
    yield
    if model.profile == before:
        model.profile = model._resolve_model_profile()


def message_cost(message: BaseMessage) -> Cost | None:
    """The exact `Cost` an answer of `ChatModelsLab` carries (None when it has none: no
    usage reported, or no price known for the model).

    Works on an ``AIMessage``, on the last chunk of a stream and on merged chunks."""
    data = message.response_metadata.get("cost")
    return Cost.from_metadata(data) if isinstance(data, dict) else None
