"""Durability soak: SIGKILL the apiserver under write load, restart it, and look for acknowledged writes lost.

    .venv/bin/python bench/kill_cycles.py              # 100 cycles, a few minutes
    .venv/bin/python bench/kill_cycles.py --quick      # 10 cycles
    .venv/bin/python bench/kill_cycles.py --cycles 300 --writers 32

One dev cluster in a temporary directory (removed at the end). Each cycle: `--writers` clients create new
configmaps and strategic-merge-patch ones already acknowledged, as fast as the server answers; after the first
acknowledgement of the cycle and a further random delay, SIGKILL goes to the apiserver (PID from dev.json);
`dev.up` restarts it on the same store; a LIST then checks every write acknowledged so far, in any cycle: the
configmap is there with at least the resourceVersion its last acknowledged write returned. A write that was in
flight at the kill may or may not have landed; only acknowledged ones count. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from devbench import Cluster, latency_summary, machine_lines, sigkill, start, temporary_cluster

NAMESPACE = "durable"
CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
WRITER_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Settings:
    cycles: int
    writers: int
    max_kill_delay: float
    update_share: float
    seed: int


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 cycles")
    parser.add_argument("--cycles", type=int, help="kill/restart cycles (default 100)")
    parser.add_argument("--writers", type=int, default=8, help="concurrent writer connections (default 8)")
    parser.add_argument("--max-kill-delay", type=float, default=0.5,
                        help="the kill comes 0..this many seconds after the cycle's first acknowledgement")
    parser.add_argument("--update-share", type=float, default=0.5,
                        help="fraction of writes that patch an acknowledged configmap instead of creating one")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cycles = args.cycles if args.cycles is not None else (10 if args.quick else 100)
    return Settings(cycles, args.writers, args.max_kill_delay, args.update_share, args.seed)


@dataclass
class Ledger:
    """Every acknowledged write: configmap name → the highest resourceVersion a write to it returned."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    creates: int = 0
    updates: int = 0
    rejected: list[str] = field(default_factory=list)  # HTTP errors while the server was up
    landed: set[str] = field(default_factory=set)  # stored though never acknowledged (in flight at a kill)

    def acknowledge(self, name: str, resource_version: int, created: bool) -> None:
        self.acknowledged[name] = max(resource_version, self.acknowledged.get(name, 0))
        if created:
            self.creates += 1
        else:
            self.updates += 1

    @property
    def writes(self) -> int:
        return self.creates + self.updates


@dataclass
class CycleResult:
    acknowledged: int  # writes acknowledged in this cycle
    write_seconds: float
    kill_delay: float
    restart_seconds: float
    lost: list[str]
    landed_unacknowledged: int  # creates in flight at the kill that committed anyway: the kill hit mid-write


# ------------------------------------------------------------------------------------------------- writing
class Writer:
    def __init__(self, session: aiohttp.ClientSession, ledger: Ledger, names: itertools.count[int],
                 rng: random.Random, update_share: float) -> None:
        self._session = session
        self._ledger = ledger
        self._names = names
        self._rng = rng
        self._update_share = update_share

    async def run(self, first_ack: asyncio.Event) -> None:
        """Write until the connection fails (the server was killed)."""
        while True:
            try:
                await self.write_one()
            except (aiohttp.ClientError, OSError):
                return
            first_ack.set()

    async def write_one(self) -> None:
        known = self._ledger.acknowledged
        if known and self._rng.random() < self._update_share:
            name = self._rng.choice(list(known)) if len(known) < 64 else self._recent(known)
            await self._write(name, "PATCH", f"{CONFIGMAPS}/{name}", STRATEGIC_MERGE_PATCH,
                              {"data": {"value": str(self._rng.random())}}, created=False)
        else:
            name = f"cm-{next(self._names):07d}"
            await self._write(name, "POST", CONFIGMAPS, "application/json",
                              {"metadata": {"name": name}, "data": {"value": "0"}}, created=True)

    def _recent(self, known: dict[str, int]) -> str:
        # Mostly configmaps written lately (dicts keep insertion order): a list() of every name per write would
        # cost more than the write once tens of thousands are acknowledged.
        return next(itertools.islice(reversed(known), self._rng.randrange(64), None))

    async def _write(self, name: str, method: str, path: str, content_type: str, body: object,
                     created: bool) -> None:
        async with self._session.request(method, path, data=orjson.dumps(body),
                                         headers={"Content-Type": content_type}) as response:
            payload = await response.read()
        if response.status >= 300:
            self._ledger.rejected.append(f"{method} {name}: {response.status} {payload[:200]!r}")
            return
        resource_version = int(orjson.loads(payload)["metadata"]["resourceVersion"])
        self._ledger.acknowledge(name, resource_version, created)


async def write_until_killed(cluster: Cluster, ledger: Ledger, names: itertools.count[int],
                             rng: random.Random, settings: Settings) -> tuple[float, float]:
    """Writers on `settings.writers` connections; SIGKILL after the first acknowledgement + a random delay.

    Returns (seconds of writing, the random delay)."""
    first_ack = asyncio.Event()
    kill_delay = rng.uniform(0.0, settings.max_kill_delay)
    async with cluster.session(settings.writers) as session:
        writers = [Writer(session, ledger, names, rng, settings.update_share) for _ in range(settings.writers)]
        started = time.perf_counter()
        tasks = [asyncio.create_task(writer.run(first_ack)) for writer in writers]
        await asyncio.wait_for(first_ack.wait(), timeout=WRITER_STOP_TIMEOUT)
        await asyncio.sleep(kill_delay)
        await sigkill(cluster.apiserver_pid())
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=WRITER_STOP_TIMEOUT)
        return time.perf_counter() - started, kill_delay


# ------------------------------------------------------------------------------------------------- checking
async def stored_versions(cluster: Cluster) -> dict[str, int]:
    async with cluster.session(1) as session, session.get(CONFIGMAPS) as response:
        response.raise_for_status()
        listed = orjson.loads(await response.read())
    return {item["metadata"]["name"]: int(item["metadata"]["resourceVersion"]) for item in listed["items"]}


def lost_writes(acknowledged: dict[str, int], stored: dict[str, int]) -> list[str]:
    """Acknowledged writes the store does not have: missing, or older than the acknowledged resourceVersion."""
    lost = []
    for name, resource_version in acknowledged.items():
        found = stored.get(name)
        if found is None:
            lost.append(f"{name} (acknowledged at {resource_version}) missing")
        elif found < resource_version:
            lost.append(f"{name} acknowledged at {resource_version}, stored at {found}")
    return lost


async def create_namespace(cluster: Cluster) -> None:
    async with cluster.session(1) as session:
        body = orjson.dumps({"metadata": {"name": NAMESPACE}})
        async with session.post("/api/v1/namespaces", data=body,
                                headers={"Content-Type": "application/json"}) as response:
            response.raise_for_status()


# ------------------------------------------------------------------------------------------------- cycles
def run_cycle(cluster: Cluster, ledger: Ledger, names: itertools.count[int], rng: random.Random,
              settings: Settings) -> tuple[Cluster, CycleResult]:
    before = ledger.writes
    write_seconds, kill_delay = asyncio.run(write_until_killed(cluster, ledger, names, rng, settings))
    restart_started = time.perf_counter()
    cluster = start(cluster.directory)
    restart_seconds = time.perf_counter() - restart_started
    stored = asyncio.run(stored_versions(cluster))
    lost = lost_writes(ledger.acknowledged, stored)
    landed = len(stored.keys() - ledger.acknowledged.keys() - ledger.landed)
    ledger.landed |= stored.keys() - ledger.acknowledged.keys()
    return cluster, CycleResult(ledger.writes - before, write_seconds, kill_delay, restart_seconds, lost, landed)


def progress_line(index: int, result: CycleResult, ledger: Ledger) -> str:
    return (f"  cycle {index + 1:4d}: {result.acknowledged:5d} writes acknowledged "
            f"({result.acknowledged / result.write_seconds:5.0f}/s), killed {result.kill_delay * 1000:3.0f} ms "
            f"after the first, restart {result.restart_seconds:.2f} s, lost {len(result.lost)}; "
            f"{len(ledger.acknowledged)} configmaps")


def print_summary(results: list[CycleResult], ledger: Ledger, directory_size: int, elapsed: float) -> None:
    lost = [entry for result in results for entry in result.lost]
    restarts = [result.restart_seconds for result in results]
    rates = sorted(result.acknowledged / result.write_seconds for result in results)
    print(f"\ncycles                  {len(results)}")
    print(f"writes acknowledged     {ledger.writes} ({ledger.creates} creates, {ledger.updates} patches), "
          f"{len(ledger.acknowledged)} configmaps; median {rates[len(rates) // 2]:.0f} writes/s per cycle")
    print(f"writes lost             {len(lost)}  (checked after every restart, over all cycles so far)")
    for entry in lost[:10]:
        print(f"    {entry}")
    landed = sum(result.landed_unacknowledged for result in results)
    print(f"in flight at the kill   {landed} creates never acknowledged were stored anyway "
          f"(in {sum(1 for result in results if result.landed_unacknowledged)} cycles): kills hit mid-write")
    print(f"restart (dev.up → ready) {latency_summary(restarts, (0.5, 0.99))}")
    print(f"HTTP errors while up    {len(ledger.rejected)}" + (f", first: {ledger.rejected[0]}"
                                                                 if ledger.rejected else ""))
    print(f"store on disk           {directory_size / 1e6:.1f} MB; total {elapsed:.0f} s")


def directory_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    print("\n".join(machine_lines()))
    print(f"{settings.cycles} cycles, {settings.writers} writers, kill 0-{settings.max_kill_delay * 1000:.0f} ms "
          f"after each cycle's first acknowledged write, {settings.update_share:.0%} of writes are patches")
    rng = random.Random(settings.seed)
    ledger, names, results = Ledger(), itertools.count(), []
    started = time.perf_counter()
    with temporary_cluster("bench-kill-") as cluster:
        asyncio.run(create_namespace(cluster))
        for index in range(settings.cycles):
            cluster, result = run_cycle(cluster, ledger, names, rng, settings)
            results.append(result)
            if result.lost or index % 10 == 9 or index == settings.cycles - 1:
                print(progress_line(index, result, ledger), flush=True)
        size = directory_size(cluster.directory / "apiserver")
    print_summary(results, ledger, size, time.perf_counter() - started)


if __name__ == "__main__":
    main()
