"""``with_structured_output`` on langchain-core's own parsers and include-raw pattern.

What each method sends, where the answer arrives and how a complete answer is read is the
core's decision (`modelslab_core.structured.plan`): ``function_calling`` forces the schema's
tool (``tool_choice="required"``, parallel calls off), ``json_schema`` is a response format
(on the Anthropic dialect a forced tool call), ``json_mode`` a ``json_object`` format with
the schema in a system instruction (``schema=None``: any dict, as ``ChatOpenAI`` gives).
Here the schema is converted by langchain-core (``convert_to_openai_tool``), the plan's
options are bound, and langchain-core's parsers stream partial objects and validate. A
complete answer not in the schema (no forced call, arguments or text not JSON) is the core's
`StructuredOutputError`, raised as the ``OutputParserException`` langchain-core expects
(with ``include_raw=True`` it lands in ``parsing_error``), never ``None``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    JsonOutputToolsParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGeneration, Generation
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ConfigDict

from modelslab_core.structured import StructuredOutputError, StructuredPlan, plan
from modelslab_core.types import Dialect

from ._tools import StructuredMethod, to_openai_tool

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

__all__ = ["AnswerParser", "StructuredMethod", "structured_output"]


def read_answer(chosen: StructuredPlan, dialect: Dialect, result: list[Generation]) -> Any:
    """The core's exact reading of a complete answer; its `StructuredOutputError` raised as
    langchain-core's ``OutputParserException`` (the core error chained)."""
    message = result[0].message if isinstance(result[0], ChatGeneration) else None
    text = result[0].text
    calls: list[tuple[str, Any]] = []
    if isinstance(message, AIMessage):
        calls = [(c["name"], c["args"]) for c in message.tool_calls]
        calls += [(c["name"] or "", c["args"]) for c in message.invalid_tool_calls]
    try:
        return chosen.read(dialect, text, calls)
    except StructuredOutputError as error:
        raise OutputParserException(error.message, llm_output=text or None) from error


class AnswerParser(BaseCumulativeTransformOutputParser[Any]):
    """The structured answer, where the plan says it arrives (a forced tool call or the text).

    Partial objects while streaming come from langchain-core's ``inner`` parser. A complete
    answer is read by the core first (exact: no forced call, arguments or text that are not
    JSON raise ``OutputParserException``, where langchain-core's parsers would return
    ``None`` or complete a cut object), then validated by ``inner``. A stream that ends
    without any object raises too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: JsonOutputToolsParser | JsonOutputParser
    chosen: StructuredPlan
    dialect: Dialect

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        """Partial: ``inner``'s lenient reading; complete: the core's, validated by ``inner``."""
        parsed = self.inner.parse_result(result, partial=True)  # also its refusal check
        if partial:
            return parsed
        data = read_answer(self.chosen, self.dialect, result)
        if isinstance(self.inner, JsonOutputToolsParser):
            return self.inner.parse_result(result)
        return self.inner.parse_result([Generation(text=json.dumps(data))])

    def parse(self, text: str) -> Any:
        """Answers are read from whole generations (``parse_result``), as tool parsers do."""
        raise NotImplementedError

    def _nothing(self) -> OutputParserException:
        tool = self.chosen.answer_tool(self.dialect)
        error = (
            StructuredOutputError.no_call("", tool)
            if tool is not None
            else StructuredOutputError("The streamed answer holds no JSON object")
        )
        exception = OutputParserException(error.message)
        exception.__cause__ = error
        return exception

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[Any]:
        last = None
        for last in super()._transform(input):
            yield last
        if last is None:
            raise self._nothing()

    async def _atransform(self, input: AsyncIterator[str | BaseMessage]) -> AsyncIterator[Any]:
        last = None
        async for last in super()._atransform(input):
            yield last
        if last is None:
            raise self._nothing()


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def _parser(schema: Any, chosen: StructuredPlan, dialect: Dialect) -> Runnable[Any, Any]:
    """The parser of ``chosen``'s answer on ``dialect`` (streams partial objects)."""
    name = chosen.answer_tool(dialect)
    inner: JsonOutputToolsParser | JsonOutputParser
    if name is not None and _is_pydantic(schema):
        inner = PydanticToolsParser(tools=[schema], first_tool_only=True)
    elif name is not None:
        inner = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif _is_pydantic(schema):
        inner = PydanticOutputParser(pydantic_object=schema)
    else:
        inner = JsonOutputParser()
    return AnswerParser(inner=inner, chosen=chosen, dialect=dialect)


def _instructed(instruction: str) -> Runnable[Any, list[BaseMessage]]:
    """The model input with ``instruction`` as a leading system turn (JSON mode's schema)."""

    def prepend(value: Any) -> list[BaseMessage]:
        if isinstance(value, PromptValue):
            messages = value.to_messages()
        elif isinstance(value, str):
            messages = [HumanMessage(value)]
        else:
            messages = convert_to_messages(value)
        return [SystemMessage(instruction), *messages]

    return RunnableLambda(prepend, name="structured_output_instruction")


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
    tool = None
    if schema is not None:
        tool = to_openai_tool(schema, strict=None if method == "json_mode" else strict)
    chosen = plan(method, tool, strict=strict)
    dialect: Dialect = getattr(model, "dialect", "openai")
    trace = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    llm: Runnable[Any, Any] = model.bind(**chosen.options, ls_structured_output_format=trace)
    if chosen.instruction is not None:
        llm = _instructed(chosen.instruction) | llm
    parser = _parser(schema, chosen, dialect)
    if not include_raw:
        return llm | parser
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    with_fallback = parser_assign.with_fallbacks([parser_none], exception_key="parsing_error")
    return RunnableMap(raw=llm) | with_fallback
