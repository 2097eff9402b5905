"""Proxier: one sync key, min-sync-period spacing, restore only on change or when the sync period is due."""

from __future__ import annotations

import pytest

from provisioner.services.client import InformerFactory
from provisioner.services.proxy.fake import FakeIptables
from provisioner.services.proxy.proxier import NOT_SYNCED, SYNC_KEY, Proxier


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


NODE = {"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                 {"type": "InternalIP", "address": "192.168.50.11"}]}}
WEB = {"metadata": {"namespace": "ns1", "name": "web", "resourceVersion": "1"},
       "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}]}}
WEB_SLICE = {"metadata": {"namespace": "ns1", "name": "web-x", "resourceVersion": "2",
                          "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4", "ports": [{"port": 8080, "protocol": "TCP"}],
             "endpoints": [{"addresses": ["10.244.1.2"], "conditions": {"ready": True}}]}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def iptables() -> FakeIptables:
    return FakeIptables()


@pytest.fixture
def proxier(clock: Clock, iptables: FakeIptables) -> Proxier:
    # The informers never run here: the tests fill their caches directly.
    proxier = Proxier(InformerFactory(client=None), "node-1", iptables, min_sync_period=1.0, sync_period=30.0,
                      clock=clock)
    proxier.nodes.store.upsert(NODE)
    return proxier


async def test_first_sync_applies_and_an_unchanged_one_does_not(proxier: Proxier, iptables: FakeIptables,
                                                              clock: Clock) -> None:
    assert proxier.problem == NOT_SYNCED
    assert await proxier.reconcile(SYNC_KEY) == 30.0
    assert len(iptables.applied) == 1 and proxier.problem == ""
    assert "-d 192.168.50.11 -j KUBE-NODEPORTS" in iptables.current  # the Node's InternalIP
    clock.now += 5
    await proxier.reconcile(SYNC_KEY)
    assert len(iptables.applied) == 1


async def test_changes_are_applied_at_most_once_per_min_sync_period(proxier: Proxier, iptables: FakeIptables,
                                                                   clock: Clock) -> None:
    await proxier.reconcile(SYNC_KEY)
    proxier.services.store.upsert(WEB)
    proxier.slices.store.upsert(WEB_SLICE)
    clock.now += 0.25
    assert await proxier.reconcile(SYNC_KEY) == pytest.approx(0.75)  # look again when the period is over
    assert len(iptables.applied) == 1
    clock.now += 0.75
    await proxier.reconcile(SYNC_KEY)
    assert len(iptables.applied) == 2 and "--to-destination 10.244.1.2:8080" in iptables.current
    proxier.slices.store.remove("ns1/web-x")
    clock.now += 1
    await proxier.reconcile(SYNC_KEY)
    assert "10.244.1.2" not in iptables.current and "ns1/web has no endpoints" in iptables.current


async def test_unchanged_rules_are_restored_again_after_the_sync_period(
        proxier: Proxier, iptables: FakeIptables, clock: Clock) -> None:
    await proxier.reconcile(SYNC_KEY)
    clock.now += 30
    await proxier.reconcile(SYNC_KEY)
    assert len(iptables.applied) == 2 and iptables.applied[0] == iptables.applied[1]


async def test_a_failed_restore_is_retried_and_reported(proxier: Proxier, iptables: FakeIptables,
                                                       clock: Clock) -> None:
    iptables.failure = RuntimeError("iptables-restore: line 3 failed")
    with pytest.raises(RuntimeError):
        await proxier.reconcile(SYNC_KEY)
    assert proxier.problem == "last sync failed: iptables-restore: line 3 failed"
    clock.now += 1
    await proxier.reconcile(SYNC_KEY)  # the same text again: the failed one never reached the kernel
    assert len(iptables.applied) == 1 and proxier.problem == ""


async def test_any_informer_event_queues_the_single_sync_key(proxier: Proxier) -> None:
    for informer, obj in ((proxier.services, WEB), (proxier.slices, WEB_SLICE), (proxier.nodes, NODE)):
        informer._dispatch_add(obj)
        informer._dispatch_update(obj, obj)
        informer._dispatch_delete(obj)
    assert len(proxier.loop.queue) == 1


def test_an_unknown_node_renders_without_node_addresses(iptables: FakeIptables, clock: Clock) -> None:
    proxier = Proxier(InformerFactory(client=None), "node-2", iptables, cluster_cidr="10.244.0.0/16",
                      clock=clock)
    node = proxier.node_info()
    assert (node.ip, node.pod_cidr, node.local_cidr) == ("", "", "10.244.0.0/16")
