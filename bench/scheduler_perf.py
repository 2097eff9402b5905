"""Scheduler throughput, like kube-scheduler's scheduler_perf SchedulingBasic / SchedulingPodAntiAffinity.

    .venv/bin/python bench/scheduler_perf.py                         # 500 nodes, 1000 pods, both variants, 3 runs
    .venv/bin/python bench/scheduler_perf.py --nodes 5000            # 5000 nodes, 5000 pods
    .venv/bin/python bench/scheduler_perf.py --variant basic --runs 1 --py-spy /tmp/sched-prof

Each run starts a fresh dev cluster (`dev.up` of the apiserver alone: its own process, HTTPS, SQLite store),
creates the Nodes through the API (allocatable 32 cpu / 256Gi / 110 pods, Ready, hostname and zone labels), then
the Pods (100m cpu / 100Mi each; the anti-affinity variant adds required anti-affinity on the hostname against
its own label, so at most one per node and no more pods than nodes). Only then is the scheduler started, as its
own process (`python -m provisioner.services.scheduler.main --leader-elect=false`) — so the figures are the
scheduler's, not the pod-creation rate's. A watch in this process counts pods as their binding lands; every
second gives one sample (pods bound in that second). Printed per run: time to first binding (process start,
informer lists), then average pods/s (all pods / first-to-last binding), p50/p90/p99 of the 1-second samples, and
CPU seconds used by scheduler and apiserver meanwhile; then the median over runs. Asserts nothing.

All three processes share this machine's cores: the apiserver answers one binding POST and one Event POST per pod.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devbench import cpu_seconds_of, machine_lines, percentile, temporary_cluster

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, ClientConfig

NODES = resources.lookup("", "v1", "nodes")
PODS = resources.lookup("", "v1", "pods")
NAMESPACE = "default"
ZONES = 3
CREATE_CONCURRENCY = 32
VARIANTS = ("basic", "anti-affinity")


@dataclass(frozen=True)
class Settings:
    nodes: int
    pods: int
    variants: tuple[str, ...]
    runs: int
    timeout: float
    parallel_bindings: int
    py_spy: Path | None


@dataclass(frozen=True)
class RunResult:
    variant: str
    nodes: int
    pods: int
    bound: int
    setup_seconds: float
    to_first_binding: float
    scheduling_seconds: float
    samples: list[float]
    scheduler_cpu: float  # from its start: includes imports and the informers' first lists
    scheduler_cpu_scheduling: float  # from the first binding on
    apiserver_cpu: float

    @property
    def average(self) -> float:
        return self.bound / self.scheduling_seconds if self.scheduling_seconds > 0 else math.nan

    @property
    def scheduler_ms_per_pod(self) -> float:
        return 1000 * self.scheduler_cpu_scheduling / self.bound if self.bound else math.nan

    def quantile(self, fraction: float) -> float:
        return percentile(sorted(self.samples), fraction)


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=0, help="default: 1000, or as many as nodes when more")
    parser.add_argument("--variant", choices=(*VARIANTS, "all"), default="all")
    parser.add_argument("--runs", type=int, default=3, help="fresh clusters per variant; the median is reported")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a run after this many seconds")
    parser.add_argument("--parallel-bindings", type=int, default=32)
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                        help="record the scheduler and the apiserver with py-spy (raw format) into DIR")
    args = parser.parse_args(argv)
    variants = VARIANTS if args.variant == "all" else (args.variant,)
    return Settings(args.nodes, args.pods or max(1000, args.nodes), variants, args.runs, args.timeout,
                    args.parallel_bindings, args.py_spy)


# ------------------------------------------------------------------------------------------------ objects
def node_object(index: int) -> dict:
    name = f"node-{index:05d}"
    resources_ = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "topology.kubernetes.io/zone": f"zone-{index % ZONES}"}},
        "spec": {},
        "status": {"capacity": resources_, "allocatable": resources_,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}]},
    }


def pod_object(index: int, variant: str) -> dict:
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"pod-{index:05d}", "namespace": NAMESPACE, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                 "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}}]},
    }
    if variant == "anti-affinity":
        pod["metadata"]["labels"]["color"] = "green"
        pod["spec"]["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"color": "green"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    return pod


async def create_all(client: ApiClient, resource: object, objects: list[dict]) -> None:
    limit = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def create(obj: dict) -> None:
        async with limit:
            try:
                await client.create(resource, obj)  # type: ignore[arg-type]
            except ApiError as err:
                if err.code != 409:
                    raise

    await asyncio.gather(*(create(obj) for obj in objects))


# ------------------------------------------------------------------------------------------------ counting
class BindingCounter:
    """Counts pods as the watch reports them bound (first time spec.nodeName appears)."""

    def __init__(self) -> None:
        self.bound: set[str] = set()
        self.first: float | None = None
        self.last: float | None = None
        self.changed = asyncio.Event()

    async def watch(self, client: ApiClient, resource_version: str) -> None:
        while True:
            try:
                async for event in client.watch(PODS, NAMESPACE, resource_version=resource_version,
                                                timeout_seconds=3600):
                    resource_version = event.object.get("metadata", {}).get("resourceVersion", resource_version)
                    if event.type in ("ADDED", "MODIFIED") and event.object.get("spec", {}).get("nodeName"):
                        name = event.object["metadata"]["name"]
                        if name not in self.bound:
                            self.bound.add(name)
                            now = time.monotonic()
                            self.first = self.first or now
                            self.last = now
                            self.changed.set()
            except ApiError as err:
                print(f"    watch ended: {err.message}; resuming", file=sys.stderr)


def start_scheduler(kubeconfig: Path, log: Path, parallel_bindings: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "provisioner.services.scheduler.main", "--kubeconfig", str(kubeconfig),
               "--leader-elect=false", "--parallel-bindings", str(parallel_bindings), "-v", "2"]
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)


def start_py_spy(pid: int, output: Path) -> subprocess.Popen[bytes]:
    py_spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen([str(py_spy), "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                             "--output", str(output), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT if Path(process.args[0]).name == "py-spy" else signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------------- run
async def one_run(settings: Settings, variant: str, run: int) -> RunResult:
    pods = min(settings.pods, settings.nodes) if variant == "anti-affinity" else settings.pods
    with temporary_cluster("scheduler-perf-") as cluster:
        kubeconfig = cluster.directory / "admin.kubeconfig"
        config = ClientConfig.from_kubeconfig(kubeconfig)
        async with ApiClient(config, user_agent="scheduler-perf", connection_limit=CREATE_CONCURRENCY + 4) as client:
            setup_started = time.monotonic()
            await create_all(client, NODES, [node_object(i) for i in range(settings.nodes)])
            await create_all(client, PODS, [pod_object(i, variant) for i in range(pods)])
            setup_seconds = time.monotonic() - setup_started
            listed = await client.list(PODS, NAMESPACE, limit=1)
            counter = BindingCounter()
            watcher = asyncio.create_task(counter.watch(client, listed["metadata"]["resourceVersion"]))
            apiserver_pid = cluster.apiserver_pid()
            api_cpu_before = cpu_seconds_of(apiserver_pid)
            started = time.monotonic()
            scheduler = start_scheduler(kubeconfig, cluster.directory / "scheduler.log", settings.parallel_bindings)
            profilers: list[subprocess.Popen[bytes]] = []
            try:
                if settings.py_spy is not None:
                    settings.py_spy.mkdir(parents=True, exist_ok=True)
                    stem = f"{variant}-{settings.nodes}n-run{run}"
                    profilers = [start_py_spy(scheduler.pid, settings.py_spy / f"{stem}-scheduler.txt"),
                                 start_py_spy(apiserver_pid, settings.py_spy / f"{stem}-apiserver.txt")]
                samples, cpu_at_first = await sample_until_done(counter, pods, scheduler, started + settings.timeout)
                scheduler_cpu = cpu_seconds_of(scheduler.pid)
                apiserver_cpu = cpu_seconds_of(apiserver_pid) - api_cpu_before
            finally:
                for profiler in profilers:
                    stop_process(profiler)
                stop_process(scheduler)
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            log = (cluster.directory / "scheduler.log").read_text(errors="replace")
            if scheduler.returncode not in (0, None, -signal.SIGTERM):
                print(f"    scheduler exited {scheduler.returncode}; log: {log[-2000:]}", file=sys.stderr)
            if dropped := log.count("event queue full"):
                print(f"    the scheduler dropped {dropped} events (its event queue was full)")
    first = counter.first or started
    last = counter.last or first
    return RunResult(variant, settings.nodes, pods, len(counter.bound), setup_seconds, first - started,
                     last - first, samples, scheduler_cpu, scheduler_cpu - cpu_at_first, apiserver_cpu)


async def sample_until_done(counter: BindingCounter, pods: int, scheduler: subprocess.Popen[bytes],
                            deadline: float) -> tuple[list[float], float]:
    """Pods bound per second, one sample a second from the first binding until all are bound; and the scheduler's
    CPU seconds at the first binding."""
    while counter.first is None:
        if time.monotonic() > deadline or scheduler.poll() is not None:
            return [], cpu_seconds_of(scheduler.pid) if scheduler.poll() is None else 0.0
        counter.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counter.changed.wait(), 0.05)
    cpu_at_first = cpu_seconds_of(scheduler.pid)
    samples: list[float] = []
    tick, previous = counter.first, len(counter.bound)
    while len(counter.bound) < pods and time.monotonic() < deadline and scheduler.poll() is None:
        tick += 1.0
        await asyncio.sleep(max(0.0, tick - time.monotonic()))
        now_bound = len(counter.bound)
        if now_bound < pods:  # a full second; the last, partial one only counts in the average
            samples.append(float(now_bound - previous))
        previous = now_bound
    return samples, cpu_at_first


# ------------------------------------------------------------------------------------------------- report
def print_run(result: RunResult, run: int) -> None:
    incomplete = "" if result.bound == result.pods else f"  INCOMPLETE: {result.bound}/{result.pods} bound"
    print(f"  run {run}: setup {result.setup_seconds:5.1f}s | first binding after {result.to_first_binding:4.1f}s | "
          f"{result.bound} pods in {result.scheduling_seconds:5.2f}s: avg {result.average:6.1f} pods/s, "
          f"p50 {result.quantile(0.5):5.0f}  p90 {result.quantile(0.9):5.0f}  p99 {result.quantile(0.99):5.0f} "
          f"({len(result.samples)} samples) | cpu s: scheduler {result.scheduler_cpu:5.1f} "
          f"({result.scheduler_ms_per_pod:.2f} ms/pod while binding), apiserver {result.apiserver_cpu:5.1f}"
          f"{incomplete}")


def print_median(results: list[RunResult]) -> None:
    def median(values: list[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        return statistics.median(finite) if finite else math.nan

    first = results[0]
    print(f"  median of {len(results)}: avg {median([r.average for r in results]):6.1f} pods/s, "
          f"p50 {median([r.quantile(0.5) for r in results]):5.0f}, p90 {median([r.quantile(0.9) for r in results]):5.0f}, "
          f"p99 {median([r.quantile(0.99) for r in results]):5.0f}; scheduling {median([r.scheduling_seconds for r in results]):.2f}s "
          f"for {first.pods} pods on {first.nodes} nodes; first binding after "
          f"{median([r.to_first_binding for r in results]):.1f}s; scheduler "
          f"{median([r.scheduler_ms_per_pod for r in results]):.2f} CPU ms/pod")


async def main_async(settings: Settings) -> None:
    for line in machine_lines():
        print(line)
    print("figures are wall-clock: other work on these cores lowers them; CPU ms/pod is less sensitive to it")
    print(f"scheduler: own process, {settings.parallel_bindings} bindings in flight; apiserver: dev.up (own process)")
    for variant in settings.variants:
        pods = min(settings.pods, settings.nodes) if variant == "anti-affinity" else settings.pods
        print(f"\n{variant}: {settings.nodes} nodes, {pods} pods")
        results = []
        for run in range(1, settings.runs + 1):
            result = await one_run(settings, variant, run)
            print_run(result, run)
            results.append(result)
        print_median(results)
    if settings.py_spy is not None:
        print(f"\npy-spy profiles in {settings.py_spy}; summarise with .venv/bin/python bench/profile_summary.py FILE")


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    asyncio.run(main_async(settings))


if __name__ == "__main__":
    main()
