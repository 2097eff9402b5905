"""The HTTP application: middleware (errors as Status, metrics, authentication) and request dispatch."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from provisioner.services.api import managed_fields, resources, selectors, tables
from provisioner.services.api.decode import apply_field_validation
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError, bad_request
from provisioner.services.api.version import GIT_VERSION, MAJOR, MINOR
from provisioner.services.apiserver import discovery, negotiation, openapi, options
from provisioner.services.apiserver import watch as watchlib
from provisioner.services.apiserver.authn import Authenticator
from provisioner.services.apiserver.authz import Attributes, authorize, node_may_create_object
from provisioner.services.apiserver.context import ANONYMOUS, User, WriteOptions
from provisioner.services.apiserver.metrics import Metrics
from provisioner.services.apiserver.paths import GroupVersionPath, Target, parse
from provisioner.services.apiserver.proxy import KubeletProxy
from provisioner.services.apiserver.registry import Registry

log = logging.getLogger("apiserver")

MAX_BODY = 3 * 1024 * 1024
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")
VERSION = {
    "major": MAJOR,
    "minor": MINOR,
    "gitVersion": GIT_VERSION,
    "gitCommit": "provision",
    "gitTreeState": "clean",
    "buildDate": "2026-11-01T00:00:00Z",
    "goVersion": "python",
    "compiler": "cpython",
    "platform": "linux/amd64",
}
PODS = resources.lookup("", "v1", "pods")

USER_KEY = web.RequestKey("user", User)


@dataclass
class ServerState:
    registry: Registry
    authenticator: Authenticator
    metrics: Metrics
    proxy: KubeletProxy
    server_address: str
    bookmark_interval: float = 60.0
    ready: bool = False


STATE = web.AppKey("state", ServerState)
EVENT_CACHE = web.AppKey("event_cache", watchlib.EventLineCache)


def json_response(data: Any, status: int = 200, content_type: str = negotiation.JSON,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=None,
                        headers={"Content-Type": content_type, **(headers or {})})


def status_response(err: ApiError) -> web.Response:
    return json_response(err.to_status(), status=err.code)


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Any) -> web.StreamResponse:
    started = time.perf_counter()
    state = request.app[STATE]
    response: web.StreamResponse
    try:
        response = await handler(request)
    except ApiError as err:
        response = status_response(err)
    except web.HTTPRequestEntityTooLarge:
        response = status_response(ApiError(413, f"the request body is larger than {MAX_BODY} bytes",
                                            "RequestEntityTooLarge"))
    except web.HTTPException as err:
        response = status_response(ApiError(err.status, err.reason))
    except Exception:  # a bug: report it as a Status, log the traceback
        log.exception("internal error serving %s %s", request.method, request.path_qs)
        response = status_response(ApiError(500, "Internal error occurred: see the apiserver log",
                                            "InternalError"))
    state.metrics.observe(request, response.status, time.perf_counter() - started)
    return response


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[STATE]
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    user = await state.authenticator.authenticate(request.headers.get("Authorization", ""), ssl_object)
    if user is ANONYMOUS and not request.path.startswith(HEALTH_PATHS):
        raise ApiError(401, "Unauthorized", "Unauthorized")
    request[USER_KEY] = user
    return await handler(request)


def build_app(state: ServerState) -> web.Application:
    app = web.Application(middlewares=[errors_and_metrics, authenticate], client_max_size=MAX_BODY)
    app[STATE] = state
    app[EVENT_CACHE] = watchlib.EventLineCache()
    for path in HEALTH_PATHS:
        app.router.add_get(path, health)
        app.router.add_get(path + "/{check:.*}", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi/v3", openapi_root)
    app.router.add_get("/openapi/v3/{path:.*}", openapi_document)
    app.router.add_route("*", "/{path:api(/.*)?}", api)
    app.router.add_route("*", "/{path:apis(/.*)?}", api)
    return app


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.path.startswith("/readyz") and not state.ready:
        return web.Response(status=500, text="[-]startup failed: the apiserver is still starting\nreadyz check failed")
    return web.Response(text="ok")


async def version(request: web.Request) -> web.Response:
    return json_response(VERSION)


async def metrics(request: web.Request) -> web.Response:
    await _authorize_non_resource(request)
    return web.Response(body=request.app[STATE].metrics.render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def _authorize_non_resource(request: web.Request) -> None:
    user = request[USER_KEY]
    if not user.in_group("system:masters") and user.name not in ("system:kube-controller-manager",
                                                                   "system:kube-scheduler"):
        raise ApiError(403, f'forbidden: User "{user.name}" cannot get path "{request.path}"', "Forbidden")


async def openapi_root(request: web.Request) -> web.Response:
    return _cached(request, openapi.documents().root, "root")


async def openapi_document(request: web.Request) -> web.Response:
    docs = openapi.documents()
    path = request.match_info["path"]
    body = docs.document(path)
    if body is None:
        raise ApiError(404, "the server could not find the requested resource", "NotFound")
    return _cached(request, body, docs.hashes[path])


def _cached(request: web.Request, body: bytes, tag: str) -> web.Response:
    etag = f'"{tag}"'
    headers = {"ETag": etag, "Cache-Control": "public, immutable" if "hash" in request.query else "no-cache, private",
               "Content-Type": negotiation.JSON}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers)


# ------------------------------------------------------------------------------------------------- API paths
async def api(request: web.Request) -> web.StreamResponse:
    addressed = parse(request.path)
    if isinstance(addressed, GroupVersionPath):
        if request.method != "GET":
            raise ApiError(405, "the server does not allow this method on the requested resource",
                           "MethodNotAllowed")
        return _discovery(request, addressed)
    return await _resource(request, addressed)


def _discovery(request: web.Request, gv: GroupVersionPath) -> web.Response:
    accept = request.headers.get("Accept", "")
    if gv.group is None:
        if negotiation.accepts_aggregated_discovery(accept):
            return json_response(discovery.aggregated(gv.legacy), content_type=discovery.AGGREGATED_CONTENT_TYPE)
        if gv.legacy:
            return json_response(discovery.api_versions(request.app[STATE].server_address))
        return json_response(discovery.api_group_list())
    if gv.version is None:
        return json_response(discovery.api_group(gv.group))
    return json_response(discovery.api_resource_list(gv.group, gv.version))


async def _resource(request: web.Request, target: Target) -> web.StreamResponse:
    method = request.method
    if target.subresource in ("log", "exec", "attach", "portforward", "proxy"):
        return await _node_stream(request, target)
    if method == "GET":
        return await _read(request, target)
    if method == "POST":
        return await _create(request, target)
    if method == "PUT":
        return await _update(request, target)
    if method == "PATCH":
        return await _patch(request, target)
    if method == "DELETE":
        return await _delete(request, target)
    raise ApiError(405, f"the server does not allow method {method} on the requested resource", "MethodNotAllowed")


async def _authorize(request: web.Request, verb: str, target: Target) -> User:
    user = request[USER_KEY]
    registry = request.app[STATE].registry

    async def fetch() -> dict[str, Any] | None:
        if not target.name:
            return None
        try:
            return await registry.get(Target(target.resource, target.namespace, target.name))
        except ApiError:
            return None

    await authorize(user, Attributes(verb, target), fetch)
    return user


def _require_namespace(target: Target, verb: str) -> None:
    if target.resource.namespaced and not target.namespace and verb not in ("list", "watch"):
        raise ApiError(404, "the server could not find the requested resource", "NotFound")


# ------------------------------------------------------------------------------------------------- reads
def _selection(resource: Resource, query: Any) -> tuple[Any, str]:
    """A matcher for labelSelector + fieldSelector (None when both are empty) and the name a selector pins."""
    labels = selectors.parse_label_selector(query.get("labelSelector", ""))
    fields = selectors.parse_field_selector(query.get("fieldSelector", ""), resource)
    if labels.empty and fields.empty:
        return None, ""

    def matches(obj: dict[str, Any]) -> bool:
        return labels.matches(obj.get("metadata", {}).get("labels") or {}) and fields.matches(obj)

    return matches, fields.pinned_name or ""


def _include_object(query: Any) -> str:
    value = query.get("includeObject", "Metadata")
    if value not in ("None", "Metadata", "Object"):
        raise bad_request(f"includeObject: Unsupported value: {value!r}: supported values: \"Metadata\", "
                          "\"None\", \"Object\"")
    return value


async def _read(request: web.Request, target: Target) -> web.StreamResponse:
    state = request.app[STATE]
    query = request.query
    accept = request.headers.get("Accept", "")
    as_table = negotiation.accepts_table(accept)
    if target.is_collection:
        verb = "watch" if query.get("watch") in ("true", "1") else "list"
        _require_namespace(target, verb)
        await _authorize(request, verb, target)
        options.validate_list(query, watch=verb == "watch")
        matches, pinned = _selection(target.resource, query)
        include_object = _include_object(query) if as_table else "Metadata"
        if verb == "watch":
            watch_request = watchlib.WatchRequest.from_query(target, query, matches, pinned, as_table,
                                                             include_object)
            return await watchlib.serve(request, state.registry, watch_request, request.app[EVENT_CACHE],
                                        negotiation.TABLE_CONTENT_TYPE if as_table else negotiation.JSON,
                                        state.bookmark_interval)
        page = await state.registry.list(
            target, matches=matches, limit=_int_param(query, "limit"), continue_token=query.get("continue", ""),
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""))
        if as_table:
            return json_response(tables.table(target.resource, page.items, include_object=include_object,
                                              resource_version=page.resource_version,
                                              continue_token=page.continue_token),
                                 content_type=negotiation.TABLE_CONTENT_TYPE)
        metadata: dict[str, Any] = {"resourceVersion": page.resource_version}
        if page.continue_token:
            metadata["continue"] = page.continue_token
        return json_response({"kind": target.resource.list_kind, "apiVersion": target.resource.api_version,
                              "metadata": metadata, "items": page.items})
    _require_namespace(target, "get")
    await _authorize(request, "get", target)
    if target.subresource == "scale":
        return json_response(await state.registry.get_scale(target))
    obj = await state.registry.get(Target(target.resource, target.namespace, target.name))
    if as_table and not target.subresource:
        return json_response(tables.table(target.resource, [obj], include_object=_include_object(request.query),
                                          resource_version=obj["metadata"]["resourceVersion"]),
                             content_type=negotiation.TABLE_CONTENT_TYPE)
    return json_response(obj)


def _bool_param(query: Any, name: str) -> bool | None:
    """A boolean query parameter as Go's strconv.ParseBool reads it; None when absent."""
    if name not in query:
        return None
    raw = query[name]
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise bad_request(f'strconv.ParseBool: parsing "{raw}": invalid syntax')


def _int_param(query: Any, name: str) -> int:
    raw = query.get(name, "")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"invalid {name} {raw!r}: must be an integer") from None
    if value < 0:
        raise bad_request(f"invalid {name} {raw!r}: must not be negative")
    return value


# ------------------------------------------------------------------------------------------------- writes
def _write_options(request: web.Request, user: User, kind: str, *, apply: bool = False) -> WriteOptions:
    """The options of a create, update or patch; ``kind`` is CreateOptions, UpdateOptions or PatchOptions."""
    query = request.query
    options.validate_write(kind, query, apply=apply)
    return WriteOptions(user=user, field_manager=_field_manager(request, apply=apply),
                        dry_run=bool(query.getall("dryRun", [])), field_validation=query.get("fieldValidation") or "Warn")


def _field_manager(request: web.Request, *, apply: bool = False) -> str:
    manager = request.query.get("fieldManager", "")
    if not manager and not apply:
        manager = managed_fields.default_manager(request.headers.get("User-Agent", ""))
    return manager


def _with_warnings(response: web.Response, opts: WriteOptions) -> web.Response:
    for warning in dict.fromkeys(opts.warnings):
        response.headers.add("Warning", f'299 - "{_quote(warning)}"')
    return response


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"the request body is larger than {MAX_BODY} bytes", "RequestEntityTooLarge")
    return await request.read()


def _load_body(request: web.Request, raw: bytes) -> Any:
    return negotiation.load_body(request.headers.get("Content-Type", ""), raw,
                                 check_duplicates=request.query.get("fieldValidation") == "Strict")


async def _create(request: web.Request, target: Target) -> web.Response:
    state = request.app[STATE]
    registry = state.registry
    if target.resource.plural == "bindings" or target.subresource == "binding":
        user = await _authorize(request, "create", target)
        body = _load_body(request, await _read_body(request))
        pods = Target(PODS, target.namespace, target.name)
        await registry.bind(pods, body, _write_options(request, user, "CreateOptions"))
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "code": 201}, status=201)
    if target.subresource == "eviction":
        return await _evict(request, target)
    if target.name:
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    _require_namespace(target, "create")
    user = await _authorize(request, "create", target)
    body = _load_body(request, await _read_body(request))
    if user.name.startswith("system:node:") and isinstance(body, dict):
        node = user.name.removeprefix("system:node:")
        if not node_may_create_object(node, target.resource.plural, body):
            meta = body.get("metadata")
            name = meta.get("name", "") if isinstance(meta, dict) else ""
            raise ApiError(403, f'{target.resource.plural} "{name}" is forbidden: node "{node}" may only create '
                                "its own", "Forbidden")
    opts = _write_options(request, user, "CreateOptions")
    obj = await registry.create(target, body, opts)
    return _with_warnings(json_response(obj, status=201), opts)


async def _evict(request: web.Request, target: Target) -> web.Response:
    user = await _authorize(request, "create", target)
    body = _load_body(request, await _read_body(request))
    if not isinstance(body, dict):
        raise bad_request("the body must be a policy/v1 Eviction")
    opts = _write_options(request, user, "CreateOptions")
    opts.warnings.extend(apply_field_validation("Eviction", body, opts.field_validation))
    name = (body.get("metadata") or {}).get("name")
    if name and name != target.name:
        raise bad_request("name in URL does not match name in Eviction object")
    delete_options = body.get("deleteOptions") or {}
    options.validate_delete(delete_options)
    # `kubectl drain --dry-run=server` asks in the Eviction's DeleteOptions, not in the query.
    opts.dry_run = opts.dry_run or bool(delete_options.get("dryRun"))
    await request.app[STATE].registry.delete(Target(PODS, target.namespace, target.name), delete_options, opts)
    return _with_warnings(json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                         "code": 201}, status=201), opts)


async def _update(request: web.Request, target: Target) -> web.Response:
    if not target.name:
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    user = await _authorize(request, "update", target)
    body = _load_body(request, await _read_body(request))
    opts = _write_options(request, user, "UpdateOptions")
    obj = await request.app[STATE].registry.update(target, body, opts)
    return _with_warnings(json_response(obj), opts)


async def _patch(request: web.Request, target: Target) -> web.Response:
    if not target.name:
        raise ApiError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")
    user = await _authorize(request, "patch", target)
    content_type, _ = negotiation.media_type(request.headers.get("Content-Type", ""))
    is_apply = content_type == "application/apply-patch+yaml"
    force = _bool_param(request.query, "force")
    opts = _write_options(request, user, "PatchOptions", apply=is_apply)
    obj, created = await request.app[STATE].registry.patch(target, content_type, await _read_body(request), opts,
                                                           force=bool(force))
    return _with_warnings(json_response(obj, status=201 if created else 200), opts)


async def _delete(request: web.Request, target: Target) -> web.Response:
    registry = request.app[STATE].registry
    delete_options = _delete_options(request, await _read_body(request))
    if target.is_collection:
        return await _delete_collection(request, target, delete_options)
    user = await _authorize(request, "delete", target)
    outcome = await registry.delete(target, delete_options, _delete_write_options(request, user, delete_options))
    if not outcome.removed or target.resource.kind == "Pod":
        return json_response(outcome.obj)
    meta = outcome.obj["metadata"]
    details = {"name": meta["name"], "kind": target.resource.plural, "uid": meta["uid"]}
    if target.resource.group:
        details["group"] = target.resource.group
    return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                          "details": details})


def _delete_options(request: web.Request, raw: bytes) -> dict[str, Any]:
    """DeleteOptions from the body, or else from the query string (as Kubernetes: never a mix of both)."""
    if raw.strip():
        loaded = negotiation.load_body(request.headers.get("Content-Type", ""), raw)
        if not isinstance(loaded, dict) or loaded.get("kind") not in (None, "", "DeleteOptions"):
            raise bad_request("the body of a delete must be a DeleteOptions object")
        apply_field_validation("DeleteOptions", loaded, "Ignore")  # a mistyped field fails the decode (400)
        delete_options = loaded
    else:
        query = request.query
        delete_options = {}
        if "gracePeriodSeconds" in query:
            delete_options["gracePeriodSeconds"] = _int_param(query, "gracePeriodSeconds")
        if "propagationPolicy" in query:
            delete_options["propagationPolicy"] = query["propagationPolicy"]
        if "orphanDependents" in query:
            delete_options["orphanDependents"] = _bool_param(query, "orphanDependents")
        if "dryRun" in query:
            delete_options["dryRun"] = query.getall("dryRun")
    options.validate_delete(delete_options)
    return delete_options


def _delete_write_options(request: web.Request, user: User, delete_options: dict[str, Any]) -> WriteOptions:
    return WriteOptions(user=user, field_manager=_field_manager(request), dry_run=bool(delete_options.get("dryRun")))


async def _delete_collection(request: web.Request, target: Target, delete_options: dict[str, Any]) -> web.Response:
    _require_namespace(target, "deletecollection")
    user = await _authorize(request, "deletecollection", target)
    registry = request.app[STATE].registry
    matches, _ = _selection(target.resource, request.query)
    page = await registry.list(target, matches=matches)
    opts = _delete_write_options(request, user, delete_options)
    deleted = []
    for obj in page.items:
        meta = obj["metadata"]
        try:
            outcome = await registry.delete(Target(target.resource, meta.get("namespace", ""), meta["name"]),
                                            delete_options, opts)
        except ApiError as err:
            if err.code == 404:
                continue
            raise
        deleted.append(outcome.obj)
    return json_response({"kind": target.resource.list_kind, "apiVersion": target.resource.api_version,
                          "metadata": {}, "items": deleted})


# ------------------------------------------------------------------------------------------------- node streams
async def _node_stream(request: web.Request, target: Target) -> web.StreamResponse:
    verb = "get" if request.method == "GET" and target.subresource == "log" else "create"
    await _authorize(request, verb, target)
    pod = await request.app[STATE].registry.get(Target(target.resource, target.namespace, target.name))
    return await request.app[STATE].proxy.forward(request, pod, target.subresource)


