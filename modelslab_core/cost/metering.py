"""The stream half of metering: each delta passes through its request's `Charge`.

The delta that carries usage gets its ``cost`` and is recorded in the open spend ledgers
while the transport, suspended at that ``yield``, still holds the request's in-flight slot;
a stream that ends without usage is recorded as unmetered (`Charge.close`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ..types import StreamDelta
from .budget import Charge

__all__ = ["metered", "metered_async"]


def metered(deltas: Iterator[StreamDelta], charge: Charge) -> Iterator[StreamDelta]:
    """``deltas``, priced by ``charge``."""
    for delta in deltas:
        if delta.usage is not None:
            charge.see(delta)
        yield delta
    charge.close()


async def metered_async(
    deltas: AsyncIterator[StreamDelta], charge: Charge
) -> AsyncIterator[StreamDelta]:
    """Async twin of `metered`."""
    async for delta in deltas:
        if delta.usage is not None:
            charge.see(delta)
        yield delta
    charge.close()
