"""What a kubelet (real or simulated) writes about its node besides the Node's facts: the heartbeat conditions and
the Lease in kube-node-lease. Pure functions of names and times, shared by the kubelet and simnodes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provisioner.services.api.timestamps import micro_time, rfc3339

Obj = dict[str, Any]

KUBELET_PORT = 10250
NODE_LEASE_NAMESPACE = "kube-node-lease"

# (type, status, reason, message) of the conditions a healthy kubelet reports, in the kubelet's order.
HEALTHY_CONDITIONS: tuple[tuple[str, str, str, str], ...] = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def heartbeat_conditions(previous: Iterable[Obj], now: float,
                         reported: Iterable[tuple[str, str, str, str]] = HEALTHY_CONDITIONS) -> list[Obj]:
    """The conditions to post at ``now``: every heartbeat is now; a condition whose status is what ``previous``
    (the Node's current conditions) says keeps its lastTransitionTime, one that flips or is new transitions now."""
    since = {c.get("type"): (c.get("status"), c.get("lastTransitionTime")) for c in previous}
    heartbeat = rfc3339(now)
    conditions = []
    for kind, status, reason, message in reported:
        old_status, old_transition = since.get(kind, (None, None))
        transition = old_transition if old_status == status and old_transition else heartbeat
        conditions.append({"type": kind, "status": status, "lastHeartbeatTime": heartbeat,
                           "lastTransitionTime": transition, "reason": reason, "message": message})
    return conditions


def lease_object(node: str, node_uid: str, duration_seconds: int, now: float) -> Obj:
    """The node's Lease, owned by its Node (deleting the Node garbage-collects the Lease, as with kubelets)."""
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": NODE_LEASE_NAMESPACE, "ownerReferences": [node_owner(node, node_uid)]},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": duration_seconds, "renewTime": micro_time(now)},
    }  # fmt: skip


def node_owner(node: str, node_uid: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}


# What a kubelet may label its own Node with in the kubernetes.io and k8s.io namespaces (the NodeRestriction
# rules the upstream kubelet enforces on --node-labels); any other label there is refused.
KUBELET_OWN_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch", "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
})
KUBELET_OWN_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def kubelet_may_set_label(key: str) -> bool:
    """NodeRestriction: a kubelet may not give its own Node labels in the kubernetes.io/k8s.io namespaces
    (such as node-role.kubernetes.io/*) except the ones above; an admin applies those."""
    namespace = key.rpartition("/")[0]
    in_kubernetes = any(namespace == d or namespace.endswith("." + d) for d in ("kubernetes.io", "k8s.io"))
    own = key in KUBELET_OWN_LABELS or any(namespace == n or namespace.endswith("." + n)
                                           for n in KUBELET_OWN_LABEL_NAMESPACES)
    return own or not in_kubernetes
