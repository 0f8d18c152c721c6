"""The stream half of metering: each delta passes through its request's `Charge`.

The delta that carries usage gets its ``cost`` and is recorded in the open spend ledgers
while the transport, suspended at that ``yield``, still holds the request's in-flight slot
(under a budget, usage asked for only to settle it is taken off that delta, and a delta left
empty is not yielded); a stream that ends without usage is recorded without it
(`Charge.close`); a stream that ends any other way (an error, closed or collected early)
leaves its reservation as spend (`Charge.abandon`). Nothing here runs per chunk beyond the
usage test that was always there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from ..types import StreamDelta
from .charge import Charge

__all__ = ["metered", "metered_async"]


def metered(deltas: Iterator[StreamDelta], charge: Charge) -> Iterator[StreamDelta]:
    """``deltas``, priced by ``charge``."""
    try:
        for delta in deltas:
            if delta.usage is not None:
                seen = charge.see(delta)
                if seen is None:
                    continue
            yield delta
        charge.close()
    finally:
        charge.abandon()


async def metered_async(
    deltas: AsyncIterator[StreamDelta],
    charge: Charge,
    before: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[StreamDelta]:
    """Async twin of `metered` (``before`` runs first: the input count, when asked for)."""
    try:
        if before is not None:
            await before()
        async for delta in deltas:
            if delta.usage is not None:
                seen = await charge.off_loop(charge.see, delta)
                if seen is None:
                    continue
            yield delta
        await charge.off_loop(charge.close)
    finally:
        await charge.off_loop(charge.abandon)
