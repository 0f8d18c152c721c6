"""The ``[aiohttp]`` extra: the async client on httpx-aiohttp's transport (aiohttp's pool)."""

from __future__ import annotations

import httpx
import pytest
from _support import MODEL

from modelslab_core import AsyncModelsLabClient, ChatRequest, Message
from modelslab_core.testing import Reply, StandIn

httpx_aiohttp = pytest.importorskip(
    "httpx_aiohttp", reason='the [aiohttp] extra is not installed (pip install "...[aiohttp]")'
)


async def test_chat_and_stream_on_aiohttps_transport(standin: StandIn, dialect: str) -> None:
    standin.enqueue(Reply(text="whole answer"), Reply(text="a streamed answer"))
    request = ChatRequest(model=MODEL, messages=[Message.text("user", "hi")])
    async with httpx.AsyncClient(transport=httpx_aiohttp.AiohttpTransport()) as http:
        client = AsyncModelsLabClient(
            http_client=http, api_key=standin.api_key, base_url=standin.base_url
        )
        result = await client.chat(request, dialect=dialect)
        pieces = [d.text async for d in client.stream(request, dialect=dialect) if d.text]
    assert result.text == "whole answer"
    assert "".join(pieces) == "a streamed answer" and len(pieces) > 1
    assert len(standin.requests) == 2
