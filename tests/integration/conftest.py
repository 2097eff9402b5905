"""One development control plane per test session (``provision dev up``), driven by the real kubectl and the
official Python client. Each test works in a namespace of its own."""

from __future__ import annotations

import json
import time
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


# --- a dev cluster with scheduler, controller-manager and simulated nodes (issue 3) ----------------------------

SIMULATED_NODES = 3
# Short node-lifecycle and leader-election timings, so node failure and controller-manager takeover are seen in
# seconds rather than minutes (Kubernetes' defaults: 50 s grace, 15 s/10 s/2 s leader election).
FAST_CONTROLLER_MANAGER_ARGS = (
    "--node-monitor-grace-period=6s",
    "--node-monitor-period=1s",
    "--node-startup-grace-period=10s",
    "--leader-elect-lease-duration=4s",
    "--leader-elect-renew-deadline=3s",
    "--leader-elect-retry-period=500ms",
)
# The simulated kubelets renew their Leases every second, keeping Kubernetes' ratio of grace period to renewal
# interval (50 s : 10 s) roughly intact; with the default 10 s every node would look dead after 6 s.
FAST_SIMULATED_NODE_ARGS = ("--lease-renew-interval=1",)
NODES_READY_TIMEOUT = 120.0  # a hang guard, not a performance bar


def nodes_ready(kubectl: Kubectl, count: int) -> bool:
    nodes = kubectl.json("get", "nodes")["items"]
    ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in n["status"].get("conditions", []))]
    return len(ready) >= count


@pytest.fixture(scope="module")
def workload_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dev.DevCluster]:
    """`provision dev up --simulated-nodes 3`, with the short node and leader-election timings above."""
    directory = tmp_path_factory.mktemp("workloads")
    components = (dev.APISERVER, dev.SCHEDULER, dev.controller_manager(FAST_CONTROLLER_MANAGER_ARGS),
                  dev.simulated_nodes(SIMULATED_NODES, FAST_SIMULATED_NODE_ARGS))
    cluster = dev.up(directory, components=components)
    try:
        kubectl = Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))
        deadline = time.monotonic() + NODES_READY_TIMEOUT
        while not nodes_ready(kubectl, SIMULATED_NODES):
            if time.monotonic() > deadline:
                raise AssertionError(f"{SIMULATED_NODES} simulated nodes not Ready: "
                                     f"{kubectl.run('get', 'nodes', check=False).stdout}")
            time.sleep(0.5)
        yield cluster
    finally:
        dev.down(directory)


@pytest.fixture(scope="module")
def workload_kubectl(workload_cluster: dev.DevCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(workload_cluster.kubeconfig, tmp_path_factory.mktemp("kubectl-cache"))


@pytest.fixture
def workload_namespace(workload_kubectl: Kubectl) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    workload_kubectl.run("apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name
