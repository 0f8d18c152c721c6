"""Constructor keywords: the spellings each adapter accepts for one setting, and unknown names.

Users arrive with the spellings of the integration they used before (``base_url`` from
langchain-openai and llama-index-llms-anthropic, ``api_base`` from llama-index-llms-openai,
``model_name`` from LangChain, ...). An adapter lists the spellings of each setting; these pure
functions rename them to the setting's own name, refuse two spellings of one setting given
together (which one would win is a guess), and name a keyword nobody knows instead of dropping
it. Each adapter keeps its framework's convention for what an unknown keyword means.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

__all__ = ["canonical_keywords", "close_match", "reject_unknown_keywords"]


def canonical_keywords(
    values: Mapping[str, Any], spellings: Mapping[str, Sequence[str]], owner: str
) -> dict[str, Any]:
    """``values`` with every other spelling renamed to its setting's name (the mapping's key).

    Two spellings of one setting given together raise a `TypeError` naming both, even when
    their values are equal.
    """
    out = dict(values)
    for name, others in spellings.items():
        given = [spelling for spelling in (name, *others) if spelling in values]
        if len(given) > 1:
            listed = " and ".join(f"{spelling}=" for spelling in given)
            raise TypeError(
                f"{owner} got {listed}: they are spellings of one setting ({name}); pass one"
            )
        if given and given[0] != name:
            out[name] = out.pop(given[0])
    return out


def close_match(name: str, known: Collection[str]) -> str | None:
    """The known keyword ``name`` is most likely a misspelling of, if any is close."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return matches[0] if matches else None


def reject_unknown_keywords(
    values: Mapping[str, Any], known: Collection[str], owner: str, hint: str = ""
) -> None:
    """Raise a `TypeError` naming the keywords of ``values`` that are not in ``known`` (with the
    closest known spelling, and ``hint`` for where request fields go)."""
    unknown = [name for name in values if name not in known]
    if not unknown:
        return
    parts = []
    for name in unknown:
        match = close_match(name, known)
        parts.append(f"{name!r}" + (f" (did you mean {match!r}?)" if match else ""))
    noun = "argument" if len(unknown) == 1 else "arguments"
    message = f"{owner} got an unexpected keyword {noun}: {', '.join(parts)}"
    raise TypeError(message + (f". {hint}" if hint else ""))
