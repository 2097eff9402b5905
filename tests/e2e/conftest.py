"""One real cluster per session on local machines (systemd-nspawn), made by `provision create` from the example
spec — renamed, on its own subnet and networks, with its own state directory, so a developer's own `local`
cluster is never touched. Needs root; the machine image is built once and cached in /var/cache/provision."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from provisioner.lifecycle import create, delete
from provisioner.lifecycle.create import CreateResult
from provisioner.lifecycle.state import ClusterState
from provisioner.runner import AnsibleRunner

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "cluster.yaml"
CLUSTER_NAME = "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="e2e tests build machines with systemd-nspawn and need root")
        for item in items:
            if "tests/e2e/" in str(item.fspath):
                item.add_marker(skip)


def host_snapshot() -> dict[str, list[str]]:
    """What a cluster leaves on the host: network namespaces, links, routes, cgroups, mounts, nspawn processes."""
    def lines(*argv: str) -> list[str]:
        return sorted(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines())

    cgroups = sorted(str(p) for p in Path("/sys/fs/cgroup").rglob("provision-*") if p.is_dir())
    nspawn = sorted(p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _is_nspawn(p))
    return {
        "netns": lines("ip", "netns", "list"),
        "links": [line.split("@")[0] for line in lines("ip", "-o", "-brief", "link")],
        "routes": lines("ip", "route", "show", "table", "all"),
        "cgroups": cgroups,
        "mounts": lines("findmnt", "-rn", "-o", "TARGET"),
        "nspawn": nspawn,
    }


def _is_nspawn(proc: Path) -> bool:
    try:
        return (proc / "comm").read_text().strip() == "systemd-nspawn"
    except OSError:
        return False


@dataclass
class E2ECluster:
    spec: Path
    state_root: Path
    first: CreateResult
    before: dict[str, list[str]]

    @property
    def state(self) -> ClusterState:
        return ClusterState(self.state_root, CLUSTER_NAME)

    @property
    def kubeconfig(self) -> Path:
        return self.state.admin_kubeconfig

    def provision(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REPO / ".venv/bin/provision"), *args, "--state-dir", str(self.state_root)],
                              capture_output=True, text=True, timeout=600)

    def kubectl(self, *args: str) -> str:
        result = subprocess.run([str(REPO / ".venv/bin/kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout


def e2e_spec(directory: Path) -> Path:
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["metadata"]["name"] = CLUSTER_NAME
    spec["spec"]["provider"]["machines"]["subnet"] = "10.66.0.0/24"
    spec["spec"]["network"]["podCIDR"] = "10.216.0.0/16"
    spec["spec"]["network"]["serviceCIDR"] = "10.116.0.0/16"
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def e2e_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    directory = tmp_path_factory.mktemp("e2e")
    state_root = directory / "state"
    spec = e2e_spec(directory)
    before = host_snapshot()
    try:
        first = create.create(spec, state_root=state_root, runner=AnsibleRunner())
        yield E2ECluster(spec, state_root, first, before)
    finally:
        if ClusterState(state_root, CLUSTER_NAME).exists():
            delete.delete(CLUSTER_NAME, state_root=state_root, runner=AnsibleRunner())
        shutil.rmtree(directory, ignore_errors=True)
