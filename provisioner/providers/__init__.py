"""Machine providers: `machines` (local systemd-nspawn machines), `ssh` (existing hosts); `vagrant` is next."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from provisioner.errors import ProviderError
from provisioner.providers.base import HostAccess, MachineStatus, Provider
from provisioner.spec import Cluster

__all__ = ["HostAccess", "MachineStatus", "Provider", "provider_for"]


def provider_for(cluster: Cluster, machines_dir: Path, ssh_key: Path, cache_dir: Path,
                 log: Callable[[str], None] = lambda _: None) -> Provider:
    kind = cluster.provider.type
    if kind == "machines":
        from provisioner.providers.machines.provider import MachinesProvider
        return MachinesProvider(cluster, machines_dir, ssh_key, cache_dir, log=log)
    if kind == "ssh":
        from provisioner.providers.ssh import SshProvider
        return SshProvider(cluster, ssh_key.parent / "known_hosts")
    raise ProviderError(f"spec.provider.type: the {kind} provider is not available yet")
