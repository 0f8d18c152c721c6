"""The lease logic itself: the Lua scripts on a real Redis against a small reference model.

A hypothesis state machine interleaves acquires, polls, releases, renewals, replays (a command
sent again with the same id, as a client retrying after a lost reply does), crashes (a client
that stops talking), clock jumps past lease and ticket expiry, and Redis restarts (data lost,
clients remember the epoch). Every reply, every published grant and the whole state in Redis
must match the model; invariants: never more live slots than a grant's limit allows, grants
in arrival order, nothing leaked once everyone left and the leases ran out. The scripts take a
clock override (ARGV[4]), so time is the test's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from modelslab_core.limits.redis.scripts import ACQUIRE, RELEASE, RENEW, account_keys, wake_channel
from modelslab_core.testing import RedisServer

TTL = 1000
PREFIX = "prop"
KEYS = account_keys(PREFIX, "acct")
CHANNEL = wake_channel(PREFIX)
CLIENTS = ("a", "b", "c")


@dataclass
class Model:
    """What the scripts should do, in plain Python (one account)."""

    leases: dict[str, int] = field(default_factory=dict)
    queue: list[str] = field(default_factory=list)
    due: dict[str, int] = field(default_factory=dict)
    gone: dict[str, int] = field(default_factory=dict)
    epoch: str | None = None
    fence: int | None = None
    published: list[str] = field(default_factory=list)
    grants: list[tuple[int, int]] = field(default_factory=list)
    """(limit of the grant, slots held right after it), for every slot handed out."""

    def take(self, now: int, lease_id: str) -> None:
        self.leases[lease_id] = now + TTL
        self.grants.append((int(lease_id.split(":")[0]), len(self.leases)))

    def prelude(self, now: int, known: str, fresh: str) -> None:
        if self.epoch is None:
            self.epoch = f"{fresh}:{now}"
            if known:
                self.fence = now + TTL
        elif known and known != self.epoch:
            born = int(self.epoch.rsplit(":", 1)[1])
            if now < born + TTL and self.fence is None:
                self.fence = born + TTL
        self.leases = {k: v for k, v in self.leases.items() if v > now}
        self.gone = {k: v for k, v in self.gone.items() if v > now}
        for dead in [k for k, v in self.due.items() if v <= now]:
            del self.due[dead]
            if dead in self.queue:
                self.queue.remove(dead)

    def fenced(self, now: int) -> bool:
        return self.fence is not None and self.fence > now

    def grant(self, now: int) -> None:
        while not self.fenced(now) and self.queue:
            head = self.queue[0]
            if len(self.leases) >= int(head.split(":")[0]):
                return
            self.queue.pop(0)
            self.due.pop(head, None)
            self.take(now, head)
            self.published.append(head)

    def acquire(self, now: int, lease_id: str, limit: int) -> tuple[int, int]:
        if lease_id in self.gone:  # released already: a late duplicate is never admitted
            return 0, TTL
        if lease_id in self.leases:
            self.leases[lease_id] = now + TTL
            return 1, 0
        if lease_id not in self.queue:
            if not self.fenced(now) and not self.queue and len(self.leases) < limit:
                self.take(now, lease_id)
                return 1, 0
            self.queue.append(lease_id)
        self.due[lease_id] = now + TTL
        self.grant(now)
        if lease_id in self.leases:
            return 1, 0
        if self.fenced(now):
            assert self.fence is not None
            return 0, self.fence - now
        if self.leases:
            return 0, max(min(self.leases.values()) - now, 1)
        return 0, TTL

    def release(self, now: int, ids: list[str]) -> int:
        held = 0
        for lease_id in ids:
            held += int(self.leases.pop(lease_id, None) is not None)
            if lease_id in self.queue:
                self.queue.remove(lease_id)
            self.due.pop(lease_id, None)
            self.gone[lease_id] = now + TTL
        self.grant(now)
        return held

    def renew(self, now: int, ids: list[str]) -> int:
        back = 0
        for lease_id in ids:
            if lease_id not in self.gone:
                back += lease_id not in self.leases
                self.leases[lease_id] = now + TTL
                if lease_id in self.queue:
                    self.queue.remove(lease_id)
                self.due.pop(lease_id, None)
        return back


class LeaseMachine(RuleBasedStateMachine):
    """Clients a, b, c talk to one account through the scripts, on the test's clock."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        self.redis = client
        client.flushdb()
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(CHANNEL)
        self.scripts = {n: client.register_script(s) for n, s in (("acquire", ACQUIRE),)}
        self.scripts["release"] = client.register_script(RELEASE)
        self.scripts["renew"] = client.register_script(RENEW)
        self.model = Model()
        self.now = 1_000_000
        self.known = dict.fromkeys(CLIENTS, "")
        self.alive = set(CLIENTS)
        self.tickets: dict[str, str] = {}  # id -> client, for tickets not released
        self.released: dict[str, list[str]] = {who: [] for who in CLIENTS}
        self.serial = 0

    def teardown(self) -> None:
        self.pubsub.close()

    def next_id(self) -> str:
        self.serial += 1
        return f"{self.serial:06d}"

    def call(self, name: str, who: str, args: list[Any]) -> list[int]:
        fresh = self.next_id()
        argv = [TTL, self.known[who], CHANNEL, self.now, fresh, *args]
        reply = self.scripts[name](keys=KEYS, args=argv)
        self.model.prelude(self.now, self.known[who], fresh)
        self.known[who] = reply[0].decode()
        assert self.known[who] == self.model.epoch
        return [int(x) for x in reply[1:]]

    def check_published(self, before: int) -> None:
        expected = self.model.published[before:]
        seen: list[str] = []
        while len(seen) < len(expected):
            message = self.pubsub.get_message(timeout=2)
            assert message is not None, f"missing wake-ups: {expected[len(seen) :]}"
            seen.append(message["data"].decode())
        assert seen == expected
        assert self.pubsub.get_message(timeout=0.005) is None

    def mine(self, who: str, *, held: bool) -> list[str]:
        return sorted(
            t for t, c in self.tickets.items() if c == who and (t in self.model.leases) == held
        )

    @rule(who=st.sampled_from(CLIENTS), limit=st.integers(1, 3))
    def acquire_new(self, who: str, limit: int) -> None:
        if who not in self.alive:
            return
        lease_id = f"{limit}:{self.next_id()}"
        before = len(self.model.published)
        got = self.call("acquire", who, [lease_id, limit])
        expected = self.model.acquire(self.now, lease_id, limit)
        assert tuple(got) == expected
        self.check_published(before)
        self.tickets[lease_id] = who

    @rule(who=st.sampled_from(CLIENTS))
    def acquire_one_at_a_time(self, who: str) -> None:
        """A limit-1 ticket: queues form often, so grant order matters."""
        self.acquire_new(who, 1)

    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        waiting = sorted(t for t, c in self.tickets.items() if c in self.alive)
        if not waiting:
            return
        lease_id = data.draw(st.sampled_from(waiting))
        before = len(self.model.published)
        got = self.call("acquire", self.tickets[lease_id], [lease_id, int(lease_id[0])])
        assert tuple(got) == self.model.acquire(self.now, lease_id, int(lease_id[0]))
        self.check_published(before)

    @rule(data=st.data(), many=st.booleans())
    def release(self, data: st.DataObject, many: bool) -> None:
        """One id, or all of one client's at once."""
        mine = sorted(t for t, c in self.tickets.items() if c in self.alive)
        if not mine:
            return
        picked = data.draw(st.sampled_from(mine))
        who = self.tickets[picked]
        ids = [t for t in mine if self.tickets[t] == who] if many else [picked]
        before = len(self.model.published)
        got = self.call("release", who, ids)
        assert got == [self.model.release(self.now, ids)]
        self.check_published(before)
        for lease_id in ids:
            del self.tickets[lease_id]
        self.released[who] += ids

    @rule(data=st.data(), script=st.sampled_from(["acquire", "release", "renew"]))
    def replay(self, data: st.DataObject, script: str) -> None:
        """A command sent twice with the same id (live or released): the second changes nothing
        the model does not (no second slot or ticket, no other id released, none revived)."""
        known = sorted(self.tickets) + [i for who in CLIENTS for i in self.released[who]]
        if not known:
            return
        lease_id = data.draw(st.sampled_from(known))
        who = self.tickets.get(lease_id) or next(w for w in CLIENTS if lease_id in self.released[w])
        if who not in self.alive:
            return
        args = [lease_id, int(lease_id[0])] if script == "acquire" else [lease_id]
        before = len(self.model.published)
        slots, queued = len(self.model.leases), len(self.model.queue)
        for _ in range(2):
            got = self.call(script, who, args)
            if script == "acquire":
                assert tuple(got) == self.model.acquire(self.now, lease_id, int(lease_id[0]))
            elif script == "release":
                assert got == [self.model.release(self.now, [lease_id])]
            else:
                assert got == [self.model.renew(self.now, [lease_id])]
        self.check_published(before)
        if script == "release" and lease_id in self.tickets:
            del self.tickets[lease_id]
            self.released[who].append(lease_id)
        if script != "release" and lease_id in self.model.gone:
            assert len(self.model.leases) <= slots and len(self.model.queue) <= queued

    @rule(who=st.sampled_from(CLIENTS))
    def renew_from_a_stale_snapshot(self, who: str) -> None:
        """A renewal that raced releases: it names ids given back meanwhile, never revived."""
        ids = self.mine(who, held=True) + self.released[who][-3:] if who in self.alive else []
        if ids:
            assert self.call("renew", who, ids) == [self.model.renew(self.now, ids)]

    @rule(who=st.sampled_from(CLIENTS))
    def renew(self, who: str) -> None:
        ids = self.mine(who, held=True) if who in self.alive else []
        if not ids:
            return
        assert self.call("renew", who, ids) == [self.model.renew(self.now, ids)]

    @precondition(lambda self: len(self.alive) == len(CLIENTS))
    @rule(who=st.sampled_from(CLIENTS))
    def crash(self, who: str) -> None:
        """The client dies: it never renews, polls or releases again."""
        self.alive.discard(who)

    @rule(ms=st.sampled_from([1, 1, 50, 50, 400, 999, 1000, 1001, 2500]))
    def advance(self, ms: int) -> None:
        self.now += ms

    @precondition(lambda self: self.model.epoch is not None)
    @rule()
    def restart(self) -> None:
        """Redis restarts empty; clients remember the epoch they saw."""
        self.redis.flushdb()
        self.model = Model(published=self.model.published, grants=self.model.grants)

    @invariant()
    def redis_holds_what_the_model_holds(self) -> None:
        leases = {k.decode(): int(v) for k, v in self.redis.zrange(KEYS[0], 0, -1, withscores=True)}
        queue = [k.decode() for k in self.redis.zrange(KEYS[1], 0, -1)]
        live = {k: v for k, v in self.model.leases.items() if v > self.now}
        assert {k: v for k, v in leases.items() if v > self.now} == live
        assert [q for q in queue if self.model.due.get(q, 0) > self.now] == [
            q for q in self.model.queue if self.model.due.get(q, 0) > self.now
        ]

    @invariant()
    def grants_respect_their_limit(self) -> None:
        assert all(after <= limit for limit, after in self.model.grants)

    @invariant()
    def a_ticket_waits_or_holds_never_both(self) -> None:
        queue = self.model.queue
        assert not set(queue) & set(self.model.leases)
        assert len(queue) == len(set(queue))


def test_nothing_is_leaked_once_everyone_left(redis_server: RedisServer) -> None:
    """Crash holders and waiters, let the leases run out: the next caller gets a slot at once."""
    client = redis.Redis.from_url(redis_server.url)
    machine = LeaseMachine(client)
    try:
        for who in CLIENTS[:2]:
            for _ in range(3):
                machine.acquire_new(who, 2)
        machine.crash("a")
        machine.crash("b")
        assert machine.model.leases and machine.model.queue
        machine.advance(1001)
        machine.acquire_new("c", 2)
        (latest,) = [t for t, who in machine.tickets.items() if who == "c"]
        assert list(machine.model.leases) == [latest]  # granted at once, alone
        assert machine.model.queue == []
    finally:
        machine.teardown()
        client.close()


@pytest.fixture
def prop_redis() -> Iterator[redis.Redis]:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        yield client
        client.close()


def test_lease_scripts_match_the_model(prop_redis: redis.Redis) -> None:
    run_state_machine_as_test(
        lambda: LeaseMachine(prop_redis),
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


class Replays:
    """The scripts called by hand on one account (the clock is Redis'), to replay commands."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis, self.keys = client, account_keys(prefix, "acct")
        self.scripts = {
            name: client.register_script(src)
            for name, src in (("acquire", ACQUIRE), ("release", RELEASE), ("renew", RENEW))
        }

    def __call__(self, script: str, *args: Any) -> list[int]:
        reply = self.scripts[script](keys=self.keys, args=[TTL * 30, "", CHANNEL, "", "e", *args])
        return [int(x) for x in reply[1:]]

    def leases(self) -> list[str]:
        return sorted(x.decode() for x in self.redis.zrange(self.keys[0], 0, -1))

    def queue(self) -> list[str]:
        return [x.decode() for x in self.redis.zrange(self.keys[1], 0, -1)]


@pytest.fixture
def replays(redis_server: RedisServer, account: str) -> Iterator[Replays]:
    client = redis.Redis.from_url(redis_server.url)
    yield Replays(client, account)
    client.close()


def test_an_acquire_sent_twice_takes_one_slot(replays: Replays) -> None:
    assert replays("acquire", "2:a", 2) == [1, 0]
    assert replays("acquire", "2:a", 2) == [1, 0]  # its reply was lost: the same slot again
    assert replays.leases() == ["2:a"]
    assert replays("acquire", "2:b", 2) == [1, 0]  # the second slot is still free
    assert replays("acquire", "2:c", 2)[0] == 0


def test_a_queued_acquire_sent_twice_keeps_one_ticket(replays: Replays) -> None:
    assert replays("acquire", "1:a", 1) == [1, 0]
    seq = replays.keys[3]
    for _ in range(2):
        assert replays("acquire", "1:b", 1)[0] == 0
    assert replays.queue() == ["1:b"] and replays.redis.get(seq) == b"1"  # one ticket, one number
    assert replays("acquire", "1:c", 1)[0] == 0
    assert replays.queue() == ["1:b", "1:c"]  # b keeps its place


def test_a_release_sent_twice_frees_only_its_own_slot(replays: Replays) -> None:
    assert replays("acquire", "1:a", 1) == [1, 0]
    assert replays("release", "1:a") == [1]
    assert replays("acquire", "1:b", 1) == [1, 0]
    assert replays("release", "1:a") == [0]  # the replay: b's slot stays taken
    assert replays.leases() == ["1:b"]
    assert replays("acquire", "1:c", 1)[0] == 0


def test_an_acquire_replayed_after_its_release_is_not_admitted(replays: Replays) -> None:
    """A duplicate that reaches Redis late (after the caller gave the slot back) takes nothing."""
    for lease_id in ("1:a", "1:q"):
        replays("acquire", lease_id, 1)
        replays("release", lease_id)
    assert replays("acquire", "1:a", 1)[0] == 0
    assert replays("acquire", "1:q", 1)[0] == 0
    assert replays.leases() == [] and replays.queue() == []
    assert replays("acquire", "1:b", 1) == [1, 0]


def test_a_renewal_sent_twice_is_one_renewal(replays: Replays) -> None:
    replays("acquire", "2:a", 2)
    assert replays("renew", "2:a", "2:lost") == [1]  # 2:lost was missing: registered again
    assert replays("renew", "2:a", "2:lost") == [0]
    assert replays.leases() == ["2:a", "2:lost"]
    replays("release", "2:a")
    assert replays("renew", "2:a") == [0] and replays.leases() == ["2:lost"]
