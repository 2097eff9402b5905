"""TLS bootstrap, as the kubelet's ``--bootstrap-kubeconfig`` does it.

When ``--kubeconfig`` is missing, unreadable, or holds no client certificate that is still valid, the kubelet
  1. makes an ECDSA P-256 key and a certificate request for ``CN=system:node:<node>, O=system:nodes``;
  2. posts it as a CertificateSigningRequest (signer ``kubernetes.io/kube-apiserver-client-kubelet``, usages
     digital signature + client auth) with the bootstrap token, and waits until the csrapproval controller has
     approved it and the csrsigning controller has issued the certificate (Denied or Failed end the wait);
  3. writes certificate and key to ``<cert-dir>/kubelet-client-<time>.pem`` (0600), points the symlink
     ``kubelet-client-current.pem`` at it, and writes ``--kubeconfig`` (0600): the bootstrap kubeconfig's server
     and CA, with that file as client certificate and key.
From then on only ``--kubeconfig`` is used; a restart with a valid certificate makes no new request.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.client import (
    ApiClient,
    ClientConfig,
    ConfigError,
    Handler,
    Informer,
    until_available,
)

log = logging.getLogger("kubelet.bootstrap")

CSRS = resources.lookup("certificates.k8s.io", "v1", "certificatesigningrequests")
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT_USAGES = ("digital signature", "client auth")
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
CURRENT_CERT = "kubelet-client-current.pem"
WAIT_LOG_SECONDS = 10.0

Obj = dict[str, Any]


class BootstrapError(Exception):
    """The bootstrap cannot succeed (refused credentials, a denied request, unusable files); the message says why."""


def client_certificate_problem(kubeconfig: Path, now: datetime | None = None) -> str:
    """Why ``kubeconfig`` cannot be used as it is ("" if it can): missing, unreadable, no client certificate, or
    one that has expired."""
    if not kubeconfig.exists():
        return f"{kubeconfig} does not exist"
    try:
        config = ClientConfig.from_kubeconfig(kubeconfig)
        certificates = x509.load_pem_x509_certificates(config.client_cert_pem or b"")
    except (ConfigError, ValueError) as err:
        return f"{kubeconfig} holds no usable client certificate ({err})"
    now = now or datetime.now(UTC)
    expired = [c for c in certificates if c.not_valid_after_utc <= now]
    if expired:
        return f"the client certificate of {kubeconfig} expired {expired[0].not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    return ""


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def certificate_request(node: str, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The PEM request the csrapproval controller approves for ``node``."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, NODES_GROUP),
                         x509.NameAttribute(NameOID.COMMON_NAME, NODE_USER_PREFIX + node)])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM)


def csr_object(request_pem: bytes) -> Obj:
    return {
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "node-csr-"},
        "spec": {"request": base64.b64encode(request_pem).decode(), "signerName": KUBELET_CLIENT_SIGNER,
                 "usages": list(CLIENT_USAGES)},
    }  # fmt: skip


def issued_certificate(csr: Obj) -> bytes | None:
    """The PEM certificate once issued; None while waiting; BootstrapError if denied or failed."""
    name = (csr.get("metadata") or {}).get("name", "")
    status = csr.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") in ("Denied", "Failed") and condition.get("status", "True") == "True":
            raise BootstrapError(f"CertificateSigningRequest {name} was {condition['type'].lower()}: "
                                 f"{condition.get('reason', '')}: {condition.get('message', '')}")
    if status.get("certificate"):
        return base64.b64decode(status["certificate"])
    return None


async def request_certificate(client: ApiClient, request_pem: bytes) -> bytes:
    """Post the request and wait until it is issued, logging every WAIT_LOG_SECONDS while nothing happens."""
    try:
        created = await until_available(lambda: client.create(CSRS, csr_object(request_pem)))
    except ApiError as err:
        if err.code == 401:
            raise BootstrapError("the apiserver refused the bootstrap credentials (401 Unauthorized): is the "
                                 "bootstrap token in --bootstrap-kubeconfig valid and not expired?") from None
        raise BootstrapError(f"cannot create a CertificateSigningRequest: {err.code} {err.message}") from None
    name = created["metadata"]["name"]
    log.info("created CertificateSigningRequest %s; waiting for it to be approved and issued", name)
    outcome: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def seen(csr: Obj) -> None:
        if outcome.done():
            return
        try:
            certificate = issued_certificate(csr)
        except BootstrapError as err:
            outcome.set_exception(err)
            return
        if certificate is not None:
            outcome.set_result(certificate)

    def deleted(csr: Obj) -> None:
        if not outcome.done():
            outcome.set_exception(BootstrapError(f"CertificateSigningRequest {name} was deleted before it was "
                                                 "issued"))

    informer = Informer(client, CSRS, field_selector=f"metadata.name={name}")
    informer.add_handler(Handler(on_add=seen, on_update=lambda old, new: seen(new), on_delete=deleted))
    watching = asyncio.create_task(informer.run(), name=f"watch-{name}")
    try:
        while True:
            done, _ = await asyncio.wait({outcome}, timeout=WAIT_LOG_SECONDS)
            if done:
                certificate = outcome.result()
                log.info("CertificateSigningRequest %s issued", name)
                return certificate
            log.info("still waiting for CertificateSigningRequest %s to be approved and issued", name)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)


def check_certificate(certificate_pem: bytes, key: ec.EllipticCurvePrivateKey, node: str) -> x509.Certificate:
    """The issued certificate must be for our key and our node: anything else would fail every request later."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError as err:
        raise BootstrapError(f"the issued certificate cannot be read: {err}") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    ours = key.public_key().public_bytes(serialization.Encoding.DER, spki)
    if certificate.public_key().public_bytes(serialization.Encoding.DER, spki) != ours:
        raise BootstrapError("the issued certificate is not for the key we generated")
    names = [a.value for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [NODE_USER_PREFIX + node]:
        raise BootstrapError(f"the issued certificate is for {names}, not {NODE_USER_PREFIX + node}")
    return certificate


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, readable by the owner only (0600) from the first byte on."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_client_certificate(cert_dir: Path, certificate_pem: bytes, key: ec.EllipticCurvePrivateKey,
                             now: datetime | None = None) -> Path:
    """``kubelet-client-<time>.pem`` (certificate, then key) and the ``kubelet-client-current.pem`` symlink to it,
    which is returned."""
    cert_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = now or datetime.now(UTC)
    target = cert_dir / f"kubelet-client-{now:%Y-%m-%d-%H-%M-%S}.pem"
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    write_private_file(target, certificate_pem.rstrip(b"\n") + b"\n" + key_pem)
    current = cert_dir / CURRENT_CERT
    link = cert_dir / f".{CURRENT_CERT}.tmp"
    link.unlink(missing_ok=True)
    link.symlink_to(target.name)  # relative: the directory may be moved as a whole
    os.replace(link, current)
    return current


def kubeconfig_document(bootstrap: ClientConfig, client_pem: Path) -> Obj:
    """The kubelet's kubeconfig, shaped like the upstream kubelet writes it."""
    cluster: Obj = {"server": bootstrap.server}
    if bootstrap.ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(bootstrap.ca_pem).decode()
    if bootstrap.insecure_skip_verify:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "contexts": [{"name": "default-context",
                      "context": {"cluster": "default-cluster", "namespace": "default", "user": "default-auth"}}],
        "current-context": "default-context",
        "users": [{"name": "default-auth",
                   "user": {"client-certificate": str(client_pem), "client-key": str(client_pem)}}],
    }  # fmt: skip


async def ensure_client_credentials(kubeconfig: Path, bootstrap_kubeconfig: Path | None, cert_dir: Path,
                                    node: str, user_agent: str) -> None:
    """Leave a usable ``kubeconfig`` in place, running the TLS bootstrap if it needs one."""
    problem = client_certificate_problem(kubeconfig)
    if not problem:
        log.info("using the client certificate of %s", kubeconfig)
        return
    if bootstrap_kubeconfig is None:
        if not kubeconfig.exists():
            raise BootstrapError(f"--kubeconfig {kubeconfig} does not exist and no --bootstrap-kubeconfig is given")
        log.warning("%s; using it as it is (no --bootstrap-kubeconfig to request a new certificate)", problem)
        return
    log.info("%s: TLS bootstrap with %s", problem, bootstrap_kubeconfig)
    try:
        bootstrap = ClientConfig.from_kubeconfig(bootstrap_kubeconfig)
    except ConfigError as err:
        raise BootstrapError(f"--bootstrap-kubeconfig: {err}") from None
    key = new_private_key()
    async with ApiClient(bootstrap, user_agent=user_agent) as client:
        certificate_pem = await request_certificate(client, certificate_request(node, key))
    certificate = check_certificate(certificate_pem, key, node)
    current = write_client_certificate(cert_dir, certificate_pem, key)
    log.info("client certificate for %s written to %s, valid until %s UTC", certificate.subject.rfc4514_string(),
             current.resolve(), f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M}")
    kubeconfig.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(kubeconfig, yaml.safe_dump(kubeconfig_document(bootstrap, current), sort_keys=False).encode())
    log.info("wrote %s", kubeconfig)
