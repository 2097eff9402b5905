"""The embedded store for a single control plane: SQLite in WAL mode with ``synchronous=FULL``.

Writes go through one group-committing writer thread (``sqlite_writer``); reads run on a small pool of threads,
each with its own read-only connection, so neither ever blocks the event loop. Watches come from the broadcaster,
which the writer's outcomes feed on the loop, and from the ``log`` table for history (``sqlite_db``).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, TypeVar

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
    KeyValue,
    ListResult,
)
from provisioner.services.storage.broadcast import DEFAULT_QUEUE_SIZE, Broadcaster
from provisioner.services.storage.compaction import (
    DEFAULT_INTERVAL,
    DEFAULT_KEEP,
    ScheduledCompaction,
)
from provisioner.services.storage.sqlite_db import (
    SYNCHRONOUS_MODES,
    compact_to,
    connect_reader,
    pragmas,
    read_count,
    read_history,
    read_key,
    read_list,
)
from provisioner.services.storage.sqlite_writer import GroupCommitWriter, WriteRequest, WriterStats
from provisioner.services.storage.watch import StorageWatch

T = TypeVar("T")

COMPACT_STEP = 10_000  # revisions per compaction transaction, so writes are never held up for long


class SqliteBackend:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        compact_interval: float | None = DEFAULT_INTERVAL,
        compact_keep: int = DEFAULT_KEEP,
        synchronous: str = "FULL",
        watch_queue_size: int = DEFAULT_QUEUE_SIZE,
        readers: int = 2,
        max_batch: int = 512,
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}"
            )
        if readers < 1:
            raise ValueError(f"readers must be at least 1, got {readers}")
        self.path = os.fspath(path)
        self._compaction = ScheduledCompaction(self, compact_interval, compact_keep)
        self._broadcaster = Broadcaster(queue_size=watch_queue_size)
        self._writer = GroupCommitWriter(
            self.path, synchronous=synchronous, max_batch=max_batch, on_commit=self._committed
        )
        self._readers = _ReaderPool(self.path, readers)
        self._revision = 0  # the last revision published to watchers (loop side)
        self._compact_revision = 0
        self._started = False
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        parent = Path(self.path).parent
        if not parent.is_dir():
            raise FileNotFoundError(f"cannot open the store {self.path}: directory {parent} does not exist")
        state = await self._writer.start()
        self._revision = state.revision
        self._compact_revision = state.compact_revision
        self._started = True
        self._compaction.start("sqlite-storage-compactor")

    async def close(self) -> None:
        """Commit the writes already submitted, end every watch with ``BackendClosed``, close the file."""
        if self._closed:
            return
        self._closed = True
        await self._compaction.stop()
        await self._writer.stop()
        self._broadcaster.close()
        await self._readers.close()

    async def __aenter__(self) -> SqliteBackend:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- reads -----------------------------------------------------------------------------------------------

    async def current_revision(self) -> int:
        self._check_open()
        return self._revision

    @property
    def compact_revision(self) -> int:
        return self._compact_revision

    async def get(self, key: str) -> KeyValue | None:
        return await self._read(read_key, key)

    async def list(
        self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0
    ) -> ListResult:
        check_list_args(revision, limit)
        return await self._read(read_list, prefix, revision, start_after, limit)

    async def count(self, prefix: str) -> int:
        return await self._read(read_count, prefix)

    # -- writes ----------------------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        check_value(value)
        return await self._write("create", key, value, 0)

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        check_value(value)
        check_update_revision(expected_revision)
        return await self._write("update", key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        return await self._write("delete", key, b"", expected_revision)

    # -- watch and compaction --------------------------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int = 0) -> StorageWatch:
        self._check_open()
        check_watch_revision(after_revision)
        if 0 < after_revision < self._compact_revision:
            raise Compacted(after_revision, self._compact_revision)
        # Subscribing now, on the loop, catches every event after ``self._revision``: events are published
        # on the loop too, so none can slip between this line and the next.
        subscription = self._broadcaster.subscribe(prefix)
        return StorageWatch(
            subscription,
            after_revision or self._revision,
            replay_until=self._revision,
            replay_page=partial(self._history_page, prefix),
        )

    async def compact(self, revision: int) -> None:
        self._check_open()
        if revision > self._revision:
            raise FutureRevision(revision, self._revision)
        while self._compact_revision < revision:
            step = min(revision, self._compact_revision + COMPACT_STEP)
            reached = await self._writer.call(partial(compact_to, revision=step))
            self._compact_revision = max(self._compact_revision, reached)

    # -- inspection ------------------------------------------------------------------------------------------

    async def durability_settings(self) -> dict[str, str]:
        """The write connection's ``journal_mode`` and ``synchronous``, as SQLite reports them."""
        self._check_open()
        return await self._writer.call(pragmas)

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    # -- internals -------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendClosed(f"the sqlite backend {self.path} is closed")
        if not self._started:
            raise BackendClosed(f"the sqlite backend {self.path} was not started")

    async def _write(
        self, kind: Literal["create", "update", "delete"], key: str, value: bytes, expected_revision: int
    ) -> KeyValue:
        check_key(key)
        self._check_open()
        future: asyncio.Future[KeyValue] = asyncio.get_running_loop().create_future()
        self._writer.submit(WriteRequest(kind, key, value, expected_revision, future))
        return await future

    def _committed(self, events: list[Event]) -> None:
        self._revision = events[-1].revision
        self._broadcaster.publish(events)

    async def _read(self, function: Callable[..., T], *args: object) -> T:
        self._check_open()
        return await self._readers.run(function, *args)

    async def _history_page(self, prefix: str, after: int, until: int, limit: int) -> list[Event]:
        return await self._read(read_history, prefix, after, until, limit)


class _ReaderPool:
    """Threads that each own one read-only connection; a WAL reader never waits for the writer."""

    def __init__(self, path: str, size: int) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="storage-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, function: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise BackendClosed("the sqlite backend is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, function, args)

    async def close(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)  # lets reads in flight finish
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def _call(self, function: Callable[..., T], args: tuple[object, ...]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_reader(self._path)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return function(conn, *args)
