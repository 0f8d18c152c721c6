# The class docstring of `ChatModelsLab`, kept in this module's docstring so the model module
# stays short. Each ``python`` block runs as written (own imports, env-configured model) in
# tests/docs/test_examples.py: pytest-examples finds it in this file and runs it against the
# stand-in with only MODELSLAB_API_KEY and MODELSLAB_BASE_URL set.
"""ModelsLab chat model (``/chat/completions`` or ``/v1/messages``).

Setup:
    Install ``modelslab-integrations`` with the LangChain extra and set your key:

    ```bash
    pip install "modelslab-integrations[langchain]"
    export MODELSLAB_API_KEY="your-api-key"
    ```

Key init args — completion params:
    model: str
        Model id (alias ``model_name``), default ``meta-llama-llama-3.2-3b-instruct``.
    temperature: float | None
        Sampling temperature.
    max_tokens: int | None
        Most tokens to generate (also ``max_completion_tokens``).
    top_p, top_k, frequency_penalty, presence_penalty, repetition_penalty, seed, stop
        The usual sampling controls; ``model_kwargs``/``extra_body`` send anything else.
    stream_usage: bool
        Token usage at the end of every stream (default ``True``).

Key init args — client params:
    api_key: SecretStr | None
        ModelsLab API key; read from ``MODELSLAB_API_KEY`` if not passed.
    base_url: str
        API base URL (``MODELSLAB_BASE_URL``), default ``https://modelslab.com/api/v7/llm``;
        also ``api_base``/``modelslab_api_base`` (two spellings of one setting: an error).
    dialect: "openai" | "anthropic"
        Wire format: ``/chat/completions`` (default) or ``/v1/messages``; same features.
    timeout: float | None
        Seconds to connect and to wait for each read (also ``request_timeout``).
    max_retries: int
        Retries for 429/5xx/connection errors, honouring the server's ``retry_after``.
    max_in_flight: int | None
        Requests in flight per key in this process (ModelsLab queues 5-15 per account).
    http_client, http_async_client
        Your own ``httpx.Client``/``httpx.AsyncClient``.

Instantiate:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(
        model="meta-llama-llama-3.2-3b-instruct",
        temperature=0,
        max_tokens=256,
        # api_key="...",  # or MODELSLAB_API_KEY
        # dialect="anthropic",  # use /v1/messages instead of /chat/completions
    )
    ```

Invoke:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    messages = [
        ("system", "You are a helpful translator. Translate the user sentence to French."),
        ("human", "I love programming."),
    ]
    answer = model.invoke(messages)
    print(answer.content)
    print(answer.response_metadata["finish_reason"])  # "stop"
    ```

Stream:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    for chunk in model.stream("Translate to French: I love programming."):
        print(chunk.text, end="", flush=True)

    full = None  # chunks add up to one message, usage included
    for chunk in model.stream("Translate to French: I love programming."):
        full = chunk if full is None else full + chunk
    print(full.usage_metadata)
    ```

Async:
    ```python
    import asyncio

    from langchain_modelslab import ChatModelsLab


    async def main() -> None:
        model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
        answer = await model.ainvoke("Translate to French: I love programming.")
        print(answer.content)
        async for chunk in model.astream("Translate to French: I love coffee."):
            print(chunk.text, end="")
        answers = await model.abatch(["Hello", "Bonjour"])
        print(len(answers))


    asyncio.run(main())
    ```

Tool calling:
    ```python
    from pydantic import BaseModel, Field

    from langchain_modelslab import ChatModelsLab


    class GetWeather(BaseModel):
        '''Get the current weather in a given location.'''

        location: str = Field(..., description="The city and state, e.g. San Francisco, CA")


    class GetPopulation(BaseModel):
        '''Get the current population in a given location.'''

        location: str = Field(..., description="The city and state, e.g. San Francisco, CA")


    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    model_with_tools = model.bind_tools([GetWeather, GetPopulation])
    ai_msg = model_with_tools.invoke("Which city is bigger today: LA or NY? Use GetPopulation.")
    print(ai_msg.tool_calls)  # [{"name": "GetPopulation", "args": {...}, "id": "...", ...}]

    # tool_choice: "auto", "none", "any"/"required"/True, a tool name, or a dict
    forced = model.bind_tools([GetWeather], tool_choice="GetWeather")
    print(forced.invoke("Weather in Paris?").tool_calls[0]["name"])  # "GetWeather"
    ```

    Arguments that are not a JSON object (e.g. cut off: ``{"city": "Par``) are reported in
    ``invalid_tool_calls``, never as a call. ``invoke`` gives the raw text and the parse
    error, streaming or not. When you merge ``stream()`` chunks yourself, langchain-core's
    lenient parser would complete such text into a valid call, so the last chunk adds a short
    marker (e.g. ``"]``) to that call's arguments: the merged message then reports the call
    under ``invalid_tool_calls`` with ``args`` = the raw text plus that marker.

Structured output:
    ```python
    from pydantic import BaseModel, Field

    from langchain_modelslab import ChatModelsLab


    class Joke(BaseModel):
        '''Joke to tell user.'''

        setup: str = Field(description="The setup of the joke")
        punchline: str = Field(description="The punchline to the joke")
        rating: int | None = Field(default=None, description="How funny, from 1 to 10")


    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    structured = model.with_structured_output(Joke)  # method="function_calling" by default
    print(structured.invoke("Tell me a joke about cats"))  # a Joke

    # also method="json_mode" (describe the keys in the prompt) and method="json_schema";
    # include_raw=True returns {"raw", "parsed", "parsing_error"}; streaming yields partials
    json_mode = model.with_structured_output(Joke, method="json_mode")
    for partial in json_mode.stream("A joke about cats as JSON with keys setup and punchline"):
        print(partial)
    ```

Token usage:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    answer = model.invoke("Hello")
    print(answer.usage_metadata)  # {"input_tokens": ..., "output_tokens": ..., "total_tokens": ...}
    print(model.get_num_tokens_from_messages([("human", "How many tokens is this?")]))
    ```

Response metadata:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    answer = model.invoke("Hello")
    print(answer.response_metadata)
    # {"model_provider": "modelslab", "finish_reason": "stop", "model_name": "...", "id": "..."}
    ```

List models:
    ```python
    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    print([m.id for m in model.list_models()])
    ```

Errors:
    Failures raise the core's typed errors, which also subclass langchain-core's model
    errors (``ModelRateLimitError``, ``ModelAuthenticationError``, ``ModelTimeoutError``,
    ``ContextOverflowError``, ...), so ``with_fallbacks`` and retries work on them.

    ```python
    from langchain_core.exceptions import ModelRateLimitError

    from langchain_modelslab import ChatModelsLab

    model = ChatModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    resilient = model.with_fallbacks(
        [ChatModelsLab(model="meta-llama-llama-3.1-8b-instruct")],
        exceptions_to_handle=(ModelRateLimitError,),
    )
    print(resilient.invoke("Hello").content)
    ```
"""

from __future__ import annotations

__all__ = ["CHAT_MODELSLAB_DOC"]

CHAT_MODELSLAB_DOC: str | None = __doc__  # None under python -OO, like any docstring
