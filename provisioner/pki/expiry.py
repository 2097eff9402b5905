"""When certificates expire, for `certs check`-style reports and renewal decisions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from provisioner.pki.files import read_bytes
from provisioner.pki.pem import certificate_from_pem

_DAY_SECONDS = 86400


@dataclass(frozen=True)
class Expiry:
    subject: str
    not_after: dt.datetime
    days_left: int  # whole days remaining, rounded down; negative once expired

    @property
    def expired(self) -> bool:
        return self.days_left < 0


def expiry_of(cert: x509.Certificate, now: dt.datetime | None = None) -> Expiry:
    now = now or dt.datetime.now(dt.UTC)
    not_after = cert.not_valid_after_utc
    days_left = int((not_after - now).total_seconds() // _DAY_SECONDS)
    return Expiry(cert.subject.rfc4514_string(), not_after, days_left)


def expiry_of_file(path: Path, now: dt.datetime | None = None) -> Expiry:
    cert = certificate_from_pem(read_bytes(path, "certificate"), str(path))
    return expiry_of(cert, now)
