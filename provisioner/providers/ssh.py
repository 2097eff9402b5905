"""The `ssh` provider: hosts that already exist, reached with the user and key the spec names. Nothing is
created or destroyed; `ensure` only proves each host answers, and host keys are trusted on first use and pinned
in the cluster's own known_hosts from then on."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from provisioner.errors import ProviderError
from provisioner.providers import sshkeys
from provisioner.providers.base import HostAccess, MachineStatus

if TYPE_CHECKING:
    from provisioner.spec import Cluster, Machine

CONNECT_TIMEOUT_SECONDS = 20.0


class SshProvider:
    kind = "ssh"

    def __init__(self, cluster: Cluster, known_hosts: Path) -> None:
        settings = cluster.provider.ssh
        assert settings is not None, "the spec model guarantees ssh settings for this provider"
        self.user = settings.user
        self.port = settings.port
        self.private_key = settings.private_key
        self.known_hosts = known_hosts

    def preflight(self) -> None:
        if not self.private_key.is_file():
            raise ProviderError(f"spec.provider.ssh.privateKey: {self.private_key} does not exist")
        try:
            self.private_key.read_bytes()
        except OSError as e:
            raise ProviderError(f"spec.provider.ssh.privateKey: {self.private_key}: {e.strerror}") from None

    def ensure(self, machines: Sequence[Machine]) -> list[HostAccess]:
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        self.known_hosts.touch(exist_ok=True)
        accesses = [self._access(m) for m in machines]
        with ThreadPoolExecutor(max_workers=max(1, len(accesses))) as pool:
            for future in [pool.submit(self._check, a) for a in accesses]:
                future.result()
        return accesses

    def accesses(self, machines: Sequence[Machine]) -> list[HostAccess]:
        return [self._access(m) for m in machines]

    def status(self, machines: Sequence[Machine]) -> list[MachineStatus]:
        statuses = []
        for machine in machines:
            try:
                self._check(self._access(machine), timeout=5.0)
                statuses.append(MachineStatus(machine.name, machine.address, "running"))
            except ProviderError as e:
                statuses.append(MachineStatus(machine.name, machine.address, "unknown", str(e)))
        return statuses

    def delete(self, machines: Sequence[Machine]) -> None:
        """Existing hosts are not the tool's to destroy; the cluster's services on them are removed by the
        reset playbook before this is called."""

    def _access(self, machine: Machine) -> HostAccess:
        return HostAccess(machine.name, machine.address, self.user, self.port, self.private_key, self.known_hosts,
                          pinned=False)

    def _check(self, access: HostAccess, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
        argv = sshkeys.ssh_argv(access.user, access.address, access.port, access.private_key, access.known_hosts,
                                access.pinned)
        sshkeys.wait_for_ssh(access.name, argv, access.address, access.port, timeout)
