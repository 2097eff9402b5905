"""The dev cluster's PKI and admin kubeconfig: generated once, reused while still good."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from provisioner.dev.components import (
    CONTROLLER_MANAGER_NAME,
    LOOPBACK,
    SCHEDULER_NAME,
    SERVICE_CLUSTER_IP_RANGE,
    SIMNODES_NAME,
    LaunchContext,
)
from provisioner.dev.layout import DevPaths
from provisioner.errors import DevClusterError, PKIError
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
    expiry_of,
    issue_apiserver_serving_cert,
    issue_client_cert,
    kubeconfig,
    kubernetes_service_ip,
    load_issued_cert,
    write_kubeconfig,
)

DEV_CLUSTER_NAME = "provision-dev"
# A reused leaf must stay valid for a while; below this it is re-issued on the next `dev up`.
MIN_DAYS_LEFT = 30
# One process plays the kubelet of many nodes, so the Node authorizer's one-node rule cannot fit it: like kwok,
# it acts with cluster-admin rights.
SIMULATED_NODES = ClientIdentity("provision:simulated-nodes", ("system:masters",))
# Each control loop's identity, by the component name its certificate and kubeconfig files carry.
COMPONENT_IDENTITIES: dict[str, ClientIdentity] = {
    SCHEDULER_NAME: KUBE_SCHEDULER,
    CONTROLLER_MANAGER_NAME: KUBE_CONTROLLER_MANAGER,
    SIMNODES_NAME: SIMULATED_NODES,
}


def ensure_pki(paths: DevPaths) -> CertificateAuthority:
    """Load or create the CA; re-issue the apiserver and admin certificates unless the existing ones fit."""
    ca = _load_or_create_ca(paths)
    wanted_sans = dev_apiserver_sans()
    _ensure_leaf(
        ca, paths.apiserver_cert, paths.apiserver_key,
        issue=lambda: issue_apiserver_serving_cert(ca, wanted_sans),
        fits=lambda cert: SubjectAltNames.from_certificate(cert).covers(wanted_sans),
    )  # fmt: skip
    _ensure_leaf(ca, paths.admin_cert, paths.admin_key, issue=lambda: issue_client_cert(ca, ADMIN))
    _ensure_leaf(ca, paths.kubelet_client_cert, paths.kubelet_client_key,
                 issue=lambda: issue_client_cert(ca, APISERVER_KUBELET_CLIENT))
    for component, identity in COMPONENT_IDENTITIES.items():
        _ensure_leaf(ca, paths.client_cert(component), paths.client_key(component),
                     issue=lambda identity=identity: issue_client_cert(ca, identity))
    return ca


def dev_apiserver_sans() -> SubjectAltNames:
    return apiserver_sans(ip_addresses=[LOOPBACK], service_ip=kubernetes_service_ip(SERVICE_CLUSTER_IP_RANGE))


def write_admin_kubeconfig(ctx: LaunchContext, ca: CertificateAuthority) -> Path:
    admin = load_issued_cert(ctx.paths.admin_cert, ctx.paths.admin_key)
    config = kubeconfig(
        DEV_CLUSTER_NAME, ctx.server_url, ca.cert_pem, ADMIN.user,
        client_cert_pem=admin.cert_pem, client_key_pem=admin.key_pem,
    )  # fmt: skip
    write_kubeconfig(ctx.paths.admin_kubeconfig, config)
    return ctx.paths.admin_kubeconfig


def write_component_kubeconfigs(ctx: LaunchContext, ca: CertificateAuthority) -> list[Path]:
    """DIR/<component>.kubeconfig for the scheduler, controller-manager and simulated nodes."""
    written = []
    for component, identity in COMPONENT_IDENTITIES.items():
        cert = load_issued_cert(ctx.paths.client_cert(component), ctx.paths.client_key(component))
        config = kubeconfig(
            DEV_CLUSTER_NAME, ctx.server_url, ca.cert_pem, identity.user,
            client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem,
        )  # fmt: skip
        write_kubeconfig(ctx.paths.kubeconfig(component), config)
        written.append(ctx.paths.kubeconfig(component))
    return written


def _load_or_create_ca(paths: DevPaths) -> CertificateAuthority:
    cert_exists, key_exists = paths.ca_cert.exists(), paths.ca_key.exists()
    if cert_exists and key_exists:
        ca = CertificateAuthority.load(paths.ca_cert, paths.ca_key)
        if expiry_of(ca.cert).days_left < MIN_DAYS_LEFT:
            raise DevClusterError(
                f"{paths.ca_cert}: the dev CA expires {ca.cert.not_valid_after_utc:%Y-%m-%d}; "
                f"remove {paths.pki} to start over with a new CA"
            )
        return ca
    if cert_exists or key_exists:
        # Replacing half a CA would silently invalidate every certificate and kubeconfig issued from it.
        missing = paths.ca_key if cert_exists else paths.ca_cert
        raise DevClusterError(f"{missing}: missing while its pair exists; restore it or remove {paths.pki}")
    ca = CertificateAuthority.generate(common_name=f"{DEV_CLUSTER_NAME}-ca")
    ca.save(paths.ca_cert, paths.ca_key)
    return ca


def _ensure_leaf(
    ca: CertificateAuthority,
    cert_path: Path,
    key_path: Path,
    issue: Callable[[], IssuedCert],
    fits: Callable[[x509.Certificate], bool] = lambda cert: True,
) -> None:
    if cert_path.exists() and key_path.exists():
        try:
            existing = load_issued_cert(cert_path, key_path)
        except PKIError:
            existing = None  # unreadable or mismatched: a leaf is cheap to re-issue
        if existing is not None and _still_good(ca, existing.cert) and fits(existing.cert):
            return
    issue().save(cert_path, key_path)


def _still_good(ca: CertificateAuthority, cert: x509.Certificate) -> bool:
    return ca.issued(cert) and expiry_of(cert).days_left >= MIN_DAYS_LEFT
