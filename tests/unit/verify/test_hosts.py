from __future__ import annotations

import os
import sys
from pathlib import Path

from provisioner.verify import settings
from provisioner.verify.hosts import (
    CHECKS_MODULE,
    HostCheckRun,
    pytest_command,
    pytest_environment,
    run_host_checks,
)
from provisioner.verify.report import read_junit


def host_check_run(tmp_path: Path, inventory: Path | None = None) -> HostCheckRun:
    return HostCheckRun(inventory=inventory or tmp_path / "workspace/inventory/hosts.yml", release="r1",
                        apiserver_port=6443, server_version="v1.37.0", store="sqlite",
                        kubernetes_service_ip="10.96.0.1", junit_path=tmp_path / "verify/junit.xml")


def test_one_pytest_process_runs_the_checks_module_into_the_junit_file(tmp_path):
    command = pytest_command(host_check_run(tmp_path))
    assert command[:4] == [sys.executable, "-m", "pytest", str(CHECKS_MODULE)]
    assert command[command.index("--junitxml") + 1] == str(tmp_path / "verify/junit.xml")
    # Neither the project's pytest settings nor a cache directory: only what the checks need.
    assert command[command.index("-c") + 1] == os.devnull
    assert command[command.index("-p") + 1] == "no:cacheprovider"
    assert CHECKS_MODULE.parent.name == "verify" and CHECKS_MODULE.is_file()


def test_the_environment_tells_the_checks_what_to_expect_and_shares_ssh_connections(tmp_path):
    caller = {"HOME": "/home/op", "ANSIBLE_SSH_EXTRA_ARGS": "-v", "PYTEST_ADDOPTS": "-x", "PYTEST_PLUGINS": "p"}
    env = pytest_environment(host_check_run(tmp_path), caller)
    assert env["HOME"] == "/home/op"
    assert "PYTEST_ADDOPTS" not in env and "PYTEST_PLUGINS" not in env
    assert {name: env[name] for name in (settings.INVENTORY, settings.RELEASE, settings.APISERVER_PORT,
                                         settings.SERVER_VERSION, settings.STORE)} == {
        settings.INVENTORY: str(tmp_path / "workspace/inventory/hosts.yml"), settings.RELEASE: "r1",
        settings.APISERVER_PORT: "6443", settings.SERVER_VERSION: "v1.37.0", settings.STORE: "sqlite"}
    assert env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] == "1"
    assert env["ANSIBLE_SSH_EXTRA_ARGS"] == (
        f"-o ControlMaster=auto -o ControlPersist=60s -o ControlPath={Path.home()}/.ansible/cp/%C")
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)  # ansible-inventory


INVENTORY = """\
all:
  vars:
    ansible_user: root
    ansible_ssh_common_args: -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no
  children:
    control_plane:
      hosts:
        here: {ansible_connection: local}
    workers:
      hosts:
        gone: {ansible_host: 127.0.0.1, ansible_port: 1}
    nodes:
      children: {control_plane: {}, workers: {}}
"""


def test_the_checks_run_against_the_inventory_hosts_each_check_a_case(tmp_path):
    """A control plane reached locally (ansible_connection: local; this machine is no cluster host, so its
    checks fail) and a worker whose SSH port refuses: every check of both is a case, named by host."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    run = host_check_run(tmp_path, inventory)
    run.junit_path.parent.mkdir()
    outcome = run_host_checks(run, timeout=60)
    assert outcome.exit_code == 1, outcome.output_tail
    results = read_junit(run.junit_path)
    checks = {(r.target, r.check) for r in results}
    assert {check for target, check in checks if target == "gone"} == {
        "current release", "release imports provisioner", "ca certificate", "kubelet healthz",
        "kubelet kubeconfig private", "bootstrap kubeconfig removed", "kubelet client certificate",
        "unit enabled and running provision-kubelet.service", "unit enabled and running provision-proxy.service",
        "proxy healthz", "kubernetes service reachable through kube proxy", "no apiserver"}
    assert {check for target, check in checks if target == "here"} >= {
        "current release", "unit enabled and running provision-apiserver.service", "listening 0.0.0.0:6443",
        "listening 127.0.0.1:10257", "private keys", "kubeconfig private admin", "kubectl server version",
        "apiserver database"}
    unreachable = {r.why for r in results if r.target == "gone"}
    assert len(unreachable) == 1 and unreachable.pop().startswith("unreachable over SSH: "), unreachable
    here = {r.check: r for r in results if r.target == "here"}
    assert here["current release"].why == "/opt/provision/current is not a symlink"
