"""The dev cluster's PKI and admin kubeconfig: generated once, reused while still good."""

from __future__ import annotations

from pathlib import Path

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
    SubjectAltNames,
    apiserver_sans,
    issue_apiserver_serving_cert,
    issue_client_cert,
    kubeconfig,
    kubernetes_service_ip,
    load_issued_cert,
    write_kubeconfig,
)
from provisioner.pki.reuse import ensure_leaf, load_or_create_ca

DEV_CLUSTER_NAME = "provision-dev"
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
    try:
        ca = load_or_create_ca(paths.ca_cert, paths.ca_key, f"{DEV_CLUSTER_NAME}-ca")
    except PKIError as e:
        raise DevClusterError(str(e)) from None
    wanted_sans = dev_apiserver_sans()
    ensure_leaf(
        ca, paths.apiserver_cert, paths.apiserver_key,
        issue=lambda: issue_apiserver_serving_cert(ca, wanted_sans),
        fits=lambda cert: SubjectAltNames.from_certificate(cert).covers(wanted_sans),
    )  # fmt: skip
    ensure_leaf(ca, paths.admin_cert, paths.admin_key, issue=lambda: issue_client_cert(ca, ADMIN))
    ensure_leaf(ca, paths.kubelet_client_cert, paths.kubelet_client_key,
                 issue=lambda: issue_client_cert(ca, APISERVER_KUBELET_CLIENT))
    for component, identity in COMPONENT_IDENTITIES.items():
        ensure_leaf(ca, paths.client_cert(component), paths.client_key(component),
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
