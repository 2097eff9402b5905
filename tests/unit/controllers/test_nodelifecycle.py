"""Node lifecycle: a node whose kubelet goes silent turns Unknown, is tainted, and its pods are marked NotReady and
evicted as their tolerations allow; taints follow the conditions back; a cluster where every node is down evicts
nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

from provisioner.services.client import ApiClient
from provisioner.services.controllers.base import ControllerOptions
from provisioner.services.controllers.nodelifecycle import (
    FULL_DISRUPTION,
    NORMAL,
    PARTIAL_DISRUPTION,
    NodeLifecycleController,
    ZoneTainter,
    compute_zone_state,
    desired_no_schedule_keys,
    with_kubelet_conditions_unknown,
)
from provisioner.services.controllers.tainteviction import (
    matching_tolerations,
    min_toleration_seconds,
    tolerates,
)
from tests.unit.controllers.conftest import (
    create_pod,
    events_for,
    eventually,
    get_or_none,
    idle,
    resource,
    running,
    set_pod_status,
)

NODES = resource("nodes")
PODS = resource("pods")
LEASES = resource("leases", "coordination.k8s.io")
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
FAST = ControllerOptions(workers=2, node_monitor_period=0.2, node_monitor_grace_period=1.0,
                         node_startup_grace_period=1.0, node_eviction_rate=100.0)


def stamp(micro: bool = False) -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def kubelet_conditions(ready: str = "True") -> list[dict[str, Any]]:
    now = stamp()
    return [{"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": now, "lastTransitionTime": now},
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
             "lastHeartbeatTime": now, "lastTransitionTime": now}]


async def register(client: ApiClient, name: str, *, ready: str | None = "True", lease: bool = True,
                   spec: dict[str, Any] | None = None) -> None:
    """What a kubelet does on start: its Node (with status, unless it never gets to report) and its Lease."""
    node: dict[str, Any] = {"metadata": {"name": name}, "spec": spec or {}}
    if ready is not None:
        node["status"] = {"conditions": kubelet_conditions(ready)}
    await client.create(NODES, node)
    if lease:
        await client.create(LEASES, {"metadata": {"name": name},
                                     "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                              "renewTime": stamp(micro=True)}}, "kube-node-lease")


async def renew(client: ApiClient, name: str) -> None:
    await client.patch(LEASES, name, {"spec": {"renewTime": stamp(micro=True)}}, "kube-node-lease")


@contextlib.asynccontextmanager
async def heartbeats(client: ApiClient, names: Iterable[str], every: float = 0.1) -> AsyncIterator[None]:
    """Kubelets renewing their Leases in the background."""

    async def beat() -> None:
        while True:
            for name in names:
                await renew(client, name)
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def toleration(seconds: int | None, key: str = UNREACHABLE) -> dict[str, Any]:
    found: dict[str, Any] = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        found["tolerationSeconds"] = seconds
    return found


async def running_pod(client: ApiClient, name: str, node: str, tolerations: list[dict[str, Any]],
                      ip: str) -> None:
    await create_pod(client, name, node=node, extra_spec={"tolerations": tolerations})
    await set_pod_status(client, name, ip=ip, ready=True)


def node_condition(node: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in node["status"]["conditions"] if c["type"] == kind)


def taints(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}


async def node_where(client: ApiClient, name: str, check, what: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        node = await client.get(NODES, name)
        return node if check(node) else None

    return await eventually(probe, what)


async def pod_where(client: ApiClient, name: str, check, what: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        pod = await get_or_none(client, PODS, name, "default")
        return pod if pod is not None and check(pod) else None

    return await eventually(probe, what)


def being_deleted(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def pod_ready(pod: dict[str, Any]) -> str:
    return next((c["status"] for c in pod["status"].get("conditions") or [] if c["type"] == "Ready"), "")


async def test_a_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted_as_tolerated(
        client: ApiClient) -> None:
    await register(client, "alive")
    await register(client, "silent")
    await running_pod(client, "immediate", "silent", [toleration(0), toleration(0, NOT_READY)], "10.244.1.2")
    await running_pod(client, "brief", "silent", [toleration(1), toleration(1, NOT_READY)], "10.244.1.3")
    await running_pod(client, "patient", "silent", [toleration(3600), toleration(3600, NOT_READY)], "10.244.1.4")
    await running_pod(client, "forever", "silent", [{"operator": "Exists"}], "10.244.1.5")
    await running_pod(client, "elsewhere", "alive", [], "10.244.2.2")

    async with heartbeats(client, ["alive"]), running(client, NodeLifecycleController, options=FAST):
        node = await node_where(client, "silent", lambda n: node_condition(n, "Ready")["status"] == "Unknown",
                                "the silent node Ready=Unknown")
        ready = node_condition(node, "Ready")
        assert (ready["reason"], ready["message"]) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert node_condition(node, "MemoryPressure")["status"] == "Unknown"
        node = await node_where(client, "silent", lambda n: taints(n) == {(UNREACHABLE, "NoSchedule"),
                                                                          (UNREACHABLE, "NoExecute")},
                                "unreachable taints, NoSchedule and NoExecute")
        assert all(t.get("timeAdded") for t in node["spec"]["taints"])

        await pod_where(client, "immediate", being_deleted, "the pod tolerating 0s evicted")
        brief = await pod_where(client, "brief", being_deleted, "the pod tolerating 1s evicted")
        disruption = next(c for c in brief["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert (disruption["reason"], disruption["status"]) == ("DeletionByTaintManager", "True")
        for name in ("patient", "forever"):  # tolerating an hour, or forever: still there, but not Ready
            pod = await pod_where(client, name, lambda p: pod_ready(p) == "False", f"{name} marked NotReady")
            assert not being_deleted(pod)
        elsewhere = await client.get(PODS, "elsewhere", "default")
        assert pod_ready(elsewhere) == "True" and not being_deleted(elsewhere)
        assert taints(await client.get(NODES, "alive")) == set()

        # The kubelet is back: it renews its Lease and reports Ready; the taints go, the pending eviction too.
        await renew(client, "silent")
        node = await client.get(NODES, "silent")
        node["status"]["conditions"] = kubelet_conditions("True")
        await client.update(NODES, node, subresource="status")
        async with heartbeats(client, ["silent"]):
            await node_where(client, "silent", lambda n: not taints(n), "the taints removed")
            await eventually(lambda: _has_event(client, "patient", "Cancelling deletion of Pod default/patient"),
                             "the patient pod's eviction cancelled")
        assert not being_deleted(await client.get(PODS, "patient", "default"))


async def test_taints_follow_what_the_kubelet_reports(client: ApiClient) -> None:
    await register(client, "alive")
    await register(client, "never-reported", ready=None, lease=False)
    await register(client, "not-ready", ready="False")
    await register(client, "cordoned", spec={"unschedulable": True})
    async with heartbeats(client, ["alive", "not-ready", "cordoned"]), \
            running(client, NodeLifecycleController, options=FAST):
        node = await node_where(client, "never-reported", lambda n: taints(n) == {(UNREACHABLE, "NoSchedule"),
                                                                                  (UNREACHABLE, "NoExecute")},
                                "the never-reported node tainted unreachable")
        ready = node_condition(node, "Ready")
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "Unknown", "NodeStatusNeverUpdated", "Kubelet never posted node status.")
        assert {c["type"] for c in node["status"]["conditions"]} == {"Ready", "MemoryPressure", "DiskPressure",
                                                                     "PIDPressure"}
        await node_where(client, "not-ready", lambda n: taints(n) == {(NOT_READY, "NoSchedule"),
                                                                      (NOT_READY, "NoExecute")},
                         "not-ready taints on a node reporting Ready=False")
        await node_where(client, "cordoned", lambda n: taints(n) == {("node.kubernetes.io/unschedulable",
                                                                      "NoSchedule")}, "the unschedulable taint")
        await client.patch(NODES, "cordoned", {"spec": {"unschedulable": None}}, patch_type="strategic")
        await node_where(client, "cordoned", lambda n: not taints(n), "the unschedulable taint gone on uncordon")


async def test_when_every_node_is_down_nothing_is_evicted_until_one_is_back(client: ApiClient) -> None:
    await register(client, "only")
    await running_pod(client, "stays", "only", [toleration(0), toleration(0, NOT_READY)], "10.244.1.2")
    async with running(client, NodeLifecycleController, options=FAST) as (controller,):
        await node_where(client, "only", lambda n: (UNREACHABLE, "NoSchedule") in taints(n),
                         "the silent node marked unreachable")
        await idle(controller.monitor, controller.tainting, controller.eviction.loop)
        assert (UNREACHABLE, "NoExecute") not in taints(await client.get(NODES, "only"))
        assert not being_deleted(await client.get(PODS, "stays", "default"))

        await register(client, "newcomer")  # a ready node: the cluster is no longer entirely down
        async with heartbeats(client, ["newcomer"]):
            await node_where(client, "only", lambda n: (UNREACHABLE, "NoExecute") in taints(n),
                             "the NoExecute taint once another node is ready")
            await pod_where(client, "stays", being_deleted, "the pod evicted")


async def test_any_no_execute_taint_evicts_pods_that_do_not_tolerate_it(client: ApiClient) -> None:
    maintenance = {"key": "example.com/maintenance", "value": "disk", "effect": "NoExecute"}
    await register(client, "node-1")
    # Every pod gets the default 300 s not-ready/unreachable tolerations from the apiserver; none for this taint.
    await running_pod(client, "bystander", "node-1", [], "10.244.1.2")
    await running_pod(client, "lingering", "node-1", [{**maintenance, "operator": "Equal", "tolerationSeconds": 3600}],
                      "10.244.1.3")
    await running_pod(client, "unbothered", "node-1", [{"key": "example.com/maintenance", "operator": "Exists"}],
                      "10.244.1.4")
    async with heartbeats(client, ["node-1"]), \
            running(client, NodeLifecycleController, options=FAST) as (controller,):
        await client.patch(NODES, "node-1", {"spec": {"taints": [maintenance]}}, patch_type="merge")
        await pod_where(client, "bystander", being_deleted, "the pod not tolerating the taint evicted at once")
        await idle(controller.eviction.loop)  # every pod of the node looked at: the lingering one is scheduled
        for name in ("lingering", "unbothered"):
            assert not being_deleted(await client.get(PODS, name, "default"))
        await client.patch(NODES, "node-1", {"spec": {"taints": None}}, patch_type="merge")
        await eventually(lambda: _has_event(client, "lingering", "Cancelling deletion of Pod default/lingering"),
                         "the lingering pod's eviction cancelled when the taint went")
    assert not being_deleted(await client.get(PODS, "lingering", "default"))


# ------------------------------------------------------------------------------------------------ pure parts
def test_zone_states_follow_kubernetes_thresholds() -> None:
    assert compute_zone_state(ready=0, not_ready=1) == FULL_DISRUPTION
    assert compute_zone_state(ready=1, not_ready=1) == NORMAL
    assert compute_zone_state(ready=2, not_ready=2) == NORMAL  # not more than two down
    assert compute_zone_state(ready=2, not_ready=3) == PARTIAL_DISRUPTION  # 60 % ≥ 55 %
    assert compute_zone_state(ready=10, not_ready=3) == NORMAL
    assert compute_zone_state(ready=0, not_ready=0) == NORMAL


def test_zone_tainter_releases_one_node_per_token() -> None:
    tainter = ZoneTainter()
    for name in ("a", "b", "c"):
        tainter.add(name)
    assert tainter.take(now=100.0, rate=0.5) == "a"
    assert tainter.take(now=100.5, rate=0.5) is None and tainter.wait(100.5) == 1.5
    assert tainter.take(now=102.0, rate=0.5) == "b"
    tainter.put_back("b")
    assert tainter.take(now=104.0, rate=0.0) is None  # a zero rate stops everything
    assert tainter.take(now=104.0, rate=0.5) == "b"
    tainter.remove("c")
    assert tainter.take(now=200.0, rate=0.5) is None and not tainter.pending


def test_toleration_matching() -> None:
    unreachable = {"key": UNREACHABLE, "effect": "NoExecute"}
    custom = {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}
    assert tolerates({"operator": "Exists"}, unreachable)
    assert tolerates({"key": UNREACHABLE, "operator": "Exists"}, unreachable)
    assert not tolerates({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, unreachable)
    assert tolerates({"key": "dedicated", "value": "gpu"}, custom)
    assert not tolerates({"key": "dedicated", "value": "cpu"}, custom)
    used = matching_tolerations([unreachable, custom], [toleration(300), {"key": "dedicated", "value": "gpu",
                                                                         "tolerationSeconds": 60}])
    assert used is not None and min_toleration_seconds(used) == 60
    assert matching_tolerations([unreachable, custom], [toleration(300)]) is None
    assert min_toleration_seconds([toleration(None)]) is None
    assert min_toleration_seconds([toleration(-5)]) == 0


def test_conditions_and_their_taints() -> None:
    node = {"metadata": {"name": "n", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"},
                                      {"type": "DiskPressure", "status": "True"},
                                      {"type": "NetworkUnavailable", "status": "True"}]}}
    assert desired_no_schedule_keys(node) == {"node.kubernetes.io/disk-pressure",
                                              "node.kubernetes.io/network-unavailable",
                                              "node.kubernetes.io/unschedulable"}
    silent = with_kubelet_conditions_unknown(node)
    statuses = {c["type"]: c["status"] for c in silent["status"]["conditions"]}
    assert statuses == {"Ready": "Unknown", "DiskPressure": "Unknown", "NetworkUnavailable": "True",
                        "MemoryPressure": "Unknown", "PIDPressure": "Unknown"}
    assert node["status"]["conditions"][0]["status"] == "True"  # the original is untouched


async def _has_event(client: ApiClient, name: str, message: str) -> bool:
    return any(e["message"] == message for e in await events_for(client, name))
