"""How a service reaches the apiserver: server URL and credentials, usually read from a kubeconfig."""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A kubeconfig that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class ClientConfig:
    server: str
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    insecure_skip_verify: bool = False

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> ClientConfig:
        path = Path(path)
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read kubeconfig: {err}") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{path}: not a kubeconfig (expected a mapping)")
        name = context or document.get("current-context")
        ctx = _named(document, "contexts", name, path).get("context") or {}
        cluster = _named(document, "clusters", ctx.get("cluster"), path).get("cluster") or {}
        user = _named(document, "users", ctx.get("user"), path).get("user") or {}
        server = cluster.get("server")
        if not server:
            raise ConfigError(f"{path}: cluster {ctx.get('cluster')!r} has no server")
        base = path.parent
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = _read(base, user["tokenFile"], path).decode().strip()
        return cls(
            server=server.rstrip("/"),
            ca_pem=_data_or_file(cluster, "certificate-authority", base, path),
            client_cert_pem=_data_or_file(user, "client-certificate", base, path),
            client_key_pem=_data_or_file(user, "client-key", base, path),
            token=token,
            insecure_skip_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        context = ssl.create_default_context(cadata=self.ca_pem.decode() if self.ca_pem else None)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_pem and self.client_key_pem:
            _load_client_cert(context, self.client_cert_pem, self.client_key_pem)
        return context


def _named(document: dict[str, Any], section: str, name: str | None, path: Path) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    raise ConfigError(f"{path}: no entry {name!r} in {section}")


def _read(base: Path, name: str, path: Path) -> bytes:
    target = Path(name) if os.path.isabs(name) else base / name
    try:
        return target.read_bytes()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read {target}: {err.strerror}") from None


def _data_or_file(section: dict[str, Any], field: str, base: Path, path: Path) -> bytes | None:
    if section.get(f"{field}-data"):
        try:
            return base64.b64decode(section[f"{field}-data"])
        except ValueError:
            raise ConfigError(f"{path}: {field}-data is not base64") from None
    if section.get(field):
        return _read(base, section[field], path)
    return None


def _load_client_cert(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module loads certificates only from files: a private temporary directory holds them for a moment.
    with tempfile.TemporaryDirectory(prefix="provision-client-") as directory:
        cert_file, key_file = Path(directory, "client.crt"), Path(directory, "client.key")
        for target, data in ((cert_file, cert_pem), (key_file, key_pem)):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        context.load_cert_chain(cert_file, key_file)
