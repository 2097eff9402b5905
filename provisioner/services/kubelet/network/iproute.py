"""The one module that runs `ip`, `bridge` and `sysctl`: the node's bridge, pod sandboxes (a netns with a veth
into the bridge), the node sysctls and host-gw routes (design.md §2, testbed.md "Pods").

Every operation is idempotent. ``netns`` runs everything inside that network namespace instead of the caller's
(``ip -n``), which lets tests build a whole node inside a namespace of their own; the pods' namespaces are named
files under /run/netns either way.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path

from provisioner.services.kubelet.network.protocol import (
    BRIDGE,
    BRIDGE_NETFILTER,
    NETNS_DIR,
    ROUTE_PROTOCOL,
    SANDBOX_NETNS_PREFIX,
    NetworkCommandError,
    RouteChanges,
    Sandbox,
    check_sandbox_id,
    host_veth_name,
    mac_address,
    route_changes,
    sandbox_names,
)

TIMEOUT = 30.0  # seconds; each command takes milliseconds
POD_INTERFACE = "eth0"


class IpRoute:
    """NodeNetwork through iproute2."""

    def __init__(self, netns: str | None = None, sandbox_netns_prefix: str = SANDBOX_NETNS_PREFIX) -> None:
        self.netns = netns
        self.sandbox_netns_prefix = sandbox_netns_prefix

    def ensure_bridge(self, gateway: IPv4Interface, name: str = BRIDGE) -> None:
        """The bridge ``name`` exists, is up, has the MAC of ``gateway`` and holds it as its only IPv4 address (a
        node re-registered with another podCIDR loses the old gateway address)."""
        mac = mac_address(gateway.ip)
        links = self._json(self.netns, "link", "show", "dev", name, missing_ok=True)
        if not links:
            self._ip(self.netns, "link", "add", name, "address", mac, "type", "bridge")
        elif links[0].get("address") != mac:
            self._ip(self.netns, "link", "set", name, "address", mac)
        addresses = self._addresses(self.netns, name)
        for stale in sorted(addresses - {gateway}):
            self._ip(self.netns, "addr", "del", str(stale), "dev", name)
        if gateway not in addresses:
            self._ip(self.netns, "addr", "add", str(gateway), "dev", name)
        self._ip(self.netns, "link", "set", name, "up")

    def ensure_sysctls(self) -> list[str]:
        """Forwarding on; bridged traffic through iptables when br_netfilter is there. Returns the problems that
        do not stop pods from running (br_netfilter missing), for the node's events."""
        self._sysctl("net.ipv4.ip_forward", "1")
        if self._run(self._sysctl_argv("-n", BRIDGE_NETFILTER), check=False).returncode != 0:
            return [f"{BRIDGE_NETFILTER} is missing (br_netfilter not loaded): traffic between pods on one bridge "
                    "bypasses iptables, so a pod reaching a Service backed by a pod on its own node may fail; "
                    "run `modprobe br_netfilter`"]
        self._sysctl(BRIDGE_NETFILTER, "1")
        return []

    def create_sandbox(self, sandbox_id: str, pod_ip: IPv4Interface, gateway: IPv4Interface,
                       bridge: str = BRIDGE) -> Sandbox:
        """A netns whose ``eth0`` holds ``pod_ip`` with a default route via ``gateway``; its veth peer on
        ``bridge`` with hairpin on (a pod reaching itself through a Service). A half-made sandbox (from a crash)
        is removed and made again; a failure removes what was made."""
        sandbox = sandbox_names(sandbox_id, self.sandbox_netns_prefix, pod_ip)
        if self._is_complete(sandbox, gateway, bridge):
            return sandbox
        self.delete_sandbox(sandbox_id)
        try:
            self._ip(None, "netns", "add", sandbox.netns_name)
            # The peer is born inside the pod's netns under its final name: no temporary name to clash with.
            self._ip(self.netns, "link", "add", sandbox.host_veth, "type", "veth",
                     "peer", "name", POD_INTERFACE, "address", mac_address(pod_ip.ip), "netns", sandbox.netns_name)
            self._ip(self.netns, "link", "set", sandbox.host_veth, "master", bridge, "up")
            self._run(self._bridge_argv("link", "set", "dev", sandbox.host_veth, "hairpin", "on"))
            self._ip(sandbox.netns_name, "addr", "add", str(pod_ip), "dev", POD_INTERFACE)
            self._ip(sandbox.netns_name, "link", "set", "lo", "up")
            self._ip(sandbox.netns_name, "link", "set", POD_INTERFACE, "up")
            # Last, so that a sandbox with its default route has everything before it (see _is_complete).
            self._ip(sandbox.netns_name, "route", "add", "default", "via", str(gateway.ip))
        except Exception:
            self.delete_sandbox(sandbox_id)
            raise
        return sandbox

    def delete_sandbox(self, sandbox_id: str) -> None:
        """Remove the sandbox's veth pair (deleting the host end removes both, at once), then its netns. Removing
        a sandbox that is gone is fine."""
        check_sandbox_id(sandbox_id)
        result = self._run(self._ip_argv(self.netns, "link", "del", host_veth_name(sandbox_id)), check=False)
        if result.returncode != 0 and "Cannot find device" not in result.stderr:
            raise self._error(result)
        netns_name = f"{self.sandbox_netns_prefix}{sandbox_id}"
        if Path(NETNS_DIR, netns_name).exists():
            self._ip(None, "netns", "del", netns_name)

    def ensure_routes(self, node_routes: Mapping[str, str], own_pod_cidr: str) -> RouteChanges:
        """host-gw: ``ip route replace <podCIDR> via <node IP> proto 247`` for every other node's podCIDR;
        routes of ours (proto 247) for podCIDRs no longer listed are removed, nobody else's."""
        present: dict[IPv4Network, IPv4Address | None] = {}
        for route in self._json(self.netns, "-4", "route", "show", "proto", str(ROUTE_PROTOCOL)):
            gateway = route.get("gateway")
            present[IPv4Network(route["dst"])] = IPv4Address(gateway) if gateway else None
        changes = route_changes(node_routes, own_pod_cidr, present)
        for network, via in changes.replace.items():
            self._ip(self.netns, "route", "replace", str(network), "via", str(via), "proto", str(ROUTE_PROTOCOL))
        for network in changes.delete:
            self._ip(self.netns, "route", "del", str(network), "proto", str(ROUTE_PROTOCOL))
        return changes

    def _is_complete(self, sandbox: Sandbox, gateway: IPv4Interface, bridge: str) -> bool:
        if not Path(sandbox.netns_path).exists():
            return False
        port = self._run(self._bridge_argv("-d", "-json", "link", "show", "dev", sandbox.host_veth), check=False)
        ports = json.loads(port.stdout) if port.returncode == 0 and port.stdout.strip() else []
        if not any(entry.get("master") == bridge and entry.get("hairpin") for entry in ports):
            return False
        if sandbox.ip not in self._addresses(sandbox.netns_name, POD_INTERFACE):
            return False
        routes = self._json(sandbox.netns_name, "route", "show", "default", missing_ok=True)
        return any(route.get("gateway") == str(gateway.ip) for route in routes)

    def _addresses(self, netns: str | None, device: str) -> set[IPv4Interface]:
        return {IPv4Interface(f"{address['local']}/{address['prefixlen']}")
                for link in self._json(netns, "addr", "show", "dev", device, missing_ok=True)
                for address in link.get("addr_info", []) if address.get("family") == "inet"}

    def _sysctl(self, key: str, value: str) -> None:
        self._run(self._sysctl_argv("-q", "-w", f"{key}={value}"))

    def _json(self, netns: str | None, *args: str, missing_ok: bool = False) -> list[dict]:
        """``ip -json`` output; with ``missing_ok``, a device or netns that does not exist gives []."""
        result = self._run(self._ip_argv(netns, "-json", *args), check=not missing_ok)
        if result.returncode != 0:
            return []
        return json.loads(result.stdout) if result.stdout.strip() else []

    def _ip(self, netns: str | None, *args: str) -> None:
        self._run(self._ip_argv(netns, *args))

    @staticmethod
    def _ip_argv(netns: str | None, *args: str) -> list[str]:
        return ["ip", *(("-n", netns) if netns else ()), *args]

    def _bridge_argv(self, *args: str) -> list[str]:
        return ["bridge", *(("-n", self.netns) if self.netns else ()), *args]

    def _sysctl_argv(self, *args: str) -> list[str]:
        # sysctl has no netns option; `ip netns exec` also mounts a /sys of that netns for it.
        return [*(("ip", "netns", "exec", self.netns) if self.netns else ()), "sysctl", *args]

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
        except FileNotFoundError:
            raise NetworkCommandError(f"`{argv[0]}` is missing: install iproute2 and procps") from None
        except subprocess.TimeoutExpired:
            raise NetworkCommandError(f"`{' '.join(argv)}` did not finish within {TIMEOUT:.0f} s") from None
        if check and result.returncode != 0:
            raise self._error(result)
        return result

    @staticmethod
    def _error(result: subprocess.CompletedProcess[str]) -> NetworkCommandError:
        output = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        return NetworkCommandError(f"`{' '.join(result.args)}` failed: {output}")
