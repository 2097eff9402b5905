"""provisioner.pki: CA, leaf certificates, CSR signing, pins, tokens, key files, expiry, kubeconfigs."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import threading
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from provisioner import pki
from provisioner.errors import PKIError, ProvisionError
from provisioner.pki import (
    ADMIN,
    APISERVER_KUBELET_CLIENT,
    KUBE_CONTROLLER_MANAGER,
    KUBE_SCHEDULER,
    CertificateAuthority,
    SubjectAltNames,
    Usage,
)

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl binary not installed")


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


@pytest.fixture(scope="module")
def apiserver_cert(ca: CertificateAuthority) -> pki.IssuedCert:
    sans = pki.apiserver_sans(ip_addresses=["192.168.56.10"], dns_names=["cp1.example"])
    return pki.issue_apiserver_serving_cert(ca, sans)


def write_pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def subject_values(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def extended_key_usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def openssl_verify(tmp_path: Path, ca: CertificateAuthority, cert: x509.Certificate, purpose: str) -> None:
    ca_file = write_pem(tmp_path / "verify-ca.pem", ca.cert_pem)
    leaf_file = write_pem(tmp_path / "verify-leaf.pem", pki.certificate_to_pem(cert))
    result = subprocess.run(
        [OPENSSL, "verify", "-CAfile", ca_file, "-purpose", purpose, leaf_file],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- CA -------------------------------------------------------------------------------------------------------


def test_ca_is_a_self_signed_ten_year_p256_ca(ca: CertificateAuthority) -> None:
    cert = ca.cert
    assert isinstance(ca.key, ec.EllipticCurvePrivateKey) and ca.key.curve.name == "secp256r1"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    lifetime = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(days=3649) < lifetime <= dt.timedelta(days=3650)


def test_ca_save_and_load_round_trip_with_private_key_file_0600(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    ca.save(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert mode_of(tmp_path / "ca.key") == 0o600
    assert mode_of(tmp_path / "ca.crt") == 0o644
    loaded = CertificateAuthority.load(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert loaded.cert == ca.cert
    leaf = loaded.issue("someone")
    assert ca.issued(leaf.cert)


def test_loading_a_ca_with_a_foreign_key_fails_naming_the_key_file(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    other = CertificateAuthority.generate()
    write_pem(tmp_path / "ca.crt", ca.cert_pem)
    write_pem(tmp_path / "ca.key", pki.private_key_to_pem(other.key))
    with pytest.raises(PKIError, match=r"ca\.key: private key does not belong to the certificate"):
        CertificateAuthority.load(tmp_path / "ca.crt", tmp_path / "ca.key")


def test_loading_a_leaf_as_ca_is_refused(tmp_path: Path, ca: CertificateAuthority) -> None:
    leaf = ca.issue("not-a-ca")
    leaf.save(tmp_path / "leaf.crt", tmp_path / "leaf.key")
    with pytest.raises(PKIError, match=r"leaf\.crt: not a CA certificate"):
        CertificateAuthority.load(tmp_path / "leaf.crt", tmp_path / "leaf.key")


@pytest.mark.parametrize(
    ("cert_text", "key_text", "message"),
    [
        (None, None, r"ca\.crt: certificate not found"),
        (b"garbage", None, r"ca\.crt: not a PEM-encoded X\.509 certificate"),
        (
            "valid",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            r"ca\.key: not a PEM-encoded",
        ),
    ],
)
def test_loading_a_broken_ca_names_the_file(
    tmp_path: Path,
    ca: CertificateAuthority,
    cert_text: bytes | str | None,
    key_text: bytes | None,
    message: str,
) -> None:
    if cert_text is not None:
        write_pem(tmp_path / "ca.crt", ca.cert_pem if cert_text == "valid" else cert_text)
    write_pem(tmp_path / "ca.key", key_text or pki.private_key_to_pem(ca.key))
    with pytest.raises(PKIError, match=message):
        CertificateAuthority.load(tmp_path / "ca.crt", tmp_path / "ca.key")


@needs_openssl
def test_an_existing_rsa_ca_made_by_openssl_loads_and_issues(tmp_path: Path) -> None:
    # kubeadm's default CA is RSA 2048; `provision` must be able to adopt it.
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=kubernetes",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
         "-keyout", tmp_path / "ca.key", "-out", tmp_path / "ca.crt"],
        check=True, capture_output=True,
    )  # fmt: skip
    rsa_ca = CertificateAuthority.load(tmp_path / "ca.crt", tmp_path / "ca.key")
    assert isinstance(rsa_ca.key, rsa.RSAPrivateKey)
    leaf = pki.issue_client_cert(rsa_ca, ADMIN)
    openssl_verify(tmp_path, rsa_ca, leaf.cert, "sslclient")
    # A leaf cannot outlive its CA: the 1-year default is cut at the CA's 30 days.
    assert leaf.cert.not_valid_after_utc == rsa_ca.cert.not_valid_after_utc


# --- apiserver serving certificate ----------------------------------------------------------------------------


def test_apiserver_cert_carries_every_expected_san(apiserver_cert: pki.IssuedCert) -> None:
    sans = SubjectAltNames.from_certificate(apiserver_cert.cert)
    assert set(sans.dns_names) == {
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "cp1.example",
    }
    assert set(sans.ip_addresses) == {
        ipaddress.ip_address(ip) for ip in ("127.0.0.1", "10.96.0.1", "192.168.56.10")
    }
    assert extended_key_usages(apiserver_cert.cert) == {ExtendedKeyUsageOID.SERVER_AUTH}


@pytest.mark.parametrize(
    "subject",
    [
        x509.verification.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.verification.IPAddress(ipaddress.ip_address("10.96.0.1")),
        x509.verification.IPAddress(ipaddress.ip_address("192.168.56.10")),
        x509.verification.DNSName("kubernetes.default.svc.cluster.local"),
        x509.verification.DNSName("localhost"),
    ],
)
def test_apiserver_cert_chain_verifies_for_each_name(
    ca: CertificateAuthority, apiserver_cert: pki.IssuedCert, subject: x509.verification.Subject
) -> None:
    verifier = PolicyBuilder().store(Store([ca.cert])).build_server_verifier(subject)
    chain = verifier.verify(apiserver_cert.cert, [])
    assert chain[-1] == ca.cert


def test_apiserver_cert_does_not_verify_for_other_names_or_other_cas(
    ca: CertificateAuthority, apiserver_cert: pki.IssuedCert
) -> None:
    wrong_name = (
        PolicyBuilder()
        .store(Store([ca.cert]))
        .build_server_verifier(x509.verification.DNSName("evil.example"))
    )
    with pytest.raises(VerificationError):
        wrong_name.verify(apiserver_cert.cert, [])
    other_ca = CertificateAuthority.generate()
    wrong_ca = (
        PolicyBuilder()
        .store(Store([other_ca.cert]))
        .build_server_verifier(x509.verification.DNSName("localhost"))
    )
    with pytest.raises(VerificationError):
        wrong_ca.verify(apiserver_cert.cert, [])


@needs_openssl
def test_openssl_accepts_the_apiserver_cert_as_a_server_cert(
    tmp_path: Path, ca: CertificateAuthority, apiserver_cert: pki.IssuedCert
) -> None:
    openssl_verify(tmp_path, ca, apiserver_cert.cert, "sslserver")


def test_custom_cluster_domain_and_service_ip() -> None:
    sans = pki.apiserver_sans(cluster_domain="corp.internal", service_ip="10.32.0.1")
    assert "kubernetes.default.svc.corp.internal" in sans.dns_names
    assert ipaddress.ip_address("10.32.0.1") in sans.ip_addresses
    assert pki.kubernetes_service_ip("10.100.0.0/16") == ipaddress.ip_address("10.100.0.1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ip_addresses": ["10.0.0.300"]}, r"invalid IP address for a certificate SAN: '10\.0\.0\.300'"),
        ({"dns_names": ["bad name"]}, r"invalid DNS name for a certificate SAN: 'bad name'"),
        ({"dns_names": ["-leading.example"]}, r"invalid DNS name"),
    ],
)
def test_bad_sans_are_rejected_naming_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(PKIError, match=message):
        pki.apiserver_sans(**kwargs)


def test_a_serving_cert_without_sans_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="needs at least one DNS name or IP"):
        ca.issue("no-names", usages=(Usage.SERVER,))


# --- client certificates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "common_name", "organizations"),
    [
        (ADMIN, "kubernetes-admin", ["system:masters"]),
        (KUBE_SCHEDULER, "system:kube-scheduler", []),
        (KUBE_CONTROLLER_MANAGER, "system:kube-controller-manager", []),
        (APISERVER_KUBELET_CLIENT, "kube-apiserver-kubelet-client", ["system:masters"]),
    ],
)
def test_client_certs_carry_user_as_cn_and_groups_as_o(
    ca: CertificateAuthority, identity: pki.ClientIdentity, common_name: str, organizations: list[str]
) -> None:
    issued = pki.issue_client_cert(ca, identity)
    assert subject_values(issued.cert, NameOID.COMMON_NAME) == [common_name]
    assert subject_values(issued.cert, NameOID.ORGANIZATION_NAME) == organizations
    assert extended_key_usages(issued.cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert ca.issued(issued.cert)
    assert not issued.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_several_groups_become_several_o_attributes(ca: CertificateAuthority) -> None:
    issued = pki.issue_client_cert(ca, pki.ClientIdentity("alice", ("dev", "ops")))
    assert subject_values(issued.cert, NameOID.ORGANIZATION_NAME) == ["dev", "ops"]


@needs_openssl
def test_openssl_accepts_client_cert_as_client_but_not_as_server(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    issued = pki.issue_client_cert(ca, ADMIN)
    openssl_verify(tmp_path, ca, issued.cert, "sslclient")
    with pytest.raises(AssertionError):
        openssl_verify(tmp_path, ca, issued.cert, "sslserver")


def test_mutual_tls_handshake_server_sees_user_and_groups(
    tmp_path: Path, ca: CertificateAuthority, apiserver_cert: pki.IssuedCert
) -> None:
    """What the apiserver will do (wire contract §0.1): optional client cert, CN → user, O → groups."""
    ca_file = write_pem(tmp_path / "ca.crt", ca.cert_pem)
    apiserver_cert.save(tmp_path / "apiserver.crt", tmp_path / "apiserver.key")
    admin = pki.issue_client_cert(ca, ADMIN)
    admin.save(tmp_path / "admin.crt", tmp_path / "admin.key")

    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "apiserver.crt", tmp_path / "apiserver.key")
    server_ctx.verify_mode = ssl.CERT_OPTIONAL
    server_ctx.load_verify_locations(ca_file)
    seen: dict = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["peer"] = tls.getpeercert()
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client_ctx = ssl.create_default_context(cafile=ca_file)
        client_ctx.load_cert_chain(tmp_path / "admin.crt", tmp_path / "admin.key")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                assert tls.recv(2) == b"ok"
        thread.join(timeout=5)
    subject = dict(attr for rdn in seen["peer"]["subject"] for attr in rdn)
    assert subject == {"commonName": "kubernetes-admin", "organizationName": "system:masters"}


@pytest.mark.parametrize(
    ("common_name", "organizations", "message"),
    [
        ("", (), "common name must be a non-empty string"),
        ("x" * 65, (), "longer than 64 characters"),
        ("bob", "system:masters", "must be a list of group names"),
        ("bob", ("",), "organization .group. must be a non-empty string"),
    ],
)
def test_bad_subjects_are_rejected(
    ca: CertificateAuthority, common_name: str, organizations: tuple[str, ...], message: str
) -> None:
    with pytest.raises(PKIError, match=message):
        ca.issue(common_name, organizations)


# --- CSR signing ----------------------------------------------------------------------------------------------


def make_csr(common_name: str, organization: str, sans: list[x509.GeneralName] | None = None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def test_signing_a_kubelet_client_csr_keeps_its_subject(ca: CertificateAuthority) -> None:
    csr_pem = make_csr("system:node:worker-1", "system:nodes")
    cert = ca.sign_csr(csr_pem, validity=dt.timedelta(days=30))
    assert cert.subject == x509.load_pem_x509_csr(csr_pem).subject
    assert ca.issued(cert)
    assert extended_key_usages(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert cert.public_key() == x509.load_pem_x509_csr(csr_pem).public_key()
    assert pki.expiry_of(cert).days_left in (29, 30)


def test_csr_sans_are_kept_only_for_serving_certs(ca: CertificateAuthority) -> None:
    csr_pem = make_csr(
        "system:node:worker-1",
        "system:nodes",
        [x509.DNSName("worker-1"), x509.IPAddress(ipaddress.ip_address("10.0.0.5"))],
    )
    serving = ca.sign_csr(csr_pem, usages=(Usage.SERVER,))
    assert SubjectAltNames.from_certificate(serving) == SubjectAltNames(
        ("worker-1",), (ipaddress.ip_address("10.0.0.5"),)
    )
    client = ca.sign_csr(csr_pem, usages=(Usage.CLIENT,))
    assert not SubjectAltNames.from_certificate(client)


def test_a_tampered_csr_is_refused(ca: CertificateAuthority) -> None:
    csr = x509.load_pem_x509_csr(make_csr("system:node:worker-1", "system:nodes"))
    # Change the requested name after signing: the CSR still parses, but its signature no longer matches.
    der = csr.public_bytes(serialization.Encoding.DER).replace(b"worker-1", b"worker-2")
    forged_pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(der)
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    assert x509.load_pem_x509_csr(forged_pem).subject != csr.subject
    with pytest.raises(PKIError, match=r"node-1\.csr: signature does not match"):
        ca.sign_csr(forged_pem, source="node-1.csr")


def test_a_csr_that_is_not_pem_is_refused_naming_its_source(ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="upload.csr: not a PEM-encoded certificate signing request"):
        ca.sign_csr(b"hello", source="upload.csr")


# --- SPKI pin -------------------------------------------------------------------------------------------------


@needs_openssl
def test_spki_pin_matches_openssl_pipeline(tmp_path: Path, ca: CertificateAuthority) -> None:
    ca_file = write_pem(tmp_path / "ca.crt", ca.cert_pem)
    # kubeadm's documented recipe: openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum
    pubkey = subprocess.run(
        [OPENSSL, "x509", "-pubkey", "-noout", "-in", ca_file], check=True, capture_output=True
    )
    der = subprocess.run(
        [OPENSSL, "pkey", "-pubin", "-outform", "der"], input=pubkey.stdout, check=True, capture_output=True
    )
    digest = subprocess.run(["sha256sum"], input=der.stdout, check=True, capture_output=True)
    assert pki.spki_pin(ca.cert) == "sha256:" + digest.stdout.decode().split()[0]


def test_pin_matching(ca: CertificateAuthority) -> None:
    pin = pki.spki_pin(ca.cert)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", pin)
    assert pki.pin_matches(ca.cert, pin.upper().replace("SHA256", "sha256"))
    assert not pki.pin_matches(CertificateAuthority.generate().cert, pin)
    with pytest.raises(PKIError, match=r"invalid CA pin 'sha256:abc'"):
        pki.pin_matches(ca.cert, "sha256:abc")


# --- bootstrap tokens -----------------------------------------------------------------------------------------


def test_bootstrap_tokens_have_kubeadm_format_and_differ() -> None:
    tokens = [pki.generate_bootstrap_token() for _ in range(200)]
    for token in tokens:
        assert re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}", str(token))
        assert pki.parse_bootstrap_token(str(token)) == token
    assert len({str(t) for t in tokens}) == len(tokens)
    # 200 × 22 characters from a 36-letter alphabet: every letter shows up unless generation is skewed.
    assert set("".join(str(t).replace(".", "") for t in tokens)) == set(
        "abcdefghijklmnopqrstuvwxyz0123456789"
    )


def test_bootstrap_token_secret_stays_out_of_repr() -> None:
    token = pki.generate_bootstrap_token()
    assert token.secret not in repr(token)
    assert token.id in repr(token)


@pytest.mark.parametrize(
    "text", ["abcdef.0123456789abcdeF", "abcde.0123456789abcdef", "abcdef0123456789abcdef", "", None]
)
def test_malformed_bootstrap_tokens_are_refused_without_echoing_them(text: str | None) -> None:
    with pytest.raises(PKIError, match=r"invalid bootstrap token: expected") as info:
        pki.parse_bootstrap_token(text)  # type: ignore[arg-type]
    if text:
        assert text not in str(info.value)


# --- key files ------------------------------------------------------------------------------------------------


def test_private_files_are_0600_even_with_umask_0_and_replacing_a_looser_file(tmp_path: Path) -> None:
    target = tmp_path / "secret.key"
    target.write_bytes(b"old")
    target.chmod(0o644)
    old_umask = os.umask(0)
    try:
        pki.write_private_file(target, b"new")
    finally:
        os.umask(old_umask)
    assert target.read_bytes() == b"new"
    assert mode_of(target) == 0o600


def test_private_file_is_0600_before_it_appears_under_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No window with looser permissions: the content is complete and 0600 at the moment of the rename."""
    seen: list[tuple[int, bytes]] = []
    real_replace = os.replace

    def spy_replace(src: str, dst: str) -> None:
        seen.append((mode_of(Path(src)), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy_replace)
    pki.write_private_file(tmp_path / "k.pem", b"key material")
    assert seen == [(0o600, b"key material")]
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]  # no temp file left behind


def test_a_failed_write_leaves_no_temp_file_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PKIError, match=r"k\.pem: cannot write: No space left on device"):
        pki.write_private_file(tmp_path / "k.pem", b"x")
    assert list(tmp_path.iterdir()) == []


def test_writing_into_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PKIError, match=r"missing/ca\.key: cannot write"):
        pki.write_private_file(tmp_path / "missing" / "ca.key", b"x")


def test_issued_cert_save_writes_key_0600_and_cert_0644(tmp_path: Path, ca: CertificateAuthority) -> None:
    issued = pki.issue_client_cert(ca, KUBE_SCHEDULER)
    issued.save(tmp_path / "sched.crt", tmp_path / "sched.key")
    assert mode_of(tmp_path / "sched.key") == 0o600
    assert mode_of(tmp_path / "sched.crt") == 0o644
    assert pki.load_issued_cert(tmp_path / "sched.crt", tmp_path / "sched.key").cert == issued.cert


# --- validity and expiry --------------------------------------------------------------------------------------


def test_leaf_default_is_one_year_and_validity_is_configurable(ca: CertificateAuthority) -> None:
    default = pki.issue_client_cert(ca, ADMIN)
    assert pki.expiry_of(default.cert).days_left in (364, 365)
    short = pki.issue_client_cert(ca, ADMIN, validity=dt.timedelta(days=7))
    assert pki.expiry_of(short.cert).days_left in (6, 7)
    # Started slightly in the past for clock skew between machines, never in the future.
    assert short.cert.not_valid_before_utc <= dt.datetime.now(dt.UTC)


def test_expiry_reports_days_left_and_expired(ca: CertificateAuthority, tmp_path: Path) -> None:
    issued = ca.issue("soon", validity=dt.timedelta(days=10))
    later = issued.cert.not_valid_after_utc + dt.timedelta(days=2, hours=1)
    expired = pki.expiry_of(issued.cert, now=later)
    assert expired.expired and expired.days_left == -3
    assert expired.not_after == issued.cert.not_valid_after_utc
    assert expired.subject == "CN=soon"
    write_pem(tmp_path / "soon.crt", issued.cert_pem)
    from_file = pki.expiry_of_file(tmp_path / "soon.crt")
    assert not from_file.expired and from_file.days_left in (9, 10)


def test_non_positive_validity_is_refused(ca: CertificateAuthority) -> None:
    with pytest.raises(PKIError, match="validity must be positive"):
        ca.issue("zero", validity=dt.timedelta(0))


def test_an_expired_ca_refuses_to_issue() -> None:
    old = CertificateAuthority.generate(
        validity=dt.timedelta(days=1), now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    )
    with pytest.raises(PKIError, match="the CA expired"):
        old.issue("late")


# --- kubeconfig -----------------------------------------------------------------------------------------------


def test_kubeconfig_with_client_cert_embeds_everything(ca: CertificateAuthority) -> None:
    admin = pki.issue_client_cert(ca, ADMIN)
    config = pki.kubeconfig(
        "prod", "https://10.0.0.1:6443", ca.cert_pem, "kubernetes-admin", admin.cert_pem, admin.key_pem
    )
    assert config["current-context"] == "kubernetes-admin@prod"
    cluster = config["clusters"][0]
    assert cluster["name"] == "prod" and cluster["cluster"]["server"] == "https://10.0.0.1:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == ca.cert_pem
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-certificate-data"]) == admin.cert_pem
    assert base64.b64decode(user["client-key-data"]) == admin.key_pem
    assert config["contexts"][0]["context"] == {"cluster": "prod", "user": "kubernetes-admin"}


def test_kubeconfig_with_token(ca: CertificateAuthority) -> None:
    token = str(pki.generate_bootstrap_token())
    config = pki.kubeconfig("prod", "https://cp:6443", ca.cert_pem.decode(), "tls-bootstrap", token=token)
    assert config["users"][0]["user"] == {"token": token}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"server_url": "http://127.0.0.1:6443"},
            r"server 'http://127\.0\.0\.1:6443': must be an https:// URL",
        ),
        ({"server_url": "https://127.0.0.1:port"}, r"invalid port"),
        ({"ca_pem": b"nope"}, r"CA certificate: not a PEM-encoded"),
        ({"client_key_pem": None}, r"needs both the certificate and its key"),
        ({"token": "abc"}, r"not both"),
        ({"client_cert_pem": None, "client_key_pem": None}, r"no credentials"),
        ({"cluster_name": ""}, r"cluster name must be a non-empty string"),
    ],
)
def test_kubeconfig_bad_input(ca: CertificateAuthority, overrides: dict, message: str) -> None:
    admin = pki.issue_client_cert(ca, ADMIN)
    arguments = {
        "cluster_name": "c",
        "server_url": "https://127.0.0.1:6443",
        "ca_pem": ca.cert_pem,
        "user": "u",
        "client_cert_pem": admin.cert_pem,
        "client_key_pem": admin.key_pem,
    } | overrides
    with pytest.raises(PKIError, match=message):
        pki.kubeconfig(**arguments)


def test_write_kubeconfig_is_0600_yaml_that_kubectl_reads(tmp_path: Path, ca: CertificateAuthority) -> None:
    admin = pki.issue_client_cert(ca, ADMIN)
    config = pki.kubeconfig(
        "dev", "https://127.0.0.1:6443", ca.cert_pem, "kubernetes-admin", admin.cert_pem, admin.key_pem
    )
    path = tmp_path / "admin.kubeconfig"
    pki.write_kubeconfig(path, config)
    assert mode_of(path) == 0o600
    assert yaml.safe_load(path.read_text()) == config
    kubectl = shutil.which("kubectl")
    if kubectl:
        view = subprocess.run(
            [kubectl, "config", "view", "--kubeconfig", path, "--raw", "-o", "jsonpath={.users[0].user.client-key-data}"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert view.returncode == 0, view.stderr
        assert base64.b64decode(view.stdout) == admin.key_pem


def test_pki_errors_are_provision_errors() -> None:
    assert issubclass(PKIError, ProvisionError)
