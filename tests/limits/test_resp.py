"""The async hot path of the Redis limiter (`modelslab_core.limits.redis.resp`), on a real Redis.

What it must keep from redis-py's client: scripts reloaded when Redis forgot them, the
database of the URL, one reconnect after a restart, redis-py's exception types, and a
connection that stays in step when a task is cancelled while its reply is on the way.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
import redis
import redis.exceptions

from modelslab_core.limits.redis.resp import RespConnection, resp_connection_for
from modelslab_core.testing import RedisServer

SCRIPT = "redis.call('INCR', KEYS[1]); return {tonumber(ARGV[1]), redis.call('GET', KEYS[1])}"


def _conn(url: str, timeout: float = 2.0) -> RespConnection:
    conn = resp_connection_for(url, timeout)
    assert conn is not None
    return conn


async def test_scripts_load_once_forgotten_and_keys_land_in_the_urls_database(
    redis_server: RedisServer,
) -> None:
    url = redis_server.url.rsplit("/", 1)[0] + "/3"
    conn = _conn(url)
    assert await conn.evalsha(SCRIPT, ["resp-db"], [7]) == [7, b"1"]
    redis.Redis.from_url(url).script_flush()
    assert await conn.evalsha(SCRIPT, ["resp-db"], [8]) == [8, b"2"]
    assert redis.Redis.from_url(url).get("resp-db") == b"2"
    assert redis.Redis.from_url(redis_server.url).get("resp-db") is None  # not in db 0
    conn.close()


async def test_a_restart_costs_one_reconnect_and_errors_are_redis_pys(
    own_redis: RedisServer,
) -> None:
    conn = _conn(own_redis.url)
    assert await conn.evalsha(SCRIPT, ["resp-restart"], [1]) == [1, b"1"]
    own_redis.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        await conn.evalsha(SCRIPT, ["resp-restart"], [2])
    own_redis.start()
    assert await conn.evalsha(SCRIPT, ["resp-restart"], [3]) == [
        3,
        b"1",
    ]  # data gone, as after a restart
    with pytest.raises(redis.exceptions.ResponseError, match="ERR"):
        await conn.evalsha("return redis.call('NOSUCHCOMMAND')", [], [])
    assert await conn.evalsha(SCRIPT, ["resp-restart"], [4]) == [4, b"2"]
    conn.close()


async def test_a_mute_redis_is_a_timeout_not_a_hang(own_redis: RedisServer) -> None:
    conn = _conn(own_redis.url, timeout=0.3)
    assert await conn.evalsha(SCRIPT, ["resp-mute"], [1]) == [1, b"1"]
    assert own_redis._proc is not None
    os.kill(own_redis._proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            await asyncio.wait_for(conn.evalsha(SCRIPT, ["resp-mute"], [2]), 5)
    finally:
        os.kill(own_redis._proc.pid, signal.SIGCONT)
    assert (await conn.evalsha(SCRIPT, ["resp-mute"], [3]))[0] == 3
    conn.close()


async def test_a_cancelled_call_finishes_its_round_trip(redis_server: RedisServer) -> None:
    """The command was sent: its reply is read (the script ran), so the next call gets its own
    reply, not the cancelled one's; the task still ends cancelled."""
    conn = _conn(redis_server.url)
    slow = "redis.call('INCR', KEYS[1]); local t = redis.call('TIME'); while true do local n = redis.call('TIME'); if (n[1] - t[1]) * 1000000 + n[2] - t[2] > 50000 then break end end; return 'slow'"
    task = asyncio.ensure_future(conn.evalsha(slow, ["resp-cancel"], []))
    await asyncio.sleep(0.01)
    task.cancel()
    assert await task == b"slow"  # the reply arrived; the caller (Eval.arun) raises
    assert not hasattr(task, "cancelling") or task.cancelling() == 1
    assert redis.Redis.from_url(redis_server.url).get("resp-cancel") == b"1"
    assert await conn.evalsha(SCRIPT, ["resp-cancel"], [9]) == [9, b"2"]
    conn.close()


def test_what_the_fast_path_does_not_serve_goes_to_redis_py() -> None:
    assert resp_connection_for("unix:///tmp/redis.sock", 1.0) is None
    assert resp_connection_for("redis://127.0.0.1:6379/0?ssl_cert_reqs=none", 1.0) is None
    assert resp_connection_for("redis://:pw@127.0.0.1:6379/2", 1.0) is not None
