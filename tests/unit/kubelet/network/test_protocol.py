"""The host-gw route diff (a route to every other node's podCIDR via its IP, re-pointed when a node's IP changes,
removed when its node is gone — computed only against routes of our own proto), and the names and MACs given."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest

from provisioner.services.kubelet.network.protocol import (
    PodNetworkError,
    host_veth_name,
    mac_address,
    route_changes,
    sandbox_names,
)

OWN = "10.250.1.0/24"
POD_IP = IPv4Interface("10.250.1.2/24")
NODES = {OWN: "10.0.0.1", "10.250.2.0/24": "10.0.0.2", "10.250.3.0/24": "10.0.0.3"}


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


def test_routes_to_every_other_node_are_added() -> None:
    changes = route_changes(NODES, OWN, {})
    assert changes.replace == {net("10.250.2.0/24"): IPv4Address("10.0.0.2"),
                               net("10.250.3.0/24"): IPv4Address("10.0.0.3")}
    assert changes.delete == ()


def test_routes_in_place_are_left_and_a_moved_node_is_re_pointed() -> None:
    present = {net("10.250.2.0/24"): IPv4Address("10.0.0.2"), net("10.250.3.0/24"): IPv4Address("10.0.0.9")}
    changes = route_changes(NODES, OWN, present)
    assert changes.replace == {net("10.250.3.0/24"): IPv4Address("10.0.0.3")}
    assert changes.delete == ()


def test_routes_of_gone_nodes_and_to_the_own_range_are_removed() -> None:
    present = {net("10.250.2.0/24"): IPv4Address("10.0.0.2"), net("10.250.4.0/24"): IPv4Address("10.0.0.4"),
               net(OWN): IPv4Address("10.0.0.1")}
    changes = route_changes({OWN: "10.0.0.1", "10.250.2.0/24": "10.0.0.2"}, OWN, present)
    assert changes.replace == {}
    assert changes.delete == (net(OWN), net("10.250.4.0/24"))


@pytest.mark.parametrize(("routes", "message"), [
    ({"10.250.2.0/33": "10.0.0.2"}, "podCIDR '10.250.2.0/33' is not an IPv4 network"),
    ({"10.250.2.0/24": "node-b"}, "node IP 'node-b' for podCIDR 10.250.2.0/24 is not an IPv4 address"),
])
def test_bad_node_data_is_a_clear_error(routes: dict[str, str], message: str) -> None:
    with pytest.raises(PodNetworkError, match=message):
        route_changes(routes, OWN, {})


def test_macs_derive_from_addresses() -> None:
    assert mac_address(IPv4Address("10.250.1.2")) == "0a:58:0a:fa:01:02"


def test_sandbox_names_fit_the_kernel_limits_for_any_id() -> None:
    sandbox = sandbox_names("a" * 128, "pod-", POD_IP)
    assert sandbox.netns_path == f"/run/netns/pod-{'a' * 128}"
    assert len(sandbox.host_veth) == 12 and sandbox.host_veth.startswith("veth")
    assert host_veth_name("x-a") != host_veth_name("x-b")
    with pytest.raises(PodNetworkError, match="invalid sandbox id '../etc'"):
        sandbox_names("../etc", "pod-", POD_IP)
