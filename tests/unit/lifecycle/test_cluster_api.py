"""The tool's synchronous face over the cluster API, against an in-process apiserver."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from provisioner.lifecycle import cluster_api
from provisioner.lifecycle.cluster_api import ClusterApiError


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}],
    }))
    return path


def test_wait_ready_returns_once_readyz_answers(apiserver, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kc", apiserver.url, apiserver.tokens["admin"])
    cluster_api.wait_ready(kubeconfig, timeout=10)
    assert cluster_api.readyz(kubeconfig)[0] is True


def test_wait_ready_names_why_when_nothing_answers(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    kubeconfig = write_kubeconfig(tmp_path / "kc", f"http://127.0.0.1:{port}", "t")
    with pytest.raises(ClusterApiError, match=r"not ready within 1s: apiserver: /readyz: ClientConnectorError"):
        cluster_api.wait_ready(kubeconfig, timeout=1)


def test_an_unreadable_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "admin.kubeconfig"
    broken.write_text("clusters: [")
    with pytest.raises(ClusterApiError, match=rf"^{broken}: "):
        cluster_api.nodes(broken)
