"""The Node the kubelet registers, its status updates and its Lease: shapes as pure functions, then the behaviour
against an in-process apiserver with a node's own credentials (system:node:node-1), so the Node authorizer's rules
apply as they will on a machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from provisioner.services.api.status import ApiError
from provisioner.services.api.timestamps import parse_time
from provisioner.services.client import ApiClient, ClientConfig
from provisioner.services.kubelet.lease import LEASES, NodeLease
from provisioner.services.kubelet.node_status import NODES, NodeSettings, NodeStatusReporter, node_object
from provisioner.services.kubelet.sysinfo import Machine
from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.controllers.conftest import eventually

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
MACHINE = Machine(cpus=4, memory_ki=16318360, ephemeral_storage_ki=101430960, machine_id="m-1", system_uuid="u-1",
                  boot_id="b-1", kernel_version="6.1.0-18-amd64", os_image="Debian GNU/Linux 12 (bookworm)",
                  container_runtime_version="crun://1.8.1", architecture="arm64")
TAINT = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
SETTINGS = NodeSettings("node-1", "10.0.0.7", {"team": "infra", "kubernetes.io/hostname": "spoofed"}, (TAINT,))


# ------------------------------------------------------------------------------------------------- shapes
def test_node_object_carries_labels_taints_capacity_addresses_and_node_info() -> None:
    node = node_object(SETTINGS, MACHINE, NOW)
    assert node["metadata"]["name"] == "node-1"
    assert node["metadata"]["labels"] == {
        "team": "infra", "kubernetes.io/hostname": "node-1",  # the kubelet's own labels win
        "kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "arm64",
    }  # fmt: skip
    assert node["spec"] == {"taints": [TAINT]}
    status = node["status"]
    assert status["capacity"] == status["allocatable"] == {
        "cpu": "4", "memory": "16318360Ki", "pods": "110", "ephemeral-storage": "101430960Ki", "hugepages-2Mi": "0"}
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.0.0.7"},
                                   {"type": "Hostname", "address": "node-1"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"] == {
        "machineID": "m-1", "systemUUID": "u-1", "bootID": "b-1", "kernelVersion": "6.1.0-18-amd64",
        "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "crun://1.8.1",
        "kubeletVersion": "v1.37.0", "kubeProxyVersion": "v1.37.0", "operatingSystem": "linux",
        "architecture": "arm64",
    }  # fmt: skip
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == ("True", "KubeletReady",
                                                                               "2027-01-15T08:00:00Z")


def test_a_node_without_taints_has_an_empty_spec() -> None:
    assert node_object(NodeSettings("node-1", "10.0.0.7"), MACHINE, NOW)["spec"] == {}


# ------------------------------------------------------------------------------------ against an apiserver
@pytest.fixture
async def admin(apiserver: LocalApiserver) -> AsyncIterator[ApiClient]:
    async with ApiClient(ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])) as client:
        yield client


@pytest.fixture
async def kubelet(apiserver: LocalApiserver) -> AsyncIterator[ApiClient]:
    async with ApiClient(ClientConfig(server=apiserver.url, token=apiserver.tokens["node"])) as client:
        yield client


def conditions(node: dict) -> dict[str, dict]:
    return {c["type"]: c for c in node["status"]["conditions"]}


async def test_registering_creates_the_node(kubelet: ApiClient) -> None:
    reporter = NodeStatusReporter(kubelet, SETTINGS, MACHINE, update_frequency=60)
    await reporter.register()
    node = await kubelet.get(NODES, "node-1")
    assert reporter.registered.is_set() and reporter.uid == node["metadata"]["uid"]
    assert node["spec"]["taints"] == [TAINT]
    assert node["metadata"]["labels"]["team"] == "infra"
    assert conditions(node)["Ready"]["status"] == "True"


async def test_a_registered_node_gets_our_labels_merged_and_keeps_its_taints(admin: ApiClient,
                                                                            kubelet: ApiClient) -> None:
    await admin.create(NODES, {"metadata": {"name": "node-1", "labels": {"zone": "a", "team": "old"}},
                               "spec": {"taints": [{"key": "cordoned", "effect": "NoExecute"}]}})
    reporter = NodeStatusReporter(kubelet, SETTINGS, MACHINE, update_frequency=60)
    await reporter.register()
    node = await kubelet.get(NODES, "node-1")
    assert node["metadata"]["labels"]["zone"] == "a" and node["metadata"]["labels"]["team"] == "infra"
    assert node["spec"]["taints"] == [{"key": "cordoned", "effect": "NoExecute"}]  # not ours to change now
    assert node["status"]["nodeInfo"]["machineID"] == "m-1"
    assert conditions(node)["Ready"]["status"] == "True"


async def test_status_updates_refresh_heartbeats_and_transition_only_on_a_flip(admin: ApiClient,
                                                                               kubelet: ApiClient) -> None:
    reporter = NodeStatusReporter(kubelet, SETTINGS, MACHINE, update_frequency=0.05)
    await reporter.register()
    registered = conditions(await kubelet.get(NODES, "node-1"))
    # The node-lifecycle controller lost contact meanwhile, and others own conditions of their own.
    others = [{"type": "Ready", "status": "Unknown", "lastHeartbeatTime": "2020-01-01T00:00:00Z",
               "lastTransitionTime": "2020-01-01T00:00:00Z", "reason": "NodeStatusUnknown", "message": "gone"},
              {"type": "NetworkUnavailable", "status": "False", "lastHeartbeatTime": "2020-01-01T00:00:00Z",
               "lastTransitionTime": "2020-01-01T00:00:00Z", "reason": "RouteCreated", "message": "ok"}]
    await admin.patch(NODES, "node-1", {"status": {"conditions": others}}, patch_type="strategic",
                      subresource="status")
    running = asyncio.create_task(reporter.run())
    try:
        async def posted() -> dict | None:
            now = conditions(await kubelet.get(NODES, "node-1"))
            return now if now["Ready"]["status"] == "True" else None

        after = await eventually(posted, "Ready posted again")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert after["Ready"]["lastTransitionTime"] != "2020-01-01T00:00:00Z"  # flipped from Unknown: now
    assert after["MemoryPressure"]["lastTransitionTime"] == registered["MemoryPressure"]["lastTransitionTime"]
    assert after["NetworkUnavailable"]["reason"] == "RouteCreated"  # merged by type, not replaced


async def test_a_deleted_node_is_registered_again(admin: ApiClient, kubelet: ApiClient) -> None:
    reporter = NodeStatusReporter(kubelet, SETTINGS, MACHINE, update_frequency=0.05)
    await reporter.register()
    first_uid = reporter.uid
    running = asyncio.create_task(reporter.run())
    try:
        await admin.delete(NODES, "node-1")

        async def new_node() -> dict | None:
            try:
                node = await admin.get(NODES, "node-1")
            except ApiError:
                return None
            return node if node["metadata"]["uid"] != first_uid else None

        node = await eventually(new_node, "node-1 registered again")

        async def adopted() -> bool:
            return reporter.registered.is_set() and reporter.uid == node["metadata"]["uid"]

        await eventually(adopted, "the reporter to know the new Node")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_the_lease_is_owned_by_the_node_and_renewed(admin: ApiClient, kubelet: ApiClient) -> None:
    reporter = NodeStatusReporter(kubelet, SETTINGS, MACHINE, update_frequency=60)
    await reporter.register()
    lease = NodeLease(kubelet, "node-1", 4, lambda: reporter.uid)
    assert lease.renew_interval == 1.0
    await lease.renew()
    created = await kubelet.get(LEASES, "node-1", "kube-node-lease")
    assert created["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "node-1",
                                                       "uid": reporter.uid}]
    assert (created["spec"]["holderIdentity"], created["spec"]["leaseDurationSeconds"]) == ("node-1", 4)
    await asyncio.sleep(0.01)  # renewTime has microseconds: the next renewal is later
    await lease.renew()
    renewed = await kubelet.get(LEASES, "node-1", "kube-node-lease")
    assert parse_time(renewed["spec"]["renewTime"]) > parse_time(created["spec"]["renewTime"])

    await admin.delete(LEASES, "node-1", "kube-node-lease")  # e.g. garbage-collected with an old Node
    await lease.renew()
    assert (await kubelet.get(LEASES, "node-1", "kube-node-lease"))["metadata"]["uid"] != created["metadata"]["uid"]


async def test_a_node_may_not_register_another_node(apiserver: LocalApiserver, kubelet: ApiClient) -> None:
    reporter = NodeStatusReporter(kubelet, NodeSettings("node-2", "10.0.0.8"), MACHINE, update_frequency=60)
    with pytest.raises(ApiError) as refused:
        await reporter.register()
    assert refused.value.code == 403
