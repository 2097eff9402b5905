"""IpRoute builds a real pod network inside a test "node" netns: a bridge, pod sandboxes that reach each other and
their gateway over TCP, hairpin on, sandboxes rebuilt after a crash and removed without leftovers; and host-gw
routes to a second "node" that carry pod-to-pod traffic across nodes, removed again without touching a route of
someone else.

Runs as root. Nothing happens in the host's own network namespace: every netns is the test's, named
``t-node-<random>`` / ``t-pod-<random>-<id>`` and removed by exact name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from provisioner.services.kubelet.network.iproute import IpRoute
from provisioner.services.kubelet.network.protocol import (
    ROUTE_PROTOCOL,
    NetworkCommandError,
    host_veth_name,
    mac_address,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("bridge") is None,
                       reason="needs root and iproute2: it creates network namespaces"),
]

GATEWAY = IPv4Interface("10.250.1.1/24")
PEER_GATEWAY = IPv4Interface("10.250.2.1/24")
UPLINK = "up0"  # the veth between the two test nodes; its name lives only inside their namespaces
TIMEOUT = 10.0  # seconds; a hang guard

ECHO_SERVER = """
import socket, sys
with socket.create_server((sys.argv[1], int(sys.argv[2]))) as server:
    server.settimeout(float(sys.argv[3]))
    print("ready", flush=True)
    connection, _ = server.accept()
    with connection:
        connection.settimeout(float(sys.argv[3]))
        connection.sendall(connection.recv(64))
"""
ECHO_CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as connection:
    connection.sendall(sys.argv[4].encode())
    print(connection.recv(64).decode())
"""


@dataclass(frozen=True)
class Names:
    node: str
    peer: str
    pod_prefix: str
    peer_pod_prefix: str

    def pod(self, sandbox_id: str) -> str:
        return f"{self.pod_prefix}{sandbox_id}"


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    assert not check or result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"
    return result


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


@pytest.fixture
def names() -> Iterator[Names]:
    random = uuid.uuid4().hex[:8]
    made = Names(node=f"t-node-{random}", peer=f"t-node-{random}-peer", pod_prefix=f"t-pod-{random}-",
                 peer_pod_prefix=f"t-pod-{random}-peer-")
    try:
        run("ip", "netns", "add", made.node)
        yield made
    finally:
        # Pods first; removing a node netns removes every link in it, the veth pairs into its pods included.
        for name in (made.pod("a"), made.pod("b"), f"{made.peer_pod_prefix}c", made.peer, made.node):
            if netns_exists(name):
                run("ip", "netns", "del", name, check=False)


def echo(server_netns: str, client_netns: str, address: str, port: int = 7777) -> str:
    """What the client in ``client_netns`` gets back from an echo server in ``server_netns`` on ``address``."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", server_netns, sys.executable, "-c", ECHO_SERVER, address, str(port), str(TIMEOUT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready", server.stderr
        reply = run("ip", "netns", "exec", client_netns, sys.executable, "-c", ECHO_CLIENT, address, str(port),
                    str(TIMEOUT), f"hello {address}")
        return reply.stdout.strip()
    finally:
        server.kill()
        server.wait(TIMEOUT)


def link(netns: str, device: str) -> dict:
    return json.loads(run("ip", "-n", netns, "-json", "link", "show", "dev", device).stdout)[0]


def ifindex(netns: str, device: str) -> int:
    return link(netns, device)["ifindex"]


def mac(netns: str, device: str) -> str:
    return link(netns, device)["address"]


def test_pods_on_one_bridge_reach_each_other_and_their_gateway(names: Names) -> None:
    network = IpRoute(netns=names.node, sandbox_netns_prefix=names.pod_prefix)
    network.ensure_bridge(GATEWAY)
    network.ensure_bridge(GATEWAY)
    pod_a = network.create_sandbox("a", IPv4Interface("10.250.1.2/24"), GATEWAY)
    pod_b = network.create_sandbox("b", IPv4Interface("10.250.1.3/24"), GATEWAY)
    assert (pod_a.netns_name, pod_a.netns_path) == (names.pod("a"), f"/run/netns/{names.pod('a')}")
    assert pod_a.host_veth == host_veth_name("a")

    assert echo(pod_b.netns_name, pod_a.netns_name, "10.250.1.3") == "hello 10.250.1.3"
    assert echo(pod_a.netns_name, pod_b.netns_name, "10.250.1.2") == "hello 10.250.1.2"
    assert echo(names.node, pod_a.netns_name, "10.250.1.1") == "hello 10.250.1.1"

    port = json.loads(run("bridge", "-n", names.node, "-d", "-json", "link", "show", "dev", pod_a.host_veth).stdout)
    assert port[0]["master"] == "cbr0" and port[0]["hairpin"] is True

    # A complete sandbox is left as it is.
    before = ifindex(names.node, pod_a.host_veth)
    assert network.create_sandbox("a", pod_a.ip, GATEWAY) == pod_a
    assert ifindex(names.node, pod_a.host_veth) == before

    # A half-made one (its veth gone, as after a crash) is made again, with its old MAC: pod a's ARP entry for it
    # stays right. The bridge keeps its own MAC while its ports change.
    run("ip", "-n", names.node, "link", "del", pod_b.host_veth)
    network.create_sandbox("b", pod_b.ip, GATEWAY)
    assert mac(pod_b.netns_name, "eth0") == mac_address(pod_b.ip.ip)
    assert mac(names.node, "cbr0") == mac_address(GATEWAY.ip)
    assert echo(pod_b.netns_name, pod_a.netns_name, "10.250.1.3") == "hello 10.250.1.3"

    network.delete_sandbox("a")
    network.delete_sandbox("a")
    assert not netns_exists(pod_a.netns_name)
    assert run("ip", "-n", names.node, "link", "show", "dev", pod_a.host_veth, check=False).returncode != 0
    assert netns_exists(pod_b.netns_name)


def test_a_failed_sandbox_leaves_nothing_behind(names: Names) -> None:
    network = IpRoute(netns=names.node, sandbox_netns_prefix=names.pod_prefix)
    with pytest.raises(NetworkCommandError, match='master cbr0.*failed'):
        network.create_sandbox("a", IPv4Interface("10.250.1.2/24"), GATEWAY)  # no bridge yet
    assert not netns_exists(names.pod("a"))
    assert run("ip", "-n", names.node, "link", "show", "dev", host_veth_name("a"), check=False).returncode != 0


def test_sysctls_change_the_node_netns_only(names: Names) -> None:
    host_forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    problems = IpRoute(netns=names.node).ensure_sysctls()
    assert run("ip", "netns", "exec", names.node, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forwarding
    bridge_netfilter = run("ip", "netns", "exec", names.node, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables",
                           check=False)
    if bridge_netfilter.returncode == 0:
        assert problems == [] and bridge_netfilter.stdout.strip() == "1"
    else:
        assert len(problems) == 1 and "modprobe br_netfilter" in problems[0]


def our_routes(netns: str) -> list[tuple[str, str]]:
    routes = json.loads(run("ip", "-n", netns, "-4", "-json", "route", "show", "proto", str(ROUTE_PROTOCOL)).stdout
                        or "[]")
    return [(route["dst"], route["gateway"]) for route in routes]


def test_host_gw_routes_carry_pod_traffic_between_nodes_and_leave_foreign_routes(names: Names) -> None:
    run("ip", "netns", "add", names.peer)
    run("ip", "-n", names.node, "link", "add", UPLINK, "type", "veth", "peer", "name", UPLINK, "netns", names.peer)
    for netns, address in ((names.node, "10.251.0.1/29"), (names.peer, "10.251.0.2/29")):
        run("ip", "-n", netns, "addr", "add", address, "dev", UPLINK)
        run("ip", "-n", netns, "link", "set", UPLINK, "up")
    node = IpRoute(netns=names.node, sandbox_netns_prefix=names.pod_prefix)
    peer = IpRoute(netns=names.peer, sandbox_netns_prefix=names.peer_pod_prefix)
    cluster = {str(GATEWAY.network): "10.251.0.1", str(PEER_GATEWAY.network): "10.251.0.2"}
    for network, gateway in ((node, GATEWAY), (peer, PEER_GATEWAY)):
        network.ensure_sysctls()
        network.ensure_bridge(gateway)
    pod_a = node.create_sandbox("a", IPv4Interface("10.250.1.2/24"), GATEWAY)
    pod_c = peer.create_sandbox("c", IPv4Interface("10.250.2.2/24"), PEER_GATEWAY)
    run("ip", "-n", names.node, "route", "add", "10.250.9.0/24", "via", "10.251.0.2")  # someone else's

    node.ensure_routes(cluster, str(GATEWAY.network))
    peer.ensure_routes(cluster, str(PEER_GATEWAY.network))
    assert our_routes(names.node) == [("10.250.2.0/24", "10.251.0.2")]
    assert our_routes(names.peer) == [("10.250.1.0/24", "10.251.0.1")]
    assert echo(pod_c.netns_name, pod_a.netns_name, "10.250.2.2") == "hello 10.250.2.2"

    changes = node.ensure_routes(cluster, str(GATEWAY.network))
    assert (changes.replace, changes.delete) == ({}, ())
    node.ensure_routes({**cluster, str(PEER_GATEWAY.network): "10.251.0.3"}, str(GATEWAY.network))
    assert our_routes(names.node) == [("10.250.2.0/24", "10.251.0.3")]

    node.ensure_routes({str(GATEWAY.network): "10.251.0.1"}, str(GATEWAY.network))
    assert our_routes(names.node) == []
    foreign = json.loads(run("ip", "-n", names.node, "-json", "route", "show", "10.250.9.0/24").stdout)
    assert [(route["dst"], route["gateway"]) for route in foreign] == [("10.250.9.0/24", "10.251.0.2")]
