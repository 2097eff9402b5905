"""Deployment controller (Kubernetes' ``pkg/controller/deployment``): one ReplicaSet per pod template, named
``<deployment>-<pod-template-hash>`` and labelled (itself, its selector and its template) with that hash; rolling
updates within maxSurge/maxUnavailable, or Recreate; revisions, rollback, history cleanup, pause, proportional
scaling, progress deadlines, and the status fields and conditions ``kubectl rollout status`` reads.

One sync of ``namespace/name``:
* claim the ReplicaSets the Deployment's selector matches (adopting orphans, releasing strays);
* a deleted Deployment only gets its status refreshed; a paused one, or one whose replica count changed while
  several ReplicaSets are active, is scaled (proportionally) without rolling;
* otherwise roll: find the ReplicaSet whose template equals the Deployment's (ignoring the hash label) — creating
  it when missing — give it the next revision, scale it up within maxSurge, scale old ones down within
  maxUnavailable (unhealthy replicas first), and, once complete, delete old ReplicaSets beyond
  revisionHistoryLimit;
* write status: counts summed over the ReplicaSets' status, Available (MinimumReplicasAvailable /
  MinimumReplicasUnavailable) and Progressing (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
  NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed) conditions.

Deviation from Kubernetes: our apiserver's /status writes keep metadata as it was (Kubernetes lets a Deployment
status write change annotations), so the ``deployment.kubernetes.io/revision`` annotation of the Deployment is
written with a merge patch of the main resource, pinned to the resourceVersion the controller read.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.selectors import LabelSelector, label_selector_from_dict
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Handler, Obj
from provisioner.services.controllers import controllerutil as cu
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.deployment")

DEPLOYMENTS = resources.lookup("apps", "v1", "deployments")
REPLICA_SETS = resources.lookup("apps", "v1", "replicasets")
PODS = resources.lookup("", "v1", "pods")

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations of a Deployment that are not copied onto its ReplicaSets.
ANNOTATIONS_NOT_COPIED = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                                    ROLLBACK_TO})
MAX_REVISION_HISTORY_CHARS = 2000
NO_PROGRESS_DEADLINE = 2**31 - 1

# Condition reasons (deploymentutil).
REASON_NEW_RS_CREATED = "NewReplicaSetCreated"
REASON_FOUND_NEW_RS = "FoundNewReplicaSet"
REASON_RS_UPDATED = "ReplicaSetUpdated"
REASON_NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
REASON_TIMED_OUT = "ProgressDeadlineExceeded"
REASON_FAILED_RS_CREATE = "ReplicaSetCreateError"
REASON_PAUSED = "DeploymentPaused"
REASON_RESUMED = "DeploymentResumed"
REASON_MIN_AVAILABLE = "MinimumReplicasAvailable"
REASON_MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# =================================================================================================== helpers

def replicas_of(obj: Obj | None) -> int:
    """spec.replicas (both kinds default it to 1)."""
    return int(((obj or {}).get("spec") or {}).get("replicas", 1)) if obj is not None else 0


def status_int(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    return cu.meta(obj).get("annotations") or {}


def revision_of(obj: Obj) -> int:
    try:
        return int(annotations_of(obj).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def max_revision(replica_sets: list[Obj]) -> int:
    return max((revision_of(rs) for rs in replica_sets), default=0)


def int_annotation(obj: Obj, name: str) -> int | None:
    try:
        return int(annotations_of(obj)[name])
    except (KeyError, ValueError):
        return None


def is_rolling_update(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(d: Obj) -> tuple[int, int]:
    """deploymentutil.ResolveFenceposts: (maxSurge rounded up, maxUnavailable rounded down) of spec.replicas;
    if both come out zero, one pod may be unavailable (surge might be impossible, e.g. under quota)."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = cu.scaled_value(rolling.get("maxSurge", 0), desired, round_up=True)
    unavailable = cu.scaled_value(rolling.get("maxUnavailable", 0), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return resolve_fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas_of(d) == 0:
        return 0
    return min(resolve_fenceposts(d)[1], replicas_of(d))


def has_progress_deadline(d: Obj) -> bool:
    deadline = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return deadline is not None and deadline != NO_PROGRESS_DEADLINE


def active(replica_sets: list[Obj | None]) -> list[Obj]:
    return [rs for rs in replica_sets if rs is not None and replicas_of(rs) > 0]


def total_replicas(replica_sets: list[Obj | None]) -> int:
    return sum(replicas_of(rs) for rs in replica_sets if rs is not None)


def total_status(replica_sets: list[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in replica_sets if rs is not None)


def total_terminating(replica_sets: list[Obj | None]) -> int | None:
    """GetTerminatingReplicaCountForReplicaSets: unknown (None) while a ReplicaSet's controller has not
    reported it yet."""
    count = 0
    for rs in replica_sets:
        if rs is None:
            continue
        status = rs.get("status") or {}
        if "terminatingReplicas" not in status:
            if not status.get("observedGeneration"):
                continue
            return None
        count += int(status["terminatingReplicas"])
    return count


def by_creation(replica_sets: list[Obj], newest_first: bool = False) -> list[Obj]:
    return sorted(replica_sets, key=cu.creation_order, reverse=newest_first)


def by_size_newer(replica_sets: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeNewer: larger first; equal sizes newer first."""
    return sorted(by_creation(replica_sets, newest_first=True), key=replicas_of, reverse=True)


def by_size_older(replica_sets: list[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeOlder: larger first; equal sizes older first."""
    return sorted(by_creation(replica_sets), key=replicas_of, reverse=True)


def by_revision(replica_sets: list[Obj]) -> list[Obj]:
    return sorted(by_creation(replica_sets), key=revision_of)


def template_of(obj: Obj) -> dict[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


def find_new_replica_set(d: Obj, replica_sets: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's, ignoring the hash label."""
    for rs in by_creation(replica_sets):
        if cu.templates_equal_ignoring_hash(template_of(rs), template_of(d), HASH_LABEL):
            return rs
    return None


def round_half_away(value: float) -> int:
    """integer.RoundToInt32."""
    return int(value - 0.5) if value < 0 else int(value + 0.5)


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    """How many replicas ``rs`` gains (or loses) when the Deployment's size changes: its share of the new
    maximum, scaled from the maximum it was sized for (the max-replicas annotation)."""
    if replicas_of(d) == 0:
        return -replicas_of(rs)
    deployment_max = replicas_of(d) + max_surge(d)
    before = int_annotation(rs, MAX_REPLICAS)
    if not before:
        before = status_int(d, "replicas")  # an RS from before the annotation, or scaled to zero
    if not before:
        return 0
    return round_half_away(replicas_of(rs) * deployment_max / before) - replicas_of(rs)


def proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """deploymentutil.GetProportion: the share of ``to_add`` for ``rs``, never past what is left to add."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """deploymentutil.NewRSNewReplicas: how big the new ReplicaSet may be now."""
    if not is_rolling_update(d):
        return replicas_of(d)
    current = total_replicas(all_rss)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return replicas_of(new_rs)
    scale_up = min(max_total - current, replicas_of(d) - replicas_of(new_rs))
    return replicas_of(new_rs) + scale_up


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = int_annotation(rs, DESIRED_REPLICAS)
    return replicas_of(rs) == replicas_of(d) and desired == replicas_of(d) and \
        status_int(rs, "availableReplicas") == replicas_of(d)


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or (none active) the newest one; None if several are active."""
    if new_rs is None and not old_rss:
        return None
    newest_first = by_creation(old_rss, newest_first=True)
    actives = active([*newest_first, new_rs])
    if not actives:
        return new_rs if new_rs is not None else newest_first[0]
    return actives[0] if len(actives) == 1 else None


def replicas_annotations_differ(rs: Obj, desired: int, maximum: int) -> bool:
    annotations = annotations_of(rs)
    return annotations.get(DESIRED_REPLICAS) != str(desired) or annotations.get(MAX_REPLICAS) != str(maximum)


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    """Record on (a copy of) ``rs`` the Deployment size it is sized for; True if that changed anything."""
    annotations = cu.meta(rs).setdefault("annotations", {})
    changed = replicas_annotations_differ(rs, desired, maximum)
    annotations[DESIRED_REPLICAS] = str(desired)
    annotations[MAX_REPLICAS] = str(maximum)
    return changed


def copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations (change-cause and the like) onto (a copy of) ``rs``."""
    annotations = cu.meta(rs).setdefault("annotations", {})
    changed = False
    for key, value in annotations_of(d).items():
        if key in ANNOTATIONS_NOT_COPIED or annotations.get(key) == value:
            continue
        annotations[key] = value
        changed = True
    return changed


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """deploymentutil.SetNewReplicaSetAnnotations on a copy: copy annotations, raise the revision to
    ``new_revision`` (remembering the old one in revision-history: a rollback), size annotations on create."""
    changed = copy_deployment_annotations(d, rs)
    annotations = cu.meta(rs).setdefault("annotations", {})
    old_text = annotations.get(REVISION)
    try:
        old = int(old_text) if old_text else 0
    except ValueError:
        log.info("ReplicaSet %s has a revision that is not a number: %r", cu.name_of(rs), old_text)
        return False
    if old < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            _append_revision_history(annotations, old_text)
    if not exists and set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)):
        changed = True
    return changed


def _append_revision_history(annotations: dict[str, str], old_revision: str) -> None:
    history = annotations.get(REVISION_HISTORY, "")
    if not history:
        annotations[REVISION_HISTORY] = old_revision
        return
    revisions = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(revisions):  # drop the oldest to fit
        total -= len(revisions[start]) + 1
        start += 1
    if total <= MAX_REVISION_HISTORY_CHARS:
        annotations[REVISION_HISTORY] = ",".join([*revisions[start:], old_revision])


def new_condition(condition_type: str, status: str, reason: str, message: str) -> dict[str, Any]:
    at = cu.format_time(cu.now())
    return {"type": condition_type, "status": status, "lastUpdateTime": at, "lastTransitionTime": at,
            "reason": reason, "message": message}


def set_deployment_condition(status: dict[str, Any], condition: dict[str, Any]) -> None:
    """deploymentutil.SetDeploymentCondition: no change for the same status and reason; a new reason with the
    same status keeps lastTransitionTime."""
    conditions = status.get("conditions") or []
    current = cu.find_condition(conditions, condition["type"])
    if current and current.get("status") == condition["status"] and current.get("reason") == condition["reason"]:
        return
    if current and current.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    status["conditions"] = [*(c for c in conditions if c.get("type") != condition["type"]), condition]


def remove_deployment_condition(status: dict[str, Any], condition_type: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != condition_type]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def condition_of(d_status: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    return cu.find_condition(d_status.get("conditions"), condition_type)


def deployment_complete(d: Obj, status: dict[str, Any]) -> bool:
    desired = replicas_of(d)
    return int(status.get("updatedReplicas") or 0) == desired and int(status.get("replicas") or 0) == desired \
        and int(status.get("availableReplicas") or 0) == desired \
        and int(status.get("observedGeneration") or 0) >= int(cu.meta(d).get("generation") or 0)


def deployment_progressing(d: Obj, new: dict[str, Any]) -> bool:
    old = d.get("status") or {}

    def count(status: dict[str, Any], field: str) -> int:
        return int(status.get(field) or 0)

    old_old = count(old, "replicas") - count(old, "updatedReplicas")
    new_old = count(new, "replicas") - count(new, "updatedReplicas")
    return count(new, "updatedReplicas") > count(old, "updatedReplicas") or new_old < old_old or \
        count(new, "readyReplicas") > count(old, "readyReplicas") or \
        count(new, "availableReplicas") > count(old, "availableReplicas")


def seconds_to_deadline(d: Obj, condition: dict[str, Any]) -> float:
    """Progressing lastUpdateTime + progressDeadlineSeconds − now."""
    updated = cu.parse_time(condition.get("lastUpdateTime")) or cu.now()
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return updated.timestamp() + deadline - cu.now().timestamp()


def deployment_timed_out(d: Obj, new: dict[str, Any]) -> bool:
    if not has_progress_deadline(d):
        return False
    condition = condition_of(new, "Progressing")
    if condition is None or condition.get("reason") == REASON_NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == REASON_TIMED_OUT:
        return True
    return seconds_to_deadline(d, condition) < 0


def _comparable_status(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if v not in (0, None, [], {})}


@dataclass
class _Rollout:
    """The working state of one sync: a private copy of the Deployment and the ReplicaSets it owns."""

    d: Obj
    replica_sets: list[Obj]
    pod_map: dict[str, list[Obj]]


# =================================================================================================== controller

class DeploymentController:
    name = "deployment"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.deployments = ctx.informers.informer(DEPLOYMENTS, indexers=cu.WORKLOAD_INDEXERS)
        self.replica_sets = ctx.informers.informer(REPLICA_SETS, indexers=cu.WORKLOAD_INDEXERS)
        self.pods = ctx.informers.informer(PODS, indexers=cu.WORKLOAD_INDEXERS)
        self.own_writes = cu.OwnWrites()  # of Deployments
        self.rs_writes = cu.OwnWrites()  # of ReplicaSets
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.deployments, self.replica_sets, self.pods])
        self.loop.enqueue_all(self.deployments)
        self.replica_sets.add_handler(Handler(on_add=self._rs_added, on_update=self._rs_updated,
                                              on_delete=self._rs_deleted))
        self.pods.add_handler(Handler(on_delete=self._pod_deleted))

    async def run(self) -> None:
        await self.loop.run()

    # ------------------------------------------------------------------------------------------- handlers
    def _deployment_key_for(self, rs: Obj, ref: dict[str, Any] | None) -> str | None:
        if ref is None or not cu.refers_to(ref, DEPLOYMENTS):
            return None
        key = cu.key_of(cu.namespace_of(rs), str(ref.get("name", "")))
        d = self.deployments.store.get(key)
        return key if d is not None and cu.uid_of(d) == ref.get("uid") else None

    def _wake_deployments_selecting(self, rs: Obj) -> None:
        for d in self.deployments.store.by_index(cu.INDEX_BY_NAMESPACE, cu.namespace_of(rs)):
            try:
                selector = label_selector_from_dict((d.get("spec") or {}).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(cu.labels_of(rs)):
                self.loop.queue.add(cu.key_of(cu.namespace_of(d), cu.name_of(d)))

    def _rs_added(self, rs: Obj) -> None:
        if cu.is_being_deleted(rs):
            self._rs_deleted(rs)
            return
        ref = cu.controller_of(rs)
        if ref is not None:
            key = self._deployment_key_for(rs, ref)
            if key is not None:
                self.loop.queue.add(key)
            return
        self._wake_deployments_selecting(rs)

    def _rs_updated(self, old: Obj, cur: Obj) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        cur_ref, old_ref = cu.controller_of(cur), cu.controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            old_key = self._deployment_key_for(old, old_ref)
            if old_key is not None:
                self.loop.queue.add(old_key)
        if cur_ref is not None:
            key = self._deployment_key_for(cur, cur_ref)
            if key is not None:
                self.loop.queue.add(key)
            return
        if cu.labels_of(old) != cu.labels_of(cur) or cur_ref != old_ref:
            self._wake_deployments_selecting(cur)

    def _rs_deleted(self, rs: Obj) -> None:
        self.rs_writes.forget(cu.key_of(cu.namespace_of(rs), cu.name_of(rs)))
        key = self._deployment_key_for(rs, cu.controller_of(rs))
        if key is not None:
            self.loop.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        """A Recreate rollout waits for the old pods to be gone: their deletion may unblock it."""
        ref = cu.controller_of(pod)
        if ref is None or not cu.refers_to(ref, REPLICA_SETS):
            return
        rs = self.replica_sets.store.get(cu.key_of(cu.namespace_of(pod), str(ref.get("name", ""))))
        if rs is None or cu.uid_of(rs) != ref.get("uid"):
            return
        key = self._deployment_key_for(rs, cu.controller_of(rs))
        d = self.deployments.store.get(key) if key else None
        if key is not None and d is not None and not is_rolling_update(d):
            self.loop.queue.add(key)

    # ------------------------------------------------------------------------------------------- sync
    async def reconcile(self, key: str) -> float | None:
        cached = self.deployments.store.get(key)
        if cached is None:
            self.own_writes.forget(key)
            return None
        if self.own_writes.is_stale(key, cached):
            return None  # our last write's event is on its way and will queue this key again
        d = cu.with_kind(copy.deepcopy(cached), DEPLOYMENTS)
        selector_spec = (d.get("spec") or {}).get("selector")
        if selector_spec == {} or (isinstance(selector_spec, dict) and not selector_spec.get("matchLabels")
                                   and not selector_spec.get("matchExpressions")):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if int((d.get("status") or {}).get("observedGeneration") or 0) < int(cu.meta(d).get("generation") or 0):
                await self._write_status(d, {**(d.get("status") or {}),
                                             "observedGeneration": cu.meta(d).get("generation")})
            return None
        try:
            selector = label_selector_from_dict(selector_spec)
        except ApiError as err:
            log.warning("deployment %s has an invalid selector: %s", key, err.message)
            return None
        replica_sets = await self._claim_replica_sets(d, selector)
        if any(self.rs_writes.is_stale(cu.key_of(cu.namespace_of(rs), cu.name_of(rs)), rs) for rs in replica_sets):
            return None  # we just resized one of them; its event will queue us again with a current cache
        rollout = _Rollout(d, replica_sets, self._pod_map(d, selector, replica_sets))
        if cu.is_being_deleted(d):
            await self._sync_status_only(rollout)
            return None
        await self._check_paused_conditions(rollout)
        if (d.get("spec") or {}).get("paused"):
            await self._sync(rollout)
            return None
        if await self._is_scaling_event(rollout):
            await self._sync(rollout)
            return None
        if is_rolling_update(d):
            return await self._rollout_rolling(rollout)
        return await self._rollout_recreate(rollout)

    async def _claim_replica_sets(self, d: Obj, selector: LabelSelector) -> list[Obj]:
        candidates = cu.claim_candidates(self.replica_sets.store, d)
        manager = cu.ControllerRefManager(self.client, REPLICA_SETS, d, DEPLOYMENTS, selector,
                                          can_adopt=cu.recheck_deletion_timestamp(self.client, DEPLOYMENTS, d))
        return await manager.claim(candidates)

    def _pod_map(self, d: Obj, selector: LabelSelector, replica_sets: list[Obj]) -> dict[str, list[Obj]]:
        """Pods (including finished ones) of each owned ReplicaSet that the Deployment selects, by its uid."""
        return {cu.uid_of(rs): [p for p in cu.controlled_by(self.pods.store, rs) if selector.matches(cu.labels_of(p))]
                for rs in replica_sets}

    # ------------------------------------------------------------------------------------------- new RS
    async def _new_and_old(self, rollout: _Rollout, create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: the new ReplicaSet (created if asked and missing) with its revision
        brought up to date, and all the old ones."""
        existing = find_new_replica_set(rollout.d, rollout.replica_sets)
        old = [rs for rs in rollout.replica_sets if rs is not existing]
        new = await self._new_replica_set(rollout, existing, old, create)
        return new, old

    async def _new_replica_set(self, rollout: _Rollout, existing: Obj | None, old: list[Obj],
                               create: bool) -> Obj | None:
        d = rollout.d
        new_revision = max_revision(old) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            annotations_changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = int((d.get("spec") or {}).get("minReadySeconds") or 0)
            if annotations_changed or int((rs.get("spec") or {}).get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                updated = await self._update_replica_set(rs)
                self._replace(rollout, existing, updated)
                return updated
            await self._set_deployment_revision(rollout, annotations_of(rs).get(REVISION, ""))
            status = d.setdefault("status", {})
            if has_progress_deadline(d) and condition_of(status, "Progressing") is None:
                set_deployment_condition(status, new_condition(
                    "Progressing", "True", REASON_FOUND_NEW_RS, f'Found new replica set "{cu.name_of(rs)}"'))
                await self._write_status(d, status)
            return existing
        if not create:
            return None
        return await self._create_new_replica_set(rollout, old, new_revision)

    def _build_new_replica_set(self, d: Obj, old: list[Obj]) -> Obj:
        spec = d.get("spec") or {}
        template = copy.deepcopy(spec.get("template") or {})
        collision_count = (d.get("status") or {}).get("collisionCount")
        pod_hash = cu.compute_hash(template, collision_count)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH_LABEL: pod_hash}
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: pod_hash}
        rs = {"apiVersion": REPLICA_SETS.api_version, "kind": REPLICA_SETS.kind,
              "metadata": {"name": f"{cu.name_of(d)}-{pod_hash}", "namespace": cu.namespace_of(d),
                           "labels": dict(labels), "ownerReferences": [cu.controller_ref(d, DEPLOYMENTS)]},
              "spec": {"replicas": 0, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                       "selector": selector, "template": template}}
        rs["spec"]["replicas"] = new_rs_new_replicas(d, [*old, rs], rs)
        return rs

    async def _create_new_replica_set(self, rollout: _Rollout, old: list[Obj], new_revision: int) -> Obj | None:
        d = rollout.d
        rs = self._build_new_replica_set(d, old)
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        status = d.setdefault("status", {})
        try:
            created = await self.client.create(REPLICA_SETS, rs, cu.namespace_of(d))
            already_existed = False
        except ApiError as err:
            if err.reason != "AlreadyExists":
                await self._report_create_failure(d, rs, err)
                raise
            found = self.replica_sets.store.get(cu.key_of(cu.namespace_of(rs), cu.name_of(rs)))
            if found is None:
                raise  # created by an earlier sync, not in our cache yet: look again when it is
            created = found if self._is_ours(d, found) else None
            if created is None:
                status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
                await self._write_status(d, status)
                log.info("deployment %s/%s: hash collision on %s; collisionCount is now %d",
                         cu.namespace_of(d), cu.name_of(d), cu.name_of(rs), status["collisionCount"])
                raise
            already_existed = True
        rollout.replica_sets.append(created)
        if not already_existed and replicas_of(created) > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {cu.name_of(created)} from 0 to {replicas_of(created)}")
        await self._set_deployment_revision(rollout, str(new_revision))
        if not already_existed and has_progress_deadline(d):
            set_deployment_condition(status, new_condition(
                "Progressing", "True", REASON_NEW_RS_CREATED, f'Created new replica set "{cu.name_of(created)}"'))
            await self._write_status(d, status)
        return created

    @staticmethod
    def _is_ours(d: Obj, rs: Obj) -> bool:
        """Whether a ReplicaSet named like our new one is it (controlled by us, same template) rather than a
        hash collision."""
        ref = cu.controller_of(rs)
        return ref is not None and ref.get("uid") == cu.uid_of(d) and \
            cu.templates_equal_ignoring_hash(template_of(d), template_of(rs), HASH_LABEL)

    async def _report_create_failure(self, d: Obj, rs: Obj, err: ApiError) -> None:
        if cu.namespace_terminating(err):
            return
        message = f'Failed to create new replica set "{cu.name_of(rs)}": {err.message}'
        if has_progress_deadline(d):
            status = d.setdefault("status", {})
            set_deployment_condition(status, new_condition("Progressing", "False", REASON_FAILED_RS_CREATE, message))
            try:
                await self._write_status(d, status)
            except ApiError:
                pass  # the create failure is the error worth reporting
        self.recorder.event(d, "Warning", REASON_FAILED_RS_CREATE, message)

    async def _set_deployment_revision(self, rollout: _Rollout, revision: str) -> None:
        d = rollout.d
        if not revision or annotations_of(d).get(REVISION) == revision:
            return
        # Not through /status, which keeps metadata as it was; pinned to what we read, like an update.
        patch = {"metadata": {"resourceVersion": cu.meta(d).get("resourceVersion"),
                              "annotations": {REVISION: revision}}}
        patched = await self.client.patch(DEPLOYMENTS, cu.name_of(d), patch, cu.namespace_of(d))
        self.own_writes.record(cu.key_of(cu.namespace_of(d), cu.name_of(d)), d, patched)
        cu.meta(d)["annotations"] = cu.meta(patched).get("annotations") or {}
        cu.meta(d)["resourceVersion"] = cu.meta(patched).get("resourceVersion")

    async def _update_replica_set(self, rs: Obj) -> Obj:
        updated = await self.client.update(REPLICA_SETS, rs)
        self.rs_writes.record(cu.key_of(cu.namespace_of(rs), cu.name_of(rs)), rs, updated)
        return updated

    @staticmethod
    def _replace(rollout: _Rollout, old: Obj, new: Obj) -> None:
        rollout.replica_sets = [new if rs is old else rs for rs in rollout.replica_sets]

    # ------------------------------------------------------------------------------------------- scaling
    async def _scale(self, d: Obj, rs: Obj, new_scale: int) -> tuple[bool, Obj]:
        """scaleReplicaSet: set replicas and the size annotations; an event if the size changed."""
        size_changes = replicas_of(rs) != new_scale
        desired, maximum = replicas_of(d), replicas_of(d) + max_surge(d)
        if not size_changes and not replicas_annotations_differ(rs, desired, maximum):
            return False, rs
        old_scale = replicas_of(rs)
        updated = copy.deepcopy(rs)
        updated["spec"]["replicas"] = new_scale
        set_replicas_annotations(updated, desired, maximum)
        result = await self._update_replica_set(updated)
        if size_changes:
            direction = "up" if old_scale < new_scale else "down"
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {direction} replica set {cu.name_of(rs)} from {old_scale} to {new_scale}")
        return size_changes, result

    async def _scale_and_record(self, rollout: _Rollout, rs: Obj, new_scale: int) -> tuple[bool, Obj]:
        if replicas_of(rs) == new_scale:
            return False, rs
        scaled, updated = await self._scale(rollout.d, rs, new_scale)
        self._replace(rollout, rs, updated)
        return scaled, updated

    async def _scale_proportionally(self, rollout: _Rollout, new_rs: Obj | None, old: list[Obj]) -> None:
        """scale(): a size change while several ReplicaSets are active spreads the difference over them in
        proportion to their sizes, so the rollout keeps its pace and its ratio of old to new."""
        d = rollout.d
        only = find_active_or_latest(new_rs, old)
        if only is not None:
            if replicas_of(only) != replicas_of(d):
                await self._scale_and_record(rollout, only, replicas_of(d))
            return
        if is_saturated(d, new_rs):
            for rs in active(old):
                await self._scale_and_record(rollout, rs, 0)
            return
        if not is_rolling_update(d):
            return
        actives = active([*old, new_rs])
        allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
        to_add = allowed - total_replicas(actives)
        if to_add > 0:
            actives = by_size_newer(actives)
        elif to_add < 0:
            actives = by_size_older(actives)
        added = 0
        sizes: dict[str, int] = {}
        for rs in actives:
            share = proportion(rs, d, to_add, added) if to_add else 0
            sizes[cu.name_of(rs)] = replicas_of(rs) + share
            added += share
        for position, rs in enumerate(actives):
            name = cu.name_of(rs)
            if position == 0 and to_add:
                sizes[name] = max(0, sizes[name] + to_add - added)  # leftovers go to the largest
            _, updated = await self._scale(d, rs, sizes[name])
            self._replace(rollout, rs, updated)

    # ------------------------------------------------------------------------------------------- strategies
    async def _rollout_rolling(self, rollout: _Rollout) -> float | None:
        d = rollout.d
        new_rs, old = await self._new_and_old(rollout, create=True)
        assert new_rs is not None
        if await self._reconcile_new_replica_set(rollout, new_rs):
            return await self._sync_rollout_status(rollout)
        new_rs = self._current(rollout, new_rs)
        old = [self._current(rollout, rs) for rs in old]
        if await self._reconcile_old_replica_sets(rollout, active(old), new_rs):
            return await self._sync_rollout_status(rollout)
        if deployment_complete(d, d.get("status") or {}):
            await self._cleanup(rollout, [self._current(rollout, rs) for rs in old])
        return await self._sync_rollout_status(rollout)

    @staticmethod
    def _current(rollout: _Rollout, rs: Obj) -> Obj:
        uid = cu.uid_of(rs)
        return next((r for r in rollout.replica_sets if cu.uid_of(r) == uid), rs)

    async def _reconcile_new_replica_set(self, rollout: _Rollout, new_rs: Obj) -> bool:
        d = rollout.d
        if replicas_of(new_rs) == replicas_of(d):
            return False
        if replicas_of(new_rs) > replicas_of(d):
            scaled, _ = await self._scale_and_record(rollout, new_rs, replicas_of(d))
            return scaled
        target = new_rs_new_replicas(d, rollout.replica_sets, new_rs)
        scaled, _ = await self._scale_and_record(rollout, new_rs, target)
        return scaled

    async def _reconcile_old_replica_sets(self, rollout: _Rollout, old_active: list[Obj], new_rs: Obj) -> bool:
        d = rollout.d
        if total_replicas(old_active) == 0:
            return False
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = replicas_of(new_rs) - status_int(new_rs, "availableReplicas")
        # Scaling old ones down may not take availability under the minimum, counting the new ReplicaSet's
        # unavailable pods as already missing.
        max_scaled_down = total_replicas(rollout.replica_sets) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_active, cleaned = await self._cleanup_unhealthy_replicas(rollout, old_active, max_scaled_down)
        scaled = await self._scale_down_old_for_rolling_update(rollout, old_active, new_rs)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy_replicas(self, rollout: _Rollout, old: list[Obj],
                                          max_cleanup: int) -> tuple[list[Obj], int]:
        """Old replicas that are not available anyway go first: removing them costs no availability."""
        old = by_creation(old)
        total = 0
        for position, rs in enumerate(old):
            if total >= max_cleanup:
                break
            unhealthy = replicas_of(rs) - status_int(rs, "availableReplicas")
            if replicas_of(rs) == 0 or unhealthy <= 0:
                continue
            count = min(max_cleanup - total, unhealthy)
            _, old[position] = await self._scale_and_record(rollout, rs, replicas_of(rs) - count)
            total += count
        return old, total

    async def _scale_down_old_for_rolling_update(self, rollout: _Rollout, old: list[Obj], new_rs: Obj) -> int:
        d = rollout.d
        min_available = replicas_of(d) - max_unavailable(d)
        # Only active old ReplicaSets count (one scaled to zero may still report pods on their way out), and
        # none counts more available pods than it is sized for: right after we scaled one down, its status
        # still shows the pods it is about to delete. (Kubernetes sums status alone and can overshoot here.)
        available = sum(min(status_int(rs, "availableReplicas"), replicas_of(rs)) for rs in [*old, new_rs])
        if available <= min_available:
            return 0
        budget = available - min_available
        total = 0
        for rs in by_creation(old):
            if total >= budget:
                break
            if replicas_of(rs) == 0:
                continue
            count = min(replicas_of(rs), budget - total)
            await self._scale_and_record(rollout, rs, replicas_of(rs) - count)
            total += count
        return total

    async def _rollout_recreate(self, rollout: _Rollout) -> float | None:
        new_rs, old = await self._new_and_old(rollout, create=False)
        scaled_down = False
        for rs in active(old):
            scaled, _ = await self._scale_and_record(rollout, rs, 0)
            scaled_down = scaled_down or scaled
        if scaled_down:
            return await self._sync_rollout_status(rollout)
        old = [self._current(rollout, rs) for rs in old]
        if self._old_pods_running(rollout, new_rs, old):
            return await self._sync_rollout_status(rollout)
        if new_rs is None:
            new_rs, old = await self._new_and_old(rollout, create=True)
            assert new_rs is not None
        await self._scale_and_record(rollout, self._current(rollout, new_rs), replicas_of(rollout.d))
        if deployment_complete(rollout.d, rollout.d.get("status") or {}):
            await self._cleanup(rollout, [self._current(rollout, rs) for rs in old])
        return await self._sync_rollout_status(rollout)

    @staticmethod
    def _old_pods_running(rollout: _Rollout, new_rs: Obj | None, old: list[Obj]) -> bool:
        if total_status(old, "replicas") > 0:
            return True
        new_uid = cu.uid_of(new_rs) if new_rs is not None else None
        return any(not cu.is_pod_terminal(pod) for uid, pods in rollout.pod_map.items() if uid != new_uid
                   for pod in pods)

    # ------------------------------------------------------------------------------------------- sync paths
    async def _sync(self, rollout: _Rollout) -> None:
        """Scale without rolling (a paused Deployment, or a changed replica count)."""
        new_rs, old = await self._new_and_old(rollout, create=False)
        await self._scale_proportionally(rollout, new_rs, old)
        if (rollout.d.get("spec") or {}).get("paused"):
            await self._cleanup(rollout, [self._current(rollout, rs) for rs in old])
        new_rs = self._current(rollout, new_rs) if new_rs is not None else None
        await self._sync_status(rollout, new_rs)

    async def _sync_status_only(self, rollout: _Rollout) -> None:
        new_rs, _ = await self._new_and_old(rollout, create=False)
        await self._sync_status(rollout, new_rs)

    async def _is_scaling_event(self, rollout: _Rollout) -> bool:
        new_rs, old = await self._new_and_old(rollout, create=False)
        desired = replicas_of(rollout.d)
        for rs in active([*old, new_rs]):
            annotated = int_annotation(rs, DESIRED_REPLICAS)
            if annotated is not None and annotated != desired:
                return True
        return False

    async def _check_paused_conditions(self, rollout: _Rollout) -> None:
        d = rollout.d
        if not has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        condition = condition_of(status, "Progressing")
        if condition is not None and condition.get("reason") == REASON_TIMED_OUT:
            return  # a reported lack of progress is not overwritten by pausing
        paused = bool((d.get("spec") or {}).get("paused"))
        paused_condition = condition is not None and condition.get("reason") == REASON_PAUSED
        if paused and not paused_condition:
            set_deployment_condition(status, new_condition("Progressing", "Unknown", REASON_PAUSED,
                                                            "Deployment is paused"))
        elif not paused and paused_condition:
            set_deployment_condition(status, new_condition("Progressing", "Unknown", REASON_RESUMED,
                                                           "Deployment is resumed"))
        else:
            return
        await self._write_status(d, status)

    async def _cleanup(self, rollout: _Rollout, old: list[Obj]) -> None:
        """Delete the oldest revisions beyond revisionHistoryLimit, if they have no pods left."""
        d = rollout.d
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        if limit is None:
            return
        cleanable = [rs for rs in old if not cu.is_being_deleted(rs)]
        surplus = len(cleanable) - int(limit)
        for rs in by_revision(cleanable)[:max(surplus, 0)]:
            if status_int(rs, "replicas") or replicas_of(rs) or \
                    int(cu.meta(rs).get("generation") or 0) > status_int(rs, "observedGeneration"):
                continue
            log.info("deployment %s/%s: deleting old replica set %s", cu.namespace_of(d), cu.name_of(d),
                     cu.name_of(rs))
            try:
                await self.client.delete(REPLICA_SETS, cu.name_of(rs), cu.namespace_of(rs))
            except ApiError as err:
                if err.code != 404:
                    raise

    # ------------------------------------------------------------------------------------------- status
    def _calculate_status(self, rollout: _Rollout, new_rs: Obj | None) -> dict[str, Any]:
        d = rollout.d
        all_rss: list[Obj | None] = [*rollout.replica_sets]
        available = total_status(all_rss, "availableReplicas")
        unavailable = max(0, total_replicas(all_rss) - available)
        previous = d.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": cu.meta(d).get("generation"),
            "replicas": total_status(all_rss, "replicas"),
            "updatedReplicas": status_int(new_rs, "replicas"),
            "readyReplicas": total_status(all_rss, "readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": unavailable,
        }
        terminating = total_terminating(all_rss)
        if terminating is not None:
            status["terminatingReplicas"] = terminating
        if previous.get("collisionCount") is not None:
            status["collisionCount"] = previous["collisionCount"]
        if previous.get("conditions"):
            status["conditions"] = [dict(c) for c in previous["conditions"]]
        if available >= replicas_of(d) - max_unavailable(d):
            set_deployment_condition(status, new_condition("Available", "True", REASON_MIN_AVAILABLE,
                                                           "Deployment has minimum availability."))
        else:
            set_deployment_condition(status, new_condition("Available", "False", REASON_MIN_UNAVAILABLE,
                                                           "Deployment does not have minimum availability."))
        return status

    async def _sync_status(self, rollout: _Rollout, new_rs: Obj | None) -> None:
        status = self._calculate_status(rollout, new_rs)
        if _comparable_status(status) != _comparable_status(rollout.d.get("status") or {}):
            await self._write_status(rollout.d, status)

    async def _sync_rollout_status(self, rollout: _Rollout) -> float | None:
        """syncRolloutStatus: status plus the Progressing condition; returns when to look again for a deadline."""
        d = rollout.d
        new_rs = find_new_replica_set(d, rollout.replica_sets)
        status = self._calculate_status(rollout, new_rs)
        if not has_progress_deadline(d):
            remove_deployment_condition(status, "Progressing")
        current = condition_of(d.get("status") or {}, "Progressing")
        complete_before = int(status.get("replicas") or 0) == int(status.get("updatedReplicas") or 0) and \
            current is not None and current.get("reason") == REASON_NEW_RS_AVAILABLE
        if has_progress_deadline(d) and not complete_before:
            self._estimate_progress(d, status, new_rs, current)
        self._copy_replica_failure(status, rollout.replica_sets, new_rs)
        if _comparable_status(status) == _comparable_status(d.get("status") or {}):
            return self._progress_check_delay(d, status)
        await self._write_status(d, status)
        return None

    @staticmethod
    def _estimate_progress(d: Obj, status: dict[str, Any], new_rs: Obj | None,
                           current: dict[str, Any] | None) -> None:
        name = cu.name_of(d)
        if deployment_complete(d, status):
            message = f'ReplicaSet "{cu.name_of(new_rs)}" has successfully progressed.' if new_rs is not None \
                else f'Deployment "{name}" has successfully progressed.'
            set_deployment_condition(status, new_condition("Progressing", "True", REASON_NEW_RS_AVAILABLE, message))
        elif deployment_progressing(d, status):
            message = f'ReplicaSet "{cu.name_of(new_rs)}" is progressing.' if new_rs is not None \
                else f'Deployment "{name}" is progressing.'
            condition = new_condition("Progressing", "True", REASON_RS_UPDATED, message)
            # Progress refreshes lastUpdateTime even with the same reason (the deadline counts from it).
            if current is not None:
                if current.get("status") == "True":
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_deployment_condition(status, "Progressing")
            status["conditions"] = [*(status.get("conditions") or []), condition]
        elif deployment_timed_out(d, status):
            message = f'ReplicaSet "{cu.name_of(new_rs)}" has timed out progressing.' if new_rs is not None \
                else f'Deployment "{name}" has timed out progressing.'
            set_deployment_condition(status, new_condition("Progressing", "False", REASON_TIMED_OUT, message))

    @staticmethod
    def _copy_replica_failure(status: dict[str, Any], replica_sets: list[Obj], new_rs: Obj | None) -> None:
        """The ReplicaFailure of the new ReplicaSet (else of any) becomes the Deployment's."""
        candidates = [new_rs] if new_rs is not None else []
        for rs in [*candidates, *replica_sets]:
            failure = cu.find_condition((rs.get("status") or {}).get("conditions"), "ReplicaFailure")
            if failure is not None:
                set_deployment_condition(status, {
                    "type": "ReplicaFailure", "status": failure.get("status"),
                    "lastUpdateTime": failure.get("lastTransitionTime"),
                    "lastTransitionTime": failure.get("lastTransitionTime"),
                    "reason": failure.get("reason"), "message": failure.get("message")})
                return
        remove_deployment_condition(status, "ReplicaFailure")

    @staticmethod
    def _progress_check_delay(d: Obj, status: dict[str, Any]) -> float | None:
        """requeueStuckDeployment: with no progress now, look again when the deadline passes."""
        current = condition_of(d.get("status") or {}, "Progressing")
        if not has_progress_deadline(d) or current is None:
            return None
        if deployment_complete(d, status) or current.get("reason") == REASON_TIMED_OUT:
            return None
        remaining = seconds_to_deadline(d, current)
        # Timestamps have one-second precision: a second more makes sure the deadline has passed.
        return max(remaining, 0.0) + 1.0

    async def _write_status(self, d: Obj, status: dict[str, Any]) -> None:
        written = await cu.write_status(self.client, DEPLOYMENTS, d, _compact(status))
        self.own_writes.record(cu.key_of(cu.namespace_of(d), cu.name_of(d)), d, written)
        d["status"] = written.get("status") or {}
        cu.meta(d)["resourceVersion"] = cu.meta(written).get("resourceVersion")


def _compact(status: dict[str, Any]) -> dict[str, Any]:
    """Leave out zero counters, as Kubernetes' JSON (omitempty) does; pointers (terminatingReplicas,
    collisionCount) stay when set."""
    return {k: v for k, v in status.items()
            if k in ("terminatingReplicas", "collisionCount") or v not in (0, None, [], {})}
