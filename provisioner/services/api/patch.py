"""The three PATCH bodies kube-apiserver accepts besides apply: JSON patch (RFC 6902), JSON merge patch (RFC 7386)
and Kubernetes' strategic merge patch, with the status codes kube-apiserver answers bad patches with.

Every function works on plain JSON values, never mutates its arguments and shares no structure with them, and
raises nothing but :class:`ApiError`: 400 for a body that is not a patch of that type, 422 (reason Invalid) for a
well-formed patch that does not apply to the document, 413 for a JSON patch of more than 10000 operations.

Strategic merge patch reads how each list merges from :mod:`schema`: lists of objects merge by their patch-merge
key, sets of scalars merge as a union, every other list is replaced. It honours the directives kubectl and
client-go send: ``$patch: delete | replace | merge``, ``$setElementOrder/<list>``,
``$deleteFromPrimitiveList/<list>`` and ``$retainKeys``, and ``null`` deletes a field. The list ordering follows apimachinery exactly: items named by
the patch keep the patch's (or ``$setElementOrder``'s) order, other items keep the stored order, and a stored item
comes before a patched one only if it came before it in the stored list (so a new container without
``$setElementOrder`` lands first, as on a real cluster).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provisioner.services.api import schema
from provisioner.services.api.status import ApiError, bad_request

MAX_JSON_PATCH_OPERATIONS = 10000
# kube-apiserver answers a patch that does not apply with this generic 422 and drops the reason; we keep the reason
# as the Status' only cause so that kubectl prints it after the generic text.
NOT_APPLICABLE_MESSAGE = "the server rejected our request due to an error in our request"


def _not_applicable(detail: str) -> ApiError:
    return ApiError(422, NOT_APPLICABLE_MESSAGE, "Invalid", {"causes": [{"message": detail}]})


def _json_kind(value: Any) -> str:
    """The name encoding/json gives a JSON value in its "cannot unmarshal" errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "null" if value is None else "number"


def _go(value: Any) -> str:
    """A value as Go's %v prints the decoded JSON, for messages that mirror apimachinery's."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{_go(item)}" for key, item in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _same(left: Any, right: Any) -> bool:
    """Equality of decoded JSON as Go compares interface values: 1, 1.0 and true are three different values."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


def json_equal(left: Any, right: Any) -> bool:
    """RFC 6902 equality (the ``test`` operation): numbers compare by value, booleans are not numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and left == right


# --- JSON merge patch (RFC 7386) ------------------------------------------------------------------------------

def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces.

    kube-apiserver decodes a merge patch into an object first, so a patch that is not an object is a 400;
    ``null`` decodes to an empty patch.
    """
    if patch is None:
        return copy.deepcopy(doc)
    if not isinstance(patch, dict):
        raise bad_request(f"error decoding patch: json: cannot unmarshal {_json_kind(patch)} into Go value of "
                          "type map[string]interface {}")
    return _merge_value(copy.deepcopy(doc), copy.deepcopy(patch))


def _merge_value(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    merged = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_value(merged.get(key), value)
    return merged


# --- JSON patch (RFC 6902) ------------------------------------------------------------------------------------

_MISSING = object()
_ARRAY_INDEX = re.compile("0|[1-9][0-9]*")
_BAD_POINTER_ESCAPE = re.compile("~(?![01])")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902: apply ``operations`` in order to a copy of ``doc``; all of them apply or the patch fails."""
    operations = _decode_operations(operations)
    result = copy.deepcopy(doc)
    for operation in operations:
        result = _apply_operation(result, operation)
    return result


def _decode_operations(operations: Any) -> list[dict[str, Any]]:
    """The checks kube-apiserver's decoding makes before applying anything: each is a 400 (or 413)."""
    if not isinstance(operations, list):
        raise bad_request(f"error decoding patch: json: cannot unmarshal {_json_kind(operations)} into Go value of "
                          "type []handlers.jsonPatchOp")
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad_request(f"error decoding patch: json: cannot unmarshal {_json_kind(operation)} into Go value "
                              "of type handlers.jsonPatchOp")
        for member in ("op", "path", "from"):
            if operation.get(member) is not None and not isinstance(operation[member], str):
                raise bad_request(f"error decoding patch: json: cannot unmarshal {_json_kind(operation[member])} "
                                  f"into Go struct field jsonPatchOp.{member} of type string")
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise ApiError(413, f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                            f"got {len(operations)}", "RequestEntityTooLarge")
    return operations


def _apply_operation(doc: Any, operation: dict[str, Any]) -> Any:
    kind = operation.get("op") or "unknown"
    apply = _OPERATIONS.get(kind)
    if apply is None:
        raise _not_applicable(f"Unexpected kind: {kind}")
    return apply(doc, operation)


def _member(operation: dict[str, Any], member: str) -> str:
    value = operation.get(member)
    if value is None:
        raise _not_applicable(f"{operation['op']} operation failed to decode {member}: missing {member} field")
    return value


def _operation_value(operation: dict[str, Any]) -> Any:
    if "value" not in operation:
        raise _not_applicable(f"{operation['op']} operation failed: missing value field")
    return copy.deepcopy(operation["value"])


def _pointer(pointer: str) -> list[str]:
    """RFC 6901 reference tokens; ``~1`` is ``/`` and ``~0`` is ``~``."""
    if pointer == "":
        return []
    if not pointer.startswith("/") or _BAD_POINTER_ESCAPE.search(pointer):
        raise _not_applicable(f"invalid JSON pointer: {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _array_index(token: str, length: int, *, may_append: bool = False) -> int | None:
    """The list position ``token`` names: digits without leading zeros, or ``-`` (one past the end) for add."""
    if token == "-":
        return length if may_append else None
    if not _ARRAY_INDEX.fullmatch(token):
        return None
    index = int(token)
    return index if index < length + may_append else None


def _lookup(doc: Any, tokens: list[str]) -> Any:
    current = doc
    for token in tokens:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and (index := _array_index(token, len(current))) is not None:
            current = current[index]
        else:
            return _MISSING
    return current


def _missing(kind: str, path: str) -> ApiError:
    return _not_applicable(f'{kind} operation does not apply: doc is missing path: "{path}": missing value')


def _add_at(doc: Any, path: str, value: Any, kind: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _lookup(doc, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        index = _array_index(last, len(parent), may_append=True)
        if index is None:
            raise _not_applicable(f"{kind} operation does not apply: invalid index {last!r} in path: \"{path}\"")
        parent.insert(index, value)
    else:
        raise _missing(kind, path)
    return doc


def _remove_at(doc: Any, path: str, kind: str) -> Any:
    """Remove the value at ``path`` from ``doc`` and return it."""
    tokens = _pointer(path)
    if not tokens:
        raise _not_applicable(f"{kind} operation does not apply: the document root cannot be removed")
    parent, last = _lookup(doc, tokens[:-1]), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and (index := _array_index(last, len(parent))) is not None:
        return parent.pop(index)
    raise _missing(kind, path)


def _add(doc: Any, operation: dict[str, Any]) -> Any:
    return _add_at(doc, _member(operation, "path"), _operation_value(operation), "add")


def _remove(doc: Any, operation: dict[str, Any]) -> Any:
    _remove_at(doc, _member(operation, "path"), "remove")
    return doc


def _replace(doc: Any, operation: dict[str, Any]) -> Any:
    path = _member(operation, "path")
    value = _operation_value(operation)
    tokens = _pointer(path)
    if not tokens:
        return value
    if _lookup(doc, tokens) is _MISSING:
        raise _not_applicable(f"replace operation does not apply: doc is missing key: {path}: missing value")
    parent, last = _lookup(doc, tokens[:-1]), tokens[-1]
    parent[last if isinstance(parent, dict) else int(last)] = value
    return doc


def _move(doc: Any, operation: dict[str, Any]) -> Any:
    source, path = _member(operation, "from"), _member(operation, "path")
    source_tokens, path_tokens = _pointer(source), _pointer(path)
    if len(path_tokens) > len(source_tokens) and path_tokens[:len(source_tokens)] == source_tokens:
        raise _not_applicable(f"move operation does not apply: \"{path}\" is inside \"{source}\"")
    if _lookup(doc, source_tokens) is _MISSING:
        raise _not_applicable(f"move operation does not apply: doc is missing from path: {source}: missing value")
    if source_tokens == path_tokens:
        return doc
    return _add_at(doc, path, _remove_at(doc, source, "move"), "move")


def _copy(doc: Any, operation: dict[str, Any]) -> Any:
    source, path = _member(operation, "from"), _member(operation, "path")
    value = _lookup(doc, _pointer(source))
    if value is _MISSING:
        raise _not_applicable(f"copy operation does not apply: doc is missing from path: {source}: missing value")
    return _add_at(doc, path, copy.deepcopy(value), "copy")


def _test(doc: Any, operation: dict[str, Any]) -> Any:
    path = _member(operation, "path")
    expected = _operation_value(operation)
    actual = _lookup(doc, _pointer(path))
    if actual is _MISSING:
        raise _not_applicable(f"test operation does not apply: is missing path: {path}: missing value")
    if not json_equal(actual, expected):
        raise _not_applicable(f"testing value {path} failed: test failed")
    return doc


_OPERATIONS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "add": _add, "remove": _remove, "replace": _replace, "move": _move, "copy": _copy, "test": _test,
}


# --- strategic merge patch ------------------------------------------------------------------------------------

PATCH_DIRECTIVE = "$patch"
RETAIN_KEYS_DIRECTIVE = "$retainKeys"
SET_ELEMENT_ORDER_PREFIX = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList"
_DELETE, _REPLACE, _MERGE = "delete", "replace", "merge"

# apimachinery's sentinel errors, answered 400 by kube-apiserver.
_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
_NO_LIST_OF_LISTS = "lists of lists are not supported"  # answered 422


class _Drop:
    """What a ``$patch: delete`` object becomes where there is nothing to delete: the field disappears."""


_DROP = _Drop()


@dataclass(frozen=True)
class _Field:
    """Where a value sits in an object of ``kind``: the field path with list positions left out, as in schema."""

    kind: str
    path: tuple[str, ...] = ()

    def child(self, name: str) -> _Field:
        return _Field(self.kind, (*self.path, name))

    @property
    def list_type(self) -> schema.ListType | None:
        return schema.list_type(self.kind, self.path)

    @property
    def merge_key(self) -> str:
        """The patch-merge key of a list of objects that merges; "" for sets and atomic lists."""
        list_type = self.list_type
        return list_type.merge_key if list_type is not None and list_type.type == "map" else ""

    @property
    def name(self) -> str:
        return ".".join(self.path) or "<root>"


def strategic_merge_patch(doc: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to ``doc``, an object of ``kind``, as kube-apiserver does."""
    if patch is None:  # a JSON null decodes to an empty patch
        patch = {}
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {_json_kind(patch)} into Go value of type "
                          "map[string]interface {}")
    if not isinstance(doc, dict):
        raise bad_request("invalid JSON document")
    return _merge_map(copy.deepcopy(doc), copy.deepcopy(patch), _Field(kind))


# Both the document and the patch handed to the functions below are private copies, so they edit them in place.

def _merge_map(original: dict[str, Any], patch: dict[str, Any], field: _Field) -> dict[str, Any]:
    if PATCH_DIRECTIVE in patch:
        return _map_directive(original, patch, field)
    _apply_retain_keys(original, patch)
    _apply_element_orders(original, patch, field)
    deletions: dict[str, Any] = {}
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST_PREFIX):
            deletions[_directive_target(key, DELETE_FROM_PRIMITIVE_LIST_PREFIX, _BAD_PRIMITIVE_LIST)] = value
        elif key.startswith("$"):
            raise bad_request(f"unknown strategic merge patch directive {key!r} in {field.name}")
        else:
            _merge_field(original, key, value, field.child(key))
    for key, values in deletions.items():
        _delete_from_list(original, key, values, field.child(key))
    return original


def _map_directive(original: dict[str, Any], patch: dict[str, Any], field: _Field) -> dict[str, Any]:
    directive = patch.pop(PATCH_DIRECTIVE)
    if directive == _DELETE:  # the object is emptied, its field stays
        return {}
    if directive == _REPLACE:
        return _fresh(patch)
    if directive == _MERGE:  # the default for objects, spelled out
        return _merge_map(original, patch, field)
    raise _unknown_directive(directive, {**patch, PATCH_DIRECTIVE: directive})


def _unknown_directive(directive: Any, where: dict[str, Any]) -> ApiError:
    return bad_request(f"unknown patch type: {_go(directive)} in map: {_go(where)}")


def _directive_target(key: str, prefix: str, malformed: str) -> str:
    """The list a parallel-list directive ``<prefix>/<list>`` is about."""
    head, slash, target = key.partition("/")
    if not slash or head != prefix:
        raise bad_request(malformed)
    return target


def _merge_field(original: dict[str, Any], key: str, value: Any, field: _Field) -> None:
    if value is None:
        original.pop(key, None)
        return
    current = original.get(key, _MISSING)
    if isinstance(current, dict) and isinstance(value, dict):
        original[key] = _merge_map(current, value, field)
    elif isinstance(current, list) and isinstance(value, list):
        original[key] = _merge_list(current, value, field)
    else:
        fresh = _fresh(value)
        if fresh is _DROP:
            original.pop(key, None)
        else:
            original[key] = fresh


def _fresh(value: Any) -> Any:
    """A patch value that lands where there is nothing to merge with, cleaned as apimachinery does: nulls in
    objects and ``$patch: delete`` objects disappear and directives are dropped; a directive it does not know
    is a 400."""
    if isinstance(value, list):
        return [item for item in map(_fresh, value) if item is not _DROP]
    if not isinstance(value, dict):
        return value
    if PATCH_DIRECTIVE in value:
        directive = value[PATCH_DIRECTIVE]
        if directive == _DELETE:
            return _DROP
        if directive not in (_REPLACE, _MERGE):
            raise _unknown_directive(directive, value)
    cleaned = {}
    for key, item in value.items():
        if key.startswith("$"):
            if not _is_directive(key):
                raise bad_request(f"unknown strategic merge patch directive {key!r}")
            continue
        if item is not None and (item := _fresh(item)) is not _DROP:
            cleaned[key] = item
    return cleaned


def _is_directive(key: str) -> bool:
    return (key in (PATCH_DIRECTIVE, RETAIN_KEYS_DIRECTIVE)
            or key.startswith((SET_ELEMENT_ORDER_PREFIX + "/", DELETE_FROM_PRIMITIVE_LIST_PREFIX + "/")))


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """``$retainKeys``: drop every stored field the list does not name; the patch may only set named fields."""
    if RETAIN_KEYS_DIRECTIVE not in patch:
        return
    retained = patch.pop(RETAIN_KEYS_DIRECTIVE)
    if not isinstance(retained, list):
        raise bad_request(_BAD_RETAIN_KEYS)
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST_PREFIX, SET_ELEMENT_ORDER_PREFIX)):
            continue
        if key not in retained:
            raise bad_request(_BAD_RETAIN_KEYS)
    for key in [key for key in original if key not in retained]:
        del original[key]


def _element_type(items: list[Any]) -> type | None:
    """The one type every item of a merging list has (apimachinery refuses mixed lists and lists of lists)."""
    first: type | None = None
    for item in items:
        if first is None:
            if isinstance(item, list):
                raise _not_applicable(_NO_LIST_OF_LISTS)
            first = type(item)
        elif type(item) is not first:
            raise bad_request(f"list element types are not identical: {_go(items)}")
    return first


def _merge_list(original: list[Any], patch: list[Any], field: _Field) -> list[Any]:
    list_type = field.list_type
    if list_type is None:  # atomic: the patch replaces the list
        return _fresh(patch)
    if not original and not patch:
        return original
    item_type = _element_type(original + patch)
    if list_type.type == "set":
        if item_type is dict:
            raise bad_request(f"cannot merge lists without merge key for {field.name}")
        merged = _unique(original + patch)
        return _ordered(merged, patch, original, _whole)
    if item_type is not dict:
        first = original[0] if original else patch[0]
        raise bad_request(f"{field.name}: expected a map, but received a {_json_kind(first)}")
    return _merge_object_list(original, patch, field, list_type.merge_key)


def _merge_object_list(original: list[dict[str, Any]], patch: list[dict[str, Any]], field: _Field,
                       merge_key: str) -> list[dict[str, Any]]:
    remaining, replace = [], False
    for item in patch:
        if PATCH_DIRECTIVE not in item:
            remaining.append(item)
            continue
        directive = item[PATCH_DIRECTIVE]
        if directive == _DELETE:  # every stored item with that key goes
            key = _merge_key_value(item, merge_key)
            original = [kept for kept in original if not (merge_key in kept and _same(kept[merge_key], key))]
        elif directive == _REPLACE:
            replace = True
        elif directive == _MERGE:
            remaining.append({k: v for k, v in item.items() if k != PATCH_DIRECTIVE})
        else:
            raise _unknown_directive(directive, item)
    if replace:  # the other items of the patch are the whole new list
        original, remaining = [item for item in map(_fresh, remaining) if item is not _DROP], []
    merged = list(original)
    for item in remaining:
        key = _merge_key_value(item, merge_key)
        position = next((i for i, kept in enumerate(merged)
                         if merge_key in kept and _same(kept[merge_key], key)), None)
        if position is None:
            merged.append(_fresh(item))
        else:
            merged[position] = _merge_map(merged[position], item, field)
    for item in merged:
        _merge_key_value(item, merge_key)
    return _ordered(merged, remaining, original, _by_key(merge_key))


def _merge_key_value(item: Any, merge_key: str) -> Any:
    if not isinstance(item, dict):
        raise bad_request(f"expected a map, but received a {_json_kind(item)}")
    if merge_key not in item:
        raise bad_request(f"map: {_go(item)} does not contain declared merge key: {merge_key}")
    return item[merge_key]


def _whole(item: Any) -> Any:
    return item


def _by_key(merge_key: str) -> Callable[[Any], Any]:
    return lambda item: item.get(merge_key) if isinstance(item, dict) else None


def _unique(items: list[Any]) -> list[Any]:
    unique: list[Any] = []
    for item in items:
        if not any(_same(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _position(items: list[Any], item: Any, identity: Callable[[Any], Any]) -> int:
    wanted = identity(item)
    return next((i for i, candidate in enumerate(items) if _same(identity(candidate), wanted)), -1)


def _ordered(merged: list[Any], patch_order: list[Any], server_order: list[Any],
             identity: Callable[[Any], Any]) -> list[Any]:
    """apimachinery's order for a merged list: the items the patch names in the patch's order, the others in the
    stored order, interleaved so that a stored item precedes a patched one only if it did in the stored list."""
    def rank(order: list[Any]) -> Callable[[Any], int]:
        return lambda item: (position if (position := _position(order, item, identity)) >= 0 else len(order))

    named = [_position(patch_order, item, identity) >= 0 for item in merged]
    patched = sorted((item for item, is_named in zip(merged, named, strict=True) if is_named), key=rank(patch_order))
    stored = sorted((item for item, is_named in zip(merged, named, strict=True) if not is_named),
                    key=rank(server_order))
    result = []
    while stored and patched:
        stored_at = _position(server_order, stored[0], identity)
        patched_at = _position(server_order, patched[0], identity)
        result.append(stored.pop(0) if 0 <= stored_at < patched_at else patched.pop(0))
    return result + stored + patched


def _apply_element_orders(original: dict[str, Any], patch: dict[str, Any], field: _Field) -> None:
    """``$setElementOrder/<list>``: merge that list now and put its items in the given order."""
    for directive in [key for key in patch if key.startswith(SET_ELEMENT_ORDER_PREFIX)]:
        order = patch.pop(directive)
        key = _directive_target(directive, SET_ELEMENT_ORDER_PREFIX, _BAD_SET_ELEMENT_ORDER)
        if not isinstance(order, list):
            raise bad_request(_BAD_SET_ELEMENT_ORDER)
        list_field = field.child(key)
        stored, patched = original.get(key, _MISSING), patch.get(key, _MISSING)
        for value in (stored, patched):
            if value is not _MISSING and not isinstance(value, list):
                raise bad_request(f"{list_field.name}: expected a list, but received a {_json_kind(value)}")
        merge_key = list_field.merge_key
        _check_patch_follows_order(patched if patched is not _MISSING else [], order, merge_key)
        if stored is _MISSING and patched is _MISSING:
            continue
        if patched is _MISSING:
            merged = stored
        elif stored is _MISSING:
            merged = _fresh(patched)
        else:
            merged = _merge_list(stored, patched, list_field)
        patch.pop(key, None)
        identity = _whole
        if merge_key:
            for item in (*merged, *order):
                _merge_key_value(item, merge_key)
            identity = _by_key(merge_key)
        original[key] = _ordered(merged, order, stored if stored is not _MISSING else [], identity)


def _check_patch_follows_order(patched: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's items (deletions aside) must appear in ``order`` in the same relative order."""
    if not patched or not order:
        return
    if merge_key:
        for item in patched:
            if not isinstance(item, dict):
                raise bad_request(f"expected a map, but received a {_json_kind(item)}")
        patched = [item for item in patched if item.get(PATCH_DIRECTIVE) != _DELETE]
    at = 0
    for wanted in order:
        while at < len(patched) and isinstance(patched[at], dict) and PATCH_DIRECTIVE in patched[at]:
            at += 1
        if at == len(patched):
            return
        if merge_key:
            matches = _same(_merge_key_value(patched[at], merge_key), _merge_key_value(wanted, merge_key))
        else:
            matches = _same(patched[at], wanted)
        at += matches
    while at < len(patched) and isinstance(patched[at], dict) and PATCH_DIRECTIVE in patched[at]:
        at += 1
    if at < len(patched):
        raise bad_request(f"the order in patch list:\n{_go(patched)}\n doesn't match {SET_ELEMENT_ORDER_PREFIX} "
                          f"list:\n{_go(order)}")


def _delete_from_list(original: dict[str, Any], key: str, values: Any, field: _Field) -> None:
    """``$deleteFromPrimitiveList/<list>``: remove every occurrence of the given scalars, whatever the list's
    patch strategy."""
    if not isinstance(values, list) or any(isinstance(value, dict | list) for value in values):
        raise bad_request(_BAD_PRIMITIVE_LIST)
    current = original.get(key)
    if not isinstance(current, list) or not current:
        return
    _element_type(current + values)
    original[key] = [item for item in current if not any(_same(item, value) for value in values)]
