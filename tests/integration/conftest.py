"""One development control plane per test session (``provision dev up``), driven by the real kubectl and the
official Python client. Each test works in a namespace of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from provisioner import dev
from tests.integration.harness import Kubectl


@pytest.fixture(scope="session")
def dev_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dev.DevCluster]:
    directory = tmp_path_factory.mktemp("devcluster")
    cluster = dev.up(directory)
    try:
        yield cluster
    finally:
        dev.down(directory)


@pytest.fixture(scope="session")
def kubectl(dev_cluster: dev.DevCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    # A fresh discovery cache per session: kubectl caches discovery on disk for hours.
    return Kubectl(dev_cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl.run("apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    yield name
    # Namespaced content is removed by the namespace controller in a full cluster; here the test leaves it.


@pytest.fixture(scope="session")
def api_client(dev_cluster: dev.DevCluster):
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(config_file=str(dev_cluster.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield api
