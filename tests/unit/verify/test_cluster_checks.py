from __future__ import annotations

from typing import Any

import pytest

from provisioner import spec
from provisioner.lifecycle.cluster_api import ComponentReport
from provisioner.verify.cluster_checks import check_cluster

SPEC = """
apiVersion: provision.dev/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  provider: {type: machines, machines: {subnet: 10.78.0.0/24}}
  controlPlane: {count: 1, schedulable: %s}
  nodeGroups:
    - name: gpu
      count: 1
      labels: {accelerator: "yes"}
      taints: [{key: gpu, value: "true", effect: NoSchedule}]
"""
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
HEALTHY = [ComponentReport("kube-scheduler", True, "leader a, renewed 1s ago"),
           ComponentReport("kube-controller-manager", True, "leader b, renewed 2s ago")]
READY = (True, "[+]ping ok\nreadyz check passed")


def machines(schedulable: bool = False) -> tuple[spec.Machine, ...]:
    return spec.parse(SPEC % str(schedulable).lower()).machines


def node(name: str, labels: dict[str, str], taints: list[dict[str, str]] = (), ready: str = "True",
         reason: str = "KubeletReady") -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
            "spec": {"taints": list(taints)},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "m"}]}}


def good_nodes() -> list[dict[str, Any]]:
    return [node("t-cp-1", {"node-role.kubernetes.io/control-plane": ""}, [CONTROL_PLANE_TAINT]),
            node("t-gpu-1", {"node-role.kubernetes.io/worker": "", "accelerator": "yes"},
                 [{"key": "gpu", "value": "true", "effect": "NoSchedule"}])]


def failures(results) -> dict[str, str]:
    return {r.check: r.why for r in results if not r.passed}


def test_a_cluster_as_specified_passes_every_check():
    results = check_cluster(machines(), good_nodes(), HEALTHY, READY)
    assert failures(results) == {}
    assert {r.target for r in results} == {"cluster"}
    assert [r.check for r in results] == [
        "apiserver ready",
        "node t-cp-1 Ready", "node t-cp-1 labels", "node t-cp-1 taints",
        "node t-gpu-1 Ready", "node t-gpu-1 labels", "node t-gpu-1 taints",
        "no nodes outside the spec",
        "kube-scheduler leader lease fresh", "kube-controller-manager leader lease fresh",
    ]


def test_a_missing_and_a_not_ready_node_fail_with_why():
    nodes = good_nodes()
    nodes[1]["status"]["conditions"][0].update(status="False", reason="NetworkDown")
    assert failures(check_cluster(machines(), nodes, HEALTHY, READY)) == {
        "node t-gpu-1 Ready": "Ready=False: NetworkDown m"}
    assert failures(check_cluster(machines(), nodes[:1], HEALTHY, READY)) == {
        "node t-gpu-1 Ready": "not registered"}


def test_a_node_without_conditions_is_not_ready():
    nodes = good_nodes()
    nodes[0]["status"] = {}
    assert failures(check_cluster(machines(), nodes, HEALTHY, READY)) == {
        "node t-cp-1 Ready": "no Ready condition"}


def test_role_and_spec_labels_are_checked():
    nodes = good_nodes()
    nodes[0]["metadata"]["labels"].pop("node-role.kubernetes.io/control-plane")
    nodes[1]["metadata"]["labels"]["accelerator"] = "no"
    assert failures(check_cluster(machines(), nodes, HEALTHY, READY)) == {
        "node t-cp-1 labels": "node-role.kubernetes.io/control-plane missing",
        "node t-gpu-1 labels": "accelerator='yes' (has 'no')",
    }


def test_spec_taints_must_be_on_the_nodes():
    nodes = good_nodes()
    nodes[0]["spec"] = {}
    nodes[1]["spec"]["taints"][0]["value"] = "false"
    assert failures(check_cluster(machines(), nodes, HEALTHY, READY)) == {
        "node t-cp-1 taints": "node-role.kubernetes.io/control-plane:NoSchedule missing",
        "node t-gpu-1 taints": "gpu=true:NoSchedule missing",
    }


@pytest.mark.parametrize("tainted", [False, True])
def test_a_schedulable_control_plane_has_no_control_plane_taint(tainted):
    nodes = good_nodes()
    nodes[0]["spec"]["taints"] = [CONTROL_PLANE_TAINT] if tainted else []
    why = "node-role.kubernetes.io/control-plane:NoSchedule present on a schedulable control plane"
    expected = {"node t-cp-1 taints": why} if tainted else {}
    assert failures(check_cluster(machines(schedulable=True), nodes, HEALTHY, READY)) == expected


def test_nodes_outside_the_spec_fail():
    nodes = [*good_nodes(), node("stray", {})]
    assert failures(check_cluster(machines(), nodes, HEALTHY, READY)) == {
        "no nodes outside the spec": "stray"}


def test_stale_components_and_an_unready_apiserver_fail():
    components = [HEALTHY[0], ComponentReport("kube-controller-manager", False, "no leader lease")]
    readyz = (False, "[+]ping ok\n[-]etcd failed: reason withheld\n[-]startup failed\nreadyz check failed")
    assert failures(check_cluster(machines(), good_nodes(), components, readyz)) == {
        "apiserver ready": "[-]etcd failed: reason withheld; [-]startup failed",
        "kube-controller-manager leader lease fresh": "no leader lease",
    }
