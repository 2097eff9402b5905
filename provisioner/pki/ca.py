"""The cluster certificate authority: create or load it, and issue leaf certificates from it.

Key algorithm: ECDSA P-256 with SHA-256 signatures. A P-256 key is generated in about a millisecond (RSA 2048
takes ~50-200 ms, which adds up over a dozen certificates per cluster and in tests on 2 cores), it gives
~128-bit security against RSA 2048's ~112, handshakes and certificates are smaller, and every client that
matters accepts it: Go's crypto/tls (kubectl), OpenSSL (Python `ssl`, the `kubernetes` client), and kubeadm
itself offers it (`encryptionAlgorithm: ECDSA-P256`). An existing RSA CA can still be loaded and used.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.errors import PKIError
from provisioner.pki.files import read_bytes, write_private_file, write_public_file
from provisioner.pki.pem import (
    PemInput,
    PrivateKey,
    PublicKey,
    certificate_from_pem,
    certificate_to_pem,
    csr_from_pem,
    private_key_from_pem,
    private_key_to_pem,
    same_public_key,
)

CA_VALIDITY = dt.timedelta(days=3650)
LEAF_VALIDITY = dt.timedelta(days=365)
# Certificates start a little in the past so a machine whose clock lags the operator's still accepts them.
CLOCK_SKEW_ALLOWANCE = dt.timedelta(minutes=5)
DEFAULT_CA_COMMON_NAME = "kubernetes"

_DNS_NAME = re.compile(
    r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.I
)
_MAX_COMMON_NAME = 64  # X.509 upper bound (RFC 5280 ub-common-name)

IpInput = str | ipaddress.IPv4Address | ipaddress.IPv6Address


class Usage(enum.Enum):
    """What a leaf certificate may be used for (its extended key usage)."""

    SERVER = ExtendedKeyUsageOID.SERVER_AUTH
    CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH


@dataclass(frozen=True)
class SubjectAltNames:
    """DNS names and IP addresses a serving certificate is valid for."""

    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...] = ()

    @classmethod
    def of(cls, dns_names: Iterable[str] = (), ip_addresses: Iterable[IpInput] = ()) -> SubjectAltNames:
        """Validate and de-duplicate, keeping the caller's order."""
        dns = tuple(dict.fromkeys(_valid_dns_name(name) for name in dns_names))
        ips = tuple(dict.fromkeys(_valid_ip(ip) for ip in ip_addresses))
        return cls(dns, ips)

    @classmethod
    def from_certificate(cls, cert: x509.Certificate) -> SubjectAltNames:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return cls()
        return cls(
            tuple(san.get_values_for_type(x509.DNSName)), tuple(san.get_values_for_type(x509.IPAddress))
        )

    def covers(self, wanted: SubjectAltNames) -> bool:
        return set(wanted.dns_names) <= set(self.dns_names) and set(wanted.ip_addresses) <= set(
            self.ip_addresses
        )

    def __bool__(self) -> bool:
        return bool(self.dns_names or self.ip_addresses)

    def extension(self) -> x509.SubjectAlternativeName:
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in self.dns_names]
        names += [x509.IPAddress(ip) for ip in self.ip_addresses]
        return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class IssuedCert:
    """A leaf certificate and the private key generated for it."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return certificate_to_pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return private_key_to_pem(self.key)

    def save(self, cert_path: Path, key_path: Path) -> None:
        """Certificate 0644, key 0600, each written atomically."""
        write_private_file(key_path, self.key_pem)
        write_public_file(cert_path, self.cert_pem)


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def load_issued_cert(cert_path: Path, key_path: Path) -> IssuedCert:
    """Load a certificate and its key from files; the key must belong to the certificate."""
    cert = certificate_from_pem(read_bytes(cert_path, "certificate"), str(cert_path))
    key = private_key_from_pem(read_bytes(key_path, "private key"), str(key_path))
    if not same_public_key(cert.public_key(), key.public_key()):
        raise PKIError(f"{key_path}: private key does not belong to the certificate {cert_path}")
    return IssuedCert(cert, key)


class CertificateAuthority:
    """A CA certificate with its private key; issues leaf certificates."""

    def __init__(self, cert: x509.Certificate, key: PrivateKey) -> None:
        if not same_public_key(cert.public_key(), key.public_key()):
            raise PKIError("CA private key does not belong to the CA certificate")
        if not _is_ca(cert):
            raise PKIError(
                f"certificate {cert.subject.rfc4514_string()} is not a CA (basicConstraints CA:FALSE)"
            )
        self.cert = cert
        self.key = key

    @classmethod
    def generate(
        cls,
        common_name: str = DEFAULT_CA_COMMON_NAME,
        validity: dt.timedelta = CA_VALIDITY,
        now: dt.datetime | None = None,
    ) -> CertificateAuthority:
        """A new self-signed CA that may sign leaf certificates only (path length 0)."""
        key = new_private_key()
        not_before, not_after = _validity_window(validity, now, latest_end=None)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _valid_common_name(common_name))])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(key.public_key(), ca=True), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """Load an existing CA (ours or kubeadm's ca.crt/ca.key)."""
        issued = load_issued_cert(cert_path, key_path)
        if not _is_ca(issued.cert):
            raise PKIError(f"{cert_path}: not a CA certificate (basicConstraints CA:TRUE missing)")
        return cls(issued.cert, issued.key)

    def save(self, cert_path: Path, key_path: Path) -> None:
        write_private_file(key_path, private_key_to_pem(self.key))
        write_public_file(cert_path, self.cert_pem)

    @property
    def cert_pem(self) -> bytes:
        return certificate_to_pem(self.cert)

    def issue(
        self,
        common_name: str,
        organizations: Sequence[str] = (),
        usages: Iterable[Usage] = (Usage.CLIENT,),
        sans: SubjectAltNames | None = None,
        validity: dt.timedelta = LEAF_VALIDITY,
        now: dt.datetime | None = None,
    ) -> IssuedCert:
        """Generate a key and a certificate for it. Subject: O=<each organization>, CN=<common_name>."""
        key = new_private_key()
        subject = _subject(common_name, organizations)
        cert = self._sign(
            subject, key.public_key(), frozenset(usages), sans or SubjectAltNames(), validity, now
        )
        return IssuedCert(cert, key)

    def sign_csr(
        self,
        csr_pem: PemInput,
        usages: Iterable[Usage] = (Usage.CLIENT,),
        validity: dt.timedelta = LEAF_VALIDITY,
        now: dt.datetime | None = None,
        source: str = "CSR",
    ) -> x509.Certificate:
        """Sign a CSR: the subject comes from the CSR; its SANs are kept only for server usage.

        Deciding whether the requester may have that subject is the caller's job (an approval step).
        """
        csr = csr_from_pem(csr_pem, source)
        if not csr.is_signature_valid:
            raise PKIError(f"{source}: signature does not match its public key")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise PKIError(
                f"{source}: unsupported key type {type(public_key).__name__} (ECDSA or RSA expected)"
            )
        if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
            raise PKIError(f"{source}: subject has no common name (CN)")
        usage_set = frozenset(usages)
        sans = _csr_sans(csr) if Usage.SERVER in usage_set else SubjectAltNames()
        return self._sign(csr.subject, public_key, usage_set, sans, validity, now)

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether this CA signed `cert` (issuer name and signature)."""
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True

    def _sign(
        self,
        subject: x509.Name,
        public_key: PublicKey,
        usages: frozenset[Usage],
        sans: SubjectAltNames,
        validity: dt.timedelta,
        now: dt.datetime | None,
    ) -> x509.Certificate:
        if not usages:
            raise PKIError(f"{subject.rfc4514_string()}: at least one usage (server or client) is required")
        if Usage.SERVER in usages and not sans:
            # Go and Python match hostnames against SANs only, never the CN.
            raise PKIError(
                f"{subject.rfc4514_string()}: a serving certificate needs at least one DNS name or IP"
            )
        not_before, not_after = _validity_window(validity, now, latest_end=self.cert.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(public_key, ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(sorted((u.value for u in usages), key=str)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        if sans:
            builder = builder.add_extension(sans.extension(), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key())
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _key_usage(public_key: PublicKey, ca: bool) -> x509.KeyUsage:
    # keyEncipherment only means something for RSA (key transport); ECDSA keys only sign.
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _subject(common_name: str, organizations: Sequence[str]) -> x509.Name:
    if isinstance(organizations, str):
        raise PKIError(f"organizations for {common_name!r} must be a list of group names, not a string")
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, _valid_organization(o)) for o in organizations
    ]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, _valid_common_name(common_name)))
    return x509.Name(attributes)


def _csr_sans(csr: x509.CertificateSigningRequest) -> SubjectAltNames:
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return SubjectAltNames()
    return SubjectAltNames.of(san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.IPAddress))


def _validity_window(
    validity: dt.timedelta, now: dt.datetime | None, latest_end: dt.datetime | None
) -> tuple[dt.datetime, dt.datetime]:
    if validity <= dt.timedelta(0):
        raise PKIError(f"certificate validity must be positive, got {validity}")
    start = now or dt.datetime.now(dt.UTC)
    if start.tzinfo is None:
        raise PKIError("certificate time 'now' must be timezone-aware")
    end = start + validity
    # A leaf cannot outlive its CA (verifiers would reject it then anyway); expiry inspection reports the cut.
    if latest_end is not None:
        end = min(end, latest_end)
        if end <= start:
            raise PKIError(
                f"the CA expired at {latest_end.isoformat()}; renew the CA before issuing certificates"
            )
    return start - CLOCK_SKEW_ALLOWANCE, end


def _valid_common_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise PKIError(f"certificate common name must be a non-empty string, got {name!r}")
    if len(name) > _MAX_COMMON_NAME:
        raise PKIError(f"certificate common name {name!r} is longer than {_MAX_COMMON_NAME} characters")
    return name


def _valid_organization(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise PKIError(f"certificate organization (group) must be a non-empty string, got {name!r}")
    if len(name) > _MAX_COMMON_NAME:
        raise PKIError(f"certificate organization {name!r} is longer than {_MAX_COMMON_NAME} characters")
    return name


def _valid_dns_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 253 or not _DNS_NAME.match(name):
        raise PKIError(f"invalid DNS name for a certificate SAN: {name!r}")
    return name.lower()


def _valid_ip(value: IpInput) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise PKIError(f"invalid IP address for a certificate SAN: {value!r}") from None
