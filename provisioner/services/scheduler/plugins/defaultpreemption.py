"""DefaultPreemption: when a pod fits nowhere, find a node where evicting pods of *lower* priority would make it
fit, and pick the node where that hurts least — the lowest highest-priority victim, then the lowest sum of victim
priorities, then the fewest victims, then the most recently started victims. Victims are kept (reprieved) from the
most important down whenever the pod still fits without evicting them.

The decision is made inside the scheduling cycle; the evictions (a ``DisruptionTarget`` condition, then a
delete) and the pod's ``status.nominatedNodeName`` are written by the scheduler afterwards. While victims are
terminating the pod waits rather than preempting more (a terminating victim on its nominated node makes it
ineligible), and other pods of lower or equal priority treat the nominated pod as already on that node.

PodDisruptionBudgets are not consulted: this cluster serves no policy/v1 PodDisruptionBudget resource.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from provisioner.services.scheduler.algorithm import FitError, SchedulingAlgorithm, reasons_summary
from provisioner.services.scheduler.framework import (
    Code,
    CycleState,
    PostFilterResult,
    Status,
    unresolvable,
    unschedulable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "DefaultPreemption"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
_INT32_SPAN = 2**31  # keeps every priority non-negative in the sum criterion


def _importance(pod: PodInfo) -> tuple[int, str]:
    """Sort key, most important first: higher priority, then earlier start (a pod not started yet counts as
    starting now, i.e. last)."""
    return (-pod.priority, pod.start_time or "~")


class DefaultPreemption:
    name = NAME

    def __init__(self, rng: random.Random | None = None) -> None:
        self.handle: SchedulingAlgorithm | None = None
        self.rng = rng or random.Random()
        self.in_progress: set[str] = set()  # pods whose victims' evictions are still being written

    def set_handle(self, handle: SchedulingAlgorithm) -> None:
        self.handle = handle

    def post_filter(self, state: CycleState, pod: PodInfo,
                    fit_error: FitError) -> tuple[PostFilterResult | None, Status]:
        eligible, why_not = self._eligible(pod, fit_error.diagnosis.node_to_status)
        if not eligible:
            return None, unschedulable(NAME, f"preemption: {why_not}")
        assert self.handle is not None, "DefaultPreemption needs set_handle() before use"
        statuses = fit_error.diagnosis.node_to_status
        potential = [node for node in self.handle.cache.node_list()
                     if (status := statuses.get(node.name)) is not None and status.code == Code.UNSCHEDULABLE]
        candidates: dict[str, list[PodInfo]] = {}
        dry_run_statuses: dict[str, Status] = {}
        if potential:
            wanted = min(len(potential), max(len(potential) * MIN_CANDIDATE_NODES_PERCENTAGE // 100,
                                             MIN_CANDIDATE_NODES_ABSOLUTE))
            offset = self.rng.randrange(len(potential))
            for i in range(len(potential)):
                node = potential[(offset + i) % len(potential)]
                victims, status = self.select_victims_on_node(state, pod, node)
                if victims:
                    candidates[node.name] = victims
                    if len(candidates) >= wanted:
                        break
                elif status is not None:
                    dry_run_statuses[node.name] = status
        if not candidates:
            summary = reasons_summary(fit_error.num_all_nodes, dry_run_statuses, unresolvable(NAME, NOT_HELPFUL))
            return PostFilterResult(""), unschedulable(NAME, f"preemption: {summary}")
        best = pick_one_node(candidates)
        return PostFilterResult(best, candidates[best]), Status(Code.SUCCESS, (), NAME)

    def _eligible(self, pod: PodInfo, statuses: dict[str, Status]) -> tuple[bool, str]:
        if pod.preemption_policy == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        if pod.uid in self.in_progress:
            return False, "waiting for the preemption for this pod to be finished"
        nominated = pod.nominated_node_name
        if nominated and self.handle is not None:
            status = statuses.get(nominated)
            if status is not None and status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            node = self.handle.cache.nodes.get(nominated)
            if node is not None and any(p.priority < pod.priority and p.deleting and p.disruption_target
                                        for p in node.pods.values()):
                return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    def select_victims_on_node(self, state: CycleState, pod: PodInfo,
                               node: NodeInfo) -> tuple[list[PodInfo], Status | None]:
        """The fewest lower-priority pods to evict from ``node`` so ``pod`` fits, or why none would do."""
        assert self.handle is not None
        handle = self.handle
        lower = [p for p in node.pods.values() if p.priority < pod.priority]
        if not lower:
            return [], unresolvable(NAME, NO_VICTIMS)
        what_if_state, what_if_node = state.clone(), node.clone()
        for victim in lower:
            what_if_node.remove_pod(victim.uid)
            handle.remove_pod_from_state(what_if_state, pod, victim, what_if_node)
        status = handle.run_filters_with_nominated(what_if_state, pod, what_if_node)
        if status is not None:
            return [], status
        victims = []
        for candidate in sorted(lower, key=_importance):
            what_if_node.add_pod(candidate)
            handle.add_pod_to_state(what_if_state, pod, candidate, what_if_node)
            if handle.run_filters_with_nominated(what_if_state, pod, what_if_node) is not None:
                what_if_node.remove_pod(candidate.uid)
                handle.remove_pod_from_state(what_if_state, pod, candidate, what_if_node)
                victims.append(candidate)
        return victims, None


def pick_one_node(candidates: dict[str, list[PodInfo]]) -> str:
    """pickOneNodeForPreemption without PodDisruptionBudgets; victims lists are most important first."""
    def highest(node: str) -> int:
        return max(v.priority for v in candidates[node])

    def earliest_start_of_highest(node: str) -> str:
        top = highest(node)
        return min((v.start_time or "~") for v in candidates[node] if v.priority == top)

    criteria: Sequence = (
        lambda n: -highest(n),
        lambda n: -sum(v.priority + _INT32_SPAN for v in candidates[n]),
        lambda n: -len(candidates[n]),
        earliest_start_of_highest,  # later is better: the victims have run the shortest
    )
    remaining = list(candidates)
    for criterion in criteria:
        scores = {n: criterion(n) for n in remaining}
        best = max(scores.values())
        remaining = [n for n in remaining if scores[n] == best]
        if len(remaining) == 1:
            break
    return remaining[0]
