"""`ModelsLab` as a LlamaIndex component: no key in any serialized form, pickling,
`TokenCountingHandler`, instrumentation events and the import guard."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from li_helpers import chat, complete, stream_chat, stream_complete
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.callbacks import CallbackManager, CBEventType, TokenCountingHandler
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from pydantic import Field

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import Reply, StandIn

SECRET = "sk-very-secret-key-123"


class _Recorder(BaseEventHandler):
    """Keeps every instrumentation event."""

    events: list[Any] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


class _Payloads(BaseCallbackHandler):
    """Keeps every callback payload."""

    def __init__(self) -> None:
        super().__init__([], [])
        self.payloads: list[Any] = []

    def on_event_start(self, event_type: CBEventType, payload: Any = None, **kw: Any) -> str:
        self.payloads.append(payload)
        return kw.get("event_id", "")

    def on_event_end(self, event_type: CBEventType, payload: Any = None, **kw: Any) -> None:
        self.payloads.append(payload)

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        return None


def test_key_is_in_no_serialized_form(make_llm: Callable[..., ModelsLab]) -> None:
    llm = make_llm(api_key=SECRET, default_headers={"X-Extra": "h"})
    forms = [
        repr(llm),
        str(llm),
        str(llm.to_dict()),
        llm.to_json(),
        str(llm.to_payload()),
        llm.model_dump_json(),
        str(llm.model_dump()),
        str(llm.client_config()),
        repr(llm.client_config()),
    ]
    for form in forms:
        assert SECRET not in form
    assert "api_key" not in llm.to_dict() and "api_key" not in llm.to_payload()
    assert llm.api_key is not None and llm.api_key.get_secret_value() == SECRET


async def test_key_is_in_no_event_or_callback_payload(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    recorder = _Recorder()
    payloads = _Payloads()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    try:
        llm = make_llm(callback_manager=CallbackManager([payloads]))
        await chat(llm, sync, [ChatMessage(role="user", content="hi")])
        await stream_chat(llm, sync, [ChatMessage(role="user", content="hi")])
    finally:
        root.event_handlers.remove(recorder)
    names = [type(e).__name__ for e in recorder.events]
    assert "LLMChatStartEvent" in names and "LLMChatEndEvent" in names
    assert "LLMChatInProgressEvent" in names
    dumped = " ".join(e.model_dump_json() for e in recorder.events) + str(payloads.payloads)
    assert standin.api_key not in dumped
    assert "ModelsLab_LLM" in dumped  # the (safe) serialized model is there


async def test_pickles_and_works_after(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    llm = make_llm(model="qwen-qwen2.5-7b-instruct", temperature=0.3)
    await chat(llm, sync, [ChatMessage(role="user", content="before")])  # clients now exist
    clone = pickle.loads(pickle.dumps(llm))
    assert isinstance(clone, ModelsLab)
    assert (clone.model, clone.temperature, clone.dialect) == (
        "qwen-qwen2.5-7b-instruct",
        0.3,
        llm.dialect,
    )
    response = await chat(clone, sync, [ChatMessage(role="user", content="after")])
    assert response.message.content == "You said: after"
    assert standin.last_request.json["model"] == "qwen-qwen2.5-7b-instruct"


def test_to_dict_round_trip_keeps_settings_not_key(
    make_llm: Callable[..., ModelsLab], monkeypatch: Any
) -> None:
    monkeypatch.delenv("MODELSLAB_API_KEY", raising=False)
    llm = make_llm(api_key=SECRET, model="m-2", structured_output_mode="json_schema")
    clone = ModelsLab.from_dict(llm.to_dict())
    assert (clone.model, clone.structured_output_mode) == ("m-2", "json_schema")
    assert clone.api_key is None


async def test_token_counting_handler_counts_server_usage(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    # Scripted usage far from any local estimate: the counts must be the server's.
    for n in (1, 2, 3, 4):
        usage = {"prompt_tokens": 101 * n, "completion_tokens": 11 * n}
        standin.enqueue(Reply(text=f"answer {n}", usage=usage))
    await chat(llm, sync, [ChatMessage(role="user", content="one")])
    await stream_chat(llm, sync, [ChatMessage(role="user", content="two")])
    await complete(llm, sync, "three")
    await stream_complete(llm, sync, "four")

    counts = counter.llm_token_counts
    assert len(counts) == 4  # one event per call: completions are not counted twice
    assert [c.prompt_token_count for c in counts] == [101, 202, 303, 404]
    assert [c.completion_token_count for c in counts] == [11, 22, 33, 44]
    assert counter.total_llm_token_count == 1010 + 110


def test_import_names_the_extra_when_llama_index_is_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['llama_index'] = None\n"
        "sys.modules['llama_index.core'] = None\n"
        "try:\n"
        "    import llama_index_modelslab\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "modelslab-integrations[llama-index]"' in out.stdout
