"""Services + EndpointSlices → ``iptables-restore`` input, in kube-proxy's iptables-mode structure and naming.

Pure: the same objects always give the same text (everything is sorted), so the proxier can compare texts and
skip a restore when nothing changed. IPv4 only.

Covered, as upstream writes it: ClusterIP, NodePort (on the ``--nodeport-addresses`` equivalent), externalIPs,
ClientIP session affinity, ready endpoints with the serving+terminating fallback, ``-m statistic`` balancing,
REJECT for services without endpoints (filter table), masquerade via mark 0x4000 for off-cluster traffic to
cluster IPs, for NodePort/external IP traffic, and for hairpin (an endpoint reaching its own service).
Not covered: LoadBalancer ingress IPs, ``externalTrafficPolicy``/``internalTrafficPolicy: Local`` (treated as
Cluster), topology hints, localhost NodePorts (they would need ``route_localnet``).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]

MASQ_MARK = "0x4000"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_SECONDS = 10800  # Kubernetes' default sessionAffinityConfig.clientIP.timeoutSeconds
MATCH_ALL = "0.0.0.0/0"  # --nodeport-addresses value meaning every local address

SERVICES_CHAIN = "KUBE-SERVICES"
EXTERNAL_SERVICES_CHAIN = "KUBE-EXTERNAL-SERVICES"
NODEPORTS_CHAIN = "KUBE-NODEPORTS"
POSTROUTING_CHAIN = "KUBE-POSTROUTING"
MARK_MASQ_CHAIN = "KUBE-MARK-MASQ"
FORWARD_CHAIN = "KUBE-FORWARD"

FILTER_CHAINS = (SERVICES_CHAIN, EXTERNAL_SERVICES_CHAIN, FORWARD_CHAIN)
NAT_CHAINS = (SERVICES_CHAIN, NODEPORTS_CHAIN, POSTROUTING_CHAIN, MARK_MASQ_CHAIN)
# Per-service chains: the ones a sync no longer declares are stale and get deleted (see iptables.py).
PER_SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-")

NODEPORTS_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


@dataclass(frozen=True)
class JumpRule:
    """A rule in a built-in chain leading to one of ours; kept outside the restore text (never flushed)."""

    table: str
    chain: str
    target: str
    comment: str
    extra: tuple[str, ...] = ()

    def args(self) -> list[str]:
        return ["-m", "comment", "--comment", self.comment, *self.extra, "-j", self.target]


_NEW = ("-m", "conntrack", "--ctstate", "NEW")
_EXTERNALLY_VISIBLE = "kubernetes externally-visible service portals"
JUMP_RULES = (
    JumpRule("filter", "INPUT", EXTERNAL_SERVICES_CHAIN, _EXTERNALLY_VISIBLE, _NEW),
    JumpRule("filter", "FORWARD", EXTERNAL_SERVICES_CHAIN, _EXTERNALLY_VISIBLE, _NEW),
    JumpRule("filter", "FORWARD", SERVICES_CHAIN, "kubernetes service portals", _NEW),
    JumpRule("filter", "OUTPUT", SERVICES_CHAIN, "kubernetes service portals", _NEW),
    JumpRule("filter", "FORWARD", FORWARD_CHAIN, "kubernetes forwarding rules"),
    JumpRule("nat", "OUTPUT", SERVICES_CHAIN, "kubernetes service portals"),
    JumpRule("nat", "PREROUTING", SERVICES_CHAIN, "kubernetes service portals"),
    JumpRule("nat", "POSTROUTING", POSTROUTING_CHAIN, "kubernetes postrouting rules"),
)


@dataclass(frozen=True)
class NodeInfo:
    name: str
    ip: str = ""
    pod_cidr: str = ""
    cluster_cidr: str = ""
    # Addresses NodePorts answer on; empty: the node's IP. MATCH_ALL: every local address but 127.0.0.0/8.
    nodeport_addresses: tuple[str, ...] = ()

    @property
    def local_cidr(self) -> str:
        """Traffic from here is "from the cluster" (kube-proxy's ClusterCIDR, else NodeCIDR local
        detection)."""
        return self.cluster_cidr or self.pod_cidr


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    service: str
    port_name: str
    protocol: str  # lower case, as in the rules and the chain hashes
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    affinity_seconds: int = 0  # ClientIP session affinity; 0: none

    def __str__(self) -> str:
        """kube-proxy's ServicePortName: ``ns/name:port`` (``ns/name`` for an unnamed port)."""
        suffix = f":{self.port_name}" if self.port_name else ""
        return f"{self.namespace}/{self.service}{suffix}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.namespace, self.service, self.port_name, self.protocol)


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_chain(port: ServicePort) -> str:
    return "KUBE-SVC-" + _hash(f"{port}{port.protocol}")


def external_chain(port: ServicePort) -> str:
    return "KUBE-EXT-" + _hash(f"{port}{port.protocol}")


def endpoint_chain(port: ServicePort, endpoint: Endpoint) -> str:
    return "KUBE-SEP-" + _hash(f"{port}{port.protocol}{endpoint}")


def probability(n: int) -> str:
    return f"{1.0 / n:0.10f}"


def is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def service_ports(services: Iterable[Obj]) -> list[ServicePort]:
    """The proxied ports of every service with an IPv4 cluster IP (headless and ExternalName services have
    none)."""
    result = []
    for service in services:
        spec = service.get("spec") or {}
        cluster_ip = spec.get("clusterIP") or ""
        if spec.get("type") == "ExternalName" or not is_ipv4(cluster_ip):
            continue
        affinity = 0
        if spec.get("sessionAffinity") == "ClientIP":
            config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
            affinity = config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS
        external_ips = tuple(sorted(ip for ip in spec.get("externalIPs") or [] if is_ipv4(ip)))
        meta = service["metadata"]
        for port in spec.get("ports") or []:
            result.append(ServicePort(
                namespace=meta["namespace"], service=meta["name"], port_name=port.get("name") or "",
                protocol=(port.get("protocol") or "TCP").lower(), cluster_ip=cluster_ip, port=port["port"],
                node_port=port.get("nodePort") or 0, external_ips=external_ips, affinity_seconds=affinity))
    return sorted(result, key=lambda p: (str(p), p.protocol))


def endpoints_by_port(endpoint_slices: Iterable[Obj]) -> dict[tuple[str, str, str, str], list[Endpoint]]:
    """Endpoints per (namespace, service, port name, protocol), merged over the service's IPv4 slices and
    sorted by ``ip:port`` as kube-proxy sorts them. An address listed twice counts once, ready if either
    is."""
    merged: dict[tuple[str, str, str, str], dict[str, Endpoint]] = {}
    for endpoint_slice in endpoint_slices:
        meta = endpoint_slice["metadata"]
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service or endpoint_slice.get("addressType") != "IPv4":
            continue
        for slice_port in endpoint_slice.get("ports") or []:
            if slice_port.get("port") is None:
                continue
            key = (meta["namespace"], service, slice_port.get("name") or "",
                   (slice_port.get("protocol") or "TCP").lower())
            by_address = merged.setdefault(key, {})
            for item in endpoint_slice.get("endpoints") or []:
                if not item.get("addresses"):
                    continue
                endpoint = _endpoint(item, slice_port["port"])
                known = by_address.get(str(endpoint))
                if known is None or (endpoint.ready and not known.ready):
                    by_address[str(endpoint)] = endpoint
    return {key: [by_address[a] for a in sorted(by_address)] for key, by_address in merged.items()}


def _endpoint(item: Obj, port: int) -> Endpoint:
    # Unset conditions mean ready and serving, not terminating (the EndpointSlice API's documented defaults).
    conditions = item.get("conditions") or {}
    ready = conditions.get("ready") is not False
    return Endpoint(ip=item["addresses"][0], port=port, ready=ready,
                    serving=conditions.get("serving", ready) is not False,
                    terminating=conditions.get("terminating") is True)


def usable_endpoints(endpoints: Iterable[Endpoint]) -> list[Endpoint]:
    """Ready endpoints; when there are none, the serving ones that are terminating (graceful shutdown)."""
    endpoints = list(endpoints)
    return [e for e in endpoints if e.ready] or [e for e in endpoints if e.serving and e.terminating]


class _Tables:
    def __init__(self) -> None:
        self.filter_rules: list[str] = []
        self.nat_chains: list[str] = []
        self.nat_rules: list[str] = []

    def filter(self, *parts: object) -> None:
        self.filter_rules.append(" ".join(str(p) for p in parts))

    def nat(self, *parts: object) -> None:
        self.nat_rules.append(" ".join(str(p) for p in parts))


def render(services: Iterable[Obj], endpoint_slices: Iterable[Obj], node: NodeInfo) -> str:
    endpoints = endpoints_by_port(endpoint_slices)
    tables = _Tables()
    tables.nat("-A", POSTROUTING_CHAIN, "-m mark !", "--mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j RETURN")
    tables.nat("-A", POSTROUTING_CHAIN, "-j MARK --xor-mark", MASQ_MARK)
    tables.nat("-A", POSTROUTING_CHAIN, '-m comment --comment "kubernetes service traffic requiring SNAT"',
               "-j MASQUERADE --random-fully")
    tables.nat("-A", MARK_MASQ_CHAIN, "-j MARK --or-mark", MASQ_MARK)
    for port in service_ports(services):
        _render_port(tables, port, usable_endpoints(endpoints.get(port.key, [])), node)
    _render_nodeports_jump(tables, node)
    tables.filter("-A", FORWARD_CHAIN, '-m comment --comment "kubernetes forwarding rules"',
                  "-m mark --mark", f"{MASQ_MARK}/{MASQ_MARK}", "-j ACCEPT")
    tables.filter("-A", FORWARD_CHAIN, '-m comment --comment "kubernetes forwarding conntrack rule"',
                  "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    lines = ["*filter", *(f":{c} - [0:0]" for c in FILTER_CHAINS), *tables.filter_rules, "COMMIT",
             "*nat", *(f":{c} - [0:0]" for c in (*NAT_CHAINS, *tables.nat_chains)), *tables.nat_rules,
             "COMMIT"]
    return "\n".join(lines) + "\n"


def _render_port(tables: _Tables, port: ServicePort, endpoints: list[Endpoint], node: NodeInfo) -> None:
    name = str(port)
    match = f"-m {port.protocol} -p {port.protocol}"
    to_cluster_ip = f"{match} -d {port.cluster_ip} --dport {port.port}"
    if not endpoints:
        no_endpoints = f'-m comment --comment "{name} has no endpoints"'
        tables.filter("-A", SERVICES_CHAIN, no_endpoints, to_cluster_ip, "-j REJECT")
        for ip in port.external_ips:
            tables.filter("-A", EXTERNAL_SERVICES_CHAIN, no_endpoints, match, "-d", ip, "--dport", port.port,
                          "-j REJECT")
        if port.node_port:
            tables.filter("-A", EXTERNAL_SERVICES_CHAIN, no_endpoints, "-m addrtype --dst-type LOCAL", match,
                          "--dport", port.node_port, "-j REJECT")
        return

    svc_chain = service_chain(port)
    ext_chain = external_chain(port)
    has_external = bool(port.external_ips or port.node_port)
    tables.nat_chains.append(svc_chain)
    if has_external:
        tables.nat_chains.append(ext_chain)
    tables.nat_chains.extend(endpoint_chain(port, e) for e in endpoints)

    tables.nat("-A", SERVICES_CHAIN, f'-m comment --comment "{name} cluster IP"', to_cluster_ip,
               "-j", svc_chain)
    for ip in port.external_ips:
        tables.nat("-A", SERVICES_CHAIN, f'-m comment --comment "{name} external IP"', match, "-d", ip,
                   "--dport", port.port, "-j", ext_chain)
    if port.node_port:
        tables.nat("-A", NODEPORTS_CHAIN, "-m comment --comment", name, match, "--dport", port.node_port,
                   "-j", ext_chain)
    if has_external:
        # Traffic from outside may arrive anywhere: masquerade it so replies come back through this node.
        tables.nat("-A", ext_chain, "-m comment --comment",
                   f'"masquerade traffic for {name} external destinations"', "-j", MARK_MASQ_CHAIN)
        tables.nat("-A", ext_chain, "-j", svc_chain)

    if node.local_cidr:
        tables.nat("-A", svc_chain, f'-m comment --comment "{name} cluster IP"', to_cluster_ip,
                   "! -s", node.local_cidr, "-j", MARK_MASQ_CHAIN)
    if port.affinity_seconds:
        for endpoint in endpoints:
            sep = endpoint_chain(port, endpoint)
            tables.nat("-A", svc_chain, f'-m comment --comment "{name} -> {endpoint}"',
                       "-m recent --name", sep, "--mask 255.255.255.255 --rcheck --seconds",
                       port.affinity_seconds, "--reap -j", sep)
    for index, endpoint in enumerate(endpoints):
        remaining = len(endpoints) - index
        statistic = ""
        if remaining > 1:  # the last endpoint takes whatever the earlier rules did not
            statistic = f" -m statistic --mode random --probability {probability(remaining)}"
        tables.nat("-A", svc_chain, f'-m comment --comment "{name} -> {endpoint}"{statistic}',
                   "-j", endpoint_chain(port, endpoint))

    for endpoint in endpoints:
        sep = endpoint_chain(port, endpoint)
        # Hairpin: an endpoint reaching its own service must see the reply come from the service, not itself.
        tables.nat("-A", sep, "-m comment --comment", name, "-s", f"{endpoint.ip}/32", "-j", MARK_MASQ_CHAIN)
        affinity = f" -m recent --name {sep} --mask 255.255.255.255 --set" if port.affinity_seconds else ""
        tables.nat("-A", sep, "-m comment --comment", name, f"{match}{affinity}",
                   "-j DNAT --to-destination", endpoint)


def _render_nodeports_jump(tables: _Tables, node: NodeInfo) -> None:
    """The last rule of KUBE-SERVICES: NodePorts apply to traffic for the chosen local addresses."""
    addresses = node.nodeport_addresses or ((node.ip,) if node.ip else ())
    if MATCH_ALL in addresses:
        tables.nat("-A", SERVICES_CHAIN, "-m comment --comment", NODEPORTS_COMMENT,
                   "-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j", NODEPORTS_CHAIN)
        return
    for address in sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback):
        tables.nat("-A", SERVICES_CHAIN, "-m comment --comment", NODEPORTS_COMMENT, "-d", address,
                   "-j", NODEPORTS_CHAIN)
