"""CA public-key pins in kubeadm's discovery-token-ca-cert-hash format: `sha256:<hex of SHA-256 over the DER
SubjectPublicKeyInfo>`. Pinning the key (not the certificate) survives re-issuing the CA with the same key."""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provisioner.errors import PKIError

_PIN = re.compile(r"^sha256:[0-9a-f]{64}$")


def spki_pin(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def check_pin_format(pin: str) -> str:
    """Normalise a pin to lower case; reject anything that is not `sha256:` + 64 hex digits."""
    normalised = pin.strip().lower() if isinstance(pin, str) else ""
    if not _PIN.match(normalised):
        raise PKIError(f"invalid CA pin {pin!r}: expected sha256:<64 hex digits>")
    return normalised


def pin_matches(cert: x509.Certificate, pin: str) -> bool:
    return hmac.compare_digest(spki_pin(cert), check_pin_format(pin))
