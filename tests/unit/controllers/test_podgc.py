"""Pod GC removes pods no kubelet will ever finish: on deleted or out-of-service nodes, and finished pods beyond
the threshold (oldest first)."""

from __future__ import annotations

from provisioner.services.client import ApiClient
from provisioner.services.controllers.base import ControllerOptions
from provisioner.services.controllers.podgc import PodGarbageCollector
from tests.unit.controllers.conftest import (
    create_pod,
    eventually,
    get_or_none,
    idle,
    resource,
    running,
    set_pod_status,
)

PODS = resource("pods")
NODES = resource("nodes")


async def gone(client: ApiClient, name: str) -> bool:
    return await get_or_none(client, PODS, name, "default") is None


async def test_pods_of_deleted_nodes_are_failed_and_force_deleted(client: ApiClient) -> None:
    await client.create(NODES, {"metadata": {"name": "node-1"}})
    await create_pod(client, "on-ghost", node="ghost")
    # A finalizer keeps this one visible after its deletion, to show how it was left.
    await create_pod(client, "on-ghost-held", node="ghost")
    await client.patch(PODS, "on-ghost-held", {"metadata": {"finalizers": ["example.com/hold"]}}, "default")
    await set_pod_status(client, "on-ghost-held", ip="10.244.9.9", ready=True)
    await create_pod(client, "on-node-1", node="node-1")
    async with running(client, PodGarbageCollector):
        await eventually(lambda: gone(client, "on-ghost"), "the pod of a missing node deleted")
        held = await eventually(lambda: _deleting(client, "on-ghost-held"), "the held pod deleted")
        assert held["status"]["phase"] == "Failed"
        (condition,) = [c for c in held["status"]["conditions"] if c["type"] == "DisruptionTarget"]
        assert (condition["status"], condition["reason"], condition["message"]) == (
            "True", "DeletionByPodGC", "PodGC: node no longer exists")
        assert held["metadata"]["deletionGracePeriodSeconds"] == 0
        assert await get_or_none(client, PODS, "on-node-1", "default") is not None

        await client.delete(NODES, "node-1")
        await eventually(lambda: gone(client, "on-node-1"), "the pod of the node deleted later")
        await client.patch(PODS, "on-ghost-held", {"metadata": {"finalizers": None}}, "default")


async def test_terminating_pods_on_an_out_of_service_node_are_force_deleted(client: ApiClient) -> None:
    await client.create(NODES, {"metadata": {"name": "healthy"}})
    await client.create(NODES, {"metadata": {"name": "dead"}, "spec": {"taints": [
        {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}]}})
    await client.update(NODES, {**await client.get(NODES, "dead"), "status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]}}, subresource="status")
    await create_pod(client, "stuck", node="dead")
    await create_pod(client, "draining", node="healthy")
    await client.delete(PODS, "stuck", "default")  # bound: both wait for a kubelet to confirm
    await client.delete(PODS, "draining", "default")
    async with running(client, PodGarbageCollector) as (collector,):
        await eventually(lambda: gone(client, "stuck"), "the pod stuck on the out-of-service node removed")
        await idle(collector.pod_loop)  # the healthy node's pod is left to its kubelet
        assert (await client.get(PODS, "draining", "default"))["metadata"]["deletionTimestamp"]


async def test_finished_pods_beyond_the_threshold_go_oldest_first_evicted_before_all(client: ApiClient) -> None:
    for n in range(5):
        await create_pod(client, f"done-{n}")
        await set_pod_status(client, f"done-{n}", phase="Succeeded" if n % 2 else "Failed")
    await create_pod(client, "evicted-late")
    await client.patch(PODS, "evicted-late", {"status": {"phase": "Failed", "reason": "Evicted"}}, "default",
                       patch_type="strategic", subresource="status")
    await create_pod(client, "running")
    await set_pod_status(client, "running", ip="10.244.0.3", ready=True)
    async with running(client, PodGarbageCollector, options=ControllerOptions(terminated_pod_gc_threshold=3)):
        await eventually(lambda: _names_left(client, 4), "three finished pods and the running one left")
        assert set(await _names(client)) == {"done-2", "done-3", "done-4", "running"}


async def _deleting(client: ApiClient, name: str) -> dict | None:
    pod = await get_or_none(client, PODS, name, "default")
    return pod if pod and pod["metadata"].get("deletionTimestamp") else None


async def _names(client: ApiClient) -> list[str]:
    items, _ = await client.list_all(PODS, "default")
    return [p["metadata"]["name"] for p in items]


async def _names_left(client: ApiClient, count: int) -> bool:
    return len(await _names(client)) == count
