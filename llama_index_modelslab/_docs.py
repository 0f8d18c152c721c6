# The class docstring of `ModelsLab`, kept in this module's docstring so the model module stays
# short. Each ``python`` block runs as written (own imports, env-configured model) in
# tests/docs/test_examples.py: pytest-examples finds it in this file and runs it against the
# stand-in with only MODELSLAB_API_KEY and MODELSLAB_BASE_URL set.
"""ModelsLab's LLM API as a LlamaIndex function-calling LLM.

Speaks the OpenAI-compatible ``/chat/completions`` dialect (default) or the
Anthropic-compatible ``/v1/messages`` one, with tool calling, streaming, structured
output, reasoning (`ThinkingBlock`) and images. Retries, timeouts, the per-key in-flight
cap and ModelsLab's HTTP-200 error envelopes are handled by `modelslab_core`; failures
raise its typed errors (`modelslab_core.RateLimitError`, ...). The API key is never part
of ``to_dict()``, ``to_json()``, ``to_payload()`` or the repr.

The base URL is ``api_base`` (as in llama-index-llms-openai) or ``base_url`` (as in
llama-index-llms-anthropic), the model ``model`` or ``model_name``; two spellings of one
setting together, or a keyword no setting has, raise a ``TypeError`` naming them (fields
to send go in ``additional_kwargs``).

Examples:
    Complete, chat and stream (the key is read from ``MODELSLAB_API_KEY``):

    ```python
    from llama_index.core.llms import ChatMessage

    from llama_index_modelslab import ModelsLab

    llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    print(llm.complete("Say hi").text)
    print(llm.chat([ChatMessage(role="user", content="Say hi")]).message.content)
    for chunk in llm.stream_chat([ChatMessage(role="user", content="Count to 3")]):
        print(chunk.delta, end="")
    ```

    Agents and tools:

    ```python
    import asyncio

    from llama_index.core.agent.workflow import FunctionAgent

    from llama_index_modelslab import ModelsLab


    def add(a: int, b: int) -> int:
        "Add two numbers."
        return a + b


    async def main() -> None:
        llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")
        agent = FunctionAgent(tools=[add], llm=llm)
        print(await agent.run("What is 2 + 3?"))


    asyncio.run(main())
    ```

    Structured output (function calling by default; or
    ``structured_output_mode="json_schema"``):

    ```python
    from pydantic import BaseModel

    from llama_index_modelslab import ModelsLab


    class City(BaseModel):
        name: str
        country: str


    llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    city = llm.as_structured_llm(City).complete("The capital of France").raw
    print(city)  # a City
    ```

    Your own httpx clients, e.g. aiohttp's pool for many concurrent async calls
    (``pip install httpx-aiohttp``); they are used as given and never closed by us:

    ```python
    import asyncio

    import httpx
    import httpx_aiohttp

    from llama_index_modelslab import ModelsLab


    async def main() -> None:
        transport = httpx_aiohttp.AiohttpTransport()
        async with httpx.AsyncClient(transport=transport) as client:
            llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct", async_http_client=client)
            print((await llm.acomplete("Say hi")).text)


    asyncio.run(main())
    ```

    Token counting and model listing (as in `langchain_modelslab.ChatModelsLab`):

    ```python
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    from llama_index_modelslab import ModelsLab


    def add(a: int, b: int) -> int:
        "Add two numbers."
        return a + b


    llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")
    tools = [FunctionTool.from_defaults(fn=add)]
    messages = [ChatMessage(role="user", content="What is 2 + 3?")]
    print(llm.count_tokens(messages, tools=tools))
    print([m.id for m in llm.list_models()])
    ```
"""

from __future__ import annotations

__all__ = ["MODELSLAB_DOC"]

MODELSLAB_DOC: str | None = __doc__  # None under python -OO, like any docstring
