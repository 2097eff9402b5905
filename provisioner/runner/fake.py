"""FakeRunner: a Runner for unit tests of whatever drives playbooks. It records every call and answers from a
script instead of running Ansible: by default every targeted host of the workspace inventory succeeds with
nothing changed. Nothing is written to the workspace (log_path names a file that does not exist)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provisioner.errors import RunnerError
from provisioner.runner.protocol import HostStats, PlaybookResult, TaskEvent, TaskEventKind, TaskFailure

# ansible-playbook's exit codes when a host failed, and when one was unreachable (that one wins).
RC_HOST_FAILED = 2
RC_HOST_UNREACHABLE = 4


@dataclass(frozen=True)
class RunnerCall:
    workspace: Path
    playbook: str
    limit: tuple[str, ...] | None
    tags: tuple[str, ...]
    extravars: dict[str, Any]
    check: bool


@dataclass(frozen=True)
class _Script:
    tasks: tuple[str, ...] = ()
    changed: Mapping[str, int] = field(default_factory=dict)


class FakeRunner:
    def __init__(self) -> None:
        self.calls: list[RunnerCall] = []
        self._scripts: dict[str, _Script] = {}
        self._failures: dict[str, dict[str, TaskFailure]] = {}
        self._errors: dict[str, Exception] = {}

    @property
    def playbooks(self) -> list[str]:
        """The playbooks run so far, in order."""
        return [call.playbook for call in self.calls]

    def script(
        self, playbook: str, *, tasks: Sequence[str] = (), changed: Mapping[str, int] | None = None
    ) -> None:
        """Every run of `playbook` goes through `tasks` (emitting their events) and reports `changed[host]`
        changed tasks per host (the first ones, in the events)."""
        self._scripts[playbook] = _Script(tuple(tasks), dict(changed or {}))

    def fail(self, playbook: str, failure: TaskFailure) -> None:
        """Every run of `playbook` that targets failure.host fails there at failure.task (unreachable if
        the failure says so); the host runs no later task. One failure per host and playbook: the last one."""
        self._failures.setdefault(playbook, {})[failure.host] = failure

    def raise_error(self, playbook: str, error: Exception) -> None:
        """Every run of `playbook` raises `error`, as AnsibleRunner raises RunnerError for a playbook that
        cannot run at all."""
        self._errors[playbook] = error

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
        self.calls.append(
            RunnerCall(
                workspace=workspace,
                playbook=playbook,
                limit=tuple(limit) if limit is not None else None,
                tags=tuple(tags),
                extravars=dict(extravars or {}),
                check=check,
            )
        )
        if playbook in self._errors:
            raise self._errors[playbook]
        if limit is not None and not limit:
            raise ValueError(f"{playbook}: an empty limit selects no hosts; pass None to run on every host")
        hosts = _target_hosts(workspace, playbook, limit)
        script = self._scripts.get(playbook, _Script())
        failures = {
            host: failure for host, failure in self._failures.get(playbook, {}).items() if host in hosts
        }
        emit = on_event or (lambda _event: None)
        play = Path(playbook).stem

        tasks = list(dict.fromkeys([*script.tasks, *(failure.task for failure in failures.values())]))
        completed = dict.fromkeys(hosts, 0)
        active = list(hosts)
        emit(TaskEvent("play_start", None, "", play))
        for task in tasks:
            emit(TaskEvent("task_start", None, task, play))
            for host in list(active):
                failure = failures.get(host)
                if failure is not None and failure.task == task:
                    kind: TaskEventKind = "host_unreachable" if failure.unreachable else "host_failed"
                    emit(TaskEvent(kind, host, task, play))
                    active.remove(host)
                    continue
                changed = completed[host] < script.changed.get(host, 0)
                emit(TaskEvent("host_changed" if changed else "host_ok", host, task, play))
                completed[host] += 1

        stats = {
            host: HostStats(
                ok=max(completed[host], script.changed.get(host, 0)),
                changed=script.changed.get(host, 0),
                failed=int(host in failures and not failures[host].unreachable),
                unreachable=int(host in failures and failures[host].unreachable),
            )
            for host in hosts
        }
        if any(failure.unreachable for failure in failures.values()):
            status, rc = "failed", RC_HOST_UNREACHABLE
        elif failures:
            status, rc = "failed", RC_HOST_FAILED
        else:
            status, rc = "successful", 0
        return PlaybookResult(
            playbook=playbook,
            status=status,
            rc=rc,
            hosts=stats,
            failures=tuple(failures.values()),
            log_path=workspace / "artifacts" / f"fake-{len(self.calls)}-{play}" / "stdout",
            elapsed=0.0,
        )


def _target_hosts(workspace: Path, playbook: str, limit: Sequence[str] | None) -> list[str]:
    """The inventory's hosts that `limit` (host or group names) selects, in inventory order."""
    inventory_path = workspace / "inventory" / "hosts.yml"
    try:
        inventory = yaml.safe_load(inventory_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RunnerError(f"cannot run {playbook} in {workspace}: inventory {inventory_path}: {exc}") from exc
    groups = _GroupTree(inventory)
    every_host = groups.members("all")
    if limit is None:
        selected = every_host
    else:
        wanted = {host for name in limit for host in ([name] if name in every_host else groups.members(name))}
        selected = [host for host in every_host if host in wanted]
    if not selected:
        raise RunnerError(f"cannot run {playbook} in {workspace}: no host of the inventory matches {limit}")
    return selected


class _GroupTree:
    """Group membership of a YAML inventory: a group's hosts are its own plus its children's."""

    def __init__(self, inventory: Mapping[str, Any]) -> None:
        self._hosts: dict[str, list[str]] = {}
        self._children: dict[str, list[str]] = {}
        for name, body in inventory.items():
            self._add(name, body)

    def _add(self, name: str, body: Mapping[str, Any] | None) -> None:
        body = body or {}
        self._hosts.setdefault(name, []).extend(body.get("hosts") or {})
        self._children.setdefault(name, []).extend(body.get("children") or {})
        for child, child_body in (body.get("children") or {}).items():
            self._add(child, child_body)

    def members(self, group: str) -> list[str]:
        if group == "all":  # Ansible's implicit group holds every host, whichever group lists it
            groups = list(self._hosts)
        else:
            groups, pending = [], [group]
            while pending:
                current = pending.pop(0)
                if current not in groups:
                    groups.append(current)
                    pending.extend(self._children.get(current, []))
        return list(dict.fromkeys(host for name in groups for host in self._hosts.get(name, [])))
