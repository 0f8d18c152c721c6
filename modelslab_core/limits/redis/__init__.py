"""The in-flight limit shared through Redis: `scripts` (the Lua lease semaphore, pure), `io`
(redis-py clients and the `Eval` op), `retry` (redis-py's retry, bounded by a time window),
`background` (wake-ups and lease renewal) and `limiter` (`RedisLimiter`)."""
