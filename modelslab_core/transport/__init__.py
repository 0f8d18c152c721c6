"""The HTTP path: `http` (the only I/O: the sync and async loops), `calls` (what a call sends
and how its answer is read), `retry` (the pure retry policy), `errors` (typed errors built from
responses, envelopes and stream events), `sse` and `stream_attempt` (a stream's bytes to events
to deltas, one attempt at a time) and `accumulate` (deltas to a whole result)."""
