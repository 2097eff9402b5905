"""The garbage collector follows ownerReferences: Background and Foreground deletion cascade, Orphan leaves the
dependents without their reference, and an owner is gone when its uid is gone, whatever holds its name now."""

from __future__ import annotations

from typing import Any

from provisioner.services.client import ApiClient
from provisioner.services.controllers.garbagecollector import GarbageCollector
from tests.unit.controllers.conftest import create_pod, eventually, get_or_none, owner_ref, resource, running

DEPLOYMENTS = resource("deployments", "apps")
REPLICASETS = resource("replicasets", "apps")
PODS = resource("pods")
CONFIGMAPS = resource("configmaps")
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def deployment_tree(client: ApiClient, name: str = "web", pods: int = 2) -> tuple[dict, dict, list[dict]]:
    """A Deployment, its ReplicaSet and pods, owned as the workload controllers own them."""
    deployment = await client.create(DEPLOYMENTS, {
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}, "default")
    replica_set = await client.create(REPLICASETS, {
        "metadata": {"name": f"{name}-abc", "ownerReferences": [owner_ref(deployment)]},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}}, "default")
    members = [await create_pod(client, f"{name}-abc-{n}", labels={"app": "web"}, owner=owner_ref(replica_set))
               for n in range(pods)]
    return deployment, replica_set, members


async def gone(client: ApiClient, res, name: str) -> bool:
    return await get_or_none(client, res, name, "default") is None


async def all_gone(client: ApiClient, objects: list[tuple[Any, str]]) -> bool:
    return all([await gone(client, res, name) for res, name in objects])


async def test_background_deletion_cascades_through_replica_sets_to_pods(client: ApiClient) -> None:
    _, replica_set, members = await deployment_tree(client)
    bystander = await create_pod(client, "bystander", labels={"app": "web"})
    async with running(client, GarbageCollector):
        await client.delete(DEPLOYMENTS, "web", "default", propagation_policy="Background")
        await eventually(lambda: all_gone(client, [(REPLICASETS, replica_set["metadata"]["name"])] +
                                          [(PODS, p["metadata"]["name"]) for p in members]),
                         "the replica set and its pods deleted")
    assert await get_or_none(client, PODS, bystander["metadata"]["name"], "default") is not None


async def test_orphan_deletion_keeps_dependents_without_their_owner_reference(client: ApiClient) -> None:
    deployment, replica_set, members = await deployment_tree(client)
    async with running(client, GarbageCollector):
        await client.delete(REPLICASETS, replica_set["metadata"]["name"], "default", propagation_policy="Orphan")
        await eventually(lambda: gone(client, REPLICASETS, replica_set["metadata"]["name"]),
                         "the orphaning replica set removed")
        for pod in members:
            kept = await client.get(PODS, pod["metadata"]["name"], "default")
            assert not kept["metadata"].get("ownerReferences")
    assert await get_or_none(client, DEPLOYMENTS, deployment["metadata"]["name"], "default") is not None


async def test_foreground_deletion_waits_for_blocking_dependents(client: ApiClient) -> None:
    _, replica_set, members = await deployment_tree(client)
    # One pod cannot go yet (a finalizer holds it): the foreground deletion must wait for it.
    await client.patch(PODS, members[0]["metadata"]["name"], {"metadata": {"finalizers": ["example.com/hold"]}},
                       "default")
    async with running(client, GarbageCollector):
        await client.delete(DEPLOYMENTS, "web", "default", propagation_policy="Foreground")
        await eventually(lambda: gone(client, PODS, members[1]["metadata"]["name"]), "the free pod deleted")
        held = await eventually(lambda: _deleting(client, PODS, members[0]["metadata"]["name"]),
                                "the held pod marked for deletion")
        assert held["metadata"]["finalizers"] == ["example.com/hold"]
        # Owners wait, in the foreground, for what they own.
        for res, name in ((REPLICASETS, replica_set["metadata"]["name"]), (DEPLOYMENTS, "web")):
            waiting = await client.get(res, name, "default")
            assert waiting["metadata"]["deletionTimestamp"] and waiting["metadata"]["finalizers"] == [
                "foregroundDeletion"], name

        await client.patch(PODS, members[0]["metadata"]["name"], {"metadata": {"finalizers": None}}, "default")
        await eventually(lambda: all_gone(client, [(DEPLOYMENTS, "web"),
                                                   (REPLICASETS, replica_set["metadata"]["name"]),
                                                   (PODS, members[0]["metadata"]["name"])]),
                         "the whole tree gone, owner last")


async def test_an_owner_is_gone_when_its_uid_is_gone(client: ApiClient) -> None:
    owner = await client.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, "default")
    impostor_ref = {**owner_ref(owner), "uid": "0c1c8a40-0000-4000-8000-000000000000"}  # same name, other uid
    await client.create(CONFIGMAPS, {"metadata": {"name": "of-impostor", "ownerReferences": [impostor_ref]}},
                        "default")
    await client.create(CONFIGMAPS, {"metadata": {"name": "of-owner", "ownerReferences": [owner_ref(owner)]}},
                        "default")
    await client.create(CONFIGMAPS, {"metadata": {"name": "of-both",
                                                  "ownerReferences": [owner_ref(owner, controller=False),
                                                                      {**impostor_ref, "controller": False}]}},
                        "default")
    async with running(client, GarbageCollector):
        await eventually(lambda: gone(client, CONFIGMAPS, "of-impostor"), "the dependent of a vanished uid deleted")
        both = await eventually(lambda: _with_owners(client, "of-both", 1), "the dangling reference removed")
        assert both["metadata"]["ownerReferences"][0]["uid"] == owner["metadata"]["uid"]
        assert await get_or_none(client, CONFIGMAPS, "of-owner", "default") is not None

        await client.delete(CONFIGMAPS, "owner", "default")
        await client.create(CONFIGMAPS, {"metadata": {"name": "owner"}}, "default")  # the name, a new uid
        await eventually(lambda: all_gone(client, [(CONFIGMAPS, "of-owner"), (CONFIGMAPS, "of-both")]),
                         "dependents of the deleted owner gone although its name is taken again")


async def _deleting(client: ApiClient, res, name: str) -> dict | None:
    obj = await get_or_none(client, res, name, "default")
    return obj if obj and obj["metadata"].get("deletionTimestamp") else None


async def _with_owners(client: ApiClient, name: str, count: int) -> dict | None:
    obj = await get_or_none(client, CONFIGMAPS, name, "default")
    return obj if obj and len(obj["metadata"].get("ownerReferences") or []) == count else None
