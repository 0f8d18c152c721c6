"""`ModelsLab` honours LlamaIndex's ``rate_limiter`` (an LLM field since llama-index-core
0.14.16; on older cores the module does not exist and these tests are skipped)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from li_helpers import chat, complete, stream_chat
from llama_index.core.base.llms.types import ChatMessage

from llama_index_modelslab import ModelsLab
from modelslab_core.testing import StandIn

rate_limiter = pytest.importorskip(
    "llama_index.core.rate_limiter",
    reason="llama-index-core < 0.14.16 has no LLM rate_limiter (llama_index.core.rate_limiter)",
)


class _CountingLimiter(rate_limiter.BaseRateLimiter):  # type: ignore[misc,name-defined]
    """A rate limiter that only counts acquisitions."""

    count: int = 0

    def acquire(self, num_tokens: int = 1) -> None:
        self.count += 1

    async def async_acquire(self, num_tokens: int = 1) -> None:
        self.count += 1


async def test_rate_limiter_is_used(
    make_llm: Callable[..., ModelsLab], standin: StandIn, sync: bool
) -> None:
    limiter = _CountingLimiter()
    llm = make_llm(rate_limiter=limiter)
    await chat(llm, sync, [ChatMessage(role="user", content="hi")])
    await stream_chat(llm, sync, [ChatMessage(role="user", content="hi")])
    await complete(llm, sync, "hi")
    assert limiter.count == 3
