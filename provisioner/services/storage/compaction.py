"""Scheduled compaction shared by the backends that keep their own history (memory, sqlite)."""

from __future__ import annotations

import asyncio
import logging

from provisioner.services.storage.backend import Backend, BackendClosed

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0
DEFAULT_KEEP = 1000


def check_settings(interval: float | None, keep: int) -> None:
    if interval is not None and interval <= 0:
        raise ValueError(f"compact_interval must be positive seconds or None, got {interval}")
    if keep < 0:
        raise ValueError(f"compact_keep must be >= 0, got {keep}")


async def compact_periodically(backend: Backend, *, interval: float, keep: int) -> None:
    """Every ``interval`` seconds, forget history older than the last ``keep`` revisions."""
    while True:
        await asyncio.sleep(interval)
        try:
            target = await backend.current_revision() - keep
            if target > backend.compact_revision:
                await backend.compact(target)
        except BackendClosed:
            return
        except Exception:  # a failed round must not end compaction for the life of the process
            log.exception("scheduled compaction failed")


class ScheduledCompaction:
    """The compaction task a backend runs between ``start()`` and ``close()`` (none when ``interval`` is None)."""

    def __init__(self, backend: Backend, interval: float | None, keep: int) -> None:
        check_settings(interval, keep)
        self._backend = backend
        self.interval = interval
        self.keep = keep
        self._task: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        if self.interval is not None and self._task is None:
            self._task = asyncio.create_task(
                compact_periodically(self._backend, interval=self.interval, keep=self.keep), name=name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
