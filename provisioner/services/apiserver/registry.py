"""The generic object registry: create, read, update, patch and delete with Kubernetes semantics on top of a
storage backend. Per-kind differences live in strategies (``strategies.py``) and in the service allocator."""

from __future__ import annotations

import base64
import copy
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from provisioner.services.api import defaults, managed_fields, patch, resources, validation
from provisioner.services.api.decode import apply_field_validation
from provisioner.services.api.resources import Resource
from provisioner.services.api.selectors import label_selector_from_dict, selector_string_from_labels
from provisioner.services.api.status import (
    ApiError,
    Cause,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
)
from provisioner.services.apiserver import admission, store
from provisioner.services.apiserver import meta as metalib
from provisioner.services.apiserver.context import WriteOptions
from provisioner.services.apiserver.negotiation import load_yaml_or_json
from provisioner.services.apiserver.paths import Target
from provisioner.services.apiserver.services import ServiceAllocations
from provisioner.services.apiserver.strategies import Strategy, strategy_for
from provisioner.services.storage.backend import (
    Backend,
    Compacted,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    RevisionConflict,
)

_CAS_RETRIES = 16
_PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
# metadata fields only the server sets; a client's values are ignored on create and update.
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion",
                "generation", "selfLink")

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply-cbor",
}


@dataclass
class ListPage:
    items: list[dict[str, Any]]
    resource_version: str
    continue_token: str = ""
    remaining: int | None = None


@dataclass
class DeleteOutcome:
    obj: dict[str, Any]
    removed: bool  # gone from storage now (False: marked for deletion, waiting on grace period or finalizers)


class Registry:
    def __init__(self, backend: Backend, services: ServiceAllocations) -> None:
        self.backend = backend
        self.services = services
        self._strategies: dict[str, Strategy] = {}

    def strategy(self, resource: Resource) -> Strategy:
        if resource.kind not in self._strategies:
            self._strategies[resource.kind] = strategy_for(resource)
        return self._strategies[resource.kind]

    # ---------------------------------------------------------------------------------------------- reads
    async def get(self, target: Target) -> dict[str, Any]:
        kv = await self._get_kv(target.resource, target.namespace, target.name)
        return store.decode(kv)

    async def _get_kv(self, resource: Resource, namespace: str, name: str) -> KeyValue:
        kv = await self.backend.get(store.object_key(resource, namespace, name))
        if kv is None:
            raise not_found(resource.plural, resource.group, name)
        return kv

    async def list(
        self,
        target: Target,
        *,
        matches: Callable[[dict[str, Any]], bool] | None = None,
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> ListPage:
        prefix = store.collection_prefix(target.resource, target.namespace)
        revision, start_after = 0, ""
        if continue_token:
            revision, start_after = _decode_continue(continue_token, prefix)
            if resource_version not in ("", "0"):
                raise bad_request("specifying resource version is not allowed when using continue")
        elif resource_version and resource_version_match == "Exact":
            revision = _parse_revision(resource_version)
        items: list[dict[str, Any]] = []
        more = False
        page_size = max(limit, 256) if limit else 0
        try:
            while not more:
                result = await self.backend.list(prefix, revision=revision, start_after=start_after, limit=page_size)
                revision = result.revision
                for position, kv in enumerate(result.items, start=1):
                    start_after = kv.key
                    obj = store.decode(kv)
                    if matches is None or matches(obj):
                        items.append(obj)
                        if limit and len(items) == limit:
                            more = result.more or position < len(result.items)
                            break
                if not result.more:
                    break
        except Compacted as err:
            if continue_token:
                raise _continue_expired(start_after, prefix) from None
            raise ApiError(410, f"too old resource version: {err.requested} ({err.compact_revision})",
                           "Expired") from None
        except FutureRevision as err:
            raise _too_large(err.requested, err.current) from None
        if resource_version not in ("", "0") and resource_version_match != "Exact" and not continue_token:
            # Not older than the given version: the store is never behind, so a later one has not happened yet.
            wanted = _parse_revision(resource_version)
            if wanted > revision:
                raise _too_large(wanted, revision)
        token = _encode_continue(revision, start_after, prefix) if more else ""
        return ListPage(items, str(revision), token)

    # ---------------------------------------------------------------------------------------------- create
    async def create(self, target: Target, body: Any, opts: WriteOptions) -> dict[str, Any]:
        resource = target.resource
        obj = self._check_body(resource, body, target.namespace)
        opts.warnings.extend(apply_field_validation(resource.kind, obj, opts.field_validation))
        meta = obj["metadata"]
        self._assign_name(resource, meta)
        if target.namespace:
            await self._check_namespace_open(resource, target.namespace, meta["name"])
        for key in _SERVER_META:
            meta.pop(key, None)
        meta["uid"] = metalib.new_uid()
        meta["creationTimestamp"] = metalib.now_rfc3339()
        strategy = self.strategy(resource)
        strategy.prepare_for_create(obj)
        admission.admit_create(resource.kind, obj, opts.user)
        defaults.apply_defaults(resource, obj)
        if resource.kind == "Job":
            defaults.default_job_selector(obj)
        self._validate(resource, obj, None)
        managed_fields.record_update(None, obj, kind=resource.kind, manager=opts.field_manager,
                                     api_version=resource.api_version, now=metalib.now_rfc3339(),
                                     ignore_status=resource.has_status)
        return await self._store_new(resource, obj, opts)

    async def _store_new(self, resource: Resource, obj: dict[str, Any], opts: WriteOptions) -> dict[str, Any]:
        meta = obj["metadata"]
        key = store.object_key(resource, meta.get("namespace", ""), meta["name"])
        if (opts.dry_run or resource.kind == "Service") and await self.backend.get(key) is not None:
            # Checked before allocating so a duplicate Service reports AlreadyExists, not a taken cluster IP.
            raise already_exists(resource.plural, resource.group, meta["name"])
        if resource.kind == "Service":
            await self.services.allocate(obj, None, dry_run=opts.dry_run)
        if opts.dry_run:
            return obj
        try:
            kv = await self.backend.create(key, store.encode(obj))
        except KeyExists:
            if resource.kind == "Service":
                await self.services.release(obj)
            raise already_exists(resource.plural, resource.group, meta["name"]) from None
        except BaseException:
            if resource.kind == "Service":
                await self.services.release(obj)
            raise
        meta["resourceVersion"] = str(kv.mod_revision)
        return obj

    def _assign_name(self, resource: Resource, meta: dict[str, Any]) -> None:
        if meta.get("name"):
            return
        prefix = meta.get("generateName")
        if not prefix:
            raise invalid(resource.kind, resource.group, "",
                          [Cause("metadata.name", "Required value: name or generateName is required",
                                            "FieldValueRequired")])
        meta["name"] = metalib.generate_name(prefix)

    async def _check_namespace_open(self, resource: Resource, namespace: str, name: str) -> None:
        kv = await self.backend.get(store.object_key(_NAMESPACES, "", namespace))
        if kv is None:
            raise not_found("namespaces", "", namespace)
        ns = orjson.loads(kv.value)
        if ns.get("metadata", {}).get("deletionTimestamp") or ns.get("status", {}).get("phase") == "Terminating":
            raise ApiError(
                403,
                f'{resource.qualified_name} "{name}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                "Forbidden",
                {"name": name, "kind": resource.plural, **({"group": resource.group} if resource.group else {}),
                 "causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being "
                             "terminated", "field": "metadata.namespace"}]},
            )

    # ---------------------------------------------------------------------------------------------- update
    async def update(self, target: Target, body: Any, opts: WriteOptions) -> dict[str, Any]:
        """PUT of the object or of its status/scale/approval/finalize subresource."""
        resource = target.resource
        if target.subresource == "scale":
            return await self.update_scale(target, body, opts)
        obj = self._check_body(resource, body, target.namespace,
                               expect_kind=_subresource_kind(resource, target.subresource))
        if obj["metadata"].get("name") != target.name:
            raise bad_request(
                f"the name of the object ({obj['metadata'].get('name')}) does not match the name on the URL "
                f"({target.name})")
        opts.warnings.extend(apply_field_validation(resource.kind, obj, opts.field_validation))
        precondition = obj["metadata"].get("resourceVersion") or ""

        def replace(current: dict[str, Any]) -> dict[str, Any]:
            return copy.deepcopy(obj)

        return await self._update_with(target, replace, opts, precondition=precondition)

    async def _update_with(
        self,
        target: Target,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        opts: WriteOptions,
        *,
        precondition: str = "",
        operation: str = "Update",
    ) -> dict[str, Any]:
        """Read-modify-write with compare-and-swap, retried on conflicts unless the client pinned a version."""
        resource = target.resource
        key = store.object_key(resource, target.namespace, target.name)
        for _ in range(_CAS_RETRIES):
            kv = await self.backend.get(key)
            if kv is None:
                raise not_found(resource.plural, resource.group, target.name)
            if precondition and precondition != str(kv.mod_revision):
                raise conflict(resource.plural, resource.group, target.name)
            old = store.decode(kv)
            new = mutate(copy.deepcopy(old))
            self._prepare_update(target, new, old, opts, operation)
            if new == old:
                return old  # nothing changed: no write, no new revision (as Kubernetes)
            if opts.dry_run:
                return new
            try:
                stored = await self._write_update(resource, key, new, old, kv.mod_revision)
            except RevisionConflict:
                if precondition:
                    raise conflict(resource.plural, resource.group, target.name) from None
                continue
            return stored
        raise conflict(resource.plural, resource.group, target.name)

    def _prepare_update(self, target: Target, new: dict[str, Any], old: dict[str, Any], opts: WriteOptions,
                        operation: str) -> None:
        resource = target.resource
        strategy = self.strategy(resource)
        meta, old_meta = metalib.metadata(new), old["metadata"]
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            raise conflict(resource.plural, resource.group, target.name,
                           f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                           f"{old_meta['uid']}")
        for key in _SERVER_META:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta.setdefault("name", old_meta["name"])
        if resource.namespaced:
            meta.setdefault("namespace", old_meta.get("namespace"))
        if "managedFields" not in meta and "managedFields" in old_meta:
            meta["managedFields"] = copy.deepcopy(old_meta["managedFields"])
        if operation == "Bind":
            pass  # a binding sets nodeName and the PodScheduled condition together, outside the update rules
        elif target.subresource in ("status",):
            strategy.prepare_for_status_update(new, old)
        elif target.subresource == "approval":
            strategy.prepare_for_approval_update(new, old)
        elif target.subresource == "finalize":
            finalizers = copy.deepcopy(new.get("spec", {}).get("finalizers"))
            strategy.prepare_for_status_update(new, old)
            new.setdefault("spec", {})["finalizers"] = finalizers or []
        else:
            strategy.prepare_for_update(new, old)
        defaults.apply_defaults(resource, new)
        # A binding is the one write allowed to set a pod's nodeName; pod update rules would forbid it.
        self._validate(resource, new, None if operation == "Bind" else old,
                       strategy.update_errors(new, old, target.subresource))
        if operation == "Update":
            managed_fields.record_update(old, new, kind=resource.kind, manager=opts.field_manager,
                                         api_version=resource.api_version, now=metalib.now_rfc3339(),
                                         subresource=target.subresource,
                                         ignore_status=resource.has_status and not target.subresource)

    async def _write_update(self, resource: Resource, key: str, new: dict[str, Any], old: dict[str, Any],
                            expected: int) -> dict[str, Any]:
        meta = new["metadata"]
        if resource.kind == "Service":
            await self.services.allocate(new, old, dry_run=False)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and _finalizers_done(resource, new) \
                and meta.get("deletionGracePeriodSeconds", 0) == 0:
            # The last finalizer is gone from an object being deleted: it goes now.
            kv = await self.backend.delete(key, expected)
            await self._after_delete(resource, new)
            new["metadata"]["resourceVersion"] = str(kv.mod_revision)
            return new
        try:
            kv = await self.backend.update(key, store.encode(new), expected)
        except BaseException:
            if resource.kind == "Service":
                await self.services.release_unused(new, old)
            raise
        if resource.kind == "Service":
            await self.services.release_unused(old, new)
        meta["resourceVersion"] = str(kv.mod_revision)
        return new

    # ---------------------------------------------------------------------------------------------- patch
    async def patch(self, target: Target, content_type: str, raw: bytes, opts: WriteOptions, *,
                    force: bool = False) -> tuple[dict[str, Any], bool]:
        """Returns the patched object and whether it was created (server-side apply of a new object)."""
        kind = PATCH_TYPES.get(content_type)
        if kind is None or kind == "apply-cbor":
            raise ApiError(415, f"the body of the request was in an unknown format - accepted media types "
                                f"include: {', '.join(t for t in PATCH_TYPES if 'cbor' not in t)}",
                           "UnsupportedMediaType")
        resource = target.resource
        if target.subresource == "scale":
            return await self._patch_scale(target, kind, raw, opts), False
        body = _parse_patch_body(kind, raw)
        if kind == "apply":
            return await self._apply(target, body, opts, force)
        precondition = ""
        if kind in ("merge", "strategic") and isinstance(body, dict):
            meta = body.get("metadata")
            precondition = str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""

        def patched(current: dict[str, Any]) -> dict[str, Any]:
            if kind == "json":
                result = patch.json_patch(current, body)
            elif kind == "merge":
                result = patch.merge_patch(current, body)
            else:
                result = patch.strategic_merge_patch(current, body, resource.kind)
            if not isinstance(result, dict):
                raise bad_request("the patch did not produce an object")
            opts.warnings.extend(apply_field_validation(resource.kind, result, opts.field_validation,
                                                        request="patch"))
            return result

        return await self._update_with(target, patched, opts, precondition=precondition), False

    async def _apply(self, target: Target, body: Any, opts: WriteOptions, force: bool) -> tuple[dict[str, Any], bool]:
        resource = target.resource
        if not isinstance(body, dict):
            raise bad_request("the apply configuration must be an object")
        if not opts.field_manager:
            raise bad_request("PATCH requests with apply content type require fieldManager to be set")
        meta = metalib.metadata(body)
        if meta.get("name") not in (None, target.name):
            raise bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                              f"({target.name})")
        self._check_identity(resource, body, target.namespace, None)
        opts.warnings.extend(apply_field_validation(resource.kind, body, opts.field_validation))
        ignore_status = resource.has_status and target.subresource != "status"
        now = metalib.now_rfc3339()
        key = store.object_key(resource, target.namespace, target.name)
        if await self.backend.get(key) is None:
            live = {"apiVersion": resource.api_version, "kind": resource.kind,
                    "metadata": {"name": target.name, **({"namespace": target.namespace} if target.namespace else {})}}
            obj = managed_fields.apply(None, body, kind=resource.kind, manager=opts.field_manager,
                                       api_version=resource.api_version, force=force, now=now,
                                       ignore_status=ignore_status)
            obj["metadata"] = {**live["metadata"], **obj.get("metadata", {})}
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            try:
                return await self._create_applied(target, obj, opts), True
            except ApiError as err:
                if err.reason != "AlreadyExists":
                    raise
        def applied(current: dict[str, Any]) -> dict[str, Any]:
            return managed_fields.apply(current, body, kind=resource.kind, manager=opts.field_manager,
                                        api_version=resource.api_version, force=force, now=now,
                                        ignore_status=ignore_status)

        return await self._update_with(target, applied, opts, operation="Apply"), False

    async def _create_applied(self, target: Target, obj: dict[str, Any], opts: WriteOptions) -> dict[str, Any]:
        resource = target.resource
        meta = obj["metadata"]
        if target.namespace:
            await self._check_namespace_open(resource, target.namespace, meta["name"])
        managed = meta.get("managedFields")
        for key in _SERVER_META:
            meta.pop(key, None)
        meta["uid"] = metalib.new_uid()
        meta["creationTimestamp"] = metalib.now_rfc3339()
        self.strategy(resource).prepare_for_create(obj)
        admission.admit_create(resource.kind, obj, opts.user)
        defaults.apply_defaults(resource, obj)
        if resource.kind == "Job":
            defaults.default_job_selector(obj)
        self._validate(resource, obj, None)
        meta["managedFields"] = managed
        return await self._store_new(resource, obj, opts)

    # ---------------------------------------------------------------------------------------------- scale
    async def get_scale(self, target: Target) -> dict[str, Any]:
        return _scale_of(target.resource, await self.get(target))

    async def update_scale(self, target: Target, body: Any, opts: WriteOptions) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("kind") not in (None, "Scale"):
            raise bad_request("the body must be an autoscaling/v1 Scale")
        opts.warnings.extend(apply_field_validation("Scale", body, opts.field_validation))
        replicas = (body.get("spec") or {}).get("replicas", 0)
        precondition = str((body.get("metadata") or {}).get("resourceVersion") or "")
        return await self._set_replicas(target, replicas, opts, precondition)

    async def _patch_scale(self, target: Target, kind: str, raw: bytes, opts: WriteOptions) -> dict[str, Any]:
        body = _parse_patch_body(kind, raw)
        current = await self.get_scale(target)
        if kind == "json":
            scale = patch.json_patch(current, body)
        elif kind == "apply":
            raise ApiError(415, "server-side apply is not supported on the scale subresource",
                           "UnsupportedMediaType")
        else:
            scale = patch.merge_patch(current, body)  # Scale has no list fields: SMP equals merge patch
        opts.warnings.extend(apply_field_validation("Scale", scale, opts.field_validation, request="patch"))
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        return await self._set_replicas(target, replicas, opts, "")

    async def _set_replicas(self, target: Target, replicas: Any, opts: WriteOptions, precondition: str) -> dict[str, Any]:
        resource = target.resource
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid("Scale", "autoscaling", target.name, [Cause(
                "spec.replicas", f"Invalid value: {orjson.dumps(replicas).decode()}: must be greater than or "
                                 "equal to 0")])

        def scaled(current: dict[str, Any]) -> dict[str, Any]:
            current.setdefault("spec", {})["replicas"] = replicas
            return current

        main = Target(resource, target.namespace, target.name, "scale")
        obj = await self._update_with(main, scaled, opts, precondition=precondition)
        return _scale_of(resource, obj)

    # ---------------------------------------------------------------------------------------------- pods
    async def bind(self, target: Target, body: Any, opts: WriteOptions) -> dict[str, Any]:
        """POST pods/<name>/binding (or the bindings collection): assign the pod to a node, once."""
        if not isinstance(body, dict) or not isinstance(body.get("target"), dict):
            raise bad_request("the body must be a Binding with a target")
        opts.warnings.extend(apply_field_validation("Binding", body, opts.field_validation))
        node = body["target"].get("name") or ""
        if not node:
            raise invalid("Binding", "", target.name, [Cause("target.name", "Required value",
                                                                        "FieldValueRequired")])
        name = target.name or (body.get("metadata") or {}).get("name", "")
        pods = Target(target.resource, target.namespace, name, "binding")
        uid = (body.get("metadata") or {}).get("uid")

        def bound(pod: dict[str, Any]) -> dict[str, Any]:
            if uid and pod["metadata"]["uid"] != uid:
                raise conflict("pods", "", name, f"Precondition failed: UID in precondition: {uid}, UID in object "
                                                 f"meta: {pod['metadata']['uid']}")
            # Refusals of the binding itself name the subresource, as Kubernetes' BindingREST does.
            if pod["metadata"].get("deletionTimestamp"):
                raise conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
            current = pod.get("spec", {}).get("nodeName")
            if current:
                raise conflict("pods/binding", "", name, f"pod {name} is already assigned to node \"{current}\"")
            pod["spec"]["nodeName"] = node
            conditions = [c for c in pod.setdefault("status", {}).get("conditions", []) if c.get("type") != "PodScheduled"]
            conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                               "lastTransitionTime": metalib.now_rfc3339()})
            pod["status"]["conditions"] = conditions
            return pod

        return await self._update_with(Target(pods.resource, pods.namespace, name, ""), bound, opts,
                                       operation="Bind")

    # ---------------------------------------------------------------------------------------------- delete
    async def delete(self, target: Target, options: dict[str, Any], opts: WriteOptions) -> DeleteOutcome:
        resource = target.resource
        if resource.kind == "Namespace" and target.name in _PROTECTED_NAMESPACES:
            raise ApiError(403, f'namespaces "{target.name}" is forbidden: this namespace may not be deleted',
                           "Forbidden", {"name": target.name, "kind": "namespaces"})
        key = store.object_key(resource, target.namespace, target.name)
        for _ in range(_CAS_RETRIES):
            kv = await self._get_kv(resource, target.namespace, target.name)
            obj = store.decode(kv)
            _check_delete_preconditions(resource, obj, options)
            marked = self._mark_for_deletion(resource, obj, options)
            if opts.dry_run:
                return DeleteOutcome(marked or obj, marked is None)
            try:
                if marked is not None:
                    stored = await self.backend.update(key, store.encode(marked), kv.mod_revision)
                    marked["metadata"]["resourceVersion"] = str(stored.mod_revision)
                    return DeleteOutcome(marked, False)
                deleted = await self.backend.delete(key, kv.mod_revision)
            except (RevisionConflict, KeyNotFound):
                continue
            await self._after_delete(resource, obj)
            obj["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return DeleteOutcome(obj, True)
        raise conflict(resource.plural, resource.group, target.name)

    def _mark_for_deletion(self, resource: Resource, obj: dict[str, Any],
                           options: dict[str, Any]) -> dict[str, Any] | None:
        """The object as it must be kept while deletion is pending, or None if it can be removed now."""
        meta = obj["metadata"]
        marked = copy.deepcopy(obj)
        mmeta = marked["metadata"]
        finalizers = list(mmeta.get("finalizers") or [])
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "")
        if not meta.get("deletionTimestamp"):
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
        requested = options.get("gracePeriodSeconds")
        grace = self.strategy(resource).grace_period(obj, requested if isinstance(requested, int) else None)
        pending_spec_finalizers = not _finalizers_done(resource, obj)
        if not finalizers and grace == 0 and not pending_spec_finalizers:
            return None
        now = datetime.now(UTC).replace(microsecond=0)
        if meta.get("deletionTimestamp"):
            current_grace = meta.get("deletionGracePeriodSeconds", 0)
            if grace >= current_grace and finalizers == list(meta.get("finalizers") or []):
                return obj  # already being deleted; a longer grace period never extends it
            if not finalizers and grace == 0 and not pending_spec_finalizers:
                return None
        if finalizers:
            mmeta["finalizers"] = finalizers
        mmeta["deletionTimestamp"] = metalib.format_time(now + timedelta(seconds=grace))
        mmeta["deletionGracePeriodSeconds"] = grace
        if meta.get("generation"):
            mmeta["generation"] = meta["generation"] + 1
        if resource.kind == "Namespace":
            marked.setdefault("status", {})["phase"] = "Terminating"
        return marked

    async def _after_delete(self, resource: Resource, obj: dict[str, Any]) -> None:
        if resource.kind == "Service":
            await self.services.release(obj)

    # ---------------------------------------------------------------------------------------------- helpers
    def _check_body(self, resource: Resource, body: Any, namespace: str, expect_kind: str = "") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request must be a {resource.kind} object")
        obj = body
        self._check_identity(resource, obj, namespace, expect_kind)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if resource.namespaced:
            obj["metadata"]["namespace"] = namespace
        return obj

    def _check_identity(self, resource: Resource, obj: dict[str, Any], namespace: str, expect_kind: str | None) -> None:
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        wanted = expect_kind or resource.kind
        if kind not in (None, "", wanted) or api_version not in (None, "", resource.api_version):
            raise bad_request(f"the API version in the data ({api_version}) and kind ({kind}) do not match the "
                              f"request ({resource.api_version}, {wanted})")
        meta = obj.get("metadata")
        if isinstance(meta, dict) and resource.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                                  "request")

    def _validate(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None,
                  more: list[Cause] | None = None) -> None:
        causes = validation.validate(resource, obj, old) + (more or [])
        if causes:
            raise invalid(resource.kind, resource.group, obj["metadata"].get("name", ""), causes)


_NAMESPACES = resources.lookup("", "v1", "namespaces")


def _finalizers_done(resource: Resource, obj: dict[str, Any]) -> bool:
    """Namespaces also wait on ``spec.finalizers`` (the namespace controller empties them through /finalize)."""
    if resource.kind != "Namespace":
        return True
    return not (obj.get("spec") or {}).get("finalizers")


def _subresource_kind(resource: Resource, subresource: str) -> str:
    sub = resource.subresource(subresource) if subresource else None
    return sub.kind if sub and sub.kind != "Scale" else resource.kind


def _check_delete_preconditions(resource: Resource, obj: dict[str, Any], options: dict[str, Any]) -> None:
    pre = options.get("preconditions") or {}
    name = obj["metadata"]["name"]
    if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
        raise conflict(resource.plural, resource.group, name,
                       f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: "
                       f"{obj['metadata']['uid']}")
    if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
        raise conflict(resource.plural, resource.group, name,
                       f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                       f"ResourceVersion in object meta: {obj['metadata']['resourceVersion']}")


def _scale_of(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0), "selector": _selector_text(resource, spec.get("selector"))},
    }


def _selector_text(resource: Resource, selector: Any) -> str:
    """Scale's status.selector: ReplicationControllers select by a plain map, the apps kinds by a LabelSelector."""
    if resource.kind == "ReplicationController":
        return selector_string_from_labels(selector or {})
    return str(label_selector_from_dict(selector))


def _parse_patch_body(kind: str, raw: bytes) -> Any:
    if kind == "apply":
        return load_yaml_or_json(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise bad_request(f"error decoding patch: {err}") from None


def _parse_revision(value: str) -> int:
    try:
        revision = int(value)
    except ValueError:
        raise bad_request(f"invalid resource version {value!r}") from None
    if revision < 0:
        raise bad_request(f"invalid resource version {value!r}")
    return revision


# Continue tokens are Kubernetes': base64url (unpadded) JSON naming the snapshot revision and the key to resume
# from, relative to the collection's prefix. The start key is the last key listed plus a NUL, i.e. just after it.
_CONTINUE_VERSION = "meta.k8s.io/v1"
_LATEST = -1  # the revision of a token that continues at the present (offered once the snapshot is compacted)


def _encode_continue(revision: int, last_key: str, prefix: str) -> str:
    raw = orjson.dumps({"v": _CONTINUE_VERSION, "rv": revision, "start": last_key[len(prefix):] + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    """(revision to list at — 0 for the present —, key to list after) from a token, or 400 as Kubernetes.
    Our tokens' start keys end in NUL; one without is read as "after this key" too."""
    def invalid_token(why: str) -> ApiError:
        return bad_request(f"invalid continue token: continue key is not valid: {why}")

    try:
        data = orjson.loads(base64.b64decode(_unpadded_base64(token), altchars=b"-_", validate=True))
    except (ValueError, orjson.JSONDecodeError) as err:
        raise invalid_token(str(err)) from None
    if not isinstance(data, dict) or data.get("v") != _CONTINUE_VERSION:
        version = data.get("v") if isinstance(data, dict) else None
        raise invalid_token(f"server does not recognize this encoded version {version or ''}".rstrip())
    revision, start = data.get("rv"), data.get("start")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision == 0:
        raise invalid_token(f"incorrect encoded start resourceVersion (version {_CONTINUE_VERSION})")
    if not isinstance(start, str) or not start:
        raise invalid_token(f"encoded start key empty (version {_CONTINUE_VERSION})")
    # Like path.Clean in Kubernetes: a start key that is not already clean could climb out of the collection.
    rooted = start if start.startswith("/") else "/" + start
    if posixpath.normpath(rooted) != rooted or rooted.startswith("//"):
        raise invalid_token(start)
    key = prefix + rooted[1:]
    return max(revision, 0), key.removesuffix("\x00")


def _unpadded_base64(token: str) -> bytes:
    """base64.RawURLEncoding: padding is an error, so tokens are compared exactly as Kubernetes reads them."""
    if "=" in token or len(token) % 4 == 1:
        raise ValueError(f"illegal base64 data at input byte {token.find('=') if '=' in token else len(token)}")
    return (token + "=" * (-len(token) % 4)).encode()


def _continue_expired(last_key: str, prefix: str) -> ApiError:
    """410 for a continue token whose snapshot was compacted, with a token that resumes at the present."""
    err = ApiError(410, "The provided continue parameter is too old to display a consistent list result. You can "
                        "start a new list without the continue parameter, or use the continue token in this response "
                        "to retrieve the remainder of the results. Continuing with the provided token results in an "
                        "inconsistent list - objects that were created, modified, or deleted between the time the "
                        "first chunk was returned and now may show up in the list.", "Expired")
    err.list_meta["continue"] = _encode_continue(_LATEST, last_key, prefix)
    return err


def _too_large(requested: int, current: int) -> ApiError:
    return ApiError(504, f"Too large resource version: {requested}, current: {current}", "Timeout",
                    {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                     "retryAfterSeconds": 1})

