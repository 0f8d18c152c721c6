"""The class docstring of `ChatModelsLab` (kept here so the model module stays short).

Every ``python`` block below runs in ``tests/langchain/test_docs.py`` against the stand-in
server (``MODELSLAB_BASE_URL`` and ``MODELSLAB_API_KEY`` pointed at it).
"""

from __future__ import annotations

__all__ = ["CHAT_MODELSLAB_DOC"]

CHAT_MODELSLAB_DOC = '''ModelsLab chat model (``/chat/completions`` or ``/v1/messages``).

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
    messages = [
        ("system", "You are a helpful translator. Translate the user sentence to French."),
        ("human", "I love programming."),
    ]
    answer = model.invoke(messages)
    print(answer.content)
    print(answer.response_metadata["finish_reason"], answer.response_metadata["model_name"])
    ```

Stream:
    ```python
    for chunk in model.stream(messages):
        print(chunk.text, end="", flush=True)

    full = None
    for chunk in model.stream(messages):
        full = chunk if full is None else full + chunk
    print(full.content, full.usage_metadata)
    ```

Async:
    ```python
    import asyncio


    async def main() -> None:
        answer = await model.ainvoke(messages)
        print(answer.content)
        async for chunk in model.astream(messages):
            print(chunk.text, end="")
        answers = await model.abatch([messages, messages])
        print(len(answers))


    asyncio.run(main())
    ```

Tool calling:
    ```python
    from pydantic import BaseModel, Field


    class GetWeather(BaseModel):
        """Get the current weather in a given location."""

        location: str = Field(..., description="The city and state, e.g. San Francisco, CA")


    class GetPopulation(BaseModel):
        """Get the current population in a given location."""

        location: str = Field(..., description="The city and state, e.g. San Francisco, CA")


    model_with_tools = model.bind_tools([GetWeather, GetPopulation])
    ai_msg = model_with_tools.invoke("Which city is bigger today: LA or NY? Use GetPopulation.")
    print(ai_msg.tool_calls)  # [{"name": "GetPopulation", "args": {...}, "id": "...", ...}]

    # tool_choice: "auto", "none", "any"/"required"/True, a tool name, or a dict
    forced = model.bind_tools([GetWeather], tool_choice="GetWeather")
    print(forced.invoke("Weather in Paris?").tool_calls[0]["name"])
    ```

    Arguments that are not a JSON object (e.g. cut off: ``{"city": "Par``) are reported in
    ``invalid_tool_calls``, never as a call. ``invoke`` gives the raw text and the parse
    error, streaming or not. When you merge ``stream()`` chunks yourself, langchain-core's
    lenient parser would complete such text into a valid call, so the last chunk adds a short
    marker (e.g. ``"]``) to that call's arguments: the merged message then reports the call
    under ``invalid_tool_calls`` with ``args`` = the raw text plus that marker.

Structured output:
    ```python
    from typing import Optional


    class Joke(BaseModel):
        """Joke to tell user."""

        setup: str = Field(description="The setup of the joke")
        punchline: str = Field(description="The punchline to the joke")
        rating: Optional[int] = Field(default=None, description="How funny, from 1 to 10")


    structured = model.with_structured_output(Joke)  # method="function_calling" by default
    joke = structured.invoke("Tell me a joke about cats")
    print(joke)

    # also method="json_mode" (describe the keys in the prompt) and method="json_schema";
    # include_raw=True returns {"raw", "parsed", "parsing_error"}; streaming yields partials
    for partial in model.with_structured_output(Joke, method="json_mode").stream(
        "Tell me a joke about cats as JSON with keys setup, punchline and rating"
    ):
        print(partial)
    ```

Token usage:
    ```python
    answer = model.invoke(messages)
    print(answer.usage_metadata)  # {"input_tokens": ..., "output_tokens": ..., "total_tokens": ...}
    print(model.get_num_tokens_from_messages([("human", "How many tokens is this?")]))
    ```

Response metadata:
    ```python
    answer = model.invoke(messages)
    print(answer.response_metadata)
    # {"model_provider": "modelslab", "finish_reason": "stop", "model_name": "...", "id": "gen-..."}
    ```

List models:
    ```python
    print([m.id for m in model.list_models()])
    ```

Errors:
    Failures raise the core's typed errors, which also subclass langchain-core's model
    errors (``ModelRateLimitError``, ``ModelAuthenticationError``, ``ModelTimeoutError``,
    ``ContextOverflowError``, ...), so ``with_fallbacks`` and retries work on them.

    ```python
    from langchain_core.exceptions import ModelRateLimitError

    resilient = model.with_fallbacks(
        [ChatModelsLab(model="meta-llama-llama-3.1-8b-instruct")],
        exceptions_to_handle=(ModelRateLimitError,),
    )
    print(resilient.invoke("Hello").content)
    ```
'''
