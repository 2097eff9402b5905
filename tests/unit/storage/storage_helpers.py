"""Helpers for the storage tests (a module of its own: test modules cannot import conftest reliably)."""

from __future__ import annotations

import asyncio

from provisioner.services.storage.backend import Event, Watch

# Only guards against a hang turning into a stuck test run; no test asserts how long anything takes.
HANG_GUARD_SECONDS = 20.0


async def collect_until(watch: Watch, revision: int) -> list[Event]:
    """Events from ``watch`` up to and including the one at ``revision``."""
    events: list[Event] = []
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        async for event in watch:
            events.append(event)
            if event.revision >= revision:
                break
    return events


async def first_event(watch: Watch) -> Event:
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        async for event in watch:
            return event
    raise AssertionError("the watch ended without an event")
