"""What a pod asks a node for, and what a node offers, as integers — the arithmetic the scheduler and the kubelet's
admission share (Kubernetes' ``component-helpers/resource.PodRequests`` and the scheduler's ``Resource``).

Amounts are ``int``: CPU in millicores (``Quantity.MilliValue``), everything else in whole units (``Value``: bytes
for memory and ephemeral-storage, a count for pods and extended resources), rounded up as Kubernetes does.

A pod's request for a resource is the larger of
  * what runs together: every regular container plus every sidecar (an init container with
    ``restartPolicy: Always``), and
  * the peak of the init phase: each other init container runs alone next to the sidecars started before it,
then pod-level ``spec.resources.requests`` (cpu, memory, hugepages) replace the container total when set, and
``spec.overhead`` (the RuntimeClass's cost of the sandbox) is added.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from provisioner.services.api.quantity import QuantityError, parse_quantity

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# What the scheduler assumes a container uses when it states no request, for scoring only, so that many
# request-less pods do not all pile onto one node (schedutil.DefaultMilliCPURequest / DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

Amounts = dict[str, int]


@lru_cache(maxsize=4096)
def amount(resource: str, quantity: str) -> int:
    """One quantity as the integer the scheduler compares: millicores for cpu, whole units otherwise.
    An unparsable quantity counts as 0 (validation rejects those; a cache must not crash on them)."""
    try:
        parsed = parse_quantity(str(quantity))
    except QuantityError:
        return 0
    return parsed.milli_value() if resource == CPU else parsed.value_int()


def amounts(resources: Mapping[str, Any] | None) -> Amounts:
    """A ResourceList (``{"cpu": "500m", "memory": "1Gi"}``) as integers."""
    if not resources:
        return {}
    return {name: amount(name, value) for name, value in resources.items()}


def _add(total: Amounts, more: Mapping[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _maximise(total: Amounts, other: Mapping[str, int]) -> None:
    for name, value in other.items():
        if value > total.get(name, 0):
            total[name] = value


def _with_defaults(requests: Amounts) -> Amounts:
    """A container's requests with cpu and memory filled in where it states none (non-missing requests)."""
    if CPU in requests and MEMORY in requests:
        return requests
    filled = dict(requests)
    filled.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
    filled.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return filled


def _container_requests(container: Any) -> Amounts:
    if not isinstance(container, dict):
        return {}
    resources = container.get("resources")
    return amounts(resources.get("requests")) if isinstance(resources, dict) else {}


def _containers(spec: Mapping[str, Any], field: str) -> Iterable[Any]:
    containers = spec.get(field)
    return containers if isinstance(containers, list) else ()


def pod_requests(pod: Mapping[str, Any], *, non_missing: bool = False, overhead: bool = True) -> Amounts:
    """The pod's effective requests (see the module docstring). ``non_missing`` fills each container's missing
    cpu/memory request with the scheduler's defaults — the "non-zero" requests used for scoring."""
    spec = pod.get("spec") or {}
    running: Amounts = {}
    for container in _containers(spec, "containers"):
        requests = _container_requests(container)
        _add(running, _with_defaults(requests) if non_missing else requests)
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for container in _containers(spec, "initContainers"):
        requests = _container_requests(container)
        if non_missing:
            requests = _with_defaults(requests)
        if isinstance(container, dict) and container.get("restartPolicy") == "Always":
            _add(running, requests)
            _add(sidecars, requests)
            _maximise(init_peak, sidecars)
        else:
            alone = dict(requests)
            _add(alone, sidecars)
            _maximise(init_peak, alone)
    _maximise(running, init_peak)
    pod_level = (spec.get("resources") or {}).get("requests") if isinstance(spec.get("resources"), dict) else None
    for name, value in amounts(pod_level).items():
        if name in (CPU, MEMORY) or name.startswith("hugepages-"):
            running[name] = value
    if overhead:
        _add(running, amounts(spec.get("overhead")))
    return running


def node_allocatable(node: Mapping[str, Any]) -> Amounts:
    """``status.allocatable`` (falling back to ``status.capacity``, as a node that reports only capacity means
    nothing is reserved) as integers."""
    status = node.get("status") or {}
    return amounts(status.get("allocatable") or status.get("capacity"))


__all__ = [
    "CPU",
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "EPHEMERAL_STORAGE",
    "MEMORY",
    "PODS",
    "Amounts",
    "amount",
    "amounts",
    "node_allocatable",
    "pod_requests",
]
