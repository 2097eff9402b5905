"""The adapter for systemd-nspawn: boot one machine detached, inside its own cgroups and network namespace.

The flags are the ones verified in testbed.md: `--keep-unit`/`--register=no` because the host has no system
bus, CAP_NET_ADMIN for bridges/veths/iptables inside, the @keyring syscalls for OCI runtimes, and a bind of a
real host directory for anything inside that mounts overlays (overlay on overlay fails).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from provisioner import processes
from provisioner.errors import ProviderError
from provisioner.processes import ProcessIdentity
from provisioner.providers.machines import cgroups

STOP_GRACE_SECONDS = 20.0


@dataclass(frozen=True)
class BootRequest:
    name: str
    rootfs: Path
    upper: Path
    netns: str
    cgroups: tuple[Path, ...]
    binds: tuple[tuple[Path, str, bool], ...]  # (host directory, path inside, read-only)
    log_path: Path


class MachineLauncher(Protocol):
    def boot(self, request: BootRequest) -> ProcessIdentity: ...
    def is_running(self, identity: ProcessIdentity) -> bool: ...
    def stop(self, identity: ProcessIdentity) -> str: ...


def nspawn_argv(request: BootRequest) -> list[str]:
    argv = [
        "systemd-nspawn", "--quiet", "-D", str(request.rootfs),
        f"--overlay={request.rootfs}:{request.upper}:/",
        "--boot", f"--network-namespace-path=/run/netns/{request.netns}",
        "--register=no", "--keep-unit", "-M", request.name,
        "--capability=CAP_NET_ADMIN", "--system-call-filter=@keyring",
    ]
    argv += [f"--bind{'-ro' if read_only else ''}={host}:{inside}" for host, inside, read_only in request.binds]
    return argv


class Nspawn:
    """MachineLauncher through systemd-nspawn."""

    def boot(self, request: BootRequest) -> ProcessIdentity:
        if shutil.which("systemd-nspawn") is None:
            raise ProviderError("machines need systemd-nspawn: apt-get install systemd-container")
        groups = list(request.cgroups)
        launched = processes.launch_detached(
            nspawn_argv(request), request.log_path, cwd=request.upper.parent,
            before_exec=lambda: cgroups.join_groups(groups))
        if launched.identity is None:
            raise ProviderError(f"{request.name}: systemd-nspawn exited at once:\n"
                                f"{processes.log_tail(request.log_path)}")
        return launched.identity

    def is_running(self, identity: ProcessIdentity) -> bool:
        return processes.is_running(identity)

    def stop(self, identity: ProcessIdentity) -> str:
        # SIGTERM makes nspawn ask the machine's systemd for a clean poweroff; SIGKILL after the grace period.
        return processes.stop(identity, STOP_GRACE_SECONDS)
