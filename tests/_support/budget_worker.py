"""Workers of the shared-budget tests: one process each, all counting against one Redis budget.

Importable by spawned processes (``multiprocessing`` with ``spawn``) and runnable as a script
(``python budget_worker.py hold <json>``: open streams, hold their reservations, wait to be
killed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MODEL = "meta-llama-llama-3.2-3b-instruct"
TEXTS = [f"say {' '.join(['w'] * (4 + (i * 7) % 60))}" for i in range(12)]


@dataclass(frozen=True)
class BudgetJob:
    """What one worker process does under the shared budget ``name``."""

    kind: str
    base_url: str
    api_key: str
    redis_url: str
    name: str
    budget: str


def _outcomes(results: list[Any]) -> dict[str, int]:
    from modelslab_core import BudgetExceededError

    refused = sum(isinstance(r, BudgetExceededError) for r in results)
    failed = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"sent": len(results) - refused, "refused": refused, "failed": len(failed) - refused}


def run(job: BudgetJob) -> dict[str, int]:
    """Send ``TEXTS`` the job's way, 12 at once; count answers and refusals."""
    if job.kind == "langchain-batch":
        from langchain_modelslab import ChatModelsLab, get_modelslab_callback

        model = ChatModelsLab(
            model=MODEL, api_key=job.api_key, base_url=job.base_url, max_tokens=64
        )
        with get_modelslab_callback(
            budget=Decimal(job.budget), shared=job.name, budget_backend=job.redis_url
        ):
            results = model.batch(TEXTS, {"max_concurrency": 12}, return_exceptions=True)
        return _outcomes(results)
    if job.kind == "langchain-astream":
        return asyncio.run(_langchain_astream(job))
    if job.kind == "llama-index-achat":
        return asyncio.run(_llama_index_achat(job))
    return _core_first_chunk(job)


async def _langchain_astream(job: BudgetJob) -> dict[str, int]:
    from langchain_modelslab import ChatModelsLab, get_modelslab_callback

    model = ChatModelsLab(
        model=MODEL,
        api_key=job.api_key,
        base_url=job.base_url,
        max_tokens=64,
        stream_usage=False,
        dialect="anthropic",
    )

    async def one(text: str) -> Any:
        return [c async for c in model.astream(text)]

    with get_modelslab_callback(
        budget=Decimal(job.budget), shared=job.name, budget_backend=job.redis_url
    ):
        results = await asyncio.gather(*map(one, TEXTS), return_exceptions=True)
    return _outcomes(list(results))


async def _llama_index_achat(job: BudgetJob) -> dict[str, int]:
    from llama_index.core.base.llms.types import ChatMessage

    from llama_index_modelslab import ModelsLab, track_costs

    llm = ModelsLab(model=MODEL, api_key=job.api_key, api_base=job.base_url, max_tokens=64)
    with track_costs(budget=Decimal(job.budget), shared=job.name, budget_backend=job.redis_url):
        jobs = [llm.achat([ChatMessage(role="user", content=t)]) for t in TEXTS]
        results = await asyncio.gather(*jobs, return_exceptions=True)
    return _outcomes(list(results))


def _core_first_chunk(job: BudgetJob) -> dict[str, int]:
    import contextvars

    from modelslab_core import ChatRequest, Message, ModelsLabClient, track_spend

    client = ModelsLabClient(api_key=job.api_key, base_url=job.base_url)

    def one(text: str) -> Any:
        request = ChatRequest(model=MODEL, messages=[Message.text("user", text)], max_tokens=64)
        try:
            stream = client.stream(request)
            first = next(stream)
            stream.close()  # type: ignore[attr-defined]
            return first
        except Exception as exc:
            return exc

    with (
        track_spend(budget=Decimal(job.budget), shared=job.name, budget_backend=job.redis_url),
        ThreadPoolExecutor(12) as pool,
    ):
        results = [
            f.result() for f in [pool.submit(contextvars.copy_context().run, one, t) for t in TEXTS]
        ]
    return _outcomes(results)


def hold(args: dict[str, Any]) -> None:
    """Open ``n`` streams under the shared budget, read one chunk of each, say so, then wait
    (to be killed while holding their reservations)."""
    from modelslab_core import ChatRequest, Message, ModelsLabClient, track_spend
    from modelslab_core.cost.redis_budget import RedisBudgetBackend

    backend = RedisBudgetBackend(args["redis_url"], lease=args["lease"])
    client = ModelsLabClient(api_key=args["api_key"], base_url=args["base_url"])
    request = ChatRequest(model=MODEL, messages=[Message.text("user", TEXTS[5])], max_tokens=64)
    with track_spend(budget=Decimal(args["budget"]), shared=args["name"], budget_backend=backend):
        streams = [client.stream(request) for _ in range(args["n"])]
        for stream in streams:
            next(stream)
        print("holding", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    hold(json.loads(sys.argv[2]))
