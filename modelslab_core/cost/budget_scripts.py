"""The Redis side of a shared budget: Lua scripts, key names, money as integers (pure).

One shared budget (a name) owns these keys, all with one hash tag:

| key | type | holds |
|---|---|---|
| ``{p}:{n}:totals`` | hash | ``spent``, ``reserved`` (attodollars), ``open`` (reservations) |
| ``{p}:{n}:leases`` | zset | reservation id -> lease expiry (ms, Redis clock) |
| ``{p}:{n}:holds`` | hash | reservation id -> ``model\\tinput\\toutput`` (attodollars) |
| ``{p}:{n}:models`` | hash | ``model\\tfield`` -> count or attodollars (per-model totals) |
| ``{p}:{n}:forfeits`` | hash | id -> hold, of reservations that became spend (for a late answer) |
| ``{p}:{n}:forfeited_at`` | zset | id -> when (forfeits are forgotten after a day) |

Money is exact: an amount is a count of attodollars (1e-18 USD) written as a decimal string,
added and compared digit-exactly in Lua (`_BIGNUM`; Lua's numbers are doubles). A cost finer
than an attodollar is rounded up, a budget down, so rounding never lets more through.

Every script first turns the reservations whose lease ran out into spend (`expire`): their
process died or stalled, and the request may have been billed. A late answer of one that did
finish (a stream that outlived the lease) replaces that worst case by its exact cost.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from .pricing import EXACT

__all__ = [
    "DEFAULT_PREFIX",
    "FORFEIT",
    "KEY_NAMES",
    "MODEL_FIELDS",
    "RELEASE",
    "RESERVE",
    "SETTLE",
    "TOTALS",
    "budget_keys",
    "from_atto",
    "to_atto",
]

DEFAULT_PREFIX = "modelslab:budget"
KEY_NAMES = ("totals", "leases", "holds", "models", "forfeits", "forfeited_at")
MODEL_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cost_in",
    "cost_out",
    "unpriced",
    "unmetered",
    "forfeited",
)
_ATTO = 18


def budget_keys(prefix: str, name: str) -> list[str]:
    """The keys of shared budget ``name``, in the order the scripts read them."""
    return [f"{prefix}:{{{name}}}:{key}" for key in KEY_NAMES]


def to_atto(amount: Decimal, *, up: bool = True) -> str:
    """``amount`` in attodollars, rounded up (costs) or down (``up=False``: budgets)."""
    scaled = amount.scaleb(_ATTO).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return str(max(int(scaled), 0))


def from_atto(value: bytes | str | None) -> Decimal:
    """Dollars from an attodollar string (None: zero)."""
    if value is None:
        return Decimal(0)
    text = value.decode() if isinstance(value, bytes) else value
    return Decimal(int(text)).scaleb(-_ATTO).normalize(EXACT)


_BIGNUM = """
local BASE = 10000000
local function limbs(s)
  local t, i = {}, #s
  while i > 0 do
    local j = math.max(1, i - 6)
    t[#t + 1] = tonumber(string.sub(s, j, i))
    i = j - 1
  end
  return t
end
local function unlimb(t)
  local n = #t
  while n > 1 and t[n] == 0 do t[n] = nil; n = n - 1 end
  if n == 0 then return '0' end
  local out = {string.format('%d', t[n])}
  for i = n - 1, 1, -1 do out[#out + 1] = string.format('%07d', t[i]) end
  return table.concat(out)
end
local function add(a, b)
  local x, y, r, carry = limbs(a or '0'), limbs(b or '0'), {}, 0
  for i = 1, math.max(#x, #y) do
    local s = (x[i] or 0) + (y[i] or 0) + carry
    r[i] = s % BASE
    carry = math.floor(s / BASE)
  end
  if carry > 0 then r[#r + 1] = carry end
  return unlimb(r)
end
local function cmp(a, b)
  a = string.gsub(a, '^0+', ''); b = string.gsub(b, '^0+', '')
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function sub(a, b)  -- max(a - b, 0)
  a, b = a or '0', b or '0'
  if cmp(a, b) <= 0 then return '0' end
  local x, y, r, borrow = limbs(a), limbs(b), {}, 0
  for i = 1, #x do
    local d = x[i] - (y[i] or 0) - borrow
    if d < 0 then d = d + BASE; borrow = 1 else borrow = 0 end
    r[i] = d
  end
  return unlimb(r)
end
"""

# ARGV[1]: clock override in ms ("" = Redis TIME; tests only); script arguments from ARGV[2].
_PRELUDE = (
    """
redis.replicate_commands()
local totals, leases, holds, models = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local forfeits, forfeited_at = KEYS[5], KEYS[6]
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
    + _BIGNUM
    + """
local function get(field) return redis.call('HGET', totals, field) or '0' end
local function madd(model, field, amount)
  local key = model .. '\\t' .. field
  redis.call('HSET', models, key, add(redis.call('HGET', models, key), amount))
end
local function mcount(model, field, n) redis.call('HINCRBY', models, model .. '\\t' .. field, n) end
local function hold_of(id)
  local h = redis.call('HGET', holds, id)
  if not h then return nil end
  local model, a_in, a_out = string.match(h, '^(.*)\\t(%d+)\\t(%d+)$')
  return h, model, a_in, a_out
end
local function close(id, a_in, a_out)
  redis.call('HSET', totals, 'reserved', sub(get('reserved'), add(a_in, a_out)))
  redis.call('HINCRBY', totals, 'open', -1)
  redis.call('HDEL', holds, id)
  redis.call('ZREM', leases, id)
end
local function forfeit(id)
  local h, model, a_in, a_out = hold_of(id)
  if not h then redis.call('ZREM', leases, id); return 0 end
  close(id, a_in, a_out)
  redis.call('HSET', totals, 'spent', add(get('spent'), add(a_in, a_out)))
  madd(model, 'cost_in', a_in); madd(model, 'cost_out', a_out); mcount(model, 'forfeited', 1)
  redis.call('HSET', forfeits, id, h)
  redis.call('ZADD', forfeited_at, now, id)
  return 1
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 256)) do
  forfeit(id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', forfeited_at, '-inf', now - 86400000)) do
  redis.call('HDEL', forfeits, id); redis.call('ZREM', forfeited_at, id)
end
"""
)

RESERVE = (
    _PRELUDE
    + """
-- ARGV[2] id, [3] model, [4] input, [5] output (attodollars), [6] budget ('' none), [7] lease ms
local id, model, a_in, a_out, budget = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local spent, reserved = get('spent'), get('reserved')
if budget ~= '' and cmp(add(add(spent, reserved), add(a_in, a_out)), budget) > 0 then
  return {0, spent, reserved}
end
redis.call('HSET', holds, id, model .. '\\t' .. a_in .. '\\t' .. a_out)
redis.call('ZADD', leases, now + tonumber(ARGV[7]), id)
redis.call('HSET', totals, 'reserved', add(reserved, add(a_in, a_out)))
redis.call('HINCRBY', totals, 'open', 1)
return {1, spent, reserved}
"""
)

SETTLE = (
    _PRELUDE
    + """
-- ARGV[2] id ('' none), [3] model, [4] '1' with usage, [5] input, [6] output, [7] total tokens,
-- [8] input cost, [9] output cost (attodollars; '' unpriced)
local id, model, usage, c_in, c_out = ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[8], ARGV[9]
local priced = c_in ~= ''
mcount(model, 'requests', 1)
local h, _, a_in, a_out = hold_of(id)
if h and not (usage and priced) then
  forfeit(id)
  return 1
end
if h then
  close(id, a_in, a_out)
elseif usage and priced and id ~= '' and redis.call('HGET', forfeits, id) then
  local f = redis.call('HGET', forfeits, id)
  local _, f_in, f_out = string.match(f, '^(.*)\\t(%d+)\\t(%d+)$')
  redis.call('HSET', totals, 'spent', sub(get('spent'), add(f_in, f_out)))
  local key_in, key_out = model .. '\\tcost_in', model .. '\\tcost_out'
  redis.call('HSET', models, key_in, sub(redis.call('HGET', models, key_in), f_in))
  redis.call('HSET', models, key_out, sub(redis.call('HGET', models, key_out), f_out))
  mcount(model, 'forfeited', -1)
  redis.call('HDEL', forfeits, id); redis.call('ZREM', forfeited_at, id)
end
if not usage then
  if not redis.call('HGET', forfeits, id) then mcount(model, 'unmetered', 1) end
  return 1
end
mcount(model, 'input_tokens', tonumber(ARGV[5]))
mcount(model, 'output_tokens', tonumber(ARGV[6]))
mcount(model, 'total_tokens', tonumber(ARGV[7]))
if not priced then
  mcount(model, 'unpriced', 1)
  return 1
end
madd(model, 'cost_in', c_in); madd(model, 'cost_out', c_out)
redis.call('HSET', totals, 'spent', add(get('spent'), add(c_in, c_out)))
return 1
"""
)

FORFEIT = (
    _PRELUDE
    + """
-- ARGV[2] id -> 1 if it was held
return forfeit(ARGV[2])
"""
)

RELEASE = (
    _PRELUDE
    + """
-- ARGV[2] id -> 1 if it was held
local h, _, a_in, a_out = hold_of(ARGV[2])
if not h then return 0 end
close(ARGV[2], a_in, a_out)
return 1
"""
)

TOTALS = (
    _PRELUDE
    + """
-- -> {spent, reserved, open, {model\\tfield, value, ...}}
return {get('spent'), get('reserved'), get('open'), redis.call('HGETALL', models)}
"""
)
