"""SQLite-only properties: what survives a restart or a SIGKILL, the durability settings, group commit."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from storage_helpers import HANG_GUARD_SECONDS, collect_until

from provisioner.services.storage import sqlite as sqlite_module
from provisioner.services.storage.backend import Event, KeyExists, KeyValue, StorageError
from provisioner.services.storage.sqlite import SqliteBackend
from provisioner.services.storage.sqlite_writer import CallRequest, GroupCommitWriter, WriteRequest

REPO_ROOT = Path(__file__).resolve().parents[3]


async def open_store(path: Path, **options: object) -> SqliteBackend:
    options.setdefault("compact_interval", None)
    backend = SqliteBackend(path, **options)  # type: ignore[arg-type]
    await backend.start()
    return backend


def log_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM log").fetchone()[0]


# -- restart ---------------------------------------------------------------------------------------------------


async def test_a_reopened_store_has_its_data_history_and_counters(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    backend = await open_store(path)
    a = await backend.create("/r/a", b"a1")
    b = await backend.create("/r/b", b"b1")
    await backend.update("/r/a", b"a2", a.mod_revision)
    await backend.delete("/r/b", b.mod_revision)
    await backend.create("/r/c", b"c1")
    await backend.compact(3)
    head = await backend.current_revision()
    now = await backend.list("/r/")
    at_four = await backend.list("/r/", revision=4)
    tail = await collect_until(backend.watch("/r/", 3), head)
    await backend.close()

    reopened = await open_store(path)
    try:
        assert await reopened.current_revision() == head
        assert reopened.compact_revision == 3
        assert await reopened.list("/r/") == now
        assert await reopened.list("/r/", revision=4) == at_four
        assert await collect_until(reopened.watch("/r/", 3), head) == tail
        assert (await reopened.create("/r/d", b"d1")).mod_revision == head + 1
    finally:
        await reopened.close()


async def test_the_revision_counter_survives_even_when_compaction_removed_the_newest_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    backend = await open_store(path)
    await backend.create("/k", b"v")
    await backend.delete("/k")  # revision 2, a tombstone
    await backend.compact(2)  # removes both rows: the log is empty
    await backend.close()
    assert log_rows(path) == 0

    reopened = await open_store(path)
    try:
        assert await reopened.current_revision() == 2
        assert (await reopened.create("/k", b"again")).mod_revision == 3
    finally:
        await reopened.close()


async def test_close_commits_every_write_submitted_before_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    backend = await open_store(path)
    writes = [asyncio.create_task(backend.create(f"/c/{n:02d}", b"v")) for n in range(50)]
    await asyncio.sleep(0)  # every task has submitted its write
    await backend.close()
    assert all(write.done() for write in writes)
    assert [write.result().mod_revision for write in writes] == list(range(1, 51))
    reopened = await open_store(path)
    try:
        assert await reopened.count("/c/") == 50
    finally:
        await reopened.close()


_CRASHING_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from provisioner.services.storage.sqlite import SqliteBackend

    async def keep_writing(backend, key):
        kv = await backend.get(key)
        if kv is None:
            kv = await backend.create(key, b"0")
            print(key, 0, kv.mod_revision, flush=True)
        while True:
            counter = int(kv.value) + 1
            kv = await backend.update(key, str(counter).encode(), kv.mod_revision)
            print(key, counter, kv.mod_revision, flush=True)  # printed only once acknowledged

    async def main(path):
        backend = SqliteBackend(path, compact_interval=None)
        await backend.start()
        await asyncio.gather(*(keep_writing(backend, f"/crash/{n}") for n in range(8)))

    asyncio.run(main(sys.argv[1]))
    """
)


def run_until_killed(path: Path, script: Path, acknowledgements: int) -> list[tuple[str, int, int]]:
    """Start the writer, SIGKILL it after ``acknowledgements`` acks; every (key, counter, revision) it acked."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )
    guard = threading.Timer(HANG_GUARD_SECONDS * 3, child.kill)
    guard.start()
    lines: list[str] = []
    try:
        assert child.stdout is not None
        while len(lines) < acknowledgements:
            line = child.stdout.readline()
            if not line:
                break
            lines.append(line)
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate()  # acks printed before the kill count too
        lines += rest.splitlines(keepends=True)
    finally:
        guard.cancel()
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    complete = [line.split() for line in lines if line.endswith("\n")]  # a line cut by the kill is no ack
    assert len(complete) >= acknowledgements, "the writer stopped before it was killed"
    return [(key, int(counter), int(revision)) for key, counter, revision in complete]


async def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    script = tmp_path / "crashing_writer.py"
    script.write_text(_CRASHING_WRITER)
    for _cycle in range(3):
        acked = await asyncio.to_thread(run_until_killed, path, script, 200)
        backend = await open_store(path)
        try:
            head = await backend.current_revision()
            assert head >= max(revision for _, _, revision in acked)
            for key, counter, revision in acked:
                listed = await backend.list(key, revision=revision)
                assert listed.items == [
                    KeyValue(key, str(counter).encode(), listed.items[0].create_revision, revision)
                ]
            for key in {key for key, _, _ in acked}:
                last_acked = max(counter for k, counter, _ in acked if k == key)
                assert int((await backend.get(key)).value) >= last_acked
        finally:
            await backend.close()


# -- settings and compaction -----------------------------------------------------------------------------------


async def test_wal_and_synchronous_full_are_in_force(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    backend = await open_store(path)
    try:
        assert await backend.durability_settings() == {"journal_mode": "WAL", "synchronous": "FULL"}
    finally:
        await backend.close()
    with sqlite3.connect(path) as conn:  # WAL is a property of the file
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_synchronous_can_be_lowered_explicitly(tmp_path: Path) -> None:
    backend = await open_store(tmp_path / "store.db", synchronous="NORMAL")
    try:
        assert (await backend.durability_settings())["synchronous"] == "NORMAL"
    finally:
        await backend.close()
    with pytest.raises(ValueError):
        SqliteBackend(tmp_path / "other.db", synchronous="SOMETIMES")


async def test_compaction_removes_superseded_rows_from_the_file_in_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "COMPACT_STEP", 3)
    path = tmp_path / "store.db"
    backend = await open_store(path)
    try:
        kv = await backend.create("/k/hot", b"0")
        for n in range(1, 20):
            kv = await backend.update("/k/hot", str(n).encode(), kv.mod_revision)
        await backend.create("/k/gone", b"x")
        await backend.delete("/k/gone")
        await backend.create("/k/kept", b"y")
        head = await backend.current_revision()
        assert log_rows(path) == head
        await backend.compact(head - 1)
        assert backend.compact_revision == head - 1
        assert log_rows(path) == 2  # the hot key's latest row and /k/kept's only row
        listed = await backend.list("/k/")
        assert [(i.key, i.value) for i in listed.items] == [("/k/hot", b"19"), ("/k/kept", b"y")]
    finally:
        await backend.close()


async def test_a_store_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    backend = await open_store(path)
    await backend.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
    with pytest.raises(StorageError, match="schema version 99"):
        await open_store(path)


# -- group commit ----------------------------------------------------------------------------------------------


class HeldWriter:
    """A writer whose thread is held inside a call, so requests pile up and form one group on release."""

    def __init__(self, path: Path) -> None:
        self.published: list[list[Event]] = []
        self.writer = GroupCommitWriter(
            str(path), synchronous="FULL", max_batch=512, on_commit=self.published.append
        )
        self._held = threading.Event()
        self._release = threading.Event()

    async def start_held(self) -> None:
        await self.writer.start()
        self.writer.submit(CallRequest(self._hold, asyncio.get_running_loop().create_future()))
        assert await asyncio.to_thread(self._held.wait, HANG_GUARD_SECONDS)

    def _hold(self, conn: sqlite3.Connection) -> None:
        self._held.set()
        self._release.wait(HANG_GUARD_SECONDS)

    def write(self, kind: str, key: str, value: object = b"v", expected: int = 0) -> asyncio.Future[KeyValue]:
        future: asyncio.Future[KeyValue] = asyncio.get_running_loop().create_future()
        self.writer.submit(WriteRequest(kind, key, value, expected, future))  # type: ignore[arg-type]
        return future

    def release(self) -> None:
        self._release.set()


async def test_waiting_writes_commit_as_one_group_with_a_revision_each(tmp_path: Path) -> None:
    held = HeldWriter(tmp_path / "store.db")
    await held.start_held()
    futures = [held.write("create", f"/g/{n}") for n in range(30)]
    futures.insert(10, held.write("create", "/g/3"))  # refused: /g/3 is created earlier in the same group
    futures.append(held.write("update", "/g/0", b"new", expected=1))  # sees the group's own first write
    held.release()
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    await held.writer.stop()

    assert isinstance(outcomes[10], KeyExists)
    committed = [o for o in outcomes if isinstance(o, KeyValue)]
    assert [kv.mod_revision for kv in committed] == list(range(1, 32))
    assert committed[-1] == KeyValue("/g/0", b"new", 1, 31)
    assert held.writer.stats.transactions == 1 and held.writer.stats.largest_group == 32
    assert len(held.published) == 1 and [e.kv for e in held.published[0]] == committed


async def test_a_write_that_breaks_its_group_fails_alone(tmp_path: Path) -> None:
    held = HeldWriter(tmp_path / "store.db")
    await held.start_held()
    before = [held.write("create", f"/g/{n}") for n in range(3)]
    broken = held.write("create", "/g/broken", value=object())  # SQLite cannot bind it
    after = [held.write("create", f"/g/{n}") for n in range(3, 6)]
    held.release()
    outcomes = await asyncio.gather(*before, broken, *after, return_exceptions=True)
    await held.writer.stop()

    assert isinstance(outcomes[3], StorageError)
    committed = outcomes[:3] + outcomes[4:]
    assert [kv.mod_revision for kv in committed] == list(range(1, 7))  # type: ignore[union-attr]
    assert log_rows(tmp_path / "store.db") == 6
