"""The Redis side of the shared in-flight limit: Lua scripts, key names, reply parsing (pure).

One account (a hash of API key and base URL) owns these keys, all with one hash tag:

| key | type | holds |
|---|---|---|
| ``{p}:{a}:leases`` | zset | lease id -> expiry (ms, Redis clock): the slots held now |
| ``{p}:{a}:queue`` | zset | ticket id -> arrival number: the FIFO of waiters |
| ``{p}:{a}:due`` | zset | ticket id -> expiry: a waiter that stops polling leaves the queue |
| ``{p}:{a}:seq`` | string | the arrival counter |
| ``{p}:{a}:epoch`` | string | ``"<random>:<born ms>"``, created by the first script that finds none |
| ``{p}:{a}:fence`` | string | until when (ms) no new slot is granted, after a restart |
| ``{p}:{a}:gone`` | zset | released ids -> expiry: a late renewal never brings one back |

Ids are ``"<limit>:<uuid>"``: a waiter carries its own limit, so the grant loop needs no
other record. Every script runs atomically on the Redis clock (``TIME``): expired leases and
dead tickets are purged first, then ``grant()`` hands free slots to the head of the queue and
``PUBLISH``es each granted id on the wake-up channel (``{p}:wake``).

Restarts: a caller passes the epoch it saw last. A Redis that lost its data has none; the
first caller that *knew* one sets the fence for one lease time, so the processes still running
requests re-register their leases (``RENEW`` adds missing ids) before anyone new is admitted.

Every script is idempotent by id, so a command whose reply was lost can be sent again (the
client retries on connection errors): ``ACQUIRE`` of an id that holds a slot or a ticket
keeps it (no second slot, no second ticket), and an id released already (in ``gone``) is
never admitted again, so a late duplicate cannot revive it; ``RELEASE`` removes only the ids
it names; ``RENEW`` upserts (a renewed id leaves the queue; released ids are skipped). Only counters in the replies may differ.
"""

from __future__ import annotations

import urllib.parse

__all__ = [
    "ACQUIRE",
    "DEFAULT_PREFIX",
    "KEY_NAMES",
    "REDIS_SCHEMES",
    "RELEASE",
    "RENEW",
    "account_keys",
    "redact_url",
    "wake_channel",
]

DEFAULT_PREFIX = "modelslab:inflight"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
KEY_NAMES = ("leases", "queue", "due", "seq", "epoch", "fence", "gone")


def account_keys(prefix: str, account: str) -> list[str]:
    """The keys of one account, in the order the scripts read them (``KEYS[1..7]``)."""
    return [f"{prefix}:{{{account}}}:{name}" for name in KEY_NAMES]


def wake_channel(prefix: str) -> str:
    """The channel on which granted ids are published (one per prefix, all accounts)."""
    return f"{prefix}:wake"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for reprs, logs and errors)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


# ARGV common to every script: [1] lease ms, [2] the epoch the caller knows ("" if none),
# [3] wake-up channel, [4] clock override in ms ("" = Redis TIME; tests only), [5] a fresh
# random epoch id (used if the account has none). Script arguments follow from ARGV[6].
_PRELUDE = """
redis.replicate_commands()
local leases, queue, due, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local epoch_key, fence, gone = KEYS[5], KEYS[6], KEYS[7]
local ttl, known, channel = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local keep = ttl * 2 + 60000

local function set_fence(until_ms)
  redis.call('SET', fence, until_ms, 'PX', keep)
end

local epoch = redis.call('GET', epoch_key)
if not epoch then
  epoch = ARGV[5] .. ':' .. now
  redis.call('SET', epoch_key, epoch)
  if known ~= '' then set_fence(now + ttl) end
elseif known ~= '' and known ~= epoch then
  local born = tonumber(string.match(epoch, ':(%d+)$'))
  if born and now < born + ttl and not redis.call('GET', fence) then set_fence(born + ttl) end
end

redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
redis.call('ZREMRANGEBYSCORE', gone, '-inf', now)
local dead = redis.call('ZRANGEBYSCORE', due, '-inf', now)
for _, id in ipairs(dead) do redis.call('ZREM', queue, id) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', due, '-inf', now) end

local function fenced()
  local until_ms = redis.call('GET', fence)
  return until_ms and tonumber(until_ms) > now
end

local function grant()
  if fenced() then return end
  while true do
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if not head then return end
    if redis.call('ZCARD', leases) >= tonumber(string.match(head, '^(%d+):')) then return end
    redis.call('ZREM', queue, head)
    redis.call('ZREM', due, head)
    redis.call('ZADD', leases, now + ttl, head)
    redis.call('PUBLISH', channel, head)
  end
end

local function touch()
  for _, key in ipairs({leases, queue, due, seq, gone}) do redis.call('PEXPIRE', key, keep) end
end
"""

ACQUIRE = (
    _PRELUDE
    + """
-- ARGV[6] id, ARGV[7] limit -> {epoch, 1 granted | 0 queued, ms until worth asking again}
local id, limit = ARGV[6], tonumber(ARGV[7])
if redis.call('ZSCORE', gone, id) then return {epoch, 0, ttl} end  -- a late duplicate
if redis.call('ZSCORE', leases, id) then
  redis.call('ZADD', leases, now + ttl, id)
  touch()
  return {epoch, 1, 0}
end
if not redis.call('ZSCORE', queue, id) then
  if not fenced() and redis.call('ZCARD', queue) == 0 and redis.call('ZCARD', leases) < limit then
    redis.call('ZADD', leases, now + ttl, id)
    touch()
    return {epoch, 1, 0}
  end
  redis.call('ZADD', queue, redis.call('INCR', seq), id)
end
redis.call('ZADD', due, now + ttl, id)
grant()
touch()
if redis.call('ZSCORE', leases, id) then return {epoch, 1, 0} end
local hint = ttl
local until_ms = redis.call('GET', fence)
if until_ms and tonumber(until_ms) > now then
  hint = tonumber(until_ms) - now
else
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if first[2] then hint = math.max(tonumber(first[2]) - now, 1) end
end
return {epoch, 0, hint}
"""
)

RELEASE = (
    _PRELUDE
    + """
-- ARGV[6..] ids (leases or tickets) -> {epoch, how many of them held a slot}
local held = 0
for i = 6, #ARGV do
  held = held + redis.call('ZREM', leases, ARGV[i])
  redis.call('ZREM', queue, ARGV[i])
  redis.call('ZREM', due, ARGV[i])
  redis.call('ZADD', gone, now + ttl, ARGV[i])
end
grant()
touch()
return {epoch, held}
"""
)

RENEW = (
    _PRELUDE
    + """
-- ARGV[6..] ids of running requests -> {epoch, how many were missing and are back}
-- (a running request's id may still have a ticket: queued by an acquire whose reply was lost)
local back = 0
for i = 6, #ARGV do
  if not redis.call('ZSCORE', gone, ARGV[i]) then
    back = back + redis.call('ZADD', leases, now + ttl, ARGV[i])
    redis.call('ZREM', queue, ARGV[i])
    redis.call('ZREM', due, ARGV[i])
  end
end
touch()
return {epoch, back}
"""
)
