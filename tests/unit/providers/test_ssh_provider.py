"""The ssh provider: existing hosts, reached as the spec says; nothing is created or destroyed."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from provisioner.errors import ProviderError
from provisioner.providers import HostAccess, provider_for, sshkeys
from provisioner.providers.ssh import SshProvider
from provisioner.spec import Cluster, parse


def _cluster(key: Path) -> Cluster:
    return parse(f"""\
apiVersion: provision.dev/v1alpha1
kind: Cluster
metadata: {{name: site}}
spec:
  provider:
    type: ssh
    ssh: {{user: deploy, privateKey: {key}, port: 2222}}
  controlPlane:
    hosts: [{{name: cp1, address: 192.0.2.10}}]
  nodeGroups:
    - name: workers
      hosts: [{{name: worker1, address: 192.0.2.11}}]
""")


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519"
    path.write_text("key\n")
    return path


def test_provider_for_picks_the_ssh_provider(key: Path, tmp_path: Path) -> None:
    provider = provider_for(_cluster(key), tmp_path / "machines", tmp_path / "ssh" / "id_ed25519", tmp_path)
    assert isinstance(provider, SshProvider)
    assert provider.known_hosts == tmp_path / "ssh" / "known_hosts"


def test_accesses_use_the_specs_user_port_and_key_trusting_on_first_use(key: Path, tmp_path: Path) -> None:
    cluster = _cluster(key)
    provider = SshProvider(cluster, tmp_path / "known_hosts")
    assert provider.accesses(cluster.machines) == [
        HostAccess("cp1", IPv4Address("192.0.2.10"), "deploy", 2222, key, tmp_path / "known_hosts", False),
        HostAccess("worker1", IPv4Address("192.0.2.11"), "deploy", 2222, key, tmp_path / "known_hosts", False),
    ]


def test_preflight_needs_the_private_key(key: Path, tmp_path: Path) -> None:
    SshProvider(_cluster(key), tmp_path / "known_hosts").preflight()
    key.unlink()
    with pytest.raises(ProviderError, match=f"spec.provider.ssh.privateKey: {key} does not exist"):
        SshProvider(_cluster(key), tmp_path / "known_hosts").preflight()


def test_ensure_checks_every_host_and_creates_nothing(key: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    checked = []
    monkeypatch.setattr(sshkeys, "wait_for_ssh", lambda name, argv, address, port, timeout: checked.append(argv))
    cluster = _cluster(key)
    known_hosts = tmp_path / "ssh" / "known_hosts"
    provider = SshProvider(cluster, known_hosts)
    assert provider.ensure(cluster.machines) == provider.accesses(cluster.machines)
    assert known_hosts.read_text() == ""
    assert sorted(argv[-1] for argv in checked) == ["deploy@192.0.2.10", "deploy@192.0.2.11"]
    assert all("StrictHostKeyChecking=accept-new" in argv for argv in checked)
    provider.delete(cluster.machines)  # existing hosts are not the tool's to destroy
    assert key.exists()


def test_status_is_unknown_for_a_host_that_does_not_answer(key: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def wait(name, argv, address, port, timeout):
        if name == "worker1":
            raise ProviderError("worker1 (192.0.2.11:2222): SSH did not answer within 5s")

    monkeypatch.setattr(sshkeys, "wait_for_ssh", wait)
    cluster = _cluster(key)
    statuses = SshProvider(cluster, tmp_path / "known_hosts").status(cluster.machines)
    assert [(s.name, s.state) for s in statuses] == [("cp1", "running"), ("worker1", "unknown")]
    assert "did not answer" in statuses[1].detail
