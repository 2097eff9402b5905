"""How lists merge, per field: the patch-merge keys (strategic merge patch) and list-map keys (server-side apply)
of the built-in kinds, as Kubernetes declares them on its API types.

Paths are tuples of field names with list positions left out, e.g. ``("spec", "template", "spec", "containers",
"ports")``. A list not described here is atomic: a patch or an apply replaces it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Path = tuple[str, ...]


@dataclass(frozen=True)
class ListType:
    """``map``: items are objects identified by ``keys``; ``set``: items are unique scalars."""

    type: Literal["map", "set"]
    keys: tuple[str, ...] = ()  # server-side apply identity (listMapKeys)
    merge_key: str = ""  # strategic merge patch identity (patchMergeKey); empty for sets


def _map(*keys: str) -> ListType:
    return ListType("map", keys, keys[0])


_SET = ListType("set")

_CONTAINER: dict[Path, ListType] = {
    ("ports",): _map("containerPort", "protocol"),
    ("env",): _map("name"),
    ("volumeMounts",): _map("mountPath"),
    ("volumeDevices",): _map("devicePath"),
}

_POD_SPEC: dict[Path, ListType] = {
    ("volumes",): _map("name"),
    ("imagePullSecrets",): _map("name"),
    ("hostAliases",): _map("ip"),
    ("topologySpreadConstraints",): _map("topologyKey", "whenUnsatisfiable"),
    ("schedulingGates",): _map("name"),
    ("resourceClaims",): _map("name"),
}
for _containers in ("containers", "initContainers", "ephemeralContainers"):
    _POD_SPEC[(_containers,)] = _map("name")
    _POD_SPEC.update({(_containers, *sub): lt for sub, lt in _CONTAINER.items()})

_OBJECT_META: dict[Path, ListType] = {
    ("finalizers",): _SET,
    ("ownerReferences",): _map("uid"),
}

_CONDITIONS: dict[Path, ListType] = {("status", "conditions"): _map("type")}

_TEMPLATED_KINDS = ("Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "Job")


def _under(prefix: Path, table: dict[Path, ListType]) -> dict[Path, ListType]:
    return {prefix + path: lt for path, lt in table.items()}


def _kind_tables() -> dict[str, dict[Path, ListType]]:
    tables: dict[str, dict[Path, ListType]] = {}
    common = _under(("metadata",), _OBJECT_META)
    tables["Pod"] = {
        **common,
        **_under(("spec",), _POD_SPEC),
        **_CONDITIONS,
        ("status", "podIPs"): _map("ip"),
        ("status", "hostIPs"): _map("ip"),
    }
    for kind in _TEMPLATED_KINDS:
        tables[kind] = {
            **common,
            **_under(("spec", "template", "metadata"), _OBJECT_META),
            **_under(("spec", "template", "spec"), _POD_SPEC),
            **_CONDITIONS,
        }
    tables["Node"] = {
        **common,
        **_CONDITIONS,
        ("status", "addresses"): _map("type"),
        ("spec", "podCIDRs"): _SET,
    }
    tables["Service"] = {
        **common,
        ("spec", "ports"): _map("port", "protocol"),
        **_CONDITIONS,
    }
    for kind in ("Namespace", "CertificateSigningRequest"):
        tables[kind] = {**common, **_CONDITIONS}
    return tables


_BY_KIND = _kind_tables()
_COMMON = _under(("metadata",), _OBJECT_META)

# Maps whose keys a strategic merge patch clears unless the patch names them (patchStrategy=retainKeys):
# switching a Deployment's strategy type or a volume's source must drop the old variant's fields.
_RETAIN_KEYS: dict[str, frozenset[Path]] = {
    "Deployment": frozenset({("spec", "strategy"), ("spec", "template", "spec", "volumes")}),
    "Pod": frozenset({("spec", "volumes")}),
    **{k: frozenset({("spec", "template", "spec", "volumes")}) for k in _TEMPLATED_KINDS if k != "Deployment"},
}


def list_type(kind: str, path: Path) -> ListType | None:
    """The merge semantics of the list at ``path`` in an object of ``kind``; None means atomic (replace)."""
    return _BY_KIND.get(kind, _COMMON).get(path)


def retains_keys(kind: str, path: Path) -> bool:
    """Whether the map (or each item of the list) at ``path`` has patchStrategy ``retainKeys``."""
    return path in _RETAIN_KEYS.get(kind, frozenset())
