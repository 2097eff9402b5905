"""The SQLite schema and every statement run against it, as plain functions of a connection (no threads here).

The ``log`` table is kine's design: one row per revision. A PUT row holds the new value; a DELETE row (a
tombstone) holds the deleted value, so a replayed DELETE event carries it. ``prev_revision`` points at the key's
previous row (0 when the row created the key), which gives every event its ``prev``. The ``current`` table maps
each live key to its latest row, so reads of the present cost O(result) however long the history is.

Compaction at revision C removes what no read at or above C can see: rows at or below C superseded by a later
row at or below C, and tombstones at or below C. The latest row at or below C of every live key survives, which is
exactly what ``list(revision >= C)`` and the ``prev`` of every later row need.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from provisioner.services.storage.backend import (
    Compacted,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    RevisionConflict,
    StorageError,
)
from provisioner.services.storage.keyrange import prefix_end

SCHEMA_VERSION = 1
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
BUSY_TIMEOUT_MS = 10_000
WAL_SIZE_LIMIT = (
    64 * 1024 * 1024
)  # truncate the WAL back to this after a checkpoint, or it keeps its peak size

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS log (
        id              INTEGER PRIMARY KEY,  -- the revision of this change
        key             TEXT    NOT NULL,
        deleted         INTEGER NOT NULL,     -- 1 for a tombstone, whose value is the deleted value
        create_revision INTEGER NOT NULL,
        prev_revision   INTEGER NOT NULL,     -- the key's previous row, 0 when this row created the key
        value           BLOB    NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS log_key_id ON log (key, id)",
    """
    CREATE TABLE IF NOT EXISTS current (
        key      TEXT    PRIMARY KEY,
        revision INTEGER NOT NULL             -- the key's latest log row
    ) WITHOUT ROWID
    """,
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
)

_HEAD = """
SELECT max(coalesce((SELECT max(id) FROM log), 0), (SELECT value FROM meta WHERE name = 'compact_revision'))
"""
_COMPACT_REVISION = "SELECT value FROM meta WHERE name = 'compact_revision'"
_CURRENT_ROW = """
SELECT l.id, l.create_revision, l.value FROM current AS c JOIN log AS l ON l.id = c.revision WHERE c.key = ?
"""
_INSERT_ROW = (
    "INSERT INTO log (id, key, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)"
)
_HISTORY_COLUMNS = """
SELECT l.id, l.key, l.deleted, l.create_revision, l.value, p.id, p.create_revision, p.value
FROM log AS l LEFT JOIN log AS p ON p.id = l.prev_revision AND l.prev_revision > 0
"""
# Every row a read at or above :new can no longer see; see the module docstring.
_DELETE_SUPERSEDED = """
DELETE FROM log WHERE id IN (
    SELECT o.id FROM (SELECT key, max(id) AS newest FROM log WHERE id > :old AND id <= :new GROUP BY key) AS t
    JOIN log AS o ON o.key = t.key AND o.id < t.newest
)
"""
_DELETE_TOMBSTONES = "DELETE FROM log WHERE id > :old AND id <= :new AND deleted = 1"


@dataclass(frozen=True, slots=True)
class StoreState:
    revision: int
    compact_revision: int


# -- connections -----------------------------------------------------------------------------------------------


def connect_writer(path: str, synchronous: str) -> sqlite3.Connection:
    if synchronous not in SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, got {synchronous!r}")
    conn = _connect(path)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        conn.close()
        raise StorageError(f"{path}: could not switch to WAL journal mode (got {mode!r})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


def connect_reader(path: str) -> sqlite3.Connection:
    conn = _connect(path)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _connect(path: str) -> sqlite3.Connection:
    # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE for writes, BEGIN for read snapshots).
    # check_same_thread=False: connections are used by one thread at a time but closed by another.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def initialize(conn: sqlite3.Connection) -> StoreState:
    """Create the schema if needed; check its version; return the persisted revision counters."""
    with write_transaction(conn):
        _create_schema(conn)
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?), ('compact_revision', 0)",
            (SCHEMA_VERSION,),
        )
        version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StorageError(
                f"unsupported storage schema version {version} (this code reads {SCHEMA_VERSION})"
            )
        return StoreState(revision=_head(conn), compact_revision=_compact_revision(conn))


def _create_schema(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT first; run the statements one by one inside our transaction instead.
    for statement in _SCHEMA:
        conn.execute(statement)


def pragmas(conn: sqlite3.Connection) -> dict[str, str]:
    journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    return {"journal_mode": journal_mode.upper(), "synchronous": SYNCHRONOUS_MODES[synchronous]}


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front, so the transaction can never fail half-way on a lock upgrade.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """A read transaction: every statement inside sees the same committed state (WAL snapshot isolation)."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


def _head(conn: sqlite3.Connection) -> int:
    return conn.execute(_HEAD).fetchone()[0]


def _compact_revision(conn: sqlite3.Connection) -> int:
    return conn.execute(_COMPACT_REVISION).fetchone()[0]


# -- reads -----------------------------------------------------------------------------------------------------


def read_key(conn: sqlite3.Connection, key: str) -> KeyValue | None:
    row = conn.execute(_CURRENT_ROW, (key,)).fetchone()
    return None if row is None else KeyValue(key, row[2], row[1], row[0])


def read_list(
    conn: sqlite3.Connection, prefix: str, revision: int, start_after: str, limit: int
) -> ListResult:
    with snapshot(conn):
        head = _head(conn)
        _check_readable(conn, revision, head)
        at = revision or head
        rows = (
            _current_rows(conn, prefix, start_after)
            if at == head
            else _rows_at(conn, prefix, start_after, at)
        )
        items: list[KeyValue] = []
        for key, value, create_revision, mod_revision in rows:
            if limit and len(items) == limit:
                return ListResult(items, at, more=True)
            items.append(KeyValue(key, value, create_revision, mod_revision))
        return ListResult(items, at)


def read_count(conn: sqlite3.Connection, prefix: str) -> int:
    where, params = _key_range("key", prefix, "")
    return conn.execute(f"SELECT count(*) FROM current WHERE {where}", params).fetchone()[0]


def read_history(conn: sqlite3.Connection, prefix: str, after: int, until: int, limit: int) -> list[Event]:
    """Up to ``limit`` events under ``prefix`` with ``after`` < revision <= ``until``, in revision order."""
    with snapshot(conn):
        compact_revision = _compact_revision(conn)
        if after < compact_revision:
            raise Compacted(after, compact_revision)
        where, params = _key_range("l.key", prefix, "")
        rows = conn.execute(
            f"{_HISTORY_COLUMNS} WHERE l.id > ? AND l.id <= ? AND {where} ORDER BY l.id LIMIT ?",
            (after, until, *params, limit),
        ).fetchall()
    return [_event_from_row(row) for row in rows]


def _check_readable(conn: sqlite3.Connection, revision: int, head: int) -> None:
    if revision > head:
        raise FutureRevision(revision, head)
    compact_revision = _compact_revision(conn)
    if 0 < revision < compact_revision:
        raise Compacted(revision, compact_revision)


def _current_rows(conn: sqlite3.Connection, prefix: str, start_after: str) -> sqlite3.Cursor:
    where, params = _key_range("c.key", prefix, start_after)
    return conn.execute(
        "SELECT c.key, l.value, l.create_revision, l.id FROM current AS c JOIN log AS l ON l.id = c.revision"
        f" WHERE {where} ORDER BY c.key",
        params,
    )


def _rows_at(conn: sqlite3.Connection, prefix: str, start_after: str, revision: int) -> Iterator[tuple]:
    # The latest row of each key at or below ``revision`` (SQLite takes bare columns from the max(id) row);
    # grouping walks the (key, id) index in key order, so the caller's limit stops the scan early.
    where, params = _key_range("key", prefix, start_after)
    cursor = conn.execute(
        f"SELECT key, value, create_revision, max(id), deleted FROM log WHERE {where} AND id <= ?"
        " GROUP BY key ORDER BY key",
        (*params, revision),
    )
    for key, value, create_revision, mod_revision, deleted in cursor:
        if not deleted:
            yield key, value, create_revision, mod_revision


def _key_range(column: str, prefix: str, start_after: str) -> tuple[str, tuple[str, ...]]:
    """SQL for ``column`` under ``prefix`` and after ``start_after``, with one lower bound the index can seek to."""
    if start_after >= prefix:
        clauses, params = [f"{column} > ?"], [start_after]
    else:
        clauses, params = [f"{column} >= ?"], [prefix]
    end = prefix_end(prefix)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return " AND ".join(clauses), tuple(params)


def _event_from_row(row: tuple) -> Event:
    revision, key, deleted, create_revision, value, prev_revision, prev_create_revision, prev_value = row
    prev = None if prev_revision is None else KeyValue(key, prev_value, prev_create_revision, prev_revision)
    return Event("DELETE" if deleted else "PUT", KeyValue(key, value, create_revision, revision), prev)


# -- writes (inside the writer's transaction) ------------------------------------------------------------------


def apply_create(conn: sqlite3.Connection, revision: int, key: str, value: bytes) -> Event:
    if conn.execute("SELECT 1 FROM current WHERE key = ?", (key,)).fetchone() is not None:
        raise KeyExists(key)
    conn.execute(_INSERT_ROW, (revision, key, 0, revision, 0, value))
    conn.execute("INSERT INTO current (key, revision) VALUES (?, ?)", (key, revision))
    return Event("PUT", KeyValue(key, value, revision, revision), None)


def apply_update(conn: sqlite3.Connection, revision: int, key: str, value: bytes, expected: int) -> Event:
    current = _current_or_raise(conn, key, expected)
    conn.execute(_INSERT_ROW, (revision, key, 0, current.create_revision, current.mod_revision, value))
    conn.execute("UPDATE current SET revision = ? WHERE key = ?", (revision, key))
    return Event("PUT", KeyValue(key, value, current.create_revision, revision), current)


def apply_delete(conn: sqlite3.Connection, revision: int, key: str, expected: int) -> Event:
    current = _current_or_raise(conn, key, expected)
    conn.execute(
        _INSERT_ROW, (revision, key, 1, current.create_revision, current.mod_revision, current.value)
    )
    conn.execute("DELETE FROM current WHERE key = ?", (key,))
    return Event("DELETE", KeyValue(key, current.value, current.create_revision, revision), current)


def _current_or_raise(conn: sqlite3.Connection, key: str, expected: int) -> KeyValue:
    current = read_key(conn, key)
    if current is None:
        raise KeyNotFound(key)
    if expected and current.mod_revision != expected:
        raise RevisionConflict(key, expected, current)
    return current


def compact_to(conn: sqlite3.Connection, revision: int) -> int:
    """One compaction step in its own transaction; returns the new compact revision."""
    with write_transaction(conn):
        old = _compact_revision(conn)
        if revision <= old:
            return old
        bounds = {"old": old, "new": revision}
        conn.execute(_DELETE_SUPERSEDED, bounds)
        conn.execute(_DELETE_TOMBSTONES, bounds)
        conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'", (revision,))
    return revision
