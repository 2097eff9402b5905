"""Addresses of simulated nodes and their pods.

Node N gets InternalIP 10.240.0.0 + N + 1 (a range no real network here uses). Pods get addresses from their node's
``spec.podCIDR`` once the node-ipam controller has assigned one; before that (or without that controller), from a
fallback /24 per node in 10.128.0.0/10. The first address of a range is the network, the second the node's bridge
(as kubenet/cbr0 use it), so pods start at the third.
"""

from __future__ import annotations

import ipaddress

NODE_RANGE = ipaddress.ip_network("10.240.0.0/12")
FALLBACK_POD_RANGE = ipaddress.ip_network("10.128.0.0/10")
FALLBACK_PREFIX = 24
_RESERVED_HOSTS = 2  # network address and the node's bridge


class AddressError(Exception):
    """No address left: too many nodes for the node range, or a full pod CIDR."""


def node_ip(index: int) -> str:
    if not 0 <= index < NODE_RANGE.num_addresses - 2:
        raise AddressError(f"node index {index}: outside {NODE_RANGE}")
    return str(NODE_RANGE.network_address + index + 1)


def fallback_pod_cidr(index: int) -> str:
    subnets = 2 ** (FALLBACK_PREFIX - FALLBACK_POD_RANGE.prefixlen)
    if not 0 <= index < subnets:
        raise AddressError(f"node index {index}: no fallback pod range left in {FALLBACK_POD_RANGE}")
    size = 2 ** (32 - FALLBACK_PREFIX)
    return f"{FALLBACK_POD_RANGE.network_address + index * size}/{FALLBACK_PREFIX}"


class PodAddresses:
    """One node's pod IPs from its current CIDR, handed out round robin (as host-local IPAM does, so a released
    address is not reused at once) and released when the pod goes away.

    Addresses of pods that already exist (found after a restart) are claimed so they are not handed out twice.
    """

    def __init__(self, cidr: str) -> None:
        self._network = ipaddress.ip_network(cidr, strict=False)
        self._by_pod: dict[str, str] = {}
        self._used: set[int] = set()
        self._next = _RESERVED_HOSTS

    @property
    def cidr(self) -> str:
        return str(self._network)

    def change_cidr(self, cidr: str) -> None:
        """The node got a (new) podCIDR: new pods get addresses from it; existing pods keep theirs."""
        self._network = ipaddress.ip_network(cidr, strict=False)
        self._used = {self._offset(ip) for ip in self._by_pod.values() if self._offset(ip) is not None}
        self._next = _RESERVED_HOSTS

    def address_of(self, pod_uid: str) -> str | None:
        return self._by_pod.get(pod_uid)

    def claim(self, pod_uid: str, ip: str) -> None:
        self._by_pod[pod_uid] = ip
        offset = self._offset(ip)
        if offset is not None:
            self._used.add(offset)

    def allocate(self, pod_uid: str) -> str:
        existing = self._by_pod.get(pod_uid)
        if existing is not None:
            return existing
        size = self._network.num_addresses - 1  # the broadcast address is not a host
        for _ in range(size):
            offset = self._next
            self._next = self._next + 1 if self._next + 1 < size else _RESERVED_HOSTS
            if offset not in self._used:
                self._used.add(offset)
                ip = str(self._network.network_address + offset)
                self._by_pod[pod_uid] = ip
                return ip
        raise AddressError(f"pod CIDR {self._network} is full")

    def release(self, pod_uid: str) -> None:
        ip = self._by_pod.pop(pod_uid, None)
        offset = self._offset(ip) if ip else None
        if offset is not None:
            self._used.discard(offset)

    def _offset(self, ip: str) -> int | None:
        address = ipaddress.ip_address(ip)
        if address not in self._network:
            return None
        return int(address) - int(self._network.network_address)
