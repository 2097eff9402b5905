"""An asynchronous client of the registry HTTP API v2 (OCI distribution spec): manifests with platform
selection, blobs streamed to disk and verified, pushes, and the Bearer token dance of Docker Hub.

Auth: a request answered 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` makes the client fetch
a token from the realm (with basic credentials when it has some for that registry) and retry once; `Basic`
challenges are answered with the credentials directly. Tokens are cached per registry and scope."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
import orjson

from provisioner.services.oci.errors import DigestMismatch, RegistryError
from provisioner.services.oci.media import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    select_platform,
    sha256_digest,
)
from provisioner.services.oci.reference import ImageReference

MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))
MAX_MANIFEST_BYTES = 4 << 20  # the limit of containerd and distribution
_CHUNK_BYTES = 1 << 20
_DEFAULT_TOKEN_SECONDS = 60  # the distribution token spec's default for a token without expires_in
_TOKEN_MARGIN_SECONDS = 5
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


@dataclass(frozen=True)
class Manifest:
    """An image manifest (never an index: indexes are resolved to the platform's manifest)."""

    reference: ImageReference  # carries the manifest's digest
    digest: str
    media_type: str
    raw: bytes
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass
class _Token:
    authorization: str
    expires_at: float


class RegistryClient:
    """One aiohttp session for any number of registries. Registries in `insecure_registries` (host[:port] as
    in references) are spoken to over plain HTTP; `credentials` maps host[:port] to (user, password)."""

    def __init__(
        self,
        insecure_registries: Iterable[str] = (),
        credentials: Mapping[str, tuple[str, str]] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self._insecure = frozenset(insecure_registries)
        self._credentials = dict(credentials or {})
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[tuple[str, str], _Token] = {}

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- pull ----------------------------------------------------------------------------------------------

    async def ping(self, registry: str) -> None:
        """GET /v2/: the registry speaks API v2 and our credentials (if any) are accepted."""
        async with self._request(f"ping {registry}", registry, "", "GET", "/v2/"):
            pass

    async def get_manifest(self, reference: ImageReference, platform: Platform) -> Manifest:
        """The manifest `reference` names, through an index to the entry for `platform` if it names one."""
        what = f"pull {reference}"
        raw, media_type, digest = await self._fetch_manifest(what, reference, reference.manifest_reference)
        if media_type in INDEX_TYPES:
            index = _parse_json(raw, what)
            entries = [Descriptor.from_json(entry, what) for entry in _list(index, "manifests", what)]
            chosen = select_platform(entries, platform, what)
            raw, media_type, digest = await self._fetch_manifest(what, reference, chosen.digest)
            if media_type in INDEX_TYPES:
                raise RegistryError(
                    f"{what}: the index for {platform} points to another index (not supported)"
                )
        if media_type not in MANIFEST_TYPES:
            raise RegistryError(
                f"{what}: unsupported manifest type {media_type!r} (schema 1 images are not supported)"
            )
        manifest = _parse_json(raw, what)
        config = Descriptor.from_json(manifest.get("config"), what)
        layers = tuple(Descriptor.from_json(layer, what) for layer in _list(manifest, "layers", what))
        return Manifest(reference.with_digest(digest), digest, media_type, raw, config, layers)

    async def fetch_blob(self, reference: ImageReference, blob: Descriptor, destination: Path) -> None:
        """Stream a blob into `destination`, which appears only once its size and digest are verified."""
        what = f"pull {reference}"
        partial = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.partial")
        hasher, received = hashlib.sha256(), 0
        try:
            path = f"/v2/{reference.repository}/blobs/{blob.digest}"
            async with self._request(
                what, reference.api_host, _scope(reference, "pull"), "GET", path
            ) as response:
                with open(partial, "wb") as out:
                    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                        received += len(chunk)
                        if received > blob.size:
                            raise DigestMismatch(
                                f"{what}: blob {blob.digest} is larger than its {blob.size} bytes"
                            )
                        hasher.update(chunk)
                        out.write(chunk)
            if received != blob.size:
                raise DigestMismatch(f"{what}: blob {blob.digest} has {received} bytes, expected {blob.size}")
            actual = "sha256:" + hasher.hexdigest()
            if actual != blob.digest:
                raise DigestMismatch(f"{what}: blob {blob.digest} has digest {actual}")
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    # --- push ----------------------------------------------------------------------------------------------

    async def blob_exists(self, reference: ImageReference, digest: str) -> bool:
        path = f"/v2/{reference.repository}/blobs/{digest}"
        scope = _scope(reference, "pull,push")
        async with self._request(
            f"push {reference}", reference.api_host, scope, "HEAD", path, expected=(200, 404)
        ) as response:
            return response.status == 200

    async def push_blob(self, reference: ImageReference, digest: str, content: Path | bytes) -> None:
        """Monolithic upload: POST opens an upload session, PUT ?digest= sends the whole blob and ends it."""
        what, scope = f"push {reference}", _scope(reference, "pull,push")
        uploads = f"/v2/{reference.repository}/blobs/uploads/"
        async with self._request(
            what, reference.api_host, scope, "POST", uploads, expected=(202,)
        ) as response:
            location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{what}: the registry opened an upload without a Location", 202)
        upload_url = urljoin(self._base_url(reference.api_host) + uploads, location)
        headers = {"Content-Type": "application/octet-stream"}
        async with self._request(
            what,
            reference.api_host,
            scope,
            "PUT",
            upload_url,
            params={"digest": digest},
            headers=headers,
            body=content,
            expected=(201,),
        ):
            pass

    async def push_manifest(self, reference: ImageReference, media_type: str, raw: bytes) -> str:
        """PUT the manifest under the reference's tag (or digest); returns its digest."""
        path = f"/v2/{reference.repository}/manifests/{reference.manifest_reference}"
        async with self._request(
            f"push {reference}",
            reference.api_host,
            _scope(reference, "pull,push"),
            "PUT",
            path,
            headers={"Content-Type": media_type},
            body=raw,
            expected=(201,),
        ):
            pass
        return sha256_digest(raw)

    # --- transport -----------------------------------------------------------------------------------------

    async def _fetch_manifest(self, what: str, reference: ImageReference, ref: str) -> tuple[bytes, str, str]:
        path = f"/v2/{reference.repository}/manifests/{ref}"
        headers = {"Accept": MANIFEST_ACCEPT}
        async with self._request(
            what, reference.api_host, _scope(reference, "pull"), "GET", path, headers=headers
        ) as response:
            raw = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                raw += chunk
                if len(raw) > MAX_MANIFEST_BYTES:
                    raise RegistryError(f"{what}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            announced = response.headers.get("Docker-Content-Digest")
        digest = sha256_digest(bytes(raw))
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatch(f"{what}: manifest {ref} has digest {digest}")
        if announced and announced != digest:
            raise DigestMismatch(f"{what}: manifest announced as {announced} has digest {digest}")
        declared = _parse_json(bytes(raw), what).get("mediaType")
        return bytes(raw), declared if isinstance(declared, str) else content_type, digest

    def _base_url(self, host: str) -> str:
        return f"{'http' if host in self._insecure else 'https'}://{host}"

    async def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # trust_env=False: proxies from the environment must not see (or reroute) registry traffic.
            self._session = aiohttp.ClientSession(timeout=self._timeout, trust_env=False)
        return self._session

    @asynccontextmanager
    async def _request(
        self,
        what: str,
        host: str,
        scope: str,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Path | bytes | None = None,
        expected: tuple[int, ...] = (200,),
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A request answered with one of `expected`, authenticated on a 401 and retried once; any other
        answer raises a RegistryError naming `what` and the status."""
        session = await self._get_session()
        url = path_or_url if "://" in path_or_url else self._base_url(host) + path_or_url
        for attempt in (1, 2):
            request_headers = dict(headers or {})
            authorization = self._authorization(host, scope)
            if authorization:
                request_headers["Authorization"] = authorization
            try:
                # A file body is opened per attempt: the first attempt may have consumed it before a 401.
                with body.open("rb") if isinstance(body, Path) else nullcontext(body) as data:
                    response = await session.request(
                        method, url, params=params, headers=request_headers, data=data, ssl=self._ssl
                    )
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise RegistryError(f"{what}: cannot reach {host}: {_describe(e)}") from None
            try:
                if response.status == 401 and attempt == 1:
                    challenge = response.headers.get("WWW-Authenticate", "")
                    await self._authenticate(what, host, scope, challenge, await _error_message(response))
                    continue
                if response.status not in expected:
                    raise RegistryError(
                        f"{what}: {await _error_message(response)} ({response.status})", response.status
                    )
                yield response
                return
            finally:
                response.release()

    def _authorization(self, host: str, scope: str) -> str | None:
        token = self._tokens.get((host, scope)) or self._tokens.get((host, "*"))
        if token is None or token.expires_at <= time.monotonic():
            return None
        return token.authorization

    async def _authenticate(self, what: str, host: str, scope: str, challenge: str, refusal: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        params = {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _CHALLENGE_PARAM.finditer(rest)}
        credentials = self._credentials.get(host)
        if scheme.lower() == "basic":
            if credentials is None:
                raise RegistryError(
                    f"{what}: {refusal}; the registry wants credentials and none are configured (401)", 401
                )
            # Basic credentials hold for every scope of the registry.
            self._tokens[(host, "*")] = _Token(_basic_authorization(credentials), float("inf"))
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise RegistryError(f"{what}: {refusal} (401)", 401)
        await self._fetch_token(what, host, scope, params, credentials)

    async def _fetch_token(
        self, what: str, host: str, scope: str, challenge: dict[str, str], credentials: tuple[str, str] | None
    ) -> None:
        # Ours covers the requests that follow (a push HEADs, POSTs and PUTs); the challenge's may differ.
        scopes = list(dict.fromkeys(s for s in (scope, challenge.get("scope", "")) if s))
        query = [("service", challenge["service"])] if "service" in challenge else []
        query += [("scope", s) for s in scopes]
        realm = challenge["realm"]
        headers = {"Authorization": _basic_authorization(credentials)} if credentials else {}
        session = await self._get_session()
        try:
            async with session.get(realm, params=query, headers=headers, ssl=self._ssl) as response:
                if response.status != 200:
                    refusal = await _error_message(response)
                    raise RegistryError(
                        f"{what}: token request to {realm} refused: {refusal} ({response.status})",
                        response.status,
                    )
                answer = _parse_json(await response.read(), f"{what}: token from {realm}")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise RegistryError(f"{what}: cannot reach the token service {realm}: {_describe(e)}") from None
        token = answer.get("token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{what}: the token service {realm} answered without a token")
        expires_in = answer.get("expires_in")
        lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else _DEFAULT_TOKEN_SECONDS
        expires_at = time.monotonic() + max(lifetime - _TOKEN_MARGIN_SECONDS, 1)
        self._tokens[(host, scope)] = _Token(f"Bearer {token}", expires_at)


def _basic_authorization(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()


def _scope(reference: ImageReference, actions: str) -> str:
    return f"repository:{reference.repository}:{actions}"


async def _error_message(response: aiohttp.ClientResponse) -> str:
    """The registry's own words: the messages of an OCI error body, else the body's start or the reason."""
    try:
        body = await response.content.read(64 << 10)
    except (aiohttp.ClientError, TimeoutError):
        body = b""
    try:
        errors = orjson.loads(body).get("errors") if body else None
    except (orjson.JSONDecodeError, AttributeError):
        errors = None
    if isinstance(errors, list):
        messages = [str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict)]
        if messages:
            return "; ".join(messages)
    text = body.decode(errors="replace").strip()
    return text[:200] if text and "<" not in text[:1] else (response.reason or "no reason given").lower()


def _parse_json(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise RegistryError(f"{what}: invalid JSON from the registry: {e}") from None
    if not isinstance(value, dict):
        raise RegistryError(f"{what}: expected a JSON object from the registry")
    return value


def _list(document: dict[str, Any], key: str, what: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list):
        raise RegistryError(f"{what}: manifest has no {key} list")
    return value


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
