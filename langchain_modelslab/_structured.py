"""``with_structured_output`` on langchain-core's own parsers and include-raw pattern."""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.pydantic import is_basemodel_subclass

from ._tools import StructuredMethod, to_openai_tool

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

__all__ = ["StructuredMethod", "structured_output"]


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def _response_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    """An OpenAI ``json_schema`` response format for ``schema`` (any form langchain takes)."""
    function = to_openai_tool(schema, strict=strict)["function"]
    spec: dict[str, Any] = {"name": function["name"], "schema": function["parameters"]}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def _bound_model(
    model: BaseChatModel, schema: Any, method: StructuredMethod, strict: bool | None
) -> Runnable[LanguageModelInput, Any]:
    """The model bound to produce output for ``schema`` by ``method``."""
    trace = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    if method == "function_calling":
        name = to_openai_tool(schema)["function"]["name"]
        return model.bind_tools(
            [schema], tool_choice=name, strict=strict, ls_structured_output_format=trace
        )
    if method == "json_mode":
        return model.bind(
            response_format={"type": "json_object"}, ls_structured_output_format=trace
        )
    if method == "json_schema":
        return model.bind(
            response_format=_response_format(schema, strict), ls_structured_output_format=trace
        )
    raise ValueError(
        f"Unknown structured output method {method!r}; use 'function_calling', "
        "'json_mode' or 'json_schema'."
    )


def _parser(schema: Any, method: StructuredMethod, tool_answers: bool) -> Runnable[Any, Any]:
    """The langchain-core parser for ``method`` (streams partial objects).

    ``tool_answers``: the dialect renders ``json_schema`` as a forced tool call (Anthropic).
    """
    if method == "function_calling" or (method == "json_schema" and tool_answers):
        if _is_pydantic(schema):
            return PydanticToolsParser(tools=[schema], first_tool_only=True)
        name = to_openai_tool(schema)["function"]["name"]
        return JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    if _is_pydantic(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def structured_output(
    model: BaseChatModel,
    schema: Any,
    *,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """``model`` returning objects of ``schema``; with ``include_raw`` a dict of
    ``raw``/``parsed``/``parsing_error`` (parse errors are reported, not raised)."""
    if schema is None:
        raise ValueError("with_structured_output needs a schema.")
    if method == "json_mode" and strict:
        raise ValueError("strict is not supported with method='json_mode'.")
    if method == "json_mode" and _is_pydantic(schema):
        to_openai_tool(schema)  # a schema that is not JSON-describable fails here, not per call
    llm = _bound_model(model, schema, method, strict)
    parser = _parser(schema, method, tool_answers=getattr(model, "dialect", None) == "anthropic")
    if not include_raw:
        return llm | parser
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    with_fallback = parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")
    return RunnableMap(raw=llm) | with_fallback
