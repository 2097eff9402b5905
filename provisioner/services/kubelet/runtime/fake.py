"""An in-memory :class:`~.protocol.Runtime` for the kubelet's unit tests: it records every call, and a test makes
containers exit (:meth:`FakeRuntime.exit`), ignore signals, or fail to create. It never sleeps: a wait for a
container that still runs fails at once with :class:`~.protocol.ExitTimeout`."""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass, field, replace
from pathlib import Path

from provisioner.services.kubelet.runtime.protocol import (
    CREATED,
    RUNNING,
    STOPPED,
    ContainerExists,
    ContainerNotFound,
    ContainerState,
    ExitTimeout,
    RuntimeCommandError,
    check_container_id,
)

FIRST_PID = 1000
FINISHED_AT = "2026-01-01T00:00:00.000000Z"


@dataclass
class FakeContainer:
    state: ContainerState
    stdout_path: Path
    stderr_path: Path
    ignored_signals: set[int] = field(default_factory=set)


class FakeRuntime:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.containers: dict[str, FakeContainer] = {}
        self.create_errors: dict[str, str] = {}  # container id → the error its create fails with
        self._next_pid = FIRST_PID

    # --- what a test controls ---------------------------------------------------------------------------------

    def fail_create(self, container_id: str, message: str) -> None:
        self.create_errors[container_id] = message

    def ignore_signal(self, container_id: str, signal: int) -> None:
        """Make the container survive ``signal`` (SIGKILL cannot be ignored)."""
        self._get(container_id).ignored_signals.add(int(signal))

    def exit(self, container_id: str, exit_code: int) -> None:
        """The container's process exits on its own with ``exit_code``."""
        container = self._get(container_id)
        container.state = replace(container.state, status=STOPPED, pid=0, exit_code=exit_code,
                                  finished_at=FINISHED_AT)

    # --- the Runtime protocol ---------------------------------------------------------------------------------

    def create(self, container_id: str, bundle_dir: Path, stdout_path: Path, stderr_path: Path) -> None:
        self.calls.append(("create", container_id, str(bundle_dir), str(stdout_path), str(stderr_path)))
        check_container_id(container_id)
        if container_id in self.containers:
            raise ContainerExists(f"container {container_id} exists already")
        if container_id in self.create_errors:
            raise RuntimeCommandError(f"create container {container_id}: {self.create_errors[container_id]}")
        state = ContainerState(id=container_id, status=CREATED, pid=self._next_pid, bundle=str(bundle_dir),
                               created=FINISHED_AT)
        self._next_pid += 1
        self.containers[container_id] = FakeContainer(state, stdout_path, stderr_path)

    def start(self, container_id: str) -> None:
        self.calls.append(("start", container_id))
        container = self._get(container_id)
        if container.state.status != CREATED:
            raise RuntimeCommandError(f"start {container_id}: container is {container.state.status}")
        container.state = replace(container.state, status=RUNNING)

    def state(self, container_id: str) -> ContainerState:
        self.calls.append(("state", container_id))
        return self._get(container_id).state

    def kill(self, container_id: str, signal: int) -> None:
        self.calls.append(("kill", container_id, str(int(signal))))
        container = self._get(container_id)
        if container.state.status == STOPPED:
            raise RuntimeCommandError(f"kill {container_id}: container is not running")
        if int(signal) == signals.SIGKILL or int(signal) not in container.ignored_signals:
            self.exit(container_id, 128 + int(signal))

    def delete(self, container_id: str, force: bool = False) -> None:
        self.calls.append(("delete", container_id, "force" if force else ""))
        container = self._get(container_id)
        if container.state.status != STOPPED and not force:
            raise RuntimeCommandError(f"delete {container_id}: container is {container.state.status}")
        del self.containers[container_id]

    def list(self) -> list[ContainerState]:
        self.calls.append(("list",))
        return [container.state for container in self.containers.values()]

    def wait_exit(self, container_id: str, timeout: float) -> int:
        self.calls.append(("wait_exit", container_id, f"{timeout:g}"))
        state = self._get(container_id).state
        if state.status != STOPPED or state.exit_code is None:
            raise ExitTimeout(f"container {container_id} still running after {timeout:g} s")
        return state.exit_code

    def _get(self, container_id: str) -> FakeContainer:
        try:
            return self.containers[container_id]
        except KeyError:
            raise ContainerNotFound(f"no container {container_id}") from None
