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
