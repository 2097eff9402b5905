"""What the kubelet reports about its machine, read from /proc, /sys and /etc. Every reader takes the path it
reads, so tests hand it fake files."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import platform
import shlex
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

MEMINFO = Path("/proc/meminfo")
MACHINE_ID = Path("/etc/machine-id")
PRODUCT_UUID = Path("/sys/class/dmi/id/product_uuid")  # readable by root only on most machines
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
KERNEL_RELEASE = Path("/proc/sys/kernel/osrelease")
OS_RELEASE = Path("/etc/os-release")
ROUTE_TABLE = Path("/proc/net/route")

_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_SIOCGIFADDR = 0x8915  # ioctl: an interface's IPv4 address
_RTF_UP = 0x1


class NodeIPError(Exception):
    """No address to report as the node's InternalIP."""


@dataclass(frozen=True)
class Machine:
    """The facts the Node carries in status.capacity and status.nodeInfo."""

    cpus: int
    memory_ki: int
    ephemeral_storage_ki: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    container_runtime_version: str
    architecture: str  # GOARCH spelling: amd64, arm64


def read_machine(root_dir: Path, container_runtime_version: str) -> Machine:
    """This machine; ephemeral storage is the filesystem holding ``root_dir`` (where pods' data will live)."""
    machine = machine_id()
    return Machine(
        cpus=os.cpu_count() or 1,
        memory_ki=memory_total_ki(),
        ephemeral_storage_ki=filesystem_size_ki(root_dir),
        machine_id=machine,
        system_uuid=system_uuid(machine),
        boot_id=read_id(BOOT_ID),
        kernel_version=kernel_version(),
        os_image=os_image(),
        container_runtime_version=container_runtime_version,
        architecture=architecture(),
    )


def memory_total_ki(meminfo: Path = MEMINFO) -> int:
    """``MemTotal`` of /proc/meminfo, in KiB (the file's unit, though it prints ``kB``)."""
    for line in meminfo.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "MemTotal":
            return int(value.split()[0])
    raise ValueError(f"{meminfo}: no MemTotal line")


def filesystem_size_ki(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_blocks * stat.f_frsize // 1024


def read_id(path: Path) -> str:
    """A one-line id file; "" if unreadable (the field is then left empty, as the kubelet does)."""
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def machine_id(path: Path = MACHINE_ID) -> str:
    return read_id(path)


def system_uuid(fallback: str, product_uuid: Path = PRODUCT_UUID) -> str:
    """The firmware's UUID if readable, else ``fallback`` (the machine id)."""
    return read_id(product_uuid) or fallback


def kernel_version(release: Path = KERNEL_RELEASE) -> str:
    return read_id(release) or platform.release()


def os_image(os_release: Path = OS_RELEASE) -> str:
    """``PRETTY_NAME`` of os-release (shell-quoted), else ``Linux``."""
    try:
        lines = os_release.read_text().splitlines()
    except OSError:
        return "Linux"
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip() == "PRETTY_NAME":
            try:
                words = shlex.split(value)
            except ValueError:
                words = [value.strip("\"'")]
            return " ".join(words) or "Linux"
    return "Linux"


def architecture(machine: str | None = None) -> str:
    """``platform.machine()`` in Go's spelling (x86_64 → amd64, aarch64 → arm64)."""
    machine = machine if machine is not None else platform.machine()
    return _ARCHITECTURES.get(machine.lower(), machine.lower())


def default_route_interface(route_table: Path = ROUTE_TABLE) -> str | None:
    """The interface of the IPv4 default route with the lowest metric, from /proc/net/route."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        interface, destination, flags, metric, mask = fields[0], fields[1], fields[3], fields[6], fields[7]
        try:
            up = int(flags, 16) & _RTF_UP
            candidate = (int(metric), interface)
        except ValueError:
            continue
        if destination == "00000000" and mask == "00000000" and up and (best is None or candidate < best):
            best = candidate
    return best[1] if best else None


def interface_ipv4(interface: str) -> str | None:
    """The (first) IPv4 address of ``interface``; None if it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", interface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24])


def node_ip(route_table: Path = ROUTE_TABLE) -> str:
    """The address of the interface holding the default route, else the first non-loopback IPv4 address."""
    interface = default_route_interface(route_table)
    address = interface_ipv4(interface) if interface else None
    if address:
        return address
    for _, name in socket.if_nameindex():
        candidate = interface_ipv4(name)
        if candidate and not ipaddress.ip_address(candidate).is_loopback:
            return candidate
    raise NodeIPError("no default route and no non-loopback IPv4 address; pass --node-ip")
