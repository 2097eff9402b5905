"""A cluster's PKI on the operator's machine (kubeadm's set): the CA, the apiserver's serving certificate, the
control plane's client certificates, and the admin kubeconfig for the real kubectl. Kubelets are not here:
they get their client certificates through TLS bootstrap on their own hosts.

Everything is load-or-create: an existing certificate that the CA issued, that is not about to expire and that
still covers what the spec asks (the apiserver's names and addresses) is kept, so re-runs change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from provisioner.lifecycle.state import ClusterState
from provisioner.pki import (
    ADMIN,
    APISERVER_KUBELET_CLIENT,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    CertificateAuthority,
    ClientIdentity,
    SubjectAltNames,
    apiserver_sans,
    ensure_private_dir,
    issue_apiserver_serving_cert,
    issue_client_cert,
    kubeconfig,
    load_issued_cert,
    write_kubeconfig,
)
from provisioner.pki.reuse import ensure_leaf, load_or_create_ca
from provisioner.spec import Cluster

# File stem -> identity of each client certificate the control plane hosts receive.
CLIENT_CERTS: dict[str, ClientIdentity] = {
    "admin": ADMIN,
    "apiserver-kubelet-client": APISERVER_KUBELET_CLIENT,
    "kube-scheduler": KUBE_SCHEDULER,
    "kube-controller-manager": KUBE_CONTROLLER_MANAGER,
}


@dataclass(frozen=True)
class ClusterPKI:
    directory: Path
    ca: CertificateAuthority
    issued: tuple[str, ...]  # stems (re-)issued by this call; empty on a no-op

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"


def wanted_apiserver_sans(cluster: Cluster) -> SubjectAltNames:
    control_planes = cluster.control_planes
    return apiserver_sans(
        ip_addresses=[m.address for m in control_planes],
        dns_names=[m.name for m in control_planes],
        service_ip=cluster.kubernetes_service_ip,
        cluster_domain=cluster.network.cluster_domain,
    )


def ensure_cluster_pki(cluster: Cluster, state: ClusterState) -> ClusterPKI:
    directory = ensure_private_dir(state.pki_dir)
    ca = load_or_create_ca(directory / "ca.crt", directory / "ca.key", f"provision-{cluster.name}-ca",
                           cluster.pki.ca_validity)
    validity = cluster.pki.cert_validity
    sans = wanted_apiserver_sans(cluster)
    issued = []
    if ensure_leaf(ca, directory / "apiserver.crt", directory / "apiserver.key",
                   issue=lambda: issue_apiserver_serving_cert(ca, sans, validity),
                   fits=lambda cert: SubjectAltNames.from_certificate(cert).covers(sans)):
        issued.append("apiserver")
    for stem, identity in CLIENT_CERTS.items():
        if ensure_leaf(ca, directory / f"{stem}.crt", directory / f"{stem}.key",
                       issue=lambda identity=identity: issue_client_cert(ca, identity, validity),
                       fits=lambda cert, identity=identity: _subject_is(cert, identity)):
            issued.append(stem)
    return ClusterPKI(directory, ca, tuple(issued))


def apiserver_url(cluster: Cluster) -> str:
    return f"https://{cluster.control_planes[0].address}:{cluster.network.apiserver_port}"


def write_admin_kubeconfig(cluster: Cluster, state: ClusterState, pki: ClusterPKI) -> Path:
    admin = load_issued_cert(pki.directory / "admin.crt", pki.directory / "admin.key")
    config = kubeconfig(cluster.name, apiserver_url(cluster), pki.ca.cert_pem, ADMIN.user,
                        client_cert_pem=admin.cert_pem, client_key_pem=admin.key_pem)
    write_kubeconfig(state.admin_kubeconfig, config)
    return state.admin_kubeconfig


def _subject_is(cert: x509.Certificate, identity: ClientIdentity) -> bool:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    groups = tuple(a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME))
    return bool(names) and names[0].value == identity.user and groups == identity.groups
