"""The scheduler loop: informers feed the cache and the queue; one loop pops a pod, decides its node, assumes it
there and hands the binding to a background task, then goes on to the next pod while up to ``parallel_bindings``
``POST pods/<name>/binding`` requests are in flight (kube-scheduler's asynchronous binding cycle).

Informer handlers only update the in-memory cache and queue (no I/O, no mutation of the informer's objects). The
cycle itself never awaits, so it always sees a consistent cache; it yields to the event loop between pods so
bindings, events and watch updates keep flowing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, EventRecorder, Handler, Informer, InformerFactory
from provisioner.services.scheduler.algorithm import FitError, Nominator, SchedulingAlgorithm, SchedulingError
from provisioner.services.scheduler.cache import SchedulerCache, assigned_pod_change, node_change
from provisioner.services.scheduler.framework import ClusterEvent, Profile
from provisioner.services.scheduler.nodeinfo import NodeInfo
from provisioner.services.scheduler.plugins import DEFAULT_SCHEDULER_NAME, DefaultPreemption, default_profile
from provisioner.services.scheduler.podinfo import PodInfo
from provisioner.services.scheduler.queue import QueueClosed, QueuedPod, SchedulingQueue

log = logging.getLogger("scheduler")

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
NAMESPACES = resources.lookup("", "v1", "namespaces")
# Like kube-scheduler: terminal pods hold no resources and need no scheduling.
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"

Obj = dict[str, Any]


@dataclass(frozen=True)
class SchedulerOptions:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    percentage_of_nodes_to_score: int = 0  # 0: adaptive
    parallel_bindings: int = 32
    status_writers: int = 16
    event_writers: int = 16
    pod_initial_backoff: float = 1.0
    pod_max_backoff: float = 10.0


@dataclass
class SchedulerStats:
    attempts: int = 0
    scheduled: int = 0
    unschedulable: int = 0
    errors: int = 0
    binding_failures: int = 0
    preemptions: int = 0
    cycle_seconds: float = 0.0  # time spent deciding (not binding)
    bind_latency: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))  # the latest, in seconds


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _event_subject(pod: Obj) -> Obj:
    """The pod as an event's involvedObject: list items may come without kind/apiVersion (a shallow copy adds
    them; the cached object is not touched)."""
    if pod.get("kind") and pod.get("apiVersion"):
        return pod
    return {**pod, "kind": "Pod", "apiVersion": "v1"}


class Scheduler:
    def __init__(self, client: ApiClient, options: SchedulerOptions | None = None, *,
                 factory: InformerFactory | None = None, profile: Profile | None = None) -> None:
        self.client = client
        self.options = options or SchedulerOptions()
        self.cache = SchedulerCache()
        self.nominator = Nominator()
        self.profile = profile or default_profile(self.cache, self.options.scheduler_name,
                                                  self.options.percentage_of_nodes_to_score)
        self.algorithm = SchedulingAlgorithm(self.profile, self.cache, self.nominator)
        self.queue = SchedulingQueue(self._requeue_hint, self.profile.requeue_events,
                                     self.options.pod_initial_backoff, self.options.pod_max_backoff)
        self.events = EventRecorder(client, self.options.scheduler_name)
        self.stats = SchedulerStats()
        self._preemption = next((w.plugin for w in self.profile.plugins if isinstance(w.plugin, DefaultPreemption)),
                                None)
        self._bind_slots = asyncio.Semaphore(self.options.parallel_bindings)
        self._status_slots = asyncio.Semaphore(self.options.status_writers)
        self._tasks: set[asyncio.Task[None]] = set()
        self.factory = factory or InformerFactory(client)
        self._owns_factory = factory is None
        self.pods: Informer = self.factory.informer(PODS, field_selector=NON_TERMINAL_PODS)
        self.nodes: Informer = self.factory.informer(NODES)
        self.namespaces: Informer = self.factory.informer(NAMESPACES)
        self.pods.add_handler(Handler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.nodes.add_handler(Handler(self._node_added, self._node_updated, self._node_deleted))
        self.namespaces.add_handler(Handler(self._namespace_changed, lambda old, new: self._namespace_changed(new),
                                            self._namespace_deleted))

    # --------------------------------------------------------------------------------------------- running
    def start_informers(self) -> None:
        self.factory.start()

    async def wait_synced(self) -> None:
        await asyncio.gather(self.pods.wait_synced(), self.nodes.wait_synced(), self.namespaces.wait_synced())

    async def run(self) -> None:
        """Schedule until cancelled (start the informers first, or let this do it when it owns the factory)."""
        if self._owns_factory:
            self.start_informers()
        await self.wait_synced()
        # A few event writers, so one "Scheduled" event per pod keeps up with hundreds of bindings a second.
        recorders = [asyncio.create_task(self.events.run(), name=f"scheduler-events-{n}")
                     for n in range(self.options.event_writers)]
        log.info("%s: caches synced (%d nodes, %d pods on nodes, %d pending); scheduling",
                 self.options.scheduler_name, len(self.cache.node_list()), len(self.cache.pods),
                 len(self.queue.pending()))
        try:
            while True:
                await self.schedule_one()
                await asyncio.sleep(0)  # let bindings, watches and events run between decisions
        except QueueClosed:
            pass
        finally:
            for recorder in recorders:
                recorder.cancel()
            await self.drain()
            await asyncio.gather(*recorders, return_exceptions=True)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let in-flight bindings and status writes finish (bounded), then flush queued events."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.events.flush(), timeout)

    async def stop(self) -> None:
        self.queue.close()
        if self._owns_factory:
            await self.factory.stop()

    # -------------------------------------------------------------------------------------- one decision
    async def schedule_one(self) -> None:
        queued = await self.queue.pop()
        pod = queued.pod
        if pod.deleting or self.cache.is_assumed(pod.uid) or pod.node_name:
            self.queue.delete(pod.uid)
            return
        self.stats.attempts += 1
        started = time.perf_counter()
        try:
            result = self.algorithm.schedule(pod)
        except FitError as fit_error:
            self.stats.cycle_seconds += time.perf_counter() - started
            self._unschedulable(queued, fit_error)
            return
        except SchedulingError as err:
            self.stats.cycle_seconds += time.perf_counter() - started
            self._failed(queued, str(err))
            return
        except Exception as err:  # a bug in a plugin must cost one pod a retry, not stop the scheduler
            log.exception("scheduling %s failed unexpectedly", pod.key)
            self._failed(queued, f"internal scheduler error: {err.__class__.__name__}: {err}")
            return
        assumed = self.cache.assume(pod, result.node_name)
        self.queue.done(pod.uid)
        self.nominator.remove(pod.uid)
        self.stats.cycle_seconds += time.perf_counter() - started
        await self._bind_slots.acquire()
        self._spawn(self._bind(queued, assumed), f"bind-{pod.key}")

    def _spawn(self, coroutine: Any, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, queued: QueuedPod, assumed: PodInfo) -> None:
        node_name = assumed.node_name
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": assumed.name, "namespace": assumed.namespace, "uid": assumed.uid},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node_name}}
        started = time.perf_counter()
        try:
            await self.client.create(PODS, binding, assumed.namespace, subresource="binding", name=assumed.name)
        except ApiError as err:
            self._binding_failed(queued, assumed, err)
        except Exception as err:  # connection trouble beyond the client's retries
            self._binding_failed(queued, assumed, ApiError(503, f"{err.__class__.__name__}: {err}"))
        else:
            self.cache.finish_binding(assumed.uid)
            self.stats.scheduled += 1
            self.stats.bind_latency.append(time.perf_counter() - started)
            self.events.event(_event_subject(assumed.pod), "Normal", "Scheduled",
                              f"Successfully assigned {assumed.namespace}/{assumed.name} to {node_name}")
        finally:
            self._bind_slots.release()

    def _binding_failed(self, queued: QueuedPod, assumed: PodInfo, err: ApiError) -> None:
        self.stats.binding_failures += 1
        self.cache.forget(assumed.uid)
        self.queue.on_event(ClusterEvent.ASSIGNED_POD_DELETE, assumed, None)  # the room it held is free again
        if err.code == 404 or (err.code == 409 and self.pods.store.get(assumed.key) is None):
            return  # the pod is gone
        if err.code == 409 and "already assigned" in err.message:
            return  # bound by someone else; the informer reports where
        log.warning("binding %s to %s failed: %s", assumed.key, assumed.node_name, err.message)
        self._failed(queued, f"Binding rejected: {err.message}")

    # ------------------------------------------------------------------------------------------- failures
    def _unschedulable(self, queued: QueuedPod, fit_error: FitError) -> None:
        self.stats.unschedulable += 1
        pod = queued.pod
        result = fit_error.post_filter_result
        nominated = result.nominated_node_name if result is not None else None
        if nominated:
            self.nominator.update(pod, nominated)
            self._preempt(pod, nominated, result.victims if result is not None else [])
        elif nominated == "":
            self.nominator.remove(pod.uid)  # preemption cannot help: the old nomination is void
        self.queue.requeue_unschedulable(queued, frozenset(fit_error.diagnosis.unschedulable_plugins))
        message = str(fit_error)
        log.debug("%s unschedulable: %s", pod.key, message)
        self.events.event(_event_subject(pod.pod), "Warning", "FailedScheduling", message)
        self._write_condition(pod, "Unschedulable", message, nominated)

    def _failed(self, queued: QueuedPod, message: str) -> None:
        self.stats.errors += 1
        pod = queued.pod
        log.info("scheduling %s failed: %s", pod.key, message)
        self.queue.requeue_backoff(queued)
        self.events.event(_event_subject(pod.pod), "Warning", "FailedScheduling", message)
        self._write_condition(pod, "SchedulerError", message, None)

    def _write_condition(self, pod: PodInfo, reason: str, message: str, nominated: str | None) -> None:
        """PodScheduled=False with the reason (what `kubectl describe pod` shows), only when it changes."""
        current = next((c for c in (pod.pod.get("status") or {}).get("conditions") or []
                        if isinstance(c, dict) and c.get("type") == "PodScheduled"), None)
        same = current is not None and current.get("status") == "False" and current.get("reason") == reason \
            and current.get("message") == message
        if same and (nominated is None or nominated == pod.nominated_node_name):
            return
        condition = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                     "lastProbeTime": None,
                     "lastTransitionTime": current.get("lastTransitionTime") if current is not None and
                     current.get("status") == "False" else _now()}
        status: Obj = {"conditions": [condition]}
        if nominated is not None:
            status["nominatedNodeName"] = nominated or None
        self._spawn(self._patch_status(pod, {"status": status}), f"status-{pod.key}")

    async def _patch_status(self, pod: PodInfo, patch: Obj) -> None:
        async with self._status_slots:
            try:
                await self.client.patch(PODS, pod.name, patch, pod.namespace, patch_type="strategic",
                                        subresource="status")
            except ApiError as err:
                if err.code != 404:
                    log.warning("updating the PodScheduled condition of %s failed: %s", pod.key, err.message)

    # ----------------------------------------------------------------------------------------- preemption
    def _preempt(self, preemptor: PodInfo, node_name: str, victims: list[PodInfo]) -> None:
        if not victims:
            return
        self.stats.preemptions += 1
        if self._preemption is not None:
            self._preemption.in_progress.add(preemptor.uid)
        self._spawn(self._evict(preemptor, node_name, victims), f"preempt-{preemptor.key}")

    async def _evict(self, preemptor: PodInfo, node_name: str, victims: list[PodInfo]) -> None:
        try:
            await asyncio.gather(*(self._evict_one(preemptor, node_name, v) for v in victims))
        finally:
            if self._preemption is not None:
                self._preemption.in_progress.discard(preemptor.uid)
            self.queue.on_event(ClusterEvent.ASSIGNED_POD_DELETE)

    async def _evict_one(self, preemptor: PodInfo, node_name: str, victim: PodInfo) -> None:
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                     "message": f"{self.options.scheduler_name}: preempting to accommodate a higher priority pod",
                     "lastTransitionTime": _now()}
        try:
            await self.client.patch(PODS, victim.name, {"status": {"conditions": [condition]}}, victim.namespace,
                                    patch_type="strategic", subresource="status")
            await self.client.delete(PODS, victim.name, victim.namespace, preconditions={"uid": victim.uid})
        except ApiError as err:
            if err.code not in (404, 409):
                log.warning("preempting %s for %s failed: %s", victim.key, preemptor.key, err.message)
            return
        self.events.event(_event_subject(victim.pod), "Normal", "Preempted",
                          f"Preempted by pod {preemptor.uid} on node {node_name}")

    # ----------------------------------------------------------------------------------- queueing hints
    def _requeue_hint(self, event: ClusterEvent, pod: PodInfo, rejected_by: frozenset[str], old: Any,
                      new: Any) -> bool:
        if not rejected_by:
            return True
        for name in rejected_by:
            plugin = self.profile.plugin(name)
            if plugin is None:
                return True
            if not getattr(plugin, "events", ClusterEvent.ALL) & event:
                continue
            requeue = getattr(plugin, "requeue", None)
            if requeue is None or requeue(event, pod, old, new):
                return True
        return False

    # ----------------------------------------------------------------------------------- informer handlers
    def _responsible(self, pod: PodInfo) -> bool:
        return pod.scheduler_name == self.options.scheduler_name

    def _pod_added(self, obj: Obj) -> None:
        if _terminal(obj):
            return
        pod = PodInfo(obj)
        if pod.node_name:
            self._assigned(pod, ClusterEvent.ASSIGNED_POD_ADD, None)
        elif self._responsible(pod) and not pod.deleting and not self.cache.is_assumed(pod.uid):
            self.nominator.update(pod)
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _terminal(new):
            self._pod_deleted(old)
            return
        pod = PodInfo(new)
        if pod.node_name:
            previous = self.cache.pods.get(pod.uid)
            was_bound = bool((old.get("spec") or {}).get("nodeName")) and previous is not None \
                and not self.cache.is_assumed(pod.uid)
            event = assigned_pod_change(previous, pod) if was_bound and previous is not None \
                else ClusterEvent.ASSIGNED_POD_ADD
            self._assigned(pod, event, previous)
            return
        if self.cache.is_assumed(pod.uid):
            return  # our binding is in flight; this is an older view of the pod
        if not self._responsible(pod) or pod.deleting:
            self.queue.delete(pod.uid)
            self.nominator.remove(pod.uid)
            return
        self.nominator.update(pod)
        self.queue.update(pod)

    def _assigned(self, pod: PodInfo, event: ClusterEvent, previous: PodInfo | None) -> None:
        self.queue.delete(pod.uid)
        self.nominator.remove(pod.uid)
        self.cache.add_pod(pod)
        if event:
            self.queue.on_event(event, previous, pod)

    def _pod_deleted(self, obj: Obj) -> None:
        uid = (obj.get("metadata") or {}).get("uid") or PodInfo(obj).uid
        self.queue.delete(uid)
        self.nominator.remove(uid)
        removed = self.cache.remove_pod(uid)
        if removed is not None:
            self.queue.on_event(ClusterEvent.ASSIGNED_POD_DELETE, removed, None)

    def _node_added(self, obj: Obj) -> None:
        self.cache.add_node(obj)
        self.queue.on_event(ClusterEvent.NODE_ADD, None, self._node_info(obj))

    def _node_updated(self, old: Obj, new: Obj) -> None:
        event = node_change(old, new)
        if not event:
            info = self._node_info(new)
            if info is not None:
                info.node = new  # a heartbeat: keep the newest object, nothing to recompute
            return
        self.cache.add_node(new)
        self.queue.on_event(event, old, self._node_info(new))

    def _node_deleted(self, obj: Obj) -> None:
        self.cache.remove_node(obj["metadata"]["name"])

    def _node_info(self, obj: Obj) -> NodeInfo | None:
        return self.cache.nodes.get((obj.get("metadata") or {}).get("name", ""))

    def _namespace_changed(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if self.cache.namespace_labels.get(meta.get("name", "")) != labels:
            self.cache.namespace_labels[meta.get("name", "")] = labels
            self.queue.on_event(ClusterEvent.NAMESPACE_CHANGE, None, obj)

    def _namespace_deleted(self, obj: Obj) -> None:
        self.cache.namespace_labels.pop((obj.get("metadata") or {}).get("name", ""), None)
