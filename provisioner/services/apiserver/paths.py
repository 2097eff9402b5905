"""Parse request paths into what they address: a collection, an object, a subresource, or a discovery document."""

from __future__ import annotations

from dataclasses import dataclass

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError


@dataclass(frozen=True)
class Target:
    """An API resource request: ``GET /apis/apps/v1/namespaces/default/deployments/web/scale``."""

    resource: Resource
    namespace: str  # "" for cluster-scoped resources and for all-namespace lists
    name: str = ""
    subresource: str = ""

    @property
    def is_collection(self) -> bool:
        return not self.name


@dataclass(frozen=True)
class GroupVersionPath:
    """``/api``, ``/apis``, ``/apis/<group>``, ``/api/v1``, ``/apis/<group>/<version>`` (discovery)."""

    group: str | None  # None for the root lists
    version: str | None
    legacy: bool  # under /api


def _not_found() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", "NotFound")


def parse(path: str) -> Target | GroupVersionPath:
    """Raises a 404 ApiError for paths that address nothing we serve."""
    parts = [p for p in path.split("/") if p]
    if not parts or parts[0] not in ("api", "apis"):
        raise _not_found()
    if parts[0] == "api":
        group, rest = "", parts[1:]
        if not rest:
            return GroupVersionPath(None, None, legacy=True)
    else:
        if len(parts) == 1:
            return GroupVersionPath(None, None, legacy=False)
        group, rest = parts[1], parts[2:]
        if not rest:
            if not any(g == group for g, _ in resources.group_versions()):
                raise _not_found()
            return GroupVersionPath(group, None, legacy=False)
    version, rest = rest[0], rest[1:]
    if (group, version) not in resources.group_versions():
        raise _not_found()
    if not rest:
        return GroupVersionPath(group, version, legacy=(parts[0] == "api"))
    return _parse_resource_path(group, version, rest)


def _parse_resource_path(group: str, version: str, rest: list[str]) -> Target:
    namespace = ""
    # /namespaces/<ns>/<plural>... addresses namespaced content, unless <plural> is a namespace subresource.
    if rest[0] == "namespaces" and group == "" and len(rest) >= 3:
        inner = resources.lookup(group, version, rest[2])
        if inner is not None and inner.namespaced:
            namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and group != "" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = resources.lookup(group, version, rest[0])
    if resource is None or len(rest) > 3:
        raise _not_found()
    if namespace and not resource.namespaced:
        raise _not_found()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and resource.subresource(subresource) is None:
        raise _not_found()
    return Target(resource, namespace, name, subresource)
