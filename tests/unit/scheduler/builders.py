"""Plain-dict Nodes and Pods for scheduler tests, and a cache + algorithm built from them."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from typing import Any

from provisioner.services.scheduler.algorithm import Nominator, SchedulingAlgorithm
from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import CycleState, Status
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.plugins import default_profile
from provisioner.services.scheduler.podinfo import PodInfo

Obj = dict[str, Any]
_uids = itertools.count(1)

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"


def make_node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: int = 110, labels: dict[str, str] | None = None,
              taints: list[Obj] | None = None, unschedulable: bool = False, images: list[Obj] | None = None,
              extra: dict[str, str] | None = None) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: Obj = {"allocatable": allocatable, "capacity": dict(allocatable),
                   "conditions": [{"type": "Ready", "status": "True"}]}
    if images:
        status["images"] = images
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {HOSTNAME: name, **(labels or {})}}, "spec": spec, "status": status}


def make_pod(name: str, *, namespace: str = "default", cpu: str | None = None, memory: str | None = None,
             labels: dict[str, str] | None = None, node: str = "", priority: int | None = None,
             tolerations: list[Obj] | None = None, affinity: Obj | None = None, node_selector: dict[str, str] | None = None,
             spread: list[Obj] | None = None, host_ports: Iterable[int] = (), image: str = "nginx:1.27",
             init_containers: list[Obj] | None = None, overhead: dict[str, str] | None = None,
             requests: dict[str, str] | None = None, uid: str | None = None, **spec_extra: Any) -> Obj:
    container_requests = dict(requests or {})
    if cpu is not None:
        container_requests["cpu"] = cpu
    if memory is not None:
        container_requests["memory"] = memory
    container: Obj = {"name": "main", "image": image, "resources": {"requests": container_requests} if container_requests else {}}
    if host_ports:
        container["ports"] = [{"containerPort": p, "hostPort": p, "protocol": "TCP"} for p in host_ports]
    spec: Obj = {"containers": [container], "schedulerName": "default-scheduler", **spec_extra}
    if node:
        spec["nodeName"] = node
    if priority is not None:
        spec["priority"] = priority
    if tolerations:
        spec["tolerations"] = tolerations
    if affinity:
        spec["affinity"] = affinity
    if node_selector:
        spec["nodeSelector"] = node_selector
    if spread:
        spec["topologySpreadConstraints"] = spread
    if init_containers:
        spec["initContainers"] = init_containers
    if overhead:
        spec["overhead"] = overhead
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": uid or f"uid-{next(_uids)}",
                         "labels": dict(labels or {})},
            "spec": spec, "status": {"phase": "Pending"}}


def anti_affinity(labels: dict[str, str], topology_key: str = HOSTNAME, **term: Any) -> Obj:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": topology_key, **term}]}}


class Cluster:
    """A scheduler cache with nodes and running pods, the default profile and its algorithm."""

    def __init__(self, nodes: Iterable[Obj] = (), pods: Iterable[Obj] = (), namespaces: dict[str, dict[str, str]] | None = None,
                 seed: int = 7) -> None:
        self.cache = SchedulerCache()
        for node in nodes:
            self.cache.add_node(node)
        for pod in pods:
            self.cache.add_pod(PodInfo(pod))
        self.cache.namespace_labels.update(namespaces or {"default": {"kubernetes.io/metadata.name": "default"}})
        self.nominator = Nominator()
        self.profile = default_profile(self.cache)
        for weighted in self.profile.plugins:
            if hasattr(weighted.plugin, "rng"):
                weighted.plugin.rng = random.Random(seed)
        self.algorithm = SchedulingAlgorithm(self.profile, self.cache, self.nominator, random.Random(seed))

    def plugin(self, name: str) -> Any:
        plugin = self.profile.plugin(name)
        assert plugin is not None, name
        return plugin

    def node(self, name: str) -> NodeInfo:
        return self.cache.nodes[name]

    def filter(self, plugin_name: str, pod: Obj | PodInfo, node_name: str) -> Status | None:
        """Run one plugin's PreFilter (if any) and Filter for ``pod`` on a node; None means it fits."""
        info = pod if isinstance(pod, PodInfo) else PodInfo(pod)
        plugin = self.plugin(plugin_name)
        state = CycleState()
        if hasattr(plugin, "pre_filter"):
            outcome = plugin.pre_filter(state, info, self.cache.node_list())
            if isinstance(outcome, Status):
                if outcome.code.name == "SKIP":
                    return None
                return outcome
        return plugin.filter(state, info, self.node(node_name))

    def feasible(self, plugin_name: str, pod: Obj) -> list[str]:
        info = PodInfo(pod)
        return sorted(n.name for n in self.cache.node_list() if self.filter(plugin_name, info, n.name) is None)

    def scores(self, plugin_name: str, pod: Obj, nodes: Iterable[str] | None = None) -> dict[str, int]:
        """One plugin's normalized scores (PreScore → Score → NormalizeScore); {} if it skips this pod."""
        info = PodInfo(pod)
        plugin = self.plugin(plugin_name)
        chosen = [self.node(n) for n in nodes] if nodes is not None else list(self.cache.node_list())
        state = CycleState()
        if hasattr(plugin, "pre_score"):
            status = plugin.pre_score(state, info, chosen)
            if status is not None:
                return {}
        raw = [plugin.score(state, info, node) for node in chosen]
        if hasattr(plugin, "normalize_score"):
            plugin.normalize_score(state, info, chosen, raw)
        return {node.name: score for node, score in zip(chosen, raw, strict=True)}

    def schedule(self, pod: Obj) -> str:
        """Decide and assume, like the scheduler loop does; returns the node name."""
        info = PodInfo(pod)
        result = self.algorithm.schedule(info)
        self.cache.assume(info, result.node_name)
        return result.node_name
