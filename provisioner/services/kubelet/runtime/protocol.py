"""What the kubelet needs from an OCI runtime (:class:`Runtime`), the states it reports, its errors, and
:func:`stop_container` — the kubelet's SIGTERM, grace period, SIGKILL sequence, written once against the protocol.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CREATED = "created"
RUNNING = "running"
STOPPED = "stopped"

# The exit code Kubernetes reports for a container whose real one was lost (reason ContainerStatusUnknown).
LOST_EXIT_CODE = 137

# How long stop_container waits for a container to die after SIGKILL before giving up.
KILL_TIMEOUT_SECONDS = 10.0

# Container ids become file names and command-line arguments.
CONTAINER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class ContainerRuntimeError(Exception):
    """Base of the runtime adapter's errors; the message is meant for the pod's events."""


class RuntimeNotFound(ContainerRuntimeError):
    """Neither crun nor runc is installed."""


class RuntimeCommandError(ContainerRuntimeError):
    """crun/runc (or the shim) refused or failed a command."""


class ContainerNotFound(ContainerRuntimeError):
    """No container of that id is known to this runtime."""


class ContainerExists(ContainerRuntimeError):
    """A container of that id exists already."""


class ExitTimeout(ContainerRuntimeError):
    """A container still running when a wait for its exit ran out."""


@dataclass(frozen=True)
class ContainerState:
    """The runtime's state of a container (``crun state``), with the exit the shim recorded once it stopped.
    ``pid`` is 0 once the container stopped; ``exit_code`` is None until the exit is recorded."""

    id: str
    status: str  # created, running, stopped (crun also has paused)
    pid: int
    bundle: str
    created: str
    exit_code: int | None = None
    finished_at: str | None = None


class Runtime(Protocol):
    """The OCI runtime as the kubelet drives it. Containers are created from a bundle (config.json + rootfs)
    with stdout/stderr going to files, started, signalled, waited for and deleted by id."""

    def create(self, container_id: str, bundle_dir: Path, stdout_path: Path, stderr_path: Path) -> None: ...

    def start(self, container_id: str) -> None: ...

    def state(self, container_id: str) -> ContainerState: ...

    def kill(self, container_id: str, signal: int) -> None: ...

    def delete(self, container_id: str, force: bool = False) -> None: ...

    def list(self) -> list[ContainerState]: ...

    def wait_exit(self, container_id: str, timeout: float) -> int:
        """The container's exit code once it stopped; :class:`ExitTimeout` if it still runs after ``timeout``."""
        ...


def check_container_id(container_id: str) -> str:
    if not CONTAINER_ID.fullmatch(container_id):
        raise ContainerRuntimeError(f"invalid container id {container_id!r}: letters, digits, '_', '.', '-' only")
    return container_id


def stop_container(runtime: Runtime, container_id: str, grace_seconds: float) -> int:
    """Stop a container the kubelet's way and return its exit code: SIGTERM, up to ``grace_seconds`` for it to
    exit, then SIGKILL (a process that ignores SIGTERM, such as a shell as PID 1, only dies this way)."""
    state = runtime.state(container_id)
    if state.status != STOPPED:
        try:
            runtime.kill(container_id, signal.SIGTERM)
        except RuntimeCommandError:
            if runtime.state(container_id).status != STOPPED:  # it may have exited on its own meanwhile
                raise
        try:
            return runtime.wait_exit(container_id, grace_seconds)
        except ExitTimeout:
            try:
                runtime.kill(container_id, signal.SIGKILL)
            except RuntimeCommandError:
                if runtime.state(container_id).status != STOPPED:
                    raise
    return runtime.wait_exit(container_id, KILL_TIMEOUT_SECONDS)
