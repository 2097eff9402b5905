"""NodeSelector + NodeAffinity: a pod runs only on nodes whose labels match ``spec.nodeSelector`` and one of the
``requiredDuringSchedulingIgnoredDuringExecution`` node selector terms; ``preferred…`` terms add their weights
to the score of nodes they match."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from provisioner.services.scheduler.framework import (
    SKIP,
    ClusterEvent,
    CycleState,
    PreFilterResult,
    Status,
    default_normalize,
    unresolvable,
)
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.podinfo import PodInfo

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
OBJECT_NAME_FIELD = "metadata.name"


def _integer(text: Any) -> int | None:
    try:
        return int(str(text), 10)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Requirement:
    """A NodeSelectorRequirement: In, NotIn, Exists, DoesNotExist, Gt, Lt."""

    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, value: str | None) -> bool:
        op = self.operator
        if op == "In":
            return value is not None and value in self.values
        if op == "NotIn":
            return value is None or value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        if op in ("Gt", "Lt") and value is not None and len(self.values) == 1:
            actual, bound = _integer(value), _integer(self.values[0])
            if actual is None or bound is None:
                return False
            return actual > bound if op == "Gt" else actual < bound
        return False


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    """Expressions on labels and fields, ANDed. A term with neither matches no node (as in Kubernetes)."""

    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]

    def matches(self, node: NodeInfo) -> bool:
        if not self.expressions and not self.fields:
            return False
        labels = node.labels
        for requirement in self.expressions:
            if not requirement.matches(labels.get(requirement.key)):
                return False
        for requirement in self.fields:
            # Only metadata.name is a node field selectors may use, with In or NotIn.
            if requirement.key != OBJECT_NAME_FIELD or requirement.operator not in ("In", "NotIn") or \
                    not requirement.matches(node.name):
                return False
        return True


def _requirements(raw: Any) -> tuple[Requirement, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(Requirement(str(r.get("key") or ""), str(r.get("operator") or ""),
                             tuple(str(v) for v in r.get("values") or []))
                 for r in raw if isinstance(r, dict))


def parse_term(raw: Any) -> NodeSelectorTerm:
    raw = raw if isinstance(raw, dict) else {}
    return NodeSelectorTerm(_requirements(raw.get("matchExpressions")), _requirements(raw.get("matchFields")))


@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """nodeSelector AND (any of the required terms); ``terms`` None means no required node affinity."""

    selector: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None

    @property
    def empty(self) -> bool:
        return not self.selector and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        labels = node.labels
        for key, value in self.selector:
            if labels.get(key) != value:
                return False
        return self.terms is None or any(term.matches(node) for term in self.terms)


def required_node_affinity(pod: PodInfo) -> RequiredNodeAffinity:
    required = pod.node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    terms = None
    if isinstance(required, dict):
        terms = tuple(parse_term(t) for t in required.get("nodeSelectorTerms") or [])
    return RequiredNodeAffinity(tuple((str(k), str(v)) for k, v in pod.node_selector.items()), terms)


def preferred_terms(pod: PodInfo) -> list[tuple[int, NodeSelectorTerm]]:
    raw = pod.node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(raw, list):
        return []
    return [(int(t.get("weight") or 0), parse_term(t.get("preference"))) for t in raw
            if isinstance(t, dict) and int(t.get("weight") or 0) != 0]


def _node_names_from_fields(terms: Sequence[NodeSelectorTerm]) -> frozenset[str] | None:
    """The nodes a pod can only run on because every required term names them by metadata.name (DaemonSet pods)."""
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for requirement in term.fields:
            if requirement.key == OBJECT_NAME_FIELD and requirement.operator == "In":
                values = set(requirement.values)
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term allows any node name, and terms are ORed
        names |= term_names
    return frozenset(names)


class NodeAffinity:
    name = NAME
    events = ClusterEvent.NODE_ADD | ClusterEvent.NODE_LABEL

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | PreFilterResult | None:
        required = required_node_affinity(pod)
        if required.empty:
            return SKIP
        state.write(NAME, required)
        if required.terms is not None:
            names = _node_names_from_fields(required.terms)
            if names is not None:
                if not names:
                    return unresolvable(NAME, ERR_REASON_CONFLICT)
                return PreFilterResult(names)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required: RequiredNodeAffinity = state.read(NAME)
        if not required.matches(node):
            return unresolvable(NAME, ERR_REASON_POD)
        return None

    def requeue(self, event: ClusterEvent, pod: PodInfo, old: Any, new: Any) -> bool:
        """A node change helps only if the changed node now matches the pod's required affinity."""
        if isinstance(new, NodeInfo):
            return required_node_affinity(pod).matches(new)
        return True

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status | None:
        terms = preferred_terms(pod)
        if not terms:
            return SKIP
        state.write(NAME + "/score", terms)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        terms: list[tuple[int, NodeSelectorTerm]] = state.read(NAME + "/score")
        return sum(weight for weight, term in terms if term.matches(node))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores)

