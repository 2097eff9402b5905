"""A node as the scheduler reads it: its allocatable resources and taints, plus the aggregate of the pods on it
(assumed ones included) — requested resources, host ports in use, and the pods with affinity terms."""

from __future__ import annotations

from collections import Counter
from typing import Any

from provisioner.services.api import podresources
from provisioner.services.scheduler.podinfo import DEFAULT_HOST_IP, HostPort, PodInfo, Taint, parse_taints

Obj = dict[str, Any]

_FIXED = (podresources.CPU, podresources.MEMORY, podresources.EPHEMERAL_STORAGE, podresources.PODS)


def normalized_image_name(name: str) -> str:
    """``nginx`` → ``docker.io/library/nginx:latest``: one spelling per image, so a pod's ``nginx:1.27`` finds the
    ``docker.io/library/nginx:1.27`` a kubelet reports. Digests (``@sha256:…``) are left as they are."""
    if "@" in name:
        return name
    first, slash, rest = name.partition("/")
    if not slash:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


class NodeInfo:
    __slots__ = (
        "name", "node", "labels", "taints", "unschedulable", "allocatable", "alloc_cpu", "alloc_memory",
        "alloc_ephemeral", "alloc_pods", "req_cpu", "req_memory", "req_ephemeral", "req_scalars", "non_zero_cpu",
        "non_zero_memory", "pods", "pods_with_affinity", "pods_with_required_anti_affinity", "used_ports",
        "images", "generation",
    )

    def __init__(self, name: str, node: Obj | None = None) -> None:
        self.name = name
        self.node: Obj | None = None
        self.labels: dict[str, str] = {}
        self.taints: tuple[Taint, ...] = ()
        self.unschedulable = False
        self.allocatable: dict[str, int] = {}
        self.alloc_cpu = self.alloc_memory = self.alloc_ephemeral = self.alloc_pods = 0
        self.req_cpu = self.req_memory = self.req_ephemeral = 0
        self.req_scalars: dict[str, int] = {}
        self.non_zero_cpu = self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: Counter[HostPort] = Counter()
        self.images: dict[str, int] = {}  # normalized image name → size in bytes
        self.generation = 0
        if node is not None:
            self.set_node(node)

    # ------------------------------------------------------------------------------------------------- node
    def set_node(self, node: Obj) -> None:
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        self.node = node
        self.labels = meta.get("labels") or {}
        self.taints = parse_taints(spec.get("taints"))
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = podresources.node_allocatable(node)
        self.alloc_cpu = self.allocatable.get(podresources.CPU, 0)
        self.alloc_memory = self.allocatable.get(podresources.MEMORY, 0)
        self.alloc_ephemeral = self.allocatable.get(podresources.EPHEMERAL_STORAGE, 0)
        self.alloc_pods = self.allocatable.get(podresources.PODS, 0)
        images: dict[str, int] = {}
        for image in status.get("images") or []:
            if not isinstance(image, dict):
                continue
            size = image.get("sizeBytes") if isinstance(image.get("sizeBytes"), int) else 0
            for name in image.get("names") or []:
                if isinstance(name, str):
                    images[normalized_image_name(name)] = size
        self.images = images
        self.generation += 1

    # ------------------------------------------------------------------------------------------------- pods
    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.uid] = pod
        if pod.has_pod_affinity:
            self.pods_with_affinity[pod.uid] = pod
        if pod.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity[pod.uid] = pod
        self._account(pod, 1)

    def remove_pod(self, uid: str) -> PodInfo | None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return None
        self.pods_with_affinity.pop(uid, None)
        self.pods_with_required_anti_affinity.pop(uid, None)
        self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        requests = pod.requests
        self.req_cpu += sign * requests.get(podresources.CPU, 0)
        self.req_memory += sign * requests.get(podresources.MEMORY, 0)
        self.req_ephemeral += sign * requests.get(podresources.EPHEMERAL_STORAGE, 0)
        for name, value in requests.items():
            if name not in _FIXED:
                self.req_scalars[name] = self.req_scalars.get(name, 0) + sign * value
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        for port in pod.host_ports:
            self.used_ports[port] += sign
            if self.used_ports[port] <= 0:
                del self.used_ports[port]
        self.generation += 1

    def port_conflicts(self, wanted: HostPort) -> bool:
        """HostPortInfo.CheckConflict: 0.0.0.0 conflicts with the same protocol/port on any address."""
        ip, protocol, port = wanted
        if ip == DEFAULT_HOST_IP:
            return any(p == port and proto == protocol for _, proto, p in self.used_ports)
        return (ip, protocol, port) in self.used_ports or (DEFAULT_HOST_IP, protocol, port) in self.used_ports

    def clone(self) -> NodeInfo:
        """A copy whose pod aggregates can change (preemption's what-ifs); node fields are shared read-only."""
        copy = object.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy.req_scalars = dict(self.req_scalars)
        copy.pods = dict(self.pods)
        copy.pods_with_affinity = dict(self.pods_with_affinity)
        copy.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        copy.used_ports = Counter(self.used_ports)
        return copy

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, {len(self.pods)} pods)"
