"""`ModelsLab`'s constructor keywords: the spellings LlamaIndex users type, and unknown names.

``api_base`` is llama-index-llms-openai's (and OpenAILike's) name for the base URL and
``base_url`` llama-index-llms-anthropic's; ``model_name`` is the LangChain-wide spelling;
``max_new_tokens`` is the older LlamaIndex spelling llama-index-llms-openai still honours;
``request_timeout`` is llama-index-llms-ollama's. A keyword no setting has is a `TypeError`
naming it, as llama-index-llms-anthropic's constructor does (llama-index-llms-openai drops it
silently: a misspelled ``api_bse=`` would send the request, key included, to the default host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelslab_core.keywords import canonical_keywords, reject_unknown_keywords

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["SPELLINGS", "constructor_values"]

SPELLINGS: dict[str, tuple[str, ...]] = {
    "model": ("model_name",),
    "api_base": ("base_url",),
    "timeout": ("request_timeout",),
    "max_tokens": ("max_new_tokens",),
}
"""Setting -> its other accepted spellings."""

_HINT = (
    "Fields to send with every request go in additional_kwargs={...}; other client settings "
    "in client_options={...}"
)


def constructor_values(cls: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Constructor keywords as the fields take them: every spelling renamed to its setting (two
    spellings of one setting given together: a `TypeError`), any other unknown keyword a
    `TypeError` naming it. OpenAILike's ``is_chat_model=True`` is accepted (it always is one)."""
    values = canonical_keywords(values, SPELLINGS, cls.__name__)
    if values.get("is_chat_model", True) is not True:
        raise ValueError(f"{cls.__name__} is a chat model: is_chat_model must be True")
    values.pop("is_chat_model", None)
    known = {*cls.model_fields, *(f.alias for f in cls.model_fields.values() if f.alias)}
    reject_unknown_keywords(values, known, cls.__name__, _HINT)
    return values
