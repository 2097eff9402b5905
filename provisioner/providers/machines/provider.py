"""The `machines` provider: local systemd-nspawn machines, each with its own network namespace, cgroups, host
key and sshd, on one host bridge per cluster (docs/testbed.md).

Everything made on the host is recorded under the cluster's state directory (`machines/network.json` and
`machines/NAME/machine.json`) before it is made, so `delete` removes exactly that — by name and by PID, never by
pattern — and a run interrupted half way is finished or undone by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING

from provisioner.bundle import bundles_dir
from provisioner.errors import ProviderError
from provisioner.pki import write_private_file, write_public_file
from provisioner.processes import ProcessIdentity
from provisioner.providers import sshkeys
from provisioner.providers.base import HostAccess, MachineStatus
from provisioner.providers.machines import cgroups
from provisioner.providers.machines.image import ImageRecipe, ensure_image
from provisioner.providers.machines.iproute import HostNetwork, IpRoute
from provisioner.providers.machines.nspawn import BootRequest, MachineLauncher, Nspawn

if TYPE_CHECKING:
    from provisioner.spec import Cluster, Machine

SSH_USER = "root"
BOOT_TIMEOUT_SECONDS = 90.0
CGROUP_EMPTY_TIMEOUT_SECONDS = 10.0
# Inside each machine this holds the services' state (the apiserver's database, the kubelet's images): a bind
# from the host's filesystem, because overlays cannot be mounted on the machine's own overlay root.
DATA_MOUNT = "/var/lib/provision"
# The operator's bundle cache, read-only inside every machine: the bundle role unpacks from it instead of
# copying ~100 MB over SSH to each machine (render tells the roles where to look).
BUNDLES_MOUNT = "/var/cache/provision/bundles"


@dataclass(frozen=True)
class CgroupOps:
    create: Callable[[str], list[Path]] = cgroups.create_machine_groups
    remove: Callable[[list[Path]], None] = cgroups.remove_groups
    processes: Callable[[list[Path]], set[int]] = cgroups.processes_in


def short_id(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class MachinesProvider:
    kind = "machines"

    def __init__(self, cluster: Cluster, state_dir: Path, ssh_key: Path, cache_dir: Path, *,
                 network: HostNetwork | None = None, launcher: MachineLauncher | None = None,
                 cgroup_ops: CgroupOps | None = None,
                 wait_ready: Callable[[HostAccess, Callable[[], bool]], None] | None = None,
                 log: Callable[[str], None] = lambda _: None) -> None:
        settings = cluster.provider.machines
        assert settings is not None, "the spec model guarantees machines settings for this provider"
        self.cluster = cluster
        self.dir = state_dir  # the cluster's machines/ directory
        self.ssh_key = ssh_key
        self.known_hosts = ssh_key.parent / "known_hosts"
        self.cache_dir = cache_dir
        self.recipe = ImageRecipe(settings.image.suite, settings.image.mirror, tuple(settings.image.extra_packages))
        self.subnet: IPv4Network = settings.subnet
        self.gateway = next(self.subnet.hosts())
        self.bridge = f"pvb{short_id(cluster.name, 11)}"
        self.net = network or IpRoute()
        self.launcher = launcher or Nspawn()
        self.cgroups = cgroup_ops or CgroupOps()
        self.wait_ready = wait_ready or self._wait_for_ssh
        self.log = log

    # --- Provider ----------------------------------------------------------------------------------------------

    def preflight(self) -> None:
        problems = []
        if os.geteuid() != 0:
            problems.append("run as root (machines are systemd-nspawn containers with their own network "
                            "namespaces and cgroups)")
        for tool, package in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                              ("ip", "iproute2"), ("ssh", "openssh-client")):
            if shutil.which(tool) is None:
                problems.append(f"install {package} (`{tool}` is missing)")
        if "overlay" not in _read("/proc/filesystems"):
            problems.append("the kernel needs overlayfs (modprobe overlay)")
        if not Path("/proc/self/ns/net").exists():
            problems.append("the kernel needs network namespaces")
        if not Path("/sys/fs/cgroup").is_dir():
            problems.append("cgroups must be mounted at /sys/fs/cgroup")
        if problems:
            raise ProviderError("the machines provider cannot run here: " + "; ".join(problems) + ".")
        clashes = self.net.routes_overlapping(self.subnet, ignore_device=self.bridge)
        if clashes:
            raise ProviderError(f"spec.provider.machines.subnet {self.subnet} overlaps host routes "
                                f"({', '.join(clashes)}); choose another subnet")
        self._check_host_names_are_ours()

    def _check_host_names_are_ours(self) -> None:
        """Host-level names (bridge, netns) derive from the cluster and machine names: one made for a cluster of
        the same name from another state directory must not be taken over or deleted by this one."""
        recorded = (self.dir / "network.json").exists()
        if self.net.link_exists(self.bridge) and not recorded:
            raise ProviderError(f"bridge {self.bridge} of a cluster named {self.cluster.name} already exists on "
                                f"this host but not in {self.dir}: another state directory owns that cluster; "
                                "use that one, or give this cluster another metadata.name")
        for machine in self.cluster.machines:
            netns = _netns_name(machine.name)
            if self.net.netns_exists(netns) and self._read_record(machine.name) is None:
                raise ProviderError(f"network namespace {netns} already exists on this host but machine "
                                    f"{machine.name} is not recorded in {self.dir}; it belongs to another "
                                    "cluster or state directory")

    def ensure(self, machines: Sequence[Machine]) -> list[HostAccess]:
        rootfs = ensure_image(self.recipe, self.cache_dir, self.log)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ensure_network()
        public_key = sshkeys.ensure_client_key(self.ssh_key, f"provision@{self.cluster.name}")
        booting: list[tuple[Machine, ProcessIdentity]] = []
        for machine in machines:
            identity, fresh = self._ensure_machine(machine, rootfs, public_key)
            if fresh:
                booting.append((machine, identity))
        self._write_known_hosts(machines)
        accesses = {m.name: self._access(m) for m in machines}
        if booting:
            self.log(f"booting {', '.join(m.name for m, _ in booting)}")
            with ThreadPoolExecutor(max_workers=len(booting)) as pool:
                futures = [pool.submit(self.wait_ready, accesses[m.name],
                                       lambda i=identity: self.launcher.is_running(i)) for m, identity in booting]
                for future in futures:
                    future.result()
        return [accesses[m.name] for m in machines]

    def accesses(self, machines: Sequence[Machine]) -> list[HostAccess]:
        return [self._access(m) for m in machines]

    def status(self, machines: Sequence[Machine]) -> list[MachineStatus]:
        statuses = []
        for machine in machines:
            record = self._read_record(machine.name)
            if record is None:
                statuses.append(MachineStatus(machine.name, machine.address, "missing"))
                continue
            identity = _identity(record)
            running = identity is not None and self.launcher.is_running(identity)
            statuses.append(MachineStatus(machine.name, machine.address, "running" if running else "stopped",
                                          f"pid {identity.pid}" if running and identity else ""))
        return statuses

    def delete(self, machines: Sequence[Machine]) -> None:
        names = {m.name for m in machines}
        recorded = {p.parent.name for p in self.dir.glob("*/machine.json")} if self.dir.is_dir() else set()
        failures = []
        for name in sorted(names | recorded):
            try:
                self._delete_machine(name)
            except ProviderError as e:  # go on with the others; report every machine that could not go
                failures.append(f"{name}: {e}")
        if failures:
            raise ProviderError("could not delete every machine:\n" + "\n".join(f"  {f}" for f in failures))
        if not any(self.dir.glob("*/machine.json")):
            self._delete_network()

    # --- network ------------------------------------------------------------------------------------------------

    def _network_record(self) -> dict:
        return {"bridge": self.bridge, "address": str(self._bridge_interface()),
                "unreachable": [str(self.cluster.network.pod_cidr), str(self.cluster.network.service_cidr)]}

    def _bridge_interface(self) -> IPv4Interface:
        return IPv4Interface(f"{self.gateway}/{self.subnet.prefixlen}")

    def _ensure_network(self) -> None:
        record = self._network_record()
        _write_json(self.dir / "network.json", record)  # recorded first: delete can undo a half-made network
        self.net.ensure_bridge(self.bridge, self._bridge_interface())
        # No packet for the pod or service networks may leave by the host's default route (network safety
        # rule); routes to a node's podCIDR via its machine are more specific and win.
        for network in record["unreachable"]:
            self.net.ensure_unreachable_route(IPv4Network(network))

    def _delete_network(self) -> None:
        path = self.dir / "network.json"
        record = _read_json(path)
        if record is None:
            return
        for network in record.get("unreachable", []):
            self.net.delete_unreachable_route(IPv4Network(network))
        self.net.delete_link(record["bridge"])
        path.unlink()

    # --- one machine --------------------------------------------------------------------------------------------

    def _machine_dir(self, name: str) -> Path:
        return self.dir / name

    def _read_record(self, name: str) -> dict | None:
        return _read_json(self._machine_dir(name) / "machine.json")

    def _ensure_machine(self, machine: Machine, rootfs: Path, public_key: str) -> tuple[ProcessIdentity, bool]:
        """The machine's process identity, and whether it was (re)started now."""
        directory = self._machine_dir(machine.name)
        record = self._read_record(machine.name) or {}
        identity = _identity(record)
        if identity is not None and self.launcher.is_running(identity):
            return identity, False
        upper = directory / "upper"
        if not upper.is_dir():
            self._prepare_upper(machine, upper, public_key)
        data = directory / "data"
        data.mkdir(exist_ok=True)
        bundles = bundles_dir(self.cache_dir)
        bundles.mkdir(parents=True, exist_ok=True)
        tag = short_id(f"{self.cluster.name}/{machine.name}", 11)
        record = {"name": machine.name, "address": str(machine.address), "netns": _netns_name(machine.name),
                  "host_veth": f"pvh{tag}", "cgroup_name": f"provision-{machine.name}",
                  "cgroups": record.get("cgroups", []), "image": rootfs.name}
        _write_json(directory / "machine.json", record)
        self.net.ensure_machine_link(record["netns"], record["host_veth"], self.bridge,
                                     IPv4Interface(f"{machine.address}/{self.subnet.prefixlen}"), str(self.gateway))
        self._release_cgroups(record)
        groups = self.cgroups.create(record["cgroup_name"])
        record["cgroups"] = [str(g) for g in groups]
        _write_json(directory / "machine.json", record)
        identity = self.launcher.boot(BootRequest(
            name=machine.name, rootfs=rootfs, upper=upper, netns=record["netns"], cgroups=tuple(groups),
            binds=((data, DATA_MOUNT, False), (bundles, BUNDLES_MOUNT, True)), log_path=directory / "console.log"))
        record["process"] = {"pid": identity.pid, "start_ticks": identity.start_ticks, "boot_id": identity.boot_id}
        _write_json(directory / "machine.json", record)
        return identity, True

    def _prepare_upper(self, machine: Machine, upper: Path, public_key: str) -> None:
        """Identity and access written before boot: writes into a running overlay's upper dir are unreliable."""
        staging = upper.with_name("upper.partial")
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "etc/ssh").mkdir(parents=True)
        (staging / "root/.ssh").mkdir(parents=True, mode=0o700)
        (staging / "etc/hostname").write_text(machine.name + "\n")
        (staging / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n{machine.address}\t{machine.name}\n"
                                           "::1\tlocalhost ip6-localhost ip6-loopback\n")
        (staging / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        host_key = sshkeys.new_ed25519_key_pair(f"root@{machine.name}")
        write_private_file(staging / "etc/ssh/ssh_host_ed25519_key", host_key.private_openssh)
        write_public_file(staging / "etc/ssh/ssh_host_ed25519_key.pub", (host_key.public_openssh + "\n").encode())
        write_private_file(staging / "root/.ssh/authorized_keys", (public_key + "\n").encode())
        staging.rename(upper)

    def _write_known_hosts(self, machines: Sequence[Machine]) -> None:
        entries = {}
        for machine in machines:
            pub = self._machine_dir(machine.name) / "upper/etc/ssh/ssh_host_ed25519_key.pub"
            entries[machine.address] = pub.read_text().strip()
        sshkeys.write_known_hosts(self.known_hosts, entries)

    def _access(self, machine: Machine) -> HostAccess:
        return HostAccess(machine.name, machine.address, SSH_USER, 22, self.ssh_key, self.known_hosts, pinned=True)

    def _wait_for_ssh(self, access: HostAccess, alive: Callable[[], bool]) -> None:
        argv = sshkeys.ssh_argv(access.user, access.address, access.port, access.private_key, access.known_hosts,
                                access.pinned)
        sshkeys.wait_for_ssh(access.name, argv, access.address, access.port, BOOT_TIMEOUT_SECONDS, alive)

    def _release_cgroups(self, record: dict) -> None:
        """Remove the cgroups of a stopped machine; leftover processes in them (which a crashed nspawn can leave)
        are ours by construction and are killed by PID first."""
        groups = [Path(g) for g in record.get("cgroups", [])]
        deadline = time.monotonic() + CGROUP_EMPTY_TIMEOUT_SECONDS
        # SIGKILL is delivered asynchronously: a group is removable only once its last process has exited.
        while (left := self.cgroups.processes(groups)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        self.cgroups.remove(groups)

    def _delete_machine(self, name: str) -> None:
        directory = self._machine_dir(name)
        record = self._read_record(name)
        if record is None:
            shutil.rmtree(directory, ignore_errors=True)
            return
        identity = _identity(record)
        if identity is not None:
            self.launcher.stop(identity)
        self._release_cgroups(record)
        # The host end first: deleting it removes the pair at once, while the kernel tears a deleted netns
        # (and the veth in it) down asynchronously.
        self.net.delete_link(record["host_veth"])
        self.net.delete_netns(record["netns"])
        shutil.rmtree(directory)


def _netns_name(machine: str) -> str:
    return f"provision-{machine}"


def _identity(record: dict) -> ProcessIdentity | None:
    process = record.get("process")
    if not process:
        return None
    return ProcessIdentity(process["pid"], process["start_ticks"], process["boot_id"])


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise ProviderError(f"{path}: unreadable machine record ({e}); remove the machine by hand") from None


def _write_json(path: Path, data: dict) -> None:
    write_public_file(path, (json.dumps(data, indent=2) + "\n").encode())
