"""The REST client every loop uses: typed by the resource catalog, errors as ``ApiError``, retries with backoff
for requests that are safe to repeat, and watch streams as async iterators."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
import orjson

from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError
from provisioner.services.client.config import ClientConfig

log = logging.getLogger("client")

PATCH_CONTENT_TYPES = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_IDEMPOTENT = ("GET", "PUT", "DELETE")
T = TypeVar("T")


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 5.0

    def delay(self, attempt: int) -> float:
        base = min(self.max_backoff, self.initial_backoff * (2 ** attempt))
        return base * random.uniform(0.5, 1.0)


async def until_available(call: Callable[[], Awaitable[T]], max_backoff: float = 5.0) -> T:
    """``call()`` again and again while the apiserver is unavailable or overloaded (5xx, 429, no connection),
    with growing delays; other errors are real and raised."""
    delay = 0.2
    while True:
        try:
            return await call()
        except ApiError as err:
            if err.code < 500 and err.code != 429:
                raise
            log.info("apiserver unavailable (%s); retrying in %.1fs", err.message, delay)
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))
        delay = min(max_backoff, delay * 2)


def resource_path(resource: Resource, namespace: str = "", name: str = "", subresource: str = "") -> str:
    prefix = f"/apis/{resource.group}/{resource.version}" if resource.group else f"/api/{resource.version}"
    if resource.namespaced and namespace:
        prefix += f"/namespaces/{quote(namespace, safe='')}"
    path = f"{prefix}/{resource.plural}"
    if name:
        path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
    return path


def _error_from(status: int, body: bytes) -> ApiError:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict) and data.get("kind") == "Status":
        return ApiError(int(data.get("code") or status), str(data.get("message", "")), str(data.get("reason", "")),
                        data.get("details") or {})
    return ApiError(status, body.decode(errors="replace").strip()[:500] or f"HTTP {status}")


class ApiClient:
    """One aiohttp session to one apiserver. Use as ``async with ApiClient(config) as client``."""

    def __init__(self, config: ClientConfig, *, user_agent: str = "provision", retry: RetryPolicy | None = None,
                 connection_limit: int = 100) -> None:
        self.config = config
        self.user_agent = user_agent
        self.retry = retry or RetryPolicy()
        self._connection_limit = connection_limit
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is not None:
            return
        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        connector = aiohttp.TCPConnector(ssl=self.config.ssl_context() or False, limit=self._connection_limit)
        # Watch lines carry whole objects (up to the apiserver's 3 MiB body limit): the line buffer must fit them.
        self._session = aiohttp.ClientSession(self.config.server, headers=headers, connector=connector,
                                              timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                                              read_bufsize=4 * 1024 * 1024)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ApiClient is not open: use `async with ApiClient(...)`")
        return self._session

    # ------------------------------------------------------------------------------------------------ verbs
    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", timeout: float = 30.0) -> dict[str, Any]:
        data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()
                 if v not in (None, "")}
        attempt = 0
        while True:
            try:
                async with self.session.request(
                    method, path, params=query, data=data, timeout=aiohttp.ClientTimeout(total=timeout),
                    headers={"Content-Type": content_type} if data is not None else None,
                ) as response:
                    raw = await response.read()
                    if response.status < 400:
                        return orjson.loads(raw) if raw else {}
                    error = _error_from(response.status, raw)
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientConnectionError, TimeoutError) as err:
                error = ApiError(503, f"{method} {path}: {err.__class__.__name__}: {err}", "ServiceUnavailable")
                retry_after = None
            retryable = error.code in _RETRY_STATUSES and (method in _IDEMPOTENT or error.code in (429, 503))
            if not retryable or attempt + 1 >= self.retry.attempts:
                raise error
            delay = float(retry_after) if retry_after and retry_after.isdigit() else self.retry.delay(attempt)
            log.debug("%s %s failed (%s); retrying in %.2fs", method, path, error.message, delay)
            await asyncio.sleep(delay)
            attempt += 1

    async def get(self, resource: Resource, name: str, namespace: str = "", subresource: str = "") -> dict[str, Any]:
        return await self.request("GET", resource_path(resource, namespace, name, subresource))

    async def list(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_token: str = "",
                   resource_version: str = "") -> dict[str, Any]:
        params = {"labelSelector": label_selector, "fieldSelector": field_selector,
                  "limit": limit or None, "continue": continue_token, "resourceVersion": resource_version}
        return await self.request("GET", resource_path(resource, namespace), params=params, timeout=120.0)

    async def list_all(self, resource: Resource, namespace: str = "", *, label_selector: str = "",
                       field_selector: str = "", page_size: int = 500) -> tuple[list[dict[str, Any]], str]:
        """Every matching object, page by page, and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            page = await self.list(resource, namespace, label_selector=label_selector,
                                   field_selector=field_selector, limit=page_size, continue_token=token)
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue", "")
            if not token:
                return items, (page.get("metadata") or {}).get("resourceVersion", "")

    async def create(self, resource: Resource, obj: dict[str, Any], namespace: str = "", *,
                     field_manager: str = "", subresource: str = "", name: str = "") -> dict[str, Any]:
        namespace = namespace or (obj.get("metadata") or {}).get("namespace", "")
        path = resource_path(resource, namespace, name, subresource) if subresource else \
            resource_path(resource, namespace)
        return await self.request("POST", path, params={"fieldManager": field_manager}, body=obj)

    async def update(self, resource: Resource, obj: dict[str, Any], *, subresource: str = "",
                     field_manager: str = "") -> dict[str, Any]:
        meta = obj["metadata"]
        path = resource_path(resource, meta.get("namespace", ""), meta["name"], subresource)
        return await self.request("PUT", path, params={"fieldManager": field_manager}, body=obj)

    async def patch(self, resource: Resource, name: str, patch: Any, namespace: str = "", *,
                    patch_type: str = "merge", subresource: str = "", field_manager: str = "",
                    force: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"fieldManager": field_manager}
        if force:
            params["force"] = True
        return await self.request("PATCH", resource_path(resource, namespace, name, subresource), params=params,
                                  body=patch, content_type=PATCH_CONTENT_TYPES[patch_type])

    async def delete(self, resource: Resource, name: str, namespace: str = "", *,
                     propagation_policy: str = "", grace_period_seconds: int | None = None,
                     preconditions: dict[str, str] | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        return await self.request("DELETE", resource_path(resource, namespace, name), body=options)

    # ------------------------------------------------------------------------------------------------ watch
    async def watch(self, resource: Resource, namespace: str = "", *, resource_version: str = "",
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int = 300,
                    allow_bookmarks: bool = True) -> AsyncIterator[WatchEvent]:
        """Events after ``resource_version`` until the server ends the stream; ERROR events raise ApiError."""
        params = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                  "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                  "allowWatchBookmarks": "true" if allow_bookmarks else ""}
        query = {k: str(v) for k, v in params.items() if v not in (None, "")}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_seconds + 30)
        async with self.session.get(resource_path(resource, namespace), params=query, timeout=timeout) as response:
            if response.status >= 400:
                raise _error_from(response.status, await response.read())
            async for line in response.content:
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise ApiError(int(status.get("code") or 500), str(status.get("message", "")),
                                   str(status.get("reason", "")))
                yield WatchEvent(event["type"], event["object"])
