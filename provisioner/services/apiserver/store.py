"""Objects in storage: key layout and the JSON codec (``resourceVersion`` is the key's revision, never stored)."""

from __future__ import annotations

from typing import Any

import orjson

from provisioner.services.api.resources import Resource
from provisioner.services.storage.backend import KeyValue

REGISTRY_PREFIX = "/registry/"


def collection_prefix(resource: Resource, namespace: str = "") -> str:
    """``/registry/deployments.apps/default/`` — all objects of a resource (in one namespace when given)."""
    base = f"{REGISTRY_PREFIX}{resource.qualified_name}/"
    return f"{base}{namespace}/" if resource.namespaced and namespace else base


def object_key(resource: Resource, namespace: str, name: str) -> str:
    if resource.namespaced:
        return f"{REGISTRY_PREFIX}{resource.qualified_name}/{namespace}/{name}"
    return f"{REGISTRY_PREFIX}{resource.qualified_name}/{name}"


def encode(obj: dict[str, Any]) -> bytes:
    meta = obj.get("metadata") or {}
    if "resourceVersion" not in meta:
        return orjson.dumps(obj)
    stripped = dict(obj)
    stripped["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
    return orjson.dumps(stripped)


def decode(kv: KeyValue, revision: int | None = None) -> dict[str, Any]:
    """The stored object with ``metadata.resourceVersion`` = ``revision`` (default: the key's mod revision)."""
    obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision if revision is None else revision)
    return obj
