"""TaintToleration: a node's NoSchedule and NoExecute taints keep off pods that do not tolerate them; each
untolerated PreferNoSchedule taint makes a node less attractive.

A NoExecute toleration with ``tolerationSeconds`` still lets the pod be scheduled: the seconds bound how long it
may stay once the taint is there, which is the node lifecycle controller's business, not the scheduler's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from provisioner.services.scheduler.framework import (
    SKIP,
    ClusterEvent,
    CycleState,
    Status,
    default_normalize,
    unresolvable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo, Taint, Toleration, tolerates

NAME = "TaintToleration"
ERR_REASON_NOT_MATCH = "node(s) had untolerated taint(s)"
DO_NOT_SCHEDULE = ("NoSchedule", "NoExecute")


def untolerated_taint(taints: Sequence[Taint], tolerations: tuple[Toleration, ...]) -> Taint | None:
    """The first NoSchedule/NoExecute taint none of ``tolerations`` tolerates (FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if taint.effect in DO_NOT_SCHEDULE and not tolerates(tolerations, taint):
            return taint
    return None


class TaintToleration:
    name = NAME
    events = ClusterEvent.NODE_ADD | ClusterEvent.NODE_TAINT

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if node.taints and untolerated_taint(node.taints, pod.tolerations) is not None:
            return unresolvable(NAME, ERR_REASON_NOT_MATCH)
        return None

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        return not isinstance(new, NodeInfo) or untolerated_taint(new.taints, pod.tolerations) is None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        # Scores that are equal on every node cannot change the choice: skip when no node prefers pods away.
        if not any(t.effect == "PreferNoSchedule" for node in nodes for t in node.taints):
            return SKIP
        state.write(NAME, tuple(t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations: tuple[Toleration, ...] = state.read(NAME)
        return sum(1 for taint in node.taints
                   if taint.effect == "PreferNoSchedule" and not tolerates(tolerations, taint))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores, reverse=True)
