"""ReplicaSet and ReplicationController controllers — the seeds' "air-conditioner": keep ``spec.replicas`` pods
matching the selector alive, created from the template, and report how many exist, carry the template's
labels, are ready and are available (Kubernetes' ``pkg/controller/replicaset``; the ReplicationController is the
same loop with a map selector, as Kubernetes runs it through a conversion).

One sync of ``namespace/name``:
1. unless earlier creations/deletions are still unobserved (expectations), compare the active pods the owner
   controls (adopting matching orphans, releasing pods that stopped matching) with ``spec.replicas``;
2. create the missing ones in slow-start batches (1, 2, 4, …; at most 500 per sync), or delete the surplus,
   preferring unscheduled < scheduled, pending < running, not ready < ready, lower deletion cost, doubled-up on a
   node, ready for less time, more restarts, newer;
3. write status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, terminatingReplicas,
   observedGeneration) and the ReplicaFailure condition when creating or deleting failed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.selectors import LabelSelector, label_selector_from_dict, selector_from_labels
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Handler, Obj
from provisioner.services.controllers import controllerutil as cu
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.replicaset")

PODS = resources.lookup("", "v1", "pods")
REPLICA_SETS = resources.lookup("apps", "v1", "replicasets")
REPLICATION_CONTROLLERS = resources.lookup("", "v1", "replicationcontrollers")

STATUS_UPDATE_RETRIES = 1
# Ready pods turn available this long after minReadySeconds have passed (timestamps have one-second precision).
_AVAILABILITY_MARGIN = 0.05


class _ReplicaController:
    """The loop both controllers share; subclasses say which resource they own and how its selector reads."""

    name = ""
    resource: Resource
    track_terminating = True  # ReplicaSetStatus.terminatingReplicas (ReplicationControllerStatus has none)

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.pod_control = cu.PodControl(ctx.client, ctx.recorder)
        self.expectations = cu.UIDTrackingExpectations()
        self.own_writes = cu.OwnWrites()
        self.owners = ctx.informers.informer(self.resource, indexers=cu.WORKLOAD_INDEXERS)
        self.pods = ctx.informers.informer(PODS, indexers=cu.WORKLOAD_INDEXERS)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.owners, self.pods])
        self.owners.add_handler(Handler(on_add=self._owner_changed, on_update=lambda _, new: self._owner_changed(new),
                                        on_delete=self._owner_deleted))
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted))

    async def run(self) -> None:
        await self.loop.run()

    # ------------------------------------------------------------------------------------------- selectors
    def selector_of(self, owner: Obj) -> LabelSelector:
        raise NotImplementedError

    def _selects(self, owner: Obj, pod: Obj) -> bool:
        try:
            selector = self.selector_of(owner)
        except ApiError:
            return False
        return not selector.empty and selector.matches(cu.labels_of(pod))

    # ------------------------------------------------------------------------------------------- handlers
    def _owner_changed(self, owner: Obj) -> None:
        self.loop.queue.add(cu.key_of(cu.namespace_of(owner), cu.name_of(owner)))

    def _owner_deleted(self, owner: Obj) -> None:
        key = cu.key_of(cu.namespace_of(owner), cu.name_of(owner))
        self.expectations.delete(key)
        self.loop.queue.add(key)

    def _owner_key_for(self, pod: Obj, ref: dict[str, Any] | None) -> str | None:
        """The key of the owner ``ref`` names, if it is one of ours and still the same object (uid)."""
        if ref is None or not cu.refers_to(ref, self.resource):
            return None
        key = cu.key_of(cu.namespace_of(pod), str(ref.get("name", "")))
        owner = self.owners.store.get(key)
        return key if owner is not None and cu.uid_of(owner) == ref.get("uid") else None

    def _wake_owners_selecting(self, pod: Obj) -> None:
        """An orphan appeared or changed labels: every owner that selects it may adopt it."""
        for owner in self.owners.store.by_index(cu.INDEX_BY_NAMESPACE, cu.namespace_of(pod)):
            if self._selects(owner, pod):
                self.loop.queue.add(cu.key_of(cu.namespace_of(owner), cu.name_of(owner)))

    def _pod_added(self, pod: Obj) -> None:
        if cu.is_being_deleted(pod):
            # Seen for the first time already being deleted (e.g. after a restart): count it as a deletion.
            self._pod_deleted(pod)
            return
        ref = cu.controller_of(pod)
        if ref is not None:
            key = self._owner_key_for(pod, ref)
            if key is not None:
                self.expectations.creation_observed(key)
                self.loop.queue.add(key)
            return
        self._wake_owners_selecting(pod)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        labels_changed = cu.labels_of(old) != cu.labels_of(cur)
        if cu.is_being_deleted(cur):
            # A graceful deletion: replace the pod now rather than when the kubelet finally removes it.
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        cur_ref, old_ref = cu.controller_of(cur), cu.controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            old_key = self._owner_key_for(old, old_ref)
            if old_key is not None:
                self.loop.queue.add(old_key)
        if cur_ref is not None:
            key = self._owner_key_for(cur, cur_ref)
            if key is None:
                return
            self.loop.queue.add(key)
            owner = self.owners.store.get(key)
            min_ready = int(((owner or {}).get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not cu.is_pod_ready(old) and cu.is_pod_ready(cur):
                # It turns available minReadySeconds from now: look again then.
                self.loop.queue.add_after(key, min_ready + _AVAILABILITY_MARGIN)
            return
        if labels_changed or ref_changed:
            self._wake_owners_selecting(cur)

    def _pod_deleted(self, pod: Obj) -> None:
        key = self._owner_key_for(pod, cu.controller_of(pod))
        if key is None:
            return
        self.expectations.deletion_of_observed(key, cu.key_of(cu.namespace_of(pod), cu.name_of(pod)))
        self.loop.queue.add(key)

    # ------------------------------------------------------------------------------------------- sync
    async def reconcile(self, key: str) -> float | None:
        owner = self.owners.store.get(key)
        if owner is None:
            self.expectations.delete(key)
            self.own_writes.forget(key)
            return None
        if self.own_writes.is_stale(key, owner):
            return None  # our last status write's event is on its way and will queue this key again
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector_of(owner)
        except ApiError as err:
            log.warning("%s %s has an invalid selector: %s", self.resource.kind, key, err.message)
            return None
        if selector.empty:  # validation forbids it; it would claim every pod of the namespace
            log.warning("%s %s has an empty selector: ignored", self.resource.kind, key)
            return None
        manager = cu.ControllerRefManager(
            self.client, PODS, owner, self.resource, selector,
            can_adopt=cu.recheck_deletion_timestamp(self.client, self.resource, owner))
        claimed = await manager.claim(cu.filter_active_pods(cu.claim_candidates(self.pods.store, owner)))
        terminating = None
        if self.track_terminating:
            terminating = sum(1 for p in cu.controlled_by(self.pods.store, owner)
                              if cu.is_pod_terminating(p) and selector.matches(cu.labels_of(p)))
        manage_error: ApiError | None = None
        if needs_sync and not cu.is_being_deleted(owner):
            try:
                await self._manage_replicas(claimed, owner, key)
            except ApiError as err:
                manage_error = err
        status = self._calculate_status(owner, claimed, terminating, manage_error)
        await self._store_status(owner, status)
        if manage_error is not None:
            raise manage_error
        if not needs_sync:
            return self.expectations.seconds_until_expiry(key)  # unmet for too long: look again then
        return self._next_availability_check(owner, claimed)

    def _next_availability_check(self, owner: Obj, pods: list[Obj]) -> float | None:
        min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
        waits = [w for p in pods if (w := cu.seconds_until_available(p, min_ready)) is not None]
        return min(waits) + _AVAILABILITY_MARGIN if waits else None

    async def _manage_replicas(self, pods: list[Obj], owner: Obj, key: str) -> None:
        spec = owner.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        diff = len(pods) - desired
        if diff < 0:
            await self._create_pods(owner, key, min(-diff, cu.BURST_REPLICAS))
        elif diff > 0:
            await self._delete_pods(owner, key, pods, min(diff, cu.BURST_REPLICAS))

    async def _create_pods(self, owner: Obj, key: str, count: int) -> None:
        log.info("%s %s: too few replicas, creating %d", self.resource.kind, key, count)
        namespace = cu.namespace_of(owner)
        template = (owner.get("spec") or {}).get("template") or {}
        self.expectations.expect_creations(key, count)

        async def create_one() -> None:
            await self.pod_control.create_pod(namespace, template, owner, self.resource)

        created, error = await cu.slow_start_batch(count, cu.SLOW_START_INITIAL_BATCH_SIZE, create_one)
        # The informer will never show pods that failed or were never attempted: stop expecting them.
        self.expectations.lower(key, adds=count - created)
        if error is not None:
            raise error

    async def _delete_pods(self, owner: Obj, key: str, pods: list[Obj], count: int) -> None:
        log.info("%s %s: too many replicas, deleting %d", self.resource.kind, key, count)
        victims = cu.pods_to_delete(pods, self._related_pods(owner), count)
        pod_keys = [cu.key_of(cu.namespace_of(p), cu.name_of(p)) for p in victims]
        self.expectations.expect_deletions_of(key, pod_keys)
        results = await asyncio.gather(
            *(self.pod_control.delete_pod(cu.namespace_of(p), cu.name_of(p), owner, self.resource)
              for p in victims), return_exceptions=True)
        errors = []
        for pod_key, result in zip(pod_keys, results, strict=True):
            if isinstance(result, BaseException):
                self.expectations.deletion_of_observed(key, pod_key)  # no event will come for it
                if not cu.is_not_found(result):
                    errors.append(result)
        if errors:
            raise errors[0]

    def _related_pods(self, owner: Obj) -> list[Obj]:
        """Pods of every owner with the same controller as ``owner`` (a Deployment's ReplicaSets): deleting
        where they are doubled up on a node spreads the survivors."""
        ref = cu.controller_of(owner)
        if ref is None:
            return []
        namespace = cu.namespace_of(owner)
        siblings = [o for o in self.owners.store.by_index(cu.INDEX_BY_CONTROLLER_UID, str(ref.get("uid")))
                    if cu.namespace_of(o) == namespace]
        return [pod for sibling in siblings for pod in cu.controlled_by(self.pods.store, sibling)
                if self._selects(sibling, pod)]

    # ------------------------------------------------------------------------------------------- status
    def _calculate_status(self, owner: Obj, pods: list[Obj], terminating: int | None,
                          manage_error: ApiError | None) -> dict[str, Any]:
        spec = owner.get("spec") or {}
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        template_selector = selector_from_labels(template_labels)
        min_ready = int(spec.get("minReadySeconds") or 0)
        at = cu.now()
        fully_labeled = sum(1 for p in pods if template_selector.matches(cu.labels_of(p)))
        ready = [p for p in pods if cu.is_pod_ready(p)]
        available = sum(1 for p in ready if cu.is_pod_available(p, min_ready, at))
        conditions = [dict(c) for c in (owner.get("status") or {}).get("conditions") or []]
        failure = cu.find_condition(conditions, "ReplicaFailure")
        if manage_error is not None and failure is None:
            diff = len(pods) - int(spec.get("replicas", 1))
            reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
            conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": cu.format_time(at),
                               "reason": reason, "message": manage_error.message})
        elif manage_error is None and failure is not None:
            conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
        status: dict[str, Any] = {"replicas": len(pods)}
        for field_name, value in (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", len(ready)),
                                  ("availableReplicas", available)):
            if value:
                status[field_name] = value
        if terminating is not None:
            status["terminatingReplicas"] = terminating
        if conditions:
            status["conditions"] = conditions
        return status

    async def _store_status(self, owner: Obj, status: dict[str, Any]) -> Obj:
        generation = cu.meta(owner).get("generation", 0)
        current = owner.get("status") or {}
        if current.get("observedGeneration") == generation and _same_status(current, status):
            return owner
        status = {**status, "observedGeneration": generation}
        key = cu.key_of(cu.namespace_of(owner), cu.name_of(owner))
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            try:
                written = await cu.write_status(self.client, self.resource, owner, status)
                self.own_writes.record(key, owner, written)
                return written
            except ApiError as err:
                if err.code != 409 or attempt >= STATUS_UPDATE_RETRIES:
                    raise
            owner = await self.client.get(self.resource, cu.name_of(owner), cu.namespace_of(owner))
        raise AssertionError("unreachable")


_STATUS_COUNTERS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def _same_status(current: dict[str, Any], new: dict[str, Any]) -> bool:
    return all(int(current.get(f) or 0) == int(new.get(f) or 0) for f in _STATUS_COUNTERS) and \
        current.get("terminatingReplicas") == new.get("terminatingReplicas") and \
        (current.get("conditions") or []) == (new.get("conditions") or [])


class ReplicaSetController(_ReplicaController):
    name = "replicaset"
    resource = REPLICA_SETS

    def selector_of(self, owner: Obj) -> LabelSelector:
        return label_selector_from_dict((owner.get("spec") or {}).get("selector"))


class ReplicationControllerController(_ReplicaController):
    name = "replicationcontroller"
    resource = REPLICATION_CONTROLLERS
    track_terminating = False

    def selector_of(self, owner: Obj) -> LabelSelector:
        return selector_from_labels((owner.get("spec") or {}).get("selector") or {})
