"""Workloads of the shared-limit tests: requests through LangChain and LlamaIndex, sync and
async, streamed and plain, from threads, event loops or whole processes.

Each worker builds its own client objects (its own ``ChatModelsLab`` and ``ModelsLab``, cap 5,
no retries, so a 429 surfaces as an error) and asks ``Say: <tag>-<i>``; the stand-in answers
``<tag>-<i>``, so every answer is checked whole. Importable by spawned processes.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelslab_core import InFlightLimiter

MODEL = "meta-llama-llama-3.2-3b-instruct"


@dataclass(frozen=True)
class Job:
    """What one worker sends, and where its in-flight limit is counted."""

    base_url: str
    api_key: str
    backend: str | InFlightLimiter | None
    """``in_flight_backend`` (None: set ``MODELSLAB_IN_FLIGHT_URL`` to ``env_url`` instead)."""
    count: int
    tag: str
    env_url: str | None = None
    concurrency: int = 8
    fallback: bool = False
    lease: float = 30.0
    retry_window: float = 2.0


@dataclass
class Outcome:
    """What a worker saw."""

    ok: int = 0
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: Outcome) -> Outcome:
        """Both outcomes together."""
        return Outcome(
            self.ok + other.ok,
            self.wrong + other.wrong,
            self.errors + other.errors,
            max(self.seconds, other.seconds),
        )


def build_models(job: Job) -> tuple[Any, Any]:
    """A fresh LangChain model and a fresh LlamaIndex LLM with the job's limit settings."""
    from langchain_modelslab import ChatModelsLab
    from llama_index_modelslab import ModelsLab

    lc = ChatModelsLab(
        api_key=job.api_key,
        base_url=job.base_url,
        model=MODEL,
        max_retries=0,
        max_in_flight=5,
        in_flight_backend=job.backend,
        in_flight_fallback=job.fallback,
        in_flight_lease=job.lease,
        in_flight_retry_window=job.retry_window,
    )
    options = {
        "in_flight_fallback": job.fallback,
        "in_flight_lease": job.lease,
        "in_flight_retry_window": job.retry_window,
    }
    li = ModelsLab(
        api_key=job.api_key,
        api_base=job.base_url,
        model=MODEL,
        max_retries=0,
        max_in_flight=5,
        in_flight_backend=job.backend,
        client_options=options,
    )
    return lc, li


def _sync_call(lc: Any, li: Any, i: int, prompt: str) -> str:
    from llama_index.core.base.llms.types import ChatMessage

    kind = i % 4
    if kind == 0:
        return str(lc.invoke(prompt).content)
    if kind == 1:
        return "".join(str(c.content) for c in lc.stream(prompt))
    messages = [ChatMessage(role="user", content=prompt)]
    if kind == 2:
        return str(li.chat(messages).message.content)
    return "".join(r.delta or "" for r in li.stream_chat(messages))


async def _async_call(lc: Any, li: Any, i: int, prompt: str) -> str:
    from llama_index.core.base.llms.types import ChatMessage

    kind = i % 4
    if kind == 0:
        return str((await lc.ainvoke(prompt)).content)
    if kind == 1:
        return "".join([str(c.content) async for c in lc.astream(prompt)])
    messages = [ChatMessage(role="user", content=prompt)]
    if kind == 2:
        return str((await li.achat(messages)).message.content)
    return "".join([r.delta or "" async for r in await li.astream_chat(messages)])


def _record(outcome: Outcome, lock: threading.Lock, expected: str, got: str | Exception) -> None:
    with lock:
        if isinstance(got, Exception):
            outcome.errors.append(f"{type(got).__name__}: {str(got)[:160]}")
        elif got == expected:
            outcome.ok += 1
        else:
            outcome.wrong.append(f"{expected!r} -> {got!r}")


def run_threads(job: Job, threads: int | None = None) -> Outcome:
    """``job.count`` blocking calls from a pool of threads, one pair of models per thread."""
    outcome, lock, local = Outcome(), threading.Lock(), threading.local()
    started = time.monotonic()

    def one(i: int) -> None:
        if not hasattr(local, "models"):
            local.models = build_models(job)
        expected = f"{job.tag}-{i}"
        try:
            got: str | Exception = _sync_call(*local.models, i, f"Say: {expected}")
        except Exception as exc:
            got = exc
        _record(outcome, lock, expected, got)

    with ThreadPoolExecutor(max_workers=threads or job.concurrency) as pool:
        list(pool.map(one, range(job.count)))
    outcome.seconds = time.monotonic() - started
    return outcome


def run_loop(job: Job) -> Outcome:
    """``job.count`` async calls on one new event loop, ``job.concurrency`` at a time."""
    outcome, lock = Outcome(), threading.Lock()

    async def main() -> None:
        lc, li = build_models(job)
        gate = asyncio.Semaphore(job.concurrency)

        async def one(i: int) -> None:
            expected = f"{job.tag}-{i}"
            async with gate:
                try:
                    got: str | Exception = await _async_call(lc, li, i, f"Say: {expected}")
                except Exception as exc:
                    got = exc
            _record(outcome, lock, expected, got)

        await asyncio.gather(*(one(i) for i in range(job.count)))

    started = time.monotonic()
    asyncio.run(main())
    outcome.seconds = time.monotonic() - started
    return outcome


def run_process(job: Job) -> Outcome:
    """A whole worker process: half the calls from threads, half from an event loop, at once."""
    if job.env_url is not None:
        os.environ["MODELSLAB_IN_FLIGHT_URL"] = job.env_url
    half = job.count // 2
    sync_job = Job(**{**job.__dict__, "count": half, "tag": f"{job.tag}s"})
    async_job = Job(**{**job.__dict__, "count": job.count - half, "tag": f"{job.tag}a"})
    with ThreadPoolExecutor(max_workers=2) as pool:
        threads = pool.submit(run_threads, sync_job, job.concurrency // 2)
        loop = pool.submit(run_loop, async_job)
        return threads.result().add(loop.result())


def process_main(job: Job, results: Any) -> None:
    """Entry point of a worker process: put ``(pid, Outcome)`` on ``results``."""
    try:
        outcome = run_process(job)
    except BaseException as exc:  # report it: the parent asserts on outcomes
        outcome = Outcome(errors=[f"worker crashed: {type(exc).__name__}: {exc}"])
    results.put((os.getpid(), outcome))


def hold_streams(base_url: str, api_key: str, redis_url: str, lease: float, count: int) -> None:
    """Entry point of a process that opens ``count`` streams and holds their slots until killed."""
    from modelslab_core import ChatRequest, Message, ModelsLabClient

    client = ModelsLabClient(
        api_key=api_key, base_url=base_url, in_flight_backend=redis_url, in_flight_lease=lease
    )
    request = ChatRequest(model=MODEL, messages=[Message.text("user", "Say: held")])
    threads = [
        threading.Thread(target=lambda: list(client.stream(request)), daemon=True)
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
