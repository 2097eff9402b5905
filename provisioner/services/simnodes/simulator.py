"""SimulatedNodes: N fake kubelets in one asyncio task set, like kwok or kubemark's hollow nodes.

Each node is registered once (Node + Lease in kube-node-lease), renews its Lease every ``lease_renew_interval`` and
posts its Ready status every ``status_interval`` — both spread evenly over the interval (see spread.py), so 5000
nodes cost a steady trickle of requests rather than bursts. One informer over all pods (the apiserver's field
selectors take one node name, not a set) feeds a reconcile loop that plays the kubelet for pods bound to our nodes:

- a bound Pending pod becomes Running at once: every container running and ready, hostIP, a podIP from the node's
  ``spec.podCIDR`` (or a fallback range until node-ipam assigns one), startTime; qosClass and PodScheduled are kept;
- a pod annotated ``simnodes.provision.dev/run-seconds: "N"`` has its containers exit after N seconds with
  ``simnodes.provision.dev/exit-code`` (default 0): per restartPolicy they restart (restartCount + 1) or the pod
  ends Succeeded / Failed — so Jobs complete;
- a pod with a deletionTimestamp is deleted for good (gracePeriodSeconds=0) after a short simulated shutdown.

``stop_heartbeats(names)`` makes nodes go silent as if cut off from the network: no Lease renewals, no status, and
their pods are left as they are (deletions are not confirmed), until ``resume_heartbeats(names)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.nodes import NODE_LEASE_NAMESPACE, heartbeat_conditions, lease_object
from provisioner.services.api.status import ApiError
from provisioner.services.api.timestamps import micro_time
from provisioner.services.client import (
    ApiClient,
    Handler,
    Informer,
    InformerFactory,
    ReconcileLoop,
    object_key,
    run_all,
    until_available,
)
from provisioner.services.simnodes import objects
from provisioner.services.simnodes.addresses import PodAddresses, fallback_pod_cidr, node_ip
from provisioner.services.simnodes.objects import NodeTemplate, Obj
from provisioner.services.simnodes.spread import run_spread

log = logging.getLogger("simnodes")

NODES = resources.lookup("", "v1", "nodes")
PODS = resources.lookup("", "v1", "pods")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
NODE_INDEX = "node"


@dataclass(frozen=True)
class Timing:
    """Kubelet defaults: a 40 s Lease renewed every 10 s; status reported every 5 min when nothing changes
    (nodeStatusReportFrequency) — node health is judged by the Lease."""

    lease_duration_seconds: int = 40
    lease_renew_interval: float = 10.0
    status_interval: float = 300.0
    termination_seconds: float = 0.5  # simulated container shutdown before a deleted pod is removed
    spread_tick: float = 0.1

    def __post_init__(self) -> None:
        for name in ("lease_duration_seconds", "lease_renew_interval", "status_interval", "spread_tick"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.termination_seconds < 0:
            raise ValueError(f"termination_seconds must not be negative, got {self.termination_seconds}")


@dataclass
class Counters:
    """What the simulator did, for benchmarks and logs."""

    nodes_registered: int = 0
    registration_seconds: float = 0.0
    leases_renewed: int = 0
    statuses_posted: int = 0
    pods_started: int = 0
    pods_exited: int = 0
    pods_removed: int = 0
    errors: int = 0


@dataclass
class _Node:
    name: str
    index: int
    ip: str
    addresses: PodAddresses
    uid: str = ""
    lease: Obj | None = None  # the last Lease we wrote or read (its resourceVersion makes the next PUT safe)
    deleted: bool = False
    pod_cidr: str = ""


@dataclass
class _ErrorLog:
    """At most one warning per ``every`` seconds for repeated failures (5000 nodes failing together)."""

    every: float = 10.0
    _last: float = field(default=-1e9)
    _suppressed: int = 0

    def report(self, what: str, err: Exception) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} similar failures suppressed)" if self._suppressed else ""
        log.warning("%s: %s%s", what, getattr(err, "message", None) or err, more)
        self._last, self._suppressed = now, 0


class SimulatedNodes:
    def __init__(self, client: ApiClient, count: int, prefix: str = "simnode", *,
                 template: NodeTemplate | None = None, timing: Timing | None = None, first_index: int = 0,
                 pod_workers: int = 8, max_in_flight: int = 64) -> None:
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        self.client = client
        self.template = template or NodeTemplate()
        self.timing = timing or Timing()
        self.pod_workers = pod_workers
        self.counters = Counters()
        self._nodes: dict[str, _Node] = {}
        for index in range(first_index, first_index + count):
            name = f"{prefix}-{index}"
            self._nodes[name] = _Node(name, index, node_ip(index), PodAddresses(fallback_pod_cidr(index)))
        self._names = list(self._nodes)
        self._stopped: set[str] = set()
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._registered = asyncio.Event()
        self._pod_owner: dict[str, tuple[str, str]] = {}  # pod key -> (node, uid) holding an address
        self._terminating_since: dict[str, float] = {}  # pod uid -> when we saw its deletionTimestamp
        # pod uid -> when its containers last started, to the microsecond (startedAt is stored in whole seconds)
        self._run_started: dict[str, float] = {}
        self._loop: ReconcileLoop | None = None
        self._pods: Informer | None = None
        self._node_cache: Informer | None = None
        self._kicks: set[asyncio.Task[None]] = set()
        self._errors = _ErrorLog()

    # ------------------------------------------------------------------------------------------- public API
    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def stopped(self) -> frozenset[str]:
        return frozenset(self._stopped)

    async def wait_registered(self) -> None:
        await self._registered.wait()

    def stop_heartbeats(self, names: Iterable[str]) -> None:
        """The nodes go silent (Lease, status, pods) until resumed."""
        self._stopped |= self._known(names)

    def resume_heartbeats(self, names: Iterable[str]) -> None:
        """The nodes report again at once: Lease, Ready status, and their pods are caught up."""
        resumed = self._known(names) & self._stopped
        self._stopped -= resumed
        if resumed:
            self._kick(self._catch_up(sorted(resumed)))

    def set_stopped(self, names: Iterable[str]) -> None:
        """Make exactly ``names`` the stopped nodes (for a control file listing them)."""
        wanted = self._known(names)
        self.stop_heartbeats(wanted - self._stopped)
        self.resume_heartbeats(self._stopped - wanted)

    async def run(self) -> None:
        """Register every node, then heartbeat and run pods until cancelled."""
        factory = InformerFactory(self.client)
        pods = factory.informer(PODS, indexers={NODE_INDEX: _node_name_of})
        nodes = factory.informer(NODES, label_selector=f"{objects.SIMULATED_LABEL}=true")
        nodes.add_handler(Handler(on_add=self._node_seen, on_update=lambda _old, new: self._node_seen(new),
                                  on_delete=self._node_deleted))
        self._pods, self._node_cache = pods, nodes
        self._loop = ReconcileLoop("simnodes-pods", self._reconcile_pod, workers=self.pod_workers,
                                   informers=[pods, nodes])
        self._loop.enqueue_all(pods, key_of=self._keys_of_our_pod)
        await self._register_all()
        factory.start()
        try:
            await run_all(
                self._loop.run(),
                run_spread(self._beating, self.timing.lease_renew_interval,
                           lambda batch: self._each(batch, self._renew_lease), tick=self.timing.spread_tick),
                run_spread(self._beating, self.timing.status_interval,
                           lambda batch: self._each(batch, self._post_status), tick=self.timing.spread_tick),
            )
        finally:
            for task in self._kicks:
                task.cancel()
            await factory.stop()

    # ------------------------------------------------------------------------------------------ registration
    async def _register_all(self) -> None:
        # Failures other than an unavailable apiserver (403, 422: a misconfiguration) end run() with the error.
        async def bounded(node: _Node) -> None:
            async with self._in_flight:
                await self._register(node)

        started = time.monotonic()
        await asyncio.gather(*(bounded(node) for node in self._nodes.values()))
        self.counters.registration_seconds = time.monotonic() - started
        self._registered.set()
        log.info("registered %d simulated nodes in %.1fs", self.counters.nodes_registered,
                 self.counters.registration_seconds)

    async def _register(self, node: _Node) -> None:
        body = objects.node_object(node.name, node.ip, self.template, time.time())
        created = await until_available(lambda: self._create_or_adopt(body))
        node.uid = created["metadata"]["uid"]
        node.pod_cidr = (created.get("spec") or {}).get("podCIDR", "")
        if node.pod_cidr:
            node.addresses.change_cidr(node.pod_cidr)
        node.lease = await until_available(lambda: self._create_or_read_lease(node))
        self.counters.nodes_registered += 1

    async def _create_or_adopt(self, body: Obj) -> Obj:
        """Create the Node; if it exists (a restart), take it over as a restarted kubelet does."""
        try:
            return await self.client.create(NODES, body)
        except ApiError as err:
            if err.code != 409:
                raise
        name = body["metadata"]["name"]
        await self.client.patch(NODES, name, {"metadata": {"labels": body["metadata"]["labels"]}})
        return await self.client.patch(NODES, name, {"status": body["status"]}, subresource="status")

    async def _create_or_read_lease(self, node: _Node) -> Obj:
        lease = lease_object(node.name, node.uid, self.timing.lease_duration_seconds, time.time())
        try:
            return await self.client.create(LEASES, lease, NODE_LEASE_NAMESPACE)
        except ApiError as err:
            if err.code != 409:
                raise
        return await self.client.get(LEASES, node.name, NODE_LEASE_NAMESPACE)

    # -------------------------------------------------------------------------------------------- heartbeats
    def _beating(self) -> list[str]:
        return [n for n in self._names if n not in self._stopped and not self._nodes[n].deleted]

    async def _each(self, names: Iterable[str], action: Callable[[_Node], Awaitable[None]]) -> None:
        async def guarded(node: _Node) -> None:
            async with self._in_flight:
                try:
                    await action(node)
                except ApiError as err:
                    self.counters.errors += 1
                    self._errors.report(f"{action.__name__} {node.name}", err)

        await asyncio.gather(*(guarded(self._nodes[name]) for name in names))

    async def _renew_lease(self, node: _Node) -> None:
        """PUT the Lease we hold with a new renewTime, as the kubelet does; if it changed under us (409) or
        vanished (404), read or re-create it and try once more."""
        if node.name in self._stopped or node.deleted:
            return
        for attempt in range(2):
            if node.lease is None:
                node.lease = await self._create_or_read_lease(node)
            spec = {**(node.lease.get("spec") or {}), "holderIdentity": node.name,
                    "leaseDurationSeconds": self.timing.lease_duration_seconds,
                    "renewTime": micro_time(time.time())}
            try:
                node.lease = await self.client.update(LEASES, {**node.lease, "spec": spec})
            except ApiError as err:
                node.lease = None
                if err.code not in (404, 409) or attempt:
                    raise
                continue
            self.counters.leases_renewed += 1
            return

    async def _post_status(self, node: _Node) -> None:
        if node.name in self._stopped or node.deleted:
            return
        patch = {"status": {"conditions": heartbeat_conditions(self._current_conditions(node.name), time.time())}}
        try:
            await self.client.patch(NODES, node.name, patch, subresource="status")
        except ApiError as err:
            if err.code == 404:
                self._mark_deleted(node)
                return
            raise
        self.counters.statuses_posted += 1

    def _current_conditions(self, name: str) -> list[Obj]:
        """The conditions last seen on the Node: each keeps its lastTransitionTime while its status stays, so a
        node coming back after the node-lifecycle controller marked it Unknown transitions now."""
        cached = self._node_cache.store.get(name) if self._node_cache is not None else None
        return ((cached or {}).get("status") or {}).get("conditions") or []

    async def _catch_up(self, names: list[str]) -> None:
        await self._each(names, self._post_status)
        await self._each(names, self._renew_lease)
        if self._loop is not None and self._pods is not None:
            for name in names:
                for pod in self._pods.store.by_index(NODE_INDEX, name):
                    self._loop.queue.add(object_key(pod))

    # ------------------------------------------------------------------------------------------- node cache
    def _node_seen(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        node = self._nodes.get(name)
        if node is None:
            return
        cidr = (obj.get("spec") or {}).get("podCIDR", "")
        if cidr and cidr != node.pod_cidr:
            node.pod_cidr = cidr
            node.addresses.change_cidr(cidr)

    def _node_deleted(self, obj: Obj) -> None:
        node = self._nodes.get(obj["metadata"]["name"])
        if node is not None and obj["metadata"].get("uid") == node.uid:
            self._mark_deleted(node)

    def _mark_deleted(self, node: _Node) -> None:
        # A kubelet registers once per start; a deleted Node stays gone until the process restarts.
        if not node.deleted:
            log.warning("node %s was deleted; it stays unregistered until simnodes restarts", node.name)
        node.deleted = True

    # ------------------------------------------------------------------------------------------------- pods
    def _keys_of_our_pod(self, pod: Obj) -> list[str]:
        key = object_key(pod)
        bound_here = any(name in self._nodes for name in _node_name_of(pod))
        return [key] if bound_here or key in self._pod_owner else []  # the owner check sees pods leave

    async def _reconcile_pod(self, key: str) -> float | None:
        assert self._pods is not None  # set by run() before the loop starts
        pod = self._pods.store.get(key)
        if pod is None:
            self._release(key)
            return None
        node = self._nodes.get((pod.get("spec") or {}).get("nodeName", ""))
        if node is None or node.name in self._stopped:
            return None  # a silent node does nothing; resume_heartbeats re-queues its pods
        uid = pod["metadata"].get("uid", "")
        owner = self._pod_owner.get(key)
        if owner is not None and owner[1] != uid:
            self._release(key)  # the name now belongs to a new pod
        if pod["metadata"].get("deletionTimestamp"):
            return await self._terminate(node, pod)
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase in ("Succeeded", "Failed"):
            self._release(key)
            return None
        if phase == "Pending":
            return await self._start(node, pod)
        self._claim_existing_address(node, pod)
        return await self._maybe_exit(pod)

    async def _start(self, node: _Node, pod: Obj) -> float | None:
        uid = pod["metadata"]["uid"]
        pod_ip = node.addresses.allocate(uid)
        self._pod_owner[object_key(pod)] = (node.name, uid)
        now = time.time()
        if not await self._write_pod_status(pod, objects.running_status(pod, node.ip, pod_ip, now)):
            return None
        self._run_started[uid] = now
        self.counters.pods_started += 1
        run = objects.container_run(pod)
        return run.seconds

    async def _maybe_exit(self, pod: Obj) -> float | None:
        run = objects.container_run(pod)
        uid = pod["metadata"]["uid"]
        started = self._run_started.get(uid) or objects.started_at(pod)
        if run.seconds is None or started is None:
            return None
        now = time.time()
        if started + run.seconds > now:
            return started + run.seconds - now
        if not await self._write_pod_status(pod, objects.exited_status(pod, run.exit_code, now)):
            return None
        self.counters.pods_exited += 1
        if objects.restarts_after_exit(pod, run.exit_code):
            self._run_started[uid] = now
            return run.seconds
        self._run_started.pop(uid, None)
        return None

    async def _terminate(self, node: _Node, pod: Obj) -> float | None:
        uid = pod["metadata"]["uid"]
        seen = self._terminating_since.setdefault(uid, time.monotonic())
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds") or 0)
        remaining = seen + min(grace, self.timing.termination_seconds) - time.monotonic()
        if remaining > 0:
            return remaining
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace", ""), grace_period_seconds=0,
                                     preconditions={"uid": uid})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
        self._terminating_since.pop(uid, None)
        self._release(object_key(pod))
        self.counters.pods_removed += 1
        return None

    async def _write_pod_status(self, pod: Obj, status: Obj) -> bool:
        """Merge-patch pods/status; the uid makes it a precondition (a recreated pod of the same name is not
        touched). False if the pod is gone or replaced."""
        meta = pod["metadata"]
        body = {"metadata": {"uid": meta["uid"]}, "status": status}
        try:
            await self.client.patch(PODS, meta["name"], body, meta.get("namespace", ""), subresource="status")
        except ApiError as err:
            if err.code in (404, 409):
                return False
            raise
        return True

    def _claim_existing_address(self, node: _Node, pod: Obj) -> None:
        """A Running pod found after a restart keeps its address, and it is not handed out again."""
        uid, ip = pod["metadata"]["uid"], (pod.get("status") or {}).get("podIP")
        if ip and node.addresses.address_of(uid) is None:
            node.addresses.claim(uid, ip)
            self._pod_owner[object_key(pod)] = (node.name, uid)

    def _release(self, key: str) -> None:
        owner = self._pod_owner.pop(key, None)
        if owner is not None:
            node_name, uid = owner
            self._nodes[node_name].addresses.release(uid)
            self._terminating_since.pop(uid, None)
            self._run_started.pop(uid, None)

    # ------------------------------------------------------------------------------------------------ helpers
    def _known(self, names: Iterable[str]) -> set[str]:
        wanted = set(names)
        unknown = wanted - self._nodes.keys()
        if unknown:
            raise ValueError(f"not simulated here: {', '.join(sorted(unknown))}")
        return wanted

    def _kick(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop running yet: run() starts with fresh beats anyway
            work.close()
            return
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)


def _node_name_of(pod: Obj) -> list[str]:
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []

