"""OpenAPI v3 documents, one per group/version, generated from the resource catalog.

kubectl's ``create -f``/``apply`` look here for a PATCH operation of the object's kind that takes
``fieldValidation``; finding it, they leave validation to the server (``fieldValidation=Strict``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Any

import orjson

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.typeschema import openapi_schemas_for_group_version
from provisioner.services.api.version import GIT_VERSION

_QUERY_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "pretty")
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml")


def gv_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/apps/v1``: the key of a group/version in the root document."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _parameters(*names: str, force: bool = False) -> list[dict[str, Any]]:
    params = [{"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True} for n in names]
    if force:
        params.append({"name": "force", "in": "query", "schema": {"type": "boolean"}, "uniqueItems": True})
    return params


def _ref(r: Resource) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema_name(r.group, r.version, r.kind)}"}


def schema_name(group: str, version: str, kind: str) -> str:
    """Kubernetes' definition names: ``io.k8s.api.apps.v1.Deployment``, ``io.k8s.api.core.v1.Pod``."""
    package = {"": "core", "coordination.k8s.io": "coordination", "discovery.k8s.io": "discovery",
               "certificates.k8s.io": "certificates"}.get(group, group)
    return f"io.k8s.api.{package}.{version}.{kind}"


def _operation(r: Resource, action: str, body_types: tuple[str, ...] = ("application/json",),
               force: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": f"{action}{r.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
        "parameters": _parameters(*_QUERY_PARAMETERS, force=force),
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": _ref(r)}}}},
    }
    if action in ("post", "put", "patch"):
        schema = {"type": "object"} if action == "patch" else _ref(r)
        op["requestBody"] = {"content": {t: {"schema": schema} for t in body_types}, "required": True}
    return op


def _object_path(r: Resource) -> str:
    base = f"/{gv_path(r.group, r.version)}"
    return f"{base}/namespaces/{{namespace}}/{r.plural}/{{name}}" if r.namespaced else f"{base}/{r.plural}/{{name}}"


def _collection_path(r: Resource) -> str:
    return _object_path(r).rsplit("/", 1)[0]


def _path_parameters(r: Resource, with_name: bool) -> list[dict[str, Any]]:
    names = (["namespace"] if r.namespaced else []) + (["name"] if with_name else [])
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


def group_version_document(group: str, version: str, schemas: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in resources.RESOURCES:
        if (r.group, r.version) != (group, version) or "get" not in r.verbs:
            continue
        paths[_collection_path(r)] = {"parameters": _path_parameters(r, False), "post": _operation(r, "post")}
        paths[_object_path(r)] = {
            "parameters": _path_parameters(r, True),
            "get": _operation(r, "get"),
            "put": _operation(r, "put"),
            "patch": _operation(r, "patch", _PATCH_TYPES, force=True),
            "delete": _operation(r, "delete"),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths,
            "components": {"schemas": schemas}}


class OpenAPIDocuments:
    """Encoded documents and their hashes, built once: they only change with the code."""

    def __init__(self, schemas_for: Callable[[str, str], dict[str, Any]]) -> None:
        self._documents: dict[str, bytes] = {}
        for group, version in resources.group_versions():
            document = group_version_document(group, version, schemas_for(group, version))
            self._documents[gv_path(group, version)] = orjson.dumps(document)
        self.hashes = {path: hashlib.sha512(body).hexdigest()[:128].upper() for path, body in self._documents.items()}
        self.root = orjson.dumps({"paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
                                            for path, digest in self.hashes.items()}})

    def document(self, path: str) -> bytes | None:
        return self._documents.get(path)


@cache
def documents() -> OpenAPIDocuments:
    return OpenAPIDocuments(openapi_schemas_for_group_version)
