"""Events about objects, recorded like Kubernetes' recorder: a repeat of the same event (same object, type, reason,
message and source) within ten minutes bumps ``count`` and ``lastTimestamp`` of the existing Event instead of
creating another. Recording never blocks the caller: events go through a bounded queue and are dropped if it is
full (they are advisory)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client.rest import ApiClient

log = logging.getLogger("events")

EVENTS = resources.lookup("", "v1", "events")
AGGREGATION_WINDOW = 600.0  # seconds
_CACHE_SIZE = 4096
_QUEUE_SIZE = 1000


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def involved_object(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


@dataclass
class _Seen:
    namespace: str
    name: str
    count: int
    last_seen: float  # monotonic


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[tuple[dict[str, Any], str, str, str]] = asyncio.Queue(_QUEUE_SIZE)
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()

    def event(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        """Record ``event_type`` (Normal | Warning) about ``obj``; returns at once."""
        try:
            self._queue.put_nowait((obj, event_type, reason, message))
        except asyncio.QueueFull:
            log.warning("event queue full; dropped %s %s: %s", event_type, reason, message)

    async def run(self) -> None:
        while True:
            obj, event_type, reason, message = await self._queue.get()
            try:
                await self.emit(obj, event_type, reason, message)
            except ApiError as err:
                log.warning("could not record event %s on %s: %s", reason, involved_object(obj).get("name"),
                            err.message)

    async def flush(self) -> None:
        """Emit everything queued so far (tests, shutdown)."""
        while not self._queue.empty():
            obj, event_type, reason, message = self._queue.get_nowait()
            with contextlib.suppress(ApiError):
                await self.emit(obj, event_type, reason, message)

    async def emit(self, obj: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        ref = involved_object(obj)
        namespace = ref.get("namespace") or "default"
        key = (ref["kind"], namespace, ref["name"], ref["uid"], event_type, reason, message, self.component)
        now, stamp = time.monotonic(), _now()
        seen = self._seen.get(key)
        if seen is not None and now - seen.last_seen < AGGREGATION_WINDOW:
            seen.count += 1
            seen.last_seen = now
            self._seen.move_to_end(key)
            try:
                await self.client.patch(EVENTS, seen.name, {"count": seen.count, "lastTimestamp": stamp},
                                        seen.namespace, patch_type="merge")
                return
            except ApiError as err:
                if err.code != 404:
                    raise
        name = f"{ref['name']}.{time.time_ns():x}"
        source = {"component": self.component, **({"host": self.host} if self.host else {})}
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "type": event_type,
            "count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp, "source": source,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        await self.client.create(EVENTS, event, namespace)
        self._seen[key] = _Seen(namespace, name, 1, now)
        if len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
