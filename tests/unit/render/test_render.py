"""Render: Cluster + host accesses → the ansible-runner workspace (inventory, extravars, settings, project).

Golden cases are data: tests/data/render/<case>/cluster.yaml is rendered with fixed sources and release and must
give inventory.expected.yaml and extravars.expected.yaml byte for byte. UPDATE_GOLDEN=1 rewrites the expected
files from what the code does now; review the diff before keeping it.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Address
from pathlib import Path

import pytest
import yaml

from provisioner import render
from provisioner.lifecycle.create import admin_labels
from provisioner.providers import HostAccess, provider_for
from provisioner.providers.machines.provider import BUNDLES_MOUNT
from provisioner.services.api.nodes import kubelet_may_set_label
from provisioner.spec import Cluster, load

DATA = Path(__file__).parents[2] / "data" / "render"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
RELEASE = "0123456789abcdef"
PYTHON_VERSION = "3.11"
ARCH = "x86_64"
SOURCES = render.Sources(bundle_dir=Path("/cache/bundles") / RELEASE, pki_dir=Path("/state/pki"),
                         templates_dir=Path("/src/templates"), playbooks_dir=Path("/src/playbooks"))
CASES = sorted(p.name for p in DATA.iterdir() if (p / "cluster.yaml").is_file())


def _accesses(cluster: Cluster) -> list[HostAccess]:
    """What the cluster's own provider says about reaching its machines (nothing is created or checked)."""
    provider = provider_for(cluster, Path("/state/machines"), Path("/state/ssh/id_ed25519"), Path("/cache"))
    return provider.accesses(cluster.machines)


def _check_golden(expected_file: Path, actual: str) -> None:
    if UPDATE:
        expected_file.write_text(actual)
    assert expected_file.exists(), f"{expected_file} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert actual == expected_file.read_text()


def _load(case: str) -> Cluster:
    return load(DATA / case / "cluster.yaml")


def test_the_golden_cases_are_there() -> None:
    assert {"local", "labels-taints", "ssh"} <= set(CASES)
    local = (DATA / "local" / "cluster.yaml").read_text()
    examples = (Path(__file__).parents[3] / "examples" / "cluster.yaml").read_text()
    assert local == examples, "tests/data/render/local/cluster.yaml is a copy of examples/cluster.yaml"


@pytest.mark.parametrize("case", CASES)
def test_workspace_renders_as_expected(case: str, tmp_path: Path) -> None:
    cluster = _load(case)
    workspace = render.write_workspace(tmp_path / "workspace", cluster, _accesses(cluster), RELEASE, SOURCES,
                                       python_version=PYTHON_VERSION, arch=ARCH)
    _check_golden(DATA / case / "inventory.expected.yaml", (workspace / "inventory" / "hosts.yml").read_text())
    _check_golden(DATA / case / "extravars.expected.yaml", (workspace / "env" / "extravars").read_text())
    assert yaml.safe_load((workspace / "env" / "settings").read_text()) == render.RUNNER_SETTINGS
    assert (workspace / "project").is_symlink()
    assert Path(os.readlink(workspace / "project")) == SOURCES.playbooks_dir


def test_rewriting_a_workspace_repoints_the_project_link(tmp_path: Path) -> None:
    cluster = _load("local")
    accesses = _accesses(cluster)
    render.write_workspace(tmp_path, cluster, accesses, RELEASE, SOURCES, PYTHON_VERSION, ARCH)
    moved = render.Sources(SOURCES.bundle_dir, SOURCES.pki_dir, SOURCES.templates_dir, Path("/elsewhere/playbooks"))
    render.write_workspace(tmp_path, cluster, accesses, RELEASE, moved, PYTHON_VERSION, ARCH)
    assert Path(os.readlink(tmp_path / "project")) == Path("/elsewhere/playbooks")


def _hosts(inventory: dict) -> dict[str, dict]:
    children = inventory["all"]["children"]
    return {**children["control_plane"]["hosts"], **children["workers"]["hosts"]}


def test_groups_hold_the_control_planes_and_the_workers() -> None:
    cluster = _load("labels-taints")
    inventory = render.inventory(cluster, _accesses(cluster))
    children = inventory["all"]["children"]
    assert list(children["control_plane"]["hosts"]) == ["shop-cp-1"]
    assert list(children["workers"]["hosts"]) == ["shop-web-1", "shop-web-2", "shop-batch-1"]
    assert children["nodes"] == {"children": {"control_plane": {}, "workers": {}}}


@pytest.mark.parametrize("case", CASES)
def test_the_kubelet_gets_only_labels_it_may_set(case: str) -> None:
    cluster = _load(case)
    hosts = _hosts(render.inventory(cluster, _accesses(cluster)))
    for machine in cluster.machines:
        node_labels = hosts[machine.name]["node_labels"]
        assert all(kubelet_may_set_label(key) for key in node_labels), machine.name
        assert not any(key.startswith("node-role.kubernetes.io/") for key in node_labels), machine.name
        # Nothing is lost: what the kubelet may not set, the tool sets as the admin once the Node exists.
        assert {**node_labels, **admin_labels(machine)} == machine.labels
        assert not set(node_labels) & set(admin_labels(machine))


def test_labels_are_split_between_kubelet_and_admin() -> None:
    cluster = _load("labels-taints")
    hosts = _hosts(render.inventory(cluster, _accesses(cluster)))
    assert hosts["shop-cp-1"]["node_labels"] == {"topology.kubernetes.io/zone": "zone-a"}
    assert hosts["shop-web-1"]["node_labels"] == {
        "example.com/team": "shop", "node.kubernetes.io/instance-type": "small", "tier": "frontend"}
    assert hosts["shop-batch-1"]["node_labels"] == {}  # kubernetes.io/team is the admin's
    web = next(m for m in cluster.machines if m.name == "shop-web-1")
    assert admin_labels(web) == {"node-role.kubernetes.io/web": "", "node-role.kubernetes.io/worker": ""}


def test_taints_are_strings_in_kubectl_form() -> None:
    cluster = _load("labels-taints")
    hosts = _hosts(render.inventory(cluster, _accesses(cluster)))
    assert hosts["shop-cp-1"]["node_taints"] == []  # schedulable: no control-plane taint
    assert hosts["shop-web-2"]["node_taints"] == ["dedicated=web:NoSchedule", "example.com/drain:NoExecute"]
    assert hosts["shop-batch-1"]["node_taints"] == ["dedicated:PreferNoSchedule"]
    local = _load("local")
    assert _hosts(render.inventory(local, _accesses(local)))["local-cp-1"]["node_taints"] == [
        "node-role.kubernetes.io/control-plane:NoSchedule"]


def test_ssh_hosts_are_reached_as_the_spec_says() -> None:
    cluster = _load("ssh")
    inventory = render.inventory(cluster, _accesses(cluster))
    common = inventory["all"]["vars"]
    assert common["ansible_user"] == "deploy"
    assert "IdentityFile=/etc/provision/keys/id_ed25519" in common["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=accept-new" in common["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/state/ssh/known_hosts" in common["ansible_ssh_common_args"]
    hosts = _hosts(inventory)
    assert {name: (h["ansible_host"], h["ansible_port"]) for name, h in hosts.items()} == {
        "cp1": ("192.0.2.10", 2222), "worker1": ("192.0.2.11", 2222), "worker2": ("192.0.2.12", 2222)}


def test_local_machines_are_pinned() -> None:
    cluster = _load("local")
    common = render.inventory(cluster, _accesses(cluster))["all"]["vars"]
    assert common["ansible_user"] == "root"
    assert "StrictHostKeyChecking=yes" in common["ansible_ssh_common_args"]


def test_the_access_address_is_where_ansible_connects_and_the_spec_address_is_the_node_ip() -> None:
    cluster = _load("local")
    accesses = [HostAccess(a.name, IPv4Address("127.0.0.1"), a.user, 2200 + i, a.private_key, a.known_hosts,
                           a.pinned) for i, a in enumerate(_accesses(cluster))]
    hosts = _hosts(render.inventory(cluster, accesses))
    assert hosts["local-workers-1"]["ansible_host"] == "127.0.0.1"
    assert hosts["local-workers-1"]["ansible_port"] == 2201
    assert hosts["local-workers-1"]["node_ip"] == "10.77.0.11"


def test_bundle_host_dir_only_for_the_machines_provider() -> None:
    for case, expected in (("local", True), ("labels-taints", True), ("ssh", False)):
        extravars = render.extravars(_load(case), RELEASE, SOURCES, PYTHON_VERSION, ARCH)
        assert ("bundle_host_dir" in extravars) is expected, case
    assert render.extravars(_load("local"), RELEASE, SOURCES, PYTHON_VERSION, ARCH)["bundle_host_dir"] == \
        BUNDLES_MOUNT  # where the machines provider binds the bundle cache


def test_no_release_before_the_bundle_phase() -> None:
    extravars = render.extravars(_load("local"), None, SOURCES, PYTHON_VERSION, ARCH)
    assert "provision_release" not in extravars
    assert render.extravars(_load("local"), RELEASE, SOURCES, PYTHON_VERSION, ARCH)["provision_release"] == RELEASE


def test_extravars_follow_the_spec() -> None:
    extravars = render.extravars(_load("labels-taints"), RELEASE, SOURCES, PYTHON_VERSION, ARCH)
    assert extravars["apiserver_address"] == "10.60.0.10"
    assert extravars["apiserver_port"] == 8443
    assert extravars["kubernetes_service_ip"] == "10.100.0.1"
    assert extravars["dns_ip"] == "10.100.0.10"
    assert extravars["cluster_domain"] == "corp.example"
    assert extravars["node_cidr_mask_size"] == 25
    assert extravars["bundle_dir"] == f"/cache/bundles/{RELEASE}"
    assert extravars["pki_source_dir"] == "/state/pki"


def test_a_machine_without_access_is_an_error() -> None:
    cluster = _load("local")
    accesses = _accesses(cluster)
    with pytest.raises(ValueError, match="no access to local-workers-2"):
        render.inventory(cluster, accesses[:2])
