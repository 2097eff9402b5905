"""NodePorts: two pods cannot claim the same host port (and protocol) on one node; ``hostIP`` 0.0.0.0 claims the
port on every address of the node."""

from __future__ import annotations

from collections.abc import Sequence

from provisioner.services.scheduler.framework import SKIP, ClusterEvent, CycleState, Status, unschedulable
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECTED = unschedulable(NAME, ERR_REASON)


class NodePorts:
    name = NAME
    events = ClusterEvent.NODE_ADD | ClusterEvent.ASSIGNED_POD_DELETE | ClusterEvent.ASSIGNED_POD_UPDATE

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.used_ports and any(node.port_conflicts(port) for port in pod.host_ports):
            return _REJECTED
        return None

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: object, new: object) -> bool:
        """A removed pod helps only if it held one of the ports this pod wants."""
        if event & (ClusterEvent.ASSIGNED_POD_DELETE | ClusterEvent.ASSIGNED_POD_UPDATE) and isinstance(old, PodInfo):
            wanted = {(proto, port) for _, proto, port in pod.host_ports}
            return any((proto, port) in wanted for _, proto, port in old.host_ports)
        return True
