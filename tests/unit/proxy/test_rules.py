"""rules.render: Services + EndpointSlices → iptables-restore text in kube-proxy's structure."""

from __future__ import annotations

import base64
import hashlib
import random
import re
from typing import Any

import pytest

from provisioner.services.proxy import rules
from provisioner.services.proxy.rules import NodeInfo

NODE = NodeInfo(name="node-1", ip="192.168.50.11", pod_cidr="10.244.1.0/24", cluster_cidr="10.244.0.0/16")


def service(name: str, cluster_ip: str, *ports: dict[str, Any], namespace: str = "ns1",
            **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "ports": list(ports), **spec}}


def endpoint_slice(service_name: str, ports: list[dict[str, Any]], *endpoints: dict[str, Any],
                   namespace: str = "ns1", name: str = "", address_type: str = "IPv4") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name or f"{service_name}-abcde",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": address_type, "ports": ports, "endpoints": list(endpoints)}


def endpoint(ip: str, ready: bool | None = True, serving: bool | None = None,
             terminating: bool | None = None) -> dict[str, Any]:
    conditions = {k: v for k, v in (("ready", ready), ("serving", serving), ("terminating", terminating))
                  if v is not None}
    return {"addresses": [ip], "conditions": conditions}


def expected_hash(text: str) -> str:
    """Upstream's portProtoHash: base32 (standard alphabet) of sha256, first 16 characters."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def nat_rules(text: str, chain: str) -> list[str]:
    nat = text.split("*nat\n", 1)[1]
    return [line for line in nat.splitlines() if line.startswith(f"-A {chain} ")]


def filter_rules(text: str, chain: str) -> list[str]:
    table = text.split("*filter\n", 1)[1].split("COMMIT", 1)[0]
    return [line for line in table.splitlines() if line.startswith(f"-A {chain} ")]


def declared(text: str) -> list[str]:
    return re.findall(r"^:(\S+) - \[0:0\]$", text, re.M)


WEB = service("web", "10.96.0.10", {"name": "p80", "port": 80, "protocol": "TCP", "targetPort": "http"})
WEB_PORTS = [{"name": "p80", "port": 8080, "protocol": "TCP"}]
SVC = "KUBE-SVC-" + expected_hash("ns1/web:p80tcp")


def sep(ip: str, port: int = 8080, name: str = "ns1/web:p80", protocol: str = "tcp") -> str:
    return "KUBE-SEP-" + expected_hash(f"{name}{protocol}{ip}:{port}")


def test_chain_names_hash_like_upstream() -> None:
    # The pair below is what kube-proxy's own tests show for ns1/svc1:p80 and its endpoint 10.180.0.1:80.
    port = rules.ServicePort("ns1", "svc1", "p80", "tcp", "10.20.30.41", 80)
    assert "KUBE-SVC-" + expected_hash("ns1/svc1:p80tcp") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert rules.service_chain(port) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert rules.external_chain(port) == "KUBE-EXT-XPGD46QRK7WJZT7O"
    assert rules.endpoint_chain(port, rules.Endpoint("10.180.0.1", 80)) == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    unnamed = rules.ServicePort("ns1", "svc1", "", "udp", "10.20.30.41", 53)
    assert rules.service_chain(unnamed) == "KUBE-SVC-" + expected_hash("ns1/svc1udp")


def test_cluster_ip_with_three_ready_endpoints_balances_like_kube_proxy() -> None:
    endpoints = (endpoint("10.244.1.3"), endpoint("10.244.2.7"), endpoint("10.244.1.2"))
    text = rules.render([WEB], [endpoint_slice("web", WEB_PORTS, *endpoints)], NODE)
    assert nat_rules(text, "KUBE-SERVICES")[0] == (
        f'-A KUBE-SERVICES -m comment --comment "ns1/web:p80 cluster IP" -m tcp -p tcp -d 10.96.0.10 '
        f"--dport 80 -j {SVC}")
    assert nat_rules(text, SVC) == [
        f'-A {SVC} -m comment --comment "ns1/web:p80 cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 '
        f"! -s 10.244.0.0/16 -j KUBE-MARK-MASQ",
        f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.1.2:8080" -m statistic --mode random '
        f"--probability 0.3333333333 -j {sep('10.244.1.2')}",
        f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.1.3:8080" -m statistic --mode random '
        f"--probability 0.5000000000 -j {sep('10.244.1.3')}",
        f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.2.7:8080" -j {sep("10.244.2.7")}',
    ]
    assert filter_rules(text, "KUBE-SERVICES") == []


def test_endpoint_chain_dnats_to_the_named_target_port_and_masquerades_hairpin() -> None:
    # targetPort "http" resolves per pod; the slice carries the number (8080) under the service port's name.
    text = rules.render([WEB], [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"))], NODE)
    chain = sep("10.244.1.2")
    assert nat_rules(text, chain) == [
        f"-A {chain} -m comment --comment ns1/web:p80 -s 10.244.1.2/32 -j KUBE-MARK-MASQ",
        f"-A {chain} -m comment --comment ns1/web:p80 -m tcp -p tcp -j DNAT --to-destination 10.244.1.2:8080",
    ]


def test_fixed_chains_mark_and_masquerade() -> None:
    text = rules.render([], [], NODE)
    assert nat_rules(text, "KUBE-MARK-MASQ") == ["-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"]
    assert nat_rules(text, "KUBE-POSTROUTING") == [
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN",
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000",
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
    ]
    assert declared(text) == ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD",
                              "KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
    assert text.startswith("*filter\n") and text.endswith("COMMIT\n") and text.count("COMMIT") == 2


def test_node_port_and_external_ips_go_through_the_external_chain() -> None:
    web = service("web", "10.96.0.10", {"name": "p80", "port": 80, "protocol": "TCP", "nodePort": 30080},
                  type="NodePort", externalIPs=["192.168.99.22"])
    text = rules.render([web], [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"))], NODE)
    ext = "KUBE-EXT-" + expected_hash("ns1/web:p80tcp")
    assert f'-A KUBE-SERVICES -m comment --comment "ns1/web:p80 external IP" -m tcp -p tcp ' \
           f"-d 192.168.99.22 --dport 80 -j {ext}" in nat_rules(text, "KUBE-SERVICES")
    assert nat_rules(text, "KUBE-NODEPORTS") == [
        f"-A KUBE-NODEPORTS -m comment --comment ns1/web:p80 -m tcp -p tcp --dport 30080 -j {ext}"]
    assert nat_rules(text, ext) == [
        f'-A {ext} -m comment --comment "masquerade traffic for ns1/web:p80 external destinations" '
        "-j KUBE-MARK-MASQ",
        f"-A {ext} -j {SVC}",
    ]
    # NodePorts answer on the node's address, and the jump to them is the last rule of KUBE-SERVICES.
    assert nat_rules(text, "KUBE-SERVICES")[-1] == (
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
        'rule in this chain" -d 192.168.50.11 -j KUBE-NODEPORTS')


def test_nodeport_addresses_all_means_every_local_address_but_loopback() -> None:
    node = NodeInfo("node-1", "192.168.50.11", nodeport_addresses=(rules.MATCH_ALL,))
    assert nat_rules(rules.render([], [], node), "KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last '
        'rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS']
    listed = NodeInfo("node-1", "192.168.50.11", nodeport_addresses=("10.0.0.5", "127.0.0.1"))
    assert [r.split(" -d ")[1] for r in nat_rules(rules.render([], [], listed), "KUBE-SERVICES")] == [
        "10.0.0.5 -j KUBE-NODEPORTS"]


def test_not_ready_endpoints_are_left_out() -> None:
    text = rules.render([WEB], [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"),
                                               endpoint("10.244.1.3", ready=False))], NODE)
    assert "10.244.1.3" not in text
    assert nat_rules(text, SVC)[-1] == f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.1.2:8080" ' \
                                       f"-j {sep('10.244.1.2')}"


def test_serving_terminating_endpoints_stand_in_when_none_is_ready() -> None:
    slices = [endpoint_slice("web", WEB_PORTS,
                             endpoint("10.244.1.2", ready=False, serving=True, terminating=True),
                             endpoint("10.244.1.3", ready=False, serving=False, terminating=True),
                             endpoint("10.244.1.4", ready=False, serving=False, terminating=False))]
    text = rules.render([WEB], slices, NODE)
    assert [r for r in nat_rules(text, SVC) if "->" in r] == [
        f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.1.2:8080" -j {sep("10.244.1.2")}']


def test_unset_conditions_count_as_ready() -> None:
    text = rules.render([WEB], [endpoint_slice("web", WEB_PORTS, {"addresses": ["10.244.1.2"]})], NODE)
    assert sep("10.244.1.2") in declared(text)


def test_no_endpoints_rejects_in_the_filter_table() -> None:
    dns = service("dns", "10.96.0.53", {"port": 53, "protocol": "UDP", "nodePort": 30053}, type="NodePort",
                  externalIPs=["192.168.99.23"])
    text = rules.render([dns], [endpoint_slice("dns", [{"port": 53, "protocol": "UDP"}],
                                               endpoint("10.244.1.9", ready=False))], NODE)
    assert filter_rules(text, "KUBE-SERVICES") == [
        '-A KUBE-SERVICES -m comment --comment "ns1/dns has no endpoints" -m udp -p udp -d 10.96.0.53 '
        "--dport 53 -j REJECT"]
    assert filter_rules(text, "KUBE-EXTERNAL-SERVICES") == [
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/dns has no endpoints" -m udp -p udp '
        "-d 192.168.99.23 --dport 53 -j REJECT",
        '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/dns has no endpoints" '
        "-m addrtype --dst-type LOCAL -m udp -p udp --dport 30053 -j REJECT",
    ]
    assert not [c for c in declared(text) if c.startswith(rules.PER_SERVICE_CHAIN_PREFIXES)]


def test_slices_are_matched_by_service_port_name_protocol_and_namespace() -> None:
    two = service("two", "10.96.0.20", {"name": "dns", "port": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": 53, "protocol": "TCP"})
    udp, tcp = [{"name": "dns", "port": 5353, "protocol": "UDP"}], [{"name": "dns-tcp", "port": 5353}]
    slices = [endpoint_slice("two", udp, endpoint("10.244.1.2")),
              endpoint_slice("two", tcp, endpoint("10.244.1.3"), namespace="other"),
              endpoint_slice("two", tcp, endpoint("fd00::1"), address_type="IPv6")]
    text = rules.render([two], slices, NODE)
    assert "--to-destination 10.244.1.2:5353" in text
    assert "10.244.1.3" not in text and "fd00::1" not in text
    assert '"ns1/two:dns-tcp has no endpoints" -m tcp -p tcp -d 10.96.0.20 --dport 53' in text


def test_endpoints_merge_across_slices_without_duplicates() -> None:
    slices = [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2", ready=False), name="web-a"),
              endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"), endpoint("10.244.1.3"), name="web-b")]
    text = rules.render([WEB], slices, NODE)
    assert [r.split("-> ")[1].split('"')[0] for r in nat_rules(text, SVC) if "->" in r] == [
        "10.244.1.2:8080", "10.244.1.3:8080"]


def test_headless_and_external_name_services_get_no_rules() -> None:
    headless = service("headless", "None", {"port": 80})
    external = service("ext", "", {"port": 80}, type="ExternalName", externalName="example.org")
    assert rules.render([headless, external], [], NODE) == rules.render([], [], NODE)


def test_client_ip_affinity_uses_recent() -> None:
    sticky = service("web", "10.96.0.10", {"name": "p80", "port": 80, "protocol": "TCP"},
                     sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
    text = rules.render([sticky], [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"))], NODE)
    chain = sep("10.244.1.2")
    assert f'-A {SVC} -m comment --comment "ns1/web:p80 -> 10.244.1.2:8080" -m recent --name {chain} ' \
           f"--mask 255.255.255.255 --rcheck --seconds 600 --reap -j {chain}" in nat_rules(text, SVC)
    assert nat_rules(text, chain)[-1] == (
        f"-A {chain} -m comment --comment ns1/web:p80 -m tcp -p tcp -m recent --name {chain} "
        "--mask 255.255.255.255 --set -j DNAT --to-destination 10.244.1.2:8080")


def test_without_a_local_cidr_there_is_no_off_cluster_masquerade() -> None:
    text = rules.render([WEB], [endpoint_slice("web", WEB_PORTS, endpoint("10.244.1.2"))], NodeInfo("node-1"))
    assert "! -s" not in text
    assert "KUBE-NODEPORTS" in declared(text)
    assert not nat_rules(text, "KUBE-SERVICES")[-1].endswith("KUBE-NODEPORTS")  # no node address: no jump


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_output_does_not_depend_on_input_order(seed: int) -> None:
    services = [WEB, service("api", "10.96.0.2", {"port": 443}), service("db", "10.96.0.3", {"port": 5432},
                                                                         namespace="ns0")]
    slices = [endpoint_slice("web", WEB_PORTS, *(endpoint(f"10.244.1.{i}") for i in range(2, 9))),
              endpoint_slice("db", [{"port": 5432}], endpoint("10.244.2.2"), namespace="ns0")]
    expected = rules.render(services, slices, NODE)
    shuffler = random.Random(seed)
    shuffled_services, shuffled_slices = services[:], [dict(s) for s in slices]
    shuffler.shuffle(shuffled_services)
    shuffler.shuffle(shuffled_slices)
    for s in shuffled_slices:
        s["endpoints"] = shuffler.sample(s["endpoints"], len(s["endpoints"]))
    assert rules.render(shuffled_services, shuffled_slices, NODE) == expected
    # Services in order of their names (ns0/db before ns1/web; ns1/api has no endpoints: filter table).
    assert [r.split('"')[1] for r in nat_rules(expected, "KUBE-SERVICES")[:2]] == [
        "ns0/db cluster IP", "ns1/web:p80 cluster IP"]


def test_probability_is_printed_with_ten_decimals() -> None:
    assert [rules.probability(n) for n in (7, 3, 2)] == ["0.1428571429", "0.3333333333", "0.5000000000"]
