"""TLS bootstrap pieces: the certificate request the CSR approver accepts, when a kubeconfig needs a new
certificate, the files written (0600, the ``current`` symlink, a kubeconfig our client loads), and the wait for
issuance that a denial ends."""

from __future__ import annotations

import asyncio
import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioner.services.client import ApiClient, ClientConfig
from provisioner.services.controllers.csrapproval import (
    BOOTSTRAP_MESSAGE,
    approval_message,
    parse_request,
    validate_kubelet_client_request,
)
from provisioner.services.kubelet import bootstrap
from tests.unit.controllers.conftest import eventually

NODE = "worker-1"


def sign(key: ec.EllipticCurvePrivateKey, common_name: str, *, days: float = 365,
         not_before: datetime | None = None) -> bytes:
    """A certificate for ``key`` (self-signed: only its contents matter here)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = not_before or datetime.now(UTC) - timedelta(minutes=1)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(start)
                   .not_valid_after(start + timedelta(days=days)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_the_request_is_what_the_csr_approver_approves_for_a_joining_node() -> None:
    key = bootstrap.new_private_key()
    csr = bootstrap.csr_object(bootstrap.certificate_request(NODE, key))
    assert csr["apiVersion"] == "certificates.k8s.io/v1" and csr["kind"] == "CertificateSigningRequest"
    assert csr["metadata"] == {"generateName": "node-csr-"}
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    assert csr["spec"]["usages"] == ["digital signature", "client auth"]
    request = parse_request(csr)
    assert request.subject.rfc4514_string() == "CN=system:node:worker-1,O=system:nodes"
    assert isinstance(request.public_key(), ec.EllipticCurvePublicKey)
    assert request.public_key().curve.name == "secp256r1"
    assert validate_kubelet_client_request(request, csr["spec"]["usages"]) == "system:node:worker-1"
    requested_by_token = {**csr, "spec": {**csr["spec"], "username": "system:bootstrap:abcdef",
                                          "groups": ["system:bootstrappers", "system:authenticated"]}}
    assert approval_message(requested_by_token, "system:node:worker-1") == BOOTSTRAP_MESSAGE


def test_issued_certificate_waits_then_returns_or_refuses() -> None:
    csr = {"metadata": {"name": "node-csr-x"}, "status": {}}
    assert bootstrap.issued_certificate(csr) is None
    approved = {**csr, "status": {"conditions": [{"type": "Approved", "status": "True"}]}}
    assert bootstrap.issued_certificate(approved) is None  # the signer has not issued it yet
    issued = {**csr, "status": {**approved["status"], "certificate": base64.b64encode(b"PEM").decode()}}
    assert bootstrap.issued_certificate(issued) == b"PEM"
    denied = {**csr, "status": {"conditions": [{"type": "Denied", "status": "True", "reason": "NotYou",
                                                "message": "unknown machine"}]}}
    with pytest.raises(bootstrap.BootstrapError, match="node-csr-x was denied: NotYou: unknown machine"):
        bootstrap.issued_certificate(denied)


def test_an_issued_certificate_must_be_for_our_key_and_node() -> None:
    key = bootstrap.new_private_key()
    assert bootstrap.check_certificate(sign(key, "system:node:worker-1"), key, NODE)
    with pytest.raises(bootstrap.BootstrapError, match="not for the key"):
        bootstrap.check_certificate(sign(bootstrap.new_private_key(), "system:node:worker-1"), key, NODE)
    with pytest.raises(bootstrap.BootstrapError, match="not system:node:worker-1"):
        bootstrap.check_certificate(sign(key, "system:node:worker-2"), key, NODE)


def write_kubeconfig(tmp_path: Path, certificate_pem: bytes, key: ec.EllipticCurvePrivateKey) -> Path:
    current = bootstrap.write_client_certificate(tmp_path / "pki", certificate_pem, key)
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    config = ClientConfig(server="https://192.0.2.1:6443", ca_pem=sign(key, "test-ca"))
    bootstrap.write_private_file(kubeconfig, yaml.safe_dump(bootstrap.kubeconfig_document(config, current)).encode())
    return kubeconfig


def test_certificate_files_and_kubeconfig(tmp_path: Path) -> None:
    key = bootstrap.new_private_key()
    certificate_pem = sign(key, "system:node:worker-1")
    kubeconfig = write_kubeconfig(tmp_path, certificate_pem, key)
    current = tmp_path / "pki" / "kubelet-client-current.pem"
    assert current.is_symlink() and current.resolve().name.startswith("kubelet-client-20")
    assert stat.S_IMODE(current.resolve().stat().st_mode) == 0o600
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "pki").stat().st_mode) == 0o700
    assert current.read_bytes().startswith(certificate_pem)
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    assert user == {"client-certificate": str(current), "client-key": str(current)}
    config = ClientConfig.from_kubeconfig(kubeconfig)  # one file holds both certificate and key
    assert config.server == "https://192.0.2.1:6443" and config.ca_pem
    assert config.ssl_context() is not None
    assert bootstrap.client_certificate_problem(kubeconfig) == ""


def test_when_a_kubeconfig_needs_a_new_certificate(tmp_path: Path) -> None:
    assert "does not exist" in bootstrap.client_certificate_problem(tmp_path / "missing")
    (tmp_path / "garbage").write_text(": not yaml [")
    assert "no usable client certificate" in bootstrap.client_certificate_problem(tmp_path / "garbage")
    key = bootstrap.new_private_key()
    long_ago = datetime.now(UTC) - timedelta(days=30)
    expired = write_kubeconfig(tmp_path, sign(key, "system:node:worker-1", days=1, not_before=long_ago), key)
    assert "expired" in bootstrap.client_certificate_problem(expired)
    token_only = tmp_path / "token.kubeconfig"
    token_only.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "https://192.0.2.1:6443"}}],
        "users": [{"name": "u", "user": {"token": "abcdef.0123456789abcdef"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
    assert "no usable client certificate" in bootstrap.client_certificate_problem(token_only)


async def test_waiting_ends_when_the_request_is_denied(admin_client: ApiClient) -> None:
    key = bootstrap.new_private_key()
    waiting = asyncio.create_task(bootstrap.request_certificate(admin_client,
                                                                bootstrap.certificate_request(NODE, key)))

    async def ours() -> dict | None:
        items = (await admin_client.list(bootstrap.CSRS))["items"]
        return next((c for c in items if c["spec"]["username"] == "admin" and not c.get("status")), None)

    csr = await eventually(ours, "the kubelet's CertificateSigningRequest")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    csr["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "Untrusted", "message": "no",
                                     "lastUpdateTime": now, "lastTransitionTime": now}]}
    await admin_client.update(bootstrap.CSRS, csr, subresource="approval")
    with pytest.raises(bootstrap.BootstrapError, match="was denied: Untrusted: no"):
        await waiting


async def test_refused_bootstrap_credentials_are_a_clear_error(module_apiserver) -> None:
    config = ClientConfig(server=module_apiserver.url, token="abcdef.0123456789abcdef")  # no such token Secret
    async with ApiClient(config) as stranger:
        with pytest.raises(bootstrap.BootstrapError, match="401 Unauthorized.*bootstrap token"):
            await bootstrap.request_certificate(stranger, bootstrap.certificate_request(NODE,
                                                                                         bootstrap.new_private_key()))
