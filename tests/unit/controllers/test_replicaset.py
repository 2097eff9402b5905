"""ReplicaSet and ReplicationController controllers against a real in-process apiserver: they converge on
spec.replicas (the seeds' "fewer pods → created, more → deleted"), adopt and release by selector, delete the
least useful pods first, and report status the way kubectl reads it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient, EventRecorder, InformerFactory
from provisioner.services.controllers.base import ControllerContext, ControllerOptions
from provisioner.services.controllers.replicaset import ReplicaSetController, ReplicationControllerController
from tests.unit.controllers.conftest import events_for, eventually, resource, running
from tests.unit.controllers.fake_kubelet import READY, RUNNING, kubelet

PODS = resource("pods")
REPLICA_SETS = resource("replicasets", "apps")
RCS = resource("replicationcontrollers")


def replica_set(name: str, replicas: int, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "web", "image": "busybox"}]}}, **spec}}


async def owned_pods(client: ApiClient, owner: dict[str, Any], namespace: str = "default") -> list[dict[str, Any]]:
    items, _ = await client.list_all(PODS, namespace)
    uid = owner["metadata"]["uid"]
    return [p for p in items if any(r.get("uid") == uid and r.get("controller") for r in
                                    p["metadata"].get("ownerReferences") or [])
            and not p["metadata"].get("deletionTimestamp")]


async def with_pods(client: ApiClient, owner: dict[str, Any], count: int) -> list[dict[str, Any]] | None:
    pods = await owned_pods(client, owner)
    return pods if len(pods) == count else None


async def status_is(client: ApiClient, res: Any, name: str, **expected: int) -> dict[str, Any] | None:
    obj = await client.get(res, name, "default")
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"]["generation"]:
        return None
    return obj if all(int(status.get(k) or 0) == v for k, v in expected.items()) else None


async def test_replicaset_converges_up_and_down_and_replaces_a_deleted_pod(client: ApiClient) -> None:
    async with running(client, ReplicaSetController), kubelet(client):
        rs = await client.create(REPLICA_SETS, replica_set("web", 3), "default")
        pods = await eventually(lambda: with_pods(client, rs, 3), "three pods")
        for pod in pods:
            assert pod["metadata"]["name"].startswith("web-")
            assert pod["metadata"]["labels"] == {"app": "web"}
            ref = pod["metadata"]["ownerReferences"][0]
            assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                           "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
        await eventually(lambda: status_is(client, REPLICA_SETS, "web", replicas=3, fullyLabeledReplicas=3,
                                           readyReplicas=3, availableReplicas=3), "status of three ready pods")

        victim = pods[0]["metadata"]["name"]
        await client.delete(PODS, victim, "default")
        replaced = await eventually(lambda: _pods_without(client, rs, victim, 3), "a replacement pod")
        assert victim not in {p["metadata"]["name"] for p in replaced}

        await client.patch(REPLICA_SETS, "web", {"spec": {"replicas": 1}}, "default")
        await eventually(lambda: with_pods(client, rs, 1), "scaled down to one pod")
        await eventually(lambda: status_is(client, REPLICA_SETS, "web", replicas=1, readyReplicas=1,
                                           availableReplicas=1), "status after scale-down")
        reasons = {e["reason"] for e in await events_for(client, "web")}
        assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


async def _pods_without(client: ApiClient, owner: dict[str, Any], gone: str, count: int) -> list | None:
    pods = await owned_pods(client, owner)
    names = {p["metadata"]["name"] for p in pods}
    return pods if len(pods) == count and gone not in names else None


async def test_replication_controller_seed_steps_fewer_created_more_deleted(client: ApiClient) -> None:
    rc = {"metadata": {"name": "nginx"},
          "spec": {"replicas": 2, "selector": {"app": "nginx"},
                   "template": {"metadata": {"labels": {"app": "nginx"}},
                                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}
    async with running(client, ReplicationControllerController), kubelet(client):
        created = await client.create(RCS, rc, "default")
        first = await eventually(lambda: with_pods(client, created, 2), "two pods")
        assert first[0]["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"

        # More pods than wanted: a hand-made pod with matching labels is adopted, then one pod goes.
        stray = await client.create(PODS, {"metadata": {"name": "stray", "labels": {"app": "nginx"}},
                                           "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}},
                                    "default")
        assert not stray["metadata"].get("ownerReferences")
        await eventually(lambda: _adopted_then_trimmed(client, created), "stray adopted and one pod deleted")

        # Fewer pods than wanted: delete both, two new ones appear.
        for pod in await owned_pods(client, created):
            await client.delete(PODS, pod["metadata"]["name"], "default")
        await eventually(lambda: with_pods(client, created, 2), "two pods again")
        await eventually(lambda: status_is(client, RCS, "nginx", replicas=2, readyReplicas=2,
                                           availableReplicas=2), "RC status")


async def _adopted_then_trimmed(client: ApiClient, rc: dict[str, Any]) -> bool:
    items, _ = await client.list_all(PODS, "default")
    live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
    stray = [p for p in items if p["metadata"]["name"] == "stray"]
    adopted = not stray or any(r.get("uid") == rc["metadata"]["uid"] for r in
                               stray[0]["metadata"].get("ownerReferences") or [])
    return adopted and len(live) == 2 and len(await owned_pods(client, rc)) == 2


async def test_scale_down_deletes_pods_that_are_not_ready_first(client: ApiClient) -> None:
    # The second pod the kubelet sees runs but never becomes ready: it is the one to go.
    handled: list[str] = []

    def decide(pod: dict[str, Any]) -> str:
        handled.append(pod["metadata"]["name"])
        return RUNNING if len(handled) == 2 else READY

    async with running(client, ReplicaSetController), kubelet(client, decide):
        rs = await client.create(REPLICA_SETS, replica_set("api", 3), "default")
        await eventually(lambda: status_is(client, REPLICA_SETS, "api", replicas=3, readyReplicas=2),
                         "two of three ready")
        unready = handled[1]
        await client.patch(REPLICA_SETS, "api", {"spec": {"replicas": 2}}, "default")
        remaining = await eventually(lambda: with_pods(client, rs, 2), "two pods left")
        assert unready not in {p["metadata"]["name"] for p in remaining}
        assert all(c["status"] == "True" for p in remaining for c in p["status"]["conditions"]
                   if c["type"] == "Ready")


async def test_a_pod_relabelled_out_of_the_selector_is_released_and_replaced(client: ApiClient) -> None:
    async with running(client, ReplicaSetController), kubelet(client):
        rs = await client.create(REPLICA_SETS, replica_set("cache", 2), "default")
        pods = await eventually(lambda: with_pods(client, rs, 2), "two pods")
        name = pods[0]["metadata"]["name"]
        await client.patch(PODS, name, {"metadata": {"labels": {"app": "debugging"}}}, "default")

        async def released() -> dict[str, Any] | None:
            pod = await client.get(PODS, name, "default")
            return pod if not pod["metadata"].get("ownerReferences") else None

        orphan = await eventually(released, "the relabelled pod released")
        assert orphan["metadata"]["labels"] == {"app": "debugging"}
        fresh = await eventually(lambda: with_pods(client, rs, 2), "a replacement")
        assert name not in {p["metadata"]["name"] for p in fresh}


async def test_min_ready_seconds_delays_availability(client: ApiClient) -> None:
    async with running(client, ReplicaSetController), kubelet(client):
        rs = await client.create(REPLICA_SETS, replica_set("slow", 1, minReadySeconds=1), "default")
        await eventually(lambda: status_is(client, REPLICA_SETS, "slow", availableReplicas=1),
                         "available after minReadySeconds")
        # Availability was reported only once the pod had been ready for longer than minReadySeconds.
        [pod] = await owned_pods(client, rs)
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        became_ready = datetime.fromisoformat(ready["lastTransitionTime"].replace("Z", "+00:00"))
        assert (datetime.now(UTC) - became_ready).total_seconds() > 1


class FailingPodCreates(ApiClient):
    """The apiserver as a namespace over its pod quota would answer: every pod creation is refused."""

    refuse = True
    attempts = 0

    async def create(self, res: Any, obj: dict[str, Any], namespace: str = "", **kwargs: Any) -> dict[str, Any]:
        if res.plural == "pods" and not kwargs.get("subresource") and self.refuse:
            self.attempts += 1
            raise ApiError(403, 'pods "x" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=0, '
                                'limited: pods=0', "Forbidden")
        return await super().create(res, obj, namespace, **kwargs)


async def test_failed_creations_set_replica_failure_and_slow_start_limits_attempts(apiserver: Any) -> None:
    from provisioner.services.client import ClientConfig

    config = ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])
    async with FailingPodCreates(config) as client, running(client, ReplicaSetController):
        await client.create(REPLICA_SETS, replica_set("quota", 20), "default")

        async def failure() -> dict[str, Any] | None:
            rs = await client.get(REPLICA_SETS, "quota", "default")
            conditions = (rs.get("status") or {}).get("conditions") or []
            return next((c for c in conditions if c["type"] == "ReplicaFailure"), None)

        condition = await eventually(failure, "the ReplicaFailure condition")
        assert condition["status"] == "True" and condition["reason"] == "FailedCreate"
        assert "exceeded quota" in condition["message"]
        # Slow start: a first batch of one failed, so one sync cost one request, not twenty.
        assert client.attempts < 20

        client.refuse = False
        await client.patch(REPLICA_SETS, "quota", {"spec": {"replicas": 2}}, "default")

        async def recovered() -> bool:
            rs = await client.get(REPLICA_SETS, "quota", "default")
            status = rs.get("status") or {}
            return status.get("replicas") == 2 and not status.get("conditions")

        await eventually(recovered, "pods created and the condition cleared")


async def test_a_sync_with_a_lagging_cache_does_not_create_pods_twice(client: ApiClient) -> None:
    # The pod cache is frozen after its first list: the controller never sees the pods it creates. A second
    # sync must trust its expectations rather than the cache.
    factory = InformerFactory(client)
    controller = ReplicaSetController(ControllerContext(client, factory, EventRecorder(client, "test"),
                                                        ControllerOptions(workers=1)))
    owners = asyncio.create_task(controller.owners.run())
    pods = asyncio.create_task(controller.pods.run())
    try:
        await controller.pods.wait_synced()
        pods.cancel()
        rs = await client.create(REPLICA_SETS, replica_set("frozen", 5), "default")
        await eventually(lambda: _cached(controller, "default/frozen"), "the ReplicaSet in the cache")
        await controller.reconcile("default/frozen")
        await eventually(lambda: _status_cached(controller, "default/frozen"), "our status write in the cache")
        again = await controller.reconcile("default/frozen")
        assert len(await owned_pods(client, rs)) == 5
        assert again is not None and again > 0  # looks again when the expectations would expire
    finally:
        for task in (owners, pods):
            task.cancel()
        await asyncio.gather(owners, pods, return_exceptions=True)


async def _cached(controller: ReplicaSetController, key: str) -> bool:
    return controller.owners.store.get(key) is not None


async def _status_cached(controller: ReplicaSetController, key: str) -> bool:
    return ((controller.owners.store.get(key) or {}).get("status") or {}).get("observedGeneration") == 1
