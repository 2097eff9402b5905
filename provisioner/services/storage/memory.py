"""An in-process backend for unit tests with the same semantics as sqlite, history and compaction included.

History is the list of committed events in revision order; compaction drops the events that no revision at or
above the compact revision can see. Every operation yields to the event loop once, as a real backend does, so
that code under test meets the interleavings (and CAS conflicts) it will meet in production.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator
from functools import partial
from types import TracebackType

from provisioner.services.storage.arguments import (
    check_key,
    check_list_args,
    check_update_revision,
    check_value,
    check_watch_revision,
)
from provisioner.services.storage.backend import (
    BackendClosed,
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionConflict,
)
from provisioner.services.storage.broadcast import DEFAULT_QUEUE_SIZE, Broadcaster
from provisioner.services.storage.compaction import (
    DEFAULT_INTERVAL,
    DEFAULT_KEEP,
    ScheduledCompaction,
)
from provisioner.services.storage.keyrange import in_range, prefix_end
from provisioner.services.storage.watch import StorageWatch


def _revision_of(event: Event) -> int:
    return event.revision


class MemoryBackend:
    def __init__(
        self,
        *,
        compact_interval: float | None = DEFAULT_INTERVAL,
        compact_keep: int = DEFAULT_KEEP,
        watch_queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        self._compaction = ScheduledCompaction(self, compact_interval, compact_keep)
        self._broadcaster = Broadcaster(queue_size=watch_queue_size)
        self._revision = 0
        self._compact_revision = 0
        self._current: dict[str, KeyValue] = {}
        self._sorted_keys: list[str] = []
        self._history: list[Event] = []
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._compaction.start("memory-storage-compactor")

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._compaction.stop()
        self._broadcaster.close()

    async def __aenter__(self) -> MemoryBackend:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- reads -----------------------------------------------------------------------------------------------

    async def current_revision(self) -> int:
        await self._enter()
        return self._revision

    @property
    def compact_revision(self) -> int:
        return self._compact_revision

    async def get(self, key: str) -> KeyValue | None:
        await self._enter()
        return self._current.get(key)

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        check_list_args(revision, limit)
        await self._enter()
        self._check_readable(revision)
        at = revision or self._revision
        if at == self._revision:
            candidates = self._current_from(prefix, start_after)
        else:
            candidates = self._state_at(at, prefix, start_after)
        items: list[KeyValue] = []
        for kv in candidates:
            if limit and len(items) == limit:
                return ListResult(items, at, more=True)
            items.append(kv)
        return ListResult(items, at)

    async def count(self, prefix: str) -> int:
        await self._enter()
        return sum(1 for _ in self._current_from(prefix, ""))

    # -- writes ----------------------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        check_key(key)
        check_value(value)
        await self._enter()
        if key in self._current:
            raise KeyExists(key)
        revision = self._revision + 1
        return self._commit(Event("PUT", KeyValue(key, value, revision, revision), None))

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        check_key(key)
        check_value(value)
        check_update_revision(expected_revision)
        await self._enter()
        current = self._current_or_raise(key, expected_revision)
        kv = KeyValue(key, value, current.create_revision, self._revision + 1)
        return self._commit(Event("PUT", kv, current))

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        check_key(key)
        await self._enter()
        current = self._current_or_raise(key, expected_revision)
        kv = KeyValue(key, current.value, current.create_revision, self._revision + 1)
        return self._commit(Event("DELETE", kv, current))

    # -- watch and compaction --------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int = 0) -> StorageWatch:
        self._check_open()
        check_watch_revision(after_revision)
        if 0 < after_revision < self._compact_revision:
            raise Compacted(after_revision, self._compact_revision)
        subscription = self._broadcaster.subscribe(prefix)
        return StorageWatch(
            subscription,
            after_revision or self._revision,
            replay_until=self._revision,
            replay_page=partial(self._history_page, prefix, prefix_end(prefix)),
        )

    async def compact(self, revision: int) -> None:
        await self._enter()
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        if revision <= self._compact_revision:
            return
        cut = bisect.bisect_right(self._history, revision, key=_revision_of)
        latest: dict[str, Event] = {}
        for event in self._history[:cut]:
            latest[event.kv.key] = event
        survivors = sorted((e for e in latest.values() if e.type == "PUT"), key=_revision_of)
        self._history = survivors + self._history[cut:]
        self._compact_revision = revision

    # -- internals -------------------------------------------------------------------------------------------

    async def _enter(self) -> None:
        self._check_open()
        await asyncio.sleep(0)
        self._check_open()

    def _check_open(self) -> None:
        if self._closed:
            raise BackendClosed("the memory backend is closed")
        if not self._started:
            raise BackendClosed("the memory backend was not started")

    def _check_readable(self, revision: int) -> None:
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        if 0 < revision < self._compact_revision:
            raise Compacted(revision, self._compact_revision)

    def _current_or_raise(self, key: str, expected_revision: int) -> KeyValue:
        current = self._current.get(key)
        if current is None:
            raise KeyNotFound(key)
        if expected_revision and current.mod_revision != expected_revision:
            raise RevisionConflict(key, expected_revision, current)
        return current

    def _commit(self, event: Event) -> KeyValue:
        key = event.kv.key
        if event.type == "DELETE":
            del self._current[key]
            del self._sorted_keys[bisect.bisect_left(self._sorted_keys, key)]
        else:
            if event.prev is None:
                bisect.insort(self._sorted_keys, key)
            self._current[key] = event.kv
        self._revision = event.revision
        self._history.append(event)
        self._broadcaster.publish((event,))
        return event.kv

    def _current_from(self, prefix: str, start_after: str) -> Iterator[KeyValue]:
        end = prefix_end(prefix)
        keys = self._sorted_keys
        index = (
            bisect.bisect_right(keys, start_after)
            if start_after >= prefix
            else bisect.bisect_left(keys, prefix)
        )
        while index < len(keys) and in_range(keys[index], prefix, end):
            yield self._current[keys[index]]
            index += 1

    def _state_at(self, revision: int, prefix: str, start_after: str) -> list[KeyValue]:
        end = prefix_end(prefix)
        latest: dict[str, Event] = {}
        for event in self._history[: bisect.bisect_right(self._history, revision, key=_revision_of)]:
            key = event.kv.key
            if key > start_after and in_range(key, prefix, end):
                latest[key] = event
        return sorted((e.kv for e in latest.values() if e.type == "PUT"), key=lambda kv: kv.key)

    async def _history_page(
        self, prefix: str, end: str | None, after: int, until: int, limit: int
    ) -> list[Event]:
        await self._enter()
        if after < self._compact_revision:
            raise Compacted(after, self._compact_revision)
        page: list[Event] = []
        index = bisect.bisect_right(self._history, after, key=_revision_of)
        while index < len(self._history) and len(page) < limit:
            event = self._history[index]
            if event.revision > until:
                break
            if in_range(event.kv.key, prefix, end):
                page.append(event)
            index += 1
        return page
