"""Node lifecycle controller (Kubernetes' node-lifecycle controller with its taint-eviction part):

- **health**: a node is alive while its kubelet renews its Lease in ``kube-node-lease`` or posts a new Ready
  heartbeat. When neither happened for ``node_monitor_grace_period`` (``node_startup_grace_period`` for a node
  that never reported), its kubelet conditions (Ready, MemoryPressure, DiskPressure, PIDPressure) become
  ``Unknown`` — "Kubelet stopped posting node status." (or "never posted"). Liveness is judged by when *this*
  process saw a change (monotonic clock), never by comparing another machine's timestamps; a restarted controller
  gives every node a full grace period again, as Kubernetes does.
- **NoSchedule taints** mirror the conditions: ``node.kubernetes.io/not-ready`` (Ready False),
  ``unreachable`` (Ready Unknown), memory/disk/pid pressure, network-unavailable, and ``unschedulable`` for a
  cordoned node; they go when the condition does.
- **NoExecute taints** ``not-ready``/``unreachable`` (with ``timeAdded``) are what evicts pods (see
  tainteviction.py, run from here). Adding them is rate limited per zone to ``node_eviction_rate`` nodes per
  second, slower when a large zone is mostly down, and stopped when every zone is fully down — then the fault is
  more likely the control plane's own network, and evicting everything would only make it worse. They are removed
  as soon as the node is Ready again.
- **pods** on a node that is not Ready get their Ready condition set to False (MarkPodsNotReady), once per pod,
  so Services stop sending them traffic; the kubelet owns it again when it is back.
"""

from __future__ import annotations

import copy
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import Handler, ReconcileLoop, run_all
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext
from provisioner.services.controllers.tainteviction import NODE_INDEX, TaintEvictionController, pods_by_node

log = logging.getLogger("controllers.nodelifecycle")

NODES = resources.lookup("", "v1", "nodes")
PODS = resources.lookup("", "v1", "pods")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
LEASE_NAMESPACE = "kube-node-lease"

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")  # NetworkUnavailable is not ours
CONDITION_TAINTS = {
    ("Ready", "False"): NOT_READY,
    ("Ready", "Unknown"): UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
NO_SCHEDULE_KEYS = frozenset(CONDITION_TAINTS.values()) | {UNSCHEDULABLE}
NO_EXECUTE_FOR = {"False": NOT_READY, "Unknown": UNREACHABLE}

# Kubernetes' defaults for what ControllerOptions does not expose.
SECONDARY_EVICTION_RATE = 0.01
LARGE_CLUSTER_SIZE = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
ZONE_LABELS = (("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region"),
               ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"))

NORMAL, PARTIAL_DISRUPTION, FULL_DISRUPTION = "Normal", "PartialDisruption", "FullDisruption"


# --------------------------------------------------------------------------------------------- helpers
def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def condition(obj: Obj, kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def zone_key(node: Obj) -> str:
    labels = node["metadata"].get("labels") or {}
    region, zone = (next((labels[k] for k in keys if labels.get(k)), "") for keys in ZONE_LABELS)
    return f"{region}:\x00:{zone}" if region or zone else ""


def compute_zone_state(ready: int, not_ready: int) -> str:
    """Kubernetes' ComputeZoneState: fully disrupted if nothing is ready, partially if more than two nodes and at
    least the threshold share of them are not ready."""
    if ready == 0 and not_ready > 0:
        return FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL_DISRUPTION
    return NORMAL


def has_taint(node: Obj, key: str, effect: str) -> bool:
    return any(t.get("key") == key and t.get("effect") == effect for t in (node.get("spec") or {}).get("taints") or [])


def desired_no_schedule_keys(node: Obj) -> set[str]:
    keys = {CONDITION_TAINTS[(c.get("type"), c.get("status"))]
            for c in (node.get("status") or {}).get("conditions") or []
            if (c.get("type"), c.get("status")) in CONDITION_TAINTS}
    if (node.get("spec") or {}).get("unschedulable"):
        keys.add(UNSCHEDULABLE)
    return keys


def with_kubelet_conditions_unknown(node: Obj) -> Obj:
    """A copy of ``node`` whose kubelet-owned conditions say the kubelet went silent (or never spoke)."""
    updated = copy.deepcopy(node)
    now = _now_rfc3339()
    conditions = updated.setdefault("status", {}).setdefault("conditions", [])
    for kind in KUBELET_CONDITIONS:
        current = next((c for c in conditions if c.get("type") == kind), None)
        if current is None:
            conditions.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                               "message": "Kubelet never posted node status.",
                               "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                               "lastTransitionTime": now})
        elif current.get("status") != "Unknown":
            current.update(status="Unknown", reason="NodeStatusUnknown",
                           message="Kubelet stopped posting node status.", lastTransitionTime=now)
    return updated


# --------------------------------------------------------------------------------------------- state
@dataclass
class NodeHealth:
    probe: float  # monotonic time of the last sign of life seen
    heartbeat: Any = None  # the Ready condition's lastHeartbeatTime when last seen
    lease_renewed: datetime | None = None


@dataclass
class ZoneTainter:
    """Nodes of one zone waiting for their NoExecute taint, released at most ``rate`` per second (a token bucket
    of one, like Kubernetes' RateLimitedTimedQueue)."""

    pending: OrderedDict[str, None] = field(default_factory=OrderedDict)
    next_allowed: float = 0.0

    def add(self, name: str) -> None:
        self.pending.setdefault(name, None)

    def remove(self, name: str) -> None:
        self.pending.pop(name, None)

    def wait(self, now: float) -> float:
        """Seconds until the next node may be tainted (0: now)."""
        return max(self.next_allowed - now, 0.0)

    def take(self, now: float, rate: float) -> str | None:
        """The next node to taint, spending the token; None if none is due or allowed."""
        if rate <= 0 or not self.pending or self.wait(now) > 0:
            return None
        name, _ = self.pending.popitem(last=False)
        self.next_allowed = now + 1.0 / rate
        return name

    def put_back(self, name: str) -> None:
        self.pending[name] = None
        self.pending.move_to_end(name, last=False)


# --------------------------------------------------------------------------------------------- controller
class NodeLifecycleController:
    name = "node-lifecycle"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.options = ctx.options
        self.nodes = ctx.informers.informer(NODES)
        self.leases = ctx.informers.informer(LEASES, LEASE_NAMESPACE)
        self.pods = ctx.informers.informer(PODS, indexers={NODE_INDEX: pods_by_node})
        self.health: dict[str, NodeHealth] = {}
        self._known: set[str] = set()
        self._zone_member: dict[str, tuple[str, bool]] = {}  # node -> (zone, ready), nodes in disruption counts
        self._zone_counts: dict[str, list[int]] = {}  # zone -> [ready, not ready]
        self._zone_states: dict[str, str] = {}
        self._all_disrupted = False
        self._tainters: dict[str, ZoneTainter] = {}
        self._marked_not_ready: dict[str, set[str]] = {}  # node -> uids of its pods we set NotReady
        informers = [self.nodes, self.leases, self.pods]
        self.monitor = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers, informers=informers)
        self.tainting = ReconcileLoop(f"{self.name}-noexecute", self.reconcile_zone, informers=informers)
        self.monitor.enqueue_all(self.nodes)
        self.monitor.enqueue_all(self.leases, key_of=lambda lease: [lease["metadata"]["name"]])
        self.pods.add_handler(Handler(on_add=self._pod_placed, on_update=self._pod_moved))
        self.eviction = TaintEvictionController(ctx)

    def _pod_placed(self, pod: Obj) -> None:
        for node in pods_by_node(pod):
            if node in self._marked_not_ready:  # a pod bound to a node known not to be ready
                self.monitor.queue.add(node)

    def _pod_moved(self, old: Obj, new: Obj) -> None:
        if pods_by_node(old) != pods_by_node(new):
            self._pod_placed(new)

    async def run(self) -> None:
        await self.nodes.wait_synced()
        self._seed_zones()
        await run_all(self.monitor.run(), self.tainting.run(), self.eviction.run())

    # ------------------------------------------------------------------------------------------------ monitor
    async def reconcile(self, name: str) -> float | None:
        node = self.nodes.store.get(name)
        if node is None:
            self._forget(name)
            return None
        if name not in self._known:
            self._known.add(name)
            self.recorder.event(node, "Normal", "RegisteredNode", f"Registered Node {name} in Controller")
        observed, node, remaining = await self._check_health(node)
        current = (condition(node, "Ready") or {}).get("status", "Unknown")
        self._count_in_zone(node, current == "True")
        if observed == "True" and current != "True":
            self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        await self._mark_pods_not_ready(name, current)
        await self._update_no_schedule_taints(node)
        await self._update_no_execute_taints(node, current)
        if remaining is not None:
            return remaining
        return self.options.node_monitor_period if current != "True" else None

    def _forget(self, name: str) -> None:
        self.health.pop(name, None)
        self._marked_not_ready.pop(name, None)
        if name in self._known:
            self._known.discard(name)
            log.info("node %s deleted", name)
        member = self._zone_member.pop(name, None)
        if member is not None:
            self._tainters.get(member[0], ZoneTainter()).remove(name)
            self._zone_counts[member[0]][0 if member[1] else 1] -= 1
            self._update_zone_states({member[0]})

    async def _check_health(self, node: Obj) -> tuple[str, Obj, float | None]:
        """Update what we know of the node's liveness; mark it Unknown if silent too long. Returns the Ready
        status as posted, the node as it is now, and seconds left before it would count as silent."""
        name = node["metadata"]["name"]
        now = time.monotonic()
        ready = condition(node, "Ready")
        observed = (ready or {}).get("status", "Unknown")
        grace = self.options.node_monitor_grace_period if ready else self.options.node_startup_grace_period
        health = self.health.get(name)
        if health is None:
            health = self.health[name] = NodeHealth(self._first_probe(node, ready, now),
                                                    (ready or {}).get("lastHeartbeatTime"))
        elif ready is not None and ready.get("lastHeartbeatTime") != health.heartbeat:
            health.heartbeat, health.probe = ready.get("lastHeartbeatTime"), now
        lease = self.leases.store.get(f"{LEASE_NAMESPACE}/{name}")
        renewed = _parse_time(((lease or {}).get("spec") or {}).get("renewTime"))
        if renewed is not None and (health.lease_renewed is None or renewed > health.lease_renewed):
            health.lease_renewed, health.probe = renewed, now
        if now <= health.probe + grace:
            return observed, node, health.probe + grace - now
        silent = with_kubelet_conditions_unknown(node)
        if silent["status"]["conditions"] != (node.get("status") or {}).get("conditions"):
            log.info("node %s: no heartbeat for %.1fs; conditions set Unknown", name, now - health.probe)
            try:
                silent = await self.client.update(NODES, silent, subresource="status")
            except ApiError as err:
                if err.code == 404:
                    return observed, node, None
                raise  # a conflict: the newer node comes back through the informer
        return observed, silent, None

    @staticmethod
    def _first_probe(node: Obj, ready: dict[str, Any] | None, now: float) -> float:
        """A node that reported gets a full grace period from now; one that never did, from its creation."""
        if ready is not None:
            return now
        created = _parse_time(node["metadata"].get("creationTimestamp"))
        age = (datetime.now(UTC) - created).total_seconds() if created else 0.0
        return now - max(age, 0.0)

    # ------------------------------------------------------------------------------------------------ zones
    def _seed_zones(self) -> None:
        """Count every cached node into its zone before the first reconcile: judged one node at a time, the first
        silent node would look like a fully disrupted cluster."""
        for node in self.nodes.store.list():
            ready = (condition(node, "Ready") or {}).get("status") == "True"
            self._set_zone_member(node, ready)
        self._zone_states = {zone: compute_zone_state(*counts) for zone, counts in self._zone_counts.items()}
        self._all_disrupted = bool(self._zone_states) and all(
            s == FULL_DISRUPTION for s in self._zone_states.values())

    def _set_zone_member(self, node: Obj, ready: bool) -> set[str]:
        """Record the node's zone and readiness; returns the zones whose counts changed."""
        name = node["metadata"]["name"]
        excluded = EXCLUDE_DISRUPTION_LABEL in (node["metadata"].get("labels") or {})
        member = None if excluded else (zone_key(node), ready)
        previous = self._zone_member.get(name)
        if previous == member:
            return set()
        touched = set()
        if previous is not None:
            self._zone_counts[previous[0]][0 if previous[1] else 1] -= 1
            touched.add(previous[0])
            del self._zone_member[name]
        if member is not None:
            self._zone_counts.setdefault(member[0], [0, 0])[0 if member[1] else 1] += 1
            touched.add(member[0])
            self._zone_member[name] = member
        return touched

    def _count_in_zone(self, node: Obj, ready: bool) -> None:
        self._update_zone_states(self._set_zone_member(node, ready))

    def _update_zone_states(self, zones: set[str]) -> None:
        for zone in zones:
            counts = self._zone_counts.get(zone, [0, 0])
            state = compute_zone_state(*counts) if sum(counts) else None
            if state == self._zone_states.get(zone):
                continue
            if state is None:
                self._zone_states.pop(zone, None)
                self._zone_counts.pop(zone, None)
            else:
                log.info("zone %r is now %s", zone, state)
                self._zone_states[zone] = state
            self.tainting.queue.add(zone)
        all_disrupted = bool(self._zone_states) and all(s == FULL_DISRUPTION for s in self._zone_states.values())
        if all_disrupted != self._all_disrupted:
            self._all_disrupted = all_disrupted
            self._disruption_mode_changed(all_disrupted)

    def _disruption_mode_changed(self, all_disrupted: bool) -> None:
        if all_disrupted:
            log.warning("every node is not ready: no evictions until some node is ready again "
                        "(master disruption mode)")
        else:
            log.info("some nodes are ready again: leaving master disruption mode")
            now = time.monotonic()
            for health in self.health.values():  # everyone gets a fresh grace period, as in Kubernetes
                health.probe = now
        for name in self.nodes.store.keys():
            self.monitor.queue.add(name)

    def _eviction_rate(self, zone: str) -> float:
        if self._all_disrupted:
            return 0.0
        state = self._zone_states.get(zone, NORMAL)
        if state == PARTIAL_DISRUPTION:
            size = sum(self._zone_counts.get(zone, [0, 0]))
            return SECONDARY_EVICTION_RATE if size > LARGE_CLUSTER_SIZE else 0.0
        return self.options.node_eviction_rate

    # ------------------------------------------------------------------------------------------------ pods
    async def _mark_pods_not_ready(self, name: str, ready_status: str) -> None:
        if ready_status == "True":
            self._marked_not_ready.pop(name, None)
            return
        marked = self._marked_not_ready.setdefault(name, set())
        pods = self.pods.store.by_index(NODE_INDEX, name)
        marked &= {p["metadata"]["uid"] for p in pods}
        for pod in pods:
            uid = pod["metadata"]["uid"]
            if uid in marked:
                continue
            pod_ready = condition(pod, "Ready")
            if pod_ready is not None and pod_ready.get("status") != "False":
                await self._set_pod_not_ready(pod)
            marked.add(uid)

    async def _set_pod_not_ready(self, pod: Obj) -> None:
        meta = pod["metadata"]
        patch = {"metadata": {"uid": meta["uid"]},
                 "status": {"conditions": [{"type": "Ready", "status": "False",
                                            "lastTransitionTime": _now_rfc3339()}]}}
        try:
            await self.client.patch(PODS, meta["name"], patch, meta["namespace"], patch_type="strategic",
                                    subresource="status")
        except ApiError as err:
            if err.code in (404, 409):
                return
            raise
        self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    # ------------------------------------------------------------------------------------------------ taints
    async def _update_no_schedule_taints(self, node: Obj) -> None:
        desired = desired_no_schedule_keys(node)
        present = {t["key"] for t in (node.get("spec") or {}).get("taints") or []
                   if t.get("effect") == "NoSchedule" and t.get("key") in NO_SCHEDULE_KEYS}
        if desired != present:
            await self._swap_taints(node["metadata"]["name"], add=[(k, "NoSchedule") for k in desired - present],
                                    remove=[(k, "NoSchedule") for k in present - desired])

    async def _update_no_execute_taints(self, node: Obj, ready_status: str) -> None:
        name = node["metadata"]["name"]
        tainter = self._tainters.setdefault(zone_key(node), ZoneTainter())
        wanted = NO_EXECUTE_FOR.get(ready_status)
        if wanted is None or self._all_disrupted:
            tainter.remove(name)
            stale = [(k, "NoExecute") for k in (NOT_READY, UNREACHABLE) if has_taint(node, k, "NoExecute")]
            if stale:
                await self._swap_taints(name, add=[], remove=stale)
            return
        opposite = UNREACHABLE if wanted == NOT_READY else NOT_READY
        if has_taint(node, opposite, "NoExecute"):
            # Already evicting: swapping one reason for the other is not a new eviction, so not rate limited.
            await self._swap_taints(name, add=[(wanted, "NoExecute")], remove=[(opposite, "NoExecute")])
        elif not has_taint(node, wanted, "NoExecute") and name not in tainter.pending:
            tainter.add(name)
            self.tainting.queue.add(zone_key(node))

    async def reconcile_zone(self, zone: str) -> float | None:
        """Taint the next waiting node of ``zone`` if the zone's rate allows; come back when the next may go."""
        tainter = self._tainters.get(zone)
        if tainter is None or not tainter.pending:
            return None
        rate = self._eviction_rate(zone)
        if rate <= 0:
            return None  # queued again when the zone's state changes
        now = time.monotonic()
        name = tainter.take(now, rate)
        while name is not None:
            node = self.nodes.store.get(name)
            wanted = self._no_execute_wanted(node)
            if node is not None and wanted is not None and not has_taint(node, wanted, "NoExecute"):
                try:
                    await self._swap_taints(name, add=[(wanted, "NoExecute")],
                                            remove=[(k, "NoExecute") for k in (NOT_READY, UNREACHABLE) if k != wanted])
                except ApiError:
                    tainter.put_back(name)
                    raise
                break
            tainter.next_allowed = now  # nothing done: the token is not spent
            name = tainter.take(now, rate)
        if not tainter.pending:
            return None
        return max(tainter.wait(time.monotonic()), 0.001)

    def _no_execute_wanted(self, node: Obj | None) -> str | None:
        """The NoExecute taint a node still waiting in a zone queue should get, if any (it may be Ready by now)."""
        if node is None or self._all_disrupted:
            return None
        return NO_EXECUTE_FOR.get((condition(node, "Ready") or {}).get("status", ""))

    async def _swap_taints(self, name: str, *, add: list[tuple[str, str]], remove: list[tuple[str, str]]) -> None:
        """Add and remove taints (key, effect) in one write, from the cached node first and the live one on a
        conflict; added taints carry timeAdded."""
        node = self.nodes.store.get(name)
        for attempt in range(3):
            if node is None:
                return
            current = (node.get("spec") or {}).get("taints") or []
            present = {(t.get("key"), t.get("effect")) for t in current}
            removed = [taint for taint in remove if taint in present]
            added = [taint for taint in add if taint not in present]
            if not removed and not added:
                return
            now = _now_rfc3339()
            taints = [t for t in current if (t.get("key"), t.get("effect")) not in removed]
            taints += [{"key": key, "effect": effect, "timeAdded": now} for key, effect in added]
            patch = {"metadata": {"uid": node["metadata"]["uid"],
                                  "resourceVersion": node["metadata"]["resourceVersion"]},
                     "spec": {"taints": taints or None}}
            try:
                await self.client.patch(NODES, name, patch, patch_type="merge")
                log.info("node %s: taints added %s, removed %s", name, added, removed)
                return
            except ApiError as err:
                if err.code == 404:
                    return
                if err.code != 409 or attempt == 2:
                    raise
            live = await self._live_node(name)
            if live is None or live["metadata"]["uid"] != node["metadata"]["uid"]:
                return  # deleted, or replaced by a new node of that name: its own reconcile decides
            node = live

    async def _live_node(self, name: str) -> Obj | None:
        try:
            return await self.client.get(NODES, name)
        except ApiError as err:
            if err.code == 404:
                return None
            raise
