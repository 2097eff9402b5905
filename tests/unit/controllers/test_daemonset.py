"""The DaemonSet controller against a real in-process apiserver, with nodes registered through the API, a fake
kubelet binding each pod to the node its affinity pins it to, and readiness reported through pods/status."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from provisioner.services.client import ApiClient, Handler, Informer
from provisioner.services.controllers.controllerutil import compute_hash
from provisioner.services.controllers.daemonset import DaemonSetController, target_node_of
from tests.unit.controllers.conftest import events_for, eventually, resource, running
from tests.unit.controllers.fake_kubelet import FAIL, READY, kubelet

PODS = resource("pods")
NODES = resource("nodes")
DAEMON_SETS = resource("daemonsets", "apps")

FastDaemonSetController = functools.partial(DaemonSetController, failed_pod_backoff=(0.05, 0.2))


async def add_node(client: ApiClient, name: str, labels: dict[str, str] | None = None,
                   taints: list[dict[str, str]] | None = None, unschedulable: bool = False) -> None:
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    if unschedulable:
        spec["unschedulable"] = True
    await client.create(NODES, {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                                       **(labels or {})}}, "spec": spec})


def daemon_set(name: str, image: str = "agent:1", **spec: Any) -> dict[str, Any]:
    template_spec = {"containers": [{"name": "agent", "image": image}], **spec.pop("pod_spec", {})}
    return {"metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec}, **spec}}


@contextlib.asynccontextmanager
async def cluster(client: ApiClient, decide: Any = None, controller: Any = DaemonSetController,
                  ) -> AsyncIterator[Any]:
    async with running(client, controller), kubelet(client, decide, place=target_node_of) as fake:
        yield fake


async def daemon_pods(client: ApiClient, name: str) -> dict[str, dict[str, Any]]:
    """Live pods of the DaemonSet by the node they are on."""
    items, _ = await client.list_all(PODS, "default", label_selector=f"app={name}")
    return {target_node_of(p) or "": p for p in items if not p["metadata"].get("deletionTimestamp")}


async def pods_on(client: ApiClient, name: str, nodes: set[str]) -> dict[str, dict[str, Any]] | None:
    pods = await daemon_pods(client, name)
    return pods if set(pods) == nodes else None


async def status_is(client: ApiClient, name: str, **expected: int) -> dict[str, Any] | None:
    ds = await client.get(DAEMON_SETS, name, "default")
    status = ds.get("status") or {}
    if status.get("observedGeneration") != ds["metadata"]["generation"]:
        return None
    return ds if all(int(status.get(k) or 0) == v for k, v in expected.items()) else None


async def test_one_pod_per_eligible_node_and_none_elsewhere(client: ApiClient) -> None:
    await add_node(client, "ssd-1", {"disk": "ssd"})
    await add_node(client, "ssd-2", {"disk": "ssd"})
    await add_node(client, "ssd-dedicated", {"disk": "ssd"},
                   taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    await add_node(client, "hdd-1", {"disk": "hdd"})
    # Cordoned and not ready: the daemon tolerations let daemon pods run there all the same.
    await add_node(client, "ssd-cordoned", {"disk": "ssd"}, unschedulable=True,
                   taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                           {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    async with cluster(client):
        created = await client.create(DAEMON_SETS, daemon_set("agent", pod_spec={"nodeSelector": {"disk": "ssd"}}),
                                      "default")
        pods = await eventually(lambda: pods_on(client, "agent", {"ssd-1", "ssd-2", "ssd-cordoned"}),
                                "a pod on every eligible node")
        ds = await eventually(lambda: status_is(client, "agent", desiredNumberScheduled=3,
                                                currentNumberScheduled=3, numberReady=3, numberAvailable=3,
                                                updatedNumberScheduled=3, numberMisscheduled=0),
                              "status of three scheduled, ready pods")
        assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "1"

    pod = pods["ssd-1"]
    assert pod["spec"]["nodeName"] == "ssd-1"  # bound by the stand-in scheduler, as the affinity asked
    assert pod["spec"]["affinity"] == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["ssd-1"]}]}]}}}
    tolerations = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert tolerations == {("node.kubernetes.io/not-ready", "NoExecute"),
                           ("node.kubernetes.io/unreachable", "NoExecute"),
                           ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                           ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                           ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                           ("node.kubernetes.io/unschedulable", "NoSchedule")}
    assert all("tolerationSeconds" not in t and t["operator"] == "Exists" for t in pod["spec"]["tolerations"])
    labels = pod["metadata"]["labels"]
    assert labels["controller-revision-hash"] == compute_hash(created["spec"]["template"])
    assert labels["pod-template-generation"] == "1" and labels["app"] == "agent"
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"
    assert pod["metadata"]["name"].startswith("agent-")


async def test_nodes_joining_changing_and_tainted_gain_or_lose_their_pod(client: ApiClient) -> None:
    await add_node(client, "a", {"role": "edge"})
    await add_node(client, "b", {"role": "edge"})
    async with cluster(client):
        await client.create(DAEMON_SETS, daemon_set("edge", pod_spec={"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "role", "operator": "In", "values": ["edge"]}]}]}}}}), "default")
        await eventually(lambda: pods_on(client, "edge", {"a", "b"}), "pods on a and b")

        await add_node(client, "c", {"role": "edge"})
        await eventually(lambda: pods_on(client, "edge", {"a", "b", "c"}), "a pod on the new node")

        await client.patch(NODES, "a", {"metadata": {"labels": {"role": "core"}}})
        await eventually(lambda: pods_on(client, "edge", {"b", "c"}), "the pod leaves the relabelled node")

        # A NoSchedule taint added later does not evict the running pod: it is counted misscheduled.
        await client.patch(NODES, "b", {"spec": {"taints": [{"key": "maintenance", "effect": "NoSchedule"}]}})
        await eventually(lambda: status_is(client, "edge", desiredNumberScheduled=1, numberMisscheduled=1,
                                           currentNumberScheduled=1), "b's pod misscheduled")
        assert set(await daemon_pods(client, "edge")) == {"b", "c"}

        # An untolerated NoExecute taint removes it.
        await client.patch(NODES, "b", {"spec": {"taints": [{"key": "maintenance", "effect": "NoExecute"}]}})
        await eventually(lambda: pods_on(client, "edge", {"c"}), "the pod evicted by NoExecute")
        await eventually(lambda: status_is(client, "edge", desiredNumberScheduled=1, numberMisscheduled=0),
                         "status after eviction")


class AvailabilityWatch:
    """At every pod event: how many of the nodes lack a ready daemon pod, and how many pods run at once."""

    def __init__(self, client: ApiClient, nodes: set[str]) -> None:
        self.nodes = nodes
        self.informer = Informer(client, PODS, "default")
        self.informer.add_handler(Handler(on_add=lambda _: self.check(), on_update=lambda *_: self.check(),
                                          on_delete=lambda _: self.check()))
        self.armed = False
        self.most_unavailable = 0
        self.most_pods = 0

    def check(self) -> None:
        live = [p for p in self.informer.store.list() if not p["metadata"].get("deletionTimestamp")]
        ready_nodes = {target_node_of(p) for p in live if any(
            c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions") or [])}
        if self.armed:
            self.most_unavailable = max(self.most_unavailable, len(self.nodes - ready_nodes))
            self.most_pods = max(self.most_pods, len(live))

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[AvailabilityWatch]:
        task = asyncio.create_task(self.informer.run())
        try:
            await self.informer.wait_synced()
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _updated_everywhere(client: ApiClient, name: str, nodes: set[str], image: str) -> bool:
    pods = await pods_on(client, name, nodes)
    ds = await status_is(client, name, updatedNumberScheduled=len(nodes), numberAvailable=len(nodes))
    return bool(pods and ds and all(p["spec"]["containers"][0]["image"] == image for p in pods.values()))


async def test_rolling_update_replaces_pods_within_max_unavailable(client: ApiClient) -> None:
    nodes = {"n1", "n2", "n3", "n4"}
    for node in sorted(nodes):
        await add_node(client, node)
    watch = AvailabilityWatch(client, nodes)
    async with cluster(client), watch.watching():
        await client.create(DAEMON_SETS, daemon_set("logs", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}), "default")
        await eventually(lambda: _updated_everywhere(client, "logs", nodes, "agent:1"), "first rollout")
        watch.armed = True

        await client.patch(DAEMON_SETS, "logs", {"spec": {"template": {"spec": {"containers": [
            {"name": "agent", "image": "agent:2"}]}}}}, "default", patch_type="strategic")
        await eventually(lambda: _updated_everywhere(client, "logs", nodes, "agent:2"), "rolled to agent:2")
        ds = await client.get(DAEMON_SETS, "logs", "default")
        assert ds["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
        pods = await daemon_pods(client, "logs")
        assert {p["metadata"]["labels"]["pod-template-generation"] for p in pods.values()} == {"2"}
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods.values()} == {
            compute_hash(ds["spec"]["template"])}
    assert watch.most_unavailable == 1, "one node at a time, never more"


async def test_surge_update_starts_the_new_pod_before_removing_the_old(client: ApiClient) -> None:
    nodes = {"n1", "n2", "n3"}
    for node in sorted(nodes):
        await add_node(client, node)
    watch = AvailabilityWatch(client, nodes)
    async with cluster(client), watch.watching():
        await client.create(DAEMON_SETS, daemon_set("dns", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}), "default")
        await eventually(lambda: _updated_everywhere(client, "dns", nodes, "agent:1"), "first rollout")
        watch.armed = True
        await client.patch(DAEMON_SETS, "dns", {"spec": {"template": {"spec": {"containers": [
            {"name": "agent", "image": "agent:2"}]}}}}, "default", patch_type="strategic")
        await eventually(lambda: _updated_everywhere(client, "dns", nodes, "agent:2"), "rolled to agent:2")
    assert watch.most_unavailable == 0, "every node kept a ready pod throughout"
    assert watch.most_pods == len(nodes) + 1, "one extra pod at a time"


async def test_a_failed_daemon_pod_is_replaced(client: ApiClient) -> None:
    await add_node(client, "only")
    outcomes = iter([FAIL])
    async with cluster(client, decide=lambda pod: next(outcomes, READY), controller=FastDaemonSetController):
        await client.create(DAEMON_SETS, daemon_set("flaky"), "default")
        await eventually(lambda: status_is(client, "flaky", numberReady=1, numberAvailable=1),
                         "a ready replacement")
        reasons = [e["reason"] for e in await events_for(client, "flaky")]
        assert "FailedDaemonPod" in reasons and reasons.count("SuccessfulCreate") == 2


def test_placement_follows_selectors_affinity_and_taints() -> None:
    from provisioner.services.controllers.daemonset import node_should_run_daemon_pod

    def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> dict:
        return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}

    def ds(**pod_spec: Any) -> dict[str, Any]:
        return daemon_set("x", pod_spec=pod_spec)

    assert node_should_run_daemon_pod(node("a"), ds()) == (True, True)
    assert node_should_run_daemon_pod(node("a"), ds(nodeName="b")) == (False, False)
    assert node_should_run_daemon_pod(node("a", {"zone": "1"}), ds(nodeSelector={"zone": "2"})) == (False, False)
    gpus = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["1"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]}]}}}
    assert node_should_run_daemon_pod(node("a", {"gpus": "4"}), ds(affinity=gpus))[0]
    assert not node_should_run_daemon_pod(node("a", {"gpus": "1"}), ds(affinity=gpus))[0]
    assert node_should_run_daemon_pod(node("special"), ds(affinity=gpus))[0]  # terms are ORed
    soft = [{"key": "spot", "effect": "PreferNoSchedule"}]
    assert node_should_run_daemon_pod(node("a", taints=soft), ds()) == (True, True)
    hard = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    assert node_should_run_daemon_pod(node("a", taints=hard), ds()) == (False, True)  # may stay, not start
    tolerated = ds(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}])
    assert node_should_run_daemon_pod(node("a", taints=hard), tolerated) == (True, True)
    evicting = [{"key": "dedicated", "value": "db", "effect": "NoExecute"}]
    assert node_should_run_daemon_pod(node("a", taints=evicting), ds()) == (False, False)
    unreachable = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]
    assert node_should_run_daemon_pod(node("a", taints=unreachable), ds()) == (True, True)
    no_network = [{"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]
    assert node_should_run_daemon_pod(node("a", taints=no_network), ds())[0] is False
    assert node_should_run_daemon_pod(node("a", taints=no_network), ds(hostNetwork=True))[0] is True
