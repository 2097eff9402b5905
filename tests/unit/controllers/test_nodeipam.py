"""Node IPAM hands every node its own pod CIDR, takes it back when the node goes, and never double-books a range
across restarts."""

from __future__ import annotations

import ipaddress

import pytest

from provisioner.services.client import ApiClient
from provisioner.services.controllers.base import ControllerOptions
from provisioner.services.controllers.nodeipam import CIDRSet, CIDRSetFull, NodeIpamController
from tests.unit.controllers.conftest import events_for, eventually, get_or_none, resource, running

NODES = resource("nodes")


def options(cluster_cidr: str = "10.244.0.0/16", mask: int = 24) -> ControllerOptions:
    return ControllerOptions(workers=3, cluster_cidr=cluster_cidr, node_cidr_mask_size=mask)


async def create_node(client: ApiClient, name: str, pod_cidr: str = "") -> None:
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    await client.create(NODES, {"metadata": {"name": name}, "spec": spec})


async def pod_cidr(client: ApiClient, name: str) -> str:
    async def probe() -> str | None:
        node = await get_or_none(client, NODES, name)
        return (node or {}).get("spec", {}).get("podCIDR")

    cidr = await eventually(probe, f"a podCIDR on node {name}")
    node = await client.get(NODES, name)
    assert node["spec"]["podCIDRs"] == [cidr]
    return cidr


async def test_nodes_get_distinct_ranges_of_the_mask_size_inside_the_cluster_cidr(client: ApiClient) -> None:
    async with running(client, NodeIpamController, options=options("10.100.0.0/20", 26)):
        names = [f"node-{n}" for n in range(12)]
        for name in names:
            await create_node(client, name)
        cidrs = [await pod_cidr(client, name) for name in names]
    assert len(set(cidrs)) == len(cidrs)
    cluster = ipaddress.ip_network("10.100.0.0/20")
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr)
        assert network.prefixlen == 26 and network.subnet_of(cluster)


async def test_a_full_cluster_cidr_is_reported_and_a_released_range_is_reused(client: ApiClient) -> None:
    async with running(client, NodeIpamController, options=options("10.0.0.0/23", 25)):  # four ranges
        for n in range(4):
            await create_node(client, f"node-{n}")
        taken = {await pod_cidr(client, f"node-{n}") for n in range(4)}
        assert len(taken) == 4

        await create_node(client, "node-late")
        await eventually(lambda: _has_event(client, "node-late", "CIDRNotAvailable"), "a CIDRNotAvailable event")
        assert "podCIDR" not in (await client.get(NODES, "node-late")).get("spec", {})

        freed = (await client.get(NODES, "node-2"))["spec"]["podCIDR"]
        await client.delete(NODES, "node-2")
        assert await pod_cidr(client, "node-late") == freed


async def test_ranges_held_before_a_restart_are_never_handed_out_again(client: ApiClient) -> None:
    await create_node(client, "preset", "10.0.0.0/25")  # a node whose creator chose its range
    async with running(client, NodeIpamController, options=options("10.0.0.0/23", 25)):
        await create_node(client, "first")
        first = await pod_cidr(client, "first")
    async with running(client, NodeIpamController, options=options("10.0.0.0/23", 25)):  # a new process
        await create_node(client, "second")
        await create_node(client, "third")
        second, third = await pod_cidr(client, "second"), await pod_cidr(client, "third")
    assert len({"10.0.0.0/25", first, second, third}) == 4


async def _has_event(client: ApiClient, name: str, reason: str) -> bool:
    return any(e["reason"] == reason for e in await events_for(client, name))


def test_cidr_set_counts_wraps_and_refuses_foreign_ranges() -> None:
    cidrs = CIDRSet("192.168.0.0/24", 26)
    assert [cidrs.allocate() for _ in range(4)] == ["192.168.0.0/26", "192.168.0.64/26", "192.168.0.128/26",
                                                  "192.168.0.192/26"]
    with pytest.raises(CIDRSetFull):
        cidrs.allocate()
    cidrs.release("192.168.0.64/26")
    assert cidrs.allocate() == "192.168.0.64/26"
    assert not cidrs.occupy("192.168.1.0/26")  # outside
    assert not cidrs.occupy("192.168.0.0/25")  # another size
    assert not cidrs.occupy("fd00::/64")  # another family
    with pytest.raises(ValueError):
        CIDRSet("10.0.0.0/24", 16)


def test_cidr_set_ipv6() -> None:
    cidrs = CIDRSet("fd00:10::/56", 64)
    assert cidrs.size == 256
    assert cidrs.allocate() == "fd00:10::/64"
    assert cidrs.allocate() == "fd00:10:0:1::/64"
