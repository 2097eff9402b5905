"""Authentication: client certificates (CN = user, O = groups), bootstrap tokens stored as Secrets, and a static
token file. A request with none of them is anonymous; one with a bad token is rejected."""

from __future__ import annotations

import base64
import csv
import hmac
import re
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from provisioner.services.api import resources
from provisioner.services.api.status import ApiError
from provisioner.services.apiserver import store
from provisioner.services.apiserver.context import ANONYMOUS, User
from provisioner.services.storage.backend import Backend

BOOTSTRAP_TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
BOOTSTRAP_SECRET_TYPE = "bootstrap.kubernetes.io/token"
BOOTSTRAPPERS = "system:bootstrappers"
AUTHENTICATED = "system:authenticated"
_SECRETS = resources.lookup("", "v1", "secrets")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def load_token_file(path: str) -> dict[str, User]:
    """Kubernetes' static token CSV: ``token,user,uid,"group1,group2"``."""
    tokens: dict[str, User] = {}
    with Path(path).open(newline="") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 3 or not row[0] or not row[1]:
                raise ValueError(f"{path}:{number}: expected token,user,uid[,\"groups\"]")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0]] = User(row[1], groups + (AUTHENTICATED,), row[2])
    return tokens


def user_from_certificate(peercert: dict[str, Any]) -> User:
    names: list[str] = []
    groups: list[str] = []
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.append(value)
            elif key == "organizationName":
                groups.append(value)
    return User(names[0] if names else "", tuple(groups) + (AUTHENTICATED,))


class Authenticator:
    def __init__(self, backend: Backend, static_tokens: dict[str, User] | None = None) -> None:
        self._backend = backend
        self._static_tokens = static_tokens or {}

    async def authenticate(self, authorization: str, ssl_object: ssl.SSLObject | None) -> User:
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise unauthorized()
            return await self._from_token(token.strip())
        if ssl_object is not None:
            peercert = ssl_object.getpeercert()
            if peercert:
                user = user_from_certificate(peercert)
                if user.name:
                    return user
        return ANONYMOUS

    async def _from_token(self, token: str) -> User:
        for known, user in self._static_tokens.items():
            if hmac.compare_digest(known, token):
                return user
        match = BOOTSTRAP_TOKEN.match(token)
        if match:
            user = await self._from_bootstrap_token(match.group(1), match.group(2))
            if user is not None:
                return user
        raise unauthorized()

    async def _from_bootstrap_token(self, token_id: str, token_secret: str) -> User | None:
        kv = await self._backend.get(store.object_key(_SECRETS, "kube-system", f"bootstrap-token-{token_id}"))
        if kv is None:
            return None
        secret = orjson.loads(kv.value)
        if secret.get("type") != BOOTSTRAP_SECRET_TYPE or secret.get("metadata", {}).get("deletionTimestamp"):
            return None
        data = {k: _b64(v) for k, v in (secret.get("data") or {}).items()}
        data.update(secret.get("stringData") or {})
        if data.get("token-id") != token_id or not hmac.compare_digest(data.get("token-secret", ""), token_secret):
            return None
        if data.get("usage-bootstrap-authentication") != "true":
            return None
        if expiration := data.get("expiration"):
            try:
                expires = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
            except ValueError:
                return None
            if expires <= datetime.now(UTC):
                return None
        extra = tuple(g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip())
        return User(f"system:bootstrap:{token_id}", (BOOTSTRAPPERS, *extra, AUTHENTICATED))


def _b64(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
