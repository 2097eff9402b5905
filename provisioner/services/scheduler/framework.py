"""The scheduling framework: statuses, the extension points plugins implement, cycle state, and profiles.

A scheduling cycle for one pod runs, in order: PreFilter (once per pod: precompute, or reject outright, or narrow
the nodes), Filter (per node: may the pod run there?), PostFilter (only when no node passed: preemption),
PreScore (once, over the feasible nodes), Score (per feasible node) + NormalizeScore (0–100 over all of them),
then the weighted sum picks the node. A plugin implements any subset of those methods; the profile finds them by
name (``pre_filter``, ``filter``, ``pre_score``, ``score``, ``normalize_score``, ``post_filter``) so plugins need
no base class, only the :class:`Plugin` shape.

Success is ``None`` everywhere: the hot path (thousands of filter calls per pod) allocates nothing when a node fits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from provisioner.services.scheduler.nodeinfo import NodeInfo
    from provisioner.services.scheduler.podinfo import PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1
    # The pod does not fit now; removing pods (preemption) or a cluster change may help.
    UNSCHEDULABLE = 2
    # The pod does not fit and preemption cannot change that (a taint, a selector, a cordon).
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    # PreFilter/PreScore: this plugin has nothing to do for this pod; its Filter/Score are not called.
    SKIP = 4


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


def error(plugin: str, message: str) -> Status:
    return Status(Code.ERROR, (message,), plugin)


SKIP = Status(Code.SKIP)


class ClusterEvent(enum.Flag):
    """Changes that can make an unschedulable pod schedulable. A plugin declares the ones that can undo its
    rejections (``events``); the queue moves a pod back only on those (Kubernetes' queueing hints, simplified)."""

    NODE_ADD = enum.auto()
    NODE_LABEL = enum.auto()
    NODE_TAINT = enum.auto()  # includes spec.unschedulable, which Kubernetes reports as a taint change
    NODE_ALLOCATABLE = enum.auto()
    NODE_CONDITION = enum.auto()
    NODE_IMAGES = enum.auto()
    ASSIGNED_POD_ADD = enum.auto()
    ASSIGNED_POD_UPDATE = enum.auto()  # labels or requests of a pod on a node changed
    ASSIGNED_POD_DELETE = enum.auto()
    NAMESPACE_CHANGE = enum.auto()  # a namespace's labels (namespaceSelector of affinity terms)

    NODE_ANY = NODE_ADD | NODE_LABEL | NODE_TAINT | NODE_ALLOCATABLE | NODE_CONDITION | NODE_IMAGES
    ASSIGNED_POD_ANY = ASSIGNED_POD_ADD | ASSIGNED_POD_UPDATE | ASSIGNED_POD_DELETE
    ALL = NODE_ANY | ASSIGNED_POD_ANY | NAMESPACE_CHANGE


# -------------------------------------------------------------------------------------------------- cycle state
class CycleState:
    """Per-pod scratch space plugins share between their extension points, keyed by plugin name. Values that a
    plugin updates incrementally (PreFilter extensions) implement ``clone()`` so preemption can simulate on a copy."""

    __slots__ = ("_data", "read", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        # ``read(key)`` is the dict's own get: filters call it once per node, and a Python method would double
        # the cost of the cheapest of them.
        self.read: Callable[[str], Any] = self._data.get
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data.update({k: (v.clone() if hasattr(v, "clone") else v) for k, v in self._data.items()})
        copy.skip_filter = set(self.skip_filter)
        copy.skip_score = set(self.skip_score)
        return copy


@dataclass(frozen=True)
class PreFilterResult:
    """A PreFilter may narrow the nodes worth checking (NodeAffinity's ``matchFields`` on metadata.name)."""

    node_names: frozenset[str]


@dataclass
class PostFilterResult:
    """Preemption's decision: the node being cleared for the pod and the pods to evict from it."""

    nominated_node_name: str = ""
    victims: list[PodInfo] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- plugins
@runtime_checkable
class Plugin(Protocol):
    """The one thing every plugin has. Extension points are optional methods:

    - ``pre_filter(state, pod, nodes) -> Status | PreFilterResult | None``
    - ``filter(state, pod, node) -> Status | None``
    - ``add_pod(state, pod, other, node)`` / ``remove_pod(state, pod, other, node)``: keep PreFilter state right
      when preemption or nominated pods change what a node holds
    - ``post_filter(state, pod, statuses) -> tuple[PostFilterResult | None, Status]``
    - ``pre_score(state, pod, nodes) -> Status | None``
    - ``score(state, pod, node) -> int`` and ``normalize_score(state, pod, scores: list[int]) -> None``
    - ``events`` (a ClusterEvent) and ``requeue(event, pod, old, new) -> bool``: which cluster changes may undo a
      rejection by this plugin
    """

    name: str


FilterFn = Callable[["CycleState", "PodInfo", "NodeInfo"], "Status | None"]
ScoreFn = Callable[["CycleState", "PodInfo", "NodeInfo"], int]


@dataclass(frozen=True)
class Weighted:
    plugin: Plugin
    weight: int = 1


@dataclass
class Profile:
    """An ordered plugin list (filter order decides which reason a node reports) with score weights."""

    scheduler_name: str
    plugins: Sequence[Weighted]
    # 0 = adaptive, as kube-scheduler: 50 % − nodes/125, at least 5 %, at least 100 nodes.
    percentage_of_nodes_to_score: int = 0
    pre_filters: list[Plugin] = field(init=False)
    filters: list[tuple[str, FilterFn]] = field(init=False)
    pre_filter_extensions: list[Plugin] = field(init=False)
    post_filters: list[Plugin] = field(init=False)
    pre_scores: list[Plugin] = field(init=False)
    scores: list[tuple[str, ScoreFn, Callable[..., None] | None, int]] = field(init=False)
    _by_name: dict[str, Plugin] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [w.plugin.name for w in self.plugins]
        if len(set(names)) != len(names):
            raise ValueError(f"profile {self.scheduler_name}: a plugin is listed twice: {names}")
        ordered = [w.plugin for w in self.plugins]
        self._by_name = {p.name: p for p in ordered}
        self.pre_filters = [p for p in ordered if hasattr(p, "pre_filter")]
        self.filters = [(p.name, p.filter) for p in ordered if hasattr(p, "filter")]  # type: ignore[attr-defined]
        self.pre_filter_extensions = [p for p in ordered if hasattr(p, "add_pod") and hasattr(p, "remove_pod")]
        self.post_filters = [p for p in ordered if hasattr(p, "post_filter")]
        self.pre_scores = [p for p in ordered if hasattr(p, "pre_score")]
        self.scores = [(w.plugin.name, w.plugin.score, getattr(w.plugin, "normalize_score", None),  # type: ignore[attr-defined]
                        w.weight) for w in self.plugins if hasattr(w.plugin, "score") and w.weight > 0]

    def plugin(self, name: str) -> Plugin | None:
        return self._by_name.get(name)

    def requeue_events(self, plugin_names: Iterable[str]) -> ClusterEvent:
        """The events that may undo rejections by these plugins (everything, for a plugin that declares none)."""
        events = ClusterEvent(0)
        for name in plugin_names:
            plugin = self.plugin(name)
            events |= getattr(plugin, "events", ClusterEvent.ALL) if plugin is not None else ClusterEvent.ALL
        return events


def default_normalize(scores: list[int], reverse: bool = False) -> None:
    """helper.DefaultNormalizeScore: scale to 0–100 by the maximum; ``reverse`` makes fewer better."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // highest
        scores[i] = MAX_NODE_SCORE - scaled if reverse else scaled
