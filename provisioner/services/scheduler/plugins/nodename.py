"""NodeName: a pod that names its node (``spec.nodeName``) fits only there. Pods the scheduler picks up have no
nodeName, so this matters only for what-if checks (preemption) — kept for parity with kube-scheduler."""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.services.scheduler.framework import SKIP, ClusterEvent, CycleState, Status, unresolvable
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECTED = unresolvable(NAME, ERR_REASON)


class NodeName:
    name = NAME
    events = ClusterEvent.NODE_ADD

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if (pod.pod.get("spec") or {}).get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        wanted = (pod.pod.get("spec") or {}).get("nodeName")
        return _REJECTED if wanted and wanted != node.name else None
