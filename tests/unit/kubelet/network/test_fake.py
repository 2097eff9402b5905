"""FakeNodeNetwork behaves like IpRoute as the kubelet sees it: idempotent sandboxes and bridges, what `ip` refuses
is refused, sysctl problems are reported rather than raised, and only routes of ours are ever removed."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from provisioner.services.kubelet.network.fake import FakeNodeNetwork
from provisioner.services.kubelet.network.protocol import (
    BRIDGE_NETFILTER,
    ROUTE_PROTOCOL,
    NetworkCommandError,
    Sandbox,
    host_veth_name,
)

GATEWAY = IPv4Interface("10.250.1.1/24")
POD_IP = IPv4Interface("10.250.1.2/24")


def test_a_sandbox_is_made_once_and_removed() -> None:
    network = FakeNodeNetwork()
    network.ensure_bridge(GATEWAY)
    network.ensure_bridge(GATEWAY)
    sandbox = network.create_sandbox("s1", POD_IP, GATEWAY)
    assert sandbox == Sandbox("pod-s1", "/run/netns/pod-s1", host_veth_name("s1"), POD_IP)
    assert network.create_sandbox("s1", POD_IP, GATEWAY) == sandbox
    assert [call[0] for call in network.calls] == ["ensure_bridge", "ensure_bridge", "create_sandbox"]
    network.delete_sandbox("s1")
    network.delete_sandbox("s1")
    assert network.sandboxes == {}


def test_a_sandbox_needs_its_bridge_and_an_on_link_gateway() -> None:
    network = FakeNodeNetwork()
    with pytest.raises(NetworkCommandError, match='Cannot find device "cbr0"'):
        network.create_sandbox("s1", POD_IP, GATEWAY)
    network.ensure_bridge(GATEWAY)
    with pytest.raises(NetworkCommandError, match="invalid gateway"):
        network.create_sandbox("s1", POD_IP, IPv4Interface("10.9.9.1/24"))
    assert network.sandboxes == {}


def test_a_failure_is_raised_once() -> None:
    network = FakeNodeNetwork()
    network.ensure_bridge(GATEWAY)
    network.failure = NetworkCommandError("boom")
    with pytest.raises(NetworkCommandError, match="boom"):
        network.create_sandbox("s1", POD_IP, GATEWAY)
    assert network.create_sandbox("s1", POD_IP, GATEWAY).ip == POD_IP


def test_a_missing_br_netfilter_is_reported_not_raised() -> None:
    assert FakeNodeNetwork().ensure_sysctls() == []
    network = FakeNodeNetwork(bridge_netfilter=False)
    assert network.ensure_sysctls() == [f"{BRIDGE_NETFILTER} is missing (br_netfilter not loaded)"]
    assert network.sysctls == {"net.ipv4.ip_forward": "1"}


def test_routes_of_others_are_never_removed() -> None:
    network = FakeNodeNetwork()
    foreign = (IPv4Address("10.0.0.7"), 4)  # proto static, made by someone else
    network.routes[IPv4Network("10.250.9.0/24")] = foreign
    network.ensure_routes({"10.250.1.0/24": "10.0.0.1", "10.250.2.0/24": "10.0.0.2"}, "10.250.1.0/24")
    assert network.routes[IPv4Network("10.250.2.0/24")] == (IPv4Address("10.0.0.2"), ROUTE_PROTOCOL)
    calls = len(network.calls)
    network.ensure_routes({"10.250.1.0/24": "10.0.0.1", "10.250.2.0/24": "10.0.0.2"}, "10.250.1.0/24")
    assert len(network.calls) == calls  # nothing to change
    changes = network.ensure_routes({"10.250.1.0/24": "10.0.0.1"}, "10.250.1.0/24")
    assert changes.delete == (IPv4Network("10.250.2.0/24"),)
    assert network.routes == {IPv4Network("10.250.9.0/24"): foreign}
