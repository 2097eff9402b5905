"""dev.json: what `dev up` started, so `down` and `status` act on recorded PIDs and never on name patterns."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from provisioner.errors import DevClusterError, PKIError
from provisioner.pki import write_public_file
from provisioner.processes import ProcessIdentity

STATE_VERSION = 1


@dataclass
class ComponentRecord:
    name: str
    argv: list[str]
    log: str
    health_url: str | None
    pid: int | None = None  # None once stopped
    start_ticks: int | None = None
    boot_id: str | None = None

    def identity(self) -> ProcessIdentity | None:
        if self.pid is None or self.start_ticks is None or self.boot_id is None:
            return None
        return ProcessIdentity(self.pid, self.start_ticks, self.boot_id)

    def record_started(self, identity: ProcessIdentity) -> None:
        self.pid, self.start_ticks, self.boot_id = identity.pid, identity.start_ticks, identity.boot_id

    def record_stopped(self) -> None:
        self.pid = self.start_ticks = self.boot_id = None


@dataclass
class DevState:
    port: int
    components: list[ComponentRecord] = field(default_factory=list)

    def component(self, name: str) -> ComponentRecord | None:
        return next((c for c in self.components if c.name == name), None)

    def put(self, record: ComponentRecord) -> None:
        """Replace the record of the same name, or append: one record per component, in start order."""
        self.components = [c for c in self.components if c.name != record.name] + [record]


def load_state(path: Path) -> DevState | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DevClusterError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DevClusterError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    return _state_from_dict(data, path)


def save_state(path: Path, state: DevState) -> None:
    data = {"version": STATE_VERSION, "port": state.port, "components": [asdict(c) for c in state.components]}
    try:
        write_public_file(path, (json.dumps(data, indent=2) + "\n").encode())
    except PKIError as e:
        raise DevClusterError(str(e)) from None


def _state_from_dict(data: Any, path: Path) -> DevState:
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise DevClusterError(f"{path}: not a dev cluster state file (version {STATE_VERSION} expected)")
    port = data.get("port")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise DevClusterError(f"{path}: port: expected a port number, got {port!r}")
    entries = data.get("components")
    if not isinstance(entries, list):
        raise DevClusterError(f"{path}: components: expected a list")
    return DevState(
        port, [_record_from_dict(entry, f"{path}: components[{i}]") for i, entry in enumerate(entries)]
    )


def _record_from_dict(entry: Any, where: str) -> ComponentRecord:
    if not isinstance(entry, dict):
        raise DevClusterError(f"{where}: expected an object")
    expected: dict[str, tuple[type, ...]] = {
        "name": (str,),
        "argv": (list,),
        "log": (str,),
        "health_url": (str, type(None)),
        "pid": (int, type(None)),
        "start_ticks": (int, type(None)),
        "boot_id": (str, type(None)),
    }
    for key, types in expected.items():
        if not isinstance(entry.get(key), types):
            raise DevClusterError(f"{where}.{key}: missing or of the wrong type")
    return ComponentRecord(**{key: entry[key] for key in expected})
