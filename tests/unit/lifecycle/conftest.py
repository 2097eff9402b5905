"""Lifecycle tests run create/delete against fakes: no machines, no Ansible, no apiserver, no real state."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

import provisioner.verify
from provisioner.lifecycle import cluster_api
from provisioner.lifecycle import context as context_module
from provisioner.verify import CheckResult, VerifyReport
from tests.unit.lifecycle.fakes import Env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    env = Env(root=tmp_path / "state", cache=tmp_path / "cache")
    journal = env.journal

    def no_network(*args, **kwargs):
        raise AssertionError("a unit test reached for a real apiserver")

    def no_commands(argv, *args, **kwargs):
        raise AssertionError(f"a unit test ran a command: {argv}")

    monkeypatch.setattr(cluster_api, "_run", no_network)
    monkeypatch.setattr(subprocess, "run", no_commands)
    monkeypatch.setattr(subprocess, "Popen", no_commands)

    def deb_repo(cache_dir: Path, packages=("python3",), log=None) -> SimpleNamespace:
        """Hosts the tool did not build get Debian packages from a repository fetched with apt: not here."""
        assert cache_dir == env.cache
        env.deb_repos += 1
        return SimpleNamespace(directory=cache_dir / "debs" / "fake", packages=tuple(packages))

    monkeypatch.setattr(context_module, "ensure_deb_repo", deb_repo, raising=False)
    monkeypatch.setattr(cluster_api, "wait_ready", lambda kubeconfig, timeout: journal.append("api.wait_ready"))

    def wait_nodes_registered(kubeconfig: Path, names, timeout: float) -> None:
        journal.append("api.wait_nodes_registered")
        env.registered.append(list(names))

    def ensure_node_labels(kubeconfig: Path, labels: dict[str, dict[str, str]]) -> int:
        journal.append("api.ensure_node_labels")
        env.node_labels.append(labels)
        return len(labels)

    monkeypatch.setattr(cluster_api, "wait_nodes_registered", wait_nodes_registered)
    monkeypatch.setattr(cluster_api, "ensure_node_labels", ensure_node_labels)
    monkeypatch.setattr(cluster_api, "wait_nodes_ready",
                        lambda kubeconfig, names, timeout, on_wait=None: journal.append("api.wait_nodes_ready"))
    monkeypatch.setattr(cluster_api, "delete_join_token",
                        lambda kubeconfig, secret: journal.append(f"api.delete_join_token {secret}"))

    def verify_cluster(ctx) -> VerifyReport:
        journal.append("verify")
        return VerifyReport((CheckResult("cluster", "nodes Ready", True),), ctx.state.verify_dir / "junit.xml")

    monkeypatch.setattr(provisioner.verify, "verify_cluster", verify_cluster, raising=False)
    return env
