"""Kubelet client CSRs: approved only for bootstrap tokens and for the node itself, signed by the cluster CA with
the requested subject; other signers, forged requesters and bad requests are left alone or failed."""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.services.client import ApiClient, ClientConfig
from provisioner.services.controllers.base import ControllerOptions
from provisioner.services.controllers.csrapproval import CSRApprovingController
from provisioner.services.controllers.csrsigning import (
    CertificateAuthority,
    CSRSigningController,
    requested_duration,
)
from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.controllers.conftest import eventually, idle, resource, running

CSRS = resource("certificatesigningrequests", "certificates.k8s.io")
SECRETS = resource("secrets")
KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT_USAGES = ["digital signature", "client auth"]
BOOTSTRAP_TOKEN = "abcdef.0123456789abcdef"


def make_ca(directory: Path, key: Any, days: int = 3650) -> tuple[str, str, x509.Certificate]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-cluster-ca")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
                   .not_valid_after(now + timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "ca.crt", directory / "ca.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file), certificate


def make_request(common_name: str, organizations: tuple[str, ...] = ("system:nodes",), *, rsa_key: bool = False,
                 dns_name: str = "") -> str:
    key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if dns_name:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
    pem = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return base64.b64encode(pem).decode()


def csr_body(name: str, request: str, *, signer: str = KUBELET_CLIENT,
             usages: list[str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "spec": {"request": request, "signerName": signer, "usages": usages or CLIENT_USAGES}}


async def bootstrap_client(client: ApiClient, apiserver: LocalApiserver) -> ApiClient:
    token_id, secret = BOOTSTRAP_TOKEN.split(".")
    await client.create(SECRETS, {
        "metadata": {"name": f"bootstrap-token-{token_id}"}, "type": "bootstrap.kubernetes.io/token",
        "stringData": {"token-id": token_id, "token-secret": secret, "usage-bootstrap-authentication": "true",
                       "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}}, "kube-system")
    return ApiClient(ClientConfig(server=apiserver.url, token=BOOTSTRAP_TOKEN))


def conditions(csr: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (csr.get("status") or {}).get("conditions") or []}


async def issued(client: ApiClient, name: str) -> dict[str, Any] | None:
    csr = await client.get(CSRS, name)
    return csr if (csr.get("status") or {}).get("certificate") else None


def certificate_of(csr: dict[str, Any]) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))


@pytest.fixture
def ec_ca(tmp_path: Path) -> tuple[str, str, x509.Certificate]:
    return make_ca(tmp_path, ec.generate_private_key(ec.SECP256R1()))


async def test_a_joining_node_gets_a_client_certificate_from_the_cluster_ca(
        client: ApiClient, apiserver: LocalApiserver, ec_ca: tuple[str, str, x509.Certificate]) -> None:
    cert_file, key_file, ca = ec_ca
    options = ControllerOptions(workers=2, cluster_signing_cert_file=cert_file, cluster_signing_key_file=key_file,
                                cluster_signing_duration=30 * 24 * 3600.0)
    async with await bootstrap_client(client, apiserver) as joining:
        async with running(client, CSRApprovingController, CSRSigningController, options=options):
            created = await joining.create(CSRS, csr_body("node-csr-n1", make_request("system:node:n1")))
            assert created["spec"]["username"] == "system:bootstrap:abcdef"
            csr = await eventually(lambda: issued(client, "node-csr-n1"), "a certificate for node n1")

    approved = conditions(csr)["Approved"]
    assert (approved["status"], approved["reason"]) == ("True", "AutoApproved")
    assert approved["message"] == "Auto approving kubelet client certificate after SubjectAccessReview."
    certificate = certificate_of(csr)
    certificate.verify_directly_issued_by(ca)
    assert certificate.subject.rfc4514_string() == "CN=system:node:n1,O=system:nodes"
    assert list(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert timedelta(days=30) <= lifetime <= timedelta(days=30, minutes=5)


async def test_only_requests_from_bootstrap_tokens_or_the_node_itself_are_approved(
        client: ApiClient, apiserver: LocalApiserver) -> None:
    node_one = ApiClient(ClientConfig(server=apiserver.url, token=apiserver.tokens["node"]))  # system:node:node-1
    async with await bootstrap_client(client, apiserver) as joining, node_one:
        refused = {
            "other-signer": (joining, csr_body("other-signer", make_request("system:node:n2"),
                                               signer="kubernetes.io/kube-apiserver-client")),
            "forged-requester": (client, csr_body("forged-requester", make_request("system:node:n3"))),
            "other-node": (node_one, csr_body("other-node", make_request("system:node:n4"))),
            "serving-usage": (joining, csr_body("serving-usage", make_request("system:node:n5"),
                                                usages=["digital signature", "server auth"])),
            "masters-org": (joining, csr_body("masters-org", make_request("system:node:n6", ("system:masters",)))),
            "with-san": (joining, csr_body("with-san", make_request("system:node:n7", dns_name="n7.example"))),
            "not-a-node": (joining, csr_body("not-a-node", make_request("admin"))),
            "ec-key-encipherment": (joining, csr_body("ec-key-encipherment", make_request("system:node:n8"),
                                                      usages=[*CLIENT_USAGES, "key encipherment"])),
        }
        for requester, body in refused.values():
            await requester.create(CSRS, body)
        async with running(client, CSRApprovingController) as (approver,):
            await node_one.create(CSRS, csr_body("renewal", make_request("system:node:node-1")))
            await joining.create(CSRS, csr_body("rsa", make_request("system:node:n9", rsa_key=True),
                                                usages=[*CLIENT_USAGES, "key encipherment"]))
            renewal = await eventually(lambda: _approved(client, "renewal"), "the node's own renewal approved")
            await eventually(lambda: _approved(client, "rsa"), "an RSA request with key encipherment approved")
            await idle(approver.loop)
            for name in refused:
                assert conditions(await client.get(CSRS, name)) == {}, name
    assert conditions(renewal)["Approved"]["message"] == (
        "Auto approving self kubelet client certificate after SubjectAccessReview.")


async def test_an_approved_request_the_signer_cannot_honour_is_failed(
        client: ApiClient, ec_ca: tuple[str, str, x509.Certificate]) -> None:
    cert_file, key_file, _ = ec_ca
    options = ControllerOptions(cluster_signing_cert_file=cert_file, cluster_signing_key_file=key_file)
    await client.create(CSRS, csr_body("sneaky", make_request("system:node:n1", ("system:masters",))))
    csr = await client.get(CSRS, "sneaky")
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}]}
    await client.update(CSRS, csr, subresource="approval")
    async with running(client, CSRSigningController, options=options):
        failed = await eventually(lambda: _failed(client, "sneaky"), "a Failed condition")
    assert conditions(failed)["Failed"]["reason"] == "SignerValidationFailure"
    assert conditions(failed)["Failed"]["message"] == "subject organization is not system:nodes"
    assert not failed["status"].get("certificate")


async def test_without_signing_files_the_signer_does_not_run(client: ApiClient,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "controllers.csrsigning")
    await client.create(CSRS, csr_body("approved", make_request("system:node:n1")))
    csr = await client.get(CSRS, "approved")
    csr["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}]}
    await client.update(CSRS, csr, subresource="approval")
    async with running(client, CSRSigningController) as (signer,):
        await eventually(lambda: _logged(caplog, "not running: no cluster signing certificate and key configured"),
                         "the signer saying why it does not run")
        await signer.csrs.wait_synced()
        await asyncio.sleep(0.05)
        assert len(signer.loop.queue) == 1  # the approved request's key waits: no worker ever takes it
    assert not (await client.get(CSRS, "approved")).get("status", {}).get("certificate")


def test_validity_is_capped_by_the_ca_and_the_requested_expiration(tmp_path: Path) -> None:
    cert_file, key_file, ca = make_ca(tmp_path, rsa.generate_private_key(65537, 2048), days=10)
    authority = CertificateAuthority.load(cert_file, key_file)
    request = x509.load_pem_x509_csr(base64.b64decode(make_request("system:node:n1")))
    now = datetime.now(UTC)
    certificate = authority.sign_client_certificate(request, CLIENT_USAGES, timedelta(days=365), now)
    assert certificate.not_valid_after_utc == ca.not_valid_after_utc
    certificate.verify_directly_issued_by(ca)
    year = timedelta(days=365)
    assert requested_duration({"spec": {"expirationSeconds": 3600}}, year) == timedelta(hours=1)
    assert requested_duration({"spec": {"expirationSeconds": 60}}, year) == timedelta(minutes=10)
    assert requested_duration({"spec": {}}, year) == year


def test_a_key_that_does_not_match_the_certificate_is_refused(tmp_path: Path) -> None:
    cert_file, _, _ = make_ca(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    other = tmp_path / "other.key"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(ValueError, match="does not belong"):
        CertificateAuthority.load(cert_file, str(other))


async def _approved(client: ApiClient, name: str) -> dict[str, Any] | None:
    csr = await client.get(CSRS, name)
    return csr if "Approved" in conditions(csr) else None


async def _failed(client: ApiClient, name: str) -> dict[str, Any] | None:
    csr = await client.get(CSRS, name)
    return csr if "Failed" in conditions(csr) else None


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text
