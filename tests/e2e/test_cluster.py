"""`provision create` of the example cluster (1 control plane + 2 workers) on local machines, checked with the
real kubectl, `provision verify`, a converging second run, and a delete that leaves the host as it was.

The tests share one cluster and run in file order; the last one deletes it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from provisioner.lifecycle import create, delete
from provisioner.runner import AnsibleRunner
from tests.e2e.conftest import CLUSTER_NAME, E2ECluster, host_snapshot

pytestmark = pytest.mark.e2e


def test_all_phases_ran_and_changed_the_new_machines(e2e_cluster: E2ECluster) -> None:
    phases = [p.name for p in e2e_cluster.first.phases]
    assert phases == ["preflight", "machines", "bundle", "pki", "control_plane", "join", "verify"]
    assert e2e_cluster.first.playbook is not None and e2e_cluster.first.playbook.ok
    assert e2e_cluster.first.changed > 0


def test_kubectl_sees_three_ready_nodes_with_roles(e2e_cluster: E2ECluster) -> None:
    nodes = json.loads(e2e_cluster.kubectl("get", "nodes", "-o", "json"))["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(by_name) == [f"{CLUSTER_NAME}-cp-1", f"{CLUSTER_NAME}-workers-1", f"{CLUSTER_NAME}-workers-2"]
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", node["metadata"]["name"]
    control_plane = by_name[f"{CLUSTER_NAME}-cp-1"]
    assert "node-role.kubernetes.io/control-plane" in control_plane["metadata"]["labels"]
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in control_plane["spec"]["taints"]
    assert control_plane["spec"]["podCIDR"].startswith("10.216.")
    table = e2e_cluster.kubectl("get", "nodes")
    assert re.search(rf"^{CLUSTER_NAME}-cp-1\s+Ready\s+control-plane\s", table, re.M), table
    assert re.search(rf"^{CLUSTER_NAME}-workers-2\s+Ready\s+worker\s", table, re.M), table


def test_kubelets_use_their_own_certificates_and_the_join_token_is_gone(e2e_cluster: E2ECluster) -> None:
    csrs = json.loads(e2e_cluster.kubectl("get", "csr", "-o", "json"))["items"]
    approved = [c for c in csrs if c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
                and any(cond["type"] == "Approved" for cond in c["status"].get("conditions", []))]
    assert len(approved) == 3
    assert all(c["spec"]["username"].startswith("system:bootstrap:") for c in approved)
    secrets = json.loads(e2e_cluster.kubectl("get", "secrets", "-n", "kube-system", "-o", "json"))["items"]
    assert not [s for s in secrets if s.get("type") == "bootstrap.kubernetes.io/token"]


def test_verify_passes_and_writes_junit(e2e_cluster: E2ECluster) -> None:
    result = e2e_cluster.provision("verify", CLUSTER_NAME)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^\d+ checks passed$", result.stdout, re.M), result.stdout
    junit = e2e_cluster.state.verify_dir / "junit.xml"
    assert "<testsuite" in junit.read_text()


def test_status_and_listing(e2e_cluster: E2ECluster) -> None:
    status = e2e_cluster.provision("status", CLUSTER_NAME)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"cluster {CLUSTER_NAME}: healthy" in status.stdout
    listing = e2e_cluster.provision("get", "clusters")
    assert re.search(rf"^{CLUSTER_NAME}\s+machines\s+1\s+2\s", listing.stdout, re.M), listing.stdout


def test_exported_kubeconfig_works_with_kubectl(e2e_cluster: E2ECluster, tmp_path) -> None:
    result = e2e_cluster.provision("kubeconfig", CLUSTER_NAME)
    assert result.returncode == 0, result.stderr
    exported = tmp_path / "kubeconfig"
    exported.write_text(result.stdout)
    assert yaml.safe_load(result.stdout)["kind"] == "Config"
    version = subprocess.run([".venv/bin/kubectl", "--kubeconfig", str(exported), "version", "-o", "json"],
                             capture_output=True, text=True, timeout=60)
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"].startswith("v1.")


def test_second_create_changes_nothing(e2e_cluster: E2ECluster) -> None:
    again = create.create(e2e_cluster.spec, state_root=e2e_cluster.state_root, runner=AnsibleRunner())
    assert again.playbook is not None and again.playbook.ok
    changed = {host: stats.changed for host, stats in again.playbook.hosts.items()}
    assert changed == dict.fromkeys(changed, 0), changed
    assert len(changed) == 3


def test_a_cluster_overlapping_this_one_is_refused(e2e_cluster: E2ECluster, tmp_path) -> None:
    spec = yaml.safe_load(e2e_cluster.spec.read_text())
    spec["metadata"]["name"] = "e2e-clash"
    path = tmp_path / "clash.yaml"
    path.write_text(yaml.safe_dump(spec))
    before = host_snapshot()
    result = e2e_cluster.provision("create", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "overlaps cluster e2e" in result.stderr
    assert host_snapshot() == before


def test_delete_leaves_the_host_as_it_was(e2e_cluster: E2ECluster) -> None:
    delete.delete(CLUSTER_NAME, state_root=e2e_cluster.state_root, runner=AnsibleRunner())
    assert not e2e_cluster.state.dir.exists()
    assert host_snapshot() == e2e_cluster.before
