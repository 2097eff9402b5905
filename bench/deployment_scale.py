"""Workload figures on simulated nodes (issue 3): a 1000-replica Deployment on 100 nodes, and node failure.

A dev cluster (apiserver, scheduler, controller-manager) with --nodes simulated nodes, then:

1. rollout: create a Deployment of --replicas pods; time until every replica is Running (with the time to 25, 50,
   75 % on the way and the mean pods/s).
2. node failure, Kubernetes defaults: silence the node holding the most of its pods (its simulated kubelet stops
   renewing its Lease); time until the node is Ready=Unknown, tainted unreachable:NoExecute, its first pod evicted,
   and every replica Running elsewhere. Defaults: 50 s grace period, pods tolerate unreachable for 300 s (the
   default toleration), so expect ≈ 6 min. --skip-default-failure skips it.
3. node failure, short: the controller-manager restarted with --node-monitor-grace-period=--short-grace (and the
   simulated kubelets renewing their Leases 5 times as often, Kubernetes' ratio) and a Deployment whose pods
   tolerate unreachable for --short-toleration seconds.

Prints figures; asserts nothing. Run from the repository root:
    .venv/bin/python bench/deployment_scale.py [--nodes 100] [--replicas 1000] [--skip-default-failure]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devbench import machine_lines, raise_open_files_limit

from provisioner import dev
from provisioner.services.api import resources
from provisioner.services.client import ApiClient, ClientConfig, Informer

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
DEPLOYMENTS = resources.lookup("apps", "v1", "deployments")
NAMESPACES = resources.lookup("", "v1", "namespaces")
NAMESPACE = "bench"
HANG_GUARD = 1800.0  # seconds; a figure that needs longer is a failure worth seeing
POLL = 0.1
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_SECONDS = 300


# ----------------------------------------------------------------------------------------------- cluster
@dataclass
class Bench:
    directory: Path
    nodes: int
    client: ApiClient
    pods: Informer
    node_cache: Informer
    started: list[asyncio.Task[None]] = field(default_factory=list)

    def live_pods(self, app: str) -> list[dict[str, Any]]:
        return [p for p in self.pods.store.list()
                if p["metadata"].get("labels", {}).get("app") == app and not p["metadata"].get("deletionTimestamp")]

    def running(self, app: str, avoid_node: str = "") -> int:
        return sum(1 for p in self.live_pods(app)
                   if p["status"].get("phase") == "Running" and p["spec"].get("nodeName") != avoid_node)

    def node(self, name: str) -> dict[str, Any]:
        return self.node_cache.store.get(name) or {}


@dataclass(frozen=True)
class Timings:
    """Node heartbeat and failure detection: Kubernetes' defaults, or a short variant keeping their ratio."""

    grace: str | None = None  # --node-monitor-grace-period; None: the default (50 s)
    lease_renew: str | None = None  # simulated kubelets' Lease renewal; None: the default (10 s)


def start_cluster(directory: Path, nodes: int, timings: Timings) -> dev.DevCluster:
    cm_args = ("--node-monitor-grace-period", timings.grace, "--node-monitor-period", "1s") if timings.grace else ()
    sim_args = ("--lease-renew-interval", timings.lease_renew) if timings.lease_renew else ()
    components = (dev.APISERVER, dev.SCHEDULER, dev.controller_manager(cm_args), dev.simulated_nodes(nodes, sim_args))
    return dev.up(directory, components=components)


def restart_with(directory: Path, nodes: int, timings: Timings) -> None:
    """Stop the controller-manager and simnodes (by their recorded PIDs) and start them with other timings;
    the simulated nodes adopt their Nodes and pods as a restarted kubelet does."""
    for component in dev.status(directory).components:
        if component.name in ("controller-manager", "simnodes") and component.pid is not None:
            os.kill(component.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while any(c.name in ("controller-manager", "simnodes") and c.running for c in dev.status(directory).components):
        if time.monotonic() > deadline:
            raise SystemExit("the controller-manager or simnodes did not stop")
        time.sleep(0.1)
    start_cluster(directory, nodes, timings)


async def wait_until(check: Callable[[], bool], what: str, since: float) -> float:
    """Seconds from ``since`` until ``check()`` holds."""
    while not check():
        if time.monotonic() - since > HANG_GUARD:
            raise SystemExit(f"gave up after {HANG_GUARD:.0f}s waiting for {what}")
        await asyncio.sleep(POLL)
    return time.monotonic() - since


def deployment(name: str, replicas: int, toleration_seconds: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": "registry.local/web:1",
                                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    if toleration_seconds is not None:
        spec["tolerations"] = [{"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": toleration_seconds} for k in ("not-ready", "unreachable")]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def parse_seconds(text: str) -> float:
    """``6s`` / ``6`` → 6.0 (the short grace period is given as the controller-manager flag takes it)."""
    return float(text.removesuffix("s"))


# ---------------------------------------------------------------------------------------------- figures
async def rollout(bench: Bench, name: str, replicas: int, toleration_seconds: int | None = None) -> None:
    started = time.monotonic()
    await bench.client.create(DEPLOYMENTS, deployment(name, replicas, toleration_seconds), NAMESPACE)
    marks = {}
    for fraction in (0.25, 0.5, 0.75, 1.0):
        target = max(1, round(replicas * fraction))
        marks[fraction] = await wait_until(lambda t=target: bench.running(name) >= t, f"{target} Running", started)
    total = marks[1.0]
    surplus = len(bench.live_pods(name)) - replicas  # more pods than replicas would be a controller bug
    print(f"rollout  {replicas} replicas on {bench.nodes} nodes: all Running in {total:6.1f} s "
          f"({replicas / total:5.1f} pods/s; 25 % {marks[0.25]:.1f} s, 50 % {marks[0.5]:.1f} s, "
          f"75 % {marks[0.75]:.1f} s){f'; {surplus} surplus pods' if surplus else ''}", flush=True)


def busiest_node(bench: Bench, app: str) -> tuple[str, int]:
    counts: dict[str, int] = {}
    for pod in bench.live_pods(app):
        node = pod["spec"].get("nodeName")
        if node:
            counts[node] = counts.get(node, 0) + 1
    return max(counts.items(), key=lambda item: item[1])


def ready_status(node: dict[str, Any]) -> str:
    return next((c["status"] for c in node.get("status", {}).get("conditions", []) if c["type"] == "Ready"), "")


def has_taint(node: dict[str, Any], key: str, effect: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == effect for t in node.get("spec", {}).get("taints") or [])


async def node_failure(bench: Bench, app: str, replicas: int, label: str) -> None:
    victim, held = busiest_node(bench, app)
    doomed = {p["metadata"]["uid"] for p in bench.live_pods(app) if p["spec"]["nodeName"] == victim}

    def evicted() -> bool:
        return any(p["metadata"]["uid"] in doomed and p["metadata"].get("deletionTimestamp")
                   for p in bench.pods.store.list()) or not doomed & {p["metadata"]["uid"]
                                                                     for p in bench.pods.store.list()}

    control = bench.directory / "stopped-nodes"
    started = time.monotonic()
    control.write_text(victim + "\n")
    try:
        unknown = await wait_until(lambda: ready_status(bench.node(victim)) == "Unknown", "Ready=Unknown", started)
        tainted = await wait_until(lambda: has_taint(bench.node(victim), UNREACHABLE, "NoExecute"), "taint",
                                   started)
        first_eviction = await wait_until(evicted, "the first eviction", started)
        replaced = await wait_until(lambda: bench.running(app, avoid_node=victim) >= replicas,
                                    "every replica Running elsewhere", started)
    finally:
        control.write_text("")
    print(f"failure  {label}: node {victim} with {held} pods silenced → Unknown {unknown:6.1f} s, tainted "
          f"{tainted:6.1f} s, first pod evicted {first_eviction:6.1f} s, all {replicas} Running elsewhere "
          f"{replaced:6.1f} s", flush=True)
    await wait_until(lambda: ready_status(bench.node(victim)) == "True", "the node to come back", time.monotonic())
    await wait_until(lambda: not has_taint(bench.node(victim), UNREACHABLE, "NoExecute"), "untaint",
                     time.monotonic())


async def delete_deployment(bench: Bench, name: str) -> None:
    await bench.client.delete(DEPLOYMENTS, name, NAMESPACE, propagation_policy="Background")
    await wait_until(lambda: not any(p["metadata"].get("labels", {}).get("app") == name
                                     for p in bench.pods.store.list()), f"{name}'s pods to go", time.monotonic())


# ------------------------------------------------------------------------------------------------- main
async def run(directory: Path, args: argparse.Namespace) -> None:
    cluster = dev.status(directory)
    async with ApiClient(ClientConfig.from_kubeconfig(cluster.kubeconfig), connection_limit=20) as client:
        pods = Informer(client, PODS, NAMESPACE)
        nodes = Informer(client, NODES)
        bench = Bench(directory, args.nodes, client, pods, nodes)
        tasks = [asyncio.create_task(pods.run()), asyncio.create_task(nodes.run())]
        try:
            await client.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
            await asyncio.gather(pods.wait_synced(), nodes.wait_synced())
            await wait_until(lambda: sum(ready_status(n) == "True" for n in nodes.store.list()) >= args.nodes,
                             "the simulated nodes to be Ready", time.monotonic())
            # The tolerations Kubernetes' DefaultTolerationSeconds admission adds to every pod, given explicitly.
            await rollout(bench, "fleet", args.replicas, toleration_seconds=DEFAULT_TOLERATION_SECONDS)
            if not args.skip_default_failure:
                await node_failure(bench, "fleet", args.replicas, "Kubernetes defaults (grace 50 s, "
                                                                  "toleration 300 s)")
            await delete_deployment(bench, "fleet")
            renew = f"{parse_seconds(args.short_grace) / 5:g}"  # Kubernetes' ratio: 10 s renewal, 50 s grace
            restart_with(directory, args.nodes, Timings(args.short_grace, renew))
            await rollout(bench, "fleet-short", args.replicas, toleration_seconds=args.short_toleration)
            await node_failure(bench, "fleet-short", args.replicas,
                               f"grace {args.short_grace}, toleration {args.short_toleration} s")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--short-grace", default="6s", help="--node-monitor-grace-period of the short scenario")
    parser.add_argument("--short-toleration", type=int, default=0,
                        help="tolerationSeconds for unreachable/not-ready in the short scenario")
    parser.add_argument("--skip-default-failure", action="store_true",
                        help="skip the ≈ 6 min node failure with Kubernetes' default timings")
    args = parser.parse_args()
    raise_open_files_limit()
    for line in machine_lines():
        print(line)
    directory = Path(tempfile.mkdtemp(prefix="deployment-scale-"))
    try:
        start_cluster(directory, args.nodes, Timings())
        asyncio.run(run(directory, args))
    finally:
        dev.down(directory)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
