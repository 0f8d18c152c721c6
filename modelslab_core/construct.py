"""Build pydantic objects from complete, already checked values, without validation (guarded).

`trusted` builds what ``cls.model_construct(_fields_set=fields_set, **values)`` builds, at about
a quarter of its cost (``model_construct`` runs a Python loop over the fields): it sets the
instance ``__dict__`` and pydantic's three slots directly. That is only equivalent for a *plain*
class (no private attributes, no ``model_post_init``, no extra fields, not a root model) given
every field; for any other class, or a call that does not pass every field, it falls back to
``model_construct``. The check is made once per class.

Used where thousands of objects are built per call: long histories (`modelslab_core.types`
`trusted_message`) and LlamaIndex stream snapshots (``llama_index_modelslab._snapshots``).

Private names of pydantic this relies on (``tests/test_layout.py`` resolves each, and fails when
pydantic renames or removes one; the equality with ``model_construct`` is tested per class):

- ``pydantic.BaseModel.__pydantic_fields_set__``
- ``pydantic.BaseModel.__pydantic_extra__``
- ``pydantic.BaseModel.__pydantic_private__``
- ``pydantic.BaseModel.__pydantic_root_model__``
- ``modelslab_core.types.Message.__pydantic_post_init__`` (set on every model class)
- ``modelslab_core.types.Message.__private_attributes__`` (set on every model class)
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["is_plain", "trusted"]

_M = TypeVar("_M", bound=BaseModel)
_new = object.__new__
_set_dict = object.__setattr__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_PLAIN: dict[type[BaseModel], int] = {}
"""Plain classes -> their number of fields (``-1``: not plain)."""


def is_plain(cls: type[BaseModel]) -> bool:
    """Whether an instance of ``cls`` is only its ``__dict__`` (see the module docs)."""
    return (
        not cls.__private_attributes__
        and cls.__pydantic_post_init__ is None
        and cls.model_config.get("extra") != "allow"
        and not cls.__pydantic_root_model__
    )


def trusted(cls: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    """``cls.model_construct(_fields_set=fields_set, **values)``, fast for plain classes.

    ``values`` must hold valid values; it becomes the instance's ``__dict__`` (not copied).
    """
    count = _PLAIN.get(cls)
    if count is None:
        count = _PLAIN[cls] = len(cls.model_fields) if is_plain(cls) else -1
    if count != len(values):
        return cls.model_construct(_fields_set=fields_set, **values)
    obj = _new(cls)
    _set_dict(obj, "__dict__", values)
    _set_fields_set(obj, fields_set)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
