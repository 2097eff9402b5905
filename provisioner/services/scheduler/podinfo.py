"""A pod as the scheduler reads it, parsed once per version of the object: requests, host ports, tolerations and
affinity terms. Plugins read these fields, never the raw dict, so one pod costs one parse however many nodes it is
checked against. PodInfo is immutable; the raw pod it wraps is the informer's cached object and is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.services.api import podresources
from provisioner.services.api.selectors import EVERYTHING, NOTHING, LabelSelector, label_selector_from_dict
from provisioner.services.api.status import ApiError

Obj = dict[str, Any]
HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort)

DEFAULT_HOST_IP = "0.0.0.0"


# ---------------------------------------------------------------------------------------------- tolerations
@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        """v1.Toleration.ToleratesTaint: an empty effect or key matches any; Exists ignores the value."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.operator in ("", "Equal") and self.value == taint.value


def tolerates(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def parse_taints(raw: Any) -> tuple[Taint, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(Taint(str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or ""))
                 for t in raw if isinstance(t, dict))


def _parse_tolerations(raw: Any) -> tuple[Toleration, ...]:
    if not isinstance(raw, list):
        return ()
    parsed = []
    for t in raw:
        if not isinstance(t, dict):
            continue
        seconds = t.get("tolerationSeconds")
        parsed.append(Toleration(str(t.get("key") or ""), str(t.get("operator") or "Equal"),
                                 str(t.get("value") or ""), str(t.get("effect") or ""),
                                 int(seconds) if isinstance(seconds, int) else None))
    return tuple(parsed)


# ------------------------------------------------------------------------------------------- affinity terms
@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A PodAffinityTerm with its selectors parsed. ``namespaces`` plus ``namespace_selector`` say whose pods the
    term looks at: neither given means the owning pod's own namespace; an empty selector means every namespace."""

    selector: LabelSelector
    topology_key: str
    namespaces: frozenset[str]
    namespace_selector: LabelSelector
    weight: int = 0

    def matches(self, pod: PodInfo, namespace_labels: Mapping[str, str] | None) -> bool:
        if pod.namespace not in self.namespaces and not (
                namespace_labels is not None and self.namespace_selector.matches(namespace_labels)):
            return False
        return self.selector.matches(pod.labels)

    def with_namespaces(self, namespaces: frozenset[str]) -> AffinityTerm:
        """The term with its namespaceSelector resolved into ``namespaces`` (as the scheduler does for the pod
        being scheduled, so checks against other pods need no namespace lookups)."""
        return AffinityTerm(self.selector, self.topology_key, self.namespaces | namespaces, NOTHING, self.weight)


def _affinity_term(owner_namespace: str, raw: Any, weight: int = 0) -> AffinityTerm:
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid pod affinity term")
    namespaces = [n for n in raw.get("namespaces") or [] if isinstance(n, str)]
    raw_ns_selector = raw.get("namespaceSelector")
    if not namespaces and raw_ns_selector is None:
        namespaces = [owner_namespace]
    ns_selector = NOTHING if raw_ns_selector is None else label_selector_from_dict(raw_ns_selector)
    if ns_selector is not NOTHING and ns_selector.empty:
        ns_selector = EVERYTHING
    selector = label_selector_from_dict(raw.get("labelSelector"))
    return AffinityTerm(selector, str(raw.get("topologyKey") or ""), frozenset(namespaces), ns_selector, weight)


def _terms(owner_namespace: str, section: Any, field: str, weighted: bool) -> tuple[AffinityTerm, ...]:
    if not isinstance(section, dict):
        return ()
    raw_terms = section.get(field)
    if not isinstance(raw_terms, list):
        return ()
    if not weighted:
        return tuple(_affinity_term(owner_namespace, raw) for raw in raw_terms)
    return tuple(_affinity_term(owner_namespace, raw.get("podAffinityTerm"), int(raw.get("weight") or 0))
                 for raw in raw_terms if isinstance(raw, dict))


_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


# ---------------------------------------------------------------------------------------------------- pod info
def _host_ports(spec: Mapping[str, Any]) -> tuple[HostPort, ...]:
    """The (hostIP, protocol, hostPort) triples the pod's containers claim on their node."""
    ports = []
    for container in spec.get("containers") or []:
        for port in (container.get("ports") or []) if isinstance(container, dict) else []:
            host_port = port.get("hostPort") if isinstance(port, dict) else None
            if isinstance(host_port, int) and host_port > 0:
                ports.append((str(port.get("hostIP") or DEFAULT_HOST_IP), str(port.get("protocol") or "TCP"),
                              host_port))
    return tuple(ports)


def _images(spec: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(c["image"] for field in ("initContainers", "containers") for c in spec.get(field) or []
                 if isinstance(c, dict) and isinstance(c.get("image"), str))


class PodInfo:
    """One version of a pod, parsed. ``parse_error`` is set (and the terms left empty) when the pod's affinity
    holds a selector Kubernetes would not parse; such a pod is reported unschedulable, never crashes a cycle."""

    __slots__ = (
        "pod", "uid", "namespace", "name", "key", "labels", "node_name", "scheduler_name", "deleting", "priority",
        "preemption_policy", "nominated_node_name", "requests", "non_zero_cpu", "non_zero_memory", "host_ports",
        "tolerations", "required_affinity_terms", "required_anti_affinity_terms", "preferred_affinity_terms",
        "preferred_anti_affinity_terms", "node_selector", "node_affinity", "spread_constraints", "images",
        "scheduling_gates", "start_time", "disruption_target", "parse_error", "cpu_memory_only", "cpu_request",
        "memory_request",
    )

    def __init__(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.uid: str = meta.get("uid") or self.key
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.node_name: str = spec.get("nodeName") or ""
        self.scheduler_name: str = spec.get("schedulerName") or "default-scheduler"
        self.deleting = bool(meta.get("deletionTimestamp"))
        priority = spec.get("priority")
        self.priority: int = priority if isinstance(priority, int) else 0
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.nominated_node_name: str = status.get("nominatedNodeName") or ""
        self.start_time: str = status.get("startTime") or meta.get("creationTimestamp") or ""
        self.disruption_target = any(
            c.get("type") == "DisruptionTarget" and c.get("status") == "True"
            for c in status.get("conditions") or [] if isinstance(c, dict))
        self.requests = podresources.pod_requests(pod)
        # Most pods ask for cpu and memory only: NodeResourcesFit checks those inline.
        self.cpu_memory_only = all(name in (podresources.CPU, podresources.MEMORY) for name in self.requests)
        self.cpu_request = self.requests.get(podresources.CPU, 0)
        self.memory_request = self.requests.get(podresources.MEMORY, 0)
        non_zero = podresources.pod_requests(pod, non_missing=True)
        self.non_zero_cpu = non_zero.get(podresources.CPU, 0)
        self.non_zero_memory = non_zero.get(podresources.MEMORY, 0)
        self.host_ports = _host_ports(spec)
        self.tolerations = _parse_tolerations(spec.get("tolerations"))
        self.node_selector: dict[str, str] = spec.get("nodeSelector") or {}
        affinity = spec.get("affinity") or {}
        self.node_affinity: Obj = affinity.get("nodeAffinity") or {}
        self.spread_constraints: list[Obj] = [c for c in spec.get("topologySpreadConstraints") or []
                                              if isinstance(c, dict)]
        self.images = _images(spec)
        self.scheduling_gates = tuple(g.get("name", "") for g in spec.get("schedulingGates") or []
                                      if isinstance(g, dict))
        self.parse_error = ""
        try:
            pod_affinity, anti_affinity = affinity.get("podAffinity"), affinity.get("podAntiAffinity")
            self.required_affinity_terms = _terms(self.namespace, pod_affinity, _REQUIRED, False)
            self.preferred_affinity_terms = _terms(self.namespace, pod_affinity, _PREFERRED, True)
            self.required_anti_affinity_terms = _terms(self.namespace, anti_affinity, _REQUIRED, False)
            self.preferred_anti_affinity_terms = _terms(self.namespace, anti_affinity, _PREFERRED, True)
        except ApiError as err:
            self.parse_error = err.message
            self.required_affinity_terms = self.preferred_affinity_terms = ()
            self.required_anti_affinity_terms = self.preferred_anti_affinity_terms = ()

    @property
    def has_pod_affinity(self) -> bool:
        """Any inter-pod (anti-)affinity term: such pods are indexed per node for the InterPodAffinity plugin."""
        return bool(self.required_affinity_terms or self.preferred_affinity_terms
                    or self.required_anti_affinity_terms or self.preferred_anti_affinity_terms)

    def on_node(self, node_name: str) -> PodInfo:
        """This pod as assumed onto ``node_name``: same parse, the node filled in (the raw pod is shared)."""
        clone = object.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            object.__setattr__(clone, slot, getattr(self, slot))
        clone.node_name = node_name
        return clone

    def __repr__(self) -> str:
        return f"PodInfo({self.key} on {self.node_name or '-'})"
