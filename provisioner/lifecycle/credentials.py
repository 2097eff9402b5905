"""A cluster's PKI on the operator's machine (kubeadm's set): the CA, the apiserver's serving certificate, the
control plane's client certificates, and the admin kubeconfig for the real kubectl. Kubelets are not here:
they get their client certificates through TLS bootstrap on their own hosts.

Everything is load-or-create: an existing certificate that the CA issued, that is not about to expire and that
still covers what the spec asks (the apiserver's names and addresses) is kept, so re-runs change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from provisioner.errors import PKIError
from provisioner.lifecycle.state import ClusterState
from provisioner.pki import (
    ADMIN,
    APISERVER_KUBELET_CLIENT,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    CertificateAuthority,
    ClientIdentity,
    IssuedCert,
    SubjectAltNames,
    apiserver_sans,
    ensure_private_dir,
    expiry_of,
    issue_apiserver_serving_cert,
    issue_client_cert,
    kubeconfig,
    load_issued_cert,
    write_kubeconfig,
)
from provisioner.pki.reuse import load_or_create_ca, renewal_due
from provisioner.spec import Cluster

# File stem -> identity of each client certificate the control plane hosts receive.
CLIENT_CERTS: dict[str, ClientIdentity] = {
    "admin": ADMIN,
    "apiserver-kubelet-client": APISERVER_KUBELET_CLIENT,
    "kube-scheduler": KUBE_SCHEDULER,
    "kube-controller-manager": KUBE_CONTROLLER_MANAGER,
}
# Every leaf of the cluster PKI, in the order they are issued.
LEAF_STEMS: tuple[str, ...] = ("apiserver", *CLIENT_CERTS)


@dataclass(frozen=True)
class ClusterPKI:
    directory: Path
    ca: CertificateAuthority
    issued: tuple[str, ...]  # stems (re-)issued by this call; empty on a no-op

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"


@dataclass(frozen=True)
class PlannedCertificate:
    """A certificate the pki phase would (re-)issue, and why."""

    stem: str
    reason: str


@dataclass(frozen=True)
class _Leaf:
    stem: str
    issue: Callable[[], IssuedCert]
    mismatch: Callable[[x509.Certificate], str | None]  # why a valid certificate no longer fits the spec


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
    ca = _load_or_create_ca(cluster, directory)
    issued = []
    for leaf in _leaves(cluster, ca):
        if _leaf_problem(ca, directory, leaf) is not None:
            leaf.issue().save(directory / f"{leaf.stem}.crt", directory / f"{leaf.stem}.key")
            issued.append(leaf.stem)
    return ClusterPKI(directory, ca, tuple(issued))


def planned_pki(cluster: Cluster, state: ClusterState) -> list[PlannedCertificate]:
    """What ensure_cluster_pki would issue now, by the same rule, without writing anything. Raises PKIError
    where ensure_cluster_pki would refuse (half a CA, a CA about to expire)."""
    directory = state.pki_dir
    if not (directory / "ca.crt").exists() and not (directory / "ca.key").exists():
        return [PlannedCertificate("ca", "missing (a new cluster CA)"),
                *(PlannedCertificate(stem, "missing") for stem in LEAF_STEMS)]
    ca = _load_or_create_ca(cluster, directory)  # only loads: the CA exists (or half of it, an error)
    planned = []
    for leaf in _leaves(cluster, ca):
        reason = _leaf_problem(ca, directory, leaf)
        if reason is not None:
            planned.append(PlannedCertificate(leaf.stem, reason))
    return planned


def _leaf_problem(ca: CertificateAuthority, directory: Path, leaf: _Leaf) -> str | None:
    """Why the leaf must be (re-)issued, or None to keep it: an existing certificate is kept when the CA
    issued it, it is not about to expire and it still fits the spec."""
    cert_path, key_path = directory / f"{leaf.stem}.crt", directory / f"{leaf.stem}.key"
    if not cert_path.exists() or not key_path.exists():
        return "missing"
    try:
        existing = load_issued_cert(cert_path, key_path)
    except PKIError as e:
        return f"unreadable ({e})"  # a leaf is cheap to re-issue
    if not ca.issued(existing.cert):
        return "not issued by the cluster CA"
    if renewal_due(existing.cert):
        return f"expires {expiry_of(existing.cert).not_after:%Y-%m-%d}"
    return leaf.mismatch(existing.cert)


def _load_or_create_ca(cluster: Cluster, directory: Path) -> CertificateAuthority:
    return load_or_create_ca(directory / "ca.crt", directory / "ca.key", f"provision-{cluster.name}-ca",
                             cluster.pki.ca_validity)


def _leaves(cluster: Cluster, ca: CertificateAuthority) -> list[_Leaf]:
    validity = cluster.pki.cert_validity
    sans = wanted_apiserver_sans(cluster)
    leaves = [_Leaf("apiserver", lambda: issue_apiserver_serving_cert(ca, sans, validity),
                    lambda cert: _sans_mismatch(cert, sans))]
    for stem, identity in CLIENT_CERTS.items():
        leaves.append(_Leaf(stem, lambda identity=identity: issue_client_cert(ca, identity, validity),
                            lambda cert, identity=identity: _subject_mismatch(cert, identity)))
    assert tuple(leaf.stem for leaf in leaves) == LEAF_STEMS
    return leaves


def apiserver_url(cluster: Cluster) -> str:
    return f"https://{cluster.control_planes[0].address}:{cluster.network.apiserver_port}"


def write_admin_kubeconfig(cluster: Cluster, state: ClusterState, pki: ClusterPKI) -> Path:
    admin = load_issued_cert(pki.directory / "admin.crt", pki.directory / "admin.key")
    config = kubeconfig(cluster.name, apiserver_url(cluster), pki.ca.cert_pem, ADMIN.user,
                        client_cert_pem=admin.cert_pem, client_key_pem=admin.key_pem)
    write_kubeconfig(state.admin_kubeconfig, config)
    return state.admin_kubeconfig


def _sans_mismatch(cert: x509.Certificate, wanted: SubjectAltNames) -> str | None:
    has = SubjectAltNames.from_certificate(cert)
    if has.covers(wanted):
        return None
    missing = [*(n for n in wanted.dns_names if n not in has.dns_names),
               *(str(ip) for ip in wanted.ip_addresses if ip not in has.ip_addresses)]
    return f"does not cover {', '.join(missing)}"


def _subject_mismatch(cert: x509.Certificate, identity: ClientIdentity) -> str | None:
    names = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    groups = tuple(a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME))
    if names and names[0].value == identity.user and groups == identity.groups:
        return None
    return f"subject is not {identity.user} ({', '.join(identity.groups) or 'no groups'})"
