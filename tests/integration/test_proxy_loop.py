"""The proxier against a dev control plane (FakeIptables instead of the kernel): a Service and its
EndpointSlice made with kubectl show up in the rendered rules, and leave them when deleted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable

import pytest

from provisioner import dev
from provisioner.services.client import ApiClient, ClientConfig, InformerFactory
from provisioner.services.proxy import rules
from provisioner.services.proxy.fake import FakeIptables
from provisioner.services.proxy.proxier import Proxier
from tests.integration.harness import Kubectl

pytestmark = pytest.mark.integration

WAIT_SECONDS = 20.0  # a hang guard: syncs follow changes within about min_sync_period


@contextlib.asynccontextmanager
async def running_proxier(cluster: dev.DevCluster, iptables: FakeIptables) -> AsyncIterator[Proxier]:
    async with ApiClient(ClientConfig.from_kubeconfig(cluster.kubeconfig)) as client:
        informers = InformerFactory(client)
        proxier = Proxier(informers, "no-such-node", iptables, cluster_cidr="10.244.0.0/16",
                          min_sync_period=0.1)
        informers.start()
        task = asyncio.create_task(proxier.run())
        try:
            yield proxier
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await informers.stop()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS}s: {what}")
        await asyncio.sleep(0.05)


async def test_service_and_slice_made_with_kubectl_are_rendered(dev_cluster: dev.DevCluster, kubectl: Kubectl,
                                                               namespace: str) -> None:
    iptables = FakeIptables()
    # No selector: the EndpointSlice below is the only one (the controller leaves such services alone).
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
               "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    endpoint_slice = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.1.2"], "conditions": {"ready": True}}]}
    chain = rules.service_chain(rules.ServicePort(namespace, "web", "http", "tcp", "", 80))
    async with running_proxier(dev_cluster, iptables) as proxier:
        await eventually(lambda: proxier.problem == "", "a first sync")
        await asyncio.to_thread(kubectl.run, "apply", "-f", "-", stdin=json.dumps(service))
        await asyncio.to_thread(kubectl.run, "apply", "-f", "-", stdin=json.dumps(endpoint_slice))
        await eventually(lambda: "--to-destination 10.244.1.2:8080" in iptables.current,
                         "the endpoint's DNAT")
        assert f"-j {chain}" in iptables.current
        await asyncio.to_thread(kubectl.run, "delete", "service", "web", "-n", namespace)
        await eventually(lambda: chain not in iptables.current, "the service's chain gone")
        assert "10.244.1.2" not in iptables.current
