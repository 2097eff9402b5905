"""An in-memory HostNetwork for unit tests: records what exists instead of touching the host."""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network


class FakeHostNetwork:
    def __init__(self, host_routes: dict[str, str] | None = None) -> None:
        self.bridges: dict[str, IPv4Interface] = {}
        self.links: set[str] = set()
        self.netns: dict[str, tuple[str, IPv4Interface, str]] = {}  # name -> (host veth, address, gateway)
        self.unreachable: set[IPv4Network] = set()
        self.host_routes = dict(host_routes or {})  # destination -> device
        self.calls: list[str] = []

    def ensure_bridge(self, name: str, address: IPv4Interface) -> None:
        self.calls.append(f"bridge {name}")
        self.bridges[name] = address
        self.links.add(name)

    def delete_link(self, name: str) -> None:
        self.calls.append(f"del link {name}")
        self.links.discard(name)
        self.bridges.pop(name, None)

    def link_exists(self, name: str) -> bool:
        return name in self.links

    def netns_exists(self, name: str) -> bool:
        return name in self.netns

    def ensure_machine_link(self, netns: str, host_veth: str, bridge: str, address: IPv4Interface,
                            gateway: str) -> None:
        if bridge not in self.bridges:
            raise AssertionError(f"bridge {bridge} missing")
        if self.netns.get(netns) == (host_veth, address, gateway) and host_veth in self.links:
            return
        self.calls.append(f"machine link {netns}")
        self.netns[netns] = (host_veth, address, gateway)
        self.links.add(host_veth)

    def delete_netns(self, name: str) -> None:
        entry = self.netns.pop(name, None)
        if entry is not None:
            self.calls.append(f"del netns {name}")
            self.links.discard(entry[0])  # the veth pair dies with its netns end

    def ensure_unreachable_route(self, network: IPv4Network) -> None:
        self.unreachable.add(network)

    def delete_unreachable_route(self, network: IPv4Network) -> None:
        self.unreachable.discard(network)

    def routes_overlapping(self, network: IPv4Network, ignore_device: str) -> list[str]:
        return [f"{dst} dev {dev}" for dst, dev in self.host_routes.items()
                if dev != ignore_device and IPv4Network(dst).overlaps(network)]
