"""Checks that span fields: provider rules, host lists, address plans, sizes, names.

They also run on a spec with field errors, on what could be salvaged of it (see Sections), and skip each rule
that reads a value that is not known, so that one pass reports every problem that can be judged without ever
reporting one that a field error made up. Each problem is reported at the field the user most likely has to
change: a field written in the file before one left at its default.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from provisioner.spec.document import Finding, Loc, render_path
from provisioner.spec.durations import format_duration
from provisioner.spec.model import (
    CONTROL_PLANE,
    FIRST_MACHINE_OFFSET,
    ControlPlaneSpec,
    Host,
    MachinesProvider,
    NetworkSpec,
    NodeGroup,
    PkiSpec,
    ProviderSpec,
    ProviderType,
    Role,
    SpecModel,
    VagrantProvider,
    machine_name,
)

MAX_MACHINES = 100
MIN_SERVICE_PREFIX, MAX_SERVICE_PREFIX = 12, 28
MIN_CERT_VALIDITY = timedelta(hours=1)

SPEC: Loc = ("spec",)
PROVIDER: Loc = (*SPEC, "provider")
NETWORK: Loc = (*SPEC, "network")
CONTROL_PLANE_LOC: Loc = (*SPEC, "controlPlane")
NODE_GROUPS: Loc = (*SPEC, "nodeGroups")
PKI: Loc = (*SPEC, "pki")
_ATTRIBUTES = {"podCIDR": "pod_cidr", "serviceCIDR": "service_cidr"}


@dataclass(frozen=True)
class Sections:
    """The spec's sections as validated: None (or a None group) where a section could not be salvaged."""

    name: str | None
    provider: ProviderSpec | None
    network: NetworkSpec | None
    control_plane: ControlPlaneSpec | None
    node_groups: tuple[NodeGroup | None, ...]
    pki: PkiSpec | None
    # Fields of the salvaged sections whose value is not known: written but invalid, or possibly the one a
    # misspelt field next to them was meant to be. The sections hold defaults in their place.
    unknown: frozenset[Loc] = frozenset()

    def known(self, *locs: Loc) -> bool:
        return not any(loc[:len(lost)] == lost for loc in locs for lost in self.unknown)


@dataclass(frozen=True)
class _Pool:
    """The control plane or one node group: where it is in the file, and its hosts and machine count if known."""

    loc: Loc
    role: Role
    group: str
    spec: ControlPlaneSpec | NodeGroup
    hosts: tuple[Host, ...] | None
    count: int | None


def check(sections: Sections) -> list[Finding]:
    provider_type = _provider_type(sections)
    pools = _pools(sections, provider_type)
    # Counts that are not known count as none: the checks that use the total only ever fail on too many.
    machines = sum(pool.count or 0 for pool in pools)
    return [
        *_provider_sections(sections, provider_type),
        *_pool_hosts(provider_type, pools),
        *_control_plane(sections, pools),
        *_node_groups(sections),
        *_network(sections),
        *_machine_addresses(sections, provider_type, pools, machines),
        *_pod_ranges(sections, machines),
        *_machine_count(machines),
        *_machine_names(sections, provider_type, pools),
        *_pki(sections),
    ]


def _given(model: SpecModel, field: str) -> bool:
    return field in model.model_fields_set


def _provider_type(sections: Sections) -> ProviderType | None:
    if sections.provider is None or not sections.known((*PROVIDER, "type")):
        return None
    return sections.provider.type


def _pools(sections: Sections, provider_type: ProviderType | None) -> list[_Pool]:
    specs: list[tuple[Loc, Role, str, ControlPlaneSpec | NodeGroup]] = []
    if sections.control_plane is not None:
        specs.append((CONTROL_PLANE_LOC, "control-plane", CONTROL_PLANE, sections.control_plane))
    specs += [((*NODE_GROUPS, position), "worker", group.name, group)
              for position, group in enumerate(sections.node_groups) if group is not None]
    pools = []
    for loc, role, group, spec in specs:
        hosts = spec.hosts if sections.known((*loc, "hosts")) else None
        if provider_type == "ssh":
            count = None if hosts is None else len(hosts)
        elif provider_type is not None and sections.known((*loc, "count")):
            count = spec.count
        else:
            count = None
        pools.append(_Pool(loc, role, group, spec, hosts, count))
    return pools


def _provider_sections(sections: Sections, provider_type: ProviderType | None) -> Iterator[Finding]:
    provider = sections.provider
    if provider is None or provider_type is None:
        return
    for kind in ("machines", "vagrant", "ssh"):
        if kind != provider_type and getattr(provider, kind) is not None:
            yield Finding((*PROVIDER, kind), f"settings of provider {kind} are not allowed when type is "
                                             f"{provider_type}")
    if provider_type == "ssh" and provider.ssh is None and sections.known((*PROVIDER, "ssh")):
        yield Finding((*PROVIDER, "ssh", "privateKey"), "is required when type is ssh")


def _pool_hosts(provider_type: ProviderType | None, pools: list[_Pool]) -> Iterator[Finding]:
    if provider_type is None:
        return
    if provider_type != "ssh":
        for pool in pools:
            if pool.hosts:
                yield Finding((*pool.loc, "hosts"), f"only allowed with provider ssh; provider {provider_type} "
                                                    "creates count machines itself")
        return
    names: dict[str, Loc] = {}
    addresses: dict[object, Loc] = {}
    for pool in pools:
        if pool.hosts is None:
            continue
        if not pool.hosts:
            yield Finding((*pool.loc, "hosts"), "must list the hosts when the provider is ssh")
        elif _given(pool.spec, "count") and pool.spec.count != len(pool.hosts):
            yield Finding((*pool.loc, "count"), f"must equal the number of hosts ({len(pool.hosts)}) when the "
                                                "provider is ssh, or be left out")
        for position, host in enumerate(pool.hosts):
            loc = (*pool.loc, "hosts", position)
            if host.name in names:
                yield Finding((*loc, "name"), f"duplicate host name {host.name!r} (also "
                                              f"{render_path(names[host.name])})")
            if host.address in addresses:
                yield Finding((*loc, "address"), f"duplicate address {host.address} (also "
                                                 f"{render_path(addresses[host.address])})")
            names.setdefault(host.name, (*loc, "name"))
            addresses.setdefault(host.address, (*loc, "address"))


def _control_plane(sections: Sections, pools: list[_Pool]) -> Iterator[Finding]:
    control_plane = sections.control_plane
    if control_plane is None or not sections.known((*CONTROL_PLANE_LOC, "store")):
        return
    if control_plane.store == "etcd":
        yield Finding((*CONTROL_PLANE_LOC, "store"), "store etcd is not supported yet (issue: HA control planes); "
                                                     "use sqlite with count 1")
        return
    count = pools[0].count
    if count is not None and count > 1:
        field = "count" if _given(control_plane, "count") else "hosts"
        yield Finding((*CONTROL_PLANE_LOC, field), f"store sqlite runs exactly 1 control plane, not {count}; more "
                                                   "need store etcd (not supported yet)")


def _node_groups(sections: Sections) -> Iterator[Finding]:
    first_by_name: dict[str, int] = {}
    for position, group in enumerate(sections.node_groups):
        if group is None:
            continue
        loc = (*NODE_GROUPS, position)
        if group.name == CONTROL_PLANE:
            yield Finding((*loc, "name"), f"{CONTROL_PLANE!r} is reserved for the control plane machines")
        elif group.name in first_by_name:
            yield Finding((*loc, "name"), f"duplicate node group name {group.name!r} (also "
                                          f"{render_path((*NODE_GROUPS, first_by_name[group.name]))})")
        first_by_name.setdefault(group.name, position)
        if not sections.known((*loc, "taints")):
            continue
        first_taint: dict[tuple[str, str], int] = {}
        for taint_position, taint in enumerate(group.taints):
            identity = (taint.key, taint.effect)
            if identity in first_taint:
                yield Finding((*loc, "taints", taint_position), f"duplicate taint {taint.key}:{taint.effect} "
                                                                f"(also taints[{first_taint[identity]}])")
            first_taint.setdefault(identity, taint_position)


def _network(sections: Sections) -> Iterator[Finding]:
    network = sections.network
    if network is None:
        return
    pod, service, mask = network.pod_cidr, network.service_cidr, network.node_cidr_mask_size
    pod_known, service_known = sections.known((*NETWORK, "podCIDR")), sections.known((*NETWORK, "serviceCIDR"))
    if pod_known and sections.known((*NETWORK, "nodeCIDRMaskSize")) and mask <= pod.prefixlen:
        yield Finding((*NETWORK, "nodeCIDRMaskSize"), f"must be larger than the prefix of podCIDR {pod} so that "
                                                      f"each node gets a part of it; got {mask}")
    if service_known and service.prefixlen < MIN_SERVICE_PREFIX:
        yield Finding((*NETWORK, "serviceCIDR"), f"must be /{MIN_SERVICE_PREFIX} or smaller (as in Kubernetes); "
                                                 f"got {service}")
    elif service_known and service.prefixlen > MAX_SERVICE_PREFIX:
        yield Finding((*NETWORK, "serviceCIDR"), f"must be /{MAX_SERVICE_PREFIX} or larger, to hold the "
                                                 f"kubernetes Service and the cluster DNS address; got {service}")
    if pod_known and service_known and pod.overlaps(service):
        field = "serviceCIDR" if _given(network, "service_cidr") else "podCIDR"
        yield Finding((*NETWORK, field), f"podCIDR {pod} and serviceCIDR {service} overlap")
    if network.dns_ip is not None and service_known and sections.known((*NETWORK, "dnsIP")):
        yield from _dns_ip(network)
    if sections.known((*NETWORK, "apiserverPort"), (*NETWORK, "nodePortRange")):
        first, last = (int(part) for part in network.node_port_range.split("-"))
        if first <= network.apiserver_port <= last:
            yield Finding((*NETWORK, "apiserverPort"), f"must not be inside nodePortRange "
                                                       f"{network.node_port_range}: node ports are opened on every "
                                                       "node, control planes included")


def _dns_ip(network: NetworkSpec) -> Iterator[Finding]:
    loc = (*NETWORK, "dnsIP")
    service, dns_ip = network.service_cidr, network.dns_ip
    if dns_ip not in service:
        yield Finding(loc, f"{dns_ip} is outside serviceCIDR {service}")
    elif dns_ip == service.network_address:
        yield Finding(loc, f"{dns_ip} is the network address of serviceCIDR {service}")
    elif dns_ip == service.network_address + 1:
        yield Finding(loc, f"{dns_ip} is the first address of serviceCIDR {service}, which the kubernetes "
                           "Service has")
    elif dns_ip == service.broadcast_address:
        yield Finding(loc, f"{dns_ip} is the broadcast address of serviceCIDR {service}")


def _machine_addresses(sections: Sections, provider_type: ProviderType | None, pools: list[_Pool],
                       machines: int) -> Iterator[Finding]:
    """The machines' addresses (a provider subnet or the ssh hosts) clash with no cluster range, and fit."""
    network, provider = sections.network, sections.provider
    if network is None or provider is None or provider_type is None:
        return
    cidrs = (("podCIDR", network.pod_cidr), ("serviceCIDR", network.service_cidr))
    ranges = [(field, cidr) for field, cidr in cidrs if sections.known((*NETWORK, field))]
    if provider_type == "ssh":
        for pool in pools:
            for position, host in enumerate(pool.hosts or ()):
                for field, cidr in ranges:
                    if host.address in cidr:
                        yield Finding((*pool.loc, "hosts", position, "address"),
                                      f"{host.address} is inside {field} {cidr}")
        return
    loc = (*PROVIDER, provider_type, "subnet")
    if not sections.known(loc):
        return
    section: MachinesProvider | VagrantProvider
    if provider_type == "machines":
        section = provider.machines or MachinesProvider()
    else:
        section = provider.vagrant or VagrantProvider()
    subnet = section.subnet
    for field, cidr in ranges:
        if subnet.overlaps(cidr):
            at_subnet = _given(section, "subnet") or not _given(network, _ATTRIBUTES[field])
            yield Finding(loc if at_subnet else (*NETWORK, field), f"subnet {subnet} and {field} {cidr} overlap")
    room = subnet.num_addresses - 1 - FIRST_MACHINE_OFFSET  # from .10 up to the last before broadcast
    if machines > room:
        yield Finding(loc, f"subnet {subnet} has room for {max(room, 0)} machines (from .{FIRST_MACHINE_OFFSET} "
                           f"on); the cluster has {machines}")


def _pod_ranges(sections: Sections, machines: int) -> Iterator[Finding]:
    """Every node gets a /nodeCIDRMaskSize of podCIDR."""
    network = sections.network
    if network is None or not sections.known((*NETWORK, "podCIDR"), (*NETWORK, "nodeCIDRMaskSize")):
        return
    pod, mask = network.pod_cidr, network.node_cidr_mask_size
    if mask <= pod.prefixlen:
        return  # reported by _network
    ranges = 2 ** (mask - pod.prefixlen)
    if machines > ranges:
        field = "nodeCIDRMaskSize" if _given(network, "node_cidr_mask_size") else "podCIDR"
        yield Finding((*NETWORK, field), f"podCIDR {pod} holds {ranges} node ranges of /{mask}; the cluster has "
                                         f"{machines} machines")


def _machine_count(machines: int) -> Iterator[Finding]:
    if machines > MAX_MACHINES:
        yield Finding(NODE_GROUPS, f"the cluster has {machines} machines; at most {MAX_MACHINES} are supported")


def _machine_names(sections: Sections, provider_type: ProviderType | None, pools: list[_Pool]) -> Iterator[Finding]:
    """Generated names are unique unless one group's name makes another's (a group called 'cp'). Groups with
    the same name are reported as such, not once more here."""
    if sections.name is None or provider_type not in ("machines", "vagrant"):
        return
    owners: dict[str, str] = {}
    groups: set[str] = set()
    for pool in pools:
        if pool.group in groups:
            continue
        groups.add(pool.group)
        owner = "the control plane" if pool.role == "control-plane" else f"node group {pool.group!r}"
        names = [machine_name(sections.name, pool.role, pool.group, index) for index in range(1, (pool.count or 0) + 1)]
        clashes = [name for name in names if name in owners]
        if clashes:
            yield Finding((*pool.loc, "name"), f"makes machine name {clashes[0]!r}, which {owners[clashes[0]]} "
                                               "has too")
        for name in names:
            owners.setdefault(name, owner)


def _pki(sections: Sections) -> Iterator[Finding]:
    pki = sections.pki
    if pki is None or not sections.known((*PKI, "certValidity")):
        return
    if pki.cert_validity < MIN_CERT_VALIDITY:
        yield Finding((*PKI, "certValidity"), f"must be at least {format_duration(MIN_CERT_VALIDITY)}; got "
                                              f"{format_duration(pki.cert_validity)}")
    if sections.known((*PKI, "caValidity")) and pki.cert_validity > pki.ca_validity:
        field = "certValidity" if _given(pki, "cert_validity") else "caValidity"
        yield Finding((*PKI, field), f"certValidity {format_duration(pki.cert_validity)} is longer than "
                                     f"caValidity {format_duration(pki.ca_validity)}")
