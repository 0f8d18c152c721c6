"""langchain-tests' standard integration suite for `ChatModelsLab` against the local llama.cpp
server (a real 0.5B model speaking ModelsLab's wire format), once per wire dialect.

Every request is greedy (temperature 0, a fixed seed) on a server with one slot and no prompt
cache, so each test gives the same result on every run: it passes every time, or it is a strict
xfail whose reason names why it fails every time. Tool calls and structured output are the
server's grammar's work, not the small model's luck: ``tool_choice="any"`` is sent as
``"required"`` (a forced call that follows the tool's schema), structured output uses
``json_schema`` on ``/chat/completions`` (a grammar over the schema) and a forced tool call on
``/v1/messages`` (there our dialect sends ``{"type": "tool"}``, which the server turns into
``"required"``). Answers are short (``max_tokens``) to keep the run short on a CPU.
"""

from __future__ import annotations

from typing import Any

import pytest
from _support.standard import SuiteSettings
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_tests.integration_tests import ChatModelIntegrationTests
from real_env import REPEATABLE, Recorder, chat_model, server_values

from langchain_modelslab import ChatModelsLab

pytestmark = pytest.mark.real_model

MAX_TOKENS = 8
"""Plumbing tests: a greeting or a short answer (cut at this length, which they allow)."""
TOOL_CALL = {"max_tokens": 48}
"""Room for one whole tool call in our template's fenced json block."""
JOKE = {"max_tokens": 96, "frequency_penalty": 0.5}
"""Room for a whole joke object (two free-text fields), and a frequency penalty: greedy, the
0.5B model repeats one sentence of the joke until max_tokens (langchain-core's lenient JSON
parser would then even accept the cut object). /v1/messages has no such field; there the
joke is a forced tool call, which ends without it."""
PARAMS_BY_TEST: dict[str, dict[str, Any]] = {
    **dict.fromkeys(
        (
            "test_tool_calling",
            "test_tool_calling_async",
            "test_tool_choice",
            "test_tool_calling_with_no_arguments",
            "test_bind_runnables_as_tools",
            "test_structured_few_shot_examples",
            "test_agent_loop",
        ),
        TOOL_CALL,
    ),
    **dict.fromkeys(
        (
            "test_structured_output",
            "test_structured_output_async",
            "test_structured_output_pydantic_2_v1",
            "test_structured_output_optional_param",
            "test_json_mode",
            "test_unicode_tool_call_integration",
        ),
        JOKE,
    ),
}
_SERVER: dict[str, str] = {}

_SCHEMA_FORM = (
    "sends a request of the shape [pydantic] sends (same route, a grammar over an equivalent "
    "schema); the variant differs only in how the schema is written in Python, which the "
    "stand-in run of the suite covers in both dialects"
)
_OUTPUT_VERSION = (
    "sends the request [model0] sends; output_version='v1' changes only the message LangChain "
    "builds from the answer, which the stand-in run of the suite covers in both dialects"
)
SAME_REQUEST_AS: dict[str, str] = {
    "test_structured_output[typeddict]": _SCHEMA_FORM,
    "test_structured_output[json_schema]": _SCHEMA_FORM,
    "test_structured_output_async[typeddict]": _SCHEMA_FORM,
    "test_structured_output_async[json_schema]": _SCHEMA_FORM,
    "test_structured_output_pydantic_2_v1": _SCHEMA_FORM,
    "test_tool_calling[model1]": _OUTPUT_VERSION,
    "test_agent_loop[model1]": _OUTPUT_VERSION,
    "test_stream[model1]": _OUTPUT_VERSION,
    "test_astream[model1]": _OUTPUT_VERSION,
}
"""Standard tests left out of the real-server run (deselected, not skipped: tests/real/conftest.py)
because another test in it already sends that request (or one of the same shape) to the real
server; each costs the CPU-bound server several seconds per dialect."""

_OVERRIDE_REASON = (
    "llama-server serves its one model whatever the request names and reports it by its alias "
    '(every answer says "model": "qwen2.5-coder-0.5b-instruct"), so the response\'s model '
    "is never the override; test_model_override_reaches_the_wire checks that the override is "
    "what the request carried"
)
XFAIL: dict[str, str] = {
    "test_invoke_with_model_override": _OVERRIDE_REASON,
    "test_ainvoke_with_model_override": _OVERRIDE_REASON,
    "test_stream_with_model_override": _OVERRIDE_REASON,
    "test_astream_with_model_override": _OVERRIDE_REASON,
}
"""Standard tests (by function, all parameters) that fail on every run in both dialects, marked
strict (langchain-tests forbids overriding a standard test unless it is xfail)."""
XFAIL_BY_DIALECT: dict[str, dict[str, str]] = {"openai": {}, "anthropic": {}}
"""The same, for one dialect only."""


@pytest.fixture(autouse=True)
def _server(llama_server: Any, request: pytest.FixtureRequest) -> None:
    """Every model the suite builds (also inside tests) talks to the local server."""
    _SERVER.update(server_values(llama_server))
    name = getattr(request.node, "originalname", request.node.name)
    dialect = getattr(request.cls, "dialect", None)
    reason = XFAIL.get(name) or XFAIL_BY_DIALECT.get(str(dialect), {}).get(name)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))


class _RealBase(SuiteSettings, ChatModelIntegrationTests):
    dialect = "openai"

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": _SERVER["model"],
            "api_key": _SERVER["api_key"],
            "base_url": _SERVER["base_url"],
            "dialect": self.dialect,
            "max_tokens": MAX_TOKENS,
            "timeout": 180,
            **REPEATABLE,
        }

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return {
            **super().standard_chat_model_params,
            "max_tokens": MAX_TOKENS,
            "timeout": 180,
            **REPEATABLE,
        }

    @property
    def has_tool_choice(self) -> bool:
        """`"any"` becomes `"required"`, which the server enforces with a grammar."""
        return True

    @property
    def structured_output_kwargs(self) -> dict[str, Any]:
        """json_schema: a grammar over the schema on /chat/completions, a forced tool call on
        /v1/messages (both enforced by the server)."""
        return {"method": "json_schema"}

    @pytest.fixture
    def model(self, request: pytest.FixtureRequest) -> ChatModelsLab:
        """The suite's model fixture, with room for longer answers where a test needs it."""
        room = PARAMS_BY_TEST.get(request.node.originalname, {})
        extra = getattr(request, "param", None) or {}
        params = {**self.standard_chat_model_params, **self.chat_model_params, **room, **extra}
        return ChatModelsLab(**params)

    @property
    def supports_image_inputs(self) -> bool:
        """The local model reads text only."""
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False


class TestRealChatModelsLabOpenAI(_RealBase):
    dialect = "openai"


class TestRealChatModelsLabAnthropic(_RealBase):
    dialect = "anthropic"


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
async def test_model_override_reaches_the_wire(llama_server: Any, dialect: str, how: str) -> None:
    """``model=`` at call time is what the request carries; the reported model is the server's."""
    override = "meta-llama-llama-3.1-8b-instruct"
    recorder = Recorder()
    llm, sent = chat_model(llama_server, dialect, recorder, max_tokens=8), recorder.bodies
    message: AIMessage | AIMessageChunk | None = None
    if how == "invoke":
        message = llm.invoke("Hello", model=override)
    elif how == "ainvoke":
        message = await llm.ainvoke("Hello", model=override)
    elif how == "stream":
        for chunk in llm.stream("Hello", model=override):
            message = chunk if message is None else message + chunk
    else:
        async for chunk in llm.astream("Hello", model=override):
            message = chunk if message is None else message + chunk
    assert isinstance(message, AIMessage)
    assert [body["model"] for body in sent] == [override]
    assert message.response_metadata["model_name"] == _SERVER["model"]
    assert message.usage_metadata and message.usage_metadata["output_tokens"] > 0
