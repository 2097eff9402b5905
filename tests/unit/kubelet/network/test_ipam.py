"""HostLocalIpam hands out the podCIDR's addresses lowest first, never the network, gateway or broadcast address,
once per sandbox (also under concurrent allocation), and refuses a node whose podCIDR changed under allocations."""

from __future__ import annotations

import threading
from ipaddress import IPv4Interface, IPv4Network
from pathlib import Path

import pytest

from provisioner.services.kubelet.network.ipam import (
    HostLocalIpam,
    PodCidrChanged,
    PodCidrExhausted,
    gateway_of,
)
from provisioner.services.kubelet.network.protocol import PodNetworkError

POD_CIDR = "10.250.1.0/24"


def test_addresses_are_given_lowest_first_after_the_gateway(tmp_path: Path) -> None:
    ipam = HostLocalIpam(tmp_path, POD_CIDR)
    assert ipam.gateway == IPv4Interface("10.250.1.1/24") == gateway_of(IPv4Network(POD_CIDR))
    assert [ipam.allocate(f"s{n}") for n in range(3)] == [
        IPv4Interface("10.250.1.2/24"), IPv4Interface("10.250.1.3/24"), IPv4Interface("10.250.1.4/24")]
    assert (tmp_path / "10.250.1.2").read_text() == "s0"


def test_allocating_again_for_a_sandbox_gives_its_address(tmp_path: Path) -> None:
    ipam = HostLocalIpam(tmp_path, POD_CIDR)
    first = ipam.allocate("s1")
    ipam.allocate("s2")
    assert ipam.allocate("s1") == first
    assert HostLocalIpam(tmp_path, POD_CIDR).allocate("s1") == first  # the state survives a kubelet restart
    assert ipam.allocated() == {"s1": first, "s2": IPv4Interface("10.250.1.3/24")}


def test_a_released_address_is_given_again(tmp_path: Path) -> None:
    ipam = HostLocalIpam(tmp_path, POD_CIDR)
    ipam.allocate("s1")
    ipam.allocate("s2")
    ipam.release("s1")
    ipam.release("unknown")  # releasing what is not held is fine
    assert ipam.allocated() == {"s2": IPv4Interface("10.250.1.3/24")}
    assert ipam.allocate("s3") == IPv4Interface("10.250.1.2/24")


def test_exhaustion_is_a_clear_error_and_broadcast_is_never_given(tmp_path: Path) -> None:
    ipam = HostLocalIpam(tmp_path, "10.250.1.0/29")  # .1 gateway, .2-.6 pods, .7 broadcast
    given = {ipam.allocate(f"s{n}").ip.packed[-1] for n in range(5)}
    assert given == {2, 3, 4, 5, 6}
    with pytest.raises(PodCidrExhausted, match=r"no free pod IP in podCIDR 10.250.1.0/29: all 5 addresses"):
        ipam.allocate("one-too-many")


def test_a_range_without_room_for_a_pod_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PodNetworkError, match="too small"):
        HostLocalIpam(tmp_path, "10.250.1.0/31")


def test_concurrent_allocations_never_share_an_address(tmp_path: Path) -> None:
    ipams = [HostLocalIpam(tmp_path, POD_CIDR) for _ in range(8)]  # as if separate processes
    results: dict[str, IPv4Interface] = {}
    start = threading.Barrier(len(ipams) * 10)

    def allocate(ipam: HostLocalIpam, sandbox_id: str) -> None:
        start.wait()
        results[sandbox_id] = ipam.allocate(sandbox_id)

    threads = [threading.Thread(target=allocate, args=(ipam, f"s{i}-{n}"))
               for i, ipam in enumerate(ipams) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert len(set(results.values())) == 80
    assert HostLocalIpam(tmp_path, POD_CIDR).allocated() == results


def test_a_changed_pod_cidr_with_allocations_names_both_ranges(tmp_path: Path) -> None:
    HostLocalIpam(tmp_path, POD_CIDR).allocate("s1")
    with pytest.raises(PodCidrChanged, match=r"podCIDR 10.250.1.0/24, but the node's podCIDR is now 10.250.7.0/24"):
        HostLocalIpam(tmp_path, "10.250.7.0/24")


def test_a_changed_pod_cidr_without_allocations_is_taken(tmp_path: Path) -> None:
    old = HostLocalIpam(tmp_path, POD_CIDR)
    old.allocate("s1")
    old.release("s1")
    assert HostLocalIpam(tmp_path, "10.250.7.0/24").allocate("s2") == IPv4Interface("10.250.7.2/24")
    assert (tmp_path / "pod-cidr").read_text() == "10.250.7.0/24\n"
