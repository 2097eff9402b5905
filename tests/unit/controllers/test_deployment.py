"""The Deployment controller with the ReplicaSet controller and a fake kubelet, against a real in-process
apiserver: rollouts as ``kubectl rollout status`` judges them, rolling updates that keep maxSurge and
maxUnavailable at every observed step, rollback as ``kubectl rollout undo`` does it, restart, history cleanup,
pause/resume, the progress deadline, proportional scaling mid-rollout and Recreate."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from provisioner.services.client import ApiClient, Handler, Informer
from provisioner.services.controllers.controllerutil import compute_hash
from provisioner.services.controllers.deployment import DeploymentController
from provisioner.services.controllers.replicaset import ReplicaSetController
from tests.unit.controllers.conftest import events_for, eventually, resource, running
from tests.unit.controllers.fake_kubelet import PENDING, READY, kubelet

PODS = resource("pods")
DEPLOYMENTS = resource("deployments", "apps")
REPLICA_SETS = resource("replicasets", "apps")

REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def deployment(name: str, replicas: int, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "annotations": {CHANGE_CAUSE: f"create {image}", LAST_APPLIED: "{}"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}, **spec}}


def rolling(surge: Any, unavailable: Any) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}


def rollout_status(d: dict[str, Any]) -> tuple[bool, str]:
    """kubectl's DeploymentStatusViewer: (done, message)."""
    status, name = d.get("status") or {}, d["metadata"]["name"]
    if d["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return False, "Waiting for deployment spec update to be observed..."
    progressing = next((c for c in status.get("conditions") or [] if c["type"] == "Progressing"), None)
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, f'deployment "{name}" exceeded its progress deadline'
    desired, updated = d["spec"].get("replicas", 1), status.get("updatedReplicas", 0)
    if updated < desired:
        return False, f"{updated} out of {desired} new replicas have been updated..."
    if status.get("replicas", 0) > updated:
        return False, f"{status.get('replicas', 0) - updated} old replicas are pending termination..."
    if status.get("availableReplicas", 0) < updated:
        return False, f"{status.get('availableReplicas', 0)} of {updated} updated replicas are available..."
    return True, f'deployment "{name}" successfully rolled out'


async def rolled_out(client: ApiClient, name: str) -> dict[str, Any] | None:
    d = await client.get(DEPLOYMENTS, name, "default")
    done, _ = rollout_status(d)
    return d if done else None


async def replica_sets_of(client: ApiClient, d: dict[str, Any]) -> list[dict[str, Any]]:
    items, _ = await client.list_all(REPLICA_SETS, "default")
    uid = d["metadata"]["uid"]
    return sorted((rs for rs in items if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])),
                  key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))


def condition(d: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in d["status"]["conditions"] if c["type"] == kind)


async def set_image(client: ApiClient, name: str, image: str) -> None:
    """What `kubectl set image` (and `--record`-style change-cause) sends."""
    await client.patch(DEPLOYMENTS, name, {"metadata": {"annotations": {CHANGE_CAUSE: f"set image {image}"}},
                                           "spec": {"template": {"spec": {
                                               "$setElementOrder/containers": [{"name": "web"}],
                                               "containers": [{"image": image, "name": "web"}]}}}},
                       "default", patch_type="strategic")


@contextlib.asynccontextmanager
async def cluster(client: ApiClient, decide: Any = None, start_delay: float = 0.0) -> AsyncIterator[None]:
    async with running(client, DeploymentController, ReplicaSetController), \
            kubelet(client, decide, start_delay=start_delay):
        yield


async def test_a_new_deployment_rolls_out_through_a_hashed_replica_set(client: ApiClient) -> None:
    async with cluster(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 3), "default")
        d = await eventually(lambda: rolled_out(client, "web"), "rollout status: successfully rolled out")
        [rs] = await replica_sets_of(client, created)

        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{pod_hash}"
        assert pod_hash == compute_hash(created["spec"]["template"])  # stable: recomputable from the template
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert rs["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": created["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}]
        annotations = rs["metadata"]["annotations"]
        assert annotations[REVISION] == "1"
        assert annotations["deployment.kubernetes.io/desired-replicas"] == "3"
        assert annotations["deployment.kubernetes.io/max-replicas"] == "4"  # 25% of 3, rounded up
        assert annotations[CHANGE_CAUSE] == "create nginx:1.25"
        assert LAST_APPLIED not in annotations

        assert d["metadata"]["annotations"][REVISION] == "1"
        status = d["status"]
        assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
                status["availableReplicas"]) == (3, 3, 3, 3)
        assert status.get("unavailableReplicas", 0) == 0
        available, progressing = condition(d, "Available"), condition(d, "Progressing")
        assert (available["status"], available["reason"], available["message"]) == (
            "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        assert (progressing["status"], progressing["reason"], progressing["message"]) == (
            "True", "NewReplicaSetAvailable", f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.')
        messages = [e["message"] for e in await events_for(client, "web")]
        assert f"Scaled up replica set {rs['metadata']['name']} from 0 to 3" in messages


class RolloutWatch:
    """Checks, at every ReplicaSet or pod event it observes, that the ReplicaSets never ask for more than
    replicas + maxSurge pods and (once armed) that no fewer than replicas − maxUnavailable pods are ready."""

    def __init__(self, client: ApiClient, desired: int, surge: int, unavailable: int) -> None:
        self.desired, self.surge, self.unavailable = desired, surge, unavailable
        self.replica_sets = Informer(client, REPLICA_SETS, "default")
        self.pods = Informer(client, PODS, "default")
        for informer in (self.replica_sets, self.pods):
            informer.add_handler(Handler(on_add=lambda _: self.check(), on_update=lambda *_: self.check(),
                                         on_delete=lambda _: self.check()))
        self.armed = False
        self.violations: list[str] = []
        self.mixed_states: set[tuple[int, ...]] = set()  # sizes seen while old and new both had replicas

    def check(self) -> None:
        sizes = tuple(rs["spec"]["replicas"] for rs in sorted(self.replica_sets.store.list(),
                                                              key=lambda r: r["metadata"]["creationTimestamp"]))
        if sum(sizes) > self.desired + self.surge:
            self.violations.append(f"replica sets sized {sizes}: over {self.desired} + {self.surge}")
        if sum(1 for s in sizes if s) > 1:
            self.mixed_states.add(sizes)
        ready = [p for p in self.pods.store.list() if not p["metadata"].get("deletionTimestamp") and any(
            c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])]
        if self.armed and len(ready) < self.desired - self.unavailable:
            self.violations.append(f"only {len(ready)} ready pods (sizes {sizes})")

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[RolloutWatch]:
        tasks = [asyncio.create_task(i.run()) for i in (self.replica_sets, self.pods)]
        try:
            await asyncio.gather(self.replica_sets.wait_synced(), self.pods.wait_synced())
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_set_image_rolls_within_max_surge_and_max_unavailable_at_every_step(client: ApiClient) -> None:
    watch = RolloutWatch(client, desired=4, surge=1, unavailable=1)
    # Pods take a while to become ready, so the controllers see them unready and must wait for them.
    async with cluster(client, start_delay=0.1), watch.watching():
        created = await client.create(DEPLOYMENTS, deployment("web", 4, strategy=rolling(1, 1)), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        watch.armed = True

        await set_image(client, "web", "nginx:1.26")
        d = await eventually(lambda: _rolled_out_at_revision(client, "web", "2"), "second rollout")
        old, new = await replica_sets_of(client, created)
        assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 4
        assert new["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
        assert (old["metadata"]["annotations"][REVISION], new["metadata"]["annotations"][REVISION]) == ("1", "2")
        assert new["metadata"]["annotations"][CHANGE_CAUSE] == "set image nginx:1.26"
        assert d["status"]["updatedReplicas"] == 4 and d["status"]["replicas"] == 4
        assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
        assert not watch.violations, watch.violations
        assert watch.mixed_states, "the update happened in steps, old and new side by side"


async def _rolled_out_at_revision(client: ApiClient, name: str, revision: str) -> dict[str, Any] | None:
    d = await rolled_out(client, name)
    return d if d and d["metadata"]["annotations"].get(REVISION) == revision else None


async def kubectl_rollout_undo(client: ApiClient, d: dict[str, Any], to_revision: int) -> None:
    """What `kubectl rollout undo --to-revision` sends: the old template (hash label removed) and annotations."""
    skip = {LAST_APPLIED, REVISION, "deployment.kubernetes.io/revision-history",
            "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
            "deprecated.deployment.rollback.to"}
    target = next(rs for rs in await replica_sets_of(client, d)
                  if rs["metadata"]["annotations"][REVISION] == str(to_revision))
    template = target["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash")
    current = await client.get(DEPLOYMENTS, d["metadata"]["name"], "default")
    annotations = {k: v for k, v in current["metadata"]["annotations"].items() if k in skip}
    annotations.update({k: v for k, v in target["metadata"]["annotations"].items() if k not in skip})
    await client.patch(DEPLOYMENTS, d["metadata"]["name"],
                       [{"op": "replace", "path": "/spec/template", "value": template},
                        {"op": "replace", "path": "/metadata/annotations", "value": annotations}],
                       "default", patch_type="json")


async def test_rollout_undo_returns_to_the_old_replica_set_with_the_next_revision(client: ApiClient) -> None:
    async with cluster(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 2), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        await set_image(client, "web", "nginx:1.26")
        await eventually(lambda: _rolled_out_at_revision(client, "web", "2"), "second rollout")
        first, second = await replica_sets_of(client, created)

        await kubectl_rollout_undo(client, created, to_revision=1)
        d = await eventually(lambda: _rolled_out_at_revision(client, "web", "3"), "rolled back")
        replica_sets = await replica_sets_of(client, created)
        assert [rs["metadata"]["name"] for rs in replica_sets] == [second["metadata"]["name"],
                                                                   first["metadata"]["name"]]  # no third RS
        back = replica_sets[-1]
        assert back["metadata"]["annotations"][REVISION] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert back["spec"]["replicas"] == 2 and replica_sets[0]["spec"]["replicas"] == 0
        assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
        # `kubectl rollout history`: revision → change-cause, from the ReplicaSets.
        history = {rs["metadata"]["annotations"][REVISION]: rs["metadata"]["annotations"].get(CHANGE_CAUSE)
                   for rs in replica_sets}
        assert history == {"2": "set image nginx:1.26", "3": "create nginx:1.25"}


async def test_restart_makes_a_new_replica_set_and_history_limit_removes_the_oldest(client: ApiClient) -> None:
    async with cluster(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 1, revisionHistoryLimit=1), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        for revision, moment in ((2, "2026-01-01T00:00:00Z"), (3, "2026-01-02T00:00:00Z")):
            # What `kubectl rollout restart` sends.
            await client.patch(DEPLOYMENTS, "web", {"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": moment}}}}}, "default", patch_type="strategic")
            await eventually(lambda r=revision: _rolled_out_at_revision(client, "web", str(r)),
                             f"rollout of revision {revision}")

        async def trimmed() -> list[dict[str, Any]] | None:
            replica_sets = await replica_sets_of(client, created)
            return replica_sets if len(replica_sets) == 2 else None

        kept = await eventually(trimmed, "only the current and one old revision kept")
        assert [rs["metadata"]["annotations"][REVISION] for rs in kept] == ["2", "3"]
        assert kept[1]["spec"]["template"]["metadata"]["annotations"] == {
            "kubectl.kubernetes.io/restartedAt": "2026-01-02T00:00:00Z"}


async def test_a_paused_deployment_does_not_roll_until_resumed(client: ApiClient) -> None:
    async with cluster(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 2), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        await client.patch(DEPLOYMENTS, "web", {"spec": {"paused": True}}, "default")
        await set_image(client, "web", "nginx:1.26")

        async def paused_observed() -> dict[str, Any] | None:
            d = await client.get(DEPLOYMENTS, "web", "default")
            observed = d["status"].get("observedGeneration") == d["metadata"]["generation"]
            return d if observed and condition(d, "Progressing")["reason"] == "DeploymentPaused" else None

        d = await eventually(paused_observed, "the paused spec observed")
        assert condition(d, "Progressing")["status"] == "Unknown"
        assert condition(d, "Progressing")["message"] == "Deployment is paused"
        assert len(await replica_sets_of(client, created)) == 1  # no rollout while paused
        assert rollout_status(d) == (False, "0 out of 2 new replicas have been updated...")

        await client.patch(DEPLOYMENTS, "web", {"spec": {"paused": False}}, "default")
        d = await eventually(lambda: _rolled_out_at_revision(client, "web", "2"), "rollout after resume")
        assert len(await replica_sets_of(client, created)) == 2
        assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_a_stuck_rollout_exceeds_its_progress_deadline(client: ApiClient) -> None:
    async with cluster(client, decide=lambda pod: PENDING):  # pods never start
        await client.create(DEPLOYMENTS, deployment("web", 2, progressDeadlineSeconds=1), "default")

        async def timed_out() -> dict[str, Any] | None:
            d = await client.get(DEPLOYMENTS, "web", "default")
            progressing = next((c for c in (d.get("status") or {}).get("conditions") or []
                                if c["type"] == "Progressing"), None)
            return d if progressing and progressing["reason"] == "ProgressDeadlineExceeded" else None

        d = await eventually(timed_out, "Progressing=False ProgressDeadlineExceeded")
        [rs] = await replica_sets_of(client, d)
        progressing, available = condition(d, "Progressing"), condition(d, "Available")
        assert progressing["status"] == "False"
        assert progressing["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
        assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
        assert d["status"]["unavailableReplicas"] == 2
        assert rollout_status(d) == (False, 'deployment "web" exceeded its progress deadline')


async def test_scaling_mid_rollout_spreads_replicas_proportionally(client: ApiClient) -> None:
    # Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2, the new image never becomes
    # ready; scaled to 15, the 5 extra replicas go 3 to the old ReplicaSet and 2 to the new one.
    def decide(pod: dict[str, Any]) -> str:
        return PENDING if pod["spec"]["containers"][0]["image"] == "nginx:broken" else READY

    async with cluster(client, decide):
        created = await client.create(DEPLOYMENTS, deployment("web", 10, strategy=rolling(3, 2)), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        await set_image(client, "web", "nginx:broken")

        async def sized(old: int, new: int) -> list[dict[str, Any]] | None:
            replica_sets = await replica_sets_of(client, created)
            sizes = [rs["spec"]["replicas"] for rs in replica_sets]
            return replica_sets if sizes == [old, new] else None

        await eventually(lambda: sized(8, 5), "stuck rollout: 8 old and 5 new")
        await client.patch(DEPLOYMENTS, "web", {"spec": {"replicas": 15}}, "default")
        old, new = await eventually(lambda: sized(11, 7), "proportionally scaled: 11 old and 7 new")
        for rs in (old, new):
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "15"
            assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "18"


async def test_recreate_removes_every_old_pod_before_creating_new_ones(client: ApiClient) -> None:
    images_alive: list[set[str]] = []

    async with cluster(client):
        created = await client.create(DEPLOYMENTS, deployment("web", 3, strategy={"type": "Recreate"}), "default")
        await eventually(lambda: rolled_out(client, "web"), "first rollout")
        pods = Informer(client, PODS, "default")
        pods.add_handler(Handler(on_add=lambda _: images_alive.append(_images(pods)),
                                 on_update=lambda *_: images_alive.append(_images(pods)),
                                 on_delete=lambda _: images_alive.append(_images(pods))))
        task = asyncio.create_task(pods.run())
        try:
            await set_image(client, "web", "nginx:1.26")
            await eventually(lambda: _rolled_out_at_revision(client, "web", "2"), "recreated")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        old, new = await replica_sets_of(client, created)
        assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    assert {"nginx:1.26"} in images_alive
    assert not [seen for seen in images_alive if len(seen) > 1], "old and new pods never run side by side"


def _images(pods: Informer) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in pods.store.list()
            if not p["metadata"].get("deletionTimestamp")}


def test_fenceposts_round_surge_up_and_unavailability_down() -> None:
    from provisioner.services.controllers.deployment import max_surge, max_unavailable, resolve_fenceposts

    def d(replicas: int, surge: Any, unavailable: Any) -> dict[str, Any]:
        return {"spec": {"replicas": replicas, "strategy": rolling(surge, unavailable)}}

    assert resolve_fenceposts(d(10, "25%", "25%")) == (3, 2)
    assert resolve_fenceposts(d(3, "25%", "25%")) == (1, 0)
    assert resolve_fenceposts(d(1, "0%", "10%")) == (0, 1)  # both zero: one may be unavailable
    assert (max_surge(d(4, 2, 1)), max_unavailable(d(4, 2, 1))) == (2, 1)
    assert max_unavailable(d(2, 0, 5)) == 2  # never more than the replicas
    recreate = {"spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}
    assert (max_surge(recreate), max_unavailable(recreate)) == (0, 0)


async def test_a_matching_orphan_replica_set_is_adopted_as_the_new_one(client: ApiClient) -> None:
    manifest = deployment("web", 2)
    template = {**manifest["spec"]["template"],
                "metadata": {"labels": {"app": "web", "pod-template-hash": "handmade"}}}
    orphan = await client.create(REPLICA_SETS, {
        "metadata": {"name": "web-handmade", "labels": {"app": "web", "pod-template-hash": "handmade"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "handmade"}},
                 "template": template}}, "default")
    async with cluster(client):
        created = await client.create(DEPLOYMENTS, manifest, "default")
        d = await eventually(lambda: rolled_out(client, "web"), "rolled out on the adopted ReplicaSet")
        [rs] = await replica_sets_of(client, created)
        assert rs["metadata"]["uid"] == orphan["metadata"]["uid"]
        assert rs["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
        assert rs["metadata"]["annotations"][REVISION] == "1" and d["metadata"]["annotations"][REVISION] == "1"
