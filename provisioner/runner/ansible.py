"""AnsibleRunner: runs a playbook of a rendered workspace (an ansible-runner private_data_dir) and turns
ansible-runner's events and stats into TaskEvents and a PlaybookResult.
No other module of the tool imports ansible_runner."""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import ansible_runner
from ansible_runner.exceptions import AnsibleRunnerException

from provisioner.errors import RunnerError
from provisioner.runner.protocol import HostStats, PlaybookResult, TaskEvent, TaskFailure

ARTIFACT_RUNS_KEPT = 20
LOG_TAIL_LINES = 20
# Ansible names a control socket "<dir>/<10 hex digits>" and ssh first binds it as "<that>.<16 random chars>";
# a Unix socket path must fit in 108 bytes, so the directory has to leave room for both.
_CONTROL_SOCKET_NAME_LEN = 28
_CONTROL_SOCKET_PATH_MAX = 100
# PLAY RECAP column -> key of ansible-runner's stats ("dark" is its word for unreachable).
_STATS_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failed": "failures",
    "unreachable": "dark",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


class AnsibleRunner:
    """Runs playbooks with ansible-runner; see Runner.run for the contract."""

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
        if limit is not None and not limit:
            # ansible-playbook reads `--limit ""` as no limit at all: every host.
            raise ValueError(f"{playbook}: an empty limit selects no hosts; pass None to run on every host")
        workspace = workspace.resolve()
        if not workspace.is_dir():
            raise RunnerError(f"cannot run {playbook}: workspace {workspace} does not exist")
        ident = f"{datetime.now():%Y%m%dT%H%M%S.%f}-{Path(playbook).stem}"
        log_path = workspace / "artifacts" / ident / "stdout"
        flags = [flag for flag, wanted in (("--check", check), ("--diff", diff)) if wanted]
        translator = _EventTranslator(on_event)
        started = time.monotonic()
        with _cancel_on_signals() as interrupted:
            try:
                run = ansible_runner.run(
                    private_data_dir=str(workspace),
                    playbook=playbook,
                    ident=ident,
                    limit=",".join(limit) if limit is not None else None,
                    tags=",".join(tags) or None,
                    # Given after `-e @env/extravars` on the command line, so these win.
                    extravars=dict(extravars or {}) or None,
                    cmdline=" ".join(flags) or None,
                    forks=forks,
                    # ansible-runner takes whole seconds and reads 0 as "no timeout".
                    timeout=max(1, math.ceil(timeout)) if timeout is not None else None,
                    envvars=run_settings(workspace),
                    # An absolute name puts the cache outside the per-run artifacts, so facts outlive a run.
                    fact_cache=str(workspace / ".facts"),
                    rotate_artifacts=ARTIFACT_RUNS_KEPT,
                    # Else ansible-runner writes envvars/extravars/cmdline into WS/env, for every later run.
                    suppress_env_files=True,
                    quiet=True,
                    event_handler=translator.handle,
                    cancel_callback=lambda: interrupted() or translator.error is not None,
                )
            except AnsibleRunnerException as exc:
                raise RunnerError(_cannot_run(playbook, workspace, log_path, str(exc))) from exc
        elapsed = time.monotonic() - started
        if translator.error is not None:
            raise translator.error
        stats = run.stats
        if stats is None and run.status not in ("timeout", "canceled"):
            reason = f"ansible-playbook stopped before running a play ({run.status}, rc {run.rc})"
            raise RunnerError(_cannot_run(playbook, workspace, log_path, reason))
        hosts = _host_stats(stats or {})

        def still_failed(failure: TaskFailure) -> bool:
            # A failure that a block's rescue recovered from leaves the host without failures in the recap.
            host = hosts.get(failure.host)
            return host is None or host.failed > 0 or host.unreachable > 0

        return PlaybookResult(
            playbook=playbook,
            status=run.status,
            rc=run.rc,
            hosts=hosts,
            failures=tuple(filter(still_failed, translator.failures)),
            log_path=log_path,
            elapsed=elapsed,
        )


def run_settings(workspace: Path) -> dict[str, str]:
    """The environment every run gets on top of the caller's (the workspace's env/envvars still override it:
    ansible-runner reads that file last). Host key checking is left to the inventory."""
    control_path_dir = workspace / ".cp"
    if len(str(control_path_dir)) + _CONTROL_SOCKET_NAME_LEN > _CONTROL_SOCKET_PATH_MAX:
        control_path_dir = Path.home() / ".ansible" / "cp"  # Ansible's own default, private to the user
    return {
        # ansible-runner starts `ansible-playbook` from PATH: the one installed next to this interpreter.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)]),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=60s",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_path_dir),
        "ANSIBLE_LOCAL_TEMP": str(workspace / ".tmp"),
        "ANSIBLE_GATHERING": "smart",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False",
        # Without it an inventory that does not parse only warns, and the play runs on no hosts.
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        **strategy_settings(),
    }


def strategy_settings() -> dict[str, str]:
    """Mitogen's linear strategy: the same task order and results as Ansible's own, with one persistent Python
    interpreter per host instead of a new one per task — a no-op `provision create` of 3 machines takes 13 s
    instead of 31 s here. PROVISION_ANSIBLE_STRATEGY=linear falls back to plain Ansible."""
    if os.environ.get("PROVISION_ANSIBLE_STRATEGY", "mitogen_linear") == "linear":
        return {}
    import ansible_mitogen

    return {"ANSIBLE_STRATEGY_PLUGINS": str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"),
            "ANSIBLE_STRATEGY": "mitogen_linear"}


class _EventTranslator:
    """ansible-runner event -> TaskEvent for the caller, and the failures of the run."""

    def __init__(self, on_event: Callable[[TaskEvent], None] | None) -> None:
        self._on_event = on_event
        self.failures: list[TaskFailure] = []
        self.error: Exception | None = None  # raised by on_event; cancels the run, re-raised after it

    def handle(self, event: dict[str, Any]) -> bool:
        task_event = self._translate(event.get("event", ""), event.get("event_data") or {})
        if task_event is not None and self._on_event is not None and self.error is None:
            try:
                self._on_event(task_event)
            except Exception as exc:
                self.error = exc
        return True  # keeps the event on disk, where ansible-runner reads its stats back from

    def _translate(self, name: str, data: dict[str, Any]) -> TaskEvent | None:
        play = data.get("play") or ""
        task = data.get("task") or ""
        host = data.get("host")
        if name == "playbook_on_play_start":
            return TaskEvent("play_start", None, "", play)
        if name in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            return TaskEvent("task_start", None, task, play)
        if name == "runner_on_ok":
            changed = bool((data.get("res") or {}).get("changed"))
            return TaskEvent("host_changed" if changed else "host_ok", host, task, play)
        if name == "runner_on_skipped":
            return TaskEvent("host_skipped", host, task, play)
        if name == "runner_on_failed" and not data.get("ignore_errors"):
            self.failures.append(_failure(data, unreachable=False))
            return TaskEvent("host_failed", host, task, play)
        if name == "runner_on_unreachable":
            self.failures.append(_failure(data, unreachable=True))
            return TaskEvent("host_unreachable", host, task, play)
        return None


def _failure(data: dict[str, Any], *, unreachable: bool) -> TaskFailure:
    res = data.get("res") or {}
    # A failed loop says only "One or more items failed"; its first failed item has the details.
    detail = next(
        (item for item in res.get("results") or () if isinstance(item, dict) and item.get("failed")), res
    )
    action = data.get("task_action") or ""
    return TaskFailure(
        host=data.get("host") or "",
        task=data.get("task") or "",
        action=action,
        message=str(detail.get("msg") or res.get("msg") or ""),
        # module_stdout/module_stderr: what a module that crashed (or had no interpreter) printed.
        stdout=str(detail.get("stdout") or detail.get("module_stdout") or ""),
        stderr=str(detail.get("stderr") or detail.get("module_stderr") or ""),
        command=_command(detail, action),
        unreachable=unreachable,
    )


def _command(result: dict[str, Any], action: str) -> str:
    cmd = result.get("cmd")
    if isinstance(cmd, list):
        return shlex.join(str(part) for part in cmd)
    if cmd:
        return str(cmd)
    module_args = (result.get("invocation") or {}).get("module_args") or {}
    shown = [
        f"{key}={value}"
        for key, value in module_args.items()
        if value is not None and not key.startswith("_")
    ]
    return " ".join([action, *shown]) if shown else ""


def _host_stats(stats: Mapping[str, Mapping[str, int]]) -> dict[str, HostStats]:
    # "processed" first: it lists every host in play order, including those with nothing to count.
    hosts = dict.fromkeys(
        host for key in ("processed", *_STATS_KEYS.values()) for host in stats.get(key) or {}
    )
    return {
        host: HostStats(**{field: (stats.get(key) or {}).get(host, 0) for field, key in _STATS_KEYS.items()})
        for host in hosts
    }


@contextlib.contextmanager
def _cancel_on_signals() -> Iterator[Callable[[], bool]]:
    """SIGINT/SIGTERM cancel the run (status "canceled") and the previous handlers come back afterwards.
    Left to itself, ansible-runner installs its own handlers for good and Ctrl-C stops working in the tool."""
    received = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield received.is_set
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, lambda _signum, _frame: received.set())
    try:
        yield received.is_set
    finally:
        for signum, handler in previous.items():
            # getsignal gives None for a handler not installed from Python; the default is the best restore.
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _cannot_run(playbook: str, workspace: Path, log_path: Path, reason: str) -> str:
    message = f"cannot run {playbook} in {workspace}: {reason}"
    if log_path.is_file():
        tail = log_path.read_text(errors="replace").rstrip().splitlines()[-LOG_TAIL_LINES:]
        message += "\n" + "\n".join(tail) + f"\nlog: {log_path}"
    return message
