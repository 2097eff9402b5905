"""The scheduler's view of the cluster: nodes with the pods on them, including pods the scheduler has *assumed*
onto a node (decided, binding under way) — so each decision sees the ones before it without waiting for the
apiserver — plus indexes that keep per-pod work independent of the cluster's size:

* pods by label ``(key, value)`` and by namespace, to find the pods an affinity term or a spread constraint
  selects without scanning every pod;
* the distinct inter-pod affinity terms carried by pods on nodes, with how many such pods are in each topology
  domain (a Deployment's 500 replicas share one term), for existing pods' anti-affinity and affinity scoring;
* live counts, per topology domain, of the pods an affinity term selects — kept for the terms of the pods being
  scheduled (a few distinct ones; least recently used dropped) and updated as pods come and go, so the 500th
  replica with anti-affinity against its siblings costs what the first did;
* how many nodes hold each image (ImageLocality's spread factor) and the labels of each namespace
  (namespaceSelector in affinity terms).

The informers' handlers write here and the scheduling cycle reads; both run on one event loop, and a cycle never
awaits, so a cycle sees one consistent state — the snapshot kube-scheduler copies is not needed.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from provisioner.services.api.selectors import DOUBLE_EQUALS, EQUALS, IN, LabelSelector
from provisioner.services.scheduler.framework import ClusterEvent
from provisioner.services.scheduler.nodeinfo import NodeInfo, Obj
from provisioner.services.scheduler.podinfo import AffinityTerm, PodInfo

log = logging.getLogger("scheduler.cache")

_EQUALITY = (IN, EQUALS, DOUBLE_EQUALS)


TopologyPair = tuple[str, str]  # (topology key, the value a node has for it)
MATCH_VIEWS = 32


def bump_pair(counts: Counter[TopologyPair], key: str, labels: dict[str, str], delta: int) -> None:
    """Add ``delta`` to the count of the domain ``labels`` place in for ``key`` (none if the label is missing);
    counts that reach zero are dropped, so an empty Counter means "no such pods anywhere"."""
    value = labels.get(key)
    if value is not None:
        pair = (key, value)
        counts[pair] += delta
        if counts[pair] <= 0:
            del counts[pair]


class TermCounts:
    """Distinct affinity terms → how many pods carrying them are in each topology domain of the term's key."""

    def __init__(self) -> None:
        self._by_term: dict[AffinityTerm, Counter[TopologyPair]] = {}

    def change(self, terms: Iterable[AffinityTerm], labels: dict[str, str], delta: int) -> None:
        for term in terms:
            counts = self._by_term.setdefault(term, Counter())
            bump_pair(counts, term.topology_key, labels, delta)
            if not counts:
                del self._by_term[term]

    def items(self) -> Iterator[tuple[AffinityTerm, Counter[TopologyPair]]]:
        return iter(self._by_term.items())

    def __bool__(self) -> bool:
        return bool(self._by_term)


@dataclass
class _Assumed:
    node_name: str
    binding_finished: bool = False


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}  # includes placeholders for pods on nodes not seen yet
        self._schedulable: list[NodeInfo] = []  # nodes with a Node object, in a stable order
        self.pods: dict[str, PodInfo] = {}  # uid → pod on a node (bound or assumed)
        self._assumed: dict[str, _Assumed] = {}
        self._by_namespace: dict[str, dict[str, PodInfo]] = {}
        self._by_label: dict[tuple[str, str], dict[str, PodInfo]] = {}
        self.required_anti_affinity = TermCounts()
        self.required_affinity = TermCounts()
        self.preferred_affinity = TermCounts()
        self.preferred_anti_affinity = TermCounts()
        self._match_views: OrderedDict[AffinityTerm, Counter[TopologyPair]] = OrderedDict()
        self._image_nodes: Counter[str] = Counter()
        self.namespace_labels: dict[str, dict[str, str]] = {}

    # ------------------------------------------------------------------------------------------------ nodes
    def node_list(self) -> list[NodeInfo]:
        return self._schedulable

    def add_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name)
        had_node = info.node is not None
        relabelled = info.labels != ((node.get("metadata") or {}).get("labels") or {})
        with_terms = [p for p in info.pods_with_affinity.values()] if relabelled else []
        for pod in with_terms:
            self._index_terms(pod, -1)
        self._count_images(info, -1)
        info.set_node(node)
        self._count_images(info, 1)
        for pod in with_terms:
            self._index_terms(pod, 1)
        if relabelled:
            self._match_views.clear()  # counted under the old topology values; rebuilt when next asked for
        if not had_node:
            self._schedulable.append(info)

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None or info.node is None:
            return
        self._count_images(info, -1)
        self._schedulable.remove(info)
        for pod in info.pods_with_affinity.values():
            self._index_terms(pod, -1)
        info.node = None
        info.labels = {}
        for pod in info.pods_with_affinity.values():
            self._index_terms(pod, 1)
        self._match_views.clear()
        if not info.pods:
            del self.nodes[name]

    def _count_images(self, info: NodeInfo, delta: int) -> None:
        for image in info.images:
            self._image_nodes[image] += delta
            if self._image_nodes[image] <= 0:
                del self._image_nodes[image]

    def nodes_with_image(self, image: str) -> int:
        return self._image_nodes.get(image, 0)

    # ------------------------------------------------------------------------------------------- assumption
    def assume(self, pod: PodInfo, node_name: str) -> PodInfo:
        """Count ``pod`` on ``node_name`` now; the binding is in flight. Returns the assumed PodInfo."""
        assumed = pod.on_node(node_name)
        self._add(assumed)
        self._assumed[pod.uid] = _Assumed(node_name)
        return assumed

    def finish_binding(self, uid: str) -> None:
        state = self._assumed.get(uid)
        if state is not None:
            state.binding_finished = True

    def forget(self, uid: str) -> None:
        """The binding failed: the pod no longer counts on the node it was assumed onto."""
        if self._assumed.pop(uid, None) is not None:
            self._remove(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    @property
    def assumed_count(self) -> int:
        return len(self._assumed)

    # -------------------------------------------------------------------------------------- bound pods
    def add_pod(self, pod: PodInfo) -> None:
        """A pod on a node, as the informer reports it (confirms an assumption, possibly on another node)."""
        self._assumed.pop(pod.uid, None)
        if pod.uid in self.pods:
            self._remove(pod.uid)
        self._add(pod)

    def remove_pod(self, uid: str) -> PodInfo | None:
        self._assumed.pop(uid, None)
        return self._remove(uid)

    def _add(self, pod: PodInfo) -> None:
        info = self.nodes.get(pod.node_name)
        if info is None:
            info = self.nodes[pod.node_name] = NodeInfo(pod.node_name)
        info.add_pod(pod)
        self.pods[pod.uid] = pod
        self._by_namespace.setdefault(pod.namespace, {})[pod.uid] = pod
        for item in pod.labels.items():
            self._by_label.setdefault(item, {})[pod.uid] = pod
        self._index_terms(pod, 1)
        self._update_views(pod, info.labels, 1)

    def _remove(self, uid: str) -> PodInfo | None:
        pod = self.pods.pop(uid, None)
        if pod is None:
            return None
        info = self.nodes.get(pod.node_name)
        labels = info.labels if info is not None else {}
        self._index_terms(pod, -1)
        self._update_views(pod, labels, -1)
        if info is not None:
            info.remove_pod(uid)
            if info.node is None and not info.pods:
                del self.nodes[pod.node_name]
        _discard(self._by_namespace, pod.namespace, uid)
        for item in pod.labels.items():
            _discard(self._by_label, item, uid)
        return pod

    def _index_terms(self, pod: PodInfo, delta: int) -> None:
        if not pod.has_pod_affinity:
            return
        info = self.nodes.get(pod.node_name)
        labels = info.labels if info is not None else {}
        self.required_anti_affinity.change(pod.required_anti_affinity_terms, labels, delta)
        self.required_affinity.change(pod.required_affinity_terms, labels, delta)
        self.preferred_affinity.change(pod.preferred_affinity_terms, labels, delta)
        self.preferred_anti_affinity.change(pod.preferred_anti_affinity_terms, labels, delta)

    def _update_views(self, pod: PodInfo, labels: dict[str, str], delta: int) -> None:
        for term, counts in self._match_views.items():
            if term.matches(pod, None):
                bump_pair(counts, term.topology_key, labels, delta)

    def match_counts(self, term: AffinityTerm) -> Counter[TopologyPair]:
        """Pods on nodes that ``term`` selects, per topology domain of its key. The term's namespaceSelector must
        be resolved already (``resolve_namespaces``). The Counter is live and shared: read it, never change it."""
        counts = self._match_views.get(term)
        if counts is not None:
            self._match_views.move_to_end(term)
            return counts
        counts = Counter()
        for pod in self.pods_matching(term.selector, term.namespaces):
            bump_pair(counts, term.topology_key, self.nodes[pod.node_name].labels, 1)
        self._match_views[term] = counts
        if len(self._match_views) > MATCH_VIEWS:
            self._match_views.popitem(last=False)
        return counts

    # -------------------------------------------------------------------------------------------- queries
    def pods_matching(self, selector: LabelSelector, namespaces: Iterable[str] | None) -> list[PodInfo]:
        """Pods on nodes (bound or assumed) whose labels match ``selector``, in ``namespaces`` (None: all)."""
        if selector.nothing:
            return []
        wanted = None if namespaces is None else set(namespaces)
        candidates = self._candidates(selector, wanted)
        return [p for p in candidates if (wanted is None or p.namespace in wanted) and selector.matches(p.labels)]

    def _candidates(self, selector: LabelSelector, namespaces: set[str] | None) -> Iterable[PodInfo]:
        best: list[dict[str, PodInfo]] | None = None
        for requirement in selector.requirements:
            if requirement.operator in _EQUALITY:
                buckets = [b for v in requirement.values if (b := self._by_label.get((requirement.key, v)))]
                if best is None or sum(map(len, buckets)) < sum(map(len, best)):
                    best = buckets
        if best is not None:
            return [p for bucket in best for p in bucket.values()]
        if namespaces is None:
            return list(self.pods.values())
        return [p for ns in namespaces for p in (self._by_namespace.get(ns) or {}).values()]

    def namespaces_matching(self, selector: LabelSelector) -> frozenset[str]:
        return frozenset(ns for ns, labels in self.namespace_labels.items() if selector.matches(labels))

    def resolve_namespaces(self, term: AffinityTerm) -> AffinityTerm:
        """The incoming pod's term with its namespaceSelector turned into namespace names."""
        if term.namespace_selector.nothing:
            return term
        return term.with_namespaces(self.namespaces_matching(term.namespace_selector))


def _discard(index: dict, key: object, uid: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(uid, None)
        if not bucket:
            del index[key]


# ---------------------------------------------------------------------------------------- change classification
def _conditions_without_heartbeats(node: Obj) -> list[tuple[str, str]]:
    return sorted((str(c.get("type")), str(c.get("status"))) for c in (node.get("status") or {}).get("conditions") or []
                  if isinstance(c, dict))


def node_change(old: Obj, new: Obj) -> ClusterEvent:
    """What changed between two versions of a Node that matters for scheduling; heartbeats alone are nothing."""
    event = ClusterEvent(0)
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    if (old_meta.get("labels") or {}) != (new_meta.get("labels") or {}):
        event |= ClusterEvent.NODE_LABEL
    if old_spec.get("taints") != new_spec.get("taints") or \
            bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        event |= ClusterEvent.NODE_TAINT
    if old_status.get("allocatable") != new_status.get("allocatable"):
        event |= ClusterEvent.NODE_ALLOCATABLE
    if _conditions_without_heartbeats(old) != _conditions_without_heartbeats(new):
        event |= ClusterEvent.NODE_CONDITION
    if old_status.get("images") != new_status.get("images"):
        event |= ClusterEvent.NODE_IMAGES
    return event


def assigned_pod_change(old: PodInfo, new: PodInfo) -> ClusterEvent:
    """A pod on a node changed in a way other pods' scheduling can depend on (labels, requests, ports)."""
    if old.labels != new.labels or old.requests != new.requests or old.host_ports != new.host_ports \
            or old.deleting != new.deleting:
        return ClusterEvent.ASSIGNED_POD_UPDATE
    return ClusterEvent(0)
