# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Many processes, one account limit
#
# ModelsLab admits 5 (10, 15, by plan) requests in flight per account and answers 429 past
# that. Every client caps itself (`max_in_flight=5`), and the clients of one process share
# that cap; but a pool of 4 worker processes would send up to 20. Pointing every process at
# one Redis makes the cap the account's: set `MODELSLAB_IN_FLIGHT_URL` and nothing else
# changes in the code. This notebook runs a batch over a small dataset on a process pool and
# shows that nothing is rejected.
#
# ## Setup
#
# ```bash
# pip install -U "modelslab-integrations[langchain,redis]" tqdm
# export MODELSLAB_IN_FLIGHT_URL=redis://localhost:6379/0
# ```
#
# Without `MODELSLAB_IN_FLIGHT_URL` this notebook starts a throwaway `redis-server`
# (`modelslab_core.testing.RedisServer`). Without `MODELSLAB_API_KEY` the requests go to the
# offline stand-in (`modelslab_core.testing.StandIn`), started here with ModelsLab's queue
# limit of 5: it answers 429 past it, as ModelsLab does.

# %%
import os

from modelslab_core.testing import RedisServer, StandIn

CAP = 5  # the account's limit: requests in flight at once

standin = redis_server = None
if not os.environ.get("MODELSLAB_API_KEY"):
    standin = StandIn(api_key="example-key", max_in_flight=CAP, chunk_delay=0.004).start()
    os.environ.update(MODELSLAB_API_KEY=standin.api_key, MODELSLAB_BASE_URL=standin.base_url)
if not os.environ.get("MODELSLAB_IN_FLIGHT_URL"):
    redis_server = RedisServer().start()
    os.environ["MODELSLAB_IN_FLIGHT_URL"] = redis_server.url
target = "the stand-in (queue limit 5)" if standin else os.environ["MODELSLAB_BASE_URL"]
print(f"requests to {target}; in-flight limit shared through Redis")

# %% [markdown]
# ## The dataset
#
# 80 prompts made from the paragraphs of the visitor guide in `data/*.md`.

# %%
from pathlib import Path

ITEMS = 80
paragraphs = [
    " ".join(block.split())
    for page in sorted(Path("data").glob("*.md"))
    for block in page.read_text(encoding="utf-8").split("\n\n")
    if len(block.split()) > 8
]
prompts = [f"In five words, what is this about? {paragraphs[i % len(paragraphs)]}" for i in range(ITEMS)]
batches = [prompts[start : start + 10] for start in range(0, ITEMS, 10)]
print(f"{len(prompts)} prompts in {len(batches)} batches of 10; the first: {prompts[0][:70]}...")

# %% [markdown]
# ## The worker
#
# Each worker process answers a batch of prompts concurrently with `ChatModelsLab.batch` and
# reports its limiter's counts. Retries are off (`max_retries=0`), so every rejection would
# show. `max_in_flight=CAP` is counted in Redis because `MODELSLAB_IN_FLIGHT_URL` is set: no
# other setting.

# %%
from langchain_modelslab import ChatModelsLab
from modelslab_core import ClientConfig, limiter_for


def summarise(batch):
    """In a worker: answer ``batch``; (pid, [(answer, error)], this process's limiter counts)."""
    llm = ChatModelsLab(
        model=os.environ.get("MODELSLAB_MODEL", "meta-llama-llama-3.2-3b-instruct"),
        max_tokens=24,
        streaming=True,
        max_retries=0,  # show rejections instead of retrying them
        max_in_flight=CAP,  # shared through MODELSLAB_IN_FLIGHT_URL
    )
    outcomes = []
    for answer in llm.batch(batch, return_exceptions=True):
        if isinstance(answer, Exception):
            outcomes.append(("", f"{type(answer).__name__}: {answer}"))
        else:
            outcomes.append((answer.content, None))
    stats = limiter_for(ClientConfig()).stats()  # this process's shared limiter
    return os.getpid(), outcomes, {"acquired": stats.acquired, "waited": stats.waited}


# %% [markdown]
# ## The batch
#
# Four worker processes. A function defined in a notebook lives in `__main__`, which a pool
# started by `fork` (Linux) hands to its workers as it is; with `spawn` or `forkserver`
# (Windows, macOS, Python 3.14's default) put the worker function in a module and import it.

# %%
import multiprocessing
import time

from tqdm import tqdm

WORKERS = 4
answers, failures, stats = 0, [], {}
with multiprocessing.get_context("fork").Pool(WORKERS) as pool:
    started = time.monotonic()
    with tqdm(total=ITEMS, unit="req", desc="batch", mininterval=0.2) as bar:
        for pid, outcomes, worker_stats in pool.imap_unordered(summarise, batches):
            stats[pid] = worker_stats  # cumulative per process: keep the latest
            failures += [error or "empty answer" for answer, error in outcomes if error or not answer]
            answers += sum(1 for answer, error in outcomes if answer and not error)
            bar.update(len(outcomes))
    seconds = time.monotonic() - started

# %% [markdown]
# ## What happened

# %%
rejected = sum("RateLimit" in failure for failure in failures)
if standin is not None:
    rejected = max(rejected, standin.rejected)  # what the server turned away
waited = sum(s["waited"] for s in stats.values())
print(f"processes:  {len(stats)}")
print(f"answers:    {answers} of {ITEMS}")
print(f"rejections: {rejected}")
print(f"throughput: {ITEMS / seconds:.1f} requests/s ({seconds:.1f} s)")
print(f"waited:     {waited} requests waited for a free slot")
if standin is not None:
    print(f"server saw at most {standin.max_in_flight_seen} in flight (limit {CAP})")
for failure in failures[:5]:
    print("  failed:", failure)

# %% [markdown]
# ## Clean up
#
# Stop what this notebook started.

# %%
if redis_server is not None:
    redis_server.close()
if standin is not None:
    standin.stop()
