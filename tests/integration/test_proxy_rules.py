"""The rendered rules in a real kernel: loaded with iptables-restore into network namespaces this test creates
(never the host's own tables), then real TCP connections through ClusterIP, NodePort and hairpin paths.

Topology of the packet tests: a "node" netns and a "pod" netns joined by a veth pair; the pod (10.244.1.2)
runs a TCP server on :8080 that answers with the address it sees the connection come from.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from provisioner.services.proxy import rules
from provisioner.services.proxy.iptables import IptablesRestore

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and iptables need root"),
    pytest.mark.skipif(not (shutil.which("iptables-restore") and shutil.which("ip")),
                       reason="needs iptables-restore and iproute2"),
]

GATEWAY_IP = "10.244.1.1"
POD_IP = "10.244.1.2"
NODE_IP = "172.31.255.1"  # on the node netns' loopback: the address NodePorts answer on
CLUSTER_IP = "10.96.0.10"
EMPTY_CLUSTER_IP = "10.96.0.11"
NODE = rules.NodeInfo("node-1", NODE_IP, pod_cidr="10.244.1.0/24", cluster_cidr="10.244.0.0/16")
COMMAND_TIMEOUT = 10.0

ECHO_PEER_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 8080))
server.listen(16)
print("listening", flush=True)
while True:
    conn, peer = server.accept()
    conn.sendall(peer[0].encode())
    conn.close()
"""

CONNECT = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as conn:
        print(conn.recv(100).decode())
except OSError as err:
    print(type(err).__name__)
"""


def run(*command: str, stdin: str | None = None) -> str:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=True,
                          timeout=COMMAND_TIMEOUT).stdout


def web_service(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns1", "name": "web"},
            "spec": {"type": "NodePort", "clusterIP": CLUSTER_IP,
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}], **spec}}


EMPTY_SERVICE = {"metadata": {"namespace": "ns1", "name": "empty"},
                 "spec": {"clusterIP": EMPTY_CLUSTER_IP, "ports": [{"port": 80, "protocol": "TCP"}]}}


def web_slice(*ips: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns1", "name": "web-1",
                         "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def saved(namespace: str, table: str) -> str:
    """iptables-save without its timestamped comment lines and counters."""
    text = run("ip", "netns", "exec", namespace, "iptables-save", "-t", table)
    return "\n".join(re.sub(r" \[\d+:\d+\]$", "", line) for line in text.splitlines()
                     if not line.startswith("#"))


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"provtest-proxy-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=COMMAND_TIMEOUT)


@pytest.fixture
def pod_netns() -> Iterator[str]:
    name = f"provtest-pod-{uuid.uuid4().hex[:8]}"
    run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False, timeout=COMMAND_TIMEOUT)


def test_rules_load_and_show_up_in_iptables_save(netns: str) -> None:
    text = rules.render([web_service(), EMPTY_SERVICE], [web_slice(POD_IP)], NODE)
    IptablesRestore(netns=netns).apply(text)
    nat = saved(netns, "nat")
    svc = rules.service_chain(rules.service_ports([web_service()])[0])
    assert f":{svc} -" in nat
    assert f"-A KUBE-SERVICES -d {CLUSTER_IP}/32 -p tcp -m comment --comment \"ns1/web:http cluster IP\" " \
           f"-m tcp --dport 80 -j {svc}" in nat
    assert f"-s {POD_IP}/32 -m comment --comment \"ns1/web:http\" -j KUBE-MARK-MASQ" in nat
    assert f"-j DNAT --to-destination {POD_IP}:8080" in nat
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat
    assert '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING' in nat
    assert f"-d {EMPTY_CLUSTER_IP}/32 -p tcp -m comment --comment \"ns1/empty has no endpoints\" " \
           "-m tcp --dport 80 -j REJECT" in saved(netns, "filter")


def test_applying_twice_changes_nothing_and_adds_no_second_jump(netns: str) -> None:
    iptables = IptablesRestore(netns=netns)
    text = rules.render([web_service(), EMPTY_SERVICE], [web_slice(POD_IP, "10.244.1.3")], NODE)
    iptables.apply(text)
    first = (saved(netns, "nat"), saved(netns, "filter"))
    iptables.apply(text)
    assert (saved(netns, "nat"), saved(netns, "filter")) == first
    for rule in rules.JUMP_RULES:
        table = first[0] if rule.table == "nat" else first[1]
        assert len(re.findall(rf"^-A {rule.chain} .*-j {rule.target}$", table, re.M)) == 1, rule


def test_a_removed_endpoint_loses_its_chain(netns: str) -> None:
    iptables = IptablesRestore(netns=netns)
    port = rules.service_ports([web_service()])[0]
    gone, kept = (rules.endpoint_chain(port, rules.Endpoint(ip, 8080)) for ip in ("10.244.1.3", POD_IP))
    iptables.apply(rules.render([web_service()], [web_slice(POD_IP, "10.244.1.3")], NODE))
    assert f":{gone} -" in saved(netns, "nat")
    iptables.apply(rules.render([web_service()], [web_slice(POD_IP)], NODE))
    nat = saved(netns, "nat")
    assert gone not in nat and f":{kept} -" in nat
    iptables.apply(rules.render([], [], NODE))  # the service deleted: all its chains go
    assert not [line for line in saved(netns, "nat").splitlines()
                if line.startswith(":") and line[1:].startswith(rules.PER_SERVICE_CHAIN_PREFIXES)]


@pytest.fixture
def pod_network(netns: str, pod_netns: str) -> Iterator[tuple[str, str]]:
    """The node netns (rules, forwarding on) and a pod netns running the echo-peer server."""
    suffix = uuid.uuid4().hex[:6]
    node_side, pod_side = f"pn{suffix}", f"pp{suffix}"
    run("ip", "-n", netns, "link", "add", node_side, "type", "veth",
        "peer", "name", pod_side, "netns", pod_netns)
    for namespace, link, address in ((netns, node_side, f"{GATEWAY_IP}/24"),
                                     (pod_netns, pod_side, f"{POD_IP}/24")):
        run("ip", "-n", namespace, "link", "set", "lo", "up")
        run("ip", "-n", namespace, "addr", "add", address, "dev", link)
        run("ip", "-n", namespace, "link", "set", link, "up")
    run("ip", "-n", pod_netns, "route", "add", "default", "via", GATEWAY_IP)
    run("ip", "-n", netns, "addr", "add", f"{NODE_IP}/32", "dev", "lo")
    run("ip", "-n", netns, "route", "add", "10.96.0.0/12", "dev", node_side)  # cluster IPs need a route
    run("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ip_forward=1")  # this netns only
    server = subprocess.Popen(["ip", "netns", "exec", pod_netns, sys.executable, "-c", ECHO_PEER_SERVER],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"
        yield netns, pod_netns
    finally:
        server.kill()
        server.wait(timeout=COMMAND_TIMEOUT)


def connect(namespace: str, ip: str, port: int, timeout: float = 3.0) -> str:
    """What the server answered (the peer address it saw), or the name of the error."""
    return run("ip", "netns", "exec", namespace, sys.executable, "-c", CONNECT,
               ip, str(port), str(timeout)).strip()


def test_connections_reach_the_pod_through_the_service(pod_network: tuple[str, str]) -> None:
    node, pod = pod_network
    IptablesRestore(netns=node).apply(rules.render([web_service(), EMPTY_SERVICE], [web_slice(POD_IP)], NODE))
    # From the node itself: DNAT in nat OUTPUT; the node's source is in the cluster CIDR, so no masquerade.
    assert connect(node, CLUSTER_IP, 80) == GATEWAY_IP
    # Hairpin: the pod reaches itself through its service; masquerading makes the reply return via the node.
    assert connect(pod, CLUSTER_IP, 80) == GATEWAY_IP
    # NodePort on the node's address, from the pod.
    assert connect(pod, NODE_IP, 30080) == GATEWAY_IP
    # A service without endpoints is refused at once rather than timing out.
    assert connect(node, EMPTY_CLUSTER_IP, 80) == "ConnectionRefusedError"


def test_without_the_hairpin_rule_the_pod_cannot_reach_itself(pod_network: tuple[str, str]) -> None:
    """Proves the hairpin test above depends on the SEP chain's masquerade rule."""
    node, pod = pod_network
    text = rules.render([web_service()], [web_slice(POD_IP)], NODE)
    without_hairpin = "\n".join(line for line in text.splitlines() if f"-s {POD_IP}/32" not in line) + "\n"
    IptablesRestore(netns=node).apply(without_hairpin)
    # The pod answers itself directly, from its own address, which its connecting socket does not expect.
    assert connect(pod, CLUSTER_IP, 80, timeout=1.0) in ("TimeoutError", "ConnectionRefusedError")
