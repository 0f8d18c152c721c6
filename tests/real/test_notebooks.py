"""The four tutorial notebooks and the demo, run for real against the local llama.cpp server.

The notebooks are tutorials (public API, no checks in their cells); each test here runs one
cell by cell (`notebook_run`) and asserts on what each section left in the kernel, printed and
sent. The kernel reaches the server through a `RecordingProxy`: ``MODELSLAB_BASE_URL`` (with
``MODELSLAB_API_KEY`` and ``MODELSLAB_MODEL``) is the only configuration it gets, as a reader's
would be. The checks a remote server could not pass (the local tokenizer's exact counts, the
greedy model's identical answers on both routes) run here because the server is local.

Also checked, without a server: every notebook's ``.py`` source and ``.ipynb`` agree
(jupytext), its markdown renders as meant, and (against the stand-in) the demo fails loudly
when the server refuses the key.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jupytext
import pytest
from _support.notebook_run import NOTEBOOK_DIR, NotebookRun, RecordingProxy, Request, notebook
from markdown_it import MarkdownIt
from real_env import server_values

from modelslab_core.testing import StandIn

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TUTORIALS = [p.stem for p in NOTEBOOKS if p.stem[:2].isdigit()]
CHAT_PATHS = ("/chat/completions", "/v1/messages")


def _server_env(llama_server: Any) -> dict[str, str]:
    """The environment that points a client at the running server."""
    server = server_values(llama_server)
    return {
        "MODELSLAB_BASE_URL": server["base_url"],
        "MODELSLAB_API_KEY": server["api_key"],
        "MODELSLAB_MODEL": server["model"],
    }


def test_every_notebook_is_a_pair() -> None:
    """Each ``.ipynb`` has its jupytext source, and each notebook source its ``.ipynb``."""
    sources = {p.stem for p in NOTEBOOK_DIR.glob("*.py") if p.read_text().startswith("# ---")}
    assert {p.stem for p in NOTEBOOKS} == sources
    assert len(TUTORIALS) == 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(path: Path) -> None:
    """The committed ``.ipynb`` holds exactly the cells of its ``.py`` (run `make notebooks`)."""
    source = jupytext.read(path.with_suffix(".py"))
    committed = jupytext.read(path)
    cells = [(c.cell_type, c.source) for c in source.cells]
    assert [(c.cell_type, c.source) for c in committed.cells] == cells, "run `make notebooks`"
    assert committed.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "committed notebooks keep their outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_renders_as_meant(path: Path) -> None:
    """No markdown cell holds a literal ``\\n``; every heading is one short line of its own,
    its body text in a paragraph of its own; the notebook opens with its title."""
    cells = [c for c in jupytext.read(path.with_suffix(".py")).cells if c.cell_type == "markdown"]
    assert cells and cells[0].source.startswith("# ")
    for cell in cells:
        assert "\\n" not in cell.source, cell.source
        lines = cell.source.splitlines()
        tokens = MarkdownIt().parse(cell.source)
        for index, token in enumerate(tokens):
            if token.type != "heading_open":
                continue
            title = tokens[index + 1].content
            assert token.map is not None and token.map[1] - token.map[0] == 1, title
            assert lines[token.map[0]] == f"{token.markup} {title}", title
            assert len(title) <= 60 and not title.endswith("."), title


@pytest.fixture
def proxy(llama_server: Any) -> Iterator[RecordingProxy]:
    """A recording proxy in front of the local server."""
    with RecordingProxy(server_values(llama_server)["base_url"]) as recorder:
        yield recorder


@pytest.fixture
def kernel_env(llama_server: Any, proxy: RecordingProxy) -> dict[str, str]:
    """The MODELSLAB_* variables a reader sets, pointing at the server through the proxy."""
    return {**_server_env(llama_server), "MODELSLAB_BASE_URL": proxy.base_url}


def assert_usage(usage: dict[str, int]) -> None:
    """Positive token counts that add up."""
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0, usage
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], usage


def chats(sent: list[Request]) -> list[Request]:
    """The chat requests (not token counts or model listings) among ``sent``."""
    return [r for r in sent if r.method == "POST" and r.path.endswith(CHAT_PATHS)]


def assert_streamed(nb: NotebookRun, pieces: str, full: str) -> None:
    """More than one piece, adding up to the whole message, which has text and its usage."""
    assert nb.value(f"len({pieces})") > 1
    assert nb.value(f"''.join({pieces}) == {full}.content") is True
    assert nb.value(f"{full}.content.strip() != ''") is True
    assert_usage(nb.value(f"{full}.usage_metadata"))


def assert_finished(nb: NotebookRun, llama_server: Any) -> None:
    """Every cell ran without an error, and no output shows the key."""
    nb.run_through(None)
    code = [c for c in nb.tb.nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert nb.errors() == []
    assert server_values(llama_server)["api_key"] not in nb.all_outputs()
    assert "Warning:" not in nb.all_outputs()  # a tutorial shows no warning


def _served_context_window(llama_server: Any) -> int:
    """The context window the server lists for its model (``meta.n_ctx`` of /v1/models)."""
    values = server_values(llama_server)
    listing = httpx.get(
        values["base_url"] + "/v1/models",
        headers={"Authorization": f"Bearer {values['api_key']}"},
        timeout=30,
    ).json()
    return int(listing["data"][0]["meta"]["n_ctx"])


@pytest.mark.real_model
@pytest.mark.timeout(1200)
def test_langchain_quickstart(llama_server: Any, proxy: RecordingProxy, kernel_env: Any) -> None:
    with notebook("01_langchain_quickstart", kernel_env, proxy) as nb:
        nb.run_through("Credentials")
        assert nb.output("Credentials") == ""  # configured: no hint printed
        nb.run_through("Instantiation")
        sent = nb.run_through("Invocation")
        assert [r.path for r in sent] == ["/api/v7/llm/chat/completions"]
        assert nb.value("ai_msg.content.strip() != ''") is True
        assert_usage(nb.value("ai_msg.usage_metadata"))
        assert nb.value("ai_msg.response_metadata['finish_reason']") in ("stop", "length")
        assert sent[0].body["temperature"] == 0 and sent[0].body["seed"] == 42

        nb.run_through("System prompts")
        assert nb.value("captain.content.strip() != ''") is True
        nb.run_through("Multi-turn conversations")
        assert nb.value("[type(m).__name__ for m in history]")[2] == "AIMessage"
        assert nb.value("len(history)") == 4 and nb.value("answer.content.strip() != ''")
        nb.run_through("Chaining")
        assert nb.value("isinstance(translation, str) and translation.strip() != ''") is True

        nb.run_through("Streaming")
        assert_streamed(nb, "pieces", "full")
        nb.run_through("Async")
        assert nb.value("colour.content.strip() != '' and fruit.content.strip() != ''") is True
        assert nb.value("len(async_pieces) > 1 and ''.join(async_pieces).strip() != ''") is True
        sent = nb.run_through("Batch")
        assert (
            len(chats(sent)) == 3
            and nb.value("[r.content.strip() != '' for r in capitals]") == [True] * 3
        )

        nb.run_through("Token usage")
        hello, goodbye = nb.value("hello.usage_metadata"), nb.value("goodbye.usage_metadata")
        assert_usage(hello)
        assert_usage(goodbye)
        (total,) = nb.value("usage.usage_metadata").values()
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            assert total[key] == hello[key] + goodbye[key], key

        sent = nb.run_through("Token counting")
        assert [r.path.rsplit("/", 1)[-1] for r in sent] == ["count_tokens"] * 2
        counted, words = nb.value("counted"), nb.value("sentence_tokens")
        assert counted > 0 and words > 0
        # the local server: the same tokenizer and chat template count both
        assert counted == nb.value("captain.usage_metadata['input_tokens']")

        nb.run_through("Stop sequences")
        stopped = nb.value("stopped.content")
        assert stopped.strip() and "5" not in stopped
        assert chats(nb.sent["Stop sequences"])[0].body["stop"] == ["5"]

        sent = nb.run_through("Two wire dialects")
        assert {r.path for r in chats(sent)} == {"/api/v7/llm/v1/messages"}
        assert_usage(nb.value("anthropic_captain.usage_metadata"))
        # the same greedy model and prompt on the local server: the same answer on either route
        assert nb.value("anthropic_captain.content") == nb.value("captain.content")
        assert_streamed(nb, "anthropic_pieces", "anthropic_full")

        nb.run_through("Errors")
        printed = nb.output("Errors")
        assert printed.startswith("ModelsLabAuthenticationError: ")
        assert "not-a-valid-key" not in printed
        assert_finished(nb, llama_server)


def assert_tool_call(nb: NotebookRun, call: dict[str, Any]) -> None:
    """``call`` names a tool of the notebook's ``tools``, with exactly its arguments, each of
    its schema's type (pydantic's strict validation in the kernel: ``2.0`` is no int)."""
    schema = nb.value(f"tools[{call['name']!r}].args_schema.model_json_schema()")
    assert set(call["args"]) == set(schema["properties"]), call
    args = json.dumps(json.dumps(call["args"]))
    validate = f"tools[{call['name']!r}].args_schema.model_validate("
    validate += f"__import__('json').loads({args}), strict=True).model_dump()"
    assert nb.value(validate) == call["args"]


def assert_booking(nb: NotebookRun, booking: dict[str, Any]) -> None:
    """``booking`` (a dumped object) is a valid `Booking` of the notebook's schema: a name, a
    day of the week, an int number of adults >= 1."""
    jsonschema.validate(booking, nb.value("Booking.model_json_schema()"))
    assert booking["name"].strip() and type(booking["adults"]) is int


@pytest.mark.real_model
@pytest.mark.timeout(1200)
def test_langchain_tools_agents(llama_server: Any, proxy: RecordingProxy, kernel_env: Any) -> None:
    with notebook("02_langchain_tools_agents", kernel_env, proxy) as nb:
        nb.run_through("Instantiation")
        sent = nb.run_through("Tool calling")
        calls = nb.value("fare_call.tool_calls")
        assert [call["name"] for call in calls] == ["ferry_fare"]
        assert_tool_call(nb, calls[0])
        assert sent[-1].body["tool_choice"] == "required"
        assert [t["function"]["name"] for t in sent[-1].body["tools"]] == [
            "ferry_fare",
            "tour_times",
        ]

        sent = nb.run_through("A tool loop by hand")
        for call in nb.value("loop_calls"):
            assert_tool_call(nb, call)
        results = nb.value("loop_results")
        assert results and nb.value("reply.content.strip() != '' and not reply.tool_calls")
        assert results[0] in sent[-1].text(), "the tool's result reached the model"

        nb.run_through("Agents")
        steps = nb.value(
            "[(type(m).__name__, m.content, getattr(m, 'tool_calls', [])) for m in steps]"
        )
        calls = [call for kind, _, made in steps if kind == "AIMessage" for call in made]
        results = [content for kind, content, _ in steps if kind == "ToolMessage"]
        for call in calls:
            assert_tool_call(nb, call)
        name, args = calls[0]["name"], json.dumps(calls[0]["args"])
        expected = nb.value(f"tools[{name!r}].invoke(__import__('json').loads({args!r}))")
        assert results and results[0] == expected
        assert len(steps) <= 4
        last_kind, _, last_calls = steps[-1]
        assert nb.value("stopped_by_limit") or (last_kind == "AIMessage" and not last_calls)

        sent = nb.run_through("Structured output")
        assert len(chats(sent)) == 3
        sent_as = [("tools" in r.body, r.body.get("response_format", {}).get("type")) for r in sent]
        assert sent_as == [(True, None), (False, "json_schema"), (False, "json_object")]
        for method in ("function_calling", "json_schema", "json_mode"):
            out = f"extracted[{method!r}]"
            assert nb.value(f"{out}['parsing_error'] is None") is True, method
            assert nb.value(f"type({out}['parsed']).__name__") == "Booking", method
            booking = nb.value(f"{out}['parsed'].model_dump()")
            assert_booking(nb, booking)
            # the raw message carries the same object: as the tool call, or as the JSON text
            raw = nb.value(f"{{'calls': {out}['raw'].tool_calls, 'text': {out}['raw'].content}}")
            carried = raw["calls"][0]["args"] if raw["calls"] else json.loads(raw["text"])
            assert carried == booking, method
            assert nb.value(f"{out}['raw'].usage_metadata['output_tokens']") > 0
        assert_finished(nb, llama_server)


@pytest.mark.real_model
@pytest.mark.timeout(1200)
def test_llamaindex_rag(llama_server: Any, proxy: RecordingProxy, kernel_env: Any) -> None:
    with notebook("03_llamaindex_rag", kernel_env, proxy) as nb:
        nb.run_through("The LLM")
        window = _served_context_window(llama_server)
        assert nb.value("llm.metadata.context_window") == window  # from the server's listing
        assert nb.output("The LLM") == f"context window: {window}\n"
        sent = nb.run_through("Basic usage")
        assert len(chats(sent)) == 2 and sent[0].body["seed"] == 42
        assert nb.value("completion.text.strip() != ''") is True
        assert nb.value("chat_response.message.role.value") == "assistant"
        assert nb.value("chat_response.message.content.strip() != ''") is True

        nb.run_through("The embedding model")
        assert nb.value("len(ferry)") == 384
        assert abs(nb.value("dot(ferry, ferry)") - 1) < 1e-3
        assert nb.value("dot(ferry, boat) > dot(ferry, puffin)") is True
        nb.run_through("Load data and build an index")
        assert nb.value("hits[0].metadata['file_name']") == "wildlife.md"

        sent = nb.run_through("Query your data")
        assert nb.value("str(response).strip() != ''") is True
        assert nb.value("sources(response)")[0] == "ferry.md"
        assert "the first ferry leaves Port Ailean at 07:15" in sent[-1].text(), "the passage"
        assert nb.value("usage.requests_sent") == len(sent) == 1
        tokens = nb.value("[usage.prompt_llm_token_count, usage.completion_llm_token_count]")
        assert tokens[0] > 0 and tokens[1] > 0
        assert nb.value("usage.total_llm_token_count") == sum(tokens)

        sent = nb.run_through("Streaming")
        assert nb.value("len(stream_pieces) > 1 and ''.join(stream_pieces).strip() != ''")
        assert nb.value("sources(streamed)")[0] == "lighthouse.md"
        assert "The tour climbs 131 steps to the lantern room" in sent[-1].text()
        assert sent[-1].body["stream"] is True

        sent = nb.run_through("Async")
        assert nb.value("str(cafe).strip() != ''") is True
        assert nb.value("sources(cafe)")[0] == "food.md"
        assert "The Harbour Cafe serves breakfast and lunch every day" in sent[-1].text()

        sent = nb.run_through("Chat engine")
        assert nb.value("str(may).strip() != '' and str(october).strip() != ''") is True
        assert nb.value("len(chat_engine.chat_history)") == 4
        assert "Visitors must keep dogs on a lead between April and August" in sent[0].text()
        assert "Can I bring my dog to Corran in May?" in sent[1].text(), "the history went along"

        sent = nb.run_through("Streaming chat")
        assert nb.value("len(chat_pieces) > 1 and ''.join(chat_pieces).strip() != ''") is True
        assert "There is no cash machine on the island" in sent[-1].text()
        assert "Can I bring my dog" not in sent[-1].text(), "reset started a new conversation"

        sent = nb.run_through("The other wire dialect")
        assert [r.path for r in sent] == ["/api/v7/llm/v1/messages"]
        assert nb.value("str(built).strip() != ''") is True
        assert nb.value("sources(built)")[0] == "lighthouse.md"
        assert "It was built in" in sent[-1].text()
        assert_finished(nb, llama_server)


def assert_function_call(nb: NotebookRun, function: str, kwargs: dict[str, Any]) -> None:
    """``kwargs`` are exactly the parameters of the notebook's ``function``, each of exactly
    its annotated type."""
    signature = f"__import__('inspect').signature({function}).parameters.items()"
    types = nb.value(f"{{name: p.annotation.__name__ for name, p in {signature}}}")
    assert set(kwargs) == set(types), kwargs
    for name, value in kwargs.items():
        assert type(value).__name__ == types[name], (name, value)


@pytest.mark.real_model
@pytest.mark.timeout(1200)
def test_llamaindex_agents_structured(
    llama_server: Any, proxy: RecordingProxy, kernel_env: Any
) -> None:
    with notebook("04_llamaindex_agents_structured", kernel_env, proxy) as nb:
        nb.run_through("The LLM and the tools")
        assert nb.value("llm.metadata.context_window") == _served_context_window(llama_server)
        sent = nb.run_through("Agents")
        calls = nb.value(
            "[(e.tool_name, e.tool_kwargs, str(e.tool_output), e.tool_output.is_error)"
            " for e in agent_calls]"
        )
        name, kwargs, output, is_error = calls[0]
        assert name == "ferry_fare" and not is_error
        assert_function_call(nb, "ferry_fare", kwargs)
        assert output == nb.value(f"ferry_fare(**{kwargs!r})")
        assert output in sent[1].text(), "the tool's result reached the model"
        assert sent[0].body["tool_choice"] == "required"
        assert nb.value("usage.requests_sent") == len(sent)
        assert nb.value("usage.prompt_llm_token_count") > 0

        sent = nb.run_through("Memory")
        assert nb.value("str(remembered).strip() != ''") is True
        assert "My name is Morag." in sent[-1].text(), "the first run went along with the second"

        sent = nb.run_through("Structured output")
        for mode in ("function_calling", "json_schema"):
            assert nb.value(f"type(found[{mode!r}]).__name__") == "Booking"
            assert_booking(nb, nb.value(f"found[{mode!r}].model_dump()"))
        assert "tools" in sent[0].body and "response_format" not in sent[0].body
        assert sent[1].body["response_format"]["type"] == "json_schema"

        nb.run_through("Async and streaming")
        assert nb.value("type(booking).__name__") == "Booking"
        assert_booking(nb, nb.value("booking.model_dump()"))
        assert nb.value("len(partials)") > 1
        last = nb.value("partials[-1].model_dump()")
        assert last == nb.value("found['function_calling'].model_dump()")

        nb.run_through("Structured LLMs")
        raw = nb.value("structured_response.raw.model_dump()")
        assert nb.value("type(structured_response.raw).__name__") == "Booking"
        assert_booking(nb, raw)
        assert json.loads(nb.value("structured_response.message.content")) == raw

        sent = nb.run_through("The other wire dialect")
        calls = nb.value("[(e.tool_name, e.tool_kwargs, str(e.tool_output)) for e in tour_calls]")
        assert calls and calls[0][0] == "tour_times"
        assert_function_call(nb, "tour_times", calls[0][1])
        assert {r.path for r in sent} == {"/api/v7/llm/v1/messages"}
        assert sent[0].body["tool_choice"]["type"] == "any"  # /v1/messages' "required"
        assert calls[0][2] in sent[1].text(), "the tool's result reached the model"
        assert_finished(nb, llama_server)


USAGE = re.compile(r"^usage: (\d+) in \+ (\d+) out = (\d+) tokens", re.MULTILINE)


WHERE = ("MODELSLAB_BASE_URL", "MODELSLAB_API_KEY", "MODELSLAB_MODEL")


def _run_demo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run scripts/demo.py with ``env``; without ``MODELSLAB_*`` in it, none is inherited
    either (the demo then finds the local server itself, as ``make demo`` does)."""
    inherited = {k: v for k, v in os.environ.items() if k not in WHERE}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        env={**inherited, **env},
        timeout=880,
        check=False,
    )


def _warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r"warn", line, re.IGNORECASE)]


@pytest.mark.real_model
@pytest.mark.timeout(900)
def test_demo_runs(llama_server: Any) -> None:
    """``make demo``'s run: it finds the local server this session holds (through
    scripts/llama_server.py, as ``make demo`` does), and every step ran and printed its
    checked numbers: usage that adds up, the tool's call and result, the parsed object, the
    first source and the retrieved line in the prompt. No warning, and the server this session
    still holds is left running. (Tests pointed at a server of their own by
    ``MODELSLAB_REAL_BASE_URL`` run the demo on it through ``MODELSLAB_*``.)"""
    own_server = bool(os.environ.get("MODELSLAB_REAL_BASE_URL"))
    proc = _run_demo(_server_env(llama_server) if own_server else {})
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    assert _warning_lines(proc.stderr) == [], proc.stderr[-3000:]
    if not own_server:
        assert f"Using the local llama.cpp server at {llama_server.base_url}" in out
        left = [line for line in out.splitlines() if line.startswith("left the local server")]
        assert len(left) == 1 and f"pid {os.getpid()}" in left[0].split(" for ")[1], out
        health = httpx.get(
            llama_server.base_url + "/health",
            headers={"Authorization": f"Bearer {llama_server.api_key}"},
            timeout=30,
        )
        assert health.status_code == 200
    assert re.search(r"^context window: \d+ tokens \(GET .*/v1/models\)$", out, re.M), out
    for step in range(1, 6):
        assert f"=== {step}. " in out
    usages = [tuple(map(int, match)) for match in USAGE.findall(out)]
    assert len(usages) == 6, out  # chat, stream, tool call + answer, extraction, RAG
    for prompt, completion, total in usages:
        assert prompt > 0 and completion > 0 and total == prompt + completion
    assert usages[-1][0] > 100, "the RAG prompt carries the retrieved passages"
    assert "tool calls: [('ferry_fare', {'adults': 2, 'children': 3})]" in out
    assert "tool result: 49 pounds" in out
    assert re.search(r"^parsed: Booking\(name='.+', day='\w+day', adults=\d+, ", out, re.M)
    assert "sources: ['ferry.md'" in out
    assert "the prompt sent held the retrieved line: 'the first ferry leaves Port Ailean" in out
    assert "FAILED" not in out and "demo finished" in out
    assert server_values(llama_server)["api_key"] not in out + proc.stderr


@pytest.mark.timeout(300)
def test_demo_fails_when_its_steps_fail(standin: StandIn) -> None:
    """With a key the server refuses, every step fails, says so, and the exit code is 1. No
    model answers here, so the stand-in (ModelsLab's own 401) is the server: this keeps the
    CPU-bound real-model part shorter."""
    env = {
        "MODELSLAB_BASE_URL": standin.base_url,
        "MODELSLAB_API_KEY": "sk-not-the-right-key",
        "MODELSLAB_MODEL": "meta-llama-llama-3.2-3b-instruct",
    }
    proc = _run_demo(env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    failed = re.findall(r"^FAILED: ([a-zA-Z ]+): (\w+)", proc.stdout, re.MULTILINE)
    langchain = ("ModelsLabAuthenticationError",)  # LangChain's twin of the core's error
    assert failed == [
        ("chat", *langchain),
        ("streaming", *langchain),
        ("tool calling", *langchain),
        ("structured output", *langchain),
        ("RAG", "AuthenticationError"),  # LlamaIndex raises the core's own error
    ]
    assert "demo FAILED" in proc.stdout and "demo finished" not in proc.stdout
    assert not USAGE.search(proc.stdout)
