"""What the kubelet needs from a node's pod network (:class:`NodeNetwork`), the names it gives things, its errors,
and the host-gw route diff shared by the adapter and the fake."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Protocol

BRIDGE = "cbr0"
NETNS_DIR = "/run/netns"
SANDBOX_NETNS_PREFIX = "pod-"
BRIDGE_NETFILTER = "net.bridge.bridge-nf-call-iptables"

# The `proto` of the host-gw routes this package makes: removal lists only routes carrying it, so routes made by
# anyone else are never touched. 247 is unassigned in /etc/iproute2/rt_protos (the kernel's end at 192, eigrp).
ROUTE_PROTOCOL = 247

# Sandbox ids become netns names (files under /run/netns) and command-line arguments.
SANDBOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


class PodNetworkError(Exception):
    """Base of the pod network's errors; the message is meant for the pod's or the node's events."""


class NetworkCommandError(PodNetworkError):
    """`ip`, `bridge` or `sysctl` failed; the message holds the command and its output."""


@dataclass(frozen=True)
class Sandbox:
    """A pod's network: its netns (the runtime joins containers to ``netns_path``), the host end of its veth
    pair on the bridge, and its address."""

    netns_name: str
    netns_path: str
    host_veth: str
    ip: IPv4Interface


@dataclass(frozen=True)
class RouteChanges:
    """What :func:`route_changes` found to do: routes to add or re-point (podCIDR → node IP), routes to remove."""

    replace: dict[IPv4Network, IPv4Address] = field(default_factory=dict)
    delete: tuple[IPv4Network, ...] = ()


class NodeNetwork(Protocol):
    def ensure_bridge(self, gateway: IPv4Interface, name: str = BRIDGE) -> None: ...
    def ensure_sysctls(self) -> list[str]: ...
    def create_sandbox(self, sandbox_id: str, pod_ip: IPv4Interface, gateway: IPv4Interface,
                       bridge: str = BRIDGE) -> Sandbox: ...
    def delete_sandbox(self, sandbox_id: str) -> None: ...
    def ensure_routes(self, node_routes: Mapping[str, str], own_pod_cidr: str) -> RouteChanges: ...


def check_sandbox_id(sandbox_id: str) -> None:
    if not SANDBOX_ID.fullmatch(sandbox_id):
        raise PodNetworkError(f"invalid sandbox id {sandbox_id!r}: letters, digits, '_', '.', '-' only, "
                              "starting with a letter or digit, at most 128 characters")


def mac_address(ip: IPv4Address) -> str:
    """The MAC of the interface holding ``ip``: ``0a:58:`` + the address's bytes, as CNI's bridge plugin did.
    A pod made again with its old IP keeps its old MAC, so its neighbours' ARP entries stay right; and the bridge
    keeps its MAC when ports come and go (it would otherwise take the lowest MAC of its ports)."""
    return ":".join(f"{byte:02x}" for byte in (0x0A, 0x58, *ip.packed))


def host_veth_name(sandbox_id: str) -> str:
    """``veth`` + 8 hex digits derived from the sandbox id: fits the kernel's 15-character limit for any id."""
    return f"veth{hashlib.sha256(sandbox_id.encode()).hexdigest()[:8]}"


def sandbox_names(sandbox_id: str, netns_prefix: str, pod_ip: IPv4Interface) -> Sandbox:
    check_sandbox_id(sandbox_id)
    netns_name = f"{netns_prefix}{sandbox_id}"
    return Sandbox(netns_name, f"{NETNS_DIR}/{netns_name}", host_veth_name(sandbox_id), pod_ip)


def route_changes(node_routes: Mapping[str, str], own_pod_cidr: str,
                  present: Mapping[IPv4Network, IPv4Address]) -> RouteChanges:
    """host-gw: a route to every other node's podCIDR via that node's IP. ``present`` is the routes of ours
    (:data:`ROUTE_PROTOCOL`) in the table now; those no longer wanted are removed."""
    own = _network(own_pod_cidr)
    wanted: dict[IPv4Network, IPv4Address] = {}
    for pod_cidr, node_ip in node_routes.items():
        network = _network(pod_cidr)
        if network == own:
            continue
        try:
            wanted[network] = IPv4Address(node_ip)
        except ValueError:
            raise PodNetworkError(f"node IP {node_ip!r} for podCIDR {pod_cidr} is not an IPv4 address") from None
    return RouteChanges(
        replace={network: via for network, via in sorted(wanted.items()) if present.get(network) != via},
        delete=tuple(sorted(network for network in present if network not in wanted)))


def _network(pod_cidr: str) -> IPv4Network:
    try:
        return IPv4Network(pod_cidr)
    except ValueError:
        raise PodNetworkError(f"podCIDR {pod_cidr!r} is not an IPv4 network") from None
