"""The single SQLite writer: a dedicated thread that owns the write connection and commits in groups.

Callers on the event loop enqueue requests and await a future. The thread takes every request waiting in the
queue (up to ``max_batch``), applies the writes in order inside ONE transaction — each write gets its own
revision and its compare-and-swap check sees the writes before it — and commits once, so one fsync covers the
whole group. Only after COMMIT returns does it hand the outcomes back to the loop, which publishes the events
and resolves the futures: a write is acknowledged only once it is durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from provisioner.services.storage.backend import (
    BackendClosed,
    Event,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionConflict,
    StorageError,
)
from provisioner.services.storage.sqlite_db import (
    StoreState,
    apply_create,
    apply_delete,
    apply_update,
    connect_writer,
    initialize,
    write_transaction,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

_REFUSALS = (KeyExists, KeyNotFound, RevisionConflict)  # a write refused by its checks; the group goes on


@dataclass(slots=True)
class WriteRequest:
    kind: Literal["create", "update", "delete"]
    key: str
    value: bytes
    expected_revision: int
    future: asyncio.Future[KeyValue]


@dataclass(slots=True)
class CallRequest:
    """Any other work on the write connection (compaction, inspection); it manages its own transaction."""

    function: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]


class _Stop:
    """Queued by ``stop()``: everything queued before it is committed first."""


_STOP = _Stop()

Outcome = KeyValue | BaseException


@dataclass(slots=True)
class WriterStats:
    transactions: int = 0  # commits of write groups
    writes: int = 0  # writes committed
    largest_group: int = 0


class GroupCommitWriter:
    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        max_batch: int,
        on_commit: Callable[[list[Event]], None],
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.path = path
        self.synchronous = synchronous
        self.max_batch = max_batch
        self.stats = WriterStats()
        self._on_commit = on_commit  # called on the loop with each group's events, before futures resolve
        self._queue: queue.SimpleQueue[WriteRequest | CallRequest | _Stop] = queue.SimpleQueue()
        self._revision = 0  # the last committed revision; owned by the writer thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Future[None] | None = None

    # -- loop side -------------------------------------------------------------------------------------------

    async def start(self) -> StoreState:
        """Open the database on the writer thread; returns the persisted revision counters."""
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[StoreState] = self._loop.create_future()
        self._stopped = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="storage-writer", daemon=True)
        self._thread.start()
        return await ready

    def submit(self, request: WriteRequest | CallRequest) -> None:
        self._queue.put(request)

    async def call(self, function: Callable[[sqlite3.Connection], T]) -> T:
        assert self._loop is not None, "writer not started"
        future: asyncio.Future[T] = self._loop.create_future()
        self.submit(CallRequest(function, future))
        return await future

    async def stop(self) -> None:
        """Commit everything queued, close the connection, and wait until the last outcome was delivered."""
        if self._thread is None or self._stopped is None:
            return
        self._queue.put(_STOP)
        await self._stopped  # posted after every delivery, so all callbacks before it have run

    # -- writer thread ---------------------------------------------------------------------------------------

    def _run(self, ready: asyncio.Future[StoreState]) -> None:
        try:
            conn = connect_writer(self.path, self.synchronous)
            state = initialize(conn)
        except BaseException as exc:
            self._post(_settle, ready, None, exc)
            self._post(_settle, self._stopped, None, None)
            return
        self._revision = state.revision
        self._post(_settle, ready, state, None)
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._post(_settle, self._stopped, None, None)

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            writes: list[WriteRequest] = []
            for request in self._take_group():
                if isinstance(request, WriteRequest):
                    writes.append(request)
                    continue
                self._commit_group(conn, writes)  # keep the queue's order around calls and the stop
                writes = []
                if isinstance(request, _Stop):
                    self._refuse_rest()
                    return
                self._run_call(conn, request)
            self._commit_group(conn, writes)

    def _take_group(self) -> list[WriteRequest | CallRequest | _Stop]:
        group = [self._queue.get()]
        while len(group) < self.max_batch:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return group

    def _commit_group(self, conn: sqlite3.Connection, writes: list[WriteRequest]) -> None:
        if not writes:
            return
        try:
            outcomes, events = self._apply_in_one_transaction(conn, writes)
        except Exception as exc:
            log.warning("sqlite commit of %d write(s) failed: %s", len(writes), exc)
            if len(writes) == 1:
                self._post(self._deliver, writes, [_commit_failed(exc)], [])
            else:  # isolate the write that broke the group: the others still deserve to commit
                for write in writes:
                    self._commit_group(conn, [write])
            return
        self.stats.transactions += 1
        self.stats.writes += len(events)
        self.stats.largest_group = max(self.stats.largest_group, len(writes))
        self._post(self._deliver, writes, outcomes, events)

    def _apply_in_one_transaction(
        self, conn: sqlite3.Connection, writes: list[WriteRequest]
    ) -> tuple[list[Outcome], list[Event]]:
        first_revision = self._revision
        outcomes: list[Outcome] = []
        events: list[Event] = []
        try:
            with write_transaction(conn):
                for write in writes:
                    try:
                        event = self._apply(conn, write, self._revision + 1)
                    except _REFUSALS as refusal:
                        outcomes.append(refusal)
                        continue
                    self._revision = event.revision
                    events.append(event)
                    outcomes.append(event.kv)
        except BaseException:
            self._revision = first_revision  # rolled back: those revisions were never used
            raise
        return outcomes, events

    @staticmethod
    def _apply(conn: sqlite3.Connection, write: WriteRequest, revision: int) -> Event:
        if write.kind == "create":
            return apply_create(conn, revision, write.key, write.value)
        if write.kind == "update":
            return apply_update(conn, revision, write.key, write.value, write.expected_revision)
        return apply_delete(conn, revision, write.key, write.expected_revision)

    def _run_call(self, conn: sqlite3.Connection, request: CallRequest) -> None:
        try:
            result = request.function(conn)
        except Exception as exc:
            self._post(_settle, request.future, None, exc)
            return
        self._post(_settle, request.future, result, None)

    def _refuse_rest(self) -> None:
        """Requests queued after the stop (none, when the backend guards its writes) learn it is closed."""
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            if not isinstance(request, _Stop):
                self._post(_settle, request.future, None, BackendClosed("the sqlite backend is closed"))

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is left waiting for the outcome
            pass

    def _deliver(self, writes: list[WriteRequest], outcomes: list[Outcome], events: list[Event]) -> None:
        """On the loop: publish the group's events (in revision order), then resolve every caller."""
        try:
            if events:
                self._on_commit(events)
        finally:  # a caller must never wait forever, whatever happened to publishing
            for write, outcome in zip(writes, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    _settle(write.future, None, outcome)
                else:
                    _settle(write.future, outcome, None)


def _settle(future: asyncio.Future[Any] | None, result: Any, exc: BaseException | None) -> None:
    if future is None or future.done():  # the caller was cancelled; a committed write stays committed
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _commit_failed(cause: BaseException) -> StorageError:
    error = StorageError(f"sqlite commit failed: {cause}")
    error.__cause__ = cause
    return error
