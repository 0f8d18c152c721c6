#!/usr/bin/env python3
"""A batch over a small dataset with a pool of worker processes that share one account limit.

ModelsLab admits 5 (10, 15) requests in flight per account and answers 429 past that. Each
worker process caps itself at 5, so 4 workers alone would send up to 20. Pointing every
process at one Redis makes the cap the account's: set ``MODELSLAB_IN_FLIGHT_URL`` and nothing
else changes in the code::

    export MODELSLAB_IN_FLIGHT_URL=redis://localhost:6379/0
    python notebooks/shared_limit_batch.py --workers 4

Without ``MODELSLAB_IN_FLIGHT_URL`` a throwaway ``redis-server`` is started here. Without
``MODELSLAB_API_KEY`` the requests go to the ModelsLab stand-in (``modelslab_core.testing``),
started here with ModelsLab's queue limit of 5 (it answers 429 past it); with a key, to
``MODELSLAB_BASE_URL`` (ModelsLab by default, or e.g. the local llama.cpp server).
Retries are off (``max_retries=0``), so every rejection would show. It prints the
rejections (0), the throughput and how many requests had to wait for a slot, and exits
non-zero if any answer is missing or any request was rejected.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
CAP = 5


def paragraphs(count: int) -> list[str]:
    """``count`` prompts made from the paragraphs of the notebooks' small dataset."""
    parts = [
        " ".join(block.split())
        for page in sorted(DATA.glob("*.md"))
        for block in page.read_text(encoding="utf-8").split("\n\n")
        if len(block.split()) > 8
    ]
    return [f"In five words, what is this about? {parts[i % len(parts)]}" for i in range(count)]


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def summarise(prompts: list[str]) -> tuple[int, list[tuple[str, str | None]], dict[str, int]]:
    """In a worker: answer ``prompts`` concurrently. (pid, [(answer, error)], limiter stats)."""
    from langchain_modelslab import ChatModelsLab
    from modelslab_core import ClientConfig, limiter_for

    llm = ChatModelsLab(
        model=os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct"),
        max_tokens=24,
        streaming=True,
        max_retries=0,  # show rejections instead of retrying them
        max_in_flight=CAP,  # shared through MODELSLAB_IN_FLIGHT_URL: no other setting
    )
    outcomes: list[tuple[str, str | None]] = []
    for answer in llm.batch(prompts, return_exceptions=True):
        if isinstance(answer, Exception):
            outcomes.append(("", f"{type(answer).__name__}: {answer}"))
        else:
            outcomes.append((str(answer.content), None))
    stats = limiter_for(ClientConfig()).stats()  # this process's shared limiter
    return os.getpid(), outcomes, {"acquired": stats.acquired, "waited": stats.waited}


def warm(_: int) -> int:
    """Import the adapters in a worker before the clock starts (then keep it busy a moment,
    so that each worker takes one of these)."""
    import langchain_modelslab  # noqa: F401

    time.sleep(0.3)
    return os.getpid()


def progress(total: int) -> Any:
    """A tqdm progress bar, or a plain counter where tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="req", desc="batch", file=sys.stdout, mininterval=0.2)


def run(args: argparse.Namespace, stack: ExitStack) -> int:
    """The batch; the exit status."""
    from modelslab_core.testing import RedisServer, StandIn

    standin = None
    if not os.environ.get("MODELSLAB_API_KEY"):
        standin = stack.enter_context(
            StandIn(api_key="example-key", max_in_flight=CAP, chunk_delay=args.latency / 25)
        )
        os.environ.update(MODELSLAB_API_KEY="example-key", MODELSLAB_BASE_URL=standin.base_url)
    if not os.environ.get("MODELSLAB_IN_FLIGHT_URL"):
        os.environ["MODELSLAB_IN_FLIGHT_URL"] = stack.enter_context(RedisServer()).url
    target = "the stand-in (queue limit 5)" if standin else os.environ.get("MODELSLAB_BASE_URL")
    print(f"requests to {target}; account limit shared through Redis by {args.workers} processes")

    prompts = paragraphs(args.items)
    done, failures, stats = 0, [], {}
    context = multiprocessing.get_context("spawn")  # workers inherit the environment only
    with context.Pool(args.workers) as pool:
        pool.map(warm, range(args.workers), chunksize=1)
        bar = progress(len(prompts))
        started = time.monotonic()
        for pid, outcomes, worker_stats in pool.imap_unordered(summarise, chunks(prompts, 10)):
            stats[pid] = worker_stats  # cumulative per process: keep the latest
            failures += [
                error or "empty answer" for answer, error in outcomes if error or not answer
            ]
            done += len(outcomes)
            if bar is not None:
                bar.update(len(outcomes))
    seconds = time.monotonic() - started
    if bar is not None:
        bar.close()
    return report(args, done, failures, stats, seconds, standin)


def report(
    args: argparse.Namespace,
    done: int,
    failures: list[Any],
    stats: dict[int, dict[str, int]],
    seconds: float,
    standin: Any,
) -> int:
    """Print what happened; 0 when every answer came and nothing was rejected."""
    rejected = sum("RateLimit" in str(f) for f in failures)
    if standin is not None:
        rejected = max(rejected, standin.rejected)
    waited = sum(s["waited"] for s in stats.values())
    print(f"processes:  {len(stats)}")
    print(f"answers:    {done - len(failures)} of {args.items}")
    print(f"rejections: {rejected}")
    print(f"throughput: {done / seconds:.1f} requests/s ({seconds:.1f} s)")
    print(f"waited:     {waited} requests waited for a free slot")
    if standin is not None:
        print(f"server saw at most {standin.max_in_flight_seen} in flight (limit {CAP})")
    for failure in failures[:5]:
        print("  failed:", failure)
    ok = not failures and rejected == 0 and done == args.items
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--items", type=int, default=120, help="prompts in the batch")
    parser.add_argument(
        "--latency", type=float, default=0.1, help="stand-in: seconds per streamed answer"
    )
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        return run(args, stack)


if __name__ == "__main__":
    sys.exit(main())
