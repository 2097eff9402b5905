"""Discovery documents: aggregated (apidiscovery.k8s.io/v2) and the legacy per-group-version lists."""

from __future__ import annotations

from typing import Any

from provisioner.services.api import resources
from provisioner.services.api.resources import Resource, Subresource

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _resources_of(group: str, version: str) -> list[Resource]:
    return [r for r in resources.RESOURCES if r.group == group and r.version == version]


def _groups() -> list[str]:
    """Non-core groups, in catalog order."""
    ordered: list[str] = []
    for group, _ in resources.group_versions():
        if group and group not in ordered:
            ordered.append(group)
    return ordered


def _versions(group: str) -> list[str]:
    return [v for g, v in resources.group_versions() if g == group]


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _aggregated_subresource(sub: Subresource) -> dict[str, Any]:
    return {"subresource": sub.name, "responseKind": _gvk(sub.group, sub.version, sub.kind), "verbs": list(sub.verbs)}


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": _gvk(r.group, r.version, r.kind),
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [_aggregated_subresource(s) for s in r.subresources]
    return entry


def _aggregated_group(group: str) -> dict[str, Any]:
    return {
        "metadata": {"name": group, "creationTimestamp": None},
        "versions": [
            {"version": v, "freshness": "Current",
             "resources": [_aggregated_resource(r) for r in _resources_of(group, v)]}
            for v in _versions(group)
        ],
    }


def aggregated(legacy: bool) -> dict[str, Any]:
    """``/api`` (core only) or ``/apis`` (every other group) as an APIGroupDiscoveryList."""
    groups = [""] if legacy else _groups()
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": [_aggregated_group(g) for g in groups]}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group_version(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_group(group: str) -> dict[str, Any]:
    versions = [_group_version(group, v) for v in _versions(group)]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": versions,
            "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    groups = [api_group(g) for g in _groups()]
    for g in groups:
        del g["kind"], g["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _legacy_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                             "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    return entry


def _legacy_subresource(r: Resource, sub: Subresource) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f"{r.plural}/{sub.name}", "singularName": "", "namespaced": r.namespaced,
                             "kind": sub.kind, "verbs": list(sub.verbs)}
    if (sub.group, sub.version) != (r.group, r.version):
        # Subresources of another group/version (pods/eviction, */scale) must say so, or kubectl misses them.
        entry["group"], entry["version"] = sub.group, sub.version
    return entry


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for r in _resources_of(group, version):
        entries.append(_legacy_resource(r))
        entries.extend(_legacy_subresource(r, s) for s in r.subresources)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": entries}
