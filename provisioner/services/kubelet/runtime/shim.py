"""The per-container shim (conmon's job): ``python -m provisioner.services.kubelet.runtime.shim …``.

crun/runc record no exit code: after ``crun create`` the container's init process is nobody's child, so nobody can
``waitpid`` it. The shim makes itself a child subreaper, runs ``crun create`` with the container's stdio on its log
files, and so inherits the init process when crun exits. It reports the init pid (or crun's error) to the kubelet
through an inherited pipe, then waits for the init process and writes ``exit.json`` (``{"exitCode": N,
"finishedAt": RFC 3339}``) into its state directory, and exits.

It double-forks into a session of its own first, so that the kubelet reaps the launcher at once and the shim
outlives a kubelet restart; a new kubelet re-adopts containers by reading the state directories (``shim.pid``,
``exit.json``). See crun.py for the layout of a state directory.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from provisioner.services.kubelet.runtime.protocol import LOST_EXIT_CODE

SHIM_PID_FILE = "shim.pid"
INIT_PID_FILE = "pid"
RUNTIME_LOG_FILE = "runtime.log"
EXIT_FILE = "exit.json"

PR_SET_CHILD_SUBREAPER = 36
LOG_FILE_MODE = 0o640


def exit_code_of_wait_status(status: int) -> int:
    """A waitpid status as a container exit code: the exit status, or 128 + the signal that killed it."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def become_child_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def runtime_error_message(log_path: Path, fallback: str) -> str:
    """The last error crun/runc wrote to its JSON log, else ``fallback``."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return fallback
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("level") == "error" and entry.get("msg"):
            return str(entry["msg"])
    return fallback


def create_container(args: argparse.Namespace, state_dir: Path) -> int:
    """``<runtime> create``, its stdio being the container's; the container's init pid."""
    log_path = state_dir / RUNTIME_LOG_FILE
    pid_path = state_dir / INIT_PID_FILE
    command = [args.runtime, "--root", args.runtime_root, "--log-format=json", f"--log={log_path}",
               "create", "--no-new-keyring", "--bundle", args.bundle, "--pid-file", str(pid_path), args.id]
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    stdout_fd = os.open(args.stdout, flags, LOG_FILE_MODE)
    stderr_fd = os.open(args.stderr, flags, LOG_FILE_MODE)
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=stdout_fd, stderr=stderr_fd)
    finally:
        os.close(stdout_fd)
        os.close(stderr_fd)
    if result.returncode != 0:
        name = Path(args.runtime).name
        raise RuntimeError(runtime_error_message(log_path, f"{name} create exited {result.returncode}"))
    return int(pid_path.read_text().strip())


def wait_for_exit(init_pid: int) -> int:
    """Reap children (orphans of the container land here too) until the init process is among them."""
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:  # it never became our child: its exit code is lost
            return LOST_EXIT_CODE
        if pid == init_pid:
            return exit_code_of_wait_status(status)


def write_json_atomically(path: Path, content: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content))
    os.replace(temporary, path)


def report(ready_fd: int, message: dict) -> None:
    """One JSON line to the kubelet; a kubelet that went away meanwhile will read the state files instead."""
    try:
        os.write(ready_fd, json.dumps(message).encode() + b"\n")
    except OSError:
        pass
    os.close(ready_fd)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="provision-shim", description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", required=True, help="path of crun or runc")
    parser.add_argument("--runtime-root", required=True, help="the runtime's --root")
    parser.add_argument("--state-dir", required=True, type=Path)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--stdout", required=True)
    parser.add_argument("--stderr", required=True)
    parser.add_argument("--ready-fd", required=True, type=int, help="pipe for the one-line creation report")
    parser.add_argument("id")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if os.fork() != 0:
        os._exit(0)
    os.setsid()
    os.chdir("/")  # pin no mount point for the container's lifetime
    state_dir: Path = args.state_dir
    (state_dir / SHIM_PID_FILE).write_text(f"{os.getpid()}\n")
    try:
        become_child_subreaper()
        init_pid = create_container(args, state_dir)
    except (OSError, RuntimeError, ValueError) as error:
        report(args.ready_fd, {"error": str(error)})
        return 1
    report(args.ready_fd, {"pid": init_pid})
    exit_code = wait_for_exit(init_pid)
    finished_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    write_json_atomically(state_dir / EXIT_FILE, {"exitCode": exit_code, "finishedAt": finished_at})
    return 0


if __name__ == "__main__":
    sys.exit(main())
