"""The storage contract every backend (memory, sqlite, etcd) fulfils.

Keys are strings such as ``/registry/pods/default/web-1``; values are opaque bytes (the apiserver stores JSON
without ``metadata.resourceVersion`` — it is the key's ``mod_revision``). There is one global revision counter:
every successful write advances it by exactly one and returns the stored ``KeyValue`` carrying it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """A committed change. For DELETE, ``kv`` is the last value with ``mod_revision`` = the deletion's revision."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision

    @property
    def is_create(self) -> bool:
        return self.type == "PUT" and self.prev is None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was read at
    more: bool = False  # true when ``limit`` cut the result


class StorageError(Exception):
    """Base of every error a backend raises on purpose."""


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class RevisionConflict(StorageError):
    """Compare-and-swap failed: the key's current ``mod_revision`` is not the expected one."""

    def __init__(self, key: str, expected: int, current: KeyValue | None) -> None:
        super().__init__(f"key {key!r}: expected revision {expected}, found {current.mod_revision if current else 'none'}")
        self.key = key
        self.expected = expected
        self.current = current


class Compacted(StorageError):
    """The requested revision is older than the oldest history kept (HTTP 410 Expired)."""

    def __init__(self, requested: int, compact_revision: int) -> None:
        super().__init__(f"too old resource version: {requested} ({compact_revision})")
        self.requested = requested
        self.compact_revision = compact_revision


class FutureRevision(StorageError):
    """A list or compaction asked for a revision the store has not reached yet (Kubernetes: "too large")."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"too large resource version: {requested}, current: {current}")
        self.requested = requested
        self.current = current


class WatchDropped(StorageError):
    """The watcher fell too far behind and was dropped; its client must re-list."""


class BackendClosed(StorageError):
    """The backend was closed while an operation or a watch was in progress."""


class Watch(Protocol):
    """An ordered stream of events (strictly increasing revisions, no gaps for the prefix) after a revision.

    Iterating raises ``WatchDropped`` if the watcher could not keep up. ``close()`` ends it.
    """

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class Backend(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def current_revision(self) -> int: ...

    @property
    def compact_revision(self) -> int:
        """Events at or below this revision are gone; watching or listing from below it raises ``Compacted``."""
        ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "", limit: int = 0) -> ListResult:
        """Keys under ``prefix`` in key order, as of ``revision`` (0 = now), after ``start_after``, at most ``limit``."""
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> KeyValue:
        """Raises ``KeyExists``."""
        ...

    async def update(self, key: str, value: bytes, expected_revision: int) -> KeyValue:
        """Compare-and-swap on ``mod_revision``. Raises ``KeyNotFound`` or ``RevisionConflict``."""
        ...

    async def delete(self, key: str, expected_revision: int = 0) -> KeyValue:
        """Deletes (CAS when ``expected_revision`` > 0); returns the deleted value at the deletion revision."""
        ...

    def watch(self, prefix: str, after_revision: int) -> Watch:
        """Events for keys under ``prefix`` with revision > ``after_revision`` (0 = from now).

        Raises ``Compacted`` (on first iteration at the latest) when ``after_revision`` < ``compact_revision``.
        """
        ...

    async def compact(self, revision: int) -> None:
        """Forget history at and below ``revision`` (current values are kept)."""
        ...
