"""One budget shared by processes through a real redis-server: billed <= budget across four
processes, a killed process's reservations become spend after their lease, exact money in
Lua, and an unreachable Redis refuses the request unsent (issue 20)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from _support.budget import billed_cost, worst_case
from _support.budget_worker import MODEL, TEXTS, BudgetJob, run

from modelslab_core import (
    BudgetExceededError,
    BudgetUnavailableError,
    ChatRequest,
    Message,
    ModelsLabClient,
    RedisBudgetBackend,
    SpendLedger,
    track_spend,
)
from modelslab_core.cost.pricing import Cost
from modelslab_core.testing import RedisServer, StandIn
from modelslab_core.types import Usage

WORKER = Path(__file__).resolve().parents[1] / "_support" / "budget_worker.py"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def name() -> str:
    return f"budget-{uuid.uuid4().hex[:12]}"


def request(text: str = TEXTS[5]) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[Message.text("user", text)], max_tokens=64)


def test_four_processes_share_one_budget(
    standin: StandIn, redis_server: RedisServer, name: str
) -> None:
    worst = worst_case(request(TEXTS[-1]), stream=True)
    budget = worst * 6
    kinds = ["langchain-batch", "langchain-astream", "llama-index-achat", "core-first-chunk"]
    jobs = [
        BudgetJob(kind, standin.base_url, standin.api_key, redis_server.url, name, str(budget))
        for kind in kinds
    ]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        outcomes = pool.map(run, jobs)
    assert all(o["failed"] == 0 for o in outcomes), outcomes
    sent = sum(o["sent"] for o in outcomes)
    assert sum(o["refused"] for o in outcomes) > 0 and sent >= 6
    assert len(standin.billed) == sent
    billed = billed_cost(standin)
    assert billed <= budget, f"billed {billed} > budget {budget}"
    totals = SpendLedger(shared=name, budget_backend=redis_server.url).totals()  # any process
    assert totals.reserved == 0 and totals.open == 0
    assert totals.spent >= billed
    spend = totals.by_model[MODEL]
    assert spend.forfeited >= 1  # the first-chunk worker's streams
    assert spend.cost.total == totals.spent


def test_a_killed_process_leaves_its_reservations_as_spend(
    standin: StandIn, redis_server: RedisServer, name: str
) -> None:
    args = {
        "base_url": standin.base_url,
        "api_key": standin.api_key,
        "redis_url": redis_server.url,
        "name": name,
        "budget": "1",
        "lease": 1.5,
        "n": 3,
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        ledger = SpendLedger(shared=name, budget_backend=redis_server.url)
        worst = worst_case(request(), stream=True)
        assert (ledger.reserved, ledger.spent, ledger.totals().open) == (3 * worst, 0, 3)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert ledger.reserved == 3 * worst  # the lease has not run out yet
        time.sleep(1.7)
        totals = ledger.totals()
        assert (totals.reserved, totals.spent, totals.open) == (0, 3 * worst, 0)
        assert totals.by_model[MODEL].forfeited == 3
        assert len(standin.billed) == 3 and totals.spent >= billed_cost(standin)
    finally:
        child.kill()
        child.wait(10)


def test_money_in_redis_is_exact_and_a_late_answer_corrects_a_lapsed_lease(
    redis_server: RedisServer, name: str
) -> None:
    store = RedisBudgetBackend(redis_server.url, lease=0.2).store(name)
    tiny = Decimal("0.000000000000000001")
    big = Cost(input=Decimal("12345678901.123456789"), output=tiny, total=Decimal(0))
    big = big.model_copy(update={"total": big.input + big.output})
    assert store.reserve("a", "m", big, None).admitted
    assert store.reserve("b", "m", big, big.total * 2 - tiny).admitted is False
    assert store.totals().reserved == big.total
    time.sleep(0.3)  # the lease runs out: the worst case becomes spend
    assert (store.totals().spent, store.totals().reserved) == (big.total, 0)
    exact = Cost(input=Decimal("0.000000204"), output=Decimal("0.00000102"), total=Decimal(0))
    exact = exact.model_copy(update={"total": exact.input + exact.output})
    store.settle("a", "m", Usage(input_tokens=4, output_tokens=3), exact)  # the answer came
    totals = store.totals()
    assert totals.spent == Decimal("0.000001224") and totals.by_model["m"].cost == exact
    assert totals.by_model["m"].forfeited == 0 and totals.by_model["m"].input_tokens == 4


def test_an_unreachable_redis_refuses_the_request_unsent(standin: StandIn, name: str) -> None:
    down = "redis://127.0.0.1:1/0"
    with (
        ModelsLabClient(api_key=standin.api_key, base_url=standin.base_url) as client,
        track_spend(budget=1, shared=name, budget_backend=down),
    ):
        with pytest.raises(BudgetUnavailableError, match="not sent"):
            client.chat(request())
        with pytest.raises(BudgetUnavailableError):
            list(client.stream(request()))
    assert standin.requests == []


def test_the_langchain_twin_of_an_unreachable_budget(standin: StandIn, name: str) -> None:
    from langchain_core.exceptions import ModelConnectionError

    from langchain_modelslab import ChatModelsLab, get_modelslab_callback

    model = ChatModelsLab(
        model=MODEL, api_key=standin.api_key, base_url=standin.base_url, max_tokens=8
    )
    down = "redis://127.0.0.1:1/0"
    with (
        get_modelslab_callback(budget=1, shared=name, budget_backend=down),
        pytest.raises(BudgetUnavailableError) as caught,
    ):
        model.invoke("hi")
    assert isinstance(caught.value, ModelConnectionError)
    assert standin.requests == []


def test_a_shared_budget_needs_a_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSLAB_IN_FLIGHT_URL", raising=False)
    with pytest.raises(ValueError, match="MODELSLAB_IN_FLIGHT_URL"):
        SpendLedger(1, shared="x")
    with pytest.raises(ValueError, match="shared="):
        SpendLedger(1, budget_backend="redis://127.0.0.1:1/0")


def test_two_ledgers_of_one_name_refuse_together(
    standin: StandIn, redis_server: RedisServer, name: str
) -> None:
    worst = worst_case(request())
    with ModelsLabClient(api_key=standin.api_key, base_url=standin.base_url) as client:
        with track_spend(budget=worst, shared=name, budget_backend=redis_server.url) as one:
            client.chat(request())
        with (
            track_spend(budget=worst, shared=name, budget_backend=redis_server.url) as two,
            pytest.raises(BudgetExceededError) as caught,
        ):
            client.chat(request())  # the first block's spend counts here too
    assert caught.value.spent == one.spent == two.spent == billed_cost(standin) > 0
