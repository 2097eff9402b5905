"""Pod IP addresses from the node's podCIDR, kept in a directory the way CNI's host-local plugin keeps them.

One file per allocated address, named by the address and holding the sandbox id; it is created with ``O_EXCL``,
so two allocations racing for one address cannot both win. The file ``pod-cidr`` records the range the files
belong to, so a node re-registered with another podCIDR is noticed rather than handing out addresses of the old
range. ``.1`` is the bridge's gateway address; the network and broadcast addresses are never given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from provisioner.services.kubelet.network.protocol import PodNetworkError

RANGE_FILE = "pod-cidr"


class IpamError(PodNetworkError):
    """The pod IP allocator cannot give an address."""


class PodCidrExhausted(IpamError):
    """Every address of the podCIDR is allocated."""


class PodCidrChanged(IpamError):
    """The state directory holds allocations from another podCIDR than the node's."""


def gateway_of(pod_cidr: IPv4Network) -> IPv4Interface:
    """The bridge's address in ``pod_cidr``: its first host address, with the range's prefix length."""
    return IPv4Interface(f"{pod_cidr.network_address + 1}/{pod_cidr.prefixlen}")


class HostLocalIpam:
    def __init__(self, directory: Path, pod_cidr: IPv4Network | str) -> None:
        self.directory = directory
        self.pod_cidr = IPv4Network(pod_cidr)
        if self.pod_cidr.num_addresses < 4:
            raise IpamError(f"podCIDR {self.pod_cidr} is too small: it needs a gateway and at least one pod")
        self.gateway = gateway_of(self.pod_cidr)
        directory.mkdir(parents=True, exist_ok=True)
        self._claim_range()

    def allocate(self, sandbox_id: str) -> IPv4Interface:
        """The address of ``sandbox_id``: the one it holds already, else the lowest free one."""
        held = self.allocated().get(sandbox_id)
        if held is not None:
            return held
        for address in self.pod_cidr.hosts():
            if address == self.gateway.ip:
                continue
            try:
                fd = os.open(self._path(address), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as file:
                file.write(sandbox_id)
            return IPv4Interface(f"{address}/{self.pod_cidr.prefixlen}")
        raise PodCidrExhausted(f"no free pod IP in podCIDR {self.pod_cidr}: all "
                               f"{self.pod_cidr.num_addresses - 3} addresses are allocated")

    def release(self, sandbox_id: str) -> None:
        """Free every address held by ``sandbox_id``; releasing an unknown id is fine."""
        for address, holder in self._allocations():
            if holder == sandbox_id:
                self._path(address).unlink(missing_ok=True)

    def allocated(self) -> dict[str, IPv4Interface]:
        """Sandbox id → its address."""
        return {holder: IPv4Interface(f"{address}/{self.pod_cidr.prefixlen}")
                for address, holder in self._allocations()}

    def _claim_range(self) -> None:
        """Record this node's podCIDR, or check it against the recorded one. A range without allocations is
        simply replaced: nothing was handed out from it."""
        range_file = self.directory / RANGE_FILE
        try:
            recorded = IPv4Network(range_file.read_text().strip())
        except FileNotFoundError:
            recorded = None
        if recorded == self.pod_cidr:
            return
        if recorded is not None and any(True for _ in self._allocations()):
            raise PodCidrChanged(
                f"pod IP state in {self.directory} holds addresses of podCIDR {recorded}, but the node's podCIDR "
                f"is now {self.pod_cidr}: remove the pods of the old range (or that directory) first")
        temporary = range_file.with_suffix(".tmp")
        temporary.write_text(f"{self.pod_cidr}\n")
        temporary.replace(range_file)

    def _allocations(self) -> Iterator[tuple[IPv4Address, str]]:
        for entry in self.directory.iterdir():
            try:
                address = IPv4Address(entry.name)
                holder = entry.read_text().strip()
            except ValueError:
                continue  # the range file and anything else that is not an allocation
            except FileNotFoundError:
                continue  # released while we looked
            yield address, holder

    def _path(self, address: IPv4Address) -> Path:
        return self.directory / str(address)
