"""Machine facts from fake /proc, /sys and /etc files, and the runtime version from crun's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.services.kubelet import sysinfo
from provisioner.services.kubelet.runtime import crun

MEMINFO = """\
MemTotal:       16318360 kB
MemFree:         1234567 kB
MemAvailable:    9876543 kB
"""
ROUTES = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
down0\t00000000\t010200C0\t0002\t0\t0\t1\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_memory_is_memtotal_in_kib(tmp_path: Path) -> None:
    assert sysinfo.memory_total_ki(write(tmp_path, "meminfo", MEMINFO)) == 16318360
    with pytest.raises(ValueError, match="no MemTotal"):
        sysinfo.memory_total_ki(write(tmp_path, "empty", "MemFree: 1 kB\n"))


@pytest.mark.parametrize(("text", "image"), [
    ('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
     "Debian GNU/Linux 12 (bookworm)"),
    ("PRETTY_NAME='Ubuntu 24.04 LTS'\n", "Ubuntu 24.04 LTS"),
    ("PRETTY_NAME=Alpine\n", "Alpine"),
    ("ID=scratch\n", "Linux"),
])
def test_os_image_is_the_pretty_name(tmp_path: Path, text: str, image: str) -> None:
    assert sysinfo.os_image(write(tmp_path, "os-release", text)) == image


def test_os_image_without_os_release_is_linux(tmp_path: Path) -> None:
    assert sysinfo.os_image(tmp_path / "missing") == "Linux"


def test_ids_and_the_system_uuid_fallback(tmp_path: Path) -> None:
    machine_id = write(tmp_path, "machine-id", "3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    assert sysinfo.machine_id(machine_id) == "3d1219c7c4c5404aaa1f6d2a48adfda4"
    product_uuid = write(tmp_path, "product_uuid", "EC2A51F6-1111-2222-3333-444455556666\n")
    assert sysinfo.system_uuid("fallback", product_uuid) == "EC2A51F6-1111-2222-3333-444455556666"
    assert sysinfo.system_uuid("fallback", tmp_path / "unreadable") == "fallback"
    assert sysinfo.read_id(tmp_path / "missing") == ""
    assert sysinfo.kernel_version(write(tmp_path, "osrelease", "6.1.0-18-amd64\n")) == "6.1.0-18-amd64"


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"),
                                               ("riscv64", "riscv64")])
def test_architecture_in_go_spelling(machine: str, arch: str) -> None:
    assert sysinfo.architecture(machine) == arch


def test_default_route_interface_is_the_up_route_with_the_lowest_metric(tmp_path: Path) -> None:
    assert sysinfo.default_route_interface(write(tmp_path, "route", ROUTES)) == "eth0"
    no_default = ROUTES.splitlines()[0] + "\n" + ROUTES.splitlines()[-1] + "\n"
    assert sysinfo.default_route_interface(write(tmp_path, "local", no_default)) is None
    assert sysinfo.default_route_interface(tmp_path / "missing") is None


def test_node_ip_is_the_default_route_interfaces_address_else_the_first_non_loopback_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    addresses = {"lo": "127.0.0.1", "eth0": "192.0.2.2", "eth1": "198.51.100.7", "wlan0": None}
    monkeypatch.setattr(sysinfo, "interface_ipv4", addresses.get)
    monkeypatch.setattr(sysinfo.socket, "if_nameindex", lambda: [(1, "lo"), (2, "wlan0"), (3, "eth1")])
    assert sysinfo.node_ip(write(tmp_path, "route", ROUTES)) == "192.0.2.2"
    assert sysinfo.node_ip(tmp_path / "no-routes") == "198.51.100.7"
    monkeypatch.setattr(sysinfo.socket, "if_nameindex", lambda: [(1, "lo")])
    with pytest.raises(sysinfo.NodeIPError, match="pass --node-ip"):
        sysinfo.node_ip(tmp_path / "no-routes")


def test_interface_addresses_of_this_host() -> None:
    assert sysinfo.interface_ipv4("lo") == "127.0.0.1"
    assert sysinfo.interface_ipv4("no-such-if0") is None


def test_machine_facts_of_this_host(tmp_path: Path) -> None:
    machine = sysinfo.read_machine(tmp_path, "crun://1.8.1")
    assert machine.cpus >= 1 and machine.memory_ki > 0 and machine.ephemeral_storage_ki > 0
    assert machine.container_runtime_version == "crun://1.8.1"
    assert machine.architecture in ("amd64", "arm64")


@pytest.mark.parametrize(("output", "version"), [
    ("crun version 1.8.1\ncommit: f8a096be060b22ccd3d5f3ebe44108517fbf6c30\nrundir: /run/user/0/crun\n"
     "spec: 1.0.0\n+SYSTEMD +SELINUX +APPARMOR +CAP +SECCOMP +EBPF +YAJL\n", "crun://1.8.1"),
    ("", "unknown://"),
    ("runc version 1.1.12\n", "unknown://"),
])
def test_runtime_version_from_crun_output(output: str, version: str) -> None:
    assert crun.parse_version(output) == version


def test_without_crun_the_runtime_is_unknown() -> None:
    assert crun.runtime_version("no-such-runtime-binary") == "unknown://"
