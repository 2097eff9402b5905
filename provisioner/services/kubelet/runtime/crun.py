"""crun (runc as the fallback), the OCI runtime the kubelet drives; with its shim, the only code that runs them.

:class:`CrunRuntime` implements :class:`~.protocol.Runtime` with the runtime's CLI subset that crun and runc share
(``create --no-new-keyring``, ``start``, ``state``, ``kill``, ``delete``, ``list --format json``).

Exit codes: the runtimes record none, so each container is created through a shim (shim.py) that inherits the
container's init process as a child subreaper, waits for it and writes its exit code. Everything lives under the
``root`` given to :class:`CrunRuntime`::

    <root>/runtime/            the runtime's own --root (its container states)
    <root>/shims/<id>/         one per container, from create until delete:
        shim.pid               the shim's pid (alive while the container's init process is)
        pid                    the container's init pid
        runtime.log            crun/runc's JSON log (create errors)
        shim.log               the shim's own output
        exit.json              {"exitCode": N, "finishedAt": RFC 3339}, once the container stopped

Nothing else is kept in memory, so a restarted kubelet re-adopts its containers by building a new
:class:`CrunRuntime` on the same root. A shim that died before recording the exit yields
:data:`~.protocol.LOST_EXIT_CODE`, as Kubernetes reports a container whose status was lost.

Waiting for an exit polls ``exit.json`` (every few tens of milliseconds) and the shim's liveness; the calls
block, so an asyncio kubelet runs them in a thread. The container's stdio are the files given to create, never
the caller's pipes (a detached container holding them hangs an SSH session).

Also what the Node reports: the runtime's version.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from signal import SIGKILL
from typing import Any

from provisioner.services.kubelet.runtime import shim
from provisioner.services.kubelet.runtime.protocol import (
    KILL_TIMEOUT_SECONDS,
    LOST_EXIT_CODE,
    STOPPED,
    ContainerExists,
    ContainerNotFound,
    ContainerState,
    ExitTimeout,
    RuntimeCommandError,
    RuntimeNotFound,
    check_container_id,
)

UNKNOWN_RUNTIME = "unknown://"


def parse_version(output: str) -> str:
    """The first line of ``crun --version`` (``crun version 1.8.1``) → ``crun://1.8.1``."""
    words = output.splitlines()[0].split() if output.strip() else []
    if len(words) == 3 and words[:2] == ["crun", "version"]:
        return f"crun://{words[2]}"
    return UNKNOWN_RUNTIME


def runtime_version(binary: str = "crun") -> str:
    """``crun://<version>`` as Node.status.nodeInfo.containerRuntimeVersion, or ``unknown://`` without crun."""
    path = shutil.which(binary)
    if path is None:
        return UNKNOWN_RUNTIME
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_RUNTIME
    return parse_version(result.stdout)


RUNTIMES = ("crun", "runc")
SHIM_MODULE = "provisioner.services.kubelet.runtime.shim"
COMMAND_TIMEOUT_SECONDS = 60.0
CREATE_TIMEOUT_SECONDS = 60.0
EXIT_POLL_SECONDS = 0.02


def find_runtime(preferred: str = "crun") -> str:
    """The path of ``preferred`` (crun or runc), else of the other one."""
    if preferred not in RUNTIMES:
        raise ValueError(f"unknown OCI runtime {preferred!r}; expected one of {', '.join(RUNTIMES)}")
    for name in (preferred, *(name for name in RUNTIMES if name != preferred)):
        path = shutil.which(name)
        if path is not None:
            return path
    raise RuntimeNotFound("neither crun nor runc is installed (install the Debian package crun)")


def open_runtime(root: Path | str, runtime: str = "crun") -> CrunRuntime:
    """The runtime adapter over crun, or runc when crun is missing (or the other way round)."""
    return CrunRuntime(root, binary=find_runtime(runtime))


class CrunRuntime:
    """crun or runc (``binary``: a name on PATH or a path) with its state and the shims' under ``root``."""

    def __init__(self, root: Path | str, binary: str = "crun") -> None:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeNotFound(f"OCI runtime {binary!r} not found (install the Debian package crun)")
        self.binary = path
        self.root = Path(root).absolute()  # the shim runs in /
        self.runtime_root = self.root / "runtime"
        self.shims_dir = self.root / "shims"

    # --- the Runtime protocol ---------------------------------------------------------------------------------

    def create(self, container_id: str, bundle_dir: Path, stdout_path: Path, stderr_path: Path) -> None:
        """Create the container through its shim; returns once the runtime created it (status created)."""
        state_dir = self._state_dir(check_container_id(container_id))
        if state_dir.exists():
            raise ContainerExists(f"container {container_id} exists already")
        state_dir.mkdir(parents=True)
        self.runtime_root.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            with open(state_dir / "shim.log", "ab") as shim_log:
                launcher = subprocess.Popen(
                    [sys.executable, "-m", SHIM_MODULE, "--runtime", self.binary,
                     "--runtime-root", str(self.runtime_root), "--state-dir", str(state_dir),
                     "--bundle", str(Path(bundle_dir).absolute()), "--stdout", str(Path(stdout_path).absolute()),
                     "--stderr", str(Path(stderr_path).absolute()),
                     "--ready-fd", str(write_fd), container_id],
                    stdin=subprocess.DEVNULL, stdout=shim_log, stderr=shim_log, pass_fds=(write_fd,),
                    start_new_session=True)
            os.close(write_fd)
            write_fd = -1
            report = self._read_report(read_fd, state_dir)
            launcher.wait(timeout=COMMAND_TIMEOUT_SECONDS)  # it exits right after forking the shim
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
                shutil.rmtree(state_dir, ignore_errors=True)  # the shim never started
        if "error" in report:
            shutil.rmtree(state_dir, ignore_errors=True)
            raise RuntimeCommandError(f"create container {container_id}: {report['error']}")

    def start(self, container_id: str) -> None:
        self._require(container_id)
        self._run("start", container_id)

    def state(self, container_id: str) -> ContainerState:
        self._require(container_id)
        return self._with_exit(json.loads(self._run("state", container_id)))

    def kill(self, container_id: str, signal: int) -> None:
        self._require(container_id)
        self._run("kill", container_id, str(int(signal)))

    def delete(self, container_id: str, force: bool = False) -> None:
        """Remove a stopped container; ``force`` SIGKILLs a live one first and forgets one the runtime lost."""
        state_dir = self._require(container_id)
        try:
            state = self.state(container_id)
        except RuntimeCommandError:
            if not force:
                raise
        else:
            if force and state.status != STOPPED:
                # Kill and wait here rather than `delete --force`, so the shim records the exit before its
                # directory goes.
                self.kill(container_id, SIGKILL)
                self.wait_exit(container_id, KILL_TIMEOUT_SECONDS)
            self._run("delete", container_id)
        shutil.rmtree(state_dir)

    def list(self) -> list[ContainerState]:
        if not self.runtime_root.exists():
            return []
        entries = json.loads(self._run("list", "--format", "json")) or []  # runc prints null for none
        return [self._with_exit(entry) for entry in entries]

    def wait_exit(self, container_id: str, timeout: float) -> int:
        state_dir = self._require(container_id)
        deadline = time.monotonic() + timeout
        while True:
            recorded = _recorded_exit(state_dir)
            if recorded is not None:
                return recorded[0]
            if not _shim_alive(state_dir, container_id):
                recorded = _recorded_exit(state_dir)  # it may have written the file just before exiting
                if recorded is not None:
                    return recorded[0]
                if self.state(container_id).status == STOPPED:
                    return LOST_EXIT_CODE
            if time.monotonic() >= deadline:
                raise ExitTimeout(f"container {container_id} still running after {timeout:g} s")
            time.sleep(EXIT_POLL_SECONDS)

    # --- helpers ----------------------------------------------------------------------------------------------

    def _state_dir(self, container_id: str) -> Path:
        return self.shims_dir / container_id

    def _require(self, container_id: str) -> Path:
        state_dir = self._state_dir(check_container_id(container_id))
        if not state_dir.is_dir():
            raise ContainerNotFound(f"no container {container_id}")
        return state_dir

    def _run(self, *args: str) -> str:
        command = [self.binary, "--root", str(self.runtime_root), *args]
        try:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=COMMAND_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as error:
            raise RuntimeCommandError(f"{' '.join(args)}: no answer after {error.timeout:g} s") from error
        if result.returncode != 0:
            detail = result.stderr.strip() or f"exit status {result.returncode}"
            raise RuntimeCommandError(f"{Path(self.binary).name} {' '.join(args)}: {detail}")
        return result.stdout

    def _read_report(self, read_fd: int, state_dir: Path) -> dict[str, Any]:
        """The shim's one-line report; if it died without one, what it logged."""
        received = b""
        deadline = time.monotonic() + CREATE_TIMEOUT_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([read_fd], [], [], remaining)
            if not readable:
                break
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            received += chunk
        try:
            return json.loads(received)
        except json.JSONDecodeError:
            log = (state_dir / "shim.log").read_text(errors="replace").strip()[-2000:]
            return {"error": f"the shim gave no report: {log or 'no output'}"}

    def _with_exit(self, entry: dict[str, Any]) -> ContainerState:
        container_id = str(entry["id"])
        exit_code, finished_at = None, None
        if entry.get("status") == STOPPED:
            state_dir = self._state_dir(container_id)
            recorded = _recorded_exit(state_dir)
            if recorded is not None:
                exit_code, finished_at = recorded
            elif state_dir.is_dir() and not _shim_alive(state_dir, container_id):
                exit_code = LOST_EXIT_CODE
        return ContainerState(id=container_id, status=str(entry["status"]), pid=int(entry.get("pid") or 0),
                              bundle=str(entry.get("bundle", "")), created=str(entry.get("created", "")),
                              exit_code=exit_code, finished_at=finished_at)


def _recorded_exit(state_dir: Path) -> tuple[int, str] | None:
    try:
        recorded = json.loads((state_dir / shim.EXIT_FILE).read_text())
    except FileNotFoundError:
        return None
    return int(recorded["exitCode"]), str(recorded["finishedAt"])


def _shim_alive(state_dir: Path, container_id: str) -> bool:
    """Whether the container's shim still runs (checked by its command line, as pids get reused)."""
    try:
        pid = int((state_dir / shim.SHIM_PID_FILE).read_text())
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError):
        return False
    return SHIM_MODULE.encode() in command_line and container_id.encode() in command_line
