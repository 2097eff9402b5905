"""CSR signer for ``kubernetes.io/kube-apiserver-client-kubelet``: approved requests get a client certificate
from the cluster CA (``cluster_signing_cert_file``/``cluster_signing_key_file``, an RSA, ECDSA or Ed25519 key),
as Kubernetes' csrsigning controller issues them:

- the request is checked again as the approver checks it (a human may have approved anything); one that does not
  fit the signer gets a ``Failed`` condition (``SignerValidationFailure``) instead of a certificate;
- the certificate has the requested subject and public key, a random serial, key usages from the request and the
  client-auth extended usage, is not a CA, names the CA's key as its authority key;
- it is valid from a little before now (clock skew) for ``cluster_signing_duration`` — or the request's shorter
  ``spec.expirationSeconds`` (at least 10 minutes) — but never beyond the CA's own expiry.

Without signing files the controller signs nothing (and says so once); unreadable files are a startup error.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from provisioner.services.api.status import ApiError
from provisioner.services.client import ReconcileLoop
from provisioner.services.client.informer import Obj
from provisioner.services.controllers.base import ControllerContext
from provisioner.services.controllers.csrapproval import (
    CSRS,
    KUBELET_CLIENT_SIGNER,
    InvalidRequest,
    has_condition,
    parse_request,
    validate_kubelet_client_request,
)

log = logging.getLogger("controllers.csrsigning")

MIN_EXPIRATION = timedelta(minutes=10)  # Kubernetes' floor for spec.expirationSeconds
MAX_BACKDATE = timedelta(minutes=5)

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class CertificateAuthority:
    certificate: x509.Certificate
    key: SigningKey

    @classmethod
    def load(cls, cert_file: str, key_file: str) -> CertificateAuthority:
        try:
            certificate = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        except (OSError, ValueError) as err:
            raise ValueError(f"cluster signing certificate {cert_file}: {err}") from None
        try:
            key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(f"cluster signing key {key_file}: {err}") from None
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise ValueError(f"cluster signing key {key_file}: unsupported key type {type(key).__name__}")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
                certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError(f"cluster signing key {key_file} does not belong to certificate {cert_file}")
        return cls(certificate, key)

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            subject_key_id = self.certificate.extensions.get_extension_for_oid(
                ExtensionOID.SUBJECT_KEY_IDENTIFIER).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())  # type: ignore[arg-type]
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(subject_key_id)

    def sign_client_certificate(self, request: x509.CertificateSigningRequest, usages: list[str],
                                duration: timedelta, now: datetime | None = None) -> x509.Certificate:
        now = now or datetime.now(UTC)
        not_after = min(now + duration, self.certificate.not_valid_after_utc)
        not_before = now - min(MAX_BACKDATE, duration / 10)
        builder = (
            x509.CertificateBuilder()
            .subject_name(request.subject)
            .issuer_name(self.certificate.subject)
            .public_key(request.public_key())  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(usages), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        algorithm = None if isinstance(self.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        return builder.sign(self.key, algorithm)  # type: ignore[arg-type]


def _key_usage(usages: list[str]) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature="digital signature" in usages, content_commitment=False,
                         key_encipherment="key encipherment" in usages, data_encipherment=False,
                         key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                         decipher_only=False)


def requested_duration(csr: Obj, default: timedelta) -> timedelta:
    """The signer's duration, shortened to ``spec.expirationSeconds`` if asked (but not below ten minutes)."""
    seconds = (csr.get("spec") or {}).get("expirationSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return default
    return min(default, max(timedelta(seconds=seconds), MIN_EXPIRATION))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CSRSigningController:
    name = "csr-signer"

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        options = ctx.options
        self.duration = timedelta(seconds=options.cluster_signing_duration)
        self.authority: CertificateAuthority | None = None
        if options.cluster_signing_cert_file and options.cluster_signing_key_file:
            self.authority = CertificateAuthority.load(options.cluster_signing_cert_file,
                                                       options.cluster_signing_key_file)
        self.csrs = ctx.informers.informer(CSRS)
        self.loop = ReconcileLoop(self.name, self.reconcile, workers=options.workers, informers=[self.csrs])
        self.loop.enqueue_all(self.csrs)

    async def run(self) -> None:
        if self.authority is None:
            log.info("%s not running: no cluster signing certificate and key configured "
                     "(cluster_signing_cert_file / cluster_signing_key_file)", self.name)
            await asyncio.Event().wait()  # idle until cancelled: controllers run until the manager stops them
        log.info("signing %s certificates with CA %s", KUBELET_CLIENT_SIGNER,
                 self.authority.certificate.subject.rfc4514_string())
        await self.loop.run()

    async def reconcile(self, name: str) -> None:
        csr = self.csrs.store.get(name)
        if csr is None or not self._wants_certificate(csr):
            return
        assert self.authority is not None
        spec = csr.get("spec") or {}
        usages = list(spec.get("usages") or [])
        try:
            request = parse_request(csr)
            validate_kubelet_client_request(request, usages)
        except InvalidRequest as err:
            await self._fail(csr, str(err))
            return
        certificate = self.authority.sign_client_certificate(request, usages, requested_duration(csr, self.duration))
        pem = certificate.public_bytes(serialization.Encoding.PEM)
        issued = copy.deepcopy(csr)
        issued.setdefault("status", {})["certificate"] = base64.b64encode(pem).decode()
        await self._write_status(issued)
        log.info("signed CSR %s for %s, valid until %s", name, request.subject.rfc4514_string(),
                 certificate.not_valid_after_utc.isoformat())

    @staticmethod
    def _wants_certificate(csr: Obj) -> bool:
        spec, status = csr.get("spec") or {}, csr.get("status") or {}
        return spec.get("signerName") == KUBELET_CLIENT_SIGNER and has_condition(csr, "Approved") and \
            not has_condition(csr, "Denied") and not has_condition(csr, "Failed") and not status.get("certificate")

    async def _fail(self, csr: Obj, message: str) -> None:
        log.warning("CSR %s cannot be signed by %s: %s", csr["metadata"]["name"], KUBELET_CLIENT_SIGNER, message)
        failed = copy.deepcopy(csr)
        conditions: list[dict[str, Any]] = failed.setdefault("status", {}).setdefault("conditions", [])
        now = _now()
        conditions.append({"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                           "message": message, "lastUpdateTime": now, "lastTransitionTime": now})
        await self._write_status(failed)

    async def _write_status(self, csr: Obj) -> None:
        try:
            await self.client.update(CSRS, csr, subresource="status")
        except ApiError as err:
            if err.code != 404:
                raise
