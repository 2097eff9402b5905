"""SimulatedNodes against the in-process apiserver: registration, heartbeats, the pod lifecycle, silence."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ApiClient
from provisioner.services.simnodes import RUN_SECONDS_ANNOTATION, SimulatedNodes, Timing
from provisioner.services.simnodes.control import follow_control_file, read_stopped
from provisioner.services.simnodes.objects import EXIT_CODE_ANNOTATION, SIMULATED_LABEL
from tests.unit.apiserver.conftest import LocalApiserver

NODES = resources.lookup("", "v1", "nodes")
PODS = resources.lookup("", "v1", "pods")
LEASES = resources.lookup("coordination.k8s.io", "v1", "leases")
FAST = Timing(lease_renew_interval=0.2, status_interval=0.4, termination_seconds=0.1, spread_tick=0.05)
WAIT_SECONDS = 15.0  # generous: only a broken simulator takes this long


@pytest.fixture
def server(module_apiserver: LocalApiserver) -> LocalApiserver:
    return module_apiserver


@pytest.fixture
def client(admin_client: ApiClient) -> ApiClient:
    return admin_client


@pytest.fixture
async def running(client: ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[SimulatedNodes]:
    """Three simulated nodes named after the test, running until the test ends."""
    prefix = request.node.name.replace("_", "-")[:40].strip("-")
    nodes = SimulatedNodes(client, 3, prefix, timing=FAST)
    task = asyncio.create_task(nodes.run())
    await asyncio.wait_for(nodes.wait_registered(), WAIT_SECONDS)
    yield nodes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def pod_manifest(name: str, node: str, *, restart_policy: str = "Always", **annotations: str) -> dict:
    return {"metadata": {"name": name, "annotations": annotations},
            "spec": {"nodeName": node, "restartPolicy": restart_policy,
                     "containers": [{"name": "main", "image": "registry.local/web:1"}]}}


async def phase_of(client: ApiClient, name: str) -> str:
    try:
        return (await client.get(PODS, name, "default"))["status"].get("phase", "")
    except ApiError as err:
        return "gone" if err.code == 404 else f"error {err.code}"


async def test_registers_ready_nodes_with_leases(client: ApiClient, running: SimulatedNodes) -> None:
    assert running.counters.nodes_registered == 3
    listed = await client.list(NODES, label_selector=f"{SIMULATED_LABEL}=true")
    ours = sorted(n["metadata"]["name"] for n in listed["items"] if n["metadata"]["name"] in running.names)
    assert ours == running.names
    node = await client.get(NODES, running.names[0])
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    lease = await client.get(LEASES, running.names[0], "kube-node-lease")
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]

    first = lease["spec"]["renewTime"]

    async def renewed() -> bool:
        return (await client.get(LEASES, running.names[0], "kube-node-lease"))["spec"]["renewTime"] != first

    await eventually(renewed, "a lease renewal")
    await eventually(lambda: _true(running.counters.statuses_posted > 0), "a status heartbeat")


async def _true(value: bool) -> bool:
    return value


async def test_bound_pod_runs_with_addresses_from_the_node(client: ApiClient, running: SimulatedNodes) -> None:
    node = running.names[1]
    await client.create(PODS, pod_manifest("web-before-cidr", node), "default")
    await eventually(lambda: _is(client, "web-before-cidr", "Running"), "the pod to run")
    pod = await client.get(PODS, "web-before-cidr", "default")
    status = pod["status"]
    assert status["hostIP"] == "10.240.0.2"
    assert ipaddress.ip_address(status["podIP"]) in ipaddress.ip_network("10.128.1.0/24")  # fallback range
    assert status["qosClass"] == "BestEffort"
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"
    assert status["containerStatuses"][0]["ready"] is True

    # node-ipam assigns a podCIDR: later pods get addresses from it.
    await client.patch(NODES, node, {"spec": {"podCIDR": "10.244.9.0/24", "podCIDRs": ["10.244.9.0/24"]}})
    await asyncio.sleep(0.3)  # let the node informer see it
    await client.create(PODS, pod_manifest("web-after-cidr", node), "default")
    await eventually(lambda: _is(client, "web-after-cidr", "Running"), "the second pod to run")
    later = await client.get(PODS, "web-after-cidr", "default")
    assert ipaddress.ip_address(later["status"]["podIP"]) in ipaddress.ip_network("10.244.9.0/24")


async def _is(client: ApiClient, name: str, phase: str) -> bool:
    return await phase_of(client, name) == phase


async def test_pods_of_other_nodes_are_left_alone(client: ApiClient, running: SimulatedNodes) -> None:
    await client.create(PODS, pod_manifest("elsewhere", "a-real-node"), "default")
    await client.create(PODS, pod_manifest("here", running.names[0]), "default")
    await eventually(lambda: _is(client, "here", "Running"), "our pod to run")
    assert await phase_of(client, "elsewhere") == "Pending"


async def test_run_seconds_complete_or_restart_per_restart_policy(client: ApiClient,
                                                                  running: SimulatedNodes) -> None:
    node = running.names[2]
    await client.create(PODS, pod_manifest("job-ok", node, restart_policy="Never",
                                           **{RUN_SECONDS_ANNOTATION: "0.3"}), "default")
    await client.create(PODS, pod_manifest("job-bad", node, restart_policy="Never",
                                           **{RUN_SECONDS_ANNOTATION: "0.3", EXIT_CODE_ANNOTATION: "2"}),
                        "default")
    await client.create(PODS, pod_manifest("crashloop", node, restart_policy="OnFailure",
                                           **{RUN_SECONDS_ANNOTATION: "0.2", EXIT_CODE_ANNOTATION: "1"}),
                        "default")
    await eventually(lambda: _is(client, "job-ok", "Succeeded"), "job-ok to succeed")
    await eventually(lambda: _is(client, "job-bad", "Failed"), "job-bad to fail")
    done = await client.get(PODS, "job-bad", "default")
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 2

    async def restarted() -> bool:
        pod = await client.get(PODS, "crashloop", "default")
        return pod["status"]["containerStatuses"][0]["restartCount"] >= 2

    await eventually(restarted, "the container to restart twice")
    assert await phase_of(client, "crashloop") == "Running"


async def test_graceful_deletion_is_confirmed(client: ApiClient, running: SimulatedNodes) -> None:
    await client.create(PODS, pod_manifest("leaving", running.names[0]), "default")
    await eventually(lambda: _is(client, "leaving", "Running"), "the pod to run")
    await client.delete(PODS, "leaving", "default", grace_period_seconds=30)
    assert (await client.get(PODS, "leaving", "default"))["metadata"]["deletionTimestamp"]
    await eventually(lambda: _is(client, "leaving", "gone"), "the pod to be removed")
    assert running.counters.pods_removed >= 1


async def test_stopped_heartbeats_silence_a_node_until_resumed(client: ApiClient,
                                                               running: SimulatedNodes) -> None:
    silent, talking = running.names[0], running.names[1]
    running.stop_heartbeats([silent])
    await asyncio.sleep(0.3)  # a renewal already in flight may still land
    frozen = (await client.get(LEASES, silent, "kube-node-lease"))["spec"]["renewTime"]
    await client.create(PODS, pod_manifest("on-silent", silent), "default")
    moving = (await client.get(LEASES, talking, "kube-node-lease"))["spec"]["renewTime"]

    async def other_renewed() -> bool:
        return (await client.get(LEASES, talking, "kube-node-lease"))["spec"]["renewTime"] != moving

    await eventually(other_renewed, "the other node's renewal")
    await asyncio.sleep(0.5)  # more than two renewal periods of silence
    assert (await client.get(LEASES, silent, "kube-node-lease"))["spec"]["renewTime"] == frozen
    assert await phase_of(client, "on-silent") == "Pending"

    running.resume_heartbeats([silent])
    await eventually(lambda: _is(client, "on-silent", "Running"), "the resumed node to start its pod")

    async def renewed_again() -> bool:
        return (await client.get(LEASES, silent, "kube-node-lease"))["spec"]["renewTime"] != frozen

    await eventually(renewed_again, "the resumed node's lease")
    with pytest.raises(ValueError, match="not simulated here: nope"):
        running.stop_heartbeats(["nope"])


async def test_a_restarted_simulator_adopts_its_nodes_and_pods(client: ApiClient) -> None:
    first = SimulatedNodes(client, 1, "adopt", timing=FAST)
    task = asyncio.create_task(first.run())
    await first.wait_registered()
    await client.create(PODS, pod_manifest("kept", "adopt-0"), "default")
    await eventually(lambda: _is(client, "kept", "Running"), "the pod to run")
    kept_ip = (await client.get(PODS, "kept", "default"))["status"]["podIP"]
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    second = SimulatedNodes(client, 1, "adopt", timing=FAST)
    task = asyncio.create_task(second.run())
    try:
        await asyncio.wait_for(second.wait_registered(), WAIT_SECONDS)
        assert second.counters.nodes_registered == 1
        await client.create(PODS, pod_manifest("new", "adopt-0"), "default")
        await eventually(lambda: _is(client, "new", "Running"), "the new pod to run")
        new_ip = (await client.get(PODS, "new", "default"))["status"]["podIP"]
        assert new_ip != kept_ip
        assert (await client.get(PODS, "kept", "default"))["status"]["podIP"] == kept_ip
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_control_file_stops_and_resumes(tmp_path: Path, running: SimulatedNodes) -> None:
    control = tmp_path / "stopped-nodes"
    follower = asyncio.create_task(follow_control_file(running, control, poll=0.02))
    try:
        control.write_text(f"{running.names[2]}  # flaky\nnot-ours\n\n")
        assert read_stopped(control) == {running.names[2], "not-ours"}
        await eventually(lambda: _true(running.stopped == {running.names[2]}), "the file to apply")
        control.write_text("")
        await eventually(lambda: _true(not running.stopped), "the emptied file to apply")
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
