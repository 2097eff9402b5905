"""Job controller (Kubernetes' ``pkg/controller/job``, NonIndexed completion mode): run pods until
``completions`` succeed (at most ``parallelism`` at a time), or fail the Job when more than ``backoffLimit`` pods
failed (BackoffLimitExceeded), ``activeDeadlineSeconds`` passed (DeadlineExceeded) or a ``podFailurePolicy``
FailJob rule matched (PodFailurePolicy).

Pods are counted with Kubernetes' finalizer-based tracking: every pod carries the ``batch.kubernetes.io/job-
tracking`` finalizer; a finished pod's uid is first written to ``status.uncountedTerminatedPods``, then its
finalizer is removed, then it moves from there into ``succeeded``/``failed``. A pod is thus counted exactly once
even if it is deleted (or the controller restarts) in between, and no pod disappears uncounted.

As in Kubernetes 1.31+, the terminal condition comes in two steps: first SuccessCriteriaMet (reason
CompletionsReached) or FailureTarget, then — once no pod is terminating any more — Complete (with
completionTime) or Failed. Pods failing in a row are re-created after an exponential backoff (10 s doubling up
to 6 min by default). Suspended Jobs have their pods deleted and a Suspended condition. A finished Job with
``ttlSecondsAfterFinished`` is deleted that long after it finished (the TTL-after-finished controller's job).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.selectors import LabelSelector, label_selector_from_dict
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop, run_all
from provisioner.services.client.informer import Handler, Obj
from provisioner.services.controllers import controllerutil as cu
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.job")

JOBS = resources.lookup("batch", "v1", "jobs")
PODS = resources.lookup("", "v1", "pods")

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
MAX_UNCOUNTED_PODS = 500  # uids per status write (keeps the status small)
MAX_POD_CREATE_DELETE_PER_SYNC = 500
DEFAULT_POD_FAILURE_BACKOFF = (10.0, 360.0)  # seconds: first delay after a failure, and the cap

REASON_BACKOFF_LIMIT = "BackoffLimitExceeded"
REASON_DEADLINE = "DeadlineExceeded"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_COMPLETIONS_REACHED = "CompletionsReached"


# =================================================================================================== helpers

def spec_of(job: Obj) -> dict[str, Any]:
    return job.get("spec") or {}


def conditions_of(job: Obj) -> list[dict[str, Any]]:
    return list((job.get("status") or {}).get("conditions") or [])


def has_true_condition(job: Obj, condition_type: str) -> bool:
    return any(c.get("type") == condition_type and c.get("status") == "True" for c in conditions_of(job))


def is_finished(job: Obj) -> bool:
    return has_true_condition(job, "Complete") or has_true_condition(job, "Failed")


def is_suspended(job: Obj) -> bool:
    return bool(spec_of(job).get("suspend"))


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (cu.meta(pod).get("finalizers") or [])


def only_replace_failed_pods(job: Obj) -> bool:
    """podReplacementPolicy Failed (the default with a podFailurePolicy): a replacement waits until the pod
    it replaces has fully failed, not merely started terminating."""
    spec = spec_of(job)
    return spec.get("podReplacementPolicy") == "Failed" or spec.get("podFailurePolicy") is not None


def is_pod_failed(pod: Obj, job: Obj) -> bool:
    """A Failed pod; also, unless only Failed counts, a pod deleted before it succeeded (it may never reach a
    phase, e.g. on a lost node)."""
    if cu.pod_phase(pod) == "Failed":
        return True
    if only_replace_failed_pods(job):
        return False
    return cu.is_being_deleted(pod) and cu.pod_phase(pod) != "Succeeded"


def finished_at(pod: Obj) -> datetime:
    """When the pod finished: its last container's finish, else when its deletion started, else now."""
    times = [cu.parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
             for s in (pod.get("status") or {}).get("containerStatuses") or []]
    known = [t for t in times if t is not None]
    if known:
        return max(known)
    return cu.parse_time(cu.meta(pod).get("deletionTimestamp")) or cu.now()


def restart_count_of_running(pods: list[Obj]) -> int:
    return sum(int(s.get("restartCount") or 0) for pod in pods if cu.pod_phase(pod) in ("Running", "Pending")
               for s in [*((pod.get("status") or {}).get("initContainerStatuses") or []),
                         *((pod.get("status") or {}).get("containerStatuses") or [])])


def new_condition(condition_type: str, status: str, reason: str, message: str) -> dict[str, Any]:
    at = cu.format_time(cu.now())
    return {"type": condition_type, "status": status, "lastProbeTime": at, "lastTransitionTime": at,
            "reason": reason, "message": message}


def ensure_condition(conditions: list[dict[str, Any]], condition_type: str, status: str, reason: str,
                     message: str) -> tuple[list[dict[str, Any]], bool]:
    """ensureJobConditionStatus: set (or add) a condition; no change when status/reason/message are the same;
    a condition of status False is not added when missing."""
    for position, condition in enumerate(conditions):
        if condition.get("type") != condition_type:
            continue
        if (condition.get("status"), condition.get("reason"), condition.get("message")) == (status, reason, message):
            return conditions, False
        updated = [dict(c) for c in conditions]
        at = cu.format_time(cu.now())
        updated[position] = {**condition, "status": status, "reason": reason, "message": message,
                             "lastProbeTime": at, "lastTransitionTime": at}
        return updated, True
    if status == "False":
        return conditions, False
    return [*conditions, new_condition(condition_type, status, reason, message)], True


# --------------------------------------------------------------------------------------------------- podFailurePolicy

def _exit_code_matches(code: int, requirement: dict[str, Any]) -> bool:
    values = requirement.get("values") or []
    return code in values if requirement.get("operator") == "In" else code not in values


def _matching_container(statuses: list[dict[str, Any]], requirement: dict[str, Any]) -> dict[str, Any] | None:
    for status in statuses:
        terminated = (status.get("state") or {}).get("terminated")
        if not terminated:
            continue
        if requirement.get("containerName") not in (None, status.get("name")):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code != 0 and _exit_code_matches(code, requirement):
            return status
    return None


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str | None, bool, str | None]:
    """matchPodFailurePolicy: (FailJob message, whether the failure counts toward backoffLimit, action)."""
    policy = spec_of(job).get("podFailurePolicy")
    if policy is None:
        return None, True, None
    status = pod.get("status") or {}
    namespace, name = cu.namespace_of(pod), cu.name_of(pod)
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            container = _matching_container(status.get("containerStatuses") or [], rule["onExitCodes"]) or \
                _matching_container(status.get("initContainerStatuses") or [], rule["onExitCodes"])
            if container is None:
                continue
            code = container["state"]["terminated"].get("exitCode")
            detail = f"Container {container.get('name')} for pod {namespace}/{name} failed with exit code {code}"
        elif rule.get("onPodConditions") is not None:
            condition = next((c for c in status.get("conditions") or [] for p in rule["onPodConditions"]
                              if c.get("type") == p.get("type") and c.get("status") == p.get("status", "True")),
                             None)
            if condition is None:
                continue
            detail = f"Pod {namespace}/{name} has condition {condition.get('type')}"
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "Count":
            return None, True, action
        if action == "FailJob":
            return f"{detail} matching FailJob rule at index {index}", True, action
        # FailIndex applies to Indexed Jobs with backoffLimitPerIndex only: the rule is skipped here.
    return None, True, None


# =================================================================================================== state

@dataclass
class _Backoff:
    """Failures since the last success and when the last one happened (Kubernetes' backoffRecord)."""

    failures: int = 0
    last_failure: datetime | None = None

    def remaining(self, base: float, cap: float) -> float:
        if self.failures == 0 or self.last_failure is None:
            return 0.0
        delay = min(base * 2 ** (self.failures - 1), cap)
        return max(0.0, delay - (cu.now() - self.last_failure).total_seconds())


def next_backoff(previous: _Backoff, succeeded: list[Obj], failed: list[Obj]) -> _Backoff:
    """newBackoffRecord: a success resets the count; failures after the last success add to it."""
    if not succeeded:
        if not failed:
            return previous
        return _Backoff(previous.failures + len(failed), max(finished_at(p) for p in failed))
    last_success = max(finished_at(p) for p in succeeded)
    later = sorted((finished_at(p) for p in failed if finished_at(p) > last_success), reverse=True)
    return _Backoff(len(later), later[0] if later else None)


@dataclass
class _JobSync:
    """One sync's view of a Job (Kubernetes' syncJobCtx)."""

    job: Obj  # a private copy; its status is what will be written
    pods: list[Obj]
    active_pods: list[Obj]
    ready: int
    terminating: int
    uncounted_succeeded: set[str]
    uncounted_failed: set[str]
    expected_removals: set[str]
    succeeded: int = 0
    failed: int = 0
    finished_condition: dict[str, Any] | None = None
    backoff: _Backoff = field(default_factory=_Backoff)

    @property
    def status(self) -> dict[str, Any]:
        return self.job.setdefault("status", {})

    @property
    def uncounted(self) -> dict[str, list[str]]:
        return self.status.setdefault("uncountedTerminatedPods", {})


class _FinalizerExpectations:
    """Pods (by uid) whose finalizer we removed and whose update without it the informer has not shown yet:
    until then the cache still shows the finalizer, and the pod must not be counted a second time."""

    def __init__(self) -> None:
        self._by_job: dict[str, set[str]] = {}

    def expect(self, key: str, uids: list[str]) -> None:
        self._by_job.setdefault(key, set()).update(uids)

    def observed(self, key: str, uid: str) -> None:
        pending = self._by_job.get(key)
        if pending is not None:
            pending.discard(uid)

    def expected(self, key: str) -> set[str]:
        return set(self._by_job.get(key) or ())

    def delete(self, key: str) -> None:
        self._by_job.pop(key, None)


# =================================================================================================== controller

class JobController:
    name = "job"

    def __init__(self, ctx: ControllerContext, *,
                 pod_failure_backoff: tuple[float, float] = DEFAULT_POD_FAILURE_BACKOFF) -> None:
        self.client = ctx.client
        self.recorder = ctx.recorder
        self.pod_control = cu.PodControl(ctx.client, ctx.recorder)
        self.pod_failure_backoff = pod_failure_backoff
        self.expectations = cu.ControllerExpectations()
        self.finalizer_expectations = _FinalizerExpectations()
        self.own_writes = cu.OwnWrites()
        self.backoffs: dict[str, _Backoff] = {}
        self.jobs = ctx.informers.informer(JOBS, indexers=cu.WORKLOAD_INDEXERS)
        self.pods = ctx.informers.informer(PODS, indexers=cu.WORKLOAD_INDEXERS)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers,
                                  informers=[self.jobs, self.pods])
        # Pods with our finalizer whose Job is gone or finished: the finalizer must still come off.
        self.orphans = ReconcileLoop(f"{self.name}-orphan-pods", self.release_orphan_pod,
                                     workers=ctx.options.workers, informers=[self.jobs, self.pods])
        self.jobs.add_handler(Handler(on_add=self._job_changed, on_update=lambda _, new: self._job_changed(new),
                                      on_delete=self._job_deleted))
        self.pods.add_handler(Handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=lambda pod: self._pod_deleted(pod, final=True)))

    async def run(self) -> None:
        await run_all(self.loop.run(), self.orphans.run())

    # ------------------------------------------------------------------------------------------- handlers
    def _job_changed(self, job: Obj) -> None:
        self.loop.queue.add(cu.key_of(cu.namespace_of(job), cu.name_of(job)))

    def _job_deleted(self, job: Obj) -> None:
        self._job_changed(job)
        uid = cu.uid_of(job)
        for pod in self.pods.store.by_index(cu.INDEX_BY_CONTROLLER_UID, uid):
            if has_tracking_finalizer(pod):
                self._queue_orphan(pod)

    def _queue_orphan(self, pod: Obj) -> None:
        self.orphans.queue.add(cu.key_of(cu.namespace_of(pod), cu.name_of(pod)))

    def _job_for(self, pod: Obj, ref: dict[str, Any] | None) -> Obj | None:
        if ref is None or not cu.refers_to(ref, JOBS):
            return None
        job = self.jobs.store.get(cu.key_of(cu.namespace_of(pod), str(ref.get("name", ""))))
        return job if job is not None and cu.uid_of(job) == ref.get("uid") else None

    def _jobs_selecting(self, pod: Obj) -> list[Obj]:
        selecting = []
        for job in self.jobs.store.by_index(cu.INDEX_BY_NAMESPACE, cu.namespace_of(pod)):
            try:
                selector = label_selector_from_dict(spec_of(job).get("selector"))
            except ApiError:
                continue
            if not selector.empty and selector.matches(cu.labels_of(pod)):
                selecting.append(job)
        return selecting

    def _pod_added(self, pod: Obj) -> None:
        if cu.is_being_deleted(pod):
            self._pod_deleted(pod, final=False)
            return
        ref = cu.controller_of(pod)
        if ref is not None:
            job = self._job_for(pod, ref)
            if job is None or is_finished(job):
                if has_tracking_finalizer(pod):
                    self._queue_orphan(pod)
                if job is None:
                    return
            key = cu.key_of(cu.namespace_of(job), cu.name_of(job))
            self.expectations.creation_observed(key)
            self.loop.queue.add(key)
            return
        if has_tracking_finalizer(pod):
            self._queue_orphan(pod)
        for job in self._jobs_selecting(pod):
            self._job_changed(job)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if cu.meta(old).get("resourceVersion") == cu.meta(cur).get("resourceVersion"):
            return
        if cu.is_being_deleted(cur):
            self._pod_deleted(cur, final=False)
            return
        finalizer_gone = not has_tracking_finalizer(cur)
        cur_ref, old_ref = cu.controller_of(cur), cu.controller_of(old)
        if cur_ref != old_ref and old_ref is not None:
            old_job = self._job_for(old, old_ref)
            if old_job is not None:
                self._finalizer_observed(old_job, cur, finalizer_gone)
                self._job_changed(old_job)
        if cur_ref is not None:
            job = self._job_for(cur, cur_ref)
            if job is None or is_finished(job):
                if not finalizer_gone:
                    self._queue_orphan(cur)
            if job is not None:
                self._finalizer_observed(job, cur, finalizer_gone)
                self._job_changed(job)
            return
        if not finalizer_gone:
            self._queue_orphan(cur)
        if cu.labels_of(old) != cu.labels_of(cur) or cur_ref != old_ref:
            for job in self._jobs_selecting(cur):
                self._job_changed(job)

    def _finalizer_observed(self, job: Obj, pod: Obj, finalizer_gone: bool) -> None:
        if finalizer_gone:
            self.finalizer_expectations.observed(cu.key_of(cu.namespace_of(job), cu.name_of(job)), cu.uid_of(pod))

    def _pod_deleted(self, pod: Obj, *, final: bool) -> None:
        ref = cu.controller_of(pod)
        finalizer = has_tracking_finalizer(pod)
        job = self._job_for(pod, ref)
        if job is None or is_finished(job):
            if finalizer and not final:
                self._queue_orphan(pod)
            return
        key = cu.key_of(cu.namespace_of(job), cu.name_of(job))
        self.expectations.deletion_observed(key)
        if final or not finalizer:
            self.finalizer_expectations.observed(key, cu.uid_of(pod))
        self.loop.queue.add(key)

    # ------------------------------------------------------------------------------------------- orphans
    async def release_orphan_pod(self, key: str) -> None:
        """syncOrphanPod: take our finalizer off a pod no unfinished Job of ours controls."""
        pod = self.pods.store.get(key)
        if pod is None or not has_tracking_finalizer(pod):
            return
        ref = cu.controller_of(pod)
        if ref is not None:
            if not cu.refers_to(ref, JOBS):
                return  # someone else's pod: not our finalizer to manage
            job = self._job_for(pod, ref)
            if job is not None and not is_finished(job):
                return  # adopted meanwhile
        try:
            await self.pod_control.patch_pod(cu.namespace_of(pod), cu.name_of(pod), _finalizer_removal(pod))
        except ApiError as err:
            if err.code != 404:
                raise

    # ------------------------------------------------------------------------------------------- sync
    async def reconcile(self, key: str) -> float | None:
        cached = self.jobs.store.get(key)
        if cached is None:
            self.expectations.delete(key)
            self.finalizer_expectations.delete(key)
            self.backoffs.pop(key, None)
            self.own_writes.forget(key)
            return None
        if self.own_writes.is_stale(key, cached):
            return None  # our last status write's event is on its way and will queue this key again
        if is_finished(cached):
            self.backoffs.pop(key, None)
            return await self._expire_finished(cached)
        mode = spec_of(cached).get("completionMode") or "NonIndexed"
        if mode != "NonIndexed":
            self.recorder.event(cu.with_kind(cached, JOBS), "Warning", "UnsupportedCompletionMode",
                                f"Skipped Job sync: completion mode {mode} is not supported by this controller")
            return None
        return await self._sync(key, cu.with_kind(copy.deepcopy(cached), JOBS))

    async def _sync(self, key: str, job: Obj) -> float | None:
        try:
            selector = label_selector_from_dict(spec_of(job).get("selector"))
        except ApiError as err:
            log.warning("job %s has an invalid selector: %s", key, err.message)
            return None
        requeue: list[float] = []
        status = job.setdefault("status", {})
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        # Expectations first: a pod created after the cache was read must not sneak into this count.
        satisfied = self.expectations.satisfied(key)
        if not satisfied:
            requeue.append(self.expectations.seconds_until_expiry(key) or 0.0)
        pods = await self._claim_pods(job, selector)
        active = cu.filter_active_pods(pods)
        sync = _JobSync(job, pods, active, ready=sum(1 for p in active if cu.is_pod_ready(p)),
                        terminating=sum(1 for p in pods if cu.is_pod_terminating(p)),
                        uncounted_succeeded=set(uncounted.get("succeeded") or []),
                        uncounted_failed=set(uncounted.get("failed") or []),
                        expected_removals=self.finalizer_expectations.expected(key))
        new_succeeded, new_failed = self._newly_finished(sync)
        sync.succeeded = int(status.get("succeeded") or 0) + len(new_succeeded) + len(sync.uncounted_succeeded)
        counted_failures = sum(1 for p in new_failed if match_pod_failure_policy(job, p)[1])
        sync.failed = int(status.get("failed") or 0) + counted_failures + len(sync.uncounted_failed)
        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = cu.format_time(cu.now())
        sync.backoff = next_backoff(self.backoffs.get(key, _Backoff()), new_succeeded, new_failed)

        self._decide_failure(sync, requeue)
        error: BaseException | None = None
        conditions_changed = False
        if sync.finished_condition is not None:
            deleted_ready, deleted, error = await self._delete_pods(job, sync.active_pods, remove_finalizer=False)
            if deleted != len(sync.active_pods) or not satisfied:
                sync.finished_condition = None  # pods, or pods we do not see yet, remain: not finished yet
            active_count = len(sync.active_pods) - deleted
            sync.terminating += deleted
            sync.ready -= deleted_ready
        else:
            active_count = len(sync.active_pods)
            manage_called = satisfied and not cu.is_being_deleted(job)
            if manage_called:
                active_count, error = await self._manage(key, sync, requeue)
            if self._complete(job, sync, active_count):
                sync.finished_condition = new_condition("SuccessCriteriaMet", "True", REASON_COMPLETIONS_REACHED,
                                                        "Reached expected number of succeeded pods")
            elif manage_called:
                conditions_changed = self._update_suspended(job)
        changed = conditions_changed or active_count != int(status.get("active") or 0) or \
            sync.ready != status.get("ready") or sync.terminating != status.get("terminating")
        status["active"] = active_count
        status["ready"] = sync.ready
        status["terminating"] = sync.terminating
        await self._track_status(key, sync, changed)
        if error is not None:
            raise error
        return min(requeue) if requeue else None

    def _decide_failure(self, sync: _JobSync, requeue: list[float]) -> None:
        job, spec = sync.job, spec_of(sync.job)
        failure_target = cu.find_condition(conditions_of(job), "FailureTarget")
        if failure_target is not None and failure_target.get("status") == "True":
            sync.finished_condition = failure_target
            return
        message = self._fail_job_message(job, sync.pods)
        if message is not None:
            sync.finished_condition = new_condition("FailureTarget", "True", REASON_POD_FAILURE_POLICY, message)
            return
        backoff_limit = int(spec.get("backoffLimit", 6))
        if sync.failed > backoff_limit or self._past_backoff_limit_on_failure(job, sync.pods):
            sync.finished_condition = new_condition("FailureTarget", "True", REASON_BACKOFF_LIMIT,
                                                    "Job has reached the specified backoff limit")
            return
        remaining = self._seconds_to_deadline(job)
        if remaining is not None:
            if remaining <= 0:
                sync.finished_condition = new_condition("FailureTarget", "True", REASON_DEADLINE,
                                                        "Job was active longer than specified deadline")
            else:
                requeue.append(remaining)

    @staticmethod
    def _fail_job_message(job: Obj, pods: list[Obj]) -> str | None:
        if spec_of(job).get("podFailurePolicy") is None:
            return None
        for pod in pods:
            if is_pod_failed(pod, job):
                message = match_pod_failure_policy(job, pod)[0]
                if message is not None:
                    return message
        return None

    @staticmethod
    def _past_backoff_limit_on_failure(job: Obj, pods: list[Obj]) -> bool:
        """With restartPolicy OnFailure the kubelet restarts containers in place: their restarts count."""
        spec = spec_of(job)
        if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
            return False
        restarts = restart_count_of_running(pods)
        limit = int(spec.get("backoffLimit", 6))
        return restarts > 0 if limit == 0 else restarts >= limit

    @staticmethod
    def _seconds_to_deadline(job: Obj) -> float | None:
        deadline = spec_of(job).get("activeDeadlineSeconds")
        started = cu.parse_time((job.get("status") or {}).get("startTime"))
        if deadline is None or started is None or is_suspended(job):
            return None
        return started.timestamp() + int(deadline) - cu.now().timestamp()

    @staticmethod
    def _complete(job: Obj, sync: _JobSync, active_count: int) -> bool:
        completions = spec_of(job).get("completions")
        if completions is None:
            # Any success completes a Job without completions, once nothing runs any more.
            return sync.succeeded > 0 and active_count == 0
        return sync.succeeded >= int(completions) and active_count == 0

    def _update_suspended(self, job: Obj) -> bool:
        status = job["status"]
        if is_suspended(job):
            status["conditions"], changed = ensure_condition(conditions_of(job), "Suspended", "True",
                                                             "JobSuspended", "Job suspended")
            if changed:
                self.recorder.event(job, "Normal", "Suspended", "Job suspended")
            return changed
        status["conditions"], changed = ensure_condition(conditions_of(job), "Suspended", "False",
                                                         "JobResumed", "Job resumed")
        if changed:
            self.recorder.event(job, "Normal", "Resumed", "Job resumed")
            # activeDeadlineSeconds counts continuous activity: it starts over on resume.
            status["startTime"] = cu.format_time(cu.now())
        return changed

    def _newly_finished(self, sync: _JobSync) -> tuple[list[Obj], list[Obj]]:
        """Finished pods not yet counted: they still carry the finalizer and are not in uncounted."""
        succeeded, failed = [], []
        for pod in sync.pods:
            uid = cu.uid_of(pod)
            if not has_tracking_finalizer(pod) or uid in sync.expected_removals:
                continue
            if cu.pod_phase(pod) == "Succeeded" and uid not in sync.uncounted_succeeded:
                succeeded.append(pod)
            elif is_pod_failed(pod, sync.job) and uid not in sync.uncounted_failed:
                failed.append(pod)
        return succeeded, failed

    async def _claim_pods(self, job: Obj, selector: LabelSelector) -> list[Obj]:
        """Every pod of the Job, finished and terminating ones included (adopting matching orphans, which get
        the finalizer with the ownerReference)."""
        manager = cu.ControllerRefManager(self.client, PODS, job, JOBS, selector,
                                          can_adopt=cu.recheck_deletion_timestamp(self.client, JOBS, job),
                                          finalizers=[TRACKING_FINALIZER])
        claimed = await manager.claim(cu.claim_candidates(self.pods.store, job))
        uid = cu.uid_of(job)
        result = []
        for pod in claimed:
            adopted_now = (cu.controller_of(pod) or {}).get("uid") != uid
            if adopted_now and not has_tracking_finalizer(pod):  # the adoption patch added it
                pod = copy.deepcopy(pod)
                cu.meta(pod)["finalizers"] = [*(cu.meta(pod).get("finalizers") or []), TRACKING_FINALIZER]
            result.append(pod)
        return result

    # ------------------------------------------------------------------------------------------- manage
    async def _manage(self, key: str, sync: _JobSync, requeue: list[float]) -> tuple[int, BaseException | None]:
        """manageJob: delete surplus pods, or create missing ones (after the failure backoff)."""
        job = sync.job
        active_count = len(sync.active_pods)
        if is_suspended(job):
            return await self._delete_surplus(key, sync, active_count)
        spec = spec_of(job)
        parallelism = int(spec.get("parallelism", 1))
        completions = spec.get("completions")
        if completions is None:
            wanted = active_count if sync.succeeded > 0 else parallelism
        else:
            wanted = max(0, min(int(completions) - sync.succeeded, parallelism))
        if active_count > wanted:
            return await self._delete_surplus(key, sync, active_count - wanted)
        terminating = sync.terminating if only_replace_failed_pods(job) else 0
        missing = wanted - terminating - active_count
        if missing <= 0:
            return active_count, None
        wait = sync.backoff.remaining(*self.pod_failure_backoff)
        if wait > 0:
            requeue.append(wait)
            return active_count, None
        return await self._create_pods(key, job, min(missing, MAX_POD_CREATE_DELETE_PER_SYNC), active_count)

    async def _delete_surplus(self, key: str, sync: _JobSync, count: int) -> tuple[int, BaseException | None]:
        victims = cu.pods_to_delete(sync.active_pods, [], min(count, MAX_POD_CREATE_DELETE_PER_SYNC))
        self.expectations.expect_deletions(key, len(victims))
        deleted_ready, deleted, error = await self._delete_pods(sync.job, victims, remove_finalizer=True)
        sync.terminating += deleted
        sync.ready -= deleted_ready
        return len(sync.active_pods) - deleted, error

    async def _create_pods(self, key: str, job: Obj, count: int,
                           active_count: int) -> tuple[int, BaseException | None]:
        template = copy.deepcopy(spec_of(job).get("template") or {})
        metadata = template.setdefault("metadata", {})
        finalizers = list(metadata.get("finalizers") or [])
        if TRACKING_FINALIZER not in finalizers:
            metadata["finalizers"] = [*finalizers, TRACKING_FINALIZER]
        self.expectations.expect_creations(key, count)

        async def create_one() -> None:
            try:
                await self.pod_control.create_pod(cu.namespace_of(job), template, job, JOBS)
            except ApiError as err:
                if cu.namespace_terminating(err):
                    return  # every further creation would fail alike; nothing to report
                raise

        created, error = await cu.slow_start_batch(count, cu.SLOW_START_INITIAL_BATCH_SIZE, create_one)
        self.expectations.lower(key, adds=count - created)  # the informer will never show those
        return active_count + created, error

    async def _delete_pods(self, job: Obj, pods: list[Obj], *,
                           remove_finalizer: bool) -> tuple[int, int, BaseException | None]:
        """Delete pods; returns how many ready pods and how many pods were deleted, and the first error.
        Surplus pods lose the finalizer first (they are not to be counted); the pods of a Job that has failed
        keep it, so the tracking counts them as failed."""
        key = cu.key_of(cu.namespace_of(job), cu.name_of(job))

        async def delete(pod: Obj) -> None:
            if remove_finalizer and has_tracking_finalizer(pod):
                await self.pod_control.patch_pod(cu.namespace_of(pod), cu.name_of(pod), _finalizer_removal(pod))
            await self.pod_control.delete_pod(cu.namespace_of(pod), cu.name_of(pod), job, JOBS)

        results = await asyncio.gather(*(delete(p) for p in pods), return_exceptions=True)
        deleted_ready = deleted = 0
        first_error: BaseException | None = None
        for pod, result in zip(pods, results, strict=True):
            if isinstance(result, BaseException):
                if remove_finalizer:
                    self.expectations.deletion_observed(key)  # no event will come for it
                if not cu.is_not_found(result):
                    first_error = first_error or result
                    continue
            deleted += 1
            if cu.is_pod_ready(pod):
                deleted_ready += 1
        return deleted_ready, deleted, first_error

    # ------------------------------------------------------------------------------------------- tracking
    async def _track_status(self, key: str, sync: _JobSync, needs_flush: bool) -> None:
        """trackJobStatusAndRemoveFinalizers: record finished pods in uncountedTerminatedPods, take their
        finalizers off, move them into the counters, and finish the Job when nothing is left uncounted."""
        job = sync.job
        with_finalizer = {cu.uid_of(p) for p in sync.pods
                          if has_tracking_finalizer(p) and cu.uid_of(p) not in sync.expected_removals}
        old_counts = (int(sync.status.get("succeeded") or 0), int(sync.status.get("failed") or 0))
        if _count_uncounted_without_finalizer(sync.status, with_finalizer):
            needs_flush = True
        to_release: list[Obj] = []
        reached_max = False
        uncounted = sync.uncounted
        for pod in sync.pods:
            uid = cu.uid_of(pod)
            if not has_tracking_finalizer(pod) or uid in sync.expected_removals:
                continue  # counted in an earlier sync
            failed = is_pod_failed(pod, job)
            if not self._can_remove_finalizer(sync, pod, failed):
                continue
            to_release.append(pod)
            if cu.pod_phase(pod) == "Succeeded" and uid not in sync.uncounted_failed:
                if uid not in sync.uncounted_succeeded:
                    uncounted.setdefault("succeeded", []).append(uid)
                    needs_flush = True
            elif failed or (sync.finished_condition is not None and
                            sync.finished_condition.get("type") != "SuccessCriteriaMet"):
                # Once the Job has failed, every pod that did not succeed counts as failed.
                if uid not in sync.uncounted_failed and match_pod_failure_policy(job, pod)[1]:
                    uncounted.setdefault("failed", []).append(uid)
                    needs_flush = True
            if len(uncounted.get("succeeded") or []) + len(uncounted.get("failed") or []) >= MAX_UNCOUNTED_PODS:
                reached_max = True  # more in the next sync: this one's status write stays small
                break
        final, interim_added = self._interim_condition(sync)
        needs_flush = needs_flush or interim_added
        needs_flush = await self._flush_and_release(key, sync, to_release, with_finalizer, needs_flush)
        finished = not reached_max and self._enact_finished(sync, final)
        if finished or needs_flush:
            await self._write_status(key, sync)
            if finished and final is not None:
                self._record_finished(sync.job, final)
        new_counts = (int(sync.status.get("succeeded") or 0), int(sync.status.get("failed") or 0))
        if new_counts != old_counts:
            log.info("job %s: %d succeeded, %d failed", key, *new_counts)

    @staticmethod
    def _can_remove_finalizer(sync: _JobSync, pod: Obj, failed: bool) -> bool:
        return cu.is_being_deleted(sync.job) or sync.finished_condition is not None or \
            cu.pod_phase(pod) == "Succeeded" or failed

    @staticmethod
    def _interim_condition(sync: _JobSync) -> tuple[dict[str, Any] | None, bool]:
        """Add FailureTarget / SuccessCriteriaMet to the status if it is not there yet; return the terminal
        condition it leads to (Failed / Complete), and whether it was added now."""
        condition = sync.finished_condition
        terminal = {"FailureTarget": "Failed", "SuccessCriteriaMet": "Complete"}.get((condition or {}).get("type", ""))
        if condition is None or terminal is None:
            return None, False
        conditions = conditions_of(sync.job)
        added = cu.find_condition(conditions, condition["type"]) is None
        if added:
            sync.status["conditions"] = [*conditions, condition]
        return new_condition(terminal, "True", condition.get("reason", ""), condition.get("message", "")), added

    async def _flush_and_release(self, key: str, sync: _JobSync, to_release: list[Obj], with_finalizer: set[str],
                                 needs_flush: bool) -> bool:
        """Persist the uncounted uids before removing finalizers (so a pod that vanishes is still counted), then
        remove them, then count those whose finalizer is gone."""
        if needs_flush:
            await self._write_status(key, sync)
            self.backoffs[key] = sync.backoff
            needs_flush = False
        error: BaseException | None = None
        if to_release:
            released, error = await self._remove_finalizers(key, to_release)
            with_finalizer -= released
        if _count_uncounted_without_finalizer(sync.status, with_finalizer):
            needs_flush = True
        if error is not None:
            if needs_flush:
                await self._write_status(key, sync)
            raise error
        return needs_flush

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> tuple[set[str], BaseException | None]:
        uids = [cu.uid_of(p) for p in pods]
        self.finalizer_expectations.expect(key, uids)

        async def remove(pod: Obj) -> None:
            try:
                await self.pod_control.patch_pod(cu.namespace_of(pod), cu.name_of(pod), _finalizer_removal(pod))
            except ApiError as err:
                self.finalizer_expectations.observed(key, cu.uid_of(pod))  # no update will show it
                if err.code != 404:
                    raise

        results = await asyncio.gather(*(remove(p) for p in pods), return_exceptions=True)
        released = {uid for uid, result in zip(uids, results, strict=True) if not isinstance(result, BaseException)}
        errors = [r for r in results if isinstance(r, BaseException)]
        return released, errors[0] if errors else None

    def _enact_finished(self, sync: _JobSync, final: dict[str, Any] | None) -> bool:
        """Set Complete/Failed once every finished pod is counted and none is still terminating."""
        if final is None:
            return False
        uncounted = sync.uncounted
        if uncounted.get("succeeded") or uncounted.get("failed") or sync.terminating > 0:
            return False
        status = sync.status
        status["conditions"], _ = ensure_condition(conditions_of(sync.job), final["type"], final["status"],
                                                   final.get("reason", ""), final.get("message", ""))
        if final["type"] == "Complete":
            status["completionTime"] = cu.find_condition(status["conditions"], "Complete")["lastTransitionTime"]
        return True

    def _record_finished(self, job: Obj, condition: dict[str, Any]) -> None:
        if condition["type"] == "Complete":
            completions = spec_of(job).get("completions")
            if completions is not None and int(job["status"].get("succeeded") or 0) > int(completions):
                self.recorder.event(job, "Warning", "TooManySucceededPods",
                                    "Too many succeeded pods running after completion count reached")
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            self.recorder.event(job, "Warning", condition.get("reason", ""), condition.get("message", ""))

    async def _write_status(self, key: str, sync: _JobSync) -> None:
        status = {k: v for k, v in sync.status.items()
                  if k in ("ready", "terminating", "uncountedTerminatedPods") or v not in (0, None, [], "")}
        uncounted = status.get("uncountedTerminatedPods") or {}
        status["uncountedTerminatedPods"] = {k: v for k, v in uncounted.items() if v}
        written = await cu.write_status(self.client, JOBS, sync.job, status)
        self.own_writes.record(key, sync.job, written)
        sync.job["status"] = written.get("status") or {}
        sync.job["status"].setdefault("uncountedTerminatedPods", {})
        cu.meta(sync.job)["resourceVersion"] = cu.meta(written).get("resourceVersion")

    # ------------------------------------------------------------------------------------------- TTL
    async def _expire_finished(self, job: Obj) -> float | None:
        """ttlSecondsAfterFinished: delete the Job (and, through the garbage collector, its pods) that long
        after it finished; returns when to look again."""
        ttl = spec_of(job).get("ttlSecondsAfterFinished")
        if ttl is None or cu.is_being_deleted(job):
            return None
        remaining = _seconds_until_expiry(job, int(ttl))
        if remaining is None:
            return None
        if remaining > 0:
            return remaining
        # The cache may be old: read the Job again and check it is still the expired one.
        fresh = await self.client.get(JOBS, cu.name_of(job), cu.namespace_of(job))
        ttl = spec_of(fresh).get("ttlSecondsAfterFinished")
        if ttl is None or not is_finished(fresh) or (_seconds_until_expiry(fresh, int(ttl)) or 0) > 0:
            return None
        log.info("job %s/%s finished more than %ss ago: deleting it", cu.namespace_of(job), cu.name_of(job), ttl)
        try:
            await self.client.delete(JOBS, cu.name_of(fresh), cu.namespace_of(fresh), propagation_policy="Foreground",
                                     preconditions={"uid": cu.uid_of(fresh)})
        except ApiError as err:
            if err.code not in (404, 409):
                raise
        return None


def _seconds_until_expiry(job: Obj, ttl: int) -> float | None:
    finished = next((c for c in conditions_of(job) if c.get("type") in ("Complete", "Failed")
                     and c.get("status") == "True"), None)
    finish_time = cu.parse_time((job.get("status") or {}).get("completionTime")) or \
        cu.parse_time((finished or {}).get("lastTransitionTime"))
    if finish_time is None:
        return None
    return finish_time.timestamp() + ttl - cu.now().timestamp()


def _finalizer_removal(pod: Obj) -> dict[str, Any]:
    return {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER], "uid": cu.uid_of(pod)}}


def _count_uncounted_without_finalizer(status: dict[str, Any], with_finalizer: set[str]) -> bool:
    """cleanUncountedPodsWithoutFinalizers: uids in uncountedTerminatedPods whose finalizer is gone move into
    the succeeded/failed counters. Returns whether anything moved."""
    uncounted = status.setdefault("uncountedTerminatedPods", {})
    moved = False
    for kind in ("succeeded", "failed"):
        uids = list(uncounted.get(kind) or [])
        kept = [uid for uid in uids if uid in with_finalizer]
        if len(kept) != len(uids):
            status[kind] = int(status.get(kind) or 0) + len(uids) - len(kept)
            uncounted[kind] = kept
            moved = True
    return moved
