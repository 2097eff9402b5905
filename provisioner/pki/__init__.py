"""Cluster PKI for the operator tool: CA, leaf certificates, CA pins, bootstrap tokens, kubeconfigs.

Node services never import this package (see design.md §5); they only read the files it writes.
"""

from provisioner.pki.ca import (
    CA_VALIDITY,
    LEAF_VALIDITY,
    CertificateAuthority,
    IssuedCert,
    SubjectAltNames,
    Usage,
    load_issued_cert,
    new_private_key,
)
from provisioner.pki.certs import (
    ADMIN,
    APISERVER_KUBELET_CLIENT,
    DEFAULT_CLUSTER_DOMAIN,
    DEFAULT_SERVICE_CIDR,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    ClientIdentity,
    apiserver_sans,
    issue_apiserver_serving_cert,
    issue_client_cert,
    kubernetes_service_ip,
)
from provisioner.pki.expiry import Expiry, expiry_of, expiry_of_file
from provisioner.pki.files import ensure_private_dir, write_atomic, write_private_file, write_public_file
from provisioner.pki.kubeconfig import kubeconfig, write_kubeconfig
from provisioner.pki.pem import (
    certificate_from_pem,
    certificate_to_pem,
    private_key_from_pem,
    private_key_to_pem,
)
from provisioner.pki.pin import check_pin_format, pin_matches, spki_pin
from provisioner.pki.tokens import BootstrapToken, generate_bootstrap_token, parse_bootstrap_token

__all__ = [
    "ADMIN",
    "APISERVER_KUBELET_CLIENT",
    "CA_VALIDITY",
    "DEFAULT_CLUSTER_DOMAIN",
    "DEFAULT_SERVICE_CIDR",
    "KUBE_CONTROLLER_MANAGER",
    "KUBE_SCHEDULER",
    "LEAF_VALIDITY",
    "BootstrapToken",
    "CertificateAuthority",
    "ClientIdentity",
    "Expiry",
    "IssuedCert",
    "SubjectAltNames",
    "Usage",
    "apiserver_sans",
    "certificate_from_pem",
    "certificate_to_pem",
    "check_pin_format",
    "ensure_private_dir",
    "expiry_of",
    "expiry_of_file",
    "generate_bootstrap_token",
    "issue_apiserver_serving_cert",
    "issue_client_cert",
    "kubeconfig",
    "kubernetes_service_ip",
    "load_issued_cert",
    "new_private_key",
    "parse_bootstrap_token",
    "pin_matches",
    "private_key_from_pem",
    "private_key_to_pem",
    "spki_pin",
    "write_atomic",
    "write_kubeconfig",
    "write_private_file",
    "write_public_file",
]
