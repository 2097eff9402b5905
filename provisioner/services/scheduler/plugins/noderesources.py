"""NodeResourcesFit and NodeResourcesBalancedAllocation.

Fit filters: the pod's requests (see ``api.podresources``) must fit in the node's allocatable minus what the pods
already there (assumed ones included) request, and the node must have room for one more pod. It scores with the
LeastAllocated strategy: the more CPU and memory left free after placing the pod, the better — using the
scheduler's "non-zero" requests, so request-less pods still spread.

BalancedAllocation scores how evenly the node's CPU and memory would be used: 100 × (1 − the standard deviation of
the requested/allocatable fractions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provisioner.services.api import podresources
from provisioner.services.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    ClusterEvent,
    CycleState,
    Status,
    unschedulable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
TOO_MANY_PODS = "Too many pods"
_FIXED = (podresources.CPU, podresources.MEMORY, podresources.EPHEMERAL_STORAGE, podresources.PODS)


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Why ``pod`` does not fit on ``node`` by resources, in Kubernetes' order and words; empty if it fits."""
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append(TOO_MANY_PODS)
    requests = pod.requests
    if not requests:
        return reasons
    cpu = requests.get(podresources.CPU, 0)
    if cpu > 0 and cpu > node.alloc_cpu - node.req_cpu:
        reasons.append("Insufficient cpu")
    memory = requests.get(podresources.MEMORY, 0)
    if memory > 0 and memory > node.alloc_memory - node.req_memory:
        reasons.append("Insufficient memory")
    ephemeral = requests.get(podresources.EPHEMERAL_STORAGE, 0)
    if ephemeral > 0 and ephemeral > node.alloc_ephemeral - node.req_ephemeral:
        reasons.append("Insufficient ephemeral-storage")
    for name, value in requests.items():
        if value > 0 and name not in _FIXED and \
                value > node.allocatable.get(name, 0) - node.req_scalars.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


class Fit:
    name = FIT
    events = (ClusterEvent.NODE_ADD | ClusterEvent.NODE_ALLOCATABLE | ClusterEvent.ASSIGNED_POD_DELETE
              | ClusterEvent.ASSIGNED_POD_UPDATE)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        # Inline fast path for the common case; the full check (and the reasons) only when something is short.
        if pod.cpu_memory_only and len(node.pods) < node.alloc_pods and \
                pod.cpu_request <= node.alloc_cpu - node.req_cpu and \
                pod.memory_request <= node.alloc_memory - node.req_memory:
            return None
        reasons = insufficient_resources(pod, node)
        return unschedulable(FIT, *reasons) if reasons else None

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        """A new or grown node helps only if the pod fits in it at all; a removed pod helps only if it freed
        something the pod asks for (every pod frees a pod slot, so: always)."""
        if isinstance(new, NodeInfo) and event & (ClusterEvent.NODE_ADD | ClusterEvent.NODE_ALLOCATABLE):
            empty = NodeInfo(new.name, new.node) if new.node is not None else new
            return not insufficient_resources(pod, empty)
        return True

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """LeastAllocated over cpu and memory, weight 1 each: the mean of (free after placing / allocatable) × 100.
        Written out rather than through helpers: it runs for every feasible node of every pod."""
        cpu, memory = node.alloc_cpu, node.alloc_memory
        total = weight = 0
        if cpu:
            requested = node.non_zero_cpu + pod.non_zero_cpu
            total += (cpu - requested) * MAX_NODE_SCORE // cpu if requested <= cpu else 0
            weight += 1
        if memory:
            requested = node.non_zero_memory + pod.non_zero_memory
            total += (memory - requested) * MAX_NODE_SCORE // memory if requested <= memory else 0
            weight += 1
        return total // weight if weight else 0


class BalancedAllocation:
    name = BALANCED

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        # A pod that asks for nothing cannot unbalance a node (kube-scheduler skips BestEffort pods too).
        if not pod.requests.get(podresources.CPU) and not pod.requests.get(podresources.MEMORY):
            return SKIP
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        cpu, memory = node.alloc_cpu, node.alloc_memory
        if not cpu or not memory:
            return MAX_NODE_SCORE  # one fraction alone has no deviation
        cpu_fraction = (node.req_cpu + pod.cpu_request) / cpu
        if cpu_fraction > 1.0:
            cpu_fraction = 1.0
        memory_fraction = (node.req_memory + pod.memory_request) / memory
        if memory_fraction > 1.0:
            memory_fraction = 1.0
        # With two resources the standard deviation is half their difference.
        deviation = (cpu_fraction - memory_fraction) / 2
        if deviation < 0:
            deviation = -deviation
        return int((1 - deviation) * MAX_NODE_SCORE)
