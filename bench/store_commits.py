"""Storage throughput: commits/s for sqlite (FULL, and NORMAL for comparison) and memory; list and watch figures.

    .venv/bin/python bench/store_commits.py [--seconds 2] [--writers 64] [--value-bytes 1024]

Each figure runs for about ``--seconds`` (bounded by an operation count too) on a fresh store in a temporary
directory on the same disk as /tmp. Sequential = one task awaiting each write: one transaction (one fsync) per
write. Concurrent = ``--writers`` tasks writing at once: the single writer commits whatever waits as one group.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from provisioner.services.storage.backend import Backend
from provisioner.services.storage.memory import MemoryBackend
from provisioner.services.storage.sqlite import SqliteBackend

MAX_OPERATIONS = 200_000


def new_backend(kind: str, directory: Path) -> Backend:
    if kind == "memory":
        return MemoryBackend(compact_interval=None)
    synchronous = kind.removeprefix("sqlite-")
    return SqliteBackend(
        directory / f"{kind}-{time.monotonic_ns()}.db", compact_interval=None, synchronous=synchronous
    )


async def run_for(
    seconds: float, tasks: int, one_operation: Callable[[int, int], Awaitable[None]]
) -> tuple[int, float]:
    """Run ``tasks`` loops of ``one_operation(task, n)`` until ``seconds`` pass; (operations, elapsed)."""
    deadline = time.perf_counter() + seconds
    budget = MAX_OPERATIONS // tasks
    counts = [0] * tasks

    async def loop(task: int) -> None:
        while counts[task] < budget and time.perf_counter() < deadline:
            await one_operation(task, counts[task])
            counts[task] += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(task) for task in range(tasks)))
    return sum(counts), time.perf_counter() - started


async def bench_creates(backend: Backend, seconds: float, tasks: int, value: bytes) -> tuple[int, float]:
    async def create(task: int, n: int) -> None:
        await backend.create(f"/registry/pods/ns-{task}/pod-{n:07d}", value)

    return await run_for(seconds, tasks, create)


async def bench_cas_updates(backend: Backend, seconds: float, tasks: int, value: bytes) -> tuple[int, float]:
    revisions = [
        (await backend.create(f"/registry/leases/node-{t}", value)).mod_revision for t in range(tasks)
    ]

    async def update(task: int, n: int) -> None:
        kv = await backend.update(f"/registry/leases/node-{task}", value, revisions[task])
        revisions[task] = kv.mod_revision

    return await run_for(seconds, tasks, update)


def commit_line(label: str, backend: Backend, operations: int, elapsed: float) -> str:
    line = f"  {label:<44} {operations / elapsed:>10,.0f} /s   ({operations:,} in {elapsed:.2f} s)"
    if isinstance(backend, SqliteBackend):
        stats = backend.writer_stats
        line += (
            f"   mean group {stats.writes / max(stats.transactions, 1):.1f}, largest {stats.largest_group}"
        )
    return line


async def commits(directory: Path, seconds: float, writers: int, value: bytes) -> None:
    print(f"commits/s ({len(value)}-byte values):")
    for kind in ("sqlite-FULL", "sqlite-NORMAL", "memory"):
        for workload, bench in (("create", bench_creates), ("CAS update", bench_cas_updates)):
            for tasks in (1, writers):
                backend = new_backend(kind, directory)
                await backend.start()
                try:
                    operations, elapsed = await bench(backend, seconds, tasks, value)
                    label = f"{kind} {workload}, {tasks} writer{'s' if tasks > 1 else ''}"
                    print(commit_line(label, backend, operations, elapsed))
                finally:
                    await backend.close()


async def reads(directory: Path, value: bytes, keys: int = 5000, updates: int = 5000) -> None:
    print(f"reads (sqlite-FULL, {keys:,} keys + {updates:,} updates of history):")
    backend = new_backend("sqlite-FULL", directory)
    await backend.start()
    try:
        await asyncio.gather(
            *(backend.create(f"/registry/pods/default/pod-{n:05d}", value) for n in range(keys))
        )
        past = await backend.current_revision()
        kvs = [await backend.get(f"/registry/pods/default/pod-{n:05d}") for n in range(updates)]
        await asyncio.gather(*(backend.update(kv.key, value, kv.mod_revision) for kv in kvs if kv))
        await report_reads(backend, past, keys)
    finally:
        await backend.close()


async def report_reads(backend: Backend, past: int, keys: int) -> None:
    async def timed(label: str, call: Callable[[], Awaitable[object]], repeat: int) -> None:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)
        print(f"  {label:<44} median {statistics.median(samples) * 1000:8.2f} ms")

    await timed("get one key", lambda: backend.get("/registry/pods/default/pod-00042"), 500)
    await timed(f"list {keys:,} keys (now)", lambda: backend.list("/registry/pods/"), 10)
    await timed(
        f"list {keys:,} keys (past revision)", lambda: backend.list("/registry/pods/", revision=past), 10
    )
    await timed("list 500 keys (now, limit=500)", lambda: backend.list("/registry/pods/", limit=500), 20)
    await timed("count", lambda: backend.count("/registry/pods/"), 20)


async def watch_fanout(directory: Path, value: bytes, watchers: int = 1000, events: int = 2000) -> None:
    print(f"watch fan-out (sqlite-FULL, {watchers} watchers, {events:,} events from 64 writers):")
    backend = SqliteBackend(directory / "watch.db", compact_interval=None, watch_queue_size=events)
    await backend.start()
    try:
        streams = [backend.watch("/registry/pods/", 0) for _ in range(watchers)]
        target = events

        async def drain(stream) -> None:  # noqa: ANN001 - a StorageWatch
            received = 0
            async for _ in stream:
                received += 1
                if received == target:
                    return

        started = time.perf_counter()
        consumers = [asyncio.create_task(drain(stream)) for stream in streams]
        await bench_fixed_creates(backend, events, value)
        written = time.perf_counter() - started
        await asyncio.gather(*consumers)
        elapsed = time.perf_counter() - started
        delivered = watchers * events
        print(f"  writes done after {written:.2f} s; all delivered after {elapsed:.2f} s")
        print(f"  {'events delivered':<44} {delivered / elapsed:>10,.0f} /s")
    finally:
        await backend.close()


async def bench_fixed_creates(backend: Backend, count: int, value: bytes, tasks: int = 64) -> None:
    async def writer(task: int) -> None:
        for n in range(task, count, tasks):
            await backend.create(f"/registry/pods/bench/pod-{n:07d}", value)

    await asyncio.gather(*(writer(task) for task in range(tasks)))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each commit figure")
    parser.add_argument(
        "--writers", type=int, default=64, help="concurrent writers for the group-commit figures"
    )
    parser.add_argument("--value-bytes", type=int, default=1024)
    args = parser.parse_args()
    value = b"x" * args.value_bytes
    with tempfile.TemporaryDirectory(prefix="store-bench-", dir="/tmp") as tmp:
        directory = Path(tmp)
        await commits(directory, args.seconds, args.writers, value)
        await reads(directory, value)
        await watch_fanout(directory, value)


if __name__ == "__main__":
    asyncio.run(main())
