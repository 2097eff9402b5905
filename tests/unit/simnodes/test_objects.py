"""The shapes simulated nodes write, the pod lifecycle rules, addresses and the spreading of heartbeats."""

from __future__ import annotations

import ipaddress

import pytest

from provisioner.services.simnodes import objects
from provisioner.services.simnodes.addresses import AddressError, PodAddresses, fallback_pod_cidr, node_ip
from provisioner.services.simnodes.spread import batch_for_slot, run_spread

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def pod(restart_policy: str = "Always", **annotations: str) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1", "annotations": annotations},
        "spec": {"nodeName": "n-0", "restartPolicy": restart_policy,
                 "initContainers": [{"name": "init", "image": "busybox"}],
                 "containers": [{"name": "a", "image": "web:1"}, {"name": "b", "image": "side:2"}]},
        "status": {"phase": "Pending", "qosClass": "BestEffort",
                   "conditions": [{"type": "PodScheduled", "status": "True",
                                   "lastTransitionTime": "2027-01-15T07:59:00Z"}]},
    }


# ------------------------------------------------------------------------------------------------ nodes
def test_node_object_looks_like_a_registered_kubelet() -> None:
    template = objects.NodeTemplate(cpu="4", memory="8Gi", pods=30, labels={"zone": "a"})
    node = objects.node_object("sim-3", "10.240.0.4", template, NOW)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "sim-3" and labels["zone"] == "a"
    assert labels[objects.SIMULATED_LABEL] == "true"
    status = node["status"]
    assert status["capacity"] == status["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "30",
                                                           "ephemeral-storage": "100Gi"}
    assert status["nodeInfo"]["kubeletVersion"] == "v1.37.0"
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.240.0.4"},
                                   {"type": "Hostname", "address": "sim-3"}]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    ready = status["conditions"][-1]
    assert ready["type"] == "Ready" and ready["status"] == "True" and ready["reason"] == "KubeletReady"
    assert ready["lastHeartbeatTime"] == "2027-01-15T08:00:00Z"


def test_bad_template_values_are_refused() -> None:
    with pytest.raises(ValueError, match="node cpu 'lots'"):
        objects.NodeTemplate(cpu="lots")
    with pytest.raises(ValueError, match="node pods 0"):
        objects.NodeTemplate(pods=0)


# ------------------------------------------------------------------------------------------------- pods
def test_running_status_has_every_condition_address_and_container() -> None:
    status = objects.running_status(pod(), "10.240.0.1", "10.244.0.2", NOW)
    assert status["phase"] == "Running"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert {t: c["status"] for t, c in conditions.items()} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    assert conditions["PodScheduled"]["lastTransitionTime"] == "2027-01-15T07:59:00Z"  # kept from the binding
    assert status["hostIP"] == "10.240.0.1" and status["podIPs"] == [{"ip": "10.244.0.2"}]
    assert status["startTime"] == "2027-01-15T08:00:00Z"
    assert "qosClass" not in status  # a merge patch leaves the apiserver's value alone
    assert [(c["name"], c["ready"], c["state"]) for c in status["containerStatuses"]] == [
        ("a", True, {"running": {"startedAt": "2027-01-15T08:00:00Z"}}),
        ("b", True, {"running": {"startedAt": "2027-01-15T08:00:00Z"}})]
    (init,) = status["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed"


def test_run_annotations() -> None:
    assert objects.container_run(pod()) == objects.ContainerRun(None)
    assert objects.container_run(pod(**{objects.RUN_SECONDS_ANNOTATION: "2.5"})) == objects.ContainerRun(2.5, 0)
    failing = pod(**{objects.RUN_SECONDS_ANNOTATION: "1", objects.EXIT_CODE_ANNOTATION: "3"})
    assert objects.container_run(failing) == objects.ContainerRun(1.0, 3)
    assert objects.container_run(pod(**{objects.RUN_SECONDS_ANNOTATION: "soon"})).seconds is None


@pytest.mark.parametrize(("policy", "exit_code", "phase"), [
    ("Never", 0, "Succeeded"), ("Never", 1, "Failed"), ("OnFailure", 0, "Succeeded"),
])
def test_exited_containers_finish_the_pod(policy: str, exit_code: int, phase: str) -> None:
    running = pod(policy)
    running["status"] = objects.running_status(running, "10.240.0.1", "10.244.0.2", NOW)
    status = objects.exited_status(running, exit_code, NOW + 5)
    assert status["phase"] == phase
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == exit_code
    assert terminated["reason"] == ("Completed" if exit_code == 0 else "Error")
    assert terminated["startedAt"] == "2027-01-15T08:00:00Z" and terminated["finishedAt"] == "2027-01-15T08:00:05Z"
    ready = {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}
    assert ready["Ready"] == ("False", "PodCompleted") and ready["PodScheduled"][0] == "True"


@pytest.mark.parametrize(("policy", "exit_code"), [("Always", 0), ("Always", 2), ("OnFailure", 2)])
def test_exited_containers_restart_per_policy(policy: str, exit_code: int) -> None:
    running = pod(policy)
    running["status"] = objects.running_status(running, "10.240.0.1", "10.244.0.2", NOW)
    status = objects.exited_status(running, exit_code, NOW + 5)
    assert "phase" not in status  # still Running
    first = status["containerStatuses"][0]
    assert first["restartCount"] == 1 and first["ready"] is True
    assert first["state"] == {"running": {"startedAt": "2027-01-15T08:00:05Z"}}
    assert first["lastState"]["terminated"]["exitCode"] == exit_code
    assert objects.started_at({"status": status}) == NOW + 5


# -------------------------------------------------------------------------------------------- addresses
def test_node_and_fallback_ranges() -> None:
    assert node_ip(0) == "10.240.0.1" and node_ip(300) == "10.240.1.45"
    assert fallback_pod_cidr(0) == "10.128.0.0/24" and fallback_pod_cidr(5000) == "10.147.136.0/24"
    with pytest.raises(AddressError):
        fallback_pod_cidr(16384)


def test_pod_addresses_skip_network_and_bridge_and_are_reused_only_after_a_round() -> None:
    addresses = PodAddresses("10.244.3.0/29")  # hosts .1-.6; .1 is the bridge
    given = [addresses.allocate(f"p{i}") for i in range(5)]
    assert given == ["10.244.3.2", "10.244.3.3", "10.244.3.4", "10.244.3.5", "10.244.3.6"]
    assert addresses.allocate("p0") == "10.244.3.2"  # the same pod keeps its address
    with pytest.raises(AddressError, match="full"):
        addresses.allocate("p5")
    addresses.release("p2")
    assert addresses.allocate("p5") == "10.244.3.4"


def test_claimed_addresses_are_not_handed_out_and_a_new_cidr_applies_to_new_pods() -> None:
    addresses = PodAddresses("10.128.0.0/24")
    addresses.claim("old", "10.128.0.2")
    assert addresses.allocate("new") == "10.128.0.3"
    addresses.change_cidr("10.244.7.0/24")
    assert addresses.address_of("old") == "10.128.0.2"
    assert ipaddress.ip_address(addresses.allocate("next")) in ipaddress.ip_network("10.244.7.0/24")


# ---------------------------------------------------------------------------------------------- spread
def test_batches_interleave_consecutive_nodes() -> None:
    names = [f"n{i}" for i in range(7)]
    assert batch_for_slot(names, 0, 3) == ["n0", "n3", "n6"]
    assert batch_for_slot(names, 2, 3) == ["n2", "n5"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_every_name_beats_once_per_period_spread_over_it() -> None:
    clock = FakeClock()
    names = [f"n{i}" for i in range(100)]
    beats: list[tuple[float, list[str]]] = []

    async def beat(batch: list[str]) -> None:
        beats.append((clock.now, batch))
        if clock.now >= 30:
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        await run_spread(lambda: names, 10.0, beat, tick=1.0, clock=clock, sleep=clock.sleep)
    first_period = [b for t, b in beats if t < 10]
    assert sorted(n for batch in first_period for n in batch) == sorted(names)
    assert [round(t, 6) for t, _ in beats[:10]] == [float(i) for i in range(10)]
    assert {len(b) for _, b in beats} == {10}
    assert round(beats[10][0], 6) == 10.0  # the second period starts on time


async def test_a_slow_apiserver_slows_beats_instead_of_piling_them_up() -> None:
    clock = FakeClock()
    calls: list[float] = []

    async def slow_beat(batch: list[str]) -> None:
        calls.append(clock.now)
        clock.now += 3.0  # each batch takes longer than its slot
        if len(calls) == 8:
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        await run_spread(lambda: ["a", "b", "c", "d"], 4.0, slow_beat, tick=1.0, clock=clock, sleep=clock.sleep)
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:], strict=False)]
    assert all(gap >= 3.0 for gap in gaps)  # one batch at a time, never a burst to catch up
