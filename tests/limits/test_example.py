"""The worked example ``notebooks/shared_limit_batch.ipynb`` runs as a reader with nothing
configured runs it: it starts a throwaway redis-server and the stand-in (ModelsLab's queue
limit on) itself, and a fork-based process pool of 4 workers (functions defined in the
notebook, in ``__main__``) shares the one account limit through Redis."""

from __future__ import annotations

import os
import re

import httpx
import pytest
from _support.notebook_run import notebook


def test_the_shared_limit_batch_notebook() -> None:
    unset = {
        k: None for k in os.environ if k.startswith("MODELSLAB_") and k != "MODELSLAB_REDIS_SERVER"
    }
    with notebook("shared_limit_batch", unset) as nb:
        nb.run_through("What happened")
        assert nb.value("len(stats)") == 4, "every worker process took a batch"
        assert nb.value("answers") == 80 and nb.value("failures") == []
        assert nb.value("rejected") == 0 and nb.value("standin.rejected") == 0
        assert nb.value("standin.max_in_flight_seen") == 5  # the limit was reached, never passed
        assert nb.value("waited") > 0  # the limit was actually hit: requests waited for a slot
        assert nb.value("len(standin.requests)") == 80
        printed = nb.output("What happened")
        assert "processes:  4\n" in printed and "answers:    80 of 80\n" in printed
        assert "rejections: 0\n" in printed and "server saw at most 5 in flight" in printed
        assert re.search(r"throughput: [\d.]+ requests/s", printed)
        assert nb.value("os.environ['MODELSLAB_IN_FLIGHT_URL']") == nb.value("redis_server.url")

        base_url = nb.value("standin.base_url")
        nb.run_through(None)
        assert nb.value("redis_server.running") is False
        with pytest.raises(httpx.ConnectError):  # the clean-up cell stopped the stand-in
            httpx.get(base_url + "/v1/models", timeout=5)
        assert nb.errors() == []
