"""PodTopologySpread: keep the pods a constraint selects evenly spread over topology domains.

``whenUnsatisfiable: DoNotSchedule`` filters: placing the pod in a node's domain must not make that domain hold more
than ``maxSkew`` matching pods above the emptiest eligible domain (counted as 0 while fewer than ``minDomains``
domains exist). A node lacking the topology key is unresolvably out. ``ScheduleAnyway`` scores: fewer matching
pods in the node's domain score higher, each constraint weighted by log(number of domains + 2).

Eligible domains are those of nodes that have every constraint's key and pass the node inclusion policies:
``nodeAffinityPolicy: Honor`` (default) — the node matches the pod's nodeSelector/required affinity;
``nodeTaintsPolicy: Honor`` (default Ignore) — the pod tolerates the node's taints. ``matchLabelKeys`` adds the
pod's own values of those labels to the selector. Terminating pods do not count.

Kubernetes' system-default constraints (spreading a Service's or ReplicaSet's pods when the pod states none) are
not applied: they need Service/ReplicaSet listers this scheduler does not run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.services.api.selectors import IN, LabelSelector, Requirement, label_selector_from_dict
from provisioner.services.api.status import ApiError
from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    ClusterEvent,
    CycleState,
    Status,
    error,
    unresolvable,
    unschedulable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.plugins.nodeaffinity import RequiredNodeAffinity, required_node_affinity
from provisioner.services.scheduler.plugins.tainttoleration import untolerated_taint
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
HOSTNAME_LABEL = "kubernetes.io/hostname"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
_NO_MINIMUM = 2**31 - 1  # the minimum over no domains: every skew passes


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    selector: LabelSelector
    min_domains: int
    honor_node_affinity: bool
    honor_node_taints: bool


def parse_constraints(pod: PodInfo, when: str) -> list[Constraint]:
    constraints = []
    for raw in pod.spread_constraints:
        if raw.get("whenUnsatisfiable", DO_NOT_SCHEDULE) != when:
            continue
        selector = label_selector_from_dict(raw.get("labelSelector"))
        extra = [Requirement(key, IN, (pod.labels[key],)) for key in raw.get("matchLabelKeys") or []
                 if isinstance(key, str) and key in pod.labels]
        if extra and not selector.nothing:
            selector = LabelSelector(tuple(sorted((*selector.requirements, *extra), key=lambda r: r.key)))
        constraints.append(Constraint(
            max_skew=int(raw.get("maxSkew") or 1), topology_key=str(raw.get("topologyKey") or ""),
            when_unsatisfiable=when, selector=selector, min_domains=int(raw.get("minDomains") or 1),
            honor_node_affinity=raw.get("nodeAffinityPolicy", "Honor") == "Honor",
            honor_node_taints=raw.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    return constraints


def _has_all_keys(node: NodeInfo, constraints: Sequence[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


def _included(c: Constraint, pod: PodInfo, node: NodeInfo, required: RequiredNodeAffinity) -> bool:
    if c.honor_node_affinity and not required.matches(node):
        return False
    return not (c.honor_node_taints and untolerated_taint(node.taints, pod.tolerations) is not None)


class _FilterState:
    __slots__ = ("constraints", "required", "counts", "minimum")

    def __init__(self, constraints: list[Constraint], required: RequiredNodeAffinity) -> None:
        self.constraints = constraints
        self.required = required
        self.counts: list[Counter[str]] = [Counter() for _ in constraints]  # domain value → matching pods
        self.minimum: list[int] = []

    def recompute_minimum(self) -> None:
        self.minimum = [min(counts.values(), default=_NO_MINIMUM) for counts in self.counts]

    def clone(self) -> _FilterState:
        copy = _FilterState(self.constraints, self.required)
        copy.counts = [Counter(c) for c in self.counts]
        copy.minimum = list(self.minimum)
        return copy


class PodTopologySpread:
    name = NAME
    events = ClusterEvent.ASSIGNED_POD_ANY | ClusterEvent.NODE_ADD | ClusterEvent.NODE_LABEL | ClusterEvent.NODE_TAINT

    def __init__(self, cache: SchedulerCache) -> None:
        self.cache = cache

    def _matching_per_node(self, pod: PodInfo, constraint: Constraint) -> Counter[str]:
        """Node name → pods there (not terminating) in the pod's namespace that the constraint selects."""
        return Counter(p.node_name for p in self.cache.pods_matching(constraint.selector, (pod.namespace,))
                       if not p.deleting)

    # ------------------------------------------------------------------------------------------------ filter
    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        try:
            constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
        except ApiError as err:
            return error(NAME, f"parsing topology spread constraints: {err.message}")
        if not constraints:
            return SKIP
        s = _FilterState(constraints, required_node_affinity(pod))
        per_node = [self._matching_per_node(pod, c) for c in constraints]
        for node in self.cache.node_list():
            if not _has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                if _included(c, pod, node, s.required):
                    s.counts[i][node.labels[c.topology_key]] += per_node[i].get(node.name, 0)
        s.recompute_minimum()
        state.write(NAME, s)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(NAME)
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return unresolvable(NAME, ERR_REASON_NODE_LABEL_NOT_MATCH)
            minimum = 0 if len(s.counts[i]) < c.min_domains else s.minimum[i]
            self_match = 1 if c.selector.matches(pod.labels) else 0
            if s.counts[i].get(value, 0) + self_match - minimum > c.max_skew:
                return unschedulable(NAME, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, delta: int) -> None:
        s: _FilterState | None = state.read(NAME)
        if s is None or other.namespace != pod.namespace or not _has_all_keys(node, s.constraints):
            return
        for i, c in enumerate(s.constraints):
            if c.selector.matches(other.labels) and _included(c, pod, node, s.required):
                s.counts[i][node.labels[c.topology_key]] += delta
        s.recompute_minimum()

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._update(state, pod, other, node, -1)

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        """Only pods the pod's constraints select, in its namespace, change the counts."""
        changed = [p for p in (old, new) if isinstance(p, PodInfo)]
        if not changed:
            return True
        try:
            constraints = parse_constraints(pod, DO_NOT_SCHEDULE)
        except ApiError:
            return True
        return any(p.namespace == pod.namespace and c.selector.matches(p.labels) for p in changed for c in constraints)

    # ------------------------------------------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        try:
            constraints = parse_constraints(pod, SCHEDULE_ANYWAY)
        except ApiError:
            return SKIP
        if not constraints or not nodes:
            return SKIP
        ignored = {n.name for n in nodes if not _has_all_keys(n, constraints)}
        pairs: dict[tuple[str, str], int] = {}
        sizes = [0] * len(constraints)
        for node in nodes:
            if node.name in ignored:
                continue
            for i, c in enumerate(constraints):
                pair = (c.topology_key, node.labels[c.topology_key])
                if c.topology_key != HOSTNAME_LABEL and pair not in pairs:
                    pairs[pair] = 0
                    sizes[i] += 1
        weights = [math.log((len(nodes) - len(ignored) if c.topology_key == HOSTNAME_LABEL else sizes[i]) + 2)
                   for i, c in enumerate(constraints)]
        required = required_node_affinity(pod)
        per_node = [self._matching_per_node(pod, c) for c in constraints]
        for node in self.cache.node_list():
            if not _has_all_keys(node, constraints):
                continue
            for i, c in enumerate(constraints):
                pair = (c.topology_key, node.labels[c.topology_key])
                if pair in pairs and _included(c, pod, node, required):
                    pairs[pair] += per_node[i].get(node.name, 0)
        state.write(NAME + "/score", (constraints, ignored, pairs, weights, per_node))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        constraints, ignored, pairs, weights, per_node = state.read(NAME + "/score")
        if node.name in ignored:
            return 0
        total = 0.0
        for i, c in enumerate(constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            count = per_node[i].get(node.name, 0) if c.topology_key == HOSTNAME_LABEL else pairs[(c.topology_key, value)]
            total += count * weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5)  # Go's math.Round: halves away from zero

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]) -> None:
        _, ignored, _, _, _ = state.read(NAME + "/score")
        counted = [s for node, s in zip(nodes, scores, strict=True) if node.name not in ignored]
        low, high = min(counted, default=0), max(counted, default=0)
        for i, node in enumerate(nodes):
            if node.name in ignored:
                scores[i] = 0
            elif high == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (high + low - scores[i]) // high
