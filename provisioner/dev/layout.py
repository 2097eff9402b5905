"""Where a dev cluster keeps its files under DIR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import DevClusterError


@dataclass(frozen=True)
class DevPaths:
    root: Path  # absolute: the paths end up in command lines and kubeconfigs run from elsewhere

    @classmethod
    def existing(cls, directory: Path | str) -> DevPaths:
        """DIR must already be a directory (down, status)."""
        root = Path(directory).expanduser().absolute()
        if not root.exists():
            raise DevClusterError(f"--dir {root}: no such directory")
        if not root.is_dir():
            raise DevClusterError(f"--dir {root}: not a directory")
        return cls(root)

    @classmethod
    def create(cls, directory: Path | str) -> DevPaths:
        """DIR and its subdirectories are created as needed (up)."""
        root = Path(directory).expanduser().absolute()
        if root.exists() and not root.is_dir():
            raise DevClusterError(f"--dir {root}: not a directory")
        paths = cls(root)
        for sub, mode in (
            (root, 0o755),
            (paths.pki, 0o700),
            (paths.logs, 0o755),
            (paths.apiserver_data, 0o700),
        ):
            try:
                sub.mkdir(mode=mode, parents=True, exist_ok=True)
            except OSError as e:
                raise DevClusterError(f"--dir {root}: cannot create {sub}: {e.strerror}") from None
            if not sub.is_dir():
                raise DevClusterError(f"--dir {root}: {sub} exists and is not a directory")
        return paths

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.pki / "ca.key"

    @property
    def apiserver_cert(self) -> Path:
        return self.pki / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.pki / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.pki / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.pki / "admin.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The apiserver's client certificate towards kubelets (pods/log, pods/exec)."""
        return self.pki / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.pki / "apiserver-kubelet-client.key"

    def client_cert(self, component: str) -> Path:
        """The client certificate a control-loop component authenticates with (scheduler, controller-manager,
        simnodes)."""
        return self.pki / f"{component}.crt"

    def client_key(self, component: str) -> Path:
        return self.pki / f"{component}.key"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    def kubeconfig(self, component: str) -> Path:
        """DIR/scheduler.kubeconfig, DIR/controller-manager.kubeconfig, DIR/simnodes.kubeconfig."""
        return self.root / f"{component}.kubeconfig"

    @property
    def stopped_nodes_file(self) -> Path:
        """Simulated nodes listed here (one per line) stop their heartbeats; see services/simnodes/control.py."""
        return self.root / "stopped-nodes"

    @property
    def state_file(self) -> Path:
        return self.root / "dev.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    @property
    def apiserver_data(self) -> Path:
        return self.root / "apiserver"

    @property
    def apiserver_db(self) -> Path:
        return self.apiserver_data / "state.db"
