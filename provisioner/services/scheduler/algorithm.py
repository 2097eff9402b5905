"""One scheduling cycle: filter nodes, score the feasible ones, pick the best — or explain why none fits.

Speed at thousands of nodes comes from kube-scheduler's percentageOfNodesToScore: filtering stops once enough
feasible nodes are found (50 % − nodes/125 of the cluster, at least 5 % and at least 100 nodes), and each cycle
starts where the previous one stopped, so all nodes get their turn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from provisioner.services.scheduler.cache import SchedulerCache
from provisioner.services.scheduler.framework import (
    Code,
    CycleState,
    PostFilterResult,
    PreFilterResult,
    Profile,
    Status,
    unresolvable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"
NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage: int, nodes: int) -> int:
    """How many feasible nodes are enough to stop filtering (kube-scheduler's numFeasibleNodesToFind)."""
    if nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return nodes
    if percentage <= 0:
        percentage = max(50 - nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(nodes * min(percentage, 100) // 100, MIN_FEASIBLE_NODES_TO_FIND)


# ------------------------------------------------------------------------------------------------ nominations
class Nominator:
    """Pods waiting for a node that preemption is clearing for them (``status.nominatedNodeName``). Other pods of
    lower or equal priority are filtered as if the nominated pods already ran there, so they do not take the
    room being made."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def update(self, pod: PodInfo, node_name: str | None = None) -> None:
        """Record ``pod``'s nomination (``node_name`` or its status.nominatedNodeName; empty clears it)."""
        node_name = pod.nominated_node_name if node_name is None else node_name
        self.remove(pod.uid)
        if node_name:
            self._by_node.setdefault(node_name, {})[pod.uid] = pod
            self._node_of[pod.uid] = node_name

    def remove(self, uid: str) -> None:
        node_name = self._node_of.pop(uid, None)
        if node_name is not None:
            pods = self._by_node[node_name]
            pods.pop(uid, None)
            if not pods:
                del self._by_node[node_name]

    def pods_for(self, node_name: str) -> list[PodInfo]:
        return list((self._by_node.get(node_name) or {}).values())

    def node_of(self, uid: str) -> str:
        return self._node_of.get(uid, "")

    def __bool__(self) -> bool:
        return bool(self._by_node)


# -------------------------------------------------------------------------------------------------- outcomes
@dataclass
class Diagnosis:
    """Why each node was rejected, for the FailedScheduling message and for the queue's retry decision."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    absent_status: Status | None = None  # for nodes not in node_to_status (rejected before filtering)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


def reasons_summary(num_all_nodes: int, node_to_status: dict[str, Status], absent: Status | None) -> str:
    """"0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu." — reasons counted over nodes,
    "<count> <reason>" strings sorted as strings, as kube-scheduler's FitError does."""
    counts: dict[str, int] = {}
    for status in node_to_status.values():
        for reason in status.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    if absent is not None and len(node_to_status) < num_all_nodes:
        for reason in absent.reasons:
            counts[reason] = counts.get(reason, 0) + num_all_nodes - len(node_to_status)
    message = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
    if histogram:
        message += f" {', '.join(histogram)}."
    return message


class FitError(Exception):
    """No node fits the pod; ``str()`` is the FailedScheduling message."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        super().__init__()
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        self.post_filter_result: PostFilterResult | None = None

    def __str__(self) -> str:
        d = self.diagnosis
        if d.pre_filter_msg:
            message = NO_NODE_AVAILABLE_MSG.format(self.num_all_nodes) + f": {d.pre_filter_msg}."
        else:
            message = reasons_summary(self.num_all_nodes, d.node_to_status, d.absent_status)
        if d.post_filter_msg:
            message += f" {d.post_filter_msg}"
        return message


class SchedulingError(Exception):
    """The cycle could not run (no nodes at all, a plugin error): retried with backoff."""


@dataclass(frozen=True)
class ScheduleResult:
    node_name: str
    evaluated_nodes: int
    feasible_nodes: int


# ------------------------------------------------------------------------------------------------- algorithm
class SchedulingAlgorithm:
    def __init__(self, profile: Profile, cache: SchedulerCache, nominator: Nominator | None = None,
                 rng: random.Random | None = None) -> None:
        self.profile = profile
        self.cache = cache
        self.nominator = nominator if nominator is not None else Nominator()
        self.rng = rng or random.Random()
        self.next_start_index = 0
        for weighted in profile.plugins:
            bind = getattr(weighted.plugin, "set_handle", None)
            if bind is not None:
                bind(self)

    def schedule(self, pod: PodInfo) -> ScheduleResult:
        nodes = self.cache.node_list()
        if not nodes:
            raise SchedulingError(NO_NODES_AVAILABLE)
        state = CycleState()
        feasible, diagnosis, evaluated = self.find_nodes_that_fit(state, pod, nodes)
        if not feasible:
            fit_error = FitError(pod, len(nodes), diagnosis)
            self.run_post_filter(state, pod, fit_error)
            raise fit_error
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, evaluated, 1)
        totals = self.prioritize(state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, totals), evaluated, len(feasible))

    # ------------------------------------------------------------------------------------------ filtering
    def run_pre_filter(self, state: CycleState, pod: PodInfo,
                       nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        narrowed: PreFilterResult | None = None
        narrowing: list[str] = []
        for plugin in self.profile.pre_filters:
            outcome = plugin.pre_filter(state, pod, nodes)  # type: ignore[attr-defined]
            if outcome is None:
                continue
            if isinstance(outcome, PreFilterResult):
                narrowing.append(plugin.name)
                names = outcome.node_names if narrowed is None else narrowed.node_names & outcome.node_names
                narrowed = PreFilterResult(names)
                continue
            if outcome.code == Code.SKIP:
                state.skip_filter.add(plugin.name)
                continue
            status = outcome.with_plugin(plugin.name)
            if status.code == Code.ERROR:
                raise SchedulingError(f"running PreFilter plugin {plugin.name!r}: {status.message}")
            return None, status
        if narrowed is not None:
            state.write("__narrowed_by__", sorted(narrowing))
            if not narrowed.node_names and len(narrowing) > 1:
                return None, unresolvable(narrowing[0], f"node(s) didn't satisfy plugin(s) [{' '.join(narrowing)}] "
                                                        "simultaneously")
        return narrowed, None

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        skip = state.skip_filter
        for name, filter_fn in self.profile.filters:
            if name in skip:
                continue
            status = filter_fn(state, pod, node)
            if status is not None:
                return status
        return None

    def run_filters_with_nominated(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Filters with the node's nominated pods of at least this priority counted as running there; a node that
        passes is checked again without them (affinity to a nominated pod must not be taken for granted)."""
        nominated = [p for p in self.nominator.pods_for(node.name) if p.priority >= pod.priority and p.uid != pod.uid]
        if not nominated:
            return self.run_filters(state, pod, node)
        with_nominated_state, with_nominated_node = state.clone(), node.clone()
        for other in nominated:
            placed = other.on_node(node.name)
            with_nominated_node.add_pod(placed)
            self.add_pod_to_state(with_nominated_state, pod, placed, with_nominated_node)
        status = self.run_filters(with_nominated_state, pod, with_nominated_node)
        return status if status is not None else self.run_filters(state, pod, node)

    def add_pod_to_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for plugin in self.profile.pre_filter_extensions:
            if plugin.name not in state.skip_filter:
                plugin.add_pod(state, pod, other, node)  # type: ignore[attr-defined]

    def remove_pod_from_state(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        for plugin in self.profile.pre_filter_extensions:
            if plugin.name not in state.skip_filter:
                plugin.remove_pod(state, pod, other, node)  # type: ignore[attr-defined]

    def find_nodes_that_fit(self, state: CycleState, pod: PodInfo,
                            nodes: Sequence[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis, int]:
        diagnosis = Diagnosis()
        narrowed, status = self.run_pre_filter(state, pod, nodes)
        if status is not None:
            diagnosis.pre_filter_msg = status.message
            diagnosis.absent_status = status
            diagnosis.unschedulable_plugins.add(status.plugin)
            return [], diagnosis, 0
        if pod.nominated_node_name:
            # The node preemption cleared for this pod is tried first and taken if it fits.
            nominated = self.cache.nodes.get(pod.nominated_node_name)
            if nominated is not None and nominated.node is not None and \
                    (narrowed is None or nominated.name in narrowed.node_names) and \
                    self.run_filters_with_nominated(state, pod, nominated) is None:
                return [nominated], diagnosis, 1
        candidates = nodes
        rotate = True
        if narrowed is not None:
            candidates = [n for name in sorted(narrowed.node_names)
                          if (n := self.cache.nodes.get(name)) is not None and n.node is not None]
            plugins = state.read("__narrowed_by__")
            diagnosis.absent_status = unresolvable(plugins[0], f"node(s) didn't satisfy plugin(s) [{' '.join(plugins)}]")
            rotate = False
        feasible, evaluated = self._filter_nodes(state, pod, candidates, diagnosis, len(nodes), rotate)
        return feasible, diagnosis, evaluated

    def _filter_nodes(self, state: CycleState, pod: PodInfo, candidates: Sequence[NodeInfo], diagnosis: Diagnosis,
                      all_nodes: int, rotate: bool) -> tuple[list[NodeInfo], int]:
        count = len(candidates)
        if count == 0:
            return [], 0
        wanted = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, all_nodes)
        start = self.next_start_index % count if rotate else 0
        with_nominated = bool(self.nominator)
        filters = [(name, fn) for name, fn in self.profile.filters if name not in state.skip_filter]
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status
        evaluated = 0
        for i in range(count):
            node = candidates[(start + i) % count]
            evaluated += 1
            if with_nominated:
                status = self.run_filters_with_nominated(state, pod, node)
            else:
                status = None
                for _, filter_fn in filters:  # inlined run_filters: this loop is the scheduler's hot path
                    status = filter_fn(state, pod, node)
                    if status is not None:
                        break
            if status is None:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
                continue
            if status.code == Code.ERROR:
                raise SchedulingError(f"running Filter plugin {status.plugin!r} on {node.name}: {status.message}")
            statuses[node.name] = status
            diagnosis.unschedulable_plugins.add(status.plugin)
        if rotate:
            self.next_start_index = (start + evaluated) % count
        return feasible, evaluated

    def run_post_filter(self, state: CycleState, pod: PodInfo, fit_error: FitError) -> None:
        for plugin in self.profile.post_filters:
            result, status = plugin.post_filter(state, pod, fit_error)  # type: ignore[attr-defined]
            if result is not None:
                fit_error.post_filter_result = result  # a nomination, or "" to clear an old one
            if status.code == Code.SUCCESS:
                return
            if status.reasons:
                fit_error.diagnosis.post_filter_msg = status.message

    # -------------------------------------------------------------------------------------------- scoring
    def prioritize(self, state: CycleState, pod: PodInfo, feasible: list[NodeInfo]) -> list[int]:
        for plugin in self.profile.pre_scores:
            status = plugin.pre_score(state, pod, feasible)  # type: ignore[attr-defined]
            if status is None:
                continue
            if status.code == Code.SKIP:
                state.skip_score.add(plugin.name)
            elif status.code == Code.ERROR:
                raise SchedulingError(f"running PreScore plugin {plugin.name!r}: {status.message}")
        totals = [0] * len(feasible)
        for name, score_fn, normalize, weight in self.profile.scores:
            if name in state.skip_score:
                continue
            scores = [score_fn(state, pod, node) for node in feasible]
            if normalize is not None:
                normalize(state, pod, feasible, scores)
            totals = [total + score * weight for total, score in zip(totals, scores, strict=True)]
        return totals

    def select_host(self, feasible: Sequence[NodeInfo], totals: Sequence[int]) -> str:
        """The highest total; ties broken uniformly at random."""
        best = max(totals)
        tied = [i for i, total in enumerate(totals) if total == best]
        return feasible[tied[0] if len(tied) == 1 else self.rng.choice(tied)].name
