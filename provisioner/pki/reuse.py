"""Load-or-create for a CA and its leaves: what exists and still fits is kept, anything else is issued anew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from provisioner.errors import PKIError
from provisioner.pki.ca import CA_VALIDITY, CertificateAuthority, IssuedCert, load_issued_cert

# A reused certificate must stay valid for a while: it is renewed once less than this is left, or less than a
# third of its lifetime for certificates made to live shorter (a 10-day certificate is renewed after ~7 days).
RENEW_BEFORE = dt.timedelta(days=30)


def renewal_due(cert: x509.Certificate, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_after_utc - now < min(RENEW_BEFORE, lifetime / 3)


def load_or_create_ca(cert_path: Path, key_path: Path, common_name: str,
                      validity: dt.timedelta = CA_VALIDITY) -> CertificateAuthority:
    cert_exists, key_exists = cert_path.exists(), key_path.exists()
    if cert_exists and key_exists:
        ca = CertificateAuthority.load(cert_path, key_path)
        if renewal_due(ca.cert):
            raise PKIError(f"{cert_path}: the CA expires {ca.cert.not_valid_after_utc:%Y-%m-%d}; "
                           f"remove {cert_path.parent} to start over with a new CA")
        return ca
    if cert_exists or key_exists:
        # Replacing half a CA would silently invalidate every certificate and kubeconfig issued from it.
        missing = key_path if cert_exists else cert_path
        raise PKIError(f"{missing}: missing while its pair exists; restore it or remove {cert_path.parent}")
    ca = CertificateAuthority.generate(common_name=common_name, validity=validity)
    ca.save(cert_path, key_path)
    return ca


def ensure_leaf(ca: CertificateAuthority, cert_path: Path, key_path: Path, issue: Callable[[], IssuedCert],
                fits: Callable[[x509.Certificate], bool] = lambda cert: True) -> bool:
    """Keep the leaf at cert_path/key_path if the CA issued it, it is not about to expire and `fits` it;
    otherwise save a new one from `issue()`. Returns whether a new one was issued."""
    if cert_path.exists() and key_path.exists():
        try:
            existing = load_issued_cert(cert_path, key_path)
        except PKIError:
            existing = None  # unreadable or mismatched: a leaf is cheap to re-issue
        if existing is not None and still_good(ca, existing.cert) and fits(existing.cert):
            return False
    issue().save(cert_path, key_path)
    return True


def still_good(ca: CertificateAuthority, cert: x509.Certificate) -> bool:
    return ca.issued(cert) and not renewal_due(cert)

