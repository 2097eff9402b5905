"""The certificates a cluster needs, as named profiles over CertificateAuthority.issue."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from provisioner.errors import PKIError
from provisioner.pki.ca import (
    LEAF_VALIDITY,
    CertificateAuthority,
    IpInput,
    IssuedCert,
    SubjectAltNames,
    Usage,
)

DEFAULT_CLUSTER_DOMAIN = "cluster.local"
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"


@dataclass(frozen=True)
class ClientIdentity:
    """Who a client certificate authenticates as: CN is the user name, each O a group."""

    user: str
    groups: tuple[str, ...] = ()


# The identities kubeadm gives the control-plane clients; the apiserver authorizes by these names.
ADMIN = ClientIdentity("kubernetes-admin", ("system:masters",))
KUBE_SCHEDULER = ClientIdentity("system:kube-scheduler")
KUBE_CONTROLLER_MANAGER = ClientIdentity("system:kube-controller-manager")
APISERVER_KUBELET_CLIENT = ClientIdentity("kube-apiserver-kubelet-client", ("system:masters",))


def kubernetes_service_ip(
    service_cidr: str = DEFAULT_SERVICE_CIDR,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The ClusterIP of the `kubernetes` Service: the first address of the service range (10.96.0.1)."""
    try:
        network = ipaddress.ip_network(service_cidr, strict=False)
    except ValueError:
        raise PKIError(f"invalid service CIDR {service_cidr!r}") from None
    return network.network_address + 1


def apiserver_sans(
    ip_addresses: Iterable[IpInput] = (),
    dns_names: Iterable[str] = (),
    service_ip: IpInput | None = None,
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN,
) -> SubjectAltNames:
    """Every name a client may use to reach the apiserver: loopback, the machines' IPs and names given by the
    caller, the `kubernetes` Service IP, and the in-cluster names of that Service."""
    service_names = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
    ]
    ips = ["127.0.0.1", service_ip if service_ip is not None else kubernetes_service_ip(), *ip_addresses]
    return SubjectAltNames.of(dns_names=["localhost", *service_names, *dns_names], ip_addresses=ips)


def issue_apiserver_serving_cert(
    ca: CertificateAuthority, sans: SubjectAltNames, validity: dt.timedelta = LEAF_VALIDITY
) -> IssuedCert:
    return ca.issue("kube-apiserver", usages=(Usage.SERVER,), sans=sans, validity=validity)


def issue_client_cert(
    ca: CertificateAuthority, identity: ClientIdentity, validity: dt.timedelta = LEAF_VALIDITY
) -> IssuedCert:
    return ca.issue(identity.user, organizations=identity.groups, usages=(Usage.CLIENT,), validity=validity)
