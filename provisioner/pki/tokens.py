"""Bootstrap tokens in kubeadm's format `[a-z0-9]{6}.[a-z0-9]{16}`: a public id and a secret."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field

from provisioner.errors import PKIError

_ALPHABET = string.ascii_lowercase + string.digits
_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
TOKEN_ID_LENGTH = 6
TOKEN_SECRET_LENGTH = 16


@dataclass(frozen=True)
class BootstrapToken:
    id: str
    secret: str = field(repr=False)  # never in logs or tracebacks

    def __str__(self) -> str:
        return f"{self.id}.{self.secret}"


def generate_bootstrap_token() -> BootstrapToken:
    return BootstrapToken(_random_string(TOKEN_ID_LENGTH), _random_string(TOKEN_SECRET_LENGTH))


def parse_bootstrap_token(text: str) -> BootstrapToken:
    match = _TOKEN.match(text) if isinstance(text, str) else None
    if match is None:
        # The value is a secret: say what is wrong, not what it was.
        raise PKIError("invalid bootstrap token: expected [a-z0-9]{6}.[a-z0-9]{16}")
    return BootstrapToken(match.group(1), match.group(2))


def _random_string(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
