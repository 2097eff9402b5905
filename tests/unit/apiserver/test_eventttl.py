"""Events expire after the event TTL, judged by their last write; newer and bumped events stay."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from provisioner.services.apiserver import store
from provisioner.services.apiserver.eventttl import EVENTS, expire_events, last_written
from provisioner.services.storage.memory import MemoryBackend

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC).timestamp()


def event(name: str, last: str, created: str = "2026-11-22T09:00:00Z") -> dict:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
            "reason": "R", "message": "m", "lastTimestamp": last}


async def _store(backend: MemoryBackend, obj: dict) -> None:
    await backend.create(store.object_key(EVENTS, "default", obj["metadata"]["name"]), orjson.dumps(obj))


async def test_old_events_go_and_recent_ones_stay() -> None:
    async with MemoryBackend(compact_interval=None) as backend:
        await _store(backend, event("old", "2026-11-22T10:30:00Z"))
        await _store(backend, event("recent", "2026-11-22T11:30:00Z"))
        await _store(backend, event("bumped", "2026-11-22T11:59:00Z", created="2026-11-21T00:00:00Z"))
        assert await expire_events(backend, 3600.0, now=NOW) == 1
        left = sorted(kv.key.rsplit("/", 1)[1] for kv in (await backend.list("/registry/events/")).items)
        assert left == ["bumped", "recent"]
        assert await expire_events(backend, 3600.0, now=NOW) == 0


def test_last_written_takes_the_latest_readable_timestamp() -> None:
    assert last_written({"metadata": {"creationTimestamp": "2026-11-22T00:00:00Z"},
                         "eventTime": "2026-11-22T01:00:00.000000Z", "lastTimestamp": "garbage"}) == \
        datetime(2026, 11, 22, 1, tzinfo=UTC).timestamp()
    assert last_written({"metadata": {}}) is None
