"""Server-side apply and ``metadata.managedFields`` bookkeeping, the way kube-apiserver does them.

Kubernetes splits this work between sigs.k8s.io/structured-merge-diff (field sets, merge, compare, prune,
conflicts) and k8s.io/apimachinery/pkg/util/managedfields (manager identity, timestamps, the reset and cap rules,
the kubectl last-applied annotation). This module follows both, on plain JSON dicts:

* a :class:`FieldSet` is the set of paths a manager owns; ``FieldsV1`` is its JSON form
  (``f:name``, ``k:{"containerPort":80,"protocol":"TCP"}``, ``v:"value"``, ``i:0`` and ``.`` for "this node too");
* :func:`apply` is a server-side apply (merge, prune what the applier dropped, detect conflicts);
* :func:`record_update` gives a create/update/patch's changes to its manager with operation ``Update``.

Which lists merge by key comes from :func:`schema.list_type`; which maps are atomic and what a create compares
against (Go's zero value of the kind) are small tables below.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from provisioner.services.api import schema
from provisioner.services.api.status import ApiError, Cause, bad_request, invalid

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
FIELD_MANAGER_MAX_LENGTH = 128
SUBRESOURCE_MAX_LENGTH = 256
MAX_UPDATE_MANAGERS = 10  # older Update entries beyond this are merged into "ancient-changes"
ANCIENT_CHANGES_MANAGER = "ancient-changes"
BEFORE_FIRST_APPLY_MANAGER = "before-first-apply"
KUBECTL_MANAGER = "kubectl"  # the only applier whose conflicts the last-applied annotation can excuse
UNKNOWN_MANAGER = "unknown"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"

Names = tuple[str, ...]  # field names from the root, list positions left out (schema.py's Path)


class _Absent:
    """A field that is not there at all (JSON null is a value)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


# --------------------------------------------------------------------------------------------------------------
# Values: Go-compatible equality, ordering, JSON and string forms
# --------------------------------------------------------------------------------------------------------------

def _values_equal(a: Any, b: Any) -> bool:
    """structured-merge-diff's value.Equals: numbers compare numerically, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_values_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _normalized_numbers(value: Any) -> Any:
    """Integral floats as ints, the way Go prints them (80.0 is "80")."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalized_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized_numbers(v) for v in value]
    return value


_GO_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any, *, sort_keys: bool = True) -> str:
    """Compact JSON as Go's encoding/json writes it (sorted map keys, HTML-safe escapes)."""
    text = json.dumps(_normalized_numbers(value), ensure_ascii=False, separators=(",", ":"),
                      sort_keys=sort_keys, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: _GO_HTML_ESCAPES[m.group()], text)


_GO_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
                     '"': '\\"', "\\": "\\\\"}


def go_quote(text: str) -> str:
    """Go's %q (strconv.Quote): printable runes kept, everything else escaped."""
    out = ['"']
    for ch in text:
        if ch in _GO_QUOTE_ESCAPES:
            out.append(_GO_QUOTE_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_float(number: float) -> str:
    """Go's %v for a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "+Inf" if number > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    point = len(text) + int(exponent)  # position of the decimal point in the digit string
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def _value_to_string(value: Any) -> str:
    """structured-merge-diff's value.ToString, used in conflict paths like ``[name="nginx"]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not value.is_integer():
        return _go_float(value)
    if isinstance(value, int | float):
        return str(int(value))
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_value_to_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_value_to_string(v)}" for k, v in value.items())
    return str(value)


def _canonical(value: Any) -> tuple[int, Any]:
    """A hashable, totally ordered stand-in for a JSON value, ranked like value.Compare:
    numbers < strings < booleans < lists < maps < null (1 and 1.0 are the same number, True is not 1)."""
    if value is None:
        return (5, 0)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int):
        return (0, value)
    if isinstance(value, float):
        return (0, int(value) if value.is_integer() else value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, go_json(value))
    if isinstance(value, dict):
        return (4, go_json(value))
    raise TypeError(f"not a JSON value: {value!r}")


def _from_canonical(canonical: tuple[int, Any]) -> Any:
    rank, payload = canonical
    if rank == 5:
        return None
    if rank in (3, 4):
        return json.loads(payload)
    return payload


# --------------------------------------------------------------------------------------------------------------
# Path elements and paths
# --------------------------------------------------------------------------------------------------------------

# A path element is (kind, payload); tuple order is structured-merge-diff's PathElement order.
PathElement = tuple[int, Any]
Path = tuple[PathElement, ...]
_FIELD, _KEY, _VALUE, _INDEX = 0, 1, 2, 3
_INDEX_TEXT = re.compile(r"[+-]?[0-9]+")


def field_element(name: str) -> PathElement:
    return (_FIELD, name)


def key_element(key_fields: dict[str, Any]) -> PathElement:
    """A list-map item, identified by its key fields (sorted by name, as Kubernetes sorts them)."""
    return (_KEY, tuple(sorted((name, _canonical(v)) for name, v in key_fields.items())))


def value_element(value: Any) -> PathElement:
    """A set item, identified by its value."""
    return (_VALUE, _canonical(value))


def index_element(index: int) -> PathElement:
    return (_INDEX, index)


def serialize_element(pe: PathElement) -> str:
    """The FieldsV1 key of a path element: ``f:name``, ``k:{...}``, ``v:...`` or ``i:N``."""
    kind, payload = pe
    if kind == _FIELD:
        return "f:" + payload
    if kind == _KEY:
        return "k:" + go_json({name: _from_canonical(c) for name, c in payload})
    if kind == _VALUE:
        return "v:" + go_json(_from_canonical(payload))
    return f"i:{payload}"


def parse_element(text: str) -> PathElement | None:
    """Inverse of :func:`serialize_element`; None for a type this version does not know (Kubernetes drops
    those); ValueError when malformed."""
    if len(text) < 2:
        raise ValueError("key must be 2 characters long")
    if text[1] != ":":
        raise ValueError(f"missing colon: {text}")
    kind, body = text[0], text[2:]
    if kind == "f":
        return field_element(body)
    if kind == "v":
        return value_element(_json_loads(body))
    if kind == "k":
        key_fields = _json_loads(body)
        if not isinstance(key_fields, dict):
            raise ValueError(f"expected key value pairs but got {body}")
        return key_element(key_fields)
    if kind == "i":
        if not _INDEX_TEXT.fullmatch(body):
            raise ValueError(f"invalid index: {body}")
        return index_element(int(body))
    return None


def _json_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"parsing JSON: {exc}") from exc


def element_to_string(pe: PathElement) -> str:
    """The human form used in conflict messages: ``.spec``, ``[name="nginx"]``, ``[="a"]``, ``[0]``."""
    kind, payload = pe
    if kind == _FIELD:
        return "." + payload
    if kind == _KEY:
        return "[" + ",".join(f"{name}={_value_to_string(_from_canonical(c))}" for name, c in payload) + "]"
    if kind == _VALUE:
        return f"[={_value_to_string(_from_canonical(payload))}]"
    return f"[{payload}]"


def path_to_string(path: Path) -> str:
    return "".join(element_to_string(pe) for pe in path)


def make_path(*parts: str | int | dict[str, Any]) -> Path:
    """Convenience: strings are fields, ints indexes, dicts list-map keys (``make_path("spec", "replicas")``)."""
    elements: list[PathElement] = []
    for part in parts:
        if isinstance(part, str):
            elements.append(field_element(part))
        elif isinstance(part, dict):
            elements.append(key_element(part))
        else:
            elements.append(index_element(part))
    return tuple(elements)


# --------------------------------------------------------------------------------------------------------------
# Field sets
# --------------------------------------------------------------------------------------------------------------

class FieldSet:
    """A set of paths as a tree: ``members`` end at this node, ``children`` hold longer paths.

    Operations return new sets and never keep empty children, like structured-merge-diff's fieldpath.Set.
    """

    __slots__ = ("members", "children")

    def __init__(self) -> None:
        self.members: set[PathElement] = set()
        self.children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, paths: Iterable[Path]) -> FieldSet:
        fs = cls()
        for path in paths:
            fs.insert(path)
        return fs

    def insert(self, path: Path) -> None:
        if not path:
            return
        node = self
        for pe in path[:-1]:
            node = node.children.setdefault(pe, FieldSet())
        node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
        return bool(path) and node is not None and path[-1] in node.members

    def is_empty(self) -> bool:
        return not self.members and not self.children

    def child(self, pe: PathElement) -> FieldSet:
        return self.children.get(pe) or _EMPTY

    def copy(self) -> FieldSet:
        return self.union(_EMPTY)

    def union(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out.members = self.members | other.members
        for pe in self.children.keys() | other.children.keys():
            out.children[pe] = self.child(pe).union(other.child(pe))
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """Member-wise: removes exactly the paths of ``other``, not what lies below them."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, sub in self.children.items():
            rest = sub.difference(other.children[pe]) if pe in other.children else sub.copy()
            if not rest.is_empty():
                out.children[pe] = rest
        return out

    def intersection(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out.members = self.members & other.members
        for pe in self.children.keys() & other.children.keys():
            common = self.children[pe].intersection(other.children[pe])
            if not common.is_empty():
                out.children[pe] = common
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Removes the paths of ``other`` and everything below its members."""
        out = FieldSet()
        out.members = self.members - other.members
        for pe, sub in self.children.items():
            if pe in other.members:
                continue
            rest = sub.recursive_difference(other.children[pe]) if pe in other.children else sub.copy()
            if not rest.is_empty():
                out.children[pe] = rest
        return out

    def with_named_fields_as_members(self) -> FieldSet:
        """EnsureNamedFieldsAreMembers: a field with owned descendants counts as owned itself (list items do
        not), so pruning never drops a struct somebody still owns a part of."""
        out = FieldSet()
        out.members = set(self.members)
        for pe, sub in self.children.items():
            if pe[0] == _FIELD:
                out.members.add(pe)
            out.children[pe] = sub.with_named_fields_as_members()
        return out

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every path, in Kubernetes' order: this level's members (sorted), then each child subtree."""
        for pe in sorted(self.members):
            yield prefix + (pe,)
        for pe in sorted(self.children):
            yield from self.children[pe].paths(prefix + (pe,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.members == other.members and self.children == other.children

    def __repr__(self) -> str:
        return f"FieldSet({[path_to_string(p) for p in self.paths()]})"


_EMPTY = FieldSet()


def field_set_to_fields_v1(fs: FieldSet) -> dict[str, Any]:
    """The FieldsV1 JSON of a set, keys in Kubernetes' order (``.`` first, then sorted path elements)."""
    return _emit_fields_v1(fs, include_self=False)


def _emit_fields_v1(fs: FieldSet, *, include_self: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if include_self and not fs.is_empty():
        out["."] = {}
    for pe in sorted(fs.members | fs.children.keys()):
        sub = fs.children.get(pe)
        out[serialize_element(pe)] = _emit_fields_v1(sub, include_self=pe in fs.members) if sub else {}
    return out


def fields_v1_to_field_set(doc: Any) -> FieldSet:
    """Parses FieldsV1 JSON. Raises ValueError like Kubernetes' decoder; unknown element types are dropped."""
    if doc is None:
        return FieldSet()
    if not isinstance(doc, dict):
        raise ValueError(f"expected a JSON object, got {_json_kind(doc)}")
    children, _ = _read_fields_v1(doc)
    return children


def _read_fields_v1(doc: dict[str, Any]) -> tuple[FieldSet, bool]:
    """Returns the children of this node and whether the node itself is a member."""
    children = FieldSet()
    is_member = False
    for text, sub in doc.items():
        if text == ".":
            is_member = True
            continue
        pe = parse_element(text)
        if pe is None:
            continue
        if sub is not None and not isinstance(sub, dict):
            raise ValueError(f"{text}: expected a JSON object, got {_json_kind(sub)}")
        grandchildren, child_is_member = _read_fields_v1(sub or {})
        if child_is_member:
            children.members.add(pe)
        if not grandchildren.is_empty():
            children.children[pe] = children.child(pe).union(grandchildren)
    return children, is_member or children.is_empty()


def _json_kind(value: Any) -> str:
    """The JSON type name Go's decoder uses in its errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --------------------------------------------------------------------------------------------------------------
# Schema knowledge: list types (schema.py), atomic maps and Go zero values (here)
# --------------------------------------------------------------------------------------------------------------

# Maps declared +mapType=atomic / +structType=atomic in k8s.io/api, by field name: LabelSelector, the
# env valueFrom selectors, Service/RC/Pod selectors. Owned and replaced whole.
_ATOMIC_MAP_FIELDS = frozenset({
    "selector", "nodeSelector", "labelSelector", "namespaceSelector", "podSelector",
    "configMapKeyRef", "secretKeyRef", "fieldRef", "resourceFieldRef",
})
# List-map items whose struct is atomic (OwnerReference, LocalObjectReference).
_ATOMIC_ITEM_LISTS = frozenset({"ownerReferences", "imagePullSecrets"})
# List-map keys with an OpenAPI default, used when an item leaves them out (ports: protocol=TCP).
_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}

_POD_TEMPLATE_ZERO: dict[str, Any] = {"metadata": {}, "spec": {"containers": None}}
# What a create compares against: the JSON of Go's zero value of the kind. Non-pointer structs are present
# (so ``f:spec`` gets no ``.`` entry) and non-omitempty lists are null (so ``f:containers`` gets none either).
_ZERO_OBJECTS: dict[str, dict[str, Any]] = {
    "Pod": {"metadata": {}, "spec": {"containers": None}, "status": {}},
    "Deployment": {"metadata": {}, "spec": {"selector": None, "template": _POD_TEMPLATE_ZERO, "strategy": {}},
                   "status": {}},
    "ReplicaSet": {"metadata": {}, "spec": {"selector": None, "template": _POD_TEMPLATE_ZERO}, "status": {}},
    "DaemonSet": {"metadata": {}, "spec": {"selector": None, "template": _POD_TEMPLATE_ZERO,
                                           "updateStrategy": {}}, "status": {}},
    "StatefulSet": {"metadata": {}, "spec": {"selector": None, "template": _POD_TEMPLATE_ZERO,
                                             "updateStrategy": {}}, "status": {}},
    "Job": {"metadata": {}, "spec": {"template": _POD_TEMPLATE_ZERO}, "status": {}},
    "CronJob": {"metadata": {}, "spec": {"jobTemplate": {"metadata": {}, "spec": {"template": _POD_TEMPLATE_ZERO}}},
                "status": {}},
    "ReplicationController": {"metadata": {}, "spec": {}, "status": {}},
    "Service": {"metadata": {}, "spec": {}, "status": {"loadBalancer": {}}},
    "Namespace": {"metadata": {}, "spec": {}, "status": {}},
    "Node": {"metadata": {}, "spec": {}, "status": {}},
    "PersistentVolumeClaim": {"metadata": {}, "spec": {"resources": {}}, "status": {}},
}
_BUILTIN_KINDS = frozenset(_ZERO_OBJECTS) | {
    "ConfigMap", "Secret", "ServiceAccount", "Endpoints", "Event", "LimitRange", "ResourceQuota",
    "PersistentVolume", "CertificateSigningRequest", "PodDisruptionBudget", "Lease", "PriorityClass",
}


@dataclass(frozen=True)
class _Shape:
    """The merge semantics of one kind's fields."""

    kind: str

    @property
    def builtin(self) -> bool:
        return self.kind in _BUILTIN_KINDS

    def list_type(self, names: Names) -> schema.ListType | None:
        return schema.list_type(self.kind, names)

    def atomic_map(self, names: Names) -> bool:
        return self.builtin and bool(names) and names[-1] in _ATOMIC_MAP_FIELDS and names[:1] != ("metadata",)

    def atomic_items(self, names: Names) -> bool:
        return self.builtin and bool(names) and names[-1] in _ATOMIC_ITEM_LISTS

    def zero_object(self) -> dict[str, Any]:
        return copy.deepcopy(_ZERO_OBJECTS.get(self.kind, {"metadata": {}}))


class _SchemaError(ValueError):
    """An object that does not fit the kind's schema (structured-merge-diff's ValidationErrors)."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(_join_schema_errors(errors))


def _join_schema_errors(errors: list[str]) -> str:
    if len(errors) == 1:
        return errors[0]
    return "\n".join(["errors:", *("  " + e for e in errors)])


def _item_element(list_type: schema.ListType, item: Any) -> PathElement:
    """The path element of a list item, or ValueError with structured-merge-diff's message."""
    if list_type.type == "set":
        if isinstance(item, dict):
            raise ValueError("associative list without keys has an element that's a map type")
        if isinstance(item, list):
            raise ValueError("not supported: associative list with lists as elements")
        return value_element(item)
    if item is None:
        raise ValueError("associative list with keys may not have a null element")
    if not isinstance(item, dict):
        raise ValueError("associative list with keys may not have non-map elements")
    key_fields: dict[str, Any] = {}
    for name in list_type.keys:
        if name in item:
            key_fields[name] = item[name]
        elif name in _KEY_DEFAULTS:
            key_fields[name] = _KEY_DEFAULTS[name]
        else:
            raise ValueError(f"associative list with keys has an element that omits key field {go_quote(name)} "
                             "(and doesn't have default value)")
    return key_element(key_fields)


def _indexed_items(list_type: schema.ListType, items: list[Any], path: Path) -> list[tuple[PathElement, Any]]:
    """(path element, item) pairs; raises _SchemaError for an item without a usable identity."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append((_item_element(list_type, item), item))
        except ValueError as exc:
            raise _SchemaError([f"{path_to_string(path)}: element {i}: {exc}"]) from None
    return out


def _grouped(pairs: list[tuple[PathElement, Any]]) -> dict[PathElement, list[Any]]:
    groups: dict[PathElement, list[Any]] = {}
    for pe, item in pairs:
        groups.setdefault(pe, []).append(item)
    return groups


# --------------------------------------------------------------------------------------------------------------
# Validating an applied configuration (what ObjectToTyped rejects)
# --------------------------------------------------------------------------------------------------------------

_MAP_FIELDS_AT_ROOT = ("metadata", "spec", "status")
_STRING_MAPS = (("metadata", "labels"), ("metadata", "annotations"))


def _schema_errors(obj: dict[str, Any], shape: _Shape, live: Any) -> list[str]:
    errors: list[str] = []
    for name in _MAP_FIELDS_AT_ROOT:
        if obj.get(name) is not None and not isinstance(obj[name], dict):
            errors.append(f".{name}: expected map, got {_json_kind(obj[name])}")
    metadata = obj.get("metadata")
    for names in _STRING_MAPS:
        value = metadata.get(names[1]) if isinstance(metadata, dict) else None
        errors.extend(_string_map_errors(value, make_path(*names)))
    if not errors:
        _check_map(obj, live if isinstance(live, dict) else ABSENT, shape, (), (), errors)
    return errors


def _string_map_errors(value: Any, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return [f"{path_to_string(path)}: expected map, got {_json_kind(value)}"]
    return [f"{path_to_string(path + (field_element(k),))}: expected string, got {_json_kind(v)}"
            for k, v in value.items() if not isinstance(v, str)]


def _check_map(obj: dict[str, Any], live: Any, shape: _Shape, names: Names, path: Path, errors: list[str]) -> None:
    live_map = live if isinstance(live, dict) else {}
    for key, value in obj.items():
        _check_value(value, live_map.get(key, ABSENT), shape, names + (key,), path + (field_element(key),), errors)


def _check_value(value: Any, live: Any, shape: _Shape, names: Names, path: Path, errors: list[str]) -> None:
    if value is None:
        return
    list_type = shape.list_type(names)
    if list_type is not None:
        _check_list(value, live, list_type, shape, names, path, errors)
    elif shape.builtin and _container_kind(live) not in ("", _container_kind(value)):
        # The live object is valid, so a map where it has a list (or the reverse) breaks the schema.
        errors.append(f"{path_to_string(path)}: expected {_container_kind(live)}, got {_json_kind(value)}")
    elif isinstance(value, dict) and not shape.atomic_map(names):
        _check_map(value, live, shape, names, path, errors)


def _check_list(value: Any, live: Any, list_type: schema.ListType, shape: _Shape, names: Names, path: Path,
                errors: list[str]) -> None:
    if not isinstance(value, list):
        errors.append(f"{path_to_string(path)}: expected list, got {_json_kind(value)}")
        return
    try:
        pairs = _indexed_items(list_type, value, path)
    except _SchemaError as exc:
        errors.extend(exc.errors)
        return
    live_items = _live_items_by_element(list_type, live)
    seen: set[PathElement] = set()
    for pe, item in pairs:
        if pe in seen:
            errors.append(f"{path_to_string(path)}: duplicate entries for key {element_to_string(pe)}")
        seen.add(pe)
        if isinstance(item, dict) and not shape.atomic_items(names):
            _check_map(item, live_items.get(pe, ABSENT), shape, names, path + (pe,), errors)


def _live_items_by_element(list_type: schema.ListType, live: Any) -> dict[PathElement, Any]:
    if not isinstance(live, list):
        return {}
    out: dict[PathElement, Any] = {}
    for item in live:
        try:
            out.setdefault(_item_element(list_type, item), item)
        except ValueError:
            continue
    return out


def _container_kind(value: Any) -> str:
    """"map", "list", "scalar", or "" when there is nothing to compare with."""
    if value is ABSENT or value is None:
        return ""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


# --------------------------------------------------------------------------------------------------------------
# ToFieldSet: the paths an applied configuration sets
# --------------------------------------------------------------------------------------------------------------

def field_set_of(obj: dict[str, Any], *, kind: str) -> FieldSet:
    """Every leaf field and list item ``obj`` mentions (structured-merge-diff's ToFieldSet)."""
    out = FieldSet()
    _collect_map(obj, _Shape(kind), (), (), out)
    return out


def _collect_map(obj: dict[str, Any], shape: _Shape, names: Names, prefix: Path, out: FieldSet) -> None:
    for key, value in obj.items():
        path = prefix + (field_element(key),)
        if value is None or value == {}:
            out.insert(path)  # null and {} are leaves: "I set this to empty"
        else:
            _collect_value(value, shape, names + (key,), path, out)


def _collect_value(value: Any, shape: _Shape, names: Names, path: Path, out: FieldSet) -> None:
    if isinstance(value, dict) and not shape.atomic_map(names):
        _collect_map(value, shape, names, path, out)
    elif isinstance(value, list) and (list_type := shape.list_type(names)) is not None:
        for pe, item in _indexed_items(list_type, value, path):
            out.insert(path + (pe,))
            if isinstance(item, dict) and not shape.atomic_items(names):
                _collect_map(item, shape, names, path + (pe,), out)
    else:
        out.insert(path)  # scalars, atomic lists and atomic maps are one leaf


# --------------------------------------------------------------------------------------------------------------
# Compare: which fields a write added, modified and removed
# --------------------------------------------------------------------------------------------------------------

@dataclass
class _Comparison:
    added: FieldSet = field(default_factory=FieldSet)
    modified: FieldSet = field(default_factory=FieldSet)
    removed: FieldSet = field(default_factory=FieldSet)

    def without(self, ignored: FieldSet) -> _Comparison:
        return _Comparison(self.added.recursive_difference(ignored), self.modified.recursive_difference(ignored),
                           self.removed.recursive_difference(ignored))


def _compare(old: dict[str, Any], new: dict[str, Any], shape: _Shape) -> _Comparison:
    comparison = _Comparison()
    _compare_node(old, new, shape, (), (), comparison)
    return comparison


def _compare_node(old: Any, new: Any, shape: _Shape, names: Names, path: Path, c: _Comparison) -> None:
    if _both_maps(old, new) and not shape.atomic_map(names):
        old_map, new_map = _as_map(old), _as_map(new)
        if not old_map and not new_map:
            _compare_leaf(old, new, path, c)
            return
        for key in _merged_keys(old_map, new_map):
            _compare_node(old_map.get(key, ABSENT), new_map.get(key, ABSENT), shape, names + (key,),
                          path + (field_element(key),), c)
        _mark_container(old, new, path, c)
    elif _both_lists(old, new) and (list_type := shape.list_type(names)) is not None:
        old_list, new_list = _as_list(old), _as_list(new)
        if not old_list and not new_list:
            _compare_leaf(old, new, path, c)
            return
        _compare_items(old_list, new_list, list_type, shape, names, path, c)
        _mark_container(old, new, path, c)
    else:
        _compare_leaf(old, new, path, c)


def _compare_items(old: list[Any], new: list[Any], list_type: schema.ListType, shape: _Shape, names: Names,
                   path: Path, c: _Comparison) -> None:
    old_groups = _grouped(_indexed_items(list_type, old, path))
    new_groups = _grouped(_indexed_items(list_type, new, path))
    atomic = shape.atomic_items(names)
    for pe in _merged_keys(old_groups, new_groups):
        olds, news = old_groups.get(pe, []), new_groups.get(pe, [])
        item_path = path + (pe,)
        if len(olds) >= 2 and len(news) >= 2:  # duplicates on both sides compare as one atomic value
            if not _values_equal(olds, news):
                c.modified.insert(item_path)
        elif len(olds) >= 2:
            if news:
                _compare_item(ABSENT, news[0], atomic, shape, names, item_path, c)
            c.removed.insert(item_path)
        elif len(news) >= 2:
            if olds:
                _compare_item(olds[0], ABSENT, atomic, shape, names, item_path, c)
            c.added.insert(item_path)
        else:
            _compare_item(olds[0] if olds else ABSENT, news[0] if news else ABSENT, atomic, shape, names,
                          item_path, c)


def _compare_item(old: Any, new: Any, atomic: bool, shape: _Shape, names: Names, path: Path,
                  c: _Comparison) -> None:
    if atomic:
        _compare_leaf(old, new, path, c)
    else:
        _compare_node(old, new, shape, names, path, c)


def _compare_leaf(old: Any, new: Any, path: Path, c: _Comparison) -> None:
    if old is ABSENT:
        c.added.insert(path)
    elif new is ABSENT:
        c.removed.insert(path)
    elif not _values_equal(old, new):
        c.modified.insert(path)


def _mark_container(old: Any, new: Any, path: Path, c: _Comparison) -> None:
    """A map, list or item that appears or disappears counts itself, not only its leaves."""
    if old is ABSENT:
        c.added.insert(path)
    elif new is ABSENT:
        c.removed.insert(path)


def _both_maps(a: Any, b: Any) -> bool:
    return (isinstance(a, dict) or isinstance(b, dict)) and all(isinstance(v, dict) or v is None or v is ABSENT
                                                                 for v in (a, b))


def _both_lists(a: Any, b: Any) -> bool:
    return (isinstance(a, list) or isinstance(b, list)) and all(isinstance(v, list) or v is None or v is ABSENT
                                                                 for v in (a, b))


def _as_map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _merged_keys(first: dict[Any, Any], second: dict[Any, Any]) -> list[Any]:
    return list(first) + [k for k in second if k not in first]


# --------------------------------------------------------------------------------------------------------------
# Merge: an applied configuration over the live object
# --------------------------------------------------------------------------------------------------------------

def _merge(live: Any, applied: Any, shape: _Shape, names: Names, path: Path) -> Any:
    """Maps merge, list-maps merge by key, sets union, everything else (and atomic values) is replaced."""
    if applied is ABSENT:
        return copy.deepcopy(live)
    if _both_maps(live, applied) and not shape.atomic_map(names):
        live_map, applied_map = _as_map(live), _as_map(applied)
        if not live_map and not applied_map:
            return copy.deepcopy(applied)
        return {key: _merge(live_map.get(key, ABSENT), applied_map.get(key, ABSENT), shape, names + (key,),
                            path + (field_element(key),))
                for key in _merged_keys(live_map, applied_map)}
    if _both_lists(live, applied) and (list_type := shape.list_type(names)) is not None:
        live_list, applied_list = _as_list(live), _as_list(applied)
        if not live_list and not applied_list:
            return copy.deepcopy(applied)
        return _merge_items(live_list, applied_list, list_type, shape, names, path)
    return copy.deepcopy(applied)


def _merge_items(live: list[Any], applied: list[Any], list_type: schema.ListType, shape: _Shape, names: Names,
                 path: Path) -> list[Any]:
    """Merges list items by identity. Order follows structured-merge-diff: items the applier names come in its
    order; live-only items stay where they were relative to them."""
    live_groups = _grouped(_indexed_items(list_type, live, path))
    applied_groups = _grouped(_indexed_items(list_type, applied, path))
    live_order, applied_order = list(live_groups), list(applied_groups)
    atomic = shape.atomic_items(names)

    def merged(pe: PathElement) -> list[Any]:
        if pe not in applied_groups:
            return copy.deepcopy(live_groups[pe])
        # An applied item replaces every live duplicate of its identity.
        live_item = live_groups[pe][0] if len(live_groups.get(pe, ())) == 1 and not atomic else ABSENT
        return [_merge(live_item, applied_groups[pe][0], shape, names, path + (pe,))]

    shared = [pe for pe in applied_order if pe in live_groups]
    out: list[Any] = []
    li = ai = 0
    while li < len(live_order) or ai < len(applied_order):
        next_shared = shared[0] if shared else None
        if li < len(live_order) and ai < len(applied_order):
            pe = live_order[li]
            if pe == applied_order[ai]:
                out.extend(merged(pe))
                li, ai = li + 1, ai + 1
                shared.pop(0)
                continue
            if pe in applied_groups and next_shared is not None and next_shared != pe:
                li += 1  # a shared item the applier wants later: it is emitted in the applier's order
                continue
        if li < len(live_order) and live_order[li] not in applied_groups:
            out.extend(merged(live_order[li]))
            li += 1
            continue
        if ai < len(applied_order):
            pe = applied_order[ai]
            out.extend(merged(pe))
            ai += 1
            if pe == next_shared:
                shared.pop(0)
        else:
            li += 1  # a live item already merged through the applier's order
    return out


# --------------------------------------------------------------------------------------------------------------
# Prune: drop what the applier applied last time, no longer applies, and nobody else owns
# --------------------------------------------------------------------------------------------------------------

def _prune(merged: dict[str, Any], last: FieldSet, owned: FieldSet, shape: _Shape) -> dict[str, Any]:
    """``last`` is the applier's previous set, ``owned`` the union of every current set (the applier's new one
    included), both with named fields as members; a path in ``last`` but not in ``owned`` is removed whole."""
    return _prune_map(merged, last, owned, shape, ())


def _prune_map(obj: dict[str, Any], last: FieldSet, owned: FieldSet, shape: _Shape, names: Names) -> dict[str, Any]:
    out = {}
    for key, value in obj.items():
        pe = field_element(key)
        if pe in last.members and pe not in owned.members:
            continue
        sub = last.children.get(pe)
        out[key] = value if sub is None else _prune_value(value, sub, owned.child(pe), shape, names + (key,))
    return out


def _prune_value(value: Any, last: FieldSet, owned: FieldSet, shape: _Shape, names: Names) -> Any:
    if isinstance(value, dict) and not shape.atomic_map(names):
        return _prune_map(value, last, owned, shape, names)
    list_type = shape.list_type(names)
    if not isinstance(value, list) or list_type is None:
        return value
    out = []
    for pe, item in _indexed_items(list_type, value, ()):
        if pe in last.members and pe not in owned.members:
            continue
        sub = last.children.get(pe)
        if sub is not None and isinstance(item, dict) and not shape.atomic_items(names):
            item = _prune_map(item, sub, owned.child(pe), shape, names)
        out.append(item)
    return out


# --------------------------------------------------------------------------------------------------------------
# Managers and the managedFields wire format
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class ManagerKey:
    """A manager's identity: Update entries are per API version, Apply entries are not."""

    manager: str
    operation: str
    api_version: str = ""
    subresource: str = ""

    def identifier(self) -> str:
        """Kubernetes' identifier string (BuildManagerIdentifier), used to order managers."""
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                 "subresource": self.subresource}
        return go_json({k: v for k, v in entry.items() if v}, sort_keys=False)

    def describe(self) -> str:
        """How conflict messages name the manager: ``"kubectl-client-side-apply" using apps/v1``."""
        text = go_quote(self.manager)
        if self.subresource:
            text += f" with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


@dataclass(frozen=True)
class _Entry:
    fields: FieldSet
    api_version: str
    time: str | None


Managed = dict[ManagerKey, _Entry]


class ManagedFieldsError(ValueError):
    """managedFields that cannot be decoded (Kubernetes then falls back to the live object's)."""


def _decode_managed(entries: Any) -> Managed:
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ManagedFieldsError(f"expected a list, got {_json_kind(entries)}")
    managed: Managed = {}
    for index, entry in enumerate(entries):
        key, decoded = _decode_entry(index, entry)
        managed[key] = decoded
    return managed


def _decode_entry(index: int, entry: Any) -> tuple[ManagerKey, _Entry]:
    if not isinstance(entry, dict):
        raise ManagedFieldsError(f"managed fields entry {index} is not an object")
    text = {name: "" if entry.get(name) is None else entry[name]
            for name in ("manager", "operation", "apiVersion", "fieldsType", "subresource")}
    if not all(isinstance(v, str) for v in text.values()):
        raise ManagedFieldsError(f"managed fields entry {index} has a non-string field")
    if text["operation"] not in (APPLY, UPDATE):
        raise ManagedFieldsError("operation must be `Apply` or `Update`")
    if not text["apiVersion"]:
        raise ManagedFieldsError("apiVersion must not be empty")
    if text["fieldsType"] != FIELDS_V1:
        raise ManagedFieldsError(f"missing fieldsType in managed fields entry {index}" if not text["fieldsType"]
                                 else f"invalid fieldsType {go_quote(text['fieldsType'])} in managed fields entry {index}")
    try:
        fields = fields_v1_to_field_set(entry.get("fieldsV1"))
        time = _normalized_time(entry.get("time"))
    except ValueError as exc:
        raise ManagedFieldsError(f"managed fields entry {index}: {exc}") from None
    key = ManagerKey(text["manager"], text["operation"], text["apiVersion"] if text["operation"] == UPDATE else "",
                     text["subresource"])
    return key, _Entry(fields, text["apiVersion"], time)


def _normalized_time(value: Any) -> str | None:
    """metav1.Time round trip: RFC 3339 in, UTC seconds out."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"time: expected a string, got {_json_kind(value)}")
    return _format_time(_parse_time(value))


def _parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"time: cannot parse {go_quote(text)} as RFC 3339") from None
    if parsed.tzinfo is None or "T" not in text.upper():
        raise ValueError(f"time: cannot parse {go_quote(text)} as RFC 3339")
    return parsed


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unix_seconds(time: str | None) -> int:
    if time is None:
        return 0
    try:
        return int(_parse_time(time).timestamp())
    except ValueError:
        return 0


def _encode_managed(managed: Managed) -> list[dict[str, Any]]:
    entries = [_encode_entry(key, entry) for key, entry in managed.items() if not entry.fields.is_empty()]
    entries.sort(key=lambda e: (e["operation"], _unix_seconds(e.get("time")), e["manager"], e["apiVersion"],
                                e.get("subresource", "")))
    return entries


def _encode_entry(key: ManagerKey, entry: _Entry) -> dict[str, Any]:
    out: dict[str, Any] = {"manager": key.manager, "operation": key.operation, "apiVersion": entry.api_version}
    if entry.time is not None:
        out["time"] = entry.time
    out["fieldsType"] = FIELDS_V1
    out["fieldsV1"] = field_set_to_fields_v1(entry.fields)
    if key.subresource:
        out["subresource"] = key.subresource
    return out


def _store_managed(obj: dict[str, Any], managed: Managed) -> None:
    """Writes the entries into ``obj``; no entries means no managedFields key (Go's nil slice)."""
    metadata = obj.setdefault("metadata", {})
    entries = _encode_managed(managed)
    if entries:
        metadata["managedFields"] = entries
    else:
        metadata.pop("managedFields", None)


def _without_empty(managed: Managed) -> Managed:
    return {k: e for k, e in managed.items() if not e.fields.is_empty()}


def _with_fields(entry: _Entry, fields: FieldSet) -> _Entry:
    return _Entry(fields, entry.api_version, entry.time)


# Fields the server sets: never owned by anyone. Kubernetes' stripMeta list, plus the deletion markers our
# registry writes outside the field manager (kube-apiserver's graceful delete does the same).
_SERVER_OWNED = FieldSet.of([
    make_path("apiVersion"), make_path("kind"), make_path("metadata"),
    *(make_path("metadata", name) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation",
        "managedFields", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds")),
])


def _ignored_fields(ignore_status: bool) -> FieldSet:
    return FieldSet.of([make_path("status")]) if ignore_status else FieldSet()


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out


# --------------------------------------------------------------------------------------------------------------
# The updater: ownership changes of an update and of an apply
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    shape: _Shape
    api_version: str
    now: str
    ignored: FieldSet


class _Conflicts(Exception):
    def __init__(self, conflicts: list[tuple[ManagerKey, Path]]) -> None:
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} conflicts")


def _take_changes(managed: Managed, comparison: _Comparison, skip: ManagerKey, force: bool) -> Managed:
    """Other managers lose the fields this write modified or added (a conflict unless forced) and the fields it
    removed. Managers left with nothing are dropped."""
    changed = comparison.modified.union(comparison.added)
    conflicts = [(key, path) for key, entry in sorted(managed.items(), key=lambda kv: kv[0].identifier())
                 if key != skip for path in entry.fields.intersection(changed).paths()]
    if conflicts and not force:
        raise _Conflicts(conflicts)
    out: Managed = {}
    for key, entry in managed.items():
        if key != skip:
            entry = _with_fields(entry, entry.fields.difference(changed).difference(comparison.removed))
        out[key] = entry
    return _without_empty(out)


# The placeholder Kubernetes updates under, so that the updater's own previous entry is treated like anybody
# else's (it loses what the update removed) before the new changes are merged back into it.
_CURRENT_OPERATION = ManagerKey("current-operation", UPDATE)


def _update_managed(old: dict[str, Any], new: dict[str, Any], managed: Managed, key: ManagerKey,
                    ctx: _Context) -> Managed:
    """An Update by ``key``: it silently takes every field it changed (structured-merge-diff Updater.Update
    through kube-apiserver's managedFieldsUpdater, stripMeta and capManagers)."""
    comparison = _compare(old, new, ctx.shape).without(ctx.ignored)
    managed = _take_changes(managed, comparison, skip=_CURRENT_OPERATION, force=True)
    taken = comparison.modified.union(comparison.added).difference(comparison.removed)
    taken = taken.recursive_difference(ctx.ignored).difference(_SERVER_OWNED)
    if not taken.is_empty():
        previous = managed.get(key)
        fields = taken.union(previous.fields) if previous else taken
        managed = {**managed, key: _Entry(fields, ctx.api_version, ctx.now)}
    return _capped(managed)


def _capped(managed: Managed) -> Managed:
    """At most MAX_UPDATE_MANAGERS Update entries: the oldest are merged into per-version "ancient-changes"."""
    updaters = sorted((k for k in managed if k.operation == UPDATE),
                      key=lambda k: (_unix_seconds(managed[k].time), k.identifier()))
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    out = dict(managed)
    first_by_version: dict[str, ManagerKey] = {}
    remaining = len(updaters)
    for key in updaters:
        if remaining <= MAX_UPDATE_MANAGERS:
            break
        entry = out[key]
        bucket = ManagerKey(ANCIENT_CHANGES_MANAGER, UPDATE, entry.api_version)
        first = first_by_version.setdefault(entry.api_version, key)
        if first == key or key == bucket:
            continue  # (Go would merge an existing bucket into itself and then delete it)
        if bucket not in out:
            out[bucket] = out.pop(first)
        out[bucket] = _Entry(entry.fields.union(out[bucket].fields), entry.api_version, entry.time)
        del out[key]
        remaining -= 1
    return out


@dataclass
class _Applied:
    obj: dict[str, Any]
    managed: Managed
    changed: bool


def _apply_once(live: dict[str, Any] | None, config: dict[str, Any], managed: Managed, key: ManagerKey,
                force: bool, ctx: _Context) -> _Applied:
    """structured-merge-diff Updater.Apply behind kube-apiserver's skipNonApplied, stripMeta and
    managedFieldsUpdater."""
    if live is not None and not managed:
        # Fields of an object nobody tracked yet belong to "before-first-apply", so the applier can conflict.
        first = ManagerKey(BEFORE_FIRST_APPLY_MANAGER, UPDATE, ctx.api_version, key.subresource)
        managed = _update_managed(ctx.shape.zero_object(), _without_managed_fields(live), {}, first, ctx)
    base = live if live is not None else {}
    merged = _merge(base, config, ctx.shape, (), ())
    applied_set = field_set_of(config, kind=ctx.shape.kind).recursive_difference(ctx.ignored)
    last = managed.get(key)
    managed = {**managed, key: _Entry(applied_set, ctx.api_version, last.time if last else None)}
    if last is not None and not last.fields.is_empty():
        owned = FieldSet()
        for entry in managed.values():
            owned = owned.union(entry.fields)
        merged = _prune(merged, last.fields.with_named_fields_as_members(), owned.with_named_fields_as_members(),
                        ctx.shape)
    comparison = _compare(base, merged, ctx.shape).without(ctx.ignored)
    managed = _take_changes(managed, comparison, skip=key, force=force)
    changed = live is None or not _values_equal(_without_managed_fields(base), _without_managed_fields(merged))
    own = managed.get(key)
    if own is not None:
        fields = own.fields.difference(_SERVER_OWNED)
        managed = _without_empty({**managed, key: _Entry(fields, own.api_version, ctx.now if changed else own.time)})
    return _Applied(merged, managed, changed)


def _apply_with_last_applied(live: dict[str, Any] | None, config: dict[str, Any], managed: Managed,
                             key: ManagerKey, force: bool, ctx: _Context) -> _Applied:
    """kube-apiserver's lastAppliedManager: ``kubectl apply --server-side`` over an object kubectl managed
    client-side does not conflict on fields its last-applied annotation still describes."""
    try:
        return _apply_once(live, config, managed, key, force, ctx)
    except _Conflicts as exc:
        if key.manager != KUBECTL_MANAGER or live is None:
            raise
        allowed = _allowed_by_last_applied(live, ctx)
        if allowed is None:
            raise
        remaining = [(mgr, path) for mgr, path in exc.conflicts if not allowed.has(path)]
        if remaining:
            raise _Conflicts(remaining) from None
        return _apply_once(live, config, managed, key, True, ctx)


def _allowed_by_last_applied(live: dict[str, Any], ctx: _Context) -> FieldSet | None:
    """The last-applied configuration's fields whose values still match the live object, or None."""
    annotations = (live.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED_ANNOTATION)
    if not isinstance(text, str) or not text:
        return None
    try:
        last_applied = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != ctx.api_version:
        return None
    try:
        if _schema_errors(last_applied, ctx.shape, live):
            return None
        fields = field_set_of(last_applied, kind=ctx.shape.kind)
        comparison = _compare(last_applied, live, ctx.shape)
    except _SchemaError:
        return None
    return fields.difference(comparison.modified).difference(comparison.added).difference(comparison.removed)


def _sync_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> None:
    """kube-apiserver's lastAppliedUpdater: after ``kubectl`` applies server-side, an existing last-applied
    annotation is rewritten to the applied configuration, so a later client-side apply still diffs right."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or not annotations.get(LAST_APPLIED_ANNOTATION):
        return
    annotations[LAST_APPLIED_ANNOTATION] = _last_applied_value(config)
    if _annotations_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]


def _last_applied_value(config: dict[str, Any]) -> str:
    """The configuration without the annotation itself, as Go's json.Encoder writes it (newline included)."""
    config = copy.deepcopy(config)
    metadata = config.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("annotations"), dict):
        metadata["annotations"].pop(LAST_APPLIED_ANNOTATION, None)
    return go_json(config) + "\n"


def _annotations_size(annotations: dict[str, Any]) -> int:
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())


def _conflict_error(conflicts: list[tuple[ManagerKey, Path]]) -> ApiError:
    """409 Conflict with kube-apiserver's message and FieldManagerConflict causes."""
    causes = [Cause(field=path_to_string(path), message=f"conflict with {key.describe()}",
                    reason="FieldManagerConflict") for key, path in conflicts]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {key.describe()}: {path_to_string(path)}"
    else:
        lines = []
        by_manager: dict[ManagerKey, list[Path]] = {}
        for key, path in conflicts:
            by_manager.setdefault(key, []).append(path)
        for key in sorted(by_manager, key=ManagerKey.identifier):
            lines.append(f"conflicts with {key.describe()}:")
            lines.extend(f"- {path_to_string(path)}" for path in by_manager[key])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, "Conflict", {"causes": [c.to_dict() for c in causes]})


# --------------------------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------------------------

def apply(live: dict[str, Any] | None, applied: Any, *, kind: str, manager: str, api_version: str, force: bool,
          now: str, ignore_status: bool = False, subresource: str = "") -> dict[str, Any]:
    """The object after ``manager`` server-side applies ``applied`` to ``live`` (None: the object is created).

    Raises ApiError: 400 for a malformed configuration, 409 Conflict when the configuration changes fields
    other managers own and ``force`` is false, 422 without a manager. ``ignore_status`` is for main-resource
    writes of kinds with a status subresource: status is neither owned nor changed. Inputs are not mutated;
    the caller still defaults and validates the result.
    """
    config = _checked_config(live, applied, kind=kind, manager=manager, api_version=api_version)
    ctx = _Context(_Shape(kind), api_version, now, _ignored_fields(ignore_status))
    current = copy.deepcopy(live) if live is not None else None
    managed = _live_managed(current)
    key = ManagerKey(manager, APPLY, "", subresource)
    try:
        result = _apply_with_last_applied(current, config, managed, key, force, ctx)
    except _Conflicts as exc:
        raise _conflict_error(exc.conflicts) from None
    except _SchemaError as exc:
        raise _typed_patch_error(config, kind, api_version, exc) from None
    obj = _without_managed_fields(result.obj)
    if manager == KUBECTL_MANAGER:
        _sync_last_applied(obj, config)
    if ignore_status:
        _restore_status(obj, live)
    obj = _without_nulls(obj)
    _store_managed(obj, result.managed)
    return obj


def record_update(old: dict[str, Any] | None, new: dict[str, Any], *, kind: str, manager: str, api_version: str,
                  now: str, subresource: str = "", ignore_status: bool = False) -> None:
    """Records a create (``old`` None), update or non-apply patch in ``new["metadata"]["managedFields"]``.

    ``manager`` takes, with operation Update, every field the write changed (all set fields on a create),
    silently taking them from other managers. managedFields sent in ``new`` are honoured like kube-apiserver
    does: ``[]`` resets tracking, valid entries replace the live ones, undecodable ones are ignored; a
    subresource write always keeps the live entries.
    """
    metadata = new.get("metadata")
    if not isinstance(metadata, dict):
        return
    ctx = _Context(_Shape(kind), api_version, now, _ignored_fields(ignore_status))
    key = ManagerKey(manager or UNKNOWN_MANAGER, UPDATE, api_version, subresource)
    managed = _baseline_managed(old, new, subresource)
    creating = old is None or not (old.get("metadata") or {}).get("uid")
    if not managed and not creating:
        _store_managed(new, {})  # tracking was reset: it starts again with the next apply
        return
    before = _without_managed_fields(old) if old is not None else ctx.shape.zero_object()
    try:
        managed = _update_managed(before, _without_managed_fields(new), managed, key, ctx)
    except _SchemaError:
        # kube-apiserver keeps the live entries when it cannot compute the new ones (UpdateNoErrors).
        managed = _decode_or_empty((old or {}).get("metadata", {}).get("managedFields"))
    _store_managed(new, managed)


def default_manager(user_agent: str) -> str:
    """The field manager of a write without ``fieldManager``: the User-Agent up to its first ``/``, printable
    characters only, at most 128 bytes (``kubectl/v1.37.1 (linux/amd64)`` -> ``kubectl``,
    ``OpenAPI-Generator/37.0.2/python`` -> ``OpenAPI-Generator``)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not ch.isprintable():
            continue
        width = len(ch.encode("utf-8", "surrogatepass"))
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += width
    return "".join(out)


def validate_managed_fields(entries: Any, *, kind: str, api_version: str, name: str) -> None:
    """Rejects ``metadata.managedFields`` of a create/update/patch body the way kube-apiserver does.

    400 BadRequest when the value does not decode as a list of ManagedFieldsEntry (wrong JSON types, a time
    that is not RFC 3339). Entries that decode but make no sense (unknown operation or fieldsType, no
    apiVersion, bad FieldsV1) are not an error: kube-apiserver then ignores the request's list and keeps the
    live one, as :func:`record_update` does. A list that is used is checked like ObjectMeta validation does:
    422 Invalid for a manager over 128 bytes or with unprintable characters, or a subresource over 256 bytes.
    """
    _check_entry_types(entries, kind, api_version)
    if is_reset(entries):
        return
    try:
        _decode_managed(entries)
    except ManagedFieldsError:
        return
    causes = [cause for index, entry in enumerate(entries or []) for cause in _entry_causes(index, entry)]
    if causes:
        group = api_version.rpartition("/")[0]
        raise invalid(kind, group, name, causes)


def is_reset(entries: Any) -> bool:
    """Whether request managedFields ask to reset tracking: ``[]`` or a single all-empty entry."""
    if not isinstance(entries, list) or len(entries) > 1:
        return False
    first = entries[0] if entries else None
    return not entries or first is None or (isinstance(first, dict) and all(v in (None, "") for v in first.values()))


# --------------------------------------------------------------------------------------------------------------
# Request checks and helpers of the entry points
# --------------------------------------------------------------------------------------------------------------

def _checked_config(live: dict[str, Any] | None, applied: Any, *, kind: str, manager: str,
                    api_version: str) -> dict[str, Any]:
    """The checks kube-apiserver makes before merging, in its order; returns a private copy."""
    if not manager:
        raise invalid("PatchOptions", "meta.k8s.io", "", [
            Cause("fieldManager", "Required value: is required for apply patch", "FieldValueRequired")])
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
                          f"unmarshal {_json_kind(applied)} into Go value of type map[string]interface {{}}")
    got = _gvk_string(applied.get("apiVersion"), applied.get("kind"))
    if got != _gvk_string(api_version, kind):
        raise bad_request(f"invalid object type: {got}")
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    config = copy.deepcopy(applied)
    errors = _schema_errors(config, _Shape(kind), live)
    if errors:
        raise _typed_patch_error(config, kind, api_version, _SchemaError(errors))
    return config


def _gvk_string(api_version: Any, kind: Any) -> str:
    """schema.GroupVersionKind's String(): ``apps/v1, Kind=Deployment``, ``/v1, Kind=Pod``."""
    api_version = api_version if isinstance(api_version, str) else ""
    kind = kind if isinstance(kind, str) else ""
    if api_version.count("/") > 1:
        return "/, Kind="  # unparsable group/version: Go reports an empty GVK
    group, _, version = api_version.rpartition("/")
    return f"{group}/{version}, Kind={kind}"


def _typed_patch_error(config: dict[str, Any], kind: str, api_version: str, exc: _SchemaError) -> ApiError:
    """kube-apiserver's wording for a configuration its schema rejects. It answers 500 today (issue 139253);
    the pending fix makes it 400 with the same text, which is what we answer."""
    metadata = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    where = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}; {_gvk_string(api_version, kind)}"
    return bad_request(f"failed to create typed patch object ({where}): {exc}")


def _live_managed(live: dict[str, Any] | None) -> Managed:
    if live is None:
        return {}
    try:
        return _without_empty(_decode_managed((live.get("metadata") or {}).get("managedFields")))
    except ManagedFieldsError as exc:
        raise ApiError(500, f"failed to decode managed fields: {exc}", "InternalError") from None


def _baseline_managed(old: dict[str, Any] | None, new: dict[str, Any], subresource: str) -> Managed:
    """kube-apiserver's decodeLiveOrNew: which managedFields an update starts from."""
    live_entries = ((old or {}).get("metadata") or {}).get("managedFields")
    requested = new["metadata"].get("managedFields")
    if subresource:
        return _decode_or_empty(live_entries)
    if is_reset(requested):
        return {}
    try:
        managed = _decode_managed(requested)
    except ManagedFieldsError:
        managed = {}
    return managed if managed else _decode_or_empty(live_entries)


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return _decode_managed(entries)
    except ManagedFieldsError:
        return {}


def _restore_status(obj: dict[str, Any], live: dict[str, Any] | None) -> None:
    """Main-resource writes keep the live status (the registry resets it; on create there is none yet)."""
    if live is not None and "status" in live:
        obj["status"] = copy.deepcopy(live["status"])
    else:
        obj.pop("status", None)


def _without_nulls(value: Any) -> Any:
    """A typed round trip drops null fields (nil pointers and omitempty), so the stored object has none."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


_ENTRY_STRING_FIELDS = {"manager": "string", "operation": "v1.ManagedFieldsOperationType",
                        "apiVersion": "string", "fieldsType": "string", "subresource": "string"}


def _check_entry_types(entries: Any, kind: str, api_version: str) -> None:
    """What Go's JSON decoder rejects: 400 with its message."""
    def reject(detail: str) -> ApiError:
        version = api_version.rpartition("/")[2]
        return bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}')

    if entries is None:
        return
    if not isinstance(entries, list):
        raise reject(f"json: cannot unmarshal {_json_kind(entries)} into Go struct field "
                     "ObjectMeta.metadata.managedFields of type []v1.ManagedFieldsEntry")
    for entry in entries:
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise reject(f"json: cannot unmarshal {_json_kind(entry)} into Go struct field "
                         "ObjectMeta.metadata.managedFields of type v1.ManagedFieldsEntry")
        for name, go_type in _ENTRY_STRING_FIELDS.items():
            if entry.get(name) is not None and not isinstance(entry[name], str):
                raise reject(f"json: cannot unmarshal {_json_kind(entry[name])} into Go struct field "
                             f"ManagedFieldsEntry.metadata.managedFields.{name} of type {go_type}")
        try:
            _normalized_time(entry.get("time"))
        except ValueError as exc:
            raise reject(f"metadata.managedFields.{exc}") from None


def _entry_causes(index: int, entry: dict[str, Any]) -> list[Cause]:
    """ObjectMeta validation of one decodable entry (the manager and subresource checks of
    ValidateManagedFields; its operation and fieldsType checks cannot fail once the entry decoded)."""
    at = f"metadata.managedFields[{index}]"
    causes: list[Cause] = []
    causes.extend(_manager_name_causes(entry.get("manager") or "", f"{at}.manager"))
    subresource = entry.get("subresource") or ""
    if len(subresource.encode()) > SUBRESOURCE_MAX_LENGTH:
        causes.append(Cause(f"{at}.subresource", f"Too long: may not be more than {SUBRESOURCE_MAX_LENGTH} bytes",
                            "FieldValueTooLong"))
    return causes


def _manager_name_causes(manager: str, at: str) -> list[Cause]:
    causes = []
    if len(manager.encode()) > FIELD_MANAGER_MAX_LENGTH:
        causes.append(Cause(at, f"Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes",
                            "FieldValueTooLong"))
    for position, ch in enumerate(manager):
        if not ch.isprintable():
            causes.append(Cause(at, f"Invalid value: {go_quote(manager)}: invalid character "
                                    f"U+{ord(ch):04X} (at position {position})"))
    return causes
