"""`StructuredOutputLLM`: structured output through ``response_format`` or function calling.

The base of `ModelsLab`. With ``structured_output_mode="function_calling"`` (the default)
LlamaIndex's `FunctionCallingProgram` answers ``structured_predict``; streams force the tool
themselves (`_structured.StructuredCall.forced_tool`, where LlamaIndex would leave
``tool_choice`` on ``auto`` and turn an answer without the call into empty objects). With
``"json_schema"`` or ``"json_mode"`` the four ``structured_predict`` variants (and so
``as_structured_llm``) send a ``response_format`` instead, and never a ``tool_choice``
without tools. An answer without the forced call is a `_structured.NoToolCallError`.

Every entry point first checks that the output class is a pydantic class with a JSON schema
(`TypeError` naming it otherwise), before any request. Sync and async variants differ only in
their calls to the chat methods; what they decide is in `_json_call` and `_stream_route`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponseAsyncGen, ChatResponseGen
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

from . import _structured
from ._structured import PartialObjects, StructuredCall

if TYPE_CHECKING:
    from llama_index.core.llms.structured_llm import StructuredLLM

__all__ = ["StructuredOutputLLM"]

dispatcher = get_dispatcher(__name__)
_Kw = dict[str, Any] | None


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

    def _messages(self, prompt: Any, args: dict[str, Any]) -> list[Any]:
        return self._extend_messages(prompt.format_messages(llm=self, **args))

    def _json_call(self, output_cls: Any, prompt: Any, args: dict[str, Any], kw: _Kw) -> StructuredCall | None:  # fmt: skip
        """The ``response_format`` call for ``output_cls`` (checked first), or ``None`` when
        function calling applies."""
        _structured.check_output_cls(output_cls)
        if not self._response_format_mode():
            return None
        mode = self.structured_output_mode
        messages = self._messages(prompt, args)
        return StructuredCall.response_format(output_cls, mode, messages, kw, strict=self.strict)

    @staticmethod
    def _predicted(
        call: StructuredCall, prompt: Any, args: dict[str, Any], answer: Any
    ) -> BaseModel:
        """The object of a complete answer, reported as LlamaIndex's own predict reports it."""
        start = LLMStructuredPredictStartEvent(
            output_cls=call.output_cls, template=prompt, template_args=args
        )
        dispatcher.event(start)
        result = call.parse(answer)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    def structured_predict(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> Any:  # fmt: skip
        """A ``output_cls`` instance: JSON schema / JSON mode when configured, else tools."""
        call = self._json_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return self._predicted(call, prompt, prompt_args, self.chat(call.messages, **call.kwargs))

    @dispatcher.span
    async def astructured_predict(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> Any:  # fmt: skip
        """Async `structured_predict`."""
        call = self._json_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        answer = await self.achat(call.messages, **call.kwargs)
        return self._predicted(call, prompt, prompt_args, answer)

    @dispatcher.span
    def stream_structured_predict(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> Generator[Any, None, None]:  # fmt: skip
        """Partial ``output_cls`` objects as the answer streams, then the exact one (the class
        is checked now, not when the stream is first read)."""
        _structured.check_output_cls(output_cls)
        return super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)

    @dispatcher.span
    async def astream_structured_predict(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> AsyncGenerator[Any, None]:  # fmt: skip
        """Async `stream_structured_predict`."""
        _structured.check_output_cls(output_cls)
        return await super().astream_structured_predict(
            output_cls, prompt, llm_kwargs, **prompt_args
        )

    def as_structured_llm(self, output_cls: type[BaseModel], **kwargs: Any) -> StructuredLLM:
        """A `StructuredLLM` answering with ``output_cls`` (checked here, before any request)."""
        return super().as_structured_llm(_structured.check_output_cls(output_cls), **kwargs)

    def _stream_route(self, output_cls: Any, prompt: Any, args: dict[str, Any], kw: _Kw) -> StructuredCall | None:  # fmt: skip
        """How a structured stream runs: a `StructuredCall` (``response_format``, or a forced
        tool), or ``None`` for LlamaIndex's own text-completion program."""
        call = self._json_call(output_cls, prompt, args, kw)
        if call is not None:
            return call
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return None
        if not self.metadata.is_function_calling_model:
            return None
        messages = self._messages(prompt, args)
        return StructuredCall.forced_tool(output_cls, messages, kw, strict=self.strict)

    def _structured_stream_call(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> Generator[Any, None, None]:  # fmt: skip
        call = self._stream_route(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        return _partials(call.partials(), self.stream_chat(call.messages, **call.kwargs))

    async def _structured_astream_call(self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any) -> AsyncGenerator[Any, None]:  # fmt: skip
        call = self._stream_route(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        return _apartials(call.partials(), await self.astream_chat(call.messages, **call.kwargs))


def _partials(objects: PartialObjects, responses: ChatResponseGen) -> Generator[BaseModel, None, None]:  # fmt: skip
    """Partial objects while the answer streams, then the exact one."""
    yield from (obj for obj in map(objects.add, responses) if obj is not None)
    if (final := objects.final()) is not None:
        yield final


async def _apartials(objects: PartialObjects, responses: ChatResponseAsyncGen) -> AsyncGenerator[BaseModel, None]:  # fmt: skip
    """Async `_partials`."""
    async for response in responses:
        if (obj := objects.add(response)) is not None:
            yield obj
    if (final := objects.final()) is not None:
        yield final
