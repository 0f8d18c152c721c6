"""`ModelsLab` chat and completion methods against the stand-in: exact wire JSON, streams,
usage, images, reasoning, typed errors and input checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from li_helpers import chat, complete, stream_chat, stream_complete, stream_fields, user, wire
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
)

from llama_index_modelslab import ModelsLab
from modelslab_core import (
    AuthenticationError,
    BadRequestError,
    RateLimitError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from modelslab_core.testing import Fault, Reply, StandIn

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5d9e2ee0000000049454e44ae426082"
)
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAIBpdni7gAAAABJRU5ErkJggg=="


def _system_and_user(dialect: str) -> dict[str, object]:
    """Wire fields for [system "Be brief.", user "Hello there"]."""
    if dialect == "anthropic":
        return {"system": "Be brief.", "messages": [user("Hello there")]}
    return {"messages": [{"role": "system", "content": "Be brief."}, user("Hello there")]}


MESSAGES = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="Hello there"),
]


async def test_chat_sends_exact_json_and_reports_usage(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    response = await chat(llm, sync, MESSAGES)

    fields = _system_and_user(dialect)
    assert standin.last_request.json == wire(dialect, **fields)
    assert response.message.role == "assistant"
    assert response.message.content == "You said: Hello there"
    assert response.raw["usage"]  # the server's JSON, as received
    usage = response.additional_kwargs
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] == 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["finish_reason"] == "stop"


async def test_stream_chat_carries_delta_and_message_so_far(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    responses = await stream_chat(llm, sync, MESSAGES)

    fields = _system_and_user(dialect)
    assert standin.last_request.json == wire(dialect, **fields, **stream_fields(dialect))
    so_far = ""
    for response in responses:
        so_far += response.delta or ""
        assert response.message.content == so_far
    assert [r.delta for r in responses] == ["You ", "said: ", "Hello ", "there", ""]
    last = responses[-1]
    assert last.message.content == "You said: Hello there"
    assert last.raw["usage"]["completion_tokens"] == 4
    assert last.additional_kwargs["completion_tokens"] == 4
    assert last.additional_kwargs["prompt_tokens"] == last.raw["usage"]["prompt_tokens"] > 0


async def test_complete_and_stream_complete(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    done = await complete(llm, sync, "Say: ready")
    assert done.text == "ready"
    assert standin.last_request.json == wire(dialect, [user("Say: ready")])
    assert done.additional_kwargs["completion_tokens"] == 1

    chunks = await stream_complete(llm, sync, "Say: one two three")
    assert standin.last_request.json == wire(
        dialect, [user("Say: one two three")], **stream_fields(dialect)
    )
    assert "".join(c.delta or "" for c in chunks) == "one two three"
    assert [c.text for c in chunks][-2:] == ["one two three", "one two three"]
    assert chunks[-1].additional_kwargs["completion_tokens"] == 3


async def test_settings_and_call_kwargs_reach_the_wire(
    make_llm: Callable[..., ModelsLab], standin: StandIn, dialect: str, sync: bool
) -> None:
    llm = make_llm(
        temperature=0.5, max_tokens=50, additional_kwargs={"top_p": 0.9, "custom_flag": "x"}
    )
    await chat(
        llm, sync, [ChatMessage(role="user", content="hi")], stop=["END"], top_k=5, extra_thing=1
    )
    stop = {"stop_sequences": ["END"]} if dialect == "anthropic" else {"stop": ["END"]}
    assert standin.last_request.json == wire(
        dialect,
        [user("hi")],
        temperature=0.5,
        max_tokens=50,
        top_p=0.9,
        top_k=5,
        custom_flag="x",
        extra_thing=1,
        **stop,
    )


async def test_tool_choice_is_never_sent_without_tools(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    messages = [ChatMessage(role="user", content="hi")]
    await chat(llm, sync, messages, tool_choice="auto", parallel_tool_calls=False)
    body = standin.last_request.json
    assert "tool_choice" not in body and "tools" not in body
    assert "parallel_tool_calls" not in body
    assert body == wire(dialect, [user("hi")])
    # Forcing a call with no tool to call is contradictory: refused before sending.
    with pytest.raises(ValueError, match="no tools are bound"):
        await chat(llm, sync, messages, tool_choice="required")
    assert len(standin.requests) == 1


async def test_image_blocks_are_sent(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is this?"),
            ImageBlock(url="https://example.com/cat.png"),
            ImageBlock(image=PNG),
        ],
    )
    await chat(llm, sync, [message])
    if dialect == "openai":
        parts = [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        ]
    else:
        parts = [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
        ]
    assert standin.last_request.json == wire(dialect, [{"role": "user", "content": parts}])


async def test_reasoning_comes_back_as_thinking_blocks(
    llm: ModelsLab, standin: StandIn, dialect: str, sync: bool
) -> None:
    standin.enqueue(Reply(text="42", reasoning="Let me think"))
    response = await chat(llm, sync, [ChatMessage(role="user", content="q")])
    thinking, text = response.message.blocks
    assert isinstance(thinking, ThinkingBlock) and thinking.content == "Let me think"
    assert isinstance(text, TextBlock) and text.text == "42"

    standin.enqueue(Reply(text="42", reasoning="Let me think"))
    chunks = await stream_chat(llm, sync, [ChatMessage(role="user", content="q")])
    thinking_deltas = [c.additional_kwargs.get("thinking_delta") for c in chunks]
    assert "".join(t for t in thinking_deltas if t) == "Let me think"
    final = chunks[-1].message
    assert isinstance(final.blocks[0], ThinkingBlock)
    assert final.blocks[0].content == "Let me think" and final.content == "42"

    # Sent back: Anthropic takes thinking blocks (with their signature); OpenAI has no field.
    await chat(
        llm, sync, [ChatMessage(role="user", content="q"), final, ChatMessage(content="more")]
    )
    sent = standin.last_request.json["messages"][1]
    if dialect == "anthropic":
        signature = final.blocks[0].additional_information["signature"]
        assert signature
        assert sent == {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Let me think", "signature": signature},
                {"type": "text", "text": "42"},
            ],
        }
    else:
        assert sent == {"role": "assistant", "content": "42"}


async def test_errors_are_the_core_typed_errors(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    llm = make_llm(max_retries=0)
    messages = [ChatMessage(role="user", content="hi")]
    standin.enqueue(Fault.status(401))
    with pytest.raises(AuthenticationError):
        await chat(llm, sync, messages)
    standin.enqueue(Fault.envelope_error("Rate limit exceeded, slow down"))
    with pytest.raises(RateLimitError):
        await chat(llm, sync, messages)
    standin.enqueue(Fault.status(400))
    with pytest.raises(BadRequestError):
        await stream_chat(llm, sync, messages)
    standin.enqueue(Fault.cut_mid_stream(after_events=2))
    with pytest.raises(StreamInterruptedError):
        await stream_chat(llm, sync, messages)


async def test_retries_happen_once_in_the_core(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    llm = make_llm(max_retries=2)
    messages = [ChatMessage(role="user", content="hi")]
    standin.enqueue(Fault.status(503), Fault.status(503))
    response = await chat(llm, sync, messages)
    assert response.message.content == "You said: hi"
    assert len(standin.requests) == 3

    standin.reset()
    standin.enqueue(Fault.status(503), Fault.status(503), Fault.status(503), Fault.status(503))
    with pytest.raises(ServiceUnavailableError):
        await chat(llm, sync, messages)
    assert len(standin.requests) == 3  # 1 + max_retries, not multiplied by a second layer


async def test_bad_input_fails_before_any_request(
    make_llm: Callable[..., ModelsLab],
    standin: StandIn,
    sync: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llm = make_llm()
    with pytest.raises(ValueError, match="At least one message"):
        await chat(llm, sync, [])
    with pytest.raises(ValueError, match="tool_call_id"):
        await chat(llm, sync, [ChatMessage(role="tool", content="5")])
    audio = ChatMessage(role="user", blocks=[AudioBlock(audio=b"RIFF0000", format="wav")])
    with pytest.raises(TypeError, match="AudioBlock"):
        await stream_chat(llm, sync, [audio])
    monkeypatch.delenv("MODELSLAB_API_KEY", raising=False)
    keyless = make_llm(api_key=None)
    with pytest.raises(ValueError, match="MODELSLAB_API_KEY"):
        await stream_chat(keyless, sync, [ChatMessage(role="user", content="hi")])
    assert standin.requests == []


def test_metadata_is_explicit(make_llm: Callable[..., ModelsLab]) -> None:
    llm = make_llm(model="some-model", context_window=32000, max_tokens=700)
    meta = llm.metadata
    assert (meta.model_name, meta.context_window, meta.num_output) == ("some-model", 32000, 700)
    assert meta.is_chat_model and meta.is_function_calling_model
    assert not make_llm(is_function_calling_model=False).metadata.is_function_calling_model
    assert ModelsLab.class_name() == "ModelsLab_LLM"


def test_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSLAB_API_KEY", "env-key")
    monkeypatch.setenv("MODELSLAB_BASE_URL", "http://127.0.0.1:9/api/v7/llm")
    llm = ModelsLab()
    assert llm.api_key is not None and llm.api_key.get_secret_value() == "env-key"
    assert llm.api_base == "http://127.0.0.1:9/api/v7/llm"
    assert llm.model == "meta-llama-llama-3.2-3b-instruct"
    assert llm.client_config().base_url == "http://127.0.0.1:9/api/v7/llm"
