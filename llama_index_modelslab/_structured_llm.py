"""`StructuredOutputLLM`: structured output as the core plans it, in every mode.

The base of `ModelsLab`. The four ``structured_predict`` variants (and so
``as_structured_llm``) send what `modelslab_core.structured.plan` decides for
``structured_output_mode``: ``"function_calling"`` (the default: LlamaIndex's function tool
for the class, forced with ``tool_choice="required"``), ``"json_schema"`` or ``"json_mode"``
(a ``response_format``, never a ``tool_choice`` without tools), and read the answer through
the same plan. An answer without the forced call is a `_structured.NoToolCallError`, one
whose arguments or text are not JSON the core's `StructuredOutputError`, one that does not
fit the class pydantic's ``ValidationError``. LlamaIndex's own programs answer only where the
core has no say: a ``pydantic_program_mode`` other than the default, or function calling on a
model configured without it (``is_function_calling_model=False``).

Every entry point first checks that the output class is a pydantic class with a JSON schema
(`TypeError` naming it otherwise), before any request. Sync and async variants differ only in
their calls to the chat methods; what they decide is in `_structured_call`.
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

from modelslab_core.types import Dialect

from ._structured import PartialObjects, StructuredCall, StructuredMode, check_output_cls

if TYPE_CHECKING:
    from llama_index.core.llms.structured_llm import StructuredLLM

__all__ = ["StructuredOutputLLM"]

dispatcher = get_dispatcher(__name__)
_Kw = dict[str, Any] | None


class StructuredOutputLLM(FunctionCallingLLM):
    """A function-calling LLM whose structured output the core plans."""

    strict: bool | None = Field(
        default=None,
        description="Strict schema adherence for tools and structured output: None leaves it "
        "to the server, True/False is sent as given.",
    )
    structured_output_mode: StructuredMode = Field(
        default="function_calling",
        description="How structured_predict asks for JSON: function_calling, json_schema, json_mode.",
    )

    def _structured_call(
        self, output_cls: Any, prompt: Any, args: dict[str, Any], kw: _Kw
    ) -> StructuredCall | None:
        """The call for ``output_cls`` (checked first), or ``None`` when LlamaIndex's own
        program answers (see the module docstring)."""
        check_output_cls(output_cls)
        mode = self.structured_output_mode
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT or (
            mode == "function_calling" and not self.metadata.is_function_calling_model
        ):
            return None
        messages = self._extend_messages(prompt.format_messages(llm=self, **args))
        dialect: Dialect = getattr(self, "dialect", "openai")
        return StructuredCall.make(
            output_cls, mode, messages, kw, strict=self.strict, dialect=dialect
        )

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
    def structured_predict(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> Any:
        """An ``output_cls`` instance, asked for in ``structured_output_mode``."""
        call = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return super().structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        return self._predicted(call, prompt, prompt_args, self.chat(call.messages, **call.kwargs))

    @dispatcher.span
    async def astructured_predict(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> Any:
        """Async `structured_predict`."""
        call = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return await super().astructured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        answer = await self.achat(call.messages, **call.kwargs)
        return self._predicted(call, prompt, prompt_args, answer)

    @dispatcher.span
    def stream_structured_predict(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> Generator[Any, None, None]:
        """Partial ``output_cls`` objects as the answer streams, then the exact one (the class
        is checked now, not when the stream is first read)."""
        check_output_cls(output_cls)
        return super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)

    @dispatcher.span
    async def astream_structured_predict(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> AsyncGenerator[Any, None]:
        """Async `stream_structured_predict`."""
        check_output_cls(output_cls)
        return await super().astream_structured_predict(
            output_cls, prompt, llm_kwargs, **prompt_args
        )

    def as_structured_llm(self, output_cls: type[BaseModel], **kwargs: Any) -> StructuredLLM:
        """A `StructuredLLM` answering with ``output_cls`` (checked here, before any request)."""
        return super().as_structured_llm(check_output_cls(output_cls), **kwargs)

    def _structured_stream_call(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> Generator[Any, None, None]:
        call = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        return _partials(call.partials(), self.stream_chat(call.messages, **call.kwargs))

    async def _structured_astream_call(
        self, output_cls: Any, prompt: Any, llm_kwargs: _Kw = None, **prompt_args: Any
    ) -> AsyncGenerator[Any, None]:
        call = self._structured_call(output_cls, prompt, prompt_args, llm_kwargs)
        if call is None:
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        return _apartials(call.partials(), await self.astream_chat(call.messages, **call.kwargs))


def _partials(
    objects: PartialObjects, responses: ChatResponseGen
) -> Generator[BaseModel, None, None]:
    """Partial objects while the answer streams, then the exact one."""
    yield from (obj for obj in map(objects.add, responses) if obj is not None)
    if (final := objects.final()) is not None:
        yield final


async def _apartials(
    objects: PartialObjects, responses: ChatResponseAsyncGen
) -> AsyncGenerator[BaseModel, None]:
    """Async `_partials`."""
    async for response in responses:
        if (obj := objects.add(response)) is not None:
            yield obj
    if (final := objects.final()) is not None:
        yield final
