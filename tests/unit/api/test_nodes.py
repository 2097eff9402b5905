"""What every kubelet writes about its node: heartbeat conditions that keep their transition times, the Lease owned
by the Node, and the timestamp formats both use."""

from __future__ import annotations

from provisioner.services.api import nodes
from provisioner.services.api.timestamps import micro_time, parse_time, rfc3339

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def test_first_heartbeat_transitions_every_condition_now() -> None:
    conditions = nodes.heartbeat_conditions([], NOW)
    assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert all(c["lastTransitionTime"] == c["lastHeartbeatTime"] == "2027-01-15T08:00:00Z" for c in conditions)
    assert conditions[-1]["message"] == "kubelet is posting ready status"


def test_a_condition_keeps_its_transition_time_until_its_status_flips() -> None:
    earlier = nodes.heartbeat_conditions([], NOW)
    earlier[-1] = {**earlier[-1], "status": "Unknown"}  # the node-lifecycle controller lost contact meanwhile
    later = {c["type"]: c for c in nodes.heartbeat_conditions(earlier, NOW + 60)}
    assert all(c["lastHeartbeatTime"] == "2027-01-15T08:01:00Z" for c in later.values())
    assert later["MemoryPressure"]["lastTransitionTime"] == "2027-01-15T08:00:00Z"
    assert later["Ready"]["lastTransitionTime"] == "2027-01-15T08:01:00Z"


def test_lease_is_owned_by_its_node() -> None:
    lease = nodes.lease_object("sim-0", "uid-9", 40, NOW)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": "sim-0",
                                                     "uid": "uid-9"}]
    assert lease["spec"] == {"holderIdentity": "sim-0", "leaseDurationSeconds": 40,
                             "renewTime": "2027-01-15T08:00:00.000000Z"}


def test_times_round_trip() -> None:
    assert parse_time(rfc3339(NOW)) == NOW
    assert parse_time(micro_time(NOW + 0.25)) == NOW + 0.25
    assert parse_time("yesterday") is None
