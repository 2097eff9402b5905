"""The Job controller against a real in-process apiserver, with a fake kubelet finishing pods: completions with
bounded parallelism, backoffLimit, activeDeadlineSeconds, restartPolicy OnFailure, podFailurePolicy, suspend,
TTL, and the finalizer-based counting that keeps every pod counted exactly once."""

from __future__ import annotations

import functools
from typing import Any

from provisioner.services.client import ApiClient, Handler, Informer
from provisioner.services.controllers.job import TRACKING_FINALIZER, JobController
from tests.unit.controllers.conftest import events_for, eventually, get_or_none, resource, running
from tests.unit.controllers.fake_kubelet import FAIL, RUNNING, SUCCEED, kubelet, set_pod_outcome

PODS = resource("pods")
JOBS = resource("jobs", "batch")

# Pods failing in a row are replaced after a backoff (10 s in Kubernetes); tests use a short one.
FastJobController = functools.partial(JobController, pod_failure_backoff=(0.05, 0.2))


def job(name: str, restart_policy: str = "Never", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": restart_policy,
                                           "containers": [{"name": "work", "image": "busybox"}]}}, **spec}}


async def job_pods(client: ApiClient, j: dict[str, Any]) -> list[dict[str, Any]]:
    items, _ = await client.list_all(PODS, "default")
    return [p for p in items if any(r.get("uid") == j["metadata"]["uid"] for r in
                                    p["metadata"].get("ownerReferences") or [])]


def conditions(j: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (j.get("status") or {}).get("conditions") or []}


async def finished(client: ApiClient, name: str, kind: str) -> dict[str, Any] | None:
    j = await client.get(JOBS, name, "default")
    condition = conditions(j).get(kind)
    return j if condition and condition["status"] == "True" else None


class ActivePodsWatch:
    """The most pods of one Job running (not finished, not being deleted) at any observed moment."""

    def __init__(self, client: ApiClient) -> None:
        self.informer = Informer(client, PODS, "default")
        self.most = 0
        self.informer.add_handler(Handler(on_add=lambda _: self.check(), on_update=lambda *_: self.check()))

    def check(self) -> None:
        running_now = [p for p in self.informer.store.list() if not p["metadata"].get("deletionTimestamp")
                       and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        self.most = max(self.most, len(running_now))


async def test_completions_three_with_parallelism_two_completes(client: ApiClient) -> None:
    import asyncio

    watch = ActivePodsWatch(client)
    task = asyncio.create_task(watch.informer.run())
    try:
        async with running(client, JobController), kubelet(client, lambda pod: SUCCEED) as fake:
            created = await client.create(JOBS, job("pi", completions=3, parallelism=2), "default")
            j = await eventually(lambda: finished(client, "pi", "Complete"), "the Job complete")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    status = j["status"]
    assert (status["succeeded"], status.get("active", 0), status.get("failed", 0)) == (3, 0, 0)
    assert status["ready"] == 0 and status["terminating"] == 0
    assert status["uncountedTerminatedPods"] == {}
    assert status["startTime"] <= status["completionTime"]
    met, complete = conditions(j)["SuccessCriteriaMet"], conditions(j)["Complete"]
    assert (met["reason"], met["message"]) == ("CompletionsReached", "Reached expected number of succeeded pods")
    assert (complete["reason"], complete["message"]) == ("CompletionsReached",
                                                          "Reached expected number of succeeded pods")
    assert status["completionTime"] == complete["lastTransitionTime"]
    pods = await job_pods(client, created)
    assert len(pods) == 3 and len(fake.seen) == 3  # never a pod too many
    assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods)
    assert all(p["metadata"]["name"].startswith("pi-") for p in pods)
    assert watch.most <= 2, "parallelism bounds the pods running at once"
    assert "Completed" in {e["reason"] for e in await events_for(client, "pi")}


async def test_backoff_limit_fails_the_job_after_limit_plus_one_failures(client: ApiClient) -> None:
    async with running(client, FastJobController), kubelet(client, lambda pod: FAIL) as fake:
        created = await client.create(JOBS, job("flaky", backoffLimit=2), "default")
        j = await eventually(lambda: finished(client, "flaky", "Failed"), "the Job failed")
        status = j["status"]
        assert status["failed"] == 3 and status.get("succeeded", 0) == 0 and status.get("active", 0) == 0
        target, failed = conditions(j)["FailureTarget"], conditions(j)["Failed"]
        for condition in (target, failed):
            assert (condition["reason"], condition["message"]) == ("BackoffLimitExceeded",
                                                                    "Job has reached the specified backoff limit")
        assert "Complete" not in conditions(j) and "completionTime" not in status
        assert len(fake.seen) == 3 and len(await job_pods(client, created)) == 3
        warnings = [e for e in await events_for(client, "flaky") if e["type"] == "Warning"]
        assert [e["reason"] for e in warnings] == ["BackoffLimitExceeded"]


async def test_active_deadline_stops_running_pods_and_fails_the_job(client: ApiClient) -> None:
    async with running(client, JobController), kubelet(client, lambda pod: RUNNING):
        created = await client.create(JOBS, job("sleepy", parallelism=2, completions=2, activeDeadlineSeconds=1),
                                      "default")
        j = await eventually(lambda: finished(client, "sleepy", "Failed"), "the Job failed")
        failed = conditions(j)["Failed"]
        assert (failed["reason"], failed["message"]) == ("DeadlineExceeded",
                                                          "Job was active longer than specified deadline")
        # Its running pods were deleted and, being unfinished, counted as failed, each once.
        assert j["status"]["failed"] == 2 and j["status"].get("active", 0) == 0
        assert await job_pods(client, created) == []


async def test_a_pod_deleted_while_running_counts_once_as_failed_and_is_replaced(client: ApiClient) -> None:
    decisions = iter([RUNNING, SUCCEED])

    def decide(pod: dict[str, Any]) -> str:
        return next(decisions, SUCCEED)

    async with running(client, FastJobController), kubelet(client, decide):
        created = await client.create(JOBS, job("once"), "default")
        [first] = await eventually(lambda: _running_pods(client, created, 1), "the first pod running")
        await client.delete(PODS, first["metadata"]["name"], "default")
        j = await eventually(lambda: finished(client, "once", "Complete"), "the Job complete")
        assert (j["status"]["succeeded"], j["status"]["failed"]) == (1, 1)
        # The finalizer kept the deleted pod until it was counted; then it went.
        assert await get_or_none(client, PODS, first["metadata"]["name"], "default") is None


async def _running_pods(client: ApiClient, j: dict[str, Any], count: int) -> list[dict[str, Any]] | None:
    pods = [p for p in await job_pods(client, j) if (p.get("status") or {}).get("phase") == "Running"]
    return pods if len(pods) == count else None


async def test_restart_policy_on_failure_counts_container_restarts_against_the_limit(client: ApiClient) -> None:
    async with running(client, JobController), kubelet(client, lambda pod: RUNNING):
        created = await client.create(JOBS, job("crashy", restart_policy="OnFailure", backoffLimit=2), "default")
        [pod] = await eventually(lambda: _running_pods(client, created, 1), "the pod running")
        await set_pod_outcome(client, pod, RUNNING, restarts=2)  # the kubelet restarted its container twice
        j = await eventually(lambda: finished(client, "crashy", "Failed"), "the Job failed")
        assert conditions(j)["Failed"]["reason"] == "BackoffLimitExceeded"
        assert j["status"]["failed"] == 1  # the running pod, stopped


async def test_pod_failure_policy_fail_job_rule_fails_at_once(client: ApiClient) -> None:
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "work", "operator": "In",
                                                              "values": [1]}}]}
    async with running(client, FastJobController), kubelet(client, lambda pod: FAIL) as fake:
        await client.create(JOBS, job("strict", backoffLimit=5, podFailurePolicy=policy), "default")
        j = await eventually(lambda: finished(client, "strict", "Failed"), "the Job failed")
        failed = conditions(j)["Failed"]
        [pod_name] = fake.seen  # no retry despite backoffLimit 5
        assert failed["reason"] == "PodFailurePolicy"
        assert failed["message"] == (f"Container work for pod default/{pod_name} failed with exit code 1 "
                                     "matching FailJob rule at index 0")


async def test_pod_failure_policy_ignore_rule_does_not_count_failures(client: ApiClient) -> None:
    policy = {"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]}
    outcomes = iter([FAIL, FAIL, SUCCEED])
    async with running(client, FastJobController), kubelet(client, lambda pod: next(outcomes, SUCCEED)):
        await client.create(JOBS, job("tolerant", backoffLimit=0, podFailurePolicy=policy), "default")
        j = await eventually(lambda: finished(client, "tolerant", "Complete"), "the Job complete")
        assert j["status"]["succeeded"] == 1 and j["status"].get("failed", 0) == 0


async def test_a_suspended_job_runs_nothing_until_resumed(client: ApiClient) -> None:
    async with running(client, JobController), kubelet(client, lambda pod: SUCCEED):
        created = await client.create(JOBS, job("later", suspend=True), "default")

        async def suspended() -> dict[str, Any] | None:
            j = await client.get(JOBS, "later", "default")
            condition = conditions(j).get("Suspended")
            return j if condition and condition["status"] == "True" else None

        j = await eventually(suspended, "the Suspended condition")
        assert conditions(j)["Suspended"]["reason"] == "JobSuspended"
        assert "startTime" not in j["status"] and await job_pods(client, created) == []

        await client.patch(JOBS, "later", {"spec": {"suspend": False}}, "default")
        j = await eventually(lambda: finished(client, "later", "Complete"), "the Job complete after resume")
        assert (conditions(j)["Suspended"]["status"], conditions(j)["Suspended"]["reason"]) == ("False",
                                                                                              "JobResumed")


async def test_a_deleted_job_leaves_no_finalizer_behind(client: ApiClient) -> None:
    async with running(client, JobController), kubelet(client, lambda pod: RUNNING):
        created = await client.create(JOBS, job("gone", parallelism=2, completions=2), "default")
        pods = await eventually(lambda: _running_pods(client, created, 2), "two pods running")
        assert all(TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in pods)
        await client.delete(JOBS, "gone", "default", propagation_policy="Orphan")

        async def released() -> list[dict[str, Any]] | None:
            current = await job_pods(client, created)
            clean = [p for p in current if TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or [])]
            return clean if len(clean) == 2 else None

        await eventually(released, "the job-tracking finalizer removed from both pods")


async def test_ttl_after_finished_deletes_the_job(client: ApiClient) -> None:
    async with running(client, JobController), kubelet(client, lambda pod: SUCCEED):
        await client.create(JOBS, job("brief", ttlSecondsAfterFinished=0), "default")

        async def deleted() -> bool:
            j = await get_or_none(client, JOBS, "brief", "default")
            return j is None or bool(j["metadata"].get("deletionTimestamp"))

        await eventually(deleted, "the finished Job deleted")
