"""Events expire: kube-apiserver keeps an Event for --event-ttl (1 h) after it was last written, so the store does
not grow with every scheduling decision and probe failure ever recorded. The last write is judged by the Event's
own timestamps (recorders bump lastTimestamp on every repeat)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.apiserver import store
from provisioner.services.storage.backend import Backend, KeyNotFound, RevisionConflict

log = logging.getLogger("apiserver.eventttl")

EVENTS = resources.lookup("", "v1", "events")
SWEEP_INTERVAL = 60.0


def last_written(event: dict[str, Any]) -> float | None:
    """Seconds since the epoch of the latest timestamp the Event carries; None if it has none readable."""
    candidates = [event.get("lastTimestamp"), event.get("eventTime"),
                  (event.get("series") or {}).get("lastObservedTime"),
                  (event.get("metadata") or {}).get("creationTimestamp")]
    moments = []
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                moments.append(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            except ValueError:
                continue
    return max(moments) if moments else None


async def expire_events(backend: Backend, ttl: float, *, now: float | None = None) -> int:
    """Delete events last written more than ``ttl`` seconds ago; returns how many went."""
    now = time.time() if now is None else now
    expired = 0
    for kv in (await backend.list(store.collection_prefix(EVENTS))).items:
        written = last_written(store.decode(kv))
        if written is None or now - written < ttl:
            continue
        try:
            await backend.delete(kv.key, kv.mod_revision)  # compare-and-swap: an event bumped meanwhile stays
            expired += 1
        except (KeyNotFound, RevisionConflict):
            continue
    return expired


async def expire_events_periodically(backend: Backend, ttl: float, interval: float = SWEEP_INTERVAL) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            expired = await expire_events(backend, ttl)
        except Exception:  # keep sweeping; a failed pass is retried at the next interval
            log.exception("expiring events failed")
            continue
        if expired:
            log.info("expired %d events older than %.0f s", expired, ttl)
