"""The cluster spec as frozen models: the sections of ``cluster.yaml`` (validated by pydantic straight from the file,
camelCase aliases, unknown fields forbidden) and the Cluster they make once checked and defaulted.

Attributes are snake_case; the file's spelling is each field's alias. Field defaults here are the static ones;
the defaults that depend on other fields (dnsIP, ssh counts, the provider's own section, absolute key paths) are
applied by ``provisioner.spec.load`` after validation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel

from provisioner.spec.fields import (
    Address,
    Cidr,
    Count,
    Cpus,
    DnsDomain,
    Duration,
    FilePath,
    HostName,
    LabelKey,
    Labels,
    LabelValue,
    MemoryMiB,
    MirrorUrl,
    NonEmptyStr,
    PackageNames,
    Port,
    PortRange,
    ShortName,
    Subnet,
    TokenTtl,
    UserName,
)

API_VERSION = "provision.dev/v1alpha1"
KIND = "Cluster"

ProviderType = Literal["machines", "vagrant", "ssh"]
Role = Literal["control-plane", "worker"]
CONTROL_PLANE = "control-plane"
CONTROL_PLANE_ROLE_LABEL = "node-role.kubernetes.io/control-plane"
# kubectl get nodes shows a node's roles from these labels.
ROLE_LABELS: dict[Role, str] = {"control-plane": CONTROL_PLANE_ROLE_LABEL, "worker": "node-role.kubernetes.io/worker"}
# Provider machines are numbered from .10 of the subnet: .1 is the host's bridge, .2-.9 stay free for the host.
FIRST_MACHINE_OFFSET = 10


class SpecModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel)


class Taint(SpecModel):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


CONTROL_PLANE_TAINT = Taint(key=CONTROL_PLANE_ROLE_LABEL, effect="NoSchedule")


class Host(SpecModel):
    """An existing machine of the ssh provider."""

    name: HostName
    address: Address


class Image(SpecModel):
    suite: Literal["bookworm"] = "bookworm"
    mirror: MirrorUrl = "http://deb.debian.org/debian"
    extra_packages: PackageNames = ()


class MachinesProvider(SpecModel):
    subnet: Subnet = IPv4Network("10.77.0.0/24")
    image: Image = Field(default_factory=Image)


class VagrantProvider(SpecModel):
    box: NonEmptyStr = "debian/bookworm64"
    subnet: Subnet = IPv4Network("192.168.121.0/24")


class SshProvider(SpecModel):
    user: UserName = "root"
    private_key: FilePath
    port: Port = 22


class ProviderSpec(SpecModel):
    type: ProviderType = "machines"
    machines: MachinesProvider | None = None
    vagrant: VagrantProvider | None = None
    ssh: SshProvider | None = None


class NetworkSpec(SpecModel):
    pod_cidr: Cidr = Field(IPv4Network("10.244.0.0/16"), alias="podCIDR")
    service_cidr: Cidr = Field(IPv4Network("10.96.0.0/12"), alias="serviceCIDR")
    node_cidr_mask_size: Annotated[StrictInt, Field(ge=1, le=28)] = Field(24, alias="nodeCIDRMaskSize")
    cluster_domain: DnsDomain = "cluster.local"
    # None only until defaults are applied: then the 10th address of service_cidr.
    dns_ip: Address | None = Field(None, alias="dnsIP")
    apiserver_port: Port = 6443
    node_port_range: PortRange = "30000-32767"


class ControlPlaneSpec(SpecModel):
    count: Annotated[StrictInt, Field(ge=1)] = 1
    store: Literal["sqlite", "etcd"] = "sqlite"
    schedulable: StrictBool = False
    hosts: tuple[Host, ...] = ()
    labels: Labels = Field(default_factory=dict)
    cpus: Cpus = 2
    memory_mib: MemoryMiB = Field(2048, alias="memory")


class NodeGroup(SpecModel):
    name: ShortName
    count: Count = 1
    hosts: tuple[Host, ...] = ()
    labels: Labels = Field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    cpus: Cpus = 2
    memory_mib: MemoryMiB = Field(2048, alias="memory")


class PkiSpec(SpecModel):
    ca_validity: Duration = timedelta(hours=87600)
    cert_validity: Duration = timedelta(hours=8760)


class BootstrapTokenSpec(SpecModel):
    ttl: TokenTtl = timedelta(minutes=10)


class ClusterSpec(SpecModel):
    provider: ProviderSpec = Field(default_factory=ProviderSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    control_plane: ControlPlaneSpec = Field(default_factory=ControlPlaneSpec)
    node_groups: tuple[NodeGroup, ...] = ()
    pki: PkiSpec = Field(default_factory=PkiSpec)
    bootstrap_token: BootstrapTokenSpec = Field(default_factory=BootstrapTokenSpec)


class Metadata(SpecModel):
    name: ShortName


class ClusterFile(SpecModel):
    """The whole file. apiVersion and kind are checked before this model is used (see load.py)."""

    api_version: Literal["provision.dev/v1alpha1"]
    kind: Literal["Cluster"]
    metadata: Metadata
    spec: ClusterSpec = Field(default_factory=ClusterSpec)


def machine_name(cluster: str, role: Role, group: str, index: int) -> str:
    """The name the machines and vagrant providers give the ``index``-th (from 1) member of a group."""
    return f"{cluster}-cp-{index}" if role == "control-plane" else f"{cluster}-{group}-{index}"


@dataclass(frozen=True)
class Machine:
    """One machine of the cluster as the spec plans it: a node once it has joined."""

    name: str
    role: Role
    group: str
    address: IPv4Address
    labels: dict[str, str] = field(hash=False)
    taints: tuple[Taint, ...]
    cpus: int
    memory_mib: int


@dataclass(frozen=True)
class Cluster:
    """A checked, fully defaulted cluster spec."""

    name: str
    # Where the spec was read from, not part of it: equal specs from two files are equal clusters.
    source: Path | None = field(compare=False)
    provider: ProviderSpec
    network: NetworkSpec
    control_plane: ControlPlaneSpec
    node_groups: tuple[NodeGroup, ...]
    pki: PkiSpec
    bootstrap_token: BootstrapTokenSpec

    @property
    def subnet(self) -> IPv4Network | None:
        """The machines' network of the machines and vagrant providers; None for ssh (the hosts have their own)."""
        if self.provider.machines is not None:
            return self.provider.machines.subnet
        if self.provider.vagrant is not None:
            return self.provider.vagrant.subnet
        return None

    @property
    def kubernetes_service_ip(self) -> IPv4Address:
        """The first host of the service CIDR: the ``kubernetes`` Service's ClusterIP."""
        return self.network.service_cidr.network_address + 1

    @cached_property
    def machines(self) -> tuple[Machine, ...]:
        """Every machine: control planes first, then each node group's members in order."""
        machines: list[Machine] = []
        for group, role, pool, taints in self._pools():
            for index in range(pool.count):
                if pool.hosts:
                    name, address = pool.hosts[index].name, pool.hosts[index].address
                else:
                    name = machine_name(self.name, role, group, index + 1)
                    address = self._subnet_address(len(machines))
                machines.append(Machine(name=name, role=role, group=group, address=address,
                                        labels={**pool.labels, ROLE_LABELS[role]: ""}, taints=taints,
                                        cpus=pool.cpus, memory_mib=pool.memory_mib))
        return tuple(machines)

    def _pools(self) -> Iterator[tuple[str, Role, ControlPlaneSpec | NodeGroup, tuple[Taint, ...]]]:
        control_plane = self.control_plane
        yield CONTROL_PLANE, "control-plane", control_plane, () if control_plane.schedulable else (CONTROL_PLANE_TAINT,)
        for group in self.node_groups:
            yield group.name, "worker", group, group.taints

    @property
    def control_planes(self) -> tuple[Machine, ...]:
        return tuple(machine for machine in self.machines if machine.role == "control-plane")

    @property
    def workers(self) -> tuple[Machine, ...]:
        return tuple(machine for machine in self.machines if machine.role == "worker")

    def _subnet_address(self, position: int) -> IPv4Address:
        subnet = self.subnet
        assert subnet is not None, "machines without hosts come from a provider with a subnet"
        return subnet.network_address + FIRST_MACHINE_OFFSET + position
