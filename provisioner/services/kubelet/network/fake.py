"""An in-memory :class:`~.protocol.NodeNetwork` for the kubelet's unit tests: it keeps the bridges, sandboxes,
sysctls and routes it was asked for, refuses what `ip` would refuse, and fails on demand (:attr:`failure`)."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from provisioner.services.kubelet.network.protocol import (
    BRIDGE,
    BRIDGE_NETFILTER,
    ROUTE_PROTOCOL,
    SANDBOX_NETNS_PREFIX,
    NetworkCommandError,
    RouteChanges,
    Sandbox,
    check_sandbox_id,
    route_changes,
    sandbox_names,
)


class FakeNodeNetwork:
    def __init__(self, sandbox_netns_prefix: str = SANDBOX_NETNS_PREFIX, bridge_netfilter: bool = True) -> None:
        self.sandbox_netns_prefix = sandbox_netns_prefix
        self.bridge_netfilter = bridge_netfilter  # False: as on a node without the br_netfilter module
        self.bridges: dict[str, IPv4Interface] = {}
        self.sandboxes: dict[str, Sandbox] = {}  # sandbox id → its sandbox
        self.sandbox_bridges: dict[str, str] = {}  # sandbox id → the bridge its veth is on
        self.sysctls: dict[str, str] = {}
        self.routes: dict[IPv4Network, tuple[IPv4Address, int]] = {}  # destination → (via, proto)
        self.calls: list[tuple[str, ...]] = []
        self.failure: Exception | None = None  # raised by the next call that changes something, then cleared

    def ensure_bridge(self, gateway: IPv4Interface, name: str = BRIDGE) -> None:
        self._change("ensure_bridge", name, str(gateway))
        self.bridges[name] = gateway

    def ensure_sysctls(self) -> list[str]:
        self._change("ensure_sysctls")
        self.sysctls["net.ipv4.ip_forward"] = "1"
        if not self.bridge_netfilter:
            return [f"{BRIDGE_NETFILTER} is missing (br_netfilter not loaded)"]
        self.sysctls[BRIDGE_NETFILTER] = "1"
        return []

    def create_sandbox(self, sandbox_id: str, pod_ip: IPv4Interface, gateway: IPv4Interface,
                       bridge: str = BRIDGE) -> Sandbox:
        sandbox = sandbox_names(sandbox_id, self.sandbox_netns_prefix, pod_ip)
        if self.sandboxes.get(sandbox_id) == sandbox and self.sandbox_bridges[sandbox_id] == bridge:
            return sandbox
        self._change("create_sandbox", sandbox_id, str(pod_ip), str(gateway), bridge)
        if bridge not in self.bridges:
            raise NetworkCommandError(f"`ip link set {sandbox.host_veth} master {bridge}` failed: "
                                      f"Cannot find device \"{bridge}\"")
        if gateway.ip not in pod_ip.network:
            raise NetworkCommandError(f"`ip route add default via {gateway.ip}` failed: Nexthop has invalid gateway.")
        self.sandboxes[sandbox_id] = sandbox
        self.sandbox_bridges[sandbox_id] = bridge
        return sandbox

    def delete_sandbox(self, sandbox_id: str) -> None:
        check_sandbox_id(sandbox_id)
        self._change("delete_sandbox", sandbox_id)
        self.sandboxes.pop(sandbox_id, None)
        self.sandbox_bridges.pop(sandbox_id, None)

    def ensure_routes(self, node_routes: Mapping[str, str], own_pod_cidr: str) -> RouteChanges:
        present = {network: via for network, (via, proto) in self.routes.items() if proto == ROUTE_PROTOCOL}
        changes = route_changes(node_routes, own_pod_cidr, present)
        if changes.replace or changes.delete:
            self._change("ensure_routes", *map(str, changes.replace), *(f"-{n}" for n in changes.delete))
        for network, via in changes.replace.items():
            self.routes[network] = (via, ROUTE_PROTOCOL)
        for network in changes.delete:
            del self.routes[network]
        return changes

    def _change(self, *call: str) -> None:
        self.calls.append(call)
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure
