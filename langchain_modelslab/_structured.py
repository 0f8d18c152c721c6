"""``with_structured_output`` on langchain-core's own parsers and include-raw pattern.

- ``function_calling`` (and ``json_schema`` on the Anthropic dialect, which renders it as a
  forced tool): the forced tool call is the answer. An answer without it (a server that
  ignores ``tool_choice`` and replies in text) is an ``OutputParserException`` saying so,
  never ``None``; with ``include_raw=True`` it lands in ``parsing_error``.
- ``json_mode``: ``response_format: json_object``; with ``schema=None`` the answer is a dict
  (as ``ChatOpenAI`` gives).
- ``json_schema``: ``response_format: json_schema``, the answer is the JSON text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    JsonOutputToolsParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.pydantic import is_basemodel_subclass

from ._tools import StructuredMethod, to_openai_tool

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

__all__ = ["ForcedToolParser", "StructuredMethod", "structured_output"]


class ForcedToolParser(BaseCumulativeTransformOutputParser[Any]):
    """The arguments of the forced tool call ``tool`` (parsed by ``inner``).

    langchain-core's tool parsers return ``None`` when the message has no such call; here a
    complete answer (or a finished stream) without it raises ``OutputParserException``.
    """

    inner: JsonOutputToolsParser
    tool: str

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        """The parsed call; ``OutputParserException`` if a complete answer has none."""
        parsed = self.inner.parse_result(result, partial=partial)
        if parsed is None and not partial:
            raise self._no_call(result)
        return parsed

    def parse(self, text: str) -> Any:
        """Tool calls live in messages, not in text (as langchain-core's tool parsers)."""
        raise NotImplementedError

    def _no_call(self, result: list[Generation] | None = None) -> OutputParserException:
        message = result[0].message if result and isinstance(result[0], ChatGeneration) else None
        said = message.text if isinstance(message, BaseMessage) else ""
        answer = f"it answered in text: {said[:200]!r}" if said else "it produced no call"
        return OutputParserException(
            f"The model did not call the tool {self.tool!r} that structured output asked for "
            f"(tool_choice forced it; {answer}).",
            llm_output=said or None,
        )

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[Any]:
        last = None
        for last in super()._transform(input):
            yield last
        if last is None:
            raise self._no_call()

    async def _atransform(self, input: AsyncIterator[str | BaseMessage]) -> AsyncIterator[Any]:
        last = None
        async for last in super()._atransform(input):
            yield last
        if last is None:
            raise self._no_call()


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
    """The parser for ``method`` (streams partial objects).

    ``tool_answers``: the dialect renders ``json_schema`` as a forced tool call (Anthropic).
    """
    if method == "function_calling" or (method == "json_schema" and tool_answers):
        name = to_openai_tool(schema)["function"]["name"]
        inner: JsonOutputToolsParser
        if _is_pydantic(schema):
            inner = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            inner = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        return ForcedToolParser(inner=inner, tool=name)
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
    ``raw``/``parsed``/``parsing_error`` (parse errors are reported, not raised).

    ``schema=None`` is allowed with ``method="json_mode"``: the answer is a dict."""
    if schema is None and method != "json_mode":
        raise ValueError(
            "with_structured_output needs a schema (or method='json_mode', which returns dicts)."
        )
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
