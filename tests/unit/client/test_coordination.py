"""Leader election on a Lease and event aggregation, against the in-process apiserver."""

from __future__ import annotations

import asyncio

import pytest

from provisioner.services.api import resources
from provisioner.services.client import ApiClient, EventRecorder, LeaderElector, LeaseTiming
from tests.unit.apiserver.conftest import LocalApiserver

LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
EVENTS = resources.lookup("", "v1", "events")
CONFIGMAPS = resources.lookup("", "v1", "configmaps")
FAST = LeaseTiming(lease_duration=1.0, renew_deadline=0.6, retry_period=0.1)


@pytest.fixture
def server(module_apiserver: LocalApiserver) -> LocalApiserver:
    return module_apiserver


@pytest.fixture
def client(admin_client: ApiClient) -> ApiClient:
    return admin_client


async def test_only_one_leader_and_takeover_when_it_stops(client: ApiClient) -> None:
    leading: list[str] = []
    first = LeaderElector(client, "kube-system", "test-lock", "first", FAST)
    second = LeaderElector(client, "kube-system", "test-lock", "second", FAST)
    stop_first = asyncio.Event()

    async def lead_first() -> None:
        leading.append("first")
        await stop_first.wait()

    async def lead_second() -> None:
        leading.append("second")
        await asyncio.Event().wait()

    first_task = asyncio.create_task(first.run(lead_first))
    while not first.is_leader:
        await asyncio.sleep(0.02)
    second_task = asyncio.create_task(second.run(lead_second))
    await asyncio.sleep(1.5)  # longer than the lease: the holder keeps renewing, so no takeover
    assert leading == ["first"] and not second.is_leader
    lease = await client.get(LEASES, "test-lock", "kube-system")
    assert lease["spec"]["holderIdentity"] == "first"

    first_task.cancel()  # the leader dies without releasing: the other waits out the lease
    await asyncio.gather(first_task, return_exceptions=True)
    await asyncio.wait_for(_until(lambda: second.is_leader), 5)
    assert leading == ["first", "second"]
    lease = await client.get(LEASES, "test-lock", "kube-system")
    assert lease["spec"]["holderIdentity"] == "second" and lease["spec"]["leaseTransitions"] == 1
    await second.release()
    second_task.cancel()
    await asyncio.gather(second_task, return_exceptions=True)
    released = await client.get(LEASES, "test-lock", "kube-system")
    assert released["spec"]["holderIdentity"] == ""


async def _until(predicate) -> None:
    while not predicate():
        await asyncio.sleep(0.02)


async def test_repeated_events_are_aggregated(client: ApiClient) -> None:
    target = await client.create(CONFIGMAPS, {"metadata": {"name": "noisy"}}, "default")
    target = {**target, "kind": "ConfigMap", "apiVersion": "v1"}
    recorder = EventRecorder(client, "test-component", "host-1")
    for _ in range(3):
        recorder.event(target, "Warning", "Flapping", "it flapped")
    recorder.event(target, "Normal", "Calm", "it calmed down")
    await recorder.flush()
    events = (await client.list(EVENTS, "default", field_selector="involvedObject.name=noisy"))["items"]
    summary = sorted((e["reason"], e["count"], e["type"]) for e in events)
    assert summary == [("Calm", 1, "Normal"), ("Flapping", 3, "Warning")]
    flapping = next(e for e in events if e["reason"] == "Flapping")
    assert flapping["source"] == {"component": "test-component", "host": "host-1"}
    assert flapping["involvedObject"]["uid"] == target["metadata"]["uid"]
