"""What every machine provider offers the orchestrator: machines that exist and answer SSH, a status, a delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from provisioner.spec import Machine

MachineState = Literal["running", "stopped", "missing", "unknown"]


@dataclass(frozen=True)
class HostAccess:
    """How Ansible (and `provision verify`) reach one machine over SSH."""

    name: str
    address: IPv4Address
    user: str
    port: int
    private_key: Path
    known_hosts: Path  # the cluster's own known_hosts file
    pinned: bool  # True: host keys were written by the tool before boot; False: trusted on first use


@dataclass(frozen=True)
class MachineStatus:
    name: str
    address: IPv4Address
    state: MachineState
    detail: str = ""


class Provider(Protocol):
    """Creates, lists and deletes the machines of one cluster. Every method is idempotent."""

    kind: str

    def preflight(self) -> None:
        """Raise ProviderError with one sentence saying what is missing (root, kernel feature, tool, key)."""

    def ensure(self, machines: Sequence[Machine]) -> list[HostAccess]:
        """Make each machine exist, run and answer SSH; machines already running are left alone."""

    def accesses(self, machines: Sequence[Machine]) -> list[HostAccess]:
        """How to reach the machines, without creating or checking anything."""

    def status(self, machines: Sequence[Machine]) -> list[MachineStatus]: ...

    def delete(self, machines: Sequence[Machine]) -> None:
        """Remove the machines and everything made on the host for them; absent machines are no error."""
