"""PEM encoding and decoding; decode errors name where the bytes came from."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from provisioner.errors import PKIError

# Keys we issue are ECDSA P-256; RSA is accepted when loading an existing CA (kubeadm's default is RSA 2048).
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

PemInput = bytes | str


def as_bytes(data: PemInput) -> bytes:
    return data.encode("ascii") if isinstance(data, str) else data


def certificate_to_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_to_pem(key: PrivateKey) -> bytes:
    # PKCS#8, unencrypted: the file mode (0600) protects it, as kubeadm does; services load it without a passphrase.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate_from_pem(data: PemInput, source: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(as_bytes(data))
    except (ValueError, UnicodeEncodeError):
        raise PKIError(f"{source}: not a PEM-encoded X.509 certificate") from None


def private_key_from_pem(data: PemInput, source: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(as_bytes(data), password=None)
    except TypeError:
        raise PKIError(f"{source}: private key is encrypted; an unencrypted key is required") from None
    except (ValueError, UnicodeEncodeError):
        raise PKIError(f"{source}: not a PEM-encoded private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PKIError(f"{source}: unsupported key type {type(key).__name__} (ECDSA or RSA expected)")
    return key


def csr_from_pem(data: PemInput, source: str) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(as_bytes(data))
    except (ValueError, UnicodeEncodeError):
        raise PKIError(f"{source}: not a PEM-encoded certificate signing request") from None


def same_public_key(a: PublicKey, b: PublicKey) -> bool:
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(der, spki) == b.public_bytes(der, spki)
