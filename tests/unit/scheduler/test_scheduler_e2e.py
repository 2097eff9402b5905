"""The scheduler against a real (in-process) apiserver over HTTP: informers, binding through pods/binding, the
Scheduled and FailedScheduling events, the PodScheduled condition, a waiting pod placed when a node is added,
and preemption of a lower-priority pod."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from provisioner.services.api import resources
from provisioner.services.client import ApiClient, ClientConfig
from provisioner.services.scheduler.scheduler import Scheduler, SchedulerOptions
from tests.unit.apiserver.conftest import LocalApiserver

from .builders import make_node, make_pod

PODS = resources.lookup("", "v1", "pods")
NODES = resources.lookup("", "v1", "nodes")
EVENTS = resources.lookup("", "v1", "events")
NAMESPACE = "default"


@pytest.fixture
async def client(apiserver: LocalApiserver) -> AsyncIterator[ApiClient]:
    async with ApiClient(ClientConfig(server=apiserver.url, token=apiserver.tokens["admin"])) as api:
        yield api


@pytest.fixture
async def scheduler(client: ApiClient) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(client, SchedulerOptions())
    task = asyncio.create_task(scheduler.run())
    try:
        await asyncio.wait_for(scheduler.wait_synced(), 10)
        yield scheduler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await scheduler.stop()


def api_pod(name: str, **kwargs: Any) -> dict:
    pod = make_pod(name, **kwargs)
    pod["metadata"].pop("uid")
    pod.pop("status")
    return pod


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (and return that)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result {result!r}")
        await asyncio.sleep(0.05)


async def node_of(client: ApiClient, name: str) -> str:
    return (await client.get(PODS, name, NAMESPACE))["spec"].get("nodeName", "")


async def events_for(client: ApiClient, name: str) -> list[dict]:
    listed = await client.list(EVENTS, NAMESPACE, field_selector=f"involvedObject.name={name}")
    return listed.get("items") or []


async def test_pods_are_bound_where_they_must_go_and_a_misfit_is_explained(client: ApiClient,
                                                                         scheduler: Scheduler) -> None:
    for node in (make_node("cordoned", unschedulable=True), make_node("small", cpu="1"),
                 make_node("big", cpu="8", labels={"disk": "ssd"}),
                 make_node("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])):
        await client.create(NODES, node)
    gpu_affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["tainted"]}]}]}}}
    await client.create(PODS, api_pod("needs-ssd", cpu="2", node_selector={"disk": "ssd"}))
    await client.create(PODS, api_pod("gpu-job", cpu="1", affinity=gpu_affinity, tolerations=[
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]))
    await client.create(PODS, api_pod("too-big", cpu="16"))
    await client.create(PODS, api_pod("not-ours", schedulerName="another-scheduler"))

    assert await eventually(lambda: node_of(client, "needs-ssd")) == "big"
    assert await eventually(lambda: node_of(client, "gpu-job")) == "tainted"
    scheduled = await eventually(lambda: events_for(client, "needs-ssd"))
    assert [(e["type"], e["reason"], e["message"], e["source"]["component"]) for e in scheduled] == [
        ("Normal", "Scheduled", "Successfully assigned default/needs-ssd to big", "default-scheduler")]

    expected = ("0/4 nodes are available: 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable, "
                "2 Insufficient cpu. preemption: 0/4 nodes are available: 2 No preemption victims found for "
                "incoming pod, 2 Preemption is not helpful for scheduling.")

    async def pod_scheduled_condition() -> dict | None:
        pod = await client.get(PODS, "too-big", NAMESPACE)
        return next((c for c in pod["status"].get("conditions") or [] if c["type"] == "PodScheduled"), None)

    condition = await eventually(pod_scheduled_condition)
    assert (condition["status"], condition["reason"], condition["message"]) == ("False", "Unschedulable", expected)
    failed = await eventually(lambda: events_for(client, "too-big"))
    assert [(e["type"], e["reason"], e["message"]) for e in failed] == [("Warning", "FailedScheduling", expected)]

    # The waiting pod moves as soon as a node that can hold it appears.
    await client.create(NODES, make_node("huge", cpu="32"))
    assert await eventually(lambda: node_of(client, "too-big")) == "huge"
    assert await node_of(client, "not-ours") == ""
    assert scheduler.stats.scheduled == 3 and scheduler.cache.assumed_count == 0


async def test_many_pods_fill_nodes_exactly_to_capacity(client: ApiClient, scheduler: Scheduler) -> None:
    for i in range(4):
        await client.create(NODES, make_node(f"n{i}", cpu="1", pods=10))
    await asyncio.gather(*(client.create(PODS, api_pod(f"p{i}", cpu="250m")) for i in range(18)))

    async def bound() -> dict[str, int] | None:
        items, _ = await client.list_all(PODS, NAMESPACE)
        placed = [p["spec"].get("nodeName") for p in items if p["spec"].get("nodeName")]
        return {n: placed.count(n) for n in set(placed)} if len(placed) == 16 else None

    assert await eventually(bound) == {"n0": 4, "n1": 4, "n2": 4, "n3": 4}
    await asyncio.sleep(0.3)
    assert scheduler.stats.scheduled == 16 and scheduler.stats.unschedulable >= 2


async def test_a_higher_priority_pod_preempts_a_lower_one(client: ApiClient, scheduler: Scheduler) -> None:
    await client.create(NODES, make_node("only", cpu="2"))
    await client.create(PODS, api_pod("batch", cpu="2", priority=0, terminationGracePeriodSeconds=0))
    assert await eventually(lambda: node_of(client, "batch")) == "only"
    await client.create(PODS, api_pod("critical", cpu="2", priority=1000))
    assert await eventually(lambda: node_of(client, "critical"), timeout=15) == "only"
    victim_events = await events_for(client, "batch")
    assert any(e["reason"] == "Preempted" and e["message"].startswith("Preempted by pod ") and
               e["message"].endswith(" on node only") for e in victim_events)
    items, _ = await client.list_all(PODS, NAMESPACE)
    assert [p["metadata"]["name"] for p in items] == ["critical"]
    assert scheduler.stats.preemptions == 1


async def test_a_finished_pod_frees_its_room_for_a_waiting_one(client: ApiClient, scheduler: Scheduler) -> None:
    await client.create(NODES, make_node("solo", cpu="1"))
    await client.create(PODS, api_pod("job", cpu="1"))
    assert await eventually(lambda: node_of(client, "job")) == "solo"
    await client.create(PODS, api_pod("next", cpu="1"))
    await eventually(lambda: events_for(client, "next"))  # FailedScheduling: no room yet
    assert await node_of(client, "next") == ""
    finished = await client.get(PODS, "job", NAMESPACE)
    finished["status"]["phase"] = "Succeeded"
    await client.update(PODS, finished, subresource="status")
    assert await eventually(lambda: node_of(client, "next")) == "solo"
