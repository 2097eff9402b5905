"""The local image registry: Debian's `docker-registry` (distribution v2) started detached with a config of
our own. Never the packaged /etc/docker/registry/config.yml: it points htpasswd at a directory and listens on
every address. No auth and plain HTTP: it serves the machines' bridge (or loopback) only."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from provisioner import processes
from provisioner.errors import ProvisionError

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
CONFIG_FILE = "config.yml"
LOG_FILE = "registry.log"
DATA_DIRECTORY = "data"
READY_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0
_POLL_SECONDS = 0.05


class RegistryError(ProvisionError):
    """The local registry cannot be configured, started or stopped."""


@dataclass(frozen=True)
class RegistryProcess:
    identity: processes.ProcessIdentity
    address: str
    port: int
    directory: Path  # config, log and the registry's storage

    @property
    def host(self) -> str:
        """host:port as image references name this registry."""
        return f"{_bracketed(self.address)}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    def is_running(self) -> bool:
        return processes.is_running(self.identity)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> str:
        """SIGTERM by PID (and start time), SIGKILL after `timeout`: "stopped", "killed" or "not running"."""
        return processes.stop(self.identity, timeout)


def config_document(storage: Path, address: str, port: int) -> dict[str, object]:
    return {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"{_bracketed(address)}:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }


def start(
    directory: Path,
    address: str,
    port: int,
    binary: Path = REGISTRY_BINARY,
    timeout: float = READY_TIMEOUT_SECONDS,
) -> RegistryProcess:
    """Write the config into `directory`, start the registry detached and wait until GET /v2/ answers 200."""
    if not binary.is_file():
        raise RegistryError(f"{binary} not found; install the Debian package docker-registry")
    # Checked first: another server on the port would answer the readiness probe in our registry's place.
    _check_port_free(address, port)
    directory.mkdir(parents=True, exist_ok=True)
    storage = directory / DATA_DIRECTORY
    storage.mkdir(exist_ok=True)
    config_path = directory / CONFIG_FILE
    config_path.write_text(yaml.safe_dump(config_document(storage, address, port), sort_keys=False))
    log_path = directory / LOG_FILE
    launched = processes.launch_detached([str(binary), "serve", str(config_path)], log_path, cwd=directory)
    if launched.identity is None:
        raise RegistryError(
            f"docker-registry exited at once (code {launched.process.wait()}); "
            f"last lines of {log_path}:\n{processes.log_tail(log_path)}"
        )
    registry = RegistryProcess(launched.identity, address, port, directory)
    try:
        _wait_until_ready(registry, launched, timeout)
    except BaseException:
        registry.stop()
        raise
    return registry


def _wait_until_ready(registry: RegistryProcess, launched: processes.Launched, timeout: float) -> None:
    # No proxies: a proxy from the environment must never see (or answer for) a loopback or bridge address.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    last_answer = "no answer yet"
    while True:
        exit_code = launched.process.poll()
        if exit_code is not None:
            raise RegistryError(
                f"docker-registry exited with code {exit_code} before it was ready; "
                f"last lines of {registry.log_path}:\n{processes.log_tail(registry.log_path)}"
            )
        try:
            with opener.open(f"{registry.url}/v2/", timeout=1.0) as response:
                if response.status == 200:
                    return
                last_answer = f"HTTP {response.status}"
        except urllib.error.HTTPError as e:
            last_answer = f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            last_answer = str(getattr(e, "reason", e))
        if time.monotonic() >= deadline:
            raise RegistryError(
                f"docker-registry not ready after {timeout:g}s (GET {registry.url}/v2/: {last_answer}); "
                f"last lines of {registry.log_path}:\n{processes.log_tail(registry.log_path)}"
            )
        time.sleep(_POLL_SECONDS)


def _check_port_free(address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the registry's own listener does
        try:
            probe.bind((address, port))
        except OSError as e:
            raise RegistryError(
                f"cannot start docker-registry on {_bracketed(address)}:{port}: {e.strerror}"
            ) from None


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address
