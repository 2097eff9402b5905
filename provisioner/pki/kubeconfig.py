"""Kubeconfig files with everything embedded (`*-data`), so one file is all a client needs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from provisioner.errors import PKIError
from provisioner.pki.files import write_private_file
from provisioner.pki.pem import PemInput, as_bytes, certificate_from_pem, private_key_from_pem


def kubeconfig(
    cluster_name: str,
    server_url: str,
    ca_pem: PemInput,
    user: str,
    client_cert_pem: PemInput | None = None,
    client_key_pem: PemInput | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """A `kind: Config` with one cluster, one user and one context `<user>@<cluster_name>`, selected.

    The user authenticates with a client certificate + key or with a bearer token. The server must be https:
    kubectl sends neither over plain http.
    """
    _check_name("cluster name", cluster_name)
    _check_name("user", user)
    _check_server_url(server_url)
    certificate_from_pem(ca_pem, f"kubeconfig {cluster_name}: CA certificate")
    context = f"{user}@{cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server_url, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": _credentials(user, client_cert_pem, client_key_pem, token)}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """YAML, mode 0600 (it holds credentials), written atomically."""
    write_private_file(Path(path), yaml.safe_dump(config, sort_keys=False).encode())


def _credentials(
    user: str, client_cert_pem: PemInput | None, client_key_pem: PemInput | None, token: str | None
) -> dict[str, str]:
    has_cert = client_cert_pem is not None or client_key_pem is not None
    if has_cert and token is not None:
        raise PKIError(f"kubeconfig user {user!r}: give a client certificate or a token, not both")
    if has_cert:
        if client_cert_pem is None or client_key_pem is None:
            raise PKIError(
                f"kubeconfig user {user!r}: a client certificate needs both the certificate and its key"
            )
        certificate_from_pem(client_cert_pem, f"kubeconfig user {user!r}: client certificate")
        private_key_from_pem(client_key_pem, f"kubeconfig user {user!r}: client key")
        return {"client-certificate-data": _b64(client_cert_pem), "client-key-data": _b64(client_key_pem)}
    if token is not None:
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise PKIError(f"kubeconfig user {user!r}: token must be a non-empty string without whitespace")
        return {"token": token}
    raise PKIError(f"kubeconfig user {user!r}: no credentials (client certificate + key, or token)")


def _check_server_url(server_url: str) -> None:
    parts = urlsplit(server_url) if isinstance(server_url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        raise PKIError(f"kubeconfig server {server_url!r}: must be an https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise PKIError(f"kubeconfig server {server_url!r}: invalid port") from None


def _check_name(what: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise PKIError(f"kubeconfig {what} must be a non-empty string, got {value!r}")


def _b64(pem: PemInput) -> str:
    return base64.b64encode(as_bytes(pem)).decode("ascii")
