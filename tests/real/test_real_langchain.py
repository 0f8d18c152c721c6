"""langchain-tests' standard integration suite for `ChatModelsLab` against the local llama.cpp
server (a real 0.5B model speaking ModelsLab's wire format), once per wire dialect.

The plumbing tests (invoke, stream, batch, conversation, stop, usage incl. streaming, tool
message histories) must pass. The suite's model-override tests expect the override back as the
response's model, which llama-server never reports (it names its alias): they are xfail, and
``test_model_override_reaches_the_wire`` checks that plumbing on the wire instead. Tests that
need a more capable model than Qwen2.5-Coder-0.5B are ``xfail(strict=False)`` with the reason,
only those seen failing here. Answers are short (``max_tokens``) to keep the run short on a CPU.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_tests.integration_tests import ChatModelIntegrationTests
from real_env import server_values

from langchain_modelslab import ChatModelsLab

pytestmark = pytest.mark.real_model

MAX_TOKENS = 48
ROOMY_MAX_TOKENS = 128
NEEDS_ROOM = {
    # answers whose JSON (a joke, a unicode tool call) does not fit in MAX_TOKENS
    "test_structured_output",
    "test_structured_output_async",
    "test_structured_output_pydantic_2_v1",
    "test_structured_output_optional_param",
    "test_unicode_tool_call_integration",
}
_SERVER: dict[str, str] = {}


_OVERRIDE_REASON = (
    "llama-server serves one model whatever the request names and reports its own alias as "
    "the response's model; test_model_override_reaches_the_wire checks the plumbing instead"
)
_SMALL_MODEL = (
    "needs a more capable model than Qwen2.5-Coder-0.5B (seen failing here, not on every run): "
)
XFAIL = {
    "test_invoke_with_model_override": _OVERRIDE_REASON,
    "test_ainvoke_with_model_override": _OVERRIDE_REASON,
    "test_stream_with_model_override": _OVERRIDE_REASON,
    "test_astream_with_model_override": _OVERRIDE_REASON,
    "test_tool_choice": (
        "llama-server ignores a named tool_choice (treated as auto), so whether the model calls "
        "magic_function for 'Hello!' is its own choice (seen answering in text here)"
    ),
    "test_tool_calling": _SMALL_MODEL + "under tool_choice='any' it sometimes answers in text",
    "test_tool_calling_with_no_arguments": _SMALL_MODEL + "it sometimes calls the tool twice",
    "test_structured_output": _SMALL_MODEL + "it does not always fill every field of the joke",
    "test_structured_output_async": _SMALL_MODEL + "it does not always fill every field",
    "test_structured_output_optional_param": _SMALL_MODEL + "it leaves out required fields",
    "test_agent_loop": _SMALL_MODEL + "it does not always answer from the tool result",
}
"""Standard tests (by function, all parameters) the local model fails on some runs, marked
without overriding them (langchain-tests forbids overriding a standard test unless it is
xfail). Greedy decoding is not reproducible on a server that batches concurrent requests."""


@pytest.fixture(autouse=True)
def _server(llama_server: Any, request: pytest.FixtureRequest) -> None:
    """Every model the suite builds (also inside tests) talks to the local server."""
    _SERVER.update(server_values(llama_server))
    reason = XFAIL.get(getattr(request.node, "originalname", request.node.name))
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=False))


class _RealBase(ChatModelIntegrationTests):
    dialect = "openai"

    @property
    def chat_model_class(self) -> type[ChatModelsLab]:
        return ChatModelsLab

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": _SERVER["model"],
            "api_key": _SERVER["api_key"],
            "base_url": _SERVER["base_url"],
            "dialect": self.dialect,
            "max_tokens": MAX_TOKENS,
            "timeout": 180,
        }

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return {**super().standard_chat_model_params, "max_tokens": MAX_TOKENS, "timeout": 180}

    @pytest.fixture
    def model(self, request: pytest.FixtureRequest) -> ChatModelsLab:
        """The suite's model fixture, with room for longer answers where a test needs it."""
        room = {"max_tokens": ROOMY_MAX_TOKENS} if request.node.originalname in NEEDS_ROOM else {}
        extra = getattr(request, "param", None) or {}
        params = {**self.standard_chat_model_params, **self.chat_model_params, **room, **extra}
        return ChatModelsLab(**params)

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        """The local model reads text only."""
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        """llama-server serves one model whatever the name; the request must still succeed."""
        return "meta-llama-llama-3.1-8b-instruct"

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def enable_vcr_tests(self) -> bool:
        return False


class TestRealChatModelsLabOpenAI(_RealBase):
    dialect = "openai"


class TestRealChatModelsLabAnthropic(_RealBase):
    dialect = "anthropic"


def _recording_model(dialect: str) -> tuple[ChatModelsLab, list[dict[str, Any]]]:
    """A model on the local server whose HTTP clients record every request body they send."""
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    async def arecord(request: httpx.Request) -> None:
        record(request)

    llm = ChatModelsLab(
        model=_SERVER["model"],
        api_key=_SERVER["api_key"],
        base_url=_SERVER["base_url"],
        dialect=dialect,
        max_tokens=8,
        http_client=httpx.Client(event_hooks={"request": [record]}),
        http_async_client=httpx.AsyncClient(event_hooks={"request": [arecord]}),
    )
    return llm, sent


@pytest.mark.parametrize("dialect", ["openai", "anthropic"])
@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
async def test_model_override_reaches_the_wire(dialect: str, how: str) -> None:
    """``model=`` at call time is what the request carries; the reported model is the server's."""
    override = "meta-llama-llama-3.1-8b-instruct"
    llm, sent = _recording_model(dialect)
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
