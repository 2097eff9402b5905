"""A MachineLauncher for unit tests: machines 'run' as entries in a dict."""

from __future__ import annotations

import itertools

from provisioner.processes import ProcessIdentity
from provisioner.providers.machines.nspawn import BootRequest


class FakeLauncher:
    def __init__(self) -> None:
        self.running: dict[ProcessIdentity, BootRequest] = {}
        self.booted: list[str] = []
        self._pids = itertools.count(1000)

    def boot(self, request: BootRequest) -> ProcessIdentity:
        identity = ProcessIdentity(next(self._pids), 1, "fake-boot")
        self.running[identity] = request
        self.booted.append(request.name)
        return identity

    def is_running(self, identity: ProcessIdentity) -> bool:
        return identity in self.running

    def stop(self, identity: ProcessIdentity) -> str:
        return "stopped" if self.running.pop(identity, None) else "not running"

    def crash(self, name: str) -> None:
        for identity, request in list(self.running.items()):
            if request.name == name:
                del self.running[identity]
