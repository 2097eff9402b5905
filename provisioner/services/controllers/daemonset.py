"""DaemonSet controller (Kubernetes' ``pkg/controller/daemon``): one pod per eligible node.

A node is eligible when the pod template's ``nodeName`` (if any), ``nodeSelector`` and required node affinity
match it and it has no NoSchedule/NoExecute taint the pod does not tolerate — counting the tolerations every
daemon pod gets (node not-ready/unreachable NoExecute without a time limit; disk-, memory-, pid-pressure and
unschedulable NoSchedule; network-unavailable NoSchedule for host-network pods). A pod already on a node that
gained a NoSchedule taint keeps running (it is counted misscheduled); an untolerated NoExecute taint removes it.

Pods are not bound by the controller: like Kubernetes it pins each to its node with a required node affinity
``matchFields metadata.name In [<node>]`` and leaves binding to the scheduler. Failed pods are deleted (with a
per-node backoff) and re-created; surplus pods on a node are deleted, keeping the oldest.

Updates: RollingUpdate replaces out-of-date pods node by node within ``maxUnavailable`` (deleting first) or
``maxSurge`` (creating first, deleting the old pod once the new one is available); OnDelete only replaces pods
that were deleted. A pod is up to date when its ``controller-revision-hash`` label is the hash of the current
template, or its ``pod-template-generation`` label is the DaemonSet's template generation.

Deviation from Kubernetes: ControllerRevisions are not served by our apiserver, so there is no revision history
(``kubectl rollout history/undo daemonset`` has nothing to read). The ``controller-revision-hash`` is computed
locally from the template (as Kubernetes computes it for a revision's name), and the template generation that
Kubernetes' apiserver keeps in the ``deprecated.daemonset.template.generation`` annotation is maintained by this
controller: the generation of the DaemonSet when its current template was first rolled out (taken from the
pods already carrying the current hash, else the DaemonSet's ``metadata.generation``).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.selectors import LabelSelector, label_selector_from_dict
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Handler, Obj
from provisioner.services.controllers import controllerutil as cu
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.daemonset")

DAEMON_SETS = resources.lookup("apps", "v1", "daemonsets")
PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")

HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
DEFAULT_FAILED_POD_BACKOFF = (1.0, 900.0)  # seconds: first delay before deleting a failed pod again, the cap
STATUS_UPDATE_RETRIES = 1
_AVAILABILITY_MARGIN = 0.05

# Tolerations every daemon pod gets (util.AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


# =================================================================================================== scheduling

def add_daemon_tolerations(pod_spec: dict[str, Any]) -> None:
    """Add (or replace the same key/operator/value/effect toleration with) the daemon tolerations, in place."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(HOST_NETWORK_TOLERATION)
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or []]
    for toleration in wanted:
        same = [i for i, t in enumerate(tolerations) if _same_toleration(t, toleration)]
        if same:
            tolerations[same[0]] = dict(toleration)
        else:
            tolerations.append(dict(toleration))
    pod_spec["tolerations"] = tolerations


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all((a.get(k) or "") == (b.get(k) or "") for k in ("key", "value", "effect")) and \
        (a.get("operator") or "Equal") == (b.get("operator") or "Equal")


def _requirement_matches(requirement: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    key, operator = requirement.get("key", ""), requirement.get("operator", "")
    wanted = [str(v) for v in requirement.get("values") or []]
    present = key in values
    if operator == "In":
        return present and values[key] in wanted
    if operator == "NotIn":
        return not present or values[key] not in wanted
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            actual, bound = int(values[key]), int(wanted[0])
        except ValueError:
            return False
        return actual > bound if operator == "Gt" else actual < bound
    return False


def _term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """A NodeSelectorTerm: all expressions on labels and all fields (metadata.name) hold; empty matches none."""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = cu.labels_of(node)
    node_fields = {"metadata.name": cu.name_of(node)}
    return all(_requirement_matches(r, labels) for r in expressions) and \
        all(_requirement_matches(r, node_fields) for r in fields)


def required_node_affinity_matches(node_selector: Mapping[str, str], required: Mapping[str, Any] | None,
                                   node: Obj) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): nodeSelector and required node affinity."""
    labels = cu.labels_of(node)
    if any(labels.get(k) != v for k, v in node_selector.items()):
        return False
    if required is None:
        return True
    return any(_term_matches(term, node) for term in required.get("nodeSelectorTerms") or [])


@dataclass(frozen=True)
class Placement:
    """What decides where a DaemonSet's pods go, read once from its template (with the daemon tolerations)."""

    node_name: str
    node_selector: Mapping[str, str]
    required_affinity: Mapping[str, Any] | None
    tolerations: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, ds: Obj) -> Placement:
        spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
        with_daemon_tolerations = {"tolerations": spec.get("tolerations") or [],
                                   "hostNetwork": spec.get("hostNetwork")}
        add_daemon_tolerations(with_daemon_tolerations)
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution"))
        return cls(str(spec.get("nodeName") or ""), dict(spec.get("nodeSelector") or {}), required,
                   tuple(with_daemon_tolerations["tolerations"]))

    def should_run(self, node: Obj) -> tuple[bool, bool]:
        """NodeShouldRunDaemonPod: (should a daemon pod be created here, may an existing one keep running)."""
        if self.node_name and self.node_name != cu.name_of(node):
            return False, False
        if not required_node_affinity_matches(self.node_selector, self.required_affinity, node):
            return False, False
        taints = (node.get("spec") or {}).get("taints") or []
        if cu.untolerated_taint(taints, self.tolerations, ("NoSchedule", "NoExecute")) is None:
            return True, True
        # A pod already there keeps running unless a NoExecute taint it does not tolerate evicts it.
        return False, cu.untolerated_taint(taints, self.tolerations, ("NoExecute",)) is None


def node_should_run_daemon_pod(node: Obj, ds: Obj) -> tuple[bool, bool]:
    return Placement.of(ds).should_run(node)


def target_node_of(pod: Obj) -> str | None:
    """util.GetTargetNodeName: the pod's node, or the node its required affinity pins it to."""
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        return str(node)
    required = ((((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
    for term in required.get("nodeSelectorTerms") or []:
        for requirement in term.get("matchFields") or []:
            if requirement.get("key") == "metadata.name" and requirement.get("operator") == "In":
                values = requirement.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def pin_to_node(affinity: dict[str, Any] | None, node_name: str) -> dict[str, Any]:
    """util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes "this node" (the node
    already satisfied the template's own terms); preferred terms and pod (anti-)affinity stay."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = copy.deepcopy(affinity) if affinity else {}
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return affinity


def by_creation_and_phase(pods: Iterable[Obj]) -> list[Obj]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest first, then by name."""
    return sorted(pods, key=lambda p: (not (p.get("spec") or {}).get("nodeName"), *cu.creation_order(p)))


# =================================================================================================== rollout state

def template_generation_of(ds: Obj) -> str | None:
    return (cu.meta(ds).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def is_pod_updated(pod: Obj, pod_hash: str, generation: str | None) -> bool:
    labels = cu.labels_of(pod)
    return labels.get(HASH_LABEL) == pod_hash or (generation is not None and
                                                   labels.get(TEMPLATE_GENERATION_LABEL) == generation)


def rolling_update(ds: Obj) -> dict[str, Any] | None:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {}


def surge_count(ds: Obj, desired: int) -> int:
    rolling = rolling_update(ds)
    return cu.scaled_value(rolling.get("maxSurge"), desired, round_up=True) if rolling else 0


def unavailable_count(ds: Obj, desired: int) -> int:
    rolling = rolling_update(ds)
    return cu.scaled_value(rolling.get("maxUnavailable"), desired, round_up=True) if rolling else 0


def updated_pods_on_node(pods: list[Obj], pod_hash: str, generation: str | None) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: the node's (new pod, old pod); False if it has more than one of either."""
    new = old = None
    for pod in pods:
        if cu.is_being_deleted(pod):
            continue
        if is_pod_updated(pod, pod_hash, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


@dataclass
class _FailedPodBackoff:
    delay: float
    last: float  # monotonic


# =================================================================================================== controller

class DaemonSetController:
    name = "daemonset"

    def __init__(self, ctx: ControllerContext, *,
                 failed_pod_backoff: tuple[float, float] = DEFAULT_FAILED_POD_BACKOFF) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.pod_control = cu.PodControl(ctx.client, ctx.recorder)
        self.failed_pod_backoff = failed_pod_backoff
        self._backoffs: dict[str, _FailedPodBackoff] = {}
        self.expectations = cu.ControllerExpectations()
        self.own_writes = cu.OwnWrites()
        self.daemon_sets = ctx.informers.informer(DAEMON_SETS, indexers=cu.WORKLOAD_INDEXERS)
        self.pods = ctx.informers.informer(PODS, indexers=cu.WORKLOAD_INDEXERS)
        self.nodes = ctx.informers.informer(NODES)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.daemon_sets, self.pods, self.nodes])
        self.daemon_sets.add_handler(Handler(on_add=self._ds_changed, on_update=lambda _, new: self._ds_changed(new),
                                             on_delete=self._ds_deleted))
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))
        self.nodes.add_handler(Handler(on_add=self._node_added, on_update=self._node_updated,
                                       on_delete=lambda _: self._queue_all()))

    async def run(self) -> None:
        await self.loop.run()

    # ------------------------------------------------------------------------------------------- handlers
    @staticmethod
    def _key(ds: Obj) -> str:
        return cu.key_of(cu.namespace_of(ds), cu.name_of(ds))

    def _ds_changed(self, ds: Obj) -> None:
        self.loop.queue.add(self._key(ds))

    def _ds_deleted(self, ds: Obj) -> None:
        self.expectations.delete(self._key(ds))
        self.loop.queue.add(self._key(ds))

    def _queue_all(self) -> None:
        for ds in self.daemon_sets.store.list():
            self._ds_changed(ds)

    def _node_added(self, node: Obj) -> None:
        for ds in self.daemon_sets.store.list():
            if node_should_run_daemon_pod(node, ds)[0]:
                self._ds_changed(ds)

    def _node_updated(self, old: Obj, cur: Obj) -> None:
        """Only what decides placement matters (labels, taints): heartbeats and status are ignored."""
        if cu.labels_of(old) == cu.labels_of(cur) and \
                (old.get("spec") or {}).get("taints") == (cur.get("spec") or {}).get("taints"):
            return
        for ds in self.daemon_sets.store.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(cur, ds):
                self._ds_changed(ds)

    def _ds_for(self, pod: Obj) -> Obj | None:
        ref = cu.controller_of(pod)
        if ref is None or not cu.refers_to(ref, DAEMON_SETS):
            return None
        ds = self.daemon_sets.store.get(cu.key_of(cu.namespace_of(pod), str(ref.get("name", ""))))
        return ds if ds is not None and cu.uid_of(ds) == ref.get("uid") else None

    def _daemon_sets_selecting(self, pod: Obj) -> list[Obj]:
        found = []
        for ds in self.daemon_sets.store.by_index(cu.INDEX_BY_NAMESPACE, cu.namespace_of(pod)):
            try:
                selector = label_selector_from_dict((ds.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(cu.labels_of(pod)):
                found.append(ds)
        return found

    def _pod_added(self, pod: Obj) -> None:
        if cu.is_being_deleted(pod):
            self._pod_deleted(pod)
            return
        if cu.controller_of(pod) is not None:
            ds = self._ds_for(pod)
            if ds is not None:
                self.expectations.creation_observed(self._key(ds))
                self._ds_changed(ds)
            return
        for ds in self._daemon_sets_selecting(pod):
            self._ds_changed(ds)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        cur_ref, old_ref = cu.controller_of(cur), cu.controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            old_ds = self._ds_for(old)
            if old_ds is not None:
                self._ds_changed(old_ds)
        if cur_ref is not None:
            ds = self._ds_for(cur)
            if ds is not None:
                self._ds_changed(ds)
            return
        if cu.labels_of(old) != cu.labels_of(cur) or cur_ref != old_ref:
            for ds in self._daemon_sets_selecting(cur):
                self._ds_changed(ds)

    def _pod_deleted(self, pod: Obj) -> None:
        ds = self._ds_for(pod)
        if ds is not None:
            self.expectations.deletion_observed(self._key(ds))
            self._ds_changed(ds)

    # ------------------------------------------------------------------------------------------- sync
    async def reconcile(self, key: str) -> float | None:
        cached = self.daemon_sets.store.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.own_writes.forget(key)
            return None
        if self.own_writes.is_stale(key, cached):
            return None  # our last write's event is on its way and will queue this key again
        ds = cu.with_kind(copy.deepcopy(cached), DAEMON_SETS)
        selector_spec = (ds.get("spec") or {}).get("selector")
        if isinstance(selector_spec, dict) and not selector_spec.get("matchLabels") and \
                not selector_spec.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return None
        try:
            selector = label_selector_from_dict(selector_spec)
        except ApiError as err:
            log.warning("daemon set %s has an invalid selector: %s", key, err.message)
            return None
        if cu.is_being_deleted(ds):
            return None  # the garbage collector takes its pods; a status would be meaningless
        nodes = self.nodes.store.list()
        placement = Placement.of(ds)
        pod_hash = cu.compute_hash((ds.get("spec") or {}).get("template"),
                                   (ds.get("status") or {}).get("collisionCount"))
        claimed = await self._claim_pods(ds, selector)
        generation = await self._sync_template_generation(key, ds, claimed, pod_hash)
        requeue: list[float] = []
        if not self.expectations.satisfied(key):
            # Only status: the observed generation stays, the controller did not act on this one.
            await self._update_status(key, ds, placement, nodes, claimed, pod_hash, generation, False, requeue)
            requeue.append(self.expectations.seconds_until_expiry(key) or 0.0)
            return min(requeue)
        error: BaseException | None = None
        try:
            await self._manage(key, ds, placement, nodes, claimed, pod_hash, generation, requeue)
            if self.expectations.satisfied(key) and rolling_update(ds) is not None:
                await self._rolling_update(key, ds, placement, nodes, self._claimed_now(ds, selector), pod_hash,
                                           generation)
        except ApiError as err:
            error = err
        await self._update_status(key, ds, placement, nodes, self._claimed_now(ds, selector), pod_hash,
                                  generation, True, requeue)
        if error is not None:
            raise error
        return min(requeue) if requeue else None

    async def _claim_pods(self, ds: Obj, selector: LabelSelector) -> list[Obj]:
        manager = cu.ControllerRefManager(self.client, PODS, ds, DAEMON_SETS, selector,
                                          can_adopt=cu.recheck_deletion_timestamp(self.client, DAEMON_SETS, ds))
        return await manager.claim(cu.claim_candidates(self.pods.store, ds))

    def _claimed_now(self, ds: Obj, selector: LabelSelector) -> list[Obj]:
        """Our pods as the cache shows them now (after this sync's own writes were observed, if they were)."""
        return [p for p in cu.controlled_by(self.pods.store, ds) if selector.matches(cu.labels_of(p))]

    @staticmethod
    def _nodes_to_pods(pods: list[Obj]) -> dict[str, list[Obj]]:
        """getNodesToDaemonPods: our pods by the node they are (or are pinned to be) on; deleted finished pods
        are left out."""
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            if cu.is_pod_terminal(pod) and cu.is_being_deleted(pod):
                continue
            node = target_node_of(pod)
            if node is None:
                log.info("pod %s/%s has no target node", cu.namespace_of(pod), cu.name_of(pod))
                continue
            by_node.setdefault(node, []).append(pod)
        return by_node

    async def _sync_template_generation(self, key: str, ds: Obj, pods: list[Obj], pod_hash: str) -> str:
        """Keep the template-generation annotation: the generation of the current template's first rollout."""
        current = [p for p in pods if cu.labels_of(p).get(HASH_LABEL) == pod_hash and not cu.is_being_deleted(p)
                   and cu.labels_of(p).get(TEMPLATE_GENERATION_LABEL)]
        if current:
            generation = cu.labels_of(by_creation_and_phase(current)[0])[TEMPLATE_GENERATION_LABEL]
        else:
            existing = template_generation_of(ds)
            rolled_out = any(cu.labels_of(p).get(TEMPLATE_GENERATION_LABEL) == existing and
                             cu.labels_of(p).get(HASH_LABEL) != pod_hash for p in pods)
            # Keep the recorded one unless pods prove it belongs to an older template.
            generation = existing if existing and not rolled_out else str(cu.meta(ds).get("generation") or 1)
        if template_generation_of(ds) != generation:
            patch = {"metadata": {"resourceVersion": cu.meta(ds).get("resourceVersion"),
                                  "annotations": {TEMPLATE_GENERATION_ANNOTATION: generation}}}
            patched = await self.client.patch(DAEMON_SETS, cu.name_of(ds), patch, cu.namespace_of(ds))
            self.own_writes.record(key, ds, patched)
            cu.meta(ds)["annotations"] = cu.meta(patched).get("annotations") or {}
            cu.meta(ds)["resourceVersion"] = cu.meta(patched).get("resourceVersion")
        return generation

    # ------------------------------------------------------------------------------------------- manage
    async def _manage(self, key: str, ds: Obj, placement: Placement, nodes: list[Obj], pods: list[Obj],
                      pod_hash: str, generation: str, requeue: list[float]) -> None:
        by_node = self._nodes_to_pods(pods)
        to_create: list[str] = []
        to_delete: list[str] = []
        for node in nodes:
            create, delete = self._pods_should_be_on_node(ds, placement.should_run(node), node,
                                                          by_node.get(cu.name_of(node)), pod_hash, requeue)
            to_create += create
            to_delete += delete
        # Pods pinned to nodes that no longer exist can never be scheduled (nor collected by pod GC).
        node_names = {cu.name_of(n) for n in nodes}
        for node_name, node_pods in by_node.items():
            if node_name not in node_names:
                to_delete += [cu.name_of(p) for p in node_pods if not (p.get("spec") or {}).get("nodeName")]
        await self._sync_nodes(key, ds, to_delete, to_create, pod_hash, generation)

    def _pods_should_be_on_node(self, ds: Obj, placement: tuple[bool, bool], node: Obj, pods: list[Obj] | None,
                                pod_hash: str, requeue: list[float]) -> tuple[list[str], list[str]]:
        should_run, may_continue = placement
        node_name = cu.name_of(node)
        if should_run and pods is None:
            return [node_name], []
        if not pods:
            return [], []
        if not may_continue:
            return [], [cu.name_of(p) for p in pods if not cu.is_being_deleted(p)]
        to_delete: list[str] = []
        running: list[Obj] = []
        for pod in pods:
            if cu.is_being_deleted(pod):
                continue
            phase = cu.pod_phase(pod)
            if phase == "Failed":
                wait = self._failed_pod_backoff(ds, node_name)
                if wait > 0:
                    requeue.append(wait)
                    continue
                self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                    f"Found failed daemon pod {cu.namespace_of(pod)}/{cu.name_of(pod)} on node "
                                    f"{node_name}, will try to kill it")
                to_delete.append(cu.name_of(pod))
            elif phase == "Succeeded":
                self.recorder.event(ds, "Normal", "SucceededDaemonPod",
                                    f"Found succeeded daemon pod {cu.namespace_of(pod)}/{cu.name_of(pod)} on node "
                                    f"{node_name}, will try to delete it")
                to_delete.append(cu.name_of(pod))
            else:
                running.append(pod)
        if surge_count(ds, 1) == 0:  # util.AllowsSurge: maxSurge scaled to one node is zero
            # One pod per node: keep the oldest.
            to_delete += [cu.name_of(p) for p in by_creation_and_phase(running)[1:]]
            return [], to_delete
        return self._surge_node(ds, node_name, running, should_run, pod_hash, to_delete)

    def _surge_node(self, ds: Obj, node_name: str, running: list[Obj], should_run: bool, pod_hash: str,
                    to_delete: list[str]) -> tuple[list[str], list[str]]:
        """With maxSurge a node may briefly run an old and a new pod: the old goes once the new is available
        (or at once if the old one is not ready); any other pod goes."""
        if len(running) <= 1:
            return ([node_name] if not running and should_run else []), to_delete
        generation = template_generation_of(ds)
        oldest_new = oldest_old = None
        for pod in by_creation_and_phase(running):
            if is_pod_updated(pod, pod_hash, generation):
                if oldest_new is None:
                    oldest_new = pod
                    continue
            elif oldest_old is None:
                oldest_old = pod
                continue
            to_delete.append(cu.name_of(pod))
        if oldest_new is not None and oldest_old is not None:
            min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
            if not cu.is_pod_ready(oldest_old) or cu.is_pod_available(oldest_new, min_ready):
                to_delete.append(cu.name_of(oldest_old))
        return [], to_delete

    def _failed_pod_backoff(self, ds: Obj, node_name: str) -> float:
        """Seconds to wait before deleting another failed pod on this node (a kubelet that keeps rejecting the
        pod must not make us hot-loop); 0 means go ahead, and the next wait doubles."""
        key = f"{cu.uid_of(ds)}/{(ds.get('status') or {}).get('observedGeneration', 0)}/{node_name}"
        initial, cap = self.failed_pod_backoff
        now = time.monotonic()
        entry = self._backoffs.get(key)
        if entry is not None and now - entry.last < entry.delay:
            return entry.delay - (now - entry.last)
        if entry is None or now - entry.last > 2 * cap:
            self._backoffs[key] = _FailedPodBackoff(initial, now)
        else:
            self._backoffs[key] = _FailedPodBackoff(min(entry.delay * 2, cap), now)
        return 0.0

    async def _sync_nodes(self, key: str, ds: Obj, to_delete: list[str], to_create: list[str], pod_hash: str,
                          generation: str) -> None:
        """Create a pod pinned to each node in ``to_create`` (slow start) and delete ``to_delete``."""
        to_create = to_create[:cu.BURST_REPLICAS]
        to_delete = to_delete[:cu.BURST_REPLICAS]
        self.expectations.set(key, len(to_create), len(to_delete))
        template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
        add_daemon_tolerations(template.setdefault("spec", {}))
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels[TEMPLATE_GENERATION_LABEL] = generation
        labels[HASH_LABEL] = pod_hash
        pending = iter(to_create)

        async def create_one() -> None:
            node_name = next(pending)
            pinned = copy.deepcopy(template)
            pinned["spec"]["affinity"] = pin_to_node(pinned["spec"].get("affinity"), node_name)
            await self.pod_control.create_pod(cu.namespace_of(ds), pinned, ds, DAEMON_SETS)

        created, create_error = await cu.slow_start_batch(len(to_create), cu.SLOW_START_INITIAL_BATCH_SIZE,
                                                          create_one)
        self.expectations.lower(key, adds=len(to_create) - created)  # never to be observed
        results = await asyncio.gather(*(self.pod_control.delete_pod(cu.namespace_of(ds), name, ds, DAEMON_SETS)
                                         for name in to_delete), return_exceptions=True)
        errors = [create_error] if create_error is not None else []
        for result in results:
            if isinstance(result, BaseException):
                self.expectations.deletion_observed(key)
                if not cu.is_not_found(result):
                    errors.append(result)
        if errors:
            raise errors[0]

    # ------------------------------------------------------------------------------------------- rolling update
    async def _rolling_update(self, key: str, ds: Obj, placement: Placement, nodes: list[Obj], pods: list[Obj],
                              pod_hash: str, generation: str) -> None:
        by_node = self._nodes_to_pods(pods)
        desired = 0
        eligible: list[str] = []
        for node in nodes:
            if placement.should_run(node)[0]:
                desired += 1
                eligible.append(cu.name_of(node))
        for name in eligible:
            by_node.setdefault(name, [])
        max_surge, max_unavailable = surge_count(ds, desired), unavailable_count(ds, desired)
        if desired > 0 and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1  # an impossible configuration: accept one unavailable, as Kubernetes does
        if max_surge == 0:
            to_delete = self._rolling_deletions(ds, by_node, pod_hash, generation, max_unavailable)
            await self._sync_nodes(key, ds, to_delete, [], pod_hash, generation)
        else:
            nodes_by_name = {cu.name_of(n): n for n in nodes}
            to_delete, to_create = self._surge_steps(ds, placement, by_node, nodes_by_name, pod_hash, generation,
                                                     max_surge, desired)
            await self._sync_nodes(key, ds, to_delete, to_create, pod_hash, generation)

    @staticmethod
    def _rolling_deletions(ds: Obj, by_node: dict[str, list[Obj]], pod_hash: str, generation: str,
                           max_unavailable: int) -> list[str]:
        """Without surge: delete just enough old pods to stay within maxUnavailable (unavailable old pods are
        replaced regardless); the manage step re-creates them."""
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        unavailable = 0
        replace_now: list[str] = []
        candidates: list[str] = []
        for node_name in sorted(by_node):
            new, old, ok = updated_pods_on_node(by_node[node_name], pod_hash, generation)
            if not ok or (new is None) == (old is None):
                unavailable += 1  # nothing, or both, on the node: manage sorts it out; count it unavailable
                continue
            if new is not None:
                if not cu.is_pod_available(new, min_ready):
                    unavailable += 1
                continue
            assert old is not None
            if not cu.is_pod_available(old, min_ready):
                replace_now.append(cu.name_of(old))
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(cu.name_of(old))
        room = min(max(max_unavailable - unavailable, 0), len(candidates))
        return replace_now + candidates[:room]

    @staticmethod
    def _surge_steps(ds: Obj, placement: Placement, by_node: dict[str, list[Obj]], nodes: dict[str, Obj],
                     pod_hash: str, generation: str, max_surge: int, desired: int) -> tuple[list[str], list[str]]:
        """With surge: start a new pod next to an old one on up to maxSurge nodes (at once where the old one is
        unavailable), and delete old pods whose replacement is available."""
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        to_delete: list[str] = []
        not_eligible_old: list[str] = []
        allowed: list[str] = []
        candidates: list[str] = []
        surging = available = 0
        for node_name in sorted(by_node):
            new, old, ok = updated_pods_on_node(by_node[node_name], pod_hash, generation)
            if not ok:
                surging += 1
                continue
            counted = old if old is not None else new
            if counted is not None and cu.is_pod_available(counted, min_ready):
                available += 1
            if old is None:
                continue
            node = nodes.get(node_name)
            should_run = node is not None and placement.should_run(node)[0]
            if new is None:
                if not cu.is_pod_available(old, min_ready):
                    if should_run:
                        allowed.append(node_name)
                    else:
                        to_delete.append(cu.name_of(old))
                elif not should_run:
                    not_eligible_old.append(cu.name_of(old))
                elif surging < max_surge:
                    candidates.append(node_name)
            elif not cu.is_pod_available(new, min_ready):
                surging += 1
            else:
                to_delete.append(cu.name_of(old))
        # Pods on nodes that no longer qualify go only while enough pods elsewhere are available.
        deletable = min(max(available - desired, 0), len(not_eligible_old))
        to_delete += not_eligible_old[:deletable]
        room = min(max(max_surge - surging, 0), len(candidates))
        return to_delete, allowed + candidates[:room]

    # ------------------------------------------------------------------------------------------- status
    async def _update_status(self, key: str, ds: Obj, placement: Placement, nodes: list[Obj], pods: list[Obj],
                             pod_hash: str, generation: str, observe_generation: bool,
                             requeue: list[float]) -> None:
        by_node = self._nodes_to_pods(pods)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        at = cu.now()
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            should_run = placement.should_run(node)[0]
            on_node = by_node.get(cu.name_of(node)) or []
            if not should_run:
                misscheduled += 1 if on_node else 0
                continue
            desired += 1
            if not on_node:
                continue
            current += 1
            pod = by_creation_and_phase(on_node)[0]
            if cu.is_pod_ready(pod):
                ready += 1
                if cu.is_pod_available(pod, min_ready, at):
                    available += 1
                else:
                    wait = cu.seconds_until_available(pod, min_ready, at)
                    if wait is not None:
                        requeue.append(wait + _AVAILABILITY_MARGIN)
            if is_pod_updated(pod, pod_hash, generation):
                updated += 1
        counts = {"desiredNumberScheduled": desired, "currentNumberScheduled": current,
                  "numberMisscheduled": misscheduled, "numberReady": ready, "updatedNumberScheduled": updated,
                  "numberAvailable": available, "numberUnavailable": desired - available}
        await self._store_status(key, ds, counts, observe_generation)

    async def _store_status(self, key: str, ds: Obj, counts: dict[str, int], observe_generation: bool) -> None:
        current = ds.get("status") or {}
        generation = int(cu.meta(ds).get("generation") or 0)
        if all(int(current.get(k) or 0) == v for k, v in counts.items()) and \
                int(current.get("observedGeneration") or 0) >= generation:
            return
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            status = {k: v for k, v in (ds.get("status") or {}).items()}
            status.update(counts)
            if observe_generation:
                status["observedGeneration"] = generation
            status = {k: v for k, v in status.items() if v not in (0, None) or k in _REQUIRED_STATUS}
            try:
                written = await cu.write_status(self.client, DAEMON_SETS, ds, status)
                self.own_writes.record(key, ds, written)
                return
            except ApiError as err:
                if err.code != 409 or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            ds = cu.with_kind(await self.client.get(DAEMON_SETS, cu.name_of(ds), cu.namespace_of(ds)), DAEMON_SETS)


_REQUIRED_STATUS = frozenset({"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                              "numberReady"})

