"""apiserver under load, over HTTPS on loopback: pod creates/s, latency at a fixed rate, watch fan-out, RSS.

    .venv/bin/python bench/apiserver_load.py            # a few minutes
    .venv/bin/python bench/apiserver_load.py --quick    # about 30 s
    .venv/bin/python bench/apiserver_load.py --only creates,watch --py-spy /tmp/apiserver  # + profiles

Each part runs against a dev cluster (`dev.up`) in a temporary directory, removed at the end, with the admin
client certificate of its kubeconfig and TLS verified against its CA. Prints figures; asserts nothing.

  creates  N pods as `kubectl run` POSTs them, with C concurrent connections each doing one request at a time.
  rate     open loop at a fixed offered rate (70 % GET pod, 20 % LIST a namespace of ~50 pods, 10 % strategic
           merge PATCH of labels); requests start at their scheduled times whatever the earlier ones do, and
           latency is measured from the scheduled time, so a stall is charged to every request it delays.
  watch    W watchers on the configmaps of one namespace (one HTTP/1.1 connection each), then spaced writes
           that carry their send time (time.monotonic_ns, one clock for the whole machine) in an annotation;
           delivery latency = receive time - send time, per watcher and event.
  memory   apiserver VmRSS idle, after storing pods + configmaps, and after a LIST of all of them (own cluster).

The client is Python on the same cores as the apiserver: client CPU seconds are printed next to the server's,
and client-side delays (dispatch lag in `rate`, fan-in in `watch`) are part of the figures, so they are upper
bounds for the server. With other work on the machine, re-run and compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from devbench import (
    KUBECTL_RUN_POD,
    KUBECTL_RUN_QUERY,
    Cluster,
    cpu_seconds_of,
    latency_summary,
    load_average,
    machine_lines,
    memory_of,
    own_cpu_seconds,
    temporary_cluster,
)

PARTS = ("creates", "rate", "watch", "memory")
SENT_AT_ANNOTATION = "bench.provision.dev/sent-monotonic-ns"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON = "application/json"
PY_SPY_MODES = {"threads": ("--threads", "--idle"), "gil": ("--gil",)}


@dataclass(frozen=True)
class Settings:
    pods: int
    concurrency: tuple[int, ...]
    rate: float
    seconds: float
    namespace_pods: int
    watchers: int
    watch_writes: int
    write_interval: float
    objects: int
    parts: tuple[str, ...]
    seed: int
    py_spy: str  # path prefix of py-spy profiles, "" for none
    py_spy_mode: str  # "threads" or "gil"

    def profile_path(self, part: str) -> Path | None:
        return Path(f"{self.py_spy}-{part}.txt") if self.py_spy else None


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts: about 30 s in all")
    parser.add_argument("--pods", type=int, help="pods created per concurrency level (default 3000)")
    parser.add_argument("--concurrency", help="comma-separated connection counts (default 1,16,64)")
    parser.add_argument("--rate", type=float, default=200.0, help="offered requests/s in `rate` (default 200)")
    parser.add_argument("--seconds", type=float, help="measured duration of `rate` (default 15)")
    parser.add_argument("--namespace-pods", type=int, default=50, help="pods in the namespace `rate` lists")
    parser.add_argument("--watchers", type=int, help="concurrent watch streams (default 1000)")
    parser.add_argument("--writes", type=int, help="writes the watchers see (default 50)")
    parser.add_argument("--write-interval", type=float, default=0.1, help="seconds between writes (default 0.1)")
    parser.add_argument("--objects", type=int, help="objects stored for `memory`, half pods (default 10000)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the request mix")
    parser.add_argument("--py-spy", default="", metavar="PREFIX",
                        help="record the apiserver with py-spy (raw format, see profile_summary.py) into "
                             "PREFIX-creates.txt (busiest level), PREFIX-rate.txt and PREFIX-watch.txt (writes)")
    parser.add_argument("--py-spy-mode", choices=tuple(PY_SPY_MODES), default="threads",
                        help="threads: every thread, idle samples too, one root per thread (how busy each is); "
                             "gil: only the thread holding the GIL (where Python time goes)")
    args = parser.parse_args(argv)
    quick = args.quick
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
    concurrency = args.concurrency or "1,16,64"
    return Settings(
        pods=_given(args.pods, 600 if quick else 3000),
        concurrency=tuple(int(c) for c in concurrency.split(",")),
        rate=args.rate,
        seconds=_given(args.seconds, 5.0 if quick else 15.0),
        namespace_pods=args.namespace_pods,
        watchers=_given(args.watchers, 1000),
        watch_writes=_given(args.writes, 20 if quick else 50),
        write_interval=args.write_interval,
        objects=_given(args.objects, 2000 if quick else 10_000),
        parts=parts,
        seed=args.seed,
        py_spy=args.py_spy,
        py_spy_mode=args.py_spy_mode,
    )


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value


# ------------------------------------------------------------------------------------------------- requests
def pod_body(name: str) -> bytes:
    pod = orjson.loads(orjson.dumps(KUBECTL_RUN_POD))
    pod["metadata"]["name"] = pod["metadata"]["labels"]["run"] = pod["spec"]["containers"][0]["name"] = name
    return orjson.dumps(pod)


def configmap_body(name: str, annotations: dict[str, str] | None = None) -> bytes:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                         "data": {"key": "value", "index": name}})


def pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


class RequestFailed(Exception):
    pass


async def send(session: aiohttp.ClientSession, method: str, path: str, body: bytes | None = None,
               content_type: str = JSON) -> bytes:
    """One request; the response body, or RequestFailed naming the status and message."""
    headers = {"Content-Type": content_type} if body is not None else None
    async with session.request(method, path, data=body, headers=headers) as response:
        payload = await response.read()
        if response.status >= 300:
            raise RequestFailed(f"{method} {path}: {response.status} {payload[:200]!r}")
        return payload


async def create_namespace(session: aiohttp.ClientSession, name: str) -> None:
    await send(session, "POST", "/api/v1/namespaces", orjson.dumps({"metadata": {"name": name}}))


async def create_pods(session: aiohttp.ClientSession, namespace: str, names: list[str], concurrency: int) -> None:
    """Create pods without timing them (set-up)."""
    path = f"{pods_path(namespace)}?{KUBECTL_RUN_QUERY}"
    pending = iter(names)

    async def worker() -> None:
        for name in pending:
            await send(session, "POST", path, pod_body(name))

    await asyncio.gather(*(worker() for _ in range(concurrency)))


# ------------------------------------------------------------------------------------------------- creates
@dataclass
class CreateRun:
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0


async def bench_creates(cluster: Cluster, settings: Settings) -> None:
    print(f"\n[creates] {settings.pods} pods per level, `kubectl run` bodies (POST ?{KUBECTL_RUN_QUERY})")
    busiest = max(settings.concurrency)
    for concurrency in settings.concurrency:
        run = await create_level(cluster, settings, concurrency, profiled=concurrency == busiest)
        print(create_line(run, settings.pods))


async def create_level(cluster: Cluster, settings: Settings, concurrency: int, profiled: bool) -> CreateRun:
    namespace = f"creates-c{concurrency}"
    run = CreateRun(concurrency)
    async with cluster.session(concurrency) as session:
        await create_namespace(session, namespace)
        await warm_connections(session, concurrency)
        with py_spy_recording(cluster.apiserver_pid(), settings, "creates" if profiled else ""):
            await timed_creates(cluster, session, namespace, settings.pods, run)
    return run


async def warm_connections(session: aiohttp.ClientSession, connections: int) -> None:
    """Open every connection first, so TLS handshakes are not counted as create latency."""
    await asyncio.gather(*(send(session, "GET", "/version") for _ in range(connections)))


async def timed_creates(cluster: Cluster, session: aiohttp.ClientSession, namespace: str, count: int,
                        run: CreateRun) -> None:
    path = f"{pods_path(namespace)}?{KUBECTL_RUN_QUERY}"
    indexes = iter(range(count))

    async def worker() -> None:
        for index in indexes:
            body = pod_body(f"pod-{index:06d}")
            started = time.perf_counter()
            try:
                await send(session, "POST", path, body)
            except (RequestFailed, aiohttp.ClientError) as err:
                run.errors.append(str(err))
                continue
            run.latencies.append(time.perf_counter() - started)

    pid = cluster.apiserver_pid()
    server_cpu, client_cpu, started = cpu_seconds_of(pid), own_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(run.concurrency)))
    run.elapsed = time.perf_counter() - started
    run.server_cpu = cpu_seconds_of(pid) - server_cpu
    run.client_cpu = own_cpu_seconds() - client_cpu


def create_line(run: CreateRun, count: int) -> str:
    done = len(run.latencies)
    line = (f"  C={run.concurrency:<3} {done / run.elapsed:7.0f} creates/s   "
            f"{latency_summary(run.latencies, (0.5, 0.99))}   "
            f"cpu: server {run.server_cpu / run.elapsed:4.0%}, client {run.client_cpu / run.elapsed:4.0%}   "
            f"{done}/{count} in {run.elapsed:.1f} s")
    if run.errors:
        line += f"\n        {len(run.errors)} errors, first: {run.errors[0]}"
    return line


@contextlib.contextmanager
def py_spy_recording(pid: int, settings: Settings, part: str) -> Iterator[None]:
    """py-spy samples `pid` while the block runs, if profiles were asked for (and `part` is not "")."""
    output = settings.profile_path(part) if part else None
    if output is None:
        yield
        return
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [executable, "record", "-p", str(pid), "-o", str(output), "--format", "raw", "--rate", "200",
               "--nonblocking", *PY_SPY_MODES[settings.py_spy_mode]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)  # attached before the load starts
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes the profile and exits
        _, stderr = process.communicate(timeout=30)
        status = "written" if output.exists() else f"not written: {stderr.decode(errors='replace')[-300:]}"
        print(f"  (py-spy profile of the apiserver: {output} {status})")


# ------------------------------------------------------------------------------------------------- rate
@dataclass(frozen=True)
class Operation:
    verb: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str = JSON


@dataclass
class RateRun:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    dispatch_lag: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_scheduled: float = 0.0
    last_completed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def record(self, verb: str, latency: float) -> None:
        self.latencies.setdefault(verb, []).append(latency)


def request_mix(namespace: str, names: list[str], count: int, rng: random.Random) -> list[Operation]:
    """70 % GET one pod, 20 % LIST the namespace, 10 % strategic merge PATCH of a label."""
    operations = []
    for index in range(count):
        roll = rng.random()
        name = rng.choice(names)
        if roll < 0.7:
            operations.append(Operation("GET", "GET", f"{pods_path(namespace)}/{name}"))
        elif roll < 0.9:
            operations.append(Operation("LIST", "GET", pods_path(namespace)))
        else:
            patch = orjson.dumps({"metadata": {"labels": {"bench-patch": str(index)}}})
            operations.append(Operation("PATCH", "PATCH", f"{pods_path(namespace)}/{name}", patch,
                                        STRATEGIC_MERGE_PATCH))
    return operations


async def bench_rate(cluster: Cluster, settings: Settings) -> None:
    namespace = "rate"
    names = [f"web-{index:03d}" for index in range(settings.namespace_pods)]
    warmup_seconds = min(2.0, settings.seconds / 4)
    rng = random.Random(settings.seed)
    async with cluster.session(256) as session:
        await create_namespace(session, namespace)
        await create_pods(session, namespace, names, 16)
        warmup = request_mix(namespace, names, round(settings.rate * warmup_seconds), rng)
        await open_loop(session, warmup, settings.rate, RateRun(), cluster.apiserver_pid())
        measured = request_mix(namespace, names, round(settings.rate * settings.seconds), rng)
        run = RateRun()
        with py_spy_recording(cluster.apiserver_pid(), settings, "rate"):
            await open_loop(session, measured, settings.rate, run, cluster.apiserver_pid())
    print_rate(run, settings, len(measured), warmup_seconds)


async def open_loop(session: aiohttp.ClientSession, operations: list[Operation], rate: float, run: RateRun,
                    pid: int) -> None:
    """Start operation i at start + i/rate, whether or not the earlier ones have finished."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    run.first_scheduled = start
    server_cpu, client_cpu = cpu_seconds_of(pid), own_cpu_seconds()
    tasks = []
    for index, operation in enumerate(operations):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(scheduled_request(session, operation, scheduled, run)))
    await asyncio.gather(*tasks)
    run.server_cpu = cpu_seconds_of(pid) - server_cpu
    run.client_cpu = own_cpu_seconds() - client_cpu


async def scheduled_request(session: aiohttp.ClientSession, operation: Operation, scheduled: float,
                            run: RateRun) -> None:
    loop = asyncio.get_running_loop()
    run.dispatch_lag.append(loop.time() - scheduled)
    try:
        await send(session, operation.method, operation.path, operation.body, operation.content_type)
    except (RequestFailed, aiohttp.ClientError) as err:
        run.errors.append(str(err))
        return
    finished = loop.time()
    run.record(operation.verb, finished - scheduled)
    run.last_completed = max(run.last_completed, finished)


def print_rate(run: RateRun, settings: Settings, offered: int, warmup_seconds: float) -> None:
    completed = sum(len(values) for values in run.latencies.values())
    elapsed = run.last_completed - run.first_scheduled
    print(f"\n[rate] open loop, {settings.rate:g} req/s offered for {settings.seconds:g} s "
          f"(after {warmup_seconds:g} s warm-up); LIST = {settings.namespace_pods} pods; "
          "latency from the scheduled start")
    for verb in ("GET", "LIST", "PATCH"):
        values = run.latencies.get(verb, [])
        print(f"  {verb:<8} {len(values):5d}  {latency_summary(values)}")
    everything = [value for values in run.latencies.values() for value in values]
    print(f"  {'all':<8} {len(everything):5d}  {latency_summary(everything)}")
    print(f"  achieved {completed / elapsed:.1f} req/s ({completed}/{offered} completed in {elapsed:.2f} s); "
          f"client dispatch lag {latency_summary(run.dispatch_lag, (0.5, 0.99))}")
    print(f"  cpu: server {run.server_cpu / elapsed:.0%}, client {run.client_cpu / elapsed:.0%}")
    if run.errors:
        print(f"  {len(run.errors)} errors, first: {run.errors[0]}")


# ------------------------------------------------------------------------------------------------- watch
@dataclass
class WatchStream:
    """What one watcher received: (receive time, bytes) as they came, parsed after the run."""

    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    lines: int = 0
    error: str = ""


@dataclass
class WatchRun:
    streams: list[WatchStream]
    sent: dict[str, int] = field(default_factory=dict)  # configmap name → send time (ns), acknowledged only
    open_seconds: float = 0.0
    write_errors: list[str] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    phase_seconds: float = 0.0
    rss_before_mib: float = 0.0  # apiserver VmRSS before the streams opened
    rss_open_mib: float = 0.0  # … and with all of them open

    @property
    def delivered(self) -> int:
        return sum(stream.lines for stream in self.streams)


async def bench_watch(cluster: Cluster, settings: Settings) -> None:
    namespace = "watch"
    run = WatchRun([WatchStream() for _ in range(settings.watchers)])
    async with cluster.session(4) as writer, cluster.session(settings.watchers + 8) as watchers:
        await create_namespace(writer, namespace)
        revision = await list_revision(writer, f"/api/v1/namespaces/{namespace}/configmaps")
        pid = cluster.apiserver_pid()
        run.rss_before_mib = memory_of(pid).rss_mib
        tasks = await open_watches(watchers, namespace, revision, run)
        await asyncio.sleep(0.5)  # every stream subscribed in the storage before the first write
        run.rss_open_mib = memory_of(pid).rss_mib
        with py_spy_recording(pid, settings, "watch"):
            server_cpu, client_cpu, started = cpu_seconds_of(pid), own_cpu_seconds(), time.perf_counter()
            await spaced_writes(writer, namespace, settings, run)
            await wait_for_deliveries(run, len(run.sent) * settings.watchers, timeout=10.0)
            run.phase_seconds = time.perf_counter() - started
            run.server_cpu, run.client_cpu = cpu_seconds_of(pid) - server_cpu, own_cpu_seconds() - client_cpu
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print_watch(run, settings)


async def list_revision(session: aiohttp.ClientSession, path: str) -> str:
    listed = orjson.loads(await send(session, "GET", path))
    return str(listed["metadata"]["resourceVersion"])


async def open_watches(session: aiohttp.ClientSession, namespace: str, revision: str,
                       run: WatchRun) -> list[asyncio.Task[None]]:
    """Start every stream (at most 50 connecting at once) and return once all have their response headers."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    params = {"watch": "true", "resourceVersion": revision, "timeoutSeconds": "600"}
    connecting = asyncio.Semaphore(50)
    opened = 0
    all_open = asyncio.Event()

    def on_open() -> None:
        nonlocal opened
        opened += 1
        if opened == len(run.streams):
            all_open.set()

    started = time.perf_counter()
    tasks = [asyncio.create_task(read_watch(session, path, params, stream, connecting, on_open))
             for stream in run.streams]
    await asyncio.wait_for(all_open.wait(), timeout=120)
    run.open_seconds = time.perf_counter() - started
    return tasks


async def read_watch(session: aiohttp.ClientSession, path: str, params: dict[str, str], stream: WatchStream,
                     connecting: asyncio.Semaphore, on_open: Callable[[], None]) -> None:
    """Keep every chunk with the time it arrived; count lines (one event each) and nothing more on the way."""
    try:
        async with connecting:
            response = await session.get(path, params=params)
        async with response:
            if response.status != 200:
                stream.error = f"{response.status} {(await response.read())[:200]!r}"
                on_open()
                return
            on_open()
            async for chunk in response.content.iter_any():
                stream.chunks.append((time.monotonic_ns(), chunk))
                stream.lines += chunk.count(b"\n")
    except aiohttp.ClientError as err:
        stream.error = f"{type(err).__name__}: {err}"


async def spaced_writes(session: aiohttp.ClientSession, namespace: str, settings: Settings, run: WatchRun) -> None:
    """Create configmaps at fixed times `write_interval` apart, each stamped with its send time."""
    loop = asyncio.get_running_loop()
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    start = loop.time()
    for index in range(settings.watch_writes):
        delay = start + index * settings.write_interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        name = f"w-{index:04d}"
        sent = time.monotonic_ns()
        try:
            await send(session, "POST", path, configmap_body(name, {SENT_AT_ANNOTATION: str(sent)}))
        except (RequestFailed, aiohttp.ClientError) as err:
            run.write_errors.append(str(err))
            continue
        run.sent[name] = sent


async def wait_for_deliveries(run: WatchRun, expected: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while run.delivered < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)


def delivery_latencies(stream: WatchStream, sent: dict[str, int]) -> Iterator[tuple[str, float]]:
    """(configmap name, seconds from its send to its arrival at this watcher) per event of the stream."""
    pending = b""
    for received, chunk in stream.chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            event = orjson.loads(line)
            name = event["object"]["metadata"]["name"]
            if event["type"] == "ADDED" and name in sent:
                yield name, (received - sent[name]) / 1e9


def print_watch(run: WatchRun, settings: Settings) -> None:
    latencies: list[float] = []
    per_write: dict[str, list[float]] = {}
    for stream in run.streams:
        for name, latency in delivery_latencies(stream, run.sent):
            latencies.append(latency)
            per_write.setdefault(name, []).append(latency)
    expected = len(run.sent) * len(run.streams)
    first = [min(values) for values in per_write.values()]
    last = [max(values) for values in per_write.values()]
    print(f"\n[watch] {len(run.streams)} watchers on configmaps of one namespace (one connection each, "
          f"opened in {run.open_seconds:.1f} s); {len(run.sent)} creates {settings.write_interval * 1000:g} ms apart")
    print(f"  apiserver RSS {run.rss_before_mib:.0f} MiB before the streams opened, {run.rss_open_mib:.0f} MiB "
          "with them open")
    print(f"  delivered {len(latencies)}/{expected} events "
          f"({len(latencies) / expected if expected else math.nan:.2%})")
    print(f"  delivery  {latency_summary(latencies, (0.5, 0.9, 0.99))}")
    print(f"  per write, first watcher {latency_summary(first, (0.5, 0.99))}")
    print(f"  per write, last watcher  {latency_summary(last, (0.5, 0.99))}")
    print(f"  cpu during writes: server {run.server_cpu / run.phase_seconds:.0%}, "
          f"client {run.client_cpu / run.phase_seconds:.0%} (the client's share is part of the latency)")
    failed = [stream.error for stream in run.streams if stream.error]
    if failed:
        print(f"  {len(failed)} watch streams failed, first: {failed[0]}")
    if run.write_errors:
        print(f"  {len(run.write_errors)} writes failed, first: {run.write_errors[0]}")


# ------------------------------------------------------------------------------------------------- memory
async def bench_memory(cluster: Cluster, settings: Settings) -> None:
    pid = cluster.apiserver_pid()
    await asyncio.sleep(1.0)
    idle = memory_of(pid)
    pods = settings.objects // 2
    configmaps = settings.objects - pods
    async with cluster.session(32) as session:
        started = time.perf_counter()
        await store_objects(session, pods, configmaps)
        stored_seconds = time.perf_counter() - started
        stored = memory_of(pid)
        listings = [await timed_list(session, path) for path in ("/api/v1/pods", "/api/v1/configmaps")]
    listed = memory_of(pid)
    print(f"\n[memory] apiserver VmRSS (VmHWM = peak so far), {pods} pods + {configmaps} configmaps")
    print(f"  idle                     {idle.rss_mib:6.0f} MiB   (peak {idle.peak_rss_mib:.0f})")
    print(f"  after storing them       {stored.rss_mib:6.0f} MiB   (peak {stored.peak_rss_mib:.0f}; "
          f"stored in {stored_seconds:.1f} s, {settings.objects / stored_seconds:.0f} objects/s at C=32)")
    print(f"  after a full LIST        {listed.rss_mib:6.0f} MiB   (peak {listed.peak_rss_mib:.0f})")
    for path, items, size, seconds in listings:
        print(f"    GET {path:<20} {items:6d} items, {size / 1e6:5.1f} MB in {seconds * 1000:6.0f} ms")


async def store_objects(session: aiohttp.ClientSession, pods: int, configmaps: int) -> None:
    namespaces = [f"mem-{index}" for index in range(10)]
    for namespace in namespaces:
        await create_namespace(session, namespace)
    requests = [(f"{pods_path(namespaces[i % 10])}?{KUBECTL_RUN_QUERY}", pod_body(f"pod-{i:06d}"))
                for i in range(pods)]
    requests += [(f"/api/v1/namespaces/{namespaces[i % 10]}/configmaps", configmap_body(f"cm-{i:06d}"))
                 for i in range(configmaps)]
    pending = iter(requests)

    async def worker() -> None:
        for path, body in pending:
            await send(session, "POST", path, body)

    await asyncio.gather(*(worker() for _ in range(32)))


async def timed_list(session: aiohttp.ClientSession, path: str) -> tuple[str, int, int, float]:
    started = time.perf_counter()
    payload = await send(session, "GET", path)
    seconds = time.perf_counter() - started
    return path, len(orjson.loads(payload)["items"]), len(payload), seconds


# ------------------------------------------------------------------------------------------------- main
Part = Callable[[Cluster, Settings], Awaitable[None]]
SHARED_CLUSTER_PARTS: dict[str, Part] = {"creates": bench_creates, "rate": bench_rate, "watch": bench_watch}


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    print("\n".join(machine_lines()))
    started = time.perf_counter()
    shared = [name for name in SHARED_CLUSTER_PARTS if name in settings.parts]
    if shared:
        with temporary_cluster("bench-apiserver-") as cluster:
            print(f"dev cluster: {cluster.server}, apiserver PID {cluster.apiserver_pid()}")
            for name in shared:
                asyncio.run(SHARED_CLUSTER_PARTS[name](cluster, settings))
    if "memory" in settings.parts:
        with temporary_cluster("bench-apiserver-memory-") as cluster:  # its own: idle means nothing stored yet
            asyncio.run(bench_memory(cluster, settings))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average now {load_average()}")


if __name__ == "__main__":
    main()
