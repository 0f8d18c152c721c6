"""`StructuredOutputLLM`: structured output through ``response_format`` or function calling.

The base of `ModelsLab`. With ``structured_output_mode="function_calling"`` (the default)
LlamaIndex's `FunctionCallingProgram` is used, its tool forced (also when streaming, where
LlamaIndex would leave ``tool_choice`` on ``auto``). With ``"json_schema"`` or ``"json_mode"``
the four ``structured_predict`` variants (and so ``as_structured_llm``) send a
``response_format`` instead, and never a ``tool_choice`` without tools.

Every entry point (the four variants and ``as_structured_llm``) first checks that the output
class is a pydantic class with a JSON schema (`TypeError` naming it otherwise), before any
request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
)
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

from . import _structured

if TYPE_CHECKING:
    from llama_index.core.llms.structured_llm import StructuredLLM
    from llama_index.core.prompts import BasePromptTemplate

__all__ = ["StructuredOutputLLM"]

dispatcher = get_dispatcher(__name__)


class StructuredOutputLLM(FunctionCallingLLM):
    """A function-calling LLM whose structured output may go through ``response_format``."""

    strict: bool = Field(default=False, description="Ask for strict tool/schema adherence.")
    structured_output_mode: _structured.StructuredMode = Field(
        default="function_calling",
        description="How structured_predict asks for JSON: function_calling, json_schema, json_mode.",
    )

    def _response_format_mode(self) -> bool:
        """Whether structured output goes through ``response_format`` (not function calling)."""
        return (
            self.structured_output_mode != "function_calling"
            and self.pydantic_program_mode == PydanticProgramMode.DEFAULT
        )

    def _structured_call(
        self, output_cls: type[BaseModel], prompt: BasePromptTemplate, prompt_args: dict[str, Any],
        llm_kwargs: dict[str, Any] | None,
    ) -> tuple[list[ChatMessage], dict[str, Any], Any]:  # fmt: skip
        """Messages, chat kwargs and format for a ``response_format`` structured call."""
        fmt = _structured.output_format(output_cls, self.structured_output_mode, strict=self.strict)
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        if self.structured_output_mode == "json_mode":
            messages = _structured.with_schema_instruction(messages, output_cls)
        kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in ("tool_choice", "tools")}
        kwargs["response_format"] = fmt
        return messages, kwargs, fmt

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        """A ``output_cls`` instance: JSON schema / JSON mode when configured, else tools."""
        _structured.check_output_cls(output_cls)
        if not self._response_format_mode():
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs, fmt = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        result = _structured.parse_final(self.chat(messages, **kwargs), output_cls, fmt)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Any:
        """Async `structured_predict`."""
        _structured.check_output_cls(output_cls)
        if not self._response_format_mode():
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=prompt_args
            )
        )
        messages, kwargs, fmt = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        response = await self.achat(messages, **kwargs)
        result = _structured.parse_final(response, output_cls, fmt)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    def stream_structured_predict(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        """Partial ``output_cls`` objects as the answer streams, then the exact one."""
        _structured.check_output_cls(output_cls)
        return super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)

    @dispatcher.span
    async def astream_structured_predict(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        """Async `stream_structured_predict`."""
        _structured.check_output_cls(output_cls)
        return await super().astream_structured_predict(
            output_cls, prompt, llm_kwargs, **prompt_args
        )

    def as_structured_llm(self, output_cls: type[BaseModel], **kwargs: Any) -> StructuredLLM:
        """A `StructuredLLM` answering with ``output_cls`` (checked here, before any request)."""
        return super().as_structured_llm(_structured.check_output_cls(output_cls), **kwargs)

    def _function_program(self, output_cls: type[Any], prompt: Any) -> Any:
        """A function-calling program that forces its tool (also when streaming)."""
        from llama_index.core.program.function_program import FunctionCallingProgram

        return FunctionCallingProgram.from_defaults(
            output_cls=output_cls, llm=self, prompt=prompt, tool_choice="required"
        )

    def _structured_stream_call(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        if self._response_format_mode():
            messages, kwargs, fmt = self._structured_call(
                output_cls, prompt, prompt_args, llm_kwargs
            )
            return self._json_stream(self.stream_chat(messages, **kwargs), output_cls, fmt)
        if (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self.metadata.is_function_calling_model
        ):
            program = self._function_program(output_cls, prompt)
            stream: Generator[Any, None, None] = program.stream_call(
                llm_kwargs=llm_kwargs, **prompt_args
            )
            return stream
        return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)

    async def _structured_astream_call(
        self,
        output_cls: type[Any],
        prompt: Any,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        if self._response_format_mode():
            messages, kwargs, fmt = self._structured_call(
                output_cls, prompt, prompt_args, llm_kwargs
            )
            return self._ajson_stream(await self.astream_chat(messages, **kwargs), output_cls, fmt)
        if (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self.metadata.is_function_calling_model
        ):
            program = self._function_program(output_cls, prompt)
            stream: AsyncGenerator[Any, None] = await program.astream_call(
                llm_kwargs=llm_kwargs, **prompt_args
            )
            return stream
        return await super()._structured_astream_call(output_cls, prompt, llm_kwargs, **prompt_args)

    @staticmethod
    def _json_stream(
        responses: ChatResponseGen, output_cls: type[BaseModel], fmt: Any
    ) -> Generator[BaseModel, None, None]:
        """Partial objects while the JSON streams, then the exact one."""
        last: ChatResponse | None = None
        previous: BaseModel | None = None
        for last in responses:
            partial = _structured.parse_partial(last, output_cls, fmt)
            if partial is not None and partial != previous:
                previous = partial
                yield partial
        if last is not None:
            final = _structured.parse_final(last, output_cls, fmt)
            if final != previous:
                yield final

    @staticmethod
    async def _ajson_stream(
        responses: ChatResponseAsyncGen, output_cls: type[BaseModel], fmt: Any
    ) -> AsyncGenerator[BaseModel, None]:
        """Async `_json_stream`."""
        last: ChatResponse | None = None
        previous: BaseModel | None = None
        async for last in responses:
            partial = _structured.parse_partial(last, output_cls, fmt)
            if partial is not None and partial != previous:
                previous = partial
                yield partial
        if last is not None:
            final = _structured.parse_final(last, output_cls, fmt)
            if final != previous:
                yield final
