"""Runs the host checks (host_checks.py) in one pytest process against every host of the workspace inventory.

A process of its own because pytest and testinfra keep global state (and the tool itself runs under pytest in
the project's tests). Plugin autoloading is off and no config file is read: the checks need neither, and
whatever pytest plugins or settings the operator's environment has cannot change them.

testinfra's ansible backend turns each inventory host into an `ssh` command line with the inventory's
ansible_ssh_common_args (the cluster's key and known_hosts) plus ANSIBLE_SSH_EXTRA_ARGS. That adds connection
sharing: without a ControlPath every check would be a new SSH handshake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from provisioner.runner.ansible import run_settings
from provisioner.verify import settings

CHECKS_MODULE = Path(__file__).with_name("host_checks.py")
# What would add options or plugins to the checks' pytest from the caller's environment.
PYTEST_ENVIRONMENT = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
OUTPUT_TAIL_LINES = 20
# Ansible's default directory for control sockets, private to the user; %C is a hash of local host, host, port
# and user. A directory of the cluster's state would be nicer but is too deep: ssh binds the socket first as
# "<ControlPath>.<16 random chars>", and a Unix socket path must fit in 108 bytes.
CONTROL_SOCKET_DIR = Path.home() / ".ansible" / "cp"
CONTROL_SOCKET_NAME = "%C"


@dataclass(frozen=True)
class HostCheckRun:
    inventory: Path
    release: str
    apiserver_port: int
    server_version: str
    store: str
    kubernetes_service_ip: str
    junit_path: Path

    @property
    def directory(self) -> Path:
        return self.junit_path.parent


@dataclass(frozen=True)
class HostCheckOutcome:
    exit_code: int  # pytest's: 0 all passed, 1 some failed, anything else: the checks did not run through
    output_tail: str


def pytest_command(run: HostCheckRun) -> list[str]:
    return [sys.executable, "-m", "pytest", str(CHECKS_MODULE),
            "-c", os.devnull, "--rootdir", str(CHECKS_MODULE.parent), "-p", "no:cacheprovider",
            "-q", "--no-header", "--tb=no",
            "--junitxml", str(run.junit_path), "-o", "junit_suite_name=hosts", "-o", "junit_family=xunit2"]


def pytest_environment(run: HostCheckRun, base: dict[str, str]) -> dict[str, str]:
    ansible = run_settings(run.directory)
    control_socket = CONTROL_SOCKET_DIR / CONTROL_SOCKET_NAME
    return {
        **{name: value for name, value in base.items() if name not in PYTEST_ENVIRONMENT},
        **ansible,
        "ANSIBLE_SSH_EXTRA_ARGS": f"{ansible['ANSIBLE_SSH_ARGS']} -o ControlPath={control_socket}",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        settings.INVENTORY: str(run.inventory),
        settings.RELEASE: run.release,
        settings.APISERVER_PORT: str(run.apiserver_port),
        settings.SERVER_VERSION: run.server_version,
        settings.STORE: run.store,
        settings.KUBERNETES_SERVICE_IP: run.kubernetes_service_ip,
    }


def run_host_checks(run: HostCheckRun, timeout: float) -> HostCheckOutcome:
    env = pytest_environment(run, dict(os.environ))
    CONTROL_SOCKET_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    output_path = run.directory / "hosts.log"
    # Output to a file, not a pipe: the SSH control masters outlive pytest and would hold a pipe open.
    with open(output_path, "w") as output:
        try:
            exit_code = subprocess.run(pytest_command(run), env=env, cwd=run.directory,
                                       stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            exit_code = -1
            output.write(f"\nthe host checks did not finish within {timeout:g}s\n")
    tail = output_path.read_text(errors="replace").rstrip().splitlines()[-OUTPUT_TAIL_LINES:]
    return HostCheckOutcome(exit_code, "\n".join(tail))
