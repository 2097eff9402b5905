"""The adapter for iproute2 (`ip`): the host bridge, per-machine network namespaces and veths, host routes.

Every operation is idempotent: asking for what already exists changes nothing, removing what is gone is fine.
"""

from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Interface, IPv4Network
from typing import Protocol

from provisioner.errors import ProviderError

NETNS_DIR = "/run/netns"


class HostNetwork(Protocol):
    def ensure_bridge(self, name: str, address: IPv4Interface) -> None: ...
    def delete_link(self, name: str) -> None: ...
    def link_exists(self, name: str) -> bool: ...
    def netns_exists(self, name: str) -> bool: ...
    def ensure_machine_link(self, netns: str, host_veth: str, bridge: str, address: IPv4Interface,
                            gateway: str) -> None: ...
    def delete_netns(self, name: str) -> None: ...
    def ensure_unreachable_route(self, network: IPv4Network) -> None: ...
    def delete_unreachable_route(self, network: IPv4Network) -> None: ...
    def routes_overlapping(self, network: IPv4Network, ignore_device: str) -> list[str]: ...


class IpRoute:
    """HostNetwork through the `ip` command."""

    def ensure_bridge(self, name: str, address: IPv4Interface) -> None:
        if not self.link_exists(name):
            self._ip("link", "add", name, "type", "bridge")
        if str(address) not in self._addresses(name):
            self._ip("addr", "add", str(address), "dev", name)
        self._ip("link", "set", name, "up")

    def delete_link(self, name: str) -> None:
        result = self._run("ip", "link", "del", name, check=False)
        if result.returncode != 0 and "Cannot find device" not in result.stderr:
            raise ProviderError(f"`ip link del {name}` failed: {result.stderr.strip() or result.returncode}")

    def link_exists(self, name: str) -> bool:
        return self._run("ip", "link", "show", "dev", name, check=False).returncode == 0

    def netns_exists(self, name: str) -> bool:
        return any(entry.get("name") == name for entry in self._json("netns", "list"))

    def ensure_machine_link(self, netns: str, host_veth: str, bridge: str, address: IPv4Interface,
                            gateway: str) -> None:
        """A netns whose `eth0` holds `address` with a default route via `gateway`, its peer `host_veth`
        enslaved to `bridge`. A half-made pair (from an interrupted run) is removed and made again."""
        if self.netns_exists(netns) and self.link_exists(host_veth):
            if str(address) in self._addresses("eth0", netns):
                return
        self.delete_netns(netns)
        self.delete_link(host_veth)
        peer = f"{host_veth[:-1]}x"  # the netns end's temporary name on the host, renamed eth0 once inside
        self._ip("netns", "add", netns)
        self._ip("link", "add", host_veth, "type", "veth", "peer", "name", peer)
        self._ip("link", "set", peer, "netns", netns)
        self._ip("link", "set", host_veth, "master", bridge, "up")
        self._ip("-n", netns, "link", "set", peer, "name", "eth0")
        self._ip("-n", netns, "addr", "add", str(address), "dev", "eth0")
        self._ip("-n", netns, "link", "set", "eth0", "up")
        self._ip("-n", netns, "link", "set", "lo", "up")
        self._ip("-n", netns, "route", "add", "default", "via", gateway)

    def delete_netns(self, name: str) -> None:
        if self.netns_exists(name):
            self._ip("netns", "del", name)

    def ensure_unreachable_route(self, network: IPv4Network) -> None:
        self._ip("route", "replace", "unreachable", str(network))

    def delete_unreachable_route(self, network: IPv4Network) -> None:
        routes = self._json("route", "show", "type", "unreachable", str(network))
        if routes:
            self._ip("route", "del", "unreachable", str(network))

    def routes_overlapping(self, network: IPv4Network, ignore_device: str) -> list[str]:
        """Host routes (other than the default route and routes on `ignore_device`) that overlap `network`."""
        found = []
        for route in self._json("-4", "route", "show", "table", "all"):
            dst = route.get("dst", "")
            if dst in ("default", "") or route.get("dev") == ignore_device or route.get("table") == "local":
                continue
            try:
                target = IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
            except ValueError:
                continue
            if target.overlaps(network):
                via = f" dev {route['dev']}" if route.get("dev") else f" ({route.get('type', 'route')})"
                found.append(f"{dst}{via}")
        return found

    def _addresses(self, device: str, netns: str | None = None) -> set[str]:
        prefix = ("-n", netns) if netns else ()
        result = self._run("ip", *prefix, "-json", "addr", "show", "dev", device, check=False)
        if result.returncode != 0:
            return set()
        return {f"{a['local']}/{a['prefixlen']}" for link in json.loads(result.stdout or "[]")
                for a in link.get("addr_info", []) if a.get("family") == "inet"}

    def _json(self, *args: str) -> list[dict]:
        result = self._run("ip", "-json", *args)
        return json.loads(result.stdout) if result.stdout.strip() else []

    def _ip(self, *args: str) -> None:
        self._run("ip", *args)

    @staticmethod
    def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            raise ProviderError("the `ip` command is missing: install iproute2") from None
        if check and result.returncode != 0:
            raise ProviderError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.returncode}")
        return result
