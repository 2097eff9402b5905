"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes no new pods, except pods that tolerate the
``node.kubernetes.io/unschedulable:NoSchedule`` taint (DaemonSet pods do)."""

from __future__ import annotations

from typing import Any

from provisioner.services.scheduler.framework import ClusterEvent, CycleState, Status, unresolvable
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo, Taint, tolerates

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", "NoSchedule")
_REJECTED = unresolvable(NAME, ERR_REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name = NAME
    events = ClusterEvent.NODE_ADD | ClusterEvent.NODE_TAINT

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.unschedulable and not tolerates(pod.tolerations, UNSCHEDULABLE_TAINT):
            return _REJECTED
        return None

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        return not isinstance(new, NodeInfo) or not new.unschedulable
