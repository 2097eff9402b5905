"""What a playbook run hands back, the progress events it emits, and the Runner protocol that both the real
runner and the fake implement."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

TaskEventKind = Literal[
    "task_start", "host_ok", "host_changed", "host_failed", "host_unreachable", "host_skipped", "play_start"
]


@dataclass(frozen=True)
class HostStats:
    """One host's line of the PLAY RECAP; `ok` counts changed tasks too, as Ansible does."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed on a host (or a host that could not be reached), with what it takes to fix it."""

    host: str
    task: str
    action: str
    message: str
    stdout: str = ""
    stderr: str = ""
    command: str = ""
    unreachable: bool = False


@dataclass(frozen=True)
class PlaybookResult:
    playbook: str
    status: str  # "successful" | "failed" | "timeout" | "canceled", as ansible-runner reports it
    rc: int
    hosts: dict[str, HostStats]
    failures: tuple[TaskFailure, ...]
    log_path: Path  # the run's stdout in the workspace's artifacts
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.status == "successful" and not self.failures

    @property
    def changed(self) -> int:
        return sum(stats.changed for stats in self.hosts.values())


@dataclass(frozen=True)
class TaskEvent:
    kind: TaskEventKind
    host: str | None  # None for play_start and task_start
    task: str  # "" for play_start
    play: str


class Runner(Protocol):
    def run(
        self,
        workspace: Path,
        playbook: str,
        *,
        limit: Sequence[str] | None = None,
        tags: Sequence[str] = (),
        extravars: Mapping[str, Any] | None = None,
        on_event: Callable[[TaskEvent], None] | None = None,
        check: bool = False,
        diff: bool = False,
        forks: int = 10,
        timeout: float | None = None,
    ) -> PlaybookResult:
        """Run `playbook` of the workspace's project against its inventory (restricted to `limit`, a list of
        host or group names; None means every host). `extravars` override the workspace's env/extravars for
        this run only. Raises RunnerError when the playbook could not run at all."""
        ...
