"""The class docstring of `ModelsLab` (its examples are kept in one place)."""

from __future__ import annotations

__all__ = ["MODELSLAB_DOC"]

MODELSLAB_DOC = """ModelsLab's LLM API as a LlamaIndex function-calling LLM.

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
        ```python
        import asyncio

        import httpx
        import httpx_aiohttp
        from llama_index.core.agent.workflow import FunctionAgent
        from llama_index.core.llms import ChatMessage
        from llama_index.core.tools import FunctionTool
        from pydantic import BaseModel

        from llama_index_modelslab import ModelsLab

        llm = ModelsLab(model="meta-llama-llama-3.2-3b-instruct")  # key: MODELSLAB_API_KEY
        print(llm.complete("Say hi").text)
        for chunk in llm.stream_chat([ChatMessage(role="user", content="Count to 3")]):
            print(chunk.delta, end="")


        # Agents and tools
        def add(a: int, b: int) -> int:
            "Add two numbers."
            return a + b


        async def ask_agent() -> None:
            agent = FunctionAgent(tools=[add], llm=llm)
            print(await agent.run("What is 2 + 3?"))


        asyncio.run(ask_agent())


        # Structured output (function calling by default; or structured_output_mode="json_schema")
        class City(BaseModel):
            name: str
            country: str


        city = llm.as_structured_llm(City).complete("The capital of France").raw

        # Your own httpx clients, e.g. aiohttp's pool for many concurrent async calls
        # (pip install httpx-aiohttp); they are used as given and never closed by us.
        fast = ModelsLab(
            async_http_client=httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport())
        )

        # Token counting and model listing (as in langchain_modelslab.ChatModelsLab)
        tools = [FunctionTool.from_defaults(fn=add)]
        n = llm.count_tokens([ChatMessage(role="user", content="What is 2 + 3?")], tools=tools)
        ids = [m.id for m in llm.list_models()]
        ```
    """
