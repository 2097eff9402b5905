"""Where a cluster's state lives on the operator's machine: one directory per cluster.

    <root>/clusters/<name>/
        cluster.yaml          the spec as last applied (a copy; `delete`/`status` work without the original)
        applied.json          the last-applied record: when, bundle release, changed tasks per phase
        pki/                  CA and certificates (keys 0600)
        admin.kubeconfig      for the real kubectl (0600)
        ssh/                  the cluster's SSH key and the pinned host keys (known_hosts)
        machines/             the machines provider's records, overlay upper dirs, consoles
        workspace/            the rendered ansible-runner private_data_dir (artifacts = logs of every run)
        verify/               JUnit XML of the last `verify`

The root is $PROVISION_STATE_DIR, else $XDG_STATE_HOME/provision (~/.local/state/provision).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.errors import ProvisionError
from provisioner.pki import ensure_private_dir, write_private_file


class StateError(ProvisionError):
    """A cluster's state directory is missing, busy or unreadable."""


def default_state_root() -> Path:
    if os.environ.get("PROVISION_STATE_DIR"):
        return Path(os.environ["PROVISION_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(base) / "provision"


@dataclass(frozen=True)
class ClusterState:
    root: Path  # the state root (holding clusters/)
    name: str

    @property
    def dir(self) -> Path:
        return self.root / "clusters" / self.name

    @property
    def spec_file(self) -> Path:
        return self.dir / "cluster.yaml"

    @property
    def applied_file(self) -> Path:
        return self.dir / "applied.json"

    @property
    def pki_dir(self) -> Path:
        return self.dir / "pki"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def ssh_key(self) -> Path:
        return self.dir / "ssh" / "id_ed25519"

    @property
    def machines_dir(self) -> Path:
        return self.dir / "machines"

    @property
    def workspace(self) -> Path:
        return self.dir / "workspace"

    @property
    def verify_dir(self) -> Path:
        return self.dir / "verify"

    @property
    def release_file(self) -> Path:
        return self.dir / "release"

    def installed_release(self) -> str | None:
        """The bundle release the hosts run: recorded when the bundle phase completes."""
        try:
            return self.release_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def save_installed_release(self, key: str) -> None:
        write_private_file(self.release_file, (key + "\n").encode())

    @property
    def lock_file(self) -> Path:
        return self.root / "clusters" / f".{self.name}.lock"

    def exists(self) -> bool:
        return self.spec_file.is_file()

    def applied(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.applied_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise StateError(f"{self.applied_file}: unreadable ({e})") from None

    def save_applied(self, record: dict[str, Any]) -> None:
        write_private_file(self.applied_file, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())

    def save_spec(self, text: str) -> None:
        ensure_private_dir(self.dir)
        write_private_file(self.spec_file, text.encode())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One command at a time per cluster: a second `create`/`delete` fails at once instead of racing."""
        ensure_private_dir(self.root / "clusters")
        with open(self.lock_file, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError(f"cluster {self.name}: another provision command is working on it") from None
            yield


def cluster_names(root: Path) -> list[str]:
    clusters = root / "clusters"
    if not clusters.is_dir():
        return []
    return sorted(p.name for p in clusters.iterdir() if (p / "cluster.yaml").is_file())
