"""Detached processes (dev services, machines), identified by PID *and* start time so a recycled PID is never signalled."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import ProcessError

_PROC = Path("/proc")
_BOOT_ID = _PROC / "sys/kernel/random/boot_id"
_POLL_INTERVAL = 0.05
_KILL_WAIT_SECONDS = 5.0

# Children launched by this Python process. Holding the Popen objects lets us reap them when they stop (no
# zombies, no "still running" warnings); when the launching CLI exits, init adopts and reaps them instead.
_launched: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: start time in clock ticks after boot
    boot_id: str  # start_ticks restart at every boot


@dataclass(frozen=True)
class Launched:
    process: subprocess.Popen[bytes]
    identity: ProcessIdentity | None  # None if it exited before we could look at it


def current_boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError as e:
        raise ProcessError(
            f"{_BOOT_ID}: cannot read ({e.strerror}); this tool needs Linux /proc"
        ) from None


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of a live process, or None if there is none (zombies count as gone)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError as e:
        raise ProcessError(f"/proc/{pid}/stat: cannot read ({e.strerror})") from None
    # The command name (field 2) may contain spaces and parentheses; the fields after the last ")" may not.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return None
    return ProcessIdentity(pid, start_ticks, current_boot_id())


def is_running(identity: ProcessIdentity) -> bool:
    _reap(identity.pid)
    return identity_of(identity.pid) == identity


def launch_detached(
    argv: list[str], log_path: Path, cwd: Path, before_exec: Callable[[], None] | None = None
) -> Launched:
    """Start `argv` in its own session (terminal signals and the launcher's exit do not reach it), output
    appended to `log_path` after a header line naming the command. `before_exec` runs in the child between fork
    and exec (e.g. to move it into its own cgroups)."""
    try:
        log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed right after the spawn
    except OSError as e:
        raise ProcessError(f"{log_path}: cannot open log: {e.strerror}") from None
    with log:
        log.write(f"--- {dt.datetime.now(dt.UTC).isoformat()} starting: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=before_exec,
            )
        except OSError as e:
            raise ProcessError(f"cannot start {argv[0]}: {e.strerror}") from None
    _launched[process.pid] = process
    return Launched(process, identity_of(process.pid))


def stop(identity: ProcessIdentity, timeout: float) -> str:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL. Returns what happened: "stopped", "killed" or
    "not running". The identity is re-checked before every signal."""
    if not _signal_if_ours(identity, signal.SIGTERM):
        return "not running"
    if _wait_until_gone(identity, timeout):
        return "stopped"
    if not _signal_if_ours(identity, signal.SIGKILL):
        return "stopped"
    if not _wait_until_gone(identity, _KILL_WAIT_SECONDS):
        raise ProcessError(f"process {identity.pid} survived SIGKILL for {_KILL_WAIT_SECONDS:g}s")
    return "killed"


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last lines of a log, for error messages."""
    try:
        with open(log_path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode(errors="replace")
    except OSError as e:
        return f"(cannot read {log_path}: {e.strerror})"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"  | {line}" for line in tail) if tail else "  | (log is empty)"


def _signal_if_ours(identity: ProcessIdentity, signum: signal.Signals) -> bool:
    # A pidfd pins the process: once the identity check passes on an open pidfd, the signal cannot reach a
    # different process that reused the PID in between. Without pidfd support (Linux < 5.3), plain kill.
    pidfd = _open_pidfd(identity.pid)
    try:
        if not is_running(identity):
            return False
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signum)
        else:
            os.kill(identity.pid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        raise ProcessError(f"process {identity.pid}: not permitted to send {signum.name}") from None
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return True


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, ProcessLookupError, OSError):
        return None


def _wait_until_gone(identity: ProcessIdentity, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_running(identity):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_INTERVAL)
    return True


def _reap(pid: int) -> None:
    # Only children this process launched are reaped here; anything else is adopted and reaped by init, and a
    # zombie already counts as gone in identity_of.
    process = _launched.get(pid)
    if process is not None and process.poll() is not None:
        del _launched[pid]
