"""The `ssh` provider on hosts the tool did not make for that cluster: two local machines (made by a `machines`
cluster used only for its hosts) are given to an ssh-provider spec, one of them missing a node package, which
the bundle's local apt repository supplies with no network. Bad access is reported per host; `delete` takes the
cluster's services and files off the hosts again."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from provisioner.errors import ProvisionError
from provisioner.lifecycle import create, delete
from provisioner.lifecycle.state import ClusterState
from provisioner.providers.sshkeys import new_ed25519_key_pair
from provisioner.runner import AnsibleRunner
from tests.e2e.conftest import REPO

pytestmark = pytest.mark.e2e

HOSTS_SPEC = {
    "apiVersion": "provision.dev/v1alpha1", "kind": "Cluster", "metadata": {"name": "sshhosts"},
    "spec": {"provider": {"type": "machines", "machines": {"subnet": "10.65.0.0/24"}},
             "network": {"podCIDR": "10.215.0.0/16", "serviceCIDR": "10.115.0.0/16"},
             "controlPlane": {"count": 1}, "nodeGroups": [{"name": "w", "count": 1}]},
}
HOST_ADDRESSES = ("10.65.0.10", "10.65.0.11")
MISSING_PACKAGE = "conntrack"  # a node package nothing else needs yet: removed from one host before create


def ssh_spec(key: Path, *, name: str = "viassh", addresses: tuple[str, str] = HOST_ADDRESSES) -> dict:
    return {
        "apiVersion": "provision.dev/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {"provider": {"type": "ssh", "ssh": {"user": "root", "privateKey": str(key)}},
                 "network": {"podCIDR": "10.214.0.0/16", "serviceCIDR": "10.114.0.0/16"},
                 "controlPlane": {"hosts": [{"name": "ssh-cp", "address": addresses[0]}]},
                 "nodeGroups": [{"name": "workers", "hosts": [{"name": "ssh-worker", "address": addresses[1]}]}]},
    }


@dataclass
class SshHosts:
    directory: Path
    state_root: Path
    key: Path

    def ssh(self, address: str, command: str) -> subprocess.CompletedProcess[str]:
        known = ClusterState(self.state_root, "sshhosts").dir / "ssh" / "known_hosts"
        return subprocess.run(["ssh", "-i", str(self.key), "-o", f"UserKnownHostsFile={known}",
                               "-o", "BatchMode=yes", f"root@{address}", command],
                              capture_output=True, text=True, timeout=60)

    def write(self, spec: dict, name: str) -> Path:
        path = self.directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path


@pytest.fixture(scope="module")
def ssh_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshHosts]:
    directory = tmp_path_factory.mktemp("sshhosts")
    state_root = directory / "state"
    spec = directory / "hosts.yaml"
    spec.write_text(yaml.safe_dump(HOSTS_SPEC))
    try:
        create.create(spec, state_root=state_root, runner=AnsibleRunner(), only=["preflight", "machines"])
        hosts = SshHosts(directory, state_root, ClusterState(state_root, "sshhosts").ssh_key)
        removed = hosts.ssh(HOST_ADDRESSES[1], f"dpkg --purge {MISSING_PACKAGE}")
        assert removed.returncode == 0, removed.stderr
        yield hosts
    finally:
        if ClusterState(state_root, "sshhosts").exists():
            delete.delete("sshhosts", state_root=state_root, runner=AnsibleRunner())


def test_unreachable_host_and_wrong_key_are_named(ssh_hosts: SshHosts) -> None:
    wrong_key = ssh_hosts.directory / "wrong_key"
    wrong_key.write_bytes(new_ed25519_key_pair("wrong").private_openssh)
    wrong_key.chmod(0o600)
    cases = {
        "wrong-key": (ssh_spec(wrong_key, name="wrongkey"), "ssh-cp (10.65.0.10:22)"),
        "unreachable": (ssh_spec(ssh_hosts.key, name="nohost", addresses=("10.65.0.99", HOST_ADDRESSES[1])),
                        "ssh-cp (10.65.0.99:22)"),
    }
    for case, (spec, named) in cases.items():
        with pytest.raises(ProvisionError) as raised:
            create.create(ssh_hosts.write(spec, case), state_root=ssh_hosts.state_root / case,
                          runner=AnsibleRunner())
        assert named in str(raised.value), (case, str(raised.value))
        assert "phase machines failed" in str(raised.value)


def test_cluster_on_ssh_hosts_installs_missing_packages_and_deletes_cleanly(ssh_hosts: SshHosts) -> None:
    spec = ssh_hosts.write(ssh_spec(ssh_hosts.key), "viassh")
    state_root = ssh_hosts.state_root / "viassh"
    result = create.create(spec, state_root=state_root, runner=AnsibleRunner())
    assert [p.name for p in result.phases][-1] == "verify"
    assert ssh_hosts.ssh(HOST_ADDRESSES[1], f"dpkg -s {MISSING_PACKAGE}").returncode == 0
    kubeconfig = ClusterState(state_root, "viassh").admin_kubeconfig
    nodes = json.loads(subprocess.run([str(REPO / ".venv/bin/kubectl"), "--kubeconfig", str(kubeconfig), "get",
                                       "nodes", "-o", "json"], capture_output=True, text=True, check=True).stdout)
    assert sorted(n["metadata"]["name"] for n in nodes["items"]) == ["ssh-cp", "ssh-worker"]

    again = create.create(spec, state_root=state_root, runner=AnsibleRunner())
    assert again.changed == 0

    delete.delete("viassh", state_root=state_root, runner=AnsibleRunner())
    for address in HOST_ADDRESSES:
        left = ssh_hosts.ssh(address, "ls -d /etc/provision /opt/provision /var/lib/provision/* "
                                      "/etc/systemd/system/provision-* 2>/dev/null; systemctl list-units "
                                      "--no-legend 'provision-*'")
        assert left.stdout.strip() == "", (address, left.stdout)
