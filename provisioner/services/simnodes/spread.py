"""Periodic work for many nodes, spread evenly over the period.

Renewing 5000 Leases every 10 s at once would send 5000 requests in a burst and then idle; spreading them sends 50
every 100 ms. The period is cut into slots of ``tick`` seconds; node i beats in slot i mod slots. A slot's batch is
awaited before the next starts, so a slow apiserver slows the beats down instead of piling requests up; a loop that
fell more than a whole period behind starts a fresh period rather than bursting to catch up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def slot_count(period: float, tick: float) -> int:
    return max(1, round(period / tick))


def batch_for_slot(names: Sequence[str], slot: int, slots: int) -> list[str]:
    """Every ``slots``-th name from ``slot``: consecutive nodes land in different slots."""
    return list(names[slot::slots])


async def run_spread(names: Callable[[], Sequence[str]], period: float,
                     beat: Callable[[list[str]], Awaitable[None]], *, tick: float = 0.1,
                     clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
    """Call ``beat(batch)`` forever so that every name in ``names()`` is in one batch per ``period``."""
    slots = slot_count(period, tick)
    slot_length = period / slots
    start = clock()
    while True:
        current = names()  # re-read each period: nodes may be added
        for slot in range(slots):
            batch = batch_for_slot(current, slot, slots)
            if not batch:
                continue
            delay = start + slot * slot_length - clock()
            if delay > 0:
                await sleep(delay)
            await beat(batch)
        start += period
        now = clock()
        if now - start > period:
            start = now
        elif start > now:
            await sleep(start - now)
