"""The only I/O in the package: send a request, retry, turn failures into typed errors.

`SyncTransport` and `AsyncTransport` are line-parallel twins of two short loops (JSON and SSE);
every decision they make lives in `base.TransportBase` or the pure modules (`retry`, `errors`,
`sse`, `stream_attempt`). Retries happen here and only here, and only before anything reached
the caller: a stream that already yielded a delta is never retried. A chat request's `Charge`
is admitted (its budget reservation) right before each send, inside the in-flight slot, and
told about each failed attempt (kept, released, or spent when it may have been billed).

The API key travels only in headers (or, in ``body`` auth mode, in the JSON body of
``/chat/completions``); it is never logged and is masked out of every error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import httpx

from ..config import ClientConfig
from ..cost.charge import AnswerHook, Charge, hand_over
from .base import TransportBase
from .errors import request_id_from
from .stream_attempt import EventHandler, Failure, StreamRun

__all__ = ["AsyncTransport", "EventHandler", "SyncTransport"]

T = TypeVar("T")
Hook = AnswerHook | None


class SyncTransport(TransportBase):
    """Blocking transport over an `httpx.Client` (supplied by the caller, reused)."""

    def __init__(self, config: ClientConfig, client: Callable[[], httpx.Client]) -> None:
        super().__init__(config)
        self._client = client

    def request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        hook: Hook = None,
        charge: Charge | None = None,
    ) -> dict[str, Any]:
        """Send one JSON request (retrying) and return the response object."""
        deadline, attempt = self._deadline(), 0
        while True:
            with self._limiter.slot(self.config.max_in_flight):
                outcome = hand_over(self._json_once(method, path, body, deadline, charge), hook)
            if not isinstance(outcome, Failure):
                return outcome
            delay = self._next_delay(outcome, attempt, deadline)
            if charge is not None:
                charge.failed(outcome.billed, final=delay is None)
            if delay is None:
                raise outcome.error
            time.sleep(delay)
            attempt += 1

    def _json_once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        deadline: float | None,
        charge: Charge | None,
    ) -> dict[str, Any] | Failure:
        client = self._client()
        if charge is not None:
            charge.admit()  # in the in-flight slot, right before sending (cost/charge.py)
        request = self._build(client, method, path, body, deadline, stream=False)
        try:
            response = client.send(request)
        except httpx.RequestError as exc:
            return self._exc_failure(exc)
        return self._json_outcome(response)

    def stream(
        self,
        path: str,
        body: dict[str, Any],
        handler: Callable[[], EventHandler[T]],
        charge: Charge | None = None,
    ) -> Iterator[T]:
        """POST and yield the handler's outputs event by event; ``handler()`` per attempt."""
        deadline, attempt = self._deadline(), 0
        while True:
            with self._limiter.slot(self.config.max_in_flight):
                run: StreamRun[T] = StreamRun(handler(), self._secret)
                yield from self._stream_once(path, body, deadline, run, charge)
            if run.failure is None:
                return
            delay = None if run.yielded else self._next_delay(run.failure, attempt, deadline)
            if charge is not None:
                charge.failed(run.failure.billed, final=delay is None)
            if delay is None:
                raise run.failure.error
            time.sleep(delay)
            attempt += 1

    def _stream_once(
        self,
        path: str,
        body: dict[str, Any],
        deadline: float | None,
        run: StreamRun[T],
        charge: Charge | None,
    ) -> Iterator[T]:
        client = self._client()
        if charge is not None:
            charge.admit()
        request = self._build(client, "POST", path, body, deadline, stream=True)
        try:
            response = client.send(request, stream=True)
        except httpx.RequestError as exc:
            run.failure = self._exc_failure(exc, stream=True)
            return
        try:
            if not self._is_event_stream(response):
                response.read()
                outcome = self._json_outcome(response, stream=True)
                run.failure = outcome if isinstance(outcome, Failure) else None
                return
            run.request_id = request_id_from(response.headers)
            for chunk in response.iter_bytes():
                for item in run.feed(chunk):
                    run.yielded = True
                    yield item
                if run.failure is not None or self._past_deadline(run, deadline):
                    return
            for item in run.finish():
                run.yielded = True
                yield item
        except httpx.RequestError as exc:
            run.fail_transport(exc, self.config.stream_chunk_timeout)
        finally:
            response.close()


class AsyncTransport(TransportBase):
    """Async twin of `SyncTransport` over an `httpx.AsyncClient` (one per event loop)."""

    def __init__(
        self, config: ClientConfig, client: Callable[[], Awaitable[httpx.AsyncClient]]
    ) -> None:
        super().__init__(config)
        self._client = client

    async def request_json(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        hook: Hook = None,
        charge: Charge | None = None,
    ) -> dict[str, Any]:
        """Send one JSON request (retrying) and return the response object."""
        deadline, attempt = self._deadline(), 0
        while True:
            async with self._limiter.slot_async(self.config.max_in_flight):
                outcome = await self._json_once(method, path, body, deadline, charge)
                if charge is not None:
                    outcome = await charge.off_loop(hand_over, outcome, hook)
                else:
                    outcome = hand_over(outcome, hook)
            if not isinstance(outcome, Failure):
                return outcome
            delay = self._next_delay(outcome, attempt, deadline)
            if charge is not None:
                await charge.off_loop(charge.failed, outcome.billed, delay is None)
            if delay is None:
                raise outcome.error
            await asyncio.sleep(delay)
            attempt += 1

    async def _json_once(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        deadline: float | None,
        charge: Charge | None,
    ) -> dict[str, Any] | Failure:
        client = await self._client()
        if charge is not None:
            await charge.off_loop(charge.admit)
        request = self._build(client, method, path, body, deadline, stream=False)
        try:
            response = await client.send(request)
        except httpx.RequestError as exc:
            return self._exc_failure(exc)
        return self._json_outcome(response)

    async def stream(
        self,
        path: str,
        body: dict[str, Any],
        handler: Callable[[], EventHandler[T]],
        charge: Charge | None = None,
    ) -> AsyncIterator[T]:
        """POST and yield the handler's outputs event by event; ``handler()`` per attempt."""
        deadline, attempt = self._deadline(), 0
        while True:
            async with self._limiter.slot_async(self.config.max_in_flight):
                run: StreamRun[T] = StreamRun(handler(), self._secret)
                async for item in self._stream_once(path, body, deadline, run, charge):
                    yield item
            if run.failure is None:
                return
            delay = None if run.yielded else self._next_delay(run.failure, attempt, deadline)
            if charge is not None:
                await charge.off_loop(charge.failed, run.failure.billed, delay is None)
            if delay is None:
                raise run.failure.error
            await asyncio.sleep(delay)
            attempt += 1

    async def _stream_once(
        self,
        path: str,
        body: dict[str, Any],
        deadline: float | None,
        run: StreamRun[T],
        charge: Charge | None,
    ) -> AsyncIterator[T]:
        client = await self._client()
        if charge is not None:
            await charge.off_loop(charge.admit)
        request = self._build(client, "POST", path, body, deadline, stream=True)
        try:
            response = await client.send(request, stream=True)
        except httpx.RequestError as exc:
            run.failure = self._exc_failure(exc, stream=True)
            return
        try:
            if not self._is_event_stream(response):
                await response.aread()
                outcome = self._json_outcome(response, stream=True)
                run.failure = outcome if isinstance(outcome, Failure) else None
                return
            run.request_id = request_id_from(response.headers)
            async for chunk in response.aiter_bytes():
                for item in run.feed(chunk):
                    run.yielded = True
                    yield item
                if run.failure is not None or self._past_deadline(run, deadline):
                    return
            for item in run.finish():
                run.yielded = True
                yield item
        except httpx.RequestError as exc:
            run.fail_transport(exc, self.config.stream_chunk_timeout)
        finally:
            await response.aclose()
