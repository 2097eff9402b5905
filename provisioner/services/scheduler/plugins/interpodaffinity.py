"""InterPodAffinity: place a pod relative to pods already running, by topology domain (``topologyKey``: a node, a
zone, …).

Filter, from three counts made once per pod (PreFilter):
  * required affinity — the node's domain must hold a pod matching all the pod's affinity terms (or, for the
    first pod of a group that matches its own terms, no such pod exists anywhere yet);
  * required anti-affinity — the node's domain must hold no pod matching any of its anti-affinity terms;
  * existing pods' required anti-affinity — no pod in the node's domain may have an anti-affinity term that
    matches this pod (symmetry: "keep away from me" binds newcomers too).
Score: preferred terms of the pod (± weight per matching pod in the domain), plus the terms of pods already
running that match this pod (their required affinity counts with the hard-affinity weight 1, their preferred
affinity and anti-affinity with their weights), normalized min–max to 0–100.

Counting reads the cache's live per-term counts (for the pod's own terms) and its table of distinct terms carried
by running pods, so a pod's PreFilter costs about the same whatever the number of pods and nodes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from provisioner.services.scheduler.cache import SchedulerCache, TermCounts, TopologyPair, bump_pair
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
from provisioner.services.scheduler.podinfo import AffinityTerm, PodInfo

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_AFFINITY_REJECTED = unresolvable(NAME, ERR_REASON_AFFINITY)
_ANTI_AFFINITY_REJECTED = unschedulable(NAME, ERR_REASON_ANTI_AFFINITY)
_EXISTING_REJECTED = unschedulable(NAME, ERR_REASON_EXISTING_ANTI_AFFINITY)


class _FilterState:
    """Counts per topology pair. They may be the cache's live Counters (read-only); ``clone()`` copies them before
    preemption or nominated pods update a what-if state in place."""

    __slots__ = ("pod", "namespace_labels", "affinity_terms", "anti_terms", "affinity_counts", "anti_counts",
                 "existing_anti_counts")

    def __init__(self, pod: PodInfo, namespace_labels: dict[str, str] | None,
                 affinity_terms: tuple[AffinityTerm, ...], anti_terms: tuple[AffinityTerm, ...]) -> None:
        self.pod = pod
        self.namespace_labels = namespace_labels
        self.affinity_terms = affinity_terms
        self.anti_terms = anti_terms
        self.affinity_counts: Counter[TopologyPair] = Counter()
        self.anti_counts: Counter[TopologyPair] = Counter()
        self.existing_anti_counts: Counter[TopologyPair] = Counter()

    def clone(self) -> _FilterState:
        copy = _FilterState(self.pod, self.namespace_labels, self.affinity_terms, self.anti_terms)
        copy.affinity_counts = Counter(self.affinity_counts)
        copy.anti_counts = Counter(self.anti_counts)
        copy.existing_anti_counts = Counter(self.existing_anti_counts)
        return copy

    def update_with(self, other: PodInfo, node: NodeInfo, delta: int) -> None:
        labels = node.labels
        for term in other.required_anti_affinity_terms:
            if term.matches(self.pod, self.namespace_labels):
                bump_pair(self.existing_anti_counts, term.topology_key, labels, delta)
        if self.affinity_terms and all(t.matches(other, None) for t in self.affinity_terms):
            for term in self.affinity_terms:
                bump_pair(self.affinity_counts, term.topology_key, labels, delta)
        for term in self.anti_terms:
            if term.matches(other, None):
                bump_pair(self.anti_counts, term.topology_key, labels, delta)


def _matches_all(pod: PodInfo, terms: Iterable[AffinityTerm]) -> bool:
    return all(term.matches(pod, None) for term in terms)


class InterPodAffinity:
    name = NAME
    events = (ClusterEvent.ASSIGNED_POD_ANY | ClusterEvent.NODE_ADD | ClusterEvent.NODE_LABEL
              | ClusterEvent.NAMESPACE_CHANGE)

    def __init__(self, cache: SchedulerCache) -> None:
        self.cache = cache

    # ------------------------------------------------------------------------------------------------ filter
    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        if pod.parse_error:
            return error(NAME, f"parsing pod: {pod.parse_error}")
        cache = self.cache
        affinity_terms = tuple(cache.resolve_namespaces(t) for t in pod.required_affinity_terms)
        anti_terms = tuple(cache.resolve_namespaces(t) for t in pod.required_anti_affinity_terms)
        filter_state = _FilterState(pod, cache.namespace_labels.get(pod.namespace), affinity_terms, anti_terms)
        for term, pairs in cache.required_anti_affinity.items():
            if term.matches(pod, filter_state.namespace_labels):
                filter_state.existing_anti_counts.update(pairs)
        if len(affinity_terms) == 1:
            filter_state.affinity_counts = cache.match_counts(affinity_terms[0])
        elif affinity_terms:  # a pod must match every term to count: no shared view for that
            first, rest = affinity_terms[0], affinity_terms[1:]
            for other in cache.pods_matching(first.selector, first.namespaces):
                if _matches_all(other, rest):
                    labels = cache.nodes[other.node_name].labels
                    for term in affinity_terms:
                        bump_pair(filter_state.affinity_counts, term.topology_key, labels, 1)
        if len(anti_terms) == 1:
            filter_state.anti_counts = cache.match_counts(anti_terms[0])
        else:
            for term in anti_terms:
                filter_state.anti_counts.update(cache.match_counts(term))
        if not affinity_terms and not anti_terms and not filter_state.existing_anti_counts:
            return SKIP
        state.write(NAME, filter_state)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState = state.read(NAME)
        labels = node.labels
        if s.affinity_terms and not self._satisfies_affinity(s, labels):
            return _AFFINITY_REJECTED
        if s.anti_counts:
            for term in s.anti_terms:
                value = labels.get(term.topology_key)
                if value is not None and s.anti_counts.get((term.topology_key, value)):
                    return _ANTI_AFFINITY_REJECTED
        existing = s.existing_anti_counts
        if existing:
            for pair in labels.items():
                if existing.get(pair):
                    return _EXISTING_REJECTED
        return None

    @staticmethod
    def _satisfies_affinity(s: _FilterState, labels: dict[str, str]) -> bool:
        pods_exist = True
        for term in s.affinity_terms:
            value = labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must be on the node
            if s.affinity_counts.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: no matching pod exists anywhere yet.
        return not s.affinity_counts and _matches_all(s.pod, s.affinity_terms)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        s: _FilterState | None = state.read(NAME)
        if s is not None:
            s.update_with(other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        s: _FilterState | None = state.read(NAME)
        if s is not None:
            s.update_with(other, node, -1)

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        """A pod arriving can satisfy required affinity (if it matches the terms); a pod leaving can lift
        anti-affinity (its own, or the waiting pod's against it). Node and namespace changes: retry."""
        if event & ClusterEvent.ASSIGNED_POD_ADD and isinstance(new, PodInfo):
            return bool(pod.required_affinity_terms) and any(
                t.matches(new, None) or not t.namespace_selector.nothing for t in pod.required_affinity_terms)
        if event & ClusterEvent.ASSIGNED_POD_DELETE and isinstance(old, PodInfo):
            return bool(old.required_anti_affinity_terms) or any(
                t.matches(old, None) or not t.namespace_selector.nothing for t in pod.required_anti_affinity_terms)
        return True

    # ------------------------------------------------------------------------------------------------- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        cache = self.cache
        scores: dict[str, Counter[str]] = {}

        def add(pairs: Counter[TopologyPair], amount: int) -> None:
            for (key, value), count in pairs.items():
                scores.setdefault(key, Counter())[value] += amount * count

        for sign, terms in ((1, pod.preferred_affinity_terms), (-1, pod.preferred_anti_affinity_terms)):
            for raw_term in terms:
                term = cache.resolve_namespaces(raw_term)
                add(cache.match_counts(term), sign * term.weight)
        namespace_labels = cache.namespace_labels.get(pod.namespace)
        existing: tuple[tuple[TermCounts, int | None, int], ...] = (
            (cache.required_affinity, HARD_POD_AFFINITY_WEIGHT, 1), (cache.preferred_affinity, None, 1),
            (cache.preferred_anti_affinity, None, -1))
        for table, fixed_weight, sign in existing:
            for term, pairs in table.items():
                if term.matches(pod, namespace_labels):
                    add(pairs, sign * (fixed_weight if fixed_weight is not None else term.weight))
        if not any(scores.values()):
            return SKIP  # every node would score the same
        state.write(NAME + "/score", scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: dict[str, Counter[str]] = state.read(NAME + "/score")
        labels = node.labels
        total = 0
        for key, by_value in scores.items():
            value = labels.get(key)
            if value is not None:
                total += by_value.get(value, 0)
        return total

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        for i, score in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (score - low) / spread) if spread > 0 else 0
