"""An in-process registry (HTTP API v2) for tests: the endpoints the image library uses, in memory, with an
optional Bearer token realm that works like Docker Hub's (401 + WWW-Authenticate, tokens bound to a scope)."""

from __future__ import annotations

import hashlib
import secrets
import socket
import ssl
import uuid

import orjson
from aiohttp import BasicAuth, web

_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
SERVICE = "fake-registry"


class FakeRegistry:
    """`async with FakeRegistry() as registry:` serves on 127.0.0.1:<free port> (`registry.address`), over
    HTTPS when given an `ssl_context`.

    With `token_auth`, every /v2/ request needs a Bearer token from `/token`, which requires `credentials`
    (basic auth) when given; a token grants the scopes it was asked for and nothing else."""

    def __init__(
        self,
        token_auth: bool = False,
        credentials: tuple[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[
            tuple[str, str], tuple[str, bytes]
        ] = {}  # (repository, tag or digest) → type, raw
        self.corrupted_blobs: dict[str, bytes] = {}  # digest → bytes served instead of the blob
        self.requests: list[tuple[str, str, int]] = []  # method, path with query, status
        self.token_requests: list[list[tuple[str, str]]] = []  # the query of each token request
        self._token_auth = token_auth
        self._credentials = credentials
        self._ssl_context = ssl_context
        self._granted: dict[str, list[str]] = {}  # token → scopes
        self._uploads: dict[str, str] = {}  # upload id → repository
        self._runner: web.AppRunner | None = None
        self.address = ""

    async def __aenter__(self) -> FakeRegistry:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record, self._authorize], client_max_size=1 << 30)
        app.router.add_get("/v2/", self._ping)
        app.router.add_get("/token", self._issue_token)
        app.router.add_get("/v2/{name:.+}/manifests/{reference}", self._get_manifest)
        app.router.add_put("/v2/{name:.+}/manifests/{reference}", self._put_manifest)
        app.router.add_post("/v2/{name:.+}/blobs/uploads/", self._start_upload)
        app.router.add_put("/v2/{name:.+}/blobs/uploads/{upload}", self._finish_upload)
        app.router.add_get("/v2/{name:.+}/blobs/{digest}", self._get_blob)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{listener.getsockname()[1]}"
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, listener, ssl_context=self._ssl_context).start()
        return self.address

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def put_blob(self, content: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        self.blobs[digest] = content
        return digest

    def put_manifest(self, repository: str, reference: str, media_type: str, raw: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.manifests[(repository, reference)] = (media_type, raw)
        self.manifests[(repository, digest)] = (media_type, raw)
        return digest

    # --- middlewares ---------------------------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as e:
            self.requests.append((request.method, request.path_qs, e.status))
            raise
        self.requests.append((request.method, request.path_qs, response.status))
        return response

    @web.middleware
    async def _authorize(self, request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        if not self._token_auth or not request.path.startswith("/v2/"):
            return await handler(request)
        needed = _needed_scope(request)
        header = request.headers.get("Authorization", "")
        granted = self._granted.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if granted is not None and _covers(granted, needed):
            return await handler(request)
        scheme = "http" if self._ssl_context is None else "https"
        challenge = f'Bearer realm="{scheme}://{self.address}/token",service="{SERVICE}"'
        if needed:
            challenge += f',scope="{needed}"'
        return _error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})

    # --- handlers ------------------------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _issue_token(self, request: web.Request) -> web.Response:
        self.token_requests.append(list(request.query.items()))
        if self._credentials is not None:
            try:
                given = BasicAuth.decode(request.headers.get("Authorization", ""))
            except ValueError:
                given = None
            if given is None or (given.login, given.password) != self._credentials:
                return _error(401, "UNAUTHORIZED", "bad credentials")
        token = secrets.token_hex(16)
        self._granted[token] = request.query.getall("scope", [])
        return web.json_response({"token": token, "expires_in": 300})

    async def _get_manifest(self, request: web.Request) -> web.Response:
        name, reference = request.match_info["name"], request.match_info["reference"]
        stored = self.manifests.get((name, reference))
        if stored is None:
            return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
        media_type, raw = stored
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        return web.Response(body=raw, headers={"Content-Type": media_type, "Docker-Content-Digest": digest})

    async def _put_manifest(self, request: web.Request) -> web.Response:
        name, reference = request.match_info["name"], request.match_info["reference"]
        raw = await request.read()
        media_type = request.headers.get("Content-Type", "")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "MANIFEST_INVALID", "manifest invalid")
        if media_type not in _INDEX_TYPES:
            referenced = [document.get("config", {}), *document.get("layers", [])]
            if any(entry.get("digest") not in self.blobs for entry in referenced):
                return _error(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry")
        digest = self.put_manifest(name, reference, media_type, raw)
        return web.Response(
            status=201,
            headers={"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest},
        )

    async def _start_upload(self, request: web.Request) -> web.Response:
        upload = uuid.uuid4().hex
        self._uploads[upload] = request.match_info["name"]
        # A query in the Location, as distribution sends one: the client must keep it when adding ?digest=.
        location = f"/v2/{request.match_info['name']}/blobs/uploads/{upload}?_state=fake"
        return web.Response(status=202, headers={"Location": location, "Docker-Upload-UUID": upload})

    async def _finish_upload(self, request: web.Request) -> web.Response:
        upload = request.match_info["upload"]
        if (
            self._uploads.pop(upload, None) != request.match_info["name"]
            or request.query.get("_state") != "fake"
        ):
            return _error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        content = await request.read()
        digest = request.query.get("digest", "")
        if digest != "sha256:" + hashlib.sha256(content).hexdigest():
            return _error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
        self.blobs[digest] = content
        return web.Response(status=201, headers={"Docker-Content-Digest": digest})

    async def _get_blob(self, request: web.Request) -> web.Response:
        digest = request.match_info["digest"]
        if digest not in self.blobs:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        content = self.corrupted_blobs.get(digest, self.blobs[digest])
        return web.Response(
            body=content,
            headers={"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest},
        )


def _needed_scope(request: web.Request) -> str:
    name = request.match_info.get("name")
    if name is None:
        return ""
    return f"repository:{name}:{'pull' if request.method in ('GET', 'HEAD') else 'pull,push'}"


def _covers(granted: list[str], needed: str) -> bool:
    if not needed:
        return True
    needed_name, _, needed_actions = needed.rpartition(":")
    for scope in granted:
        name, _, actions = scope.rpartition(":")
        if name == needed_name and set(needed_actions.split(",")) <= set(actions.split(",")):
            return True
    return False


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = orjson.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)
