"""The machines provider against fakes: FakeHostNetwork for `ip`, FakeLauncher for systemd-nspawn, cgroups in a
temp directory, a prebuilt image, and no SSH. Nothing here needs root or touches the host."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from provisioner.errors import ProviderError
from provisioner.processes import ProcessIdentity
from provisioner.providers.base import HostAccess
from provisioner.providers.machines import provider as provider_module
from provisioner.providers.machines.fake_iproute import FakeHostNetwork
from provisioner.providers.machines.fake_nspawn import FakeLauncher
from provisioner.providers.machines.image import ImageRecipe, ensure_image
from provisioner.providers.machines.nspawn import BootRequest
from provisioner.providers.machines.provider import BUNDLES_MOUNT, DATA_MOUNT, CgroupOps, MachinesProvider
from provisioner.spec import Cluster, load

EXAMPLE = Path(__file__).parents[3] / "examples" / "cluster.yaml"
NAMES = ["local-cp-1", "local-workers-1", "local-workers-2"]
ADDRESSES = {"local-cp-1": "10.77.0.10", "local-workers-1": "10.77.0.11", "local-workers-2": "10.77.0.12"}
IFNAMSIZ = 15  # the longest interface name Linux takes


class FakeCgroups:
    """Machine cgroups as directories of a temp tree (two hierarchies), never holding a process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created: list[str] = []
        self.removed: list[list[Path]] = []

    def create(self, name: str) -> list[Path]:
        groups = [self.root / "systemd" / name, self.root / "unified" / name]
        for group in groups:
            group.mkdir(parents=True, exist_ok=True)
        self.created.append(name)
        return groups

    def remove(self, groups: list[Path]) -> None:
        self.removed.append(list(groups))
        for group in groups:
            if group.is_dir():
                group.rmdir()

    def processes(self, groups: list[Path]) -> set[int]:
        return set()

    def existing(self) -> list[Path]:
        return sorted(p for p in self.root.glob("*/*") if p.is_dir())


@dataclass
class Machines:
    provider: MachinesProvider
    cluster: Cluster
    net: FakeHostNetwork
    launcher: FakeLauncher
    cgroups: FakeCgroups
    state: Path
    cache: Path
    ssh_key: Path
    rootfs: Path
    ready: list[str] = field(default_factory=list)

    def upper(self, name: str) -> Path:
        return self.state / name / "upper"

    def record(self, name: str) -> dict:
        return json.loads((self.state / name / "machine.json").read_text())


def _provider(tmp_path: Path, cluster: Cluster, launcher: FakeLauncher | None = None,
              net: FakeHostNetwork | None = None) -> Machines:
    net = net or FakeHostNetwork()
    launcher = launcher or FakeLauncher()
    cgroups = FakeCgroups(tmp_path / "cgroup")
    ready: list[str] = []

    def wait_ready(access: HostAccess, alive) -> None:
        assert alive(), f"{access.name} is not running while it boots"
        ready.append(access.name)

    state, cache, ssh_key = tmp_path / "machines", tmp_path / "cache", tmp_path / "ssh" / "id_ed25519"
    provider = MachinesProvider(cluster, state, ssh_key, cache, network=net, launcher=launcher,
                                cgroup_ops=CgroupOps(cgroups.create, cgroups.remove, cgroups.processes),
                                wait_ready=wait_ready)
    rootfs = cache / "images" / provider.recipe.key
    rootfs.mkdir(parents=True, exist_ok=True)
    (rootfs / ".provision-image").write_text("{}\n")  # prebuilt: ensure_image needs no debootstrap
    return Machines(provider, cluster, net, launcher, cgroups, state, cache, ssh_key, rootfs, ready)


@pytest.fixture
def m(tmp_path: Path) -> Machines:
    return _provider(tmp_path, load(EXAMPLE))


def _public_key_line(private_openssh: bytes) -> str:
    key = serialization.load_ssh_private_key(private_openssh, password=None)
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


# --- ensure ----------------------------------------------------------------------------------------------------

def test_ensure_returns_pinned_root_access_to_every_machine(m: Machines) -> None:
    accesses = m.provider.ensure(m.cluster.machines)
    assert accesses == [HostAccess(name, IPv4Address(ADDRESSES[name]), "root", 22, m.ssh_key,
                                   m.ssh_key.parent / "known_hosts", True) for name in NAMES]
    assert m.provider.accesses(m.cluster.machines) == accesses
    assert sorted(m.ready) == NAMES


def test_ensure_makes_the_bridge_and_unreachable_routes(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    assert list(m.net.bridges.items()) == [(m.provider.bridge, IPv4Interface("10.77.0.1/24"))]
    assert re.fullmatch(r"pvb[0-9a-f]{11}", m.provider.bridge) and len(m.provider.bridge) <= IFNAMSIZ
    assert m.net.unreachable == {IPv4Network("10.244.0.0/16"), IPv4Network("10.96.0.0/12")}
    record = json.loads((m.state / "network.json").read_text())
    assert record == {"bridge": m.provider.bridge, "address": "10.77.0.1/24",
                      "unreachable": ["10.244.0.0/16", "10.96.0.0/12"]}


def test_ensure_gives_each_machine_a_netns_and_veth_with_its_address(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    assert set(m.net.netns) == {f"provision-{name}" for name in NAMES}
    veths = set()
    for name in NAMES:
        veth, address, gateway = m.net.netns[f"provision-{name}"]
        assert address == IPv4Interface(f"{ADDRESSES[name]}/24")
        assert gateway == "10.77.0.1"
        assert veth in m.net.links and len(veth) <= IFNAMSIZ
        assert m.record(name)["host_veth"] == veth
        veths.add(veth)
    assert len(veths) == 3
    assert m.net.links == veths | {m.provider.bridge}


def test_ensure_prepares_each_upper_dir_before_boot(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    client_public = (m.ssh_key.parent / "id_ed25519.pub").read_text().strip()
    assert client_public.startswith("ssh-ed25519 ") and client_public.endswith(" provision@local")
    assert m.ssh_key.stat().st_mode & 0o777 == 0o600
    machine_ids = set()
    for name in NAMES:
        upper = m.upper(name)
        assert (upper / "etc/hostname").read_text() == f"{name}\n"
        assert f"{ADDRESSES[name]}\t{name}\n" in (upper / "etc/hosts").read_text()
        machine_id = (upper / "etc/machine-id").read_text()
        assert re.fullmatch(r"[0-9a-f]{32}\n", machine_id)
        machine_ids.add(machine_id)
        host_key = upper / "etc/ssh/ssh_host_ed25519_key"
        assert host_key.stat().st_mode & 0o777 == 0o600
        public = (upper / "etc/ssh/ssh_host_ed25519_key.pub").read_text()
        assert public.startswith(_public_key_line(host_key.read_bytes()) + " ")
        authorized = upper / "root/.ssh/authorized_keys"
        assert authorized.read_text() == client_public + "\n"
        assert authorized.stat().st_mode & 0o777 == 0o600
        assert (upper / "root/.ssh").stat().st_mode & 0o777 == 0o700
        assert not (m.state / name / "upper.partial").exists()
    assert len(machine_ids) == 3, "every machine has an identity of its own"


def test_known_hosts_pins_each_machines_host_key_by_address(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    lines = (m.ssh_key.parent / "known_hosts").read_text().splitlines()
    expected = []
    for name in NAMES:
        key_type, key_data = (m.upper(name) / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]
        expected.append(f"{ADDRESSES[name]} {key_type} {key_data}")
    assert lines == expected


def test_each_machine_boots_once_in_its_own_cgroups_netns_and_overlay(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    assert sorted(m.launcher.booted) == NAMES
    requests: dict[str, BootRequest] = {r.name: r for r in m.launcher.running.values()}
    for name in NAMES:
        request = requests[name]
        assert request.rootfs == m.rootfs
        assert request.upper == m.upper(name)
        assert request.netns == f"provision-{name}"
        assert request.cgroups == (m.cgroups.root / "systemd" / f"provision-{name}",
                                   m.cgroups.root / "unified" / f"provision-{name}")
        assert request.binds == ((m.state / name / "data", DATA_MOUNT, False),
                                 (m.cache / "bundles", BUNDLES_MOUNT, True))
        assert request.log_path == m.state / name / "console.log"
        record = m.record(name)
        identity = next(i for i, r in m.launcher.running.items() if r.name == name)
        assert record["process"] == {"pid": identity.pid, "start_ticks": identity.start_ticks,
                                     "boot_id": identity.boot_id}
        assert record["cgroups"] == [str(g) for g in request.cgroups]


def test_a_second_ensure_boots_nothing_and_changes_nothing(m: Machines) -> None:
    first = m.provider.ensure(m.cluster.machines)
    files = {p: p.read_bytes() for p in m.state.rglob("*") if p.is_file()}
    calls = len(m.net.calls)
    assert m.provider.ensure(m.cluster.machines) == first
    assert sorted(m.launcher.booted) == NAMES
    assert sorted(m.ready) == NAMES
    assert {p: p.read_bytes() for p in m.state.rglob("*") if p.is_file()} == files
    assert [c for c in m.net.calls[calls:] if not c.startswith("bridge")] == []


def test_a_crashed_machine_boots_again_with_the_same_identity(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    upper = m.upper("local-workers-1")
    machine_id = (upper / "etc/machine-id").read_text()
    host_key = (upper / "etc/ssh/ssh_host_ed25519_key").read_bytes()
    known_hosts = (m.ssh_key.parent / "known_hosts").read_text()
    old_groups = [Path(g) for g in m.record("local-workers-1")["cgroups"]]
    m.launcher.crash("local-workers-1")
    assert [s.state for s in m.provider.status(m.cluster.machines)] == ["running", "stopped", "running"]

    m.provider.ensure(m.cluster.machines)
    assert sorted(m.launcher.booted[:3]) == NAMES and m.launcher.booted[3:] == ["local-workers-1"]
    assert (upper / "etc/machine-id").read_text() == machine_id
    assert (upper / "etc/ssh/ssh_host_ed25519_key").read_bytes() == host_key
    assert (m.ssh_key.parent / "known_hosts").read_text() == known_hosts
    assert old_groups in m.cgroups.removed, "the crashed machine's cgroups are released before it boots again"
    assert [s.state for s in m.provider.status(m.cluster.machines)] == ["running"] * 3


# --- status ----------------------------------------------------------------------------------------------------

def test_status_reports_missing_running_and_stopped(m: Machines) -> None:
    assert [(s.name, s.state) for s in m.provider.status(m.cluster.machines)] == [(n, "missing") for n in NAMES]
    m.provider.ensure(m.cluster.machines)
    statuses = m.provider.status(m.cluster.machines)
    assert [s.state for s in statuses] == ["running"] * 3
    assert [s.address for s in statuses] == [IPv4Address(ADDRESSES[n]) for n in NAMES]
    assert statuses[0].detail == f"pid {m.record('local-cp-1')['process']['pid']}"
    m.launcher.crash("local-cp-1")
    assert [(s.state, s.detail) for s in m.provider.status(m.cluster.machines)][0] == ("stopped", "")


# --- delete ----------------------------------------------------------------------------------------------------

def _assert_nothing_left(m: Machines) -> None:
    assert m.launcher.running == {}
    assert (m.net.bridges, m.net.links, m.net.netns, m.net.unreachable) == ({}, set(), {}, set())
    assert m.cgroups.existing() == []
    assert not any(m.state.glob("*/machine.json"))
    assert list(m.state.iterdir()) == [], "no machine directory and no network record is left"


def test_delete_removes_everything_made_on_the_host(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    m.provider.delete(m.cluster.machines)
    _assert_nothing_left(m)
    assert sorted(g[0].name for g in m.cgroups.removed if g) == [f"provision-{n}" for n in NAMES]
    assert [(s.name, s.state) for s in m.provider.status(m.cluster.machines)] == [(n, "missing") for n in NAMES]
    m.provider.delete(m.cluster.machines)  # again: nothing there is no error
    _assert_nothing_left(m)


def test_delete_also_removes_recorded_machines_the_spec_no_longer_lists(m: Machines) -> None:
    m.provider.ensure(m.cluster.machines)
    m.provider.delete(m.cluster.machines[:1])
    _assert_nothing_left(m)


class FailingLauncher(FakeLauncher):
    def __init__(self, fail: str) -> None:
        super().__init__()
        self.fail = fail

    def boot(self, request: BootRequest) -> ProcessIdentity:
        if request.name == self.fail:
            raise ProviderError(f"{request.name}: systemd-nspawn exited at once")
        return super().boot(request)


def test_a_half_made_machine_is_stopped_and_deleted(tmp_path: Path) -> None:
    m = _provider(tmp_path, load(EXAMPLE), launcher=FailingLauncher("local-workers-1"))
    with pytest.raises(ProviderError, match="local-workers-1: systemd-nspawn exited at once"):
        m.provider.ensure(m.cluster.machines)
    record = m.record("local-workers-1")
    assert "process" not in record and record["cgroups"]
    assert m.provider.status(m.cluster.machines)[1].state == "stopped"
    m.provider.delete(m.cluster.machines)
    _assert_nothing_left(m)


def test_a_machine_recorded_before_anything_was_made_is_deleted(m: Machines) -> None:
    directory = m.state / "local-cp-1"
    directory.mkdir(parents=True)
    (directory / "machine.json").write_text(json.dumps({
        "name": "local-cp-1", "address": "10.77.0.10", "netns": "provision-local-cp-1", "host_veth": "pvhx",
        "cgroup_name": "provision-local-cp-1", "cgroups": []}))
    m.provider.delete(m.cluster.machines)
    assert not directory.exists()


def test_an_unreadable_record_is_an_error_naming_it(m: Machines) -> None:
    directory = m.state / "local-cp-1"
    directory.mkdir(parents=True)
    (directory / "machine.json").write_text("{not json")
    with pytest.raises(ProviderError, match="machine.json: unreadable machine record"):
        m.provider.status(m.cluster.machines)


# --- preflight -------------------------------------------------------------------------------------------------

def test_preflight_says_in_one_sentence_what_this_host_lacks(m: Machines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    monkeypatch.setattr(provider_module, "_read", lambda path: "nodev\tproc\n")
    with pytest.raises(ProviderError) as raised:
        m.provider.preflight()
    message = str(raised.value)
    assert message.startswith("the machines provider cannot run here: run as root")
    for part in ("install systemd-container (`systemd-nspawn` is missing)", "install debootstrap",
                 "install iproute2", "install openssh-client", "the kernel needs overlayfs"):
        assert part in message
    assert message.endswith(".") and "\n" not in message and message.count(". ") == 0


@pytest.fixture
def capable_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(provider_module, "_read", lambda path: "nodev\toverlay\n")


@pytest.mark.usefixtures("capable_host")
def test_preflight_passes_on_a_capable_host(m: Machines) -> None:
    m.provider.preflight()
    m.provider.ensure(m.cluster.machines)
    m.provider.preflight()  # its own bridge and netns are no clash


@pytest.mark.usefixtures("capable_host")
def test_preflight_refuses_a_subnet_the_host_routes(tmp_path: Path) -> None:
    m = _provider(tmp_path, load(EXAMPLE), net=FakeHostNetwork({"10.77.0.0/16": "eth0", "10.1.0.0/16": "eth1"}))
    with pytest.raises(ProviderError, match=r"spec.provider.machines.subnet 10.77.0.0/24 overlaps host routes "
                                            r"\(10.77.0.0/16 dev eth0\); choose another subnet"):
        m.provider.preflight()


@pytest.mark.usefixtures("capable_host")
def test_preflight_refuses_host_names_another_state_dir_owns(tmp_path: Path) -> None:
    other = _provider(tmp_path / "other", load(EXAMPLE))
    other.provider.ensure(other.cluster.machines)
    m = _provider(tmp_path / "mine", load(EXAMPLE), net=other.net)
    with pytest.raises(ProviderError, match=f"bridge {m.provider.bridge} of a cluster named local already exists"):
        m.provider.preflight()
    other.net.delete_link(m.provider.bridge)
    with pytest.raises(ProviderError, match="network namespace provision-local-cp-1 already exists"):
        m.provider.preflight()


# --- the image -------------------------------------------------------------------------------------------------

def test_a_built_image_is_reused(m: Machines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)  # a build would fail: debootstrap "missing"
    assert ensure_image(m.provider.recipe, m.cache) == m.rootfs


def test_a_missing_image_needs_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ProviderError, match="needs debootstrap"):
        ensure_image(ImageRecipe(), tmp_path)


def test_the_image_key_follows_the_recipe() -> None:
    base = ImageRecipe()
    assert re.fullmatch(r"debian-bookworm-[0-9a-f]{12}", base.key)
    assert ImageRecipe(extra_packages=("tcpdump",)).key != base.key
    assert ImageRecipe(mirror="http://mirror.example/debian").key != base.key
    assert ImageRecipe(extra_packages=("a", "b")).key == ImageRecipe(extra_packages=("b", "a")).key
