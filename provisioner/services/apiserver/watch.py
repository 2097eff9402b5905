"""Watch streams: chunked, newline-delimited events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR), resumable from a
resourceVersion, with WatchList (``sendInitialEvents``) and Table-encoded events for ``kubectl get -w``."""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from provisioner.services.api import tables
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError, bad_request
from provisioner.services.apiserver import store
from provisioner.services.apiserver.paths import Target
from provisioner.services.apiserver.registry import Registry
from provisioner.services.storage.backend import BackendClosed, Compacted, Event, WatchDropped

Matcher = Callable[[dict[str, Any]], bool]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# Kubernetes keeps a watch without timeoutSeconds open for a random 30-60 minutes.
_DEFAULT_TIMEOUT = (1800.0, 3600.0)


@dataclass(frozen=True)
class WatchRequest:
    target: Target
    matches: Matcher | None
    resource_version: str
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float
    as_table: bool
    include_object: str
    key_prefix: str  # narrower than the collection when the field selector pins a name

    @classmethod
    def from_query(cls, target: Target, query: Any, matches: Matcher | None, pinned_name: str, as_table: bool,
                   include_object: str) -> WatchRequest:
        timeout_text = query.get("timeoutSeconds", "")
        if timeout_text:
            try:
                timeout = float(int(timeout_text))
            except ValueError:
                raise bad_request(f"invalid timeoutSeconds {timeout_text!r}") from None
            if timeout < 0:
                raise bad_request(f"invalid timeoutSeconds {timeout_text!r}")
        else:
            timeout = random.uniform(*_DEFAULT_TIMEOUT)
        send_initial = query.get("sendInitialEvents", "") == "true"  # combinations: options.validate_list
        prefix = store.collection_prefix(target.resource, target.namespace)
        if pinned_name and (target.namespace or not target.resource.namespaced):
            prefix = store.object_key(target.resource, target.namespace, pinned_name)
        return cls(target, matches, query.get("resourceVersion", ""), send_initial,
                   query.get("allowWatchBookmarks", "") == "true", timeout, as_table, include_object, prefix)


class EventLineCache:
    """Encoded event lines shared by watchers: with many watchers on one resource, each change is encoded once."""

    def __init__(self, capacity: int = 4096) -> None:
        self._lines: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._capacity = capacity

    def get(self, key: tuple[Any, ...], encode: Callable[[], bytes]) -> bytes:
        line = self._lines.get(key)
        if line is None:
            line = encode()
            self._lines[key] = line
            if len(self._lines) > self._capacity:
                self._lines.popitem(last=False)
        return line


class WatchEncoder:
    def __init__(self, request: WatchRequest, cache: EventLineCache) -> None:
        self._request = request
        self._cache = cache
        self._headers_sent = False

    def event(self, event_type: str, obj: dict[str, Any], cache_key: tuple[Any, ...] | None = None) -> bytes:
        request = self._request
        if not request.as_table:
            if cache_key is None:
                return _line(event_type, obj)
            return self._cache.get((*cache_key, event_type, "json"), lambda: _line(event_type, obj))
        headers = not self._headers_sent
        self._headers_sent = True

        def encode() -> bytes:
            table = tables.table(request.target.resource, [obj], include_object=request.include_object,
                                 headers=headers, resource_version=obj["metadata"].get("resourceVersion", ""))
            return _line(event_type, table)

        if cache_key is None:
            return encode()
        return self._cache.get((*cache_key, event_type, "table", headers, request.include_object), encode)

    def bookmark(self, resource: Resource, revision: int, initial_events_end: bool = False) -> bytes:
        metadata: dict[str, Any] = {"resourceVersion": str(revision)}
        if initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        return _line("BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata})


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def error_line(err: ApiError) -> bytes:
    return _line("ERROR", err.to_status())


async def serve(http_request: web.Request, registry: Registry, request: WatchRequest, cache: EventLineCache,
                content_type: str, bookmark_interval: float) -> web.StreamResponse:
    resource = request.target.resource
    encoder = WatchEncoder(request, cache)
    initial: list[dict[str, Any]] = []
    start_revision = 0
    if request.send_initial_events or request.resource_version in ("", "0"):
        page = await registry.list(request.target, matches=request.matches)
        initial, start_revision = page.items, int(page.resource_version)
    else:
        try:
            start_revision = int(request.resource_version)
        except ValueError:
            raise bad_request(f"invalid resource version {request.resource_version!r}") from None
    response = web.StreamResponse(status=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(http_request)
        for obj in initial:
            await response.write(encoder.event("ADDED", obj))
        if request.send_initial_events and request.allow_bookmarks:
            await response.write(encoder.bookmark(resource, start_revision, initial_events_end=True))
        await _stream(response, registry, request, encoder, start_revision, bookmark_interval)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client went away; a cancelled handler (client disconnect) propagates as aiohttp expects
    return response


async def _stream(response: web.StreamResponse, registry: Registry, request: WatchRequest, encoder: WatchEncoder,
                  start_revision: int, bookmark_interval: float) -> None:
    resource = request.target.resource
    try:
        storage_watch = registry.backend.watch(request.key_prefix, start_revision)
    except Compacted as err:
        await response.write(error_line(_expired(err)))
        return
    last_revision = start_revision
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.timeout
    events = storage_watch.__aiter__()
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            wait = min(remaining, bookmark_interval) if request.allow_bookmarks else remaining
            try:
                # asyncio.timeout, not wait_for: no extra task per event, which matters at 1000 watchers.
                async with asyncio.timeout(wait):
                    event = await events.__anext__()
            except TimeoutError:
                if request.allow_bookmarks and deadline - loop.time() > 0:
                    await response.write(encoder.bookmark(resource, last_revision))
                continue
            except StopAsyncIteration:
                return
            line = _encode_event(event, request, encoder)
            last_revision = event.revision
            if line:
                await response.write(line)
    except Compacted as err:
        await response.write(error_line(_expired(err)))
    except (WatchDropped, BackendClosed):
        return  # the client re-watches from its last resourceVersion
    finally:
        await storage_watch.close()


def _encode_event(event: Event, request: WatchRequest, encoder: WatchEncoder) -> bytes:
    # A name-pinned prefix also catches longer names ("web" → "web-2"); the field selector in `matches` sorts
    # them out, so the prefix is only a narrowing, never the filter.
    obj = store.decode(event.kv)
    cache_key = (event.revision, event.kv.key)
    if event.type == "DELETE":
        if request.matches is None or request.matches(obj):
            return encoder.event("DELETED", obj, cache_key)
        return b""
    matches_now = request.matches is None or request.matches(obj)
    if request.matches is None:
        return encoder.event("MODIFIED" if event.prev is not None else "ADDED", obj, cache_key)
    matched_before = event.prev is not None and request.matches(store.decode(event.prev))
    if matches_now:
        return encoder.event("MODIFIED" if matched_before else "ADDED", obj, cache_key)
    if matched_before:
        # The object left the selection: to this watcher it is gone (its last matching state, at this revision).
        return encoder.event("DELETED", store.decode(event.prev, event.revision), cache_key)
    return b""


def _expired(err: Compacted) -> ApiError:
    return ApiError(410, f"too old resource version: {err.requested} ({err.compact_revision})", "Expired")
