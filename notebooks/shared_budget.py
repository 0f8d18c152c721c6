# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One budget for a process pool
#
# A budget is a hard limit: before each request is sent it reserves its worst case (its input
# bounded by its bytes, plus `max_tokens` of output at the model's price), and it is refused
# unsent when spend + open reservations + it would exceed the budget. With `shared="name"`
# the spend and reservations live in Redis, so every process that opens the same name counts
# against **one** total: what ModelsLab bills for the whole pool never exceeds the budget.
#
# Configuration (environment): `MODELSLAB_API_KEY` (and `MODELSLAB_BASE_URL`) for ModelsLab,
# `MODELSLAB_IN_FLIGHT_URL` for Redis, `MODELSLAB_SHARED_BUDGET` (US dollars). When nothing is
# set, the notebook starts a throwaway `redis-server` and the offline stand-in.

# %%
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from decimal import Decimal

from langchain_modelslab import BudgetExceededError, ChatModelsLab, get_modelslab_callback
from modelslab_core import SpendLedger, resolve_model
from modelslab_core.testing import RedisServer, StandIn

MODEL = os.environ.get("MODELSLAB_MODEL") or "meta-llama-llama-3.2-3b-instruct"
stack = ExitStack()
standin = None
if os.environ.get("MODELSLAB_API_KEY"):
    API_KEY = os.environ["MODELSLAB_API_KEY"]
    BASE_URL = os.environ.get("MODELSLAB_BASE_URL") or "https://modelslab.com/api/v7/llm"
else:
    standin = stack.enter_context(StandIn(api_key="demo-key"))
    API_KEY, BASE_URL = standin.api_key, standin.base_url
REDIS_URL = os.environ.get("MODELSLAB_IN_FLIGHT_URL") or stack.enter_context(RedisServer()).url
NAME = f"pool-demo-{uuid.uuid4().hex[:8]}"  # the shared budget every worker opens
print("Redis:", REDIS_URL.split("@")[-1], "| shared budget:", NAME)

# %% [markdown]
# What does one request reserve? A `$0` budget refuses it unsent and says what it needed.

# %%
PROMPTS = [f"Say: {' '.join(['ferry'] * (5 + i % 40))}" for i in range(40)]


def new_model() -> ChatModelsLab:
    return ChatModelsLab(model=MODEL, api_key=API_KEY, base_url=BASE_URL, max_tokens=64)


with get_modelslab_callback(budget=0):
    try:
        new_model().invoke(PROMPTS[-1])
    except BudgetExceededError as refused:
        worst = refused.needed
print(f"One request may cost up to ${worst}")
BUDGET = Decimal(os.environ.get("MODELSLAB_SHARED_BUDGET") or worst * 5)
print(f"Budget for the whole pool: ${BUDGET}")


# %% [markdown]
# Four worker processes, ten prompts each, all at once. Each opens the same shared budget.
# (The pool forks, so the workers see this notebook's functions; with the `spawn` start
# method, put `work` in a module.)


# %%
def work(prompts: list[str]) -> dict[str, int]:
    model = new_model()
    with get_modelslab_callback(budget=BUDGET, shared=NAME, budget_backend=REDIS_URL):
        results = model.batch(prompts, {"max_concurrency": 10}, return_exceptions=True)
    refused = sum(isinstance(r, BudgetExceededError) for r in results)
    return {"answered": len(results) - refused, "refused": refused}


with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
    per_worker = list(pool.map(work, [PROMPTS[i::4] for i in range(4)]))
for i, outcome in enumerate(per_worker):
    print(f"worker {i}: {outcome}")

# %% [markdown]
# The totals live in Redis: any process can read them.

# %%
totals = SpendLedger(shared=NAME, budget_backend=REDIS_URL).totals()
answered = sum(o["answered"] for o in per_worker)
print(f"Spent ${totals.spent} of ${BUDGET}; reserved now ${totals.reserved}")
print(f"{answered} answers, {sum(o['refused'] for o in per_worker)} refused before sending")
if standin is not None:  # the stand-in records what ModelsLab would bill, answer by answer
    price = resolve_model(MODEL).pricing
    billed = sum(
        b.input_tokens * price.input_per_token + b.output_tokens * price.output_per_token
        for b in standin.billed
    )
    print(f"The stand-in would bill ${billed} for {len(standin.billed)} answers")

# %% [markdown]
# Stop the throwaway servers this notebook started.

# %%
stack.close()
