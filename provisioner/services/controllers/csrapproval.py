"""CSR approver for kubelet client certificates (Kubernetes' csrapproving controller with the kubeadm bindings
that let bootstrap tokens and nodes have their client certificates auto-approved).

A CertificateSigningRequest is approved — condition ``Approved``/``AutoApproved`` through the ``approval``
subresource — only if all of these hold:

- ``spec.signerName`` is ``kubernetes.io/kube-apiserver-client-kubelet``;
- the PEM request is well formed and self-signed, with subject ``O=system:nodes`` (only that) and
  ``CN=system:node:<name>``, no subject alternative names;
- ``spec.usages`` are exactly the kubelet client ones: digital signature and client auth, plus key encipherment
  for RSA keys;
- whoever created it (``spec.username``/``groups``, recorded by the apiserver) is a bootstrap token
  (``system:bootstrap:<id>`` in ``system:bootstrappers``) — a node joining — or the very node named in the request
  (``system:node:<name>`` in ``system:nodes``) renewing its certificate.

Anything else is left alone (not denied): another approver or a human may decide. The request checks here are
shared with the signer, which repeats them before issuing anything.
"""

from __future__ import annotations

import base64
import copy
import logging
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext

log = logging.getLogger("controllers.csrapproval")

CSRS = resources.lookup("certificates.k8s.io", "v1", "certificatesigningrequests")
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
USAGES_ANY_KEY = frozenset({"digital signature", "client auth"})
USAGES_RSA_KEY = frozenset({"digital signature", "key encipherment", "client auth"})
BOOTSTRAP_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."
SELF_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."


class InvalidRequest(ValueError):
    """A CSR whose content does not fit the kubelet client signer."""


def has_condition(csr: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status", "True") == "True"
               for c in (csr.get("status") or {}).get("conditions") or [])


def is_settled(csr: Obj) -> bool:
    """Decided already (approved, denied or failed) or issued: nothing for an approver to do."""
    return any(has_condition(csr, kind) for kind in ("Approved", "Denied", "Failed")) or \
        bool((csr.get("status") or {}).get("certificate"))


def parse_request(csr: Obj) -> x509.CertificateSigningRequest:
    """The PEM request of ``spec.request`` (base64 in JSON), signature checked."""
    try:
        pem = base64.b64decode((csr.get("spec") or {}).get("request") or "", validate=True)
        request = x509.load_pem_x509_csr(pem)
    except ValueError as err:
        raise InvalidRequest(f"cannot parse the certificate request: {err}") from None
    if not request.is_signature_valid:
        raise InvalidRequest("the certificate request's signature is invalid")
    return request


def _subject_values(request: x509.CertificateSigningRequest, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in request.subject.get_attributes_for_oid(oid)]


def validate_kubelet_client_request(request: x509.CertificateSigningRequest, usages: list[str]) -> str:
    """Kubernetes' ValidateKubeletClientCSR; returns the node's user name (the CN)."""
    if _subject_values(request, NameOID.ORGANIZATION_NAME) != [NODES_GROUP]:
        raise InvalidRequest(f"subject organization is not {NODES_GROUP}")
    try:
        request.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    except x509.ExtensionNotFound:
        pass
    else:
        raise InvalidRequest("subjectAltNames are not allowed")
    common_names = _subject_values(request, NameOID.COMMON_NAME)
    if len(common_names) != 1 or not common_names[0].startswith(NODE_USER_PREFIX) or \
            common_names[0] == NODE_USER_PREFIX:
        raise InvalidRequest(f"subject common name does not begin with {NODE_USER_PREFIX}")
    allowed = [USAGES_ANY_KEY] + ([USAGES_RSA_KEY] if isinstance(request.public_key(), rsa.RSAPublicKey) else [])
    if len(usages) != len(set(usages)) or set(usages) not in allowed:
        raise InvalidRequest(f"usages did not match {sorted(USAGES_ANY_KEY)}"
                             + (f" or {sorted(USAGES_RSA_KEY)}" if len(allowed) > 1 else ""))
    return common_names[0]


def approval_message(csr: Obj, node_user: str) -> str | None:
    """Why the requester may have this certificate auto-approved, or None if they may not."""
    spec = csr.get("spec") or {}
    username, groups = spec.get("username", ""), spec.get("groups") or []
    if username.startswith(BOOTSTRAP_USER_PREFIX) and BOOTSTRAPPERS_GROUP in groups:
        return BOOTSTRAP_MESSAGE
    if username == node_user and NODES_GROUP in groups:
        return SELF_MESSAGE
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CSRApprovingController:
    name = "csr-approver"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.csrs = ctx.informers.informer(CSRS)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=ctx.options.workers, informers=[self.csrs])
        self.loop.enqueue_all(self.csrs)

    async def run(self) -> None:
        await self.loop.run()

    async def reconcile(self, name: str) -> None:
        csr = self.csrs.store.get(name)
        if csr is None or is_settled(csr) or (csr.get("spec") or {}).get("signerName") != KUBELET_CLIENT_SIGNER:
            return
        try:
            request = parse_request(csr)
            node_user = validate_kubelet_client_request(request, list((csr.get("spec") or {}).get("usages") or []))
        except InvalidRequest as err:
            log.info("CSR %s is not a kubelet client request we approve: %s", name, err)
            return
        message = approval_message(csr, node_user)
        if message is None:
            log.info("CSR %s for %s was requested by %s: not auto-approved", name, node_user,
                     (csr.get("spec") or {}).get("username"))
            return
        await self._approve(csr, message)

    async def _approve(self, csr: Obj, message: str) -> None:
        approved = copy.deepcopy(csr)
        conditions: list[dict[str, Any]] = approved.setdefault("status", {}).setdefault("conditions", [])
        now = _now()
        conditions.append({"type": "Approved", "status": "True", "reason": "AutoApproved", "message": message,
                           "lastUpdateTime": now, "lastTransitionTime": now})
        try:
            await self.client.update(CSRS, approved, subresource="approval")
        except ApiError as err:
            if err.code == 404:
                return
            raise  # a conflict: the informer brings the newer version and we look again
        log.info("approved CSR %s: %s", csr["metadata"]["name"], message)
