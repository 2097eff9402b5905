"""Validation of API objects with Kubernetes' field paths, error types and messages.

``validate(resource, obj, old)`` returns ``details.causes`` entries (:class:`Cause`) the way kube-apiserver builds
them from ``field.ErrorList``: ``field`` is the path (``spec.template.spec.containers[0].image``), ``reason`` the
error type (``FieldValueInvalid``) and ``message`` the body (``Invalid value: -1: must be greater than or equal
to 0``). It runs after defaulting, as in Kubernetes. Checks follow ``pkg/apis/*/validation`` and apimachinery's
``ValidateObjectMeta``; namespace presence by scope and name generation are the apiserver's.

Bad values print like Go's ``%v``/``%q``/``%#v``: numbers bare, strings quoted, label maps as
``map[string]string{"app":"web"}`` and selectors as ``v1.LabelSelector{...}``; other structures print as compact
JSON where Go would dump its internal structs.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisioner.services.api.defaults import externally_accessible
from provisioner.services.api.quantity import Quantity, QuantityError, format_quantity, parse_quantity
from provisioner.services.api.resources import Resource
from provisioner.services.api.selectors import (
    LabelSelector,
    label_key_errors,
    label_selector_from_dict,
    label_value_errors,
    selector_from_labels,
)
from provisioner.services.api.status import ApiError, Cause

Obj = dict[str, Any]

# --- field errors (apimachinery field.Error) -------------------------------------------------------------------

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"

IS_NEGATIVE = "must be greater than or equal to 0"
FIELD_IMMUTABLE = "field is immutable"
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
MAX_SECRET_SIZE = 1024 * 1024
MAX_INT32 = 2**31 - 1


class GoText(str):
    """A value already rendered the way Go prints it; shown as is."""


def go_string(value: str) -> str:
    """Go's ``%q`` for the strings objects carry."""
    return json.dumps(value, ensure_ascii=False)


def go_value(value: Any) -> str:
    """How ``field.Error`` prints a bad value."""
    if isinstance(value, GoText):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return go_string_map(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return go_string_slice(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def go_string_map(value: Mapping[str, str] | None) -> GoText:
    """``%#v`` of a ``map[string]string``: keys sorted, ``nil`` for an absent map."""
    if value is None:
        return GoText("map[string]string(nil)")
    pairs = ", ".join(f"{go_string(k)}:{go_string(str(value[k]))}" for k in sorted(value))
    return GoText("map[string]string{" + pairs + "}")


def go_string_slice(value: Iterable[str] | None) -> GoText:
    if value is None:
        return GoText("[]string(nil)")
    return GoText("[]string{" + ", ".join(go_string(str(v)) for v in value) + "}")


def go_label_selector(selector: Mapping[str, Any]) -> GoText:
    """``%#v`` of a ``metav1.LabelSelector`` — how immutable and empty selectors are reported."""
    match_labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if expressions is None:
        shown_expressions = "[]v1.LabelSelectorRequirement(nil)"
    else:
        shown_expressions = "[]v1.LabelSelectorRequirement{" + ", ".join(
            f"v1.LabelSelectorRequirement{{Key:{go_string(str(e.get('key', '')))}, "
            f"Operator:{go_string(str(e.get('operator', '')))}, Values:{go_string_slice(e.get('values'))}}}"
            for e in expressions if isinstance(e, dict)) + "}"
    labels = match_labels if isinstance(match_labels, dict) or match_labels is None else {}
    return GoText(f"v1.LabelSelector{{MatchLabels:{go_string_map(labels)}, MatchExpressions:{shown_expressions}}}")


def go_toleration(toleration: Mapping[str, Any]) -> GoText:
    """``%#v`` of a ``core.Toleration``."""
    seconds = toleration.get("tolerationSeconds")
    shown_seconds = "(*int64)(nil)" if seconds is None else "(*int64)(0xc000000000)"
    return GoText(f"core.Toleration{{Key:{go_string(str(toleration.get('key') or ''))}, "
                  f"Operator:{go_string(str(toleration.get('operator') or ''))}, "
                  f"Value:{go_string(str(toleration.get('value') or ''))}, "
                  f"Effect:{go_string(str(toleration.get('effect') or ''))}, TolerationSeconds:{shown_seconds}}}")


def go_taint(taint: Mapping[str, Any]) -> GoText:
    """``%#v`` of a ``core.Taint``."""
    added = "(*v1.Time)(nil)" if not taint.get("timeAdded") else "(*v1.Time)(0xc000000000)"
    return GoText(f"core.Taint{{Key:{go_string(str(taint.get('key') or ''))}, "
                  f"Value:{go_string(str(taint.get('value') or ''))}, "
                  f"Effect:{go_string(str(taint.get('effect') or ''))}, TimeAdded:{added}}}")


def go_bytes(data: bytes | None) -> GoText:
    if data is None:
        return GoText("[]byte(nil)")
    return GoText("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, "Required value" + (f": {detail}" if detail else ""), REQUIRED)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {go_value(value)}" + (f": {detail}" if detail else ""), INVALID)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    shown = ", ".join(go_string(v) for v in supported)
    detail = f": supported values: {shown}" if shown else ""
    return Cause(path, f"Unsupported value: {go_value(value)}{detail}", NOT_SUPPORTED)


def duplicate(path: str, value: Any) -> Cause:
    return Cause(path, f"Duplicate value: {go_value(value)}", DUPLICATE)


def forbidden(path: str, detail: str) -> Cause:
    return Cause(path, "Forbidden" + (f": {detail}" if detail else ""), FORBIDDEN)


def not_found(path: str, value: Any) -> Cause:
    return Cause(path, f"Not found: {go_value(value)}", NOT_FOUND)


def too_long(path: str, max_bytes: int) -> Cause:
    return Cause(path, f"Too long: must have at most {max_bytes} bytes", TOO_LONG)


def too_many(path: str, actual: int, maximum: int) -> Cause:
    return Cause(path, f"Too many: {actual}: must have at most {maximum} items", TOO_MANY)


def immutable(path: str, new: Any, old: Any, shown: Any = None) -> list[Cause]:
    """ValidateImmutableField: semantic equality (empty and absent collections are equal)."""
    if _semantic(new) == _semantic(old):
        return []
    return [invalid(path, new if shown is None else shown, FIELD_IMMUTABLE)]


def _semantic(value: Any) -> Any:
    """apiequality.Semantic: absent, null and empty maps/lists compare equal; quantities compare by amount."""
    if isinstance(value, dict):
        return {k: _semantic(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def nonnegative(path: str, value: Any) -> list[Cause]:
    """ValidateNonnegativeField."""
    return [invalid(path, value, IS_NEGATIVE)] if isinstance(value, int) and value < 0 else []


# --- name and format checks (apimachinery util/validation) --------------------------------------------------

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT)
_CONFIG_KEY = re.compile(_CONFIG_KEY_FMT)
_PORT_NAME_CHARS = re.compile("[-a-z0-9]+")
_PERCENT = re.compile("[0-9]+%")


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError: the message, examples and the regex."""
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')" if examples else \
        f"{message} (regex used for validation is '{fmt}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def dns1123_label_errors(value: str) -> list[str]:
    """IsDNS1123Label: at most 63 lowercase alphanumerics or '-', alphanumeric at both ends."""
    errors = [max_len_error(63)] if len(value) > 63 else []
    if not _DNS1123_LABEL.fullmatch(value):
        if _DNS1123_SUBDOMAIN.fullmatch(value):
            errors.append("must not contain dots")
        else:
            errors.append(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                                      "characters or '-', and must start and end with an alphanumeric character",
                                      _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def dns1123_subdomain_errors(value: str) -> list[str]:
    """IsDNS1123Subdomain: at most 253 characters of dot-separated DNS labels."""
    errors = [max_len_error(253)] if len(value) > 253 else []
    if not _DNS1123_SUBDOMAIN.fullmatch(value):
        errors.append(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                  "characters, '-' or '.', and must start and end with an alphanumeric character",
                                  _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def dns1035_label_errors(value: str) -> list[str]:
    """IsDNS1035Label (Service names): like a DNS-1123 label but starting with a letter."""
    errors = [max_len_error(63)] if len(value) > 63 else []
    if not _DNS1035_LABEL.fullmatch(value):
        errors.append(regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                                  "start with an alphabetic character, and end with an alphanumeric character",
                                  _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errors


# Label keys ("qualified names") and values are shared with the selector parser.
qualified_name_errors = label_key_errors


def config_map_key_errors(key: str) -> list[str]:
    """IsConfigMapKey: ConfigMap and Secret data keys."""
    errors = [max_len_error(253)] if len(key) > 253 else []
    if not _CONFIG_KEY.fullmatch(key):
        errors.append(regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                  _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if key == ".":
        errors.append("must not be '.'")
    elif key == "..":
        errors.append("must not be '..'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def port_number_errors(port: Any) -> list[str]:
    return [] if isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535 else \
        [inclusive_range_error(1, 65535)]


def port_name_errors(name: str) -> list[str]:
    """IsValidPortName (IANA service names)."""
    errors = [max_len_error(15)] if len(name) > 15 else []
    if not _PORT_NAME_CHARS.fullmatch(name):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errors.append("must contain at least one letter (a-z)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if name.startswith("-") or name.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def path_segment_name_errors(name: str) -> list[str]:
    """IsValidPathSegmentName: what every name must satisfy to appear in a URL."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{part}'" for part in ("/", "%") if part in name]


def _each(path: str, value: Any, messages: Iterable[str]) -> list[Cause]:
    return [invalid(path, value, message) for message in messages]


def dns_label(path: str, value: str) -> list[Cause]:
    """ValidateDNS1123Label."""
    return _each(path, value, dns1123_label_errors(value))


def labels_errors(labels: Any, path: str) -> list[Cause]:
    """ValidateLabels: every key a qualified name, every value a label value (reported at the map's path)."""
    if not isinstance(labels, dict):
        return []
    causes: list[Cause] = []
    for key in sorted(labels):
        causes += _each(path, key, qualified_name_errors(key))
        causes += _each(path, labels[key], label_value_errors(str(labels[key])))
    return causes


def annotations_errors(annotations: Any, path: str) -> list[Cause]:
    """ValidateAnnotations: keys are qualified names (case-insensitive), 256 KiB in total."""
    if not isinstance(annotations, dict):
        return []
    causes: list[Cause] = []
    for key in sorted(annotations):
        causes += _each(path, key, qualified_name_errors(key.lower()))
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        causes.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return causes


# --- small accessors ---------------------------------------------------------------------------------------------

def _obj(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _indexed(items: Any) -> Iterator[tuple[int, Obj]]:
    for index, item in enumerate(_list(items)):
        yield index, _obj(item)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _identity(*values: Any) -> str:
    """A hashable key for values of any JSON shape (clients may send lists where numbers belong)."""
    return json.dumps(values, sort_keys=True, default=str)


# --- metadata ----------------------------------------------------------------------------------------------------

NameCheck = Callable[[str], list[str]]
_STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")


def _owner_reference_errors(refs: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    controller = ""
    for _, ref in _indexed(refs):
        api_version, kind = _str(ref.get("apiVersion")), _str(ref.get("kind"))
        if not api_version.rpartition("/")[2]:
            causes.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        if not kind:
            causes.append(invalid(f"{path}.kind", kind, "must not be empty"))
        for key in ("name", "uid"):
            if not _str(ref.get(key)):
                causes.append(invalid(f"{path}.{key}", _str(ref.get(key)), "must not be empty"))
        if api_version == "v1" and kind == "Event":
            causes.append(invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{_str(ref.get('name'))}"
            if controller:
                causes.append(invalid(path, refs, "Only one reference can have Controller set to true. Found "
                                                  f'"true" in references for {controller} and {current}'))
            else:
                controller = current
    return causes


def _kube_finalizer_errors(name: str, path: str) -> list[Cause]:
    """validateKubeFinalizerName: a qualified name, and a standard one unless it has a domain prefix."""
    causes = _each(path, name, qualified_name_errors(name))
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        causes.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return causes


def _finalizers_errors(finalizers: Any) -> list[Cause]:
    """apimachinery's ValidateFinalizers on ``metadata.finalizers``, then core's check of each one."""
    names = [f for f in _list(finalizers) if isinstance(f, str)]
    causes: list[Cause] = []
    for name in names:
        causes += _each("metadata.finalizers", name, qualified_name_errors(name))
    if "orphan" in names and "foregroundDeletion" in names:
        causes.append(invalid("metadata.finalizers", names,
                              "finalizer orphan and foregroundDeletion cannot be both set"))
    for index, name in enumerate(names):
        causes += _kube_finalizer_errors(name, f"metadata.finalizers[{index}]")
    return causes


def _common_metadata_errors(meta: Obj) -> list[Cause]:
    causes = nonnegative("metadata.generation", meta.get("generation"))
    causes += labels_errors(meta.get("labels"), "metadata.labels")
    causes += annotations_errors(meta.get("annotations"), "metadata.annotations")
    causes += _owner_reference_errors(meta.get("ownerReferences"), "metadata.ownerReferences")
    return causes + _finalizers_errors(meta.get("finalizers"))


def validate_object_meta(obj: Obj, name_check: NameCheck | None) -> list[Cause]:
    """ValidateObjectMeta on create (the name already generated); ``name_check`` None accepts any name."""
    meta = _obj(obj.get("metadata"))
    name = _str(meta.get("name"))
    if not name:
        causes = [required("metadata.name", "name or generateName is required")]
    else:
        causes = _each("metadata.name", name, name_check(name) if name_check else [])
    return causes + _common_metadata_errors(meta)


def _go_time(value: Any) -> GoText | None:
    """metav1.Time printed as Go's time.Time.String()."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return GoText(value)
    return GoText(moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"))


def validate_metadata_update(new: Obj, old: Obj) -> list[Cause]:
    """ValidateObjectMetaUpdate: identity and timestamps are immutable, versions and generations sane, and no new
    finalizers once deletion started."""
    meta, old_meta = _obj(new.get("metadata")), _obj(old.get("metadata"))
    causes: list[Cause] = []
    if old_meta.get("deletionTimestamp"):
        added = sorted(set(_list(meta.get("finalizers"))) - set(_list(old_meta.get("finalizers"))))
        if added:
            causes.append(forbidden("metadata.finalizers", "no new finalizers can be added if the object is being "
                                                           f"deleted, found new finalizers {go_string_slice(added)}"))
    if not meta.get("resourceVersion"):
        causes.append(invalid("metadata.resourceVersion", _str(meta.get("resourceVersion")),
                              "must be specified for an update"))
    generation, old_generation = meta.get("generation"), old_meta.get("generation")
    if isinstance(generation, int) and isinstance(old_generation, int) and generation < old_generation:
        causes.append(invalid("metadata.generation", generation, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        causes += immutable(f"metadata.{key}", _str(meta.get(key)), _str(old_meta.get(key)))
    for key in ("creationTimestamp", "deletionTimestamp"):
        causes += immutable(f"metadata.{key}", meta.get(key), old_meta.get(key), _go_time(meta.get(key)))
    causes += immutable("metadata.deletionGracePeriodSeconds", meta.get("deletionGracePeriodSeconds"),
                        old_meta.get("deletionGracePeriodSeconds"))
    return causes + _common_metadata_errors(meta)


# --- label selectors ----------------------------------------------------------------------------------------------

def _selector_requirement_errors(expression: Obj, path: str) -> list[Cause]:
    """ValidateLabelSelectorRequirement."""
    causes: list[Cause] = []
    operator, values = expression.get("operator"), _list(expression.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(forbidden(f"{path}.values",
                                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
    else:
        causes.append(invalid(f"{path}.operator", _str(operator), "not a valid selector operator"))
    key = _str(expression.get("key"))
    causes += _each(f"{path}.key", key, qualified_name_errors(key))
    for index, value in enumerate(values):
        causes += _each(f"{path}.values[{index}]", value, label_value_errors(str(value)))
    return causes


def label_selector_errors(selector: Any, path: str) -> list[Cause]:
    """ValidateLabelSelector."""
    if not isinstance(selector, dict):
        return []
    causes = labels_errors(selector.get("matchLabels"), f"{path}.matchLabels")
    for index, expression in _indexed(selector.get("matchExpressions")):
        causes += _selector_requirement_errors(expression, f"{path}.matchExpressions[{index}]")
    return causes


def _as_selector(selector: Any) -> LabelSelector | None:
    """metav1.LabelSelectorAsSelector, or None when the selector cannot be built."""
    try:
        return label_selector_from_dict(selector)
    except ApiError:
        return None


def _selector_is_empty(selector: Any) -> bool:
    selector = _obj(selector)
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def _template_labels(template: Obj) -> Any:
    return _obj(template.get("metadata")).get("labels")


def _selector_mismatch(selector: LabelSelector, template: Obj, path: str) -> list[Cause]:
    labels = _template_labels(template)
    if selector.matches(labels if isinstance(labels, dict) else {}):
        return []
    shown = go_string_map(labels if isinstance(labels, dict) else None)
    return [invalid(f"{path}.metadata.labels", shown, "`selector` does not match template `labels`")]


# --- quantities and resources ------------------------------------------------------------------------------------

def _parse(raw: Any, path: str, causes: list[Cause]) -> Quantity | None:
    """Parse a quantity; a malformed one is reported (Kubernetes rejects it while decoding)."""
    try:
        return parse_quantity(str(raw)) if isinstance(raw, (str, int, float)) and not isinstance(raw, bool) else \
            parse_quantity("")
    except QuantityError as error:
        causes.append(invalid(path, raw, str(error)))
        return None


_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STANDARD_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps", "services.nodeports",
    "services.loadbalancers", "requests.storage"})


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not name.startswith("hugepages-")


def _is_integer_resource(name: str) -> bool:
    return not _is_native(name) and not name.startswith("requests.")


def _is_hugepages(name: str) -> bool:
    return name.startswith(("hugepages-", "requests.hugepages-"))


def _container_resource_name_errors(name: str, path: str) -> list[Cause]:
    """validateContainerResourceName (after validateResourceName)."""
    causes = _each(path, name, qualified_name_errors(name))
    if causes:
        return causes
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not _is_hugepages(name):
            causes.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            causes.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and (name.startswith("requests.") or qualified_name_errors("requests." + name)):
        causes.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return causes


def _quantity_value_errors(name: str, quantity: Quantity, path: str) -> list[Cause]:
    """ValidateResourceQuantityValue: non-negative, whole for integer (extended) resources."""
    if quantity.value < 0:
        return [invalid(path, format_quantity(quantity), IS_NEGATIVE)]
    if _is_integer_resource(name) and quantity.milli_value() % 1000:
        return [invalid(path, GoText(format_quantity(quantity)), "must be an integer")]
    return []


def resource_requirements_errors(resources: Any, path: str) -> list[Cause]:
    """ValidateContainerResourceRequirements: names, quantities, and requests not above limits."""
    resources = _obj(resources)
    causes: list[Cause] = []
    limits: dict[str, Quantity] = {}
    for name, raw in sorted(_obj(resources.get("limits")).items()):
        at = f"{path}.limits[{name}]"
        causes += _container_resource_name_errors(name, at)
        if (quantity := _parse(raw, at, causes)) is not None:
            limits[name] = quantity
            causes += _quantity_value_errors(name, quantity, at)
    for name, raw in sorted(_obj(resources.get("requests")).items()):
        at = f"{path}.requests[{name}]"
        causes += _container_resource_name_errors(name, at)
        quantity = _parse(raw, at, causes)
        if quantity is None:
            continue
        causes += _quantity_value_errors(name, quantity, at)
        limit = limits.get(name)
        if limit is not None and quantity != limit and not _overcommit_allowed(name):
            causes.append(invalid(f"{path}.requests", format_quantity(quantity),
                                  f"must be equal to {name} limit of {format_quantity(limit)}"))
        elif limit is not None and quantity > limit:
            causes.append(invalid(f"{path}.requests", format_quantity(quantity),
                                  f"must be less than or equal to {name} limit of {format_quantity(limit)}"))
        elif limit is None and not _overcommit_allowed(name) and name not in _obj(resources.get("limits")):
            causes.append(required(f"{path}.limits", "Limit must be set for non overcommitable resources"))
    return causes


# --- pod spec: volumes ---------------------------------------------------------------------------------------

# VolumeSource members in the order Kubernetes checks them.
_VOLUME_SOURCES = ("emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
                   "iscsi", "glusterfs", "flexVolume", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "flocker",
                   "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
                   "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos", "csi",
                   "ephemeral", "image")
_HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                    "Socket")


def _file_mode_errors(mode: Any, path: str) -> list[Cause]:
    if isinstance(mode, int) and not 0 <= mode <= 0o777:
        return [invalid(path, mode, FILE_MODE_ERROR)]
    return []


def _no_backsteps(target: str, path: str) -> list[Cause]:
    return [invalid(path, target, "must not contain '..'")] if ".." in target.split("/") else []


def _local_descending_path(target: str, path: str) -> list[Cause]:
    causes = [invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return causes + _no_backsteps(target, path)


def _local_non_reserved_path(target: str, path: str) -> list[Cause]:
    causes = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        causes.append(invalid(path, target, "must not start with '..'"))
    return causes


def _key_to_path_errors(items: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    for index, item in _indexed(items):
        at = f"{path}[{index}]"
        if not _str(item.get("key")):
            causes.append(required(f"{at}.key"))
        target = _str(item.get("path"))
        if not target:
            causes.append(required(f"{at}.path"))
        causes += _local_non_reserved_path(target, f"{at}.path")
        causes += _file_mode_errors(item.get("mode"), f"{at}.mode")
    return causes


def _volume_source_errors(source_name: str, source: Obj, path: str) -> list[Cause]:
    at = f"{path}.{source_name}"
    if source_name == "hostPath":
        target = _str(source.get("path"))
        if not target:
            return [required(f"{at}.path")]
        causes = _no_backsteps(target, f"{at}.path")
        if source.get("type") not in _HOST_PATH_TYPES:
            causes.append(not_supported(f"{at}.type", source.get("type"), _HOST_PATH_TYPES))
        return causes
    if source_name == "secret":
        causes = [] if _str(source.get("secretName")) else [required(f"{at}.secretName")]
        return causes + _file_mode_errors(source.get("defaultMode"), f"{at}.defaultMode") + \
            _key_to_path_errors(source.get("items"), f"{at}.items")
    if source_name == "configMap":
        causes = [] if _str(source.get("name")) else [required(f"{at}.name")]
        return causes + _file_mode_errors(source.get("defaultMode"), f"{at}.defaultMode") + \
            _key_to_path_errors(source.get("items"), f"{at}.items")
    if source_name == "persistentVolumeClaim":
        return [] if _str(source.get("claimName")) else [required(f"{at}.claimName")]
    if source_name == "nfs":
        causes = [] if _str(source.get("server")) else [required(f"{at}.server")]
        target = _str(source.get("path"))
        if not target:
            causes.append(required(f"{at}.path"))
        elif not target.startswith("/"):
            causes.append(invalid(f"{at}.path", target, "must be an absolute path"))
        return causes
    if source_name == "csi":
        return [] if _str(source.get("driver")) else [required(f"{at}.driver")]
    if source_name in ("downwardAPI", "projected"):
        return _file_mode_errors(source.get("defaultMode"), f"{at}.defaultMode")
    return []


def _volumes_errors(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    """ValidateVolumes: each volume named (a DNS label, unique) with exactly one source. Returns the good names."""
    names: set[str] = set()
    causes: list[Cause] = []
    for index, volume in _indexed(volumes):
        at = f"{path}[{index}]"
        errors = _one_volume_source(volume, at)
        name = _str(volume.get("name"))
        errors += dns_label(f"{at}.name", name) if name else [required(f"{at}.name")]
        if name in names:
            errors.append(duplicate(f"{at}.name", name))
        if errors:
            causes += errors
        else:
            names.add(name)
    return names, causes


def _one_volume_source(volume: Obj, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen = 0
    for source_name in _VOLUME_SOURCES:
        source = volume.get(source_name)
        if source is None:
            continue
        if seen:
            causes.append(forbidden(f"{path}.{source_name}", "may not specify more than 1 volume type"))
            continue
        seen += 1
        causes += _volume_source_errors(source_name, _obj(source), path)
    if not seen:
        causes.append(required(path, "must specify a volume type"))
    return causes


# --- pod spec: containers ------------------------------------------------------------------------------------

_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_ENV_FIELD_PATHS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                    "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs",
                    "status.podIP", "status.podIPs")
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc", "sleep")


def _one_of(value: Any, allowed: tuple[str, ...], path: str) -> list[Cause]:
    """The switch Kubernetes writes for enumerations: empty is Required, unknown is NotSupported."""
    if value in (None, ""):
        return [required(path)]
    return [] if value in allowed else [not_supported(path, value, allowed)]


def _port_or_name_errors(port: Any, path: str) -> list[Cause]:
    """validatePortNumOrName for IntOrString ports."""
    if isinstance(port, str):
        return _each(path, port, port_name_errors(port))
    return _each(path, port, port_number_errors(port))


def _container_ports_errors(ports: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    names: set[str] = set()
    for index, port in _indexed(ports):
        at = f"{path}[{index}]"
        name = _str(port.get("name"))
        if name:
            if problems := port_name_errors(name):
                causes += _each(f"{at}.name", name, problems)
            elif name in names:
                causes.append(duplicate(f"{at}.name", name))
            else:
                names.add(name)
        container_port = port.get("containerPort")
        if not container_port:
            causes.append(required(f"{at}.containerPort"))
        else:
            causes += _each(f"{at}.containerPort", container_port, port_number_errors(container_port))
        if port.get("hostPort"):
            causes += _each(f"{at}.hostPort", port["hostPort"], port_number_errors(port["hostPort"]))
        causes += _one_of(port.get("protocol"), _PROTOCOLS, f"{at}.protocol")
    return causes


def _key_selector_errors(selector: Obj, path: str) -> list[Cause]:
    causes = [] if _str(selector.get("name")) else [required(f"{path}.name")]
    key = _str(selector.get("key"))
    return causes + (_each(f"{path}.key", key, config_map_key_errors(key)) if key else [required(f"{path}.key")])


def _field_ref_errors(ref: Obj, path: str) -> list[Cause]:
    if not _str(ref.get("apiVersion")):
        return [required(f"{path}.apiVersion")]
    field_path = _str(ref.get("fieldPath"))
    if not field_path:
        return [required(f"{path}.fieldPath")]
    base = field_path.split("[", 1)[0] if field_path.startswith(("metadata.labels[", "metadata.annotations[")) \
        else field_path
    return [] if base in _ENV_FIELD_PATHS else [not_supported(f"{path}.fieldPath", field_path, _ENV_FIELD_PATHS)]


def _env_value_from_errors(env: Obj, path: str) -> list[Cause]:
    value_from = env.get("valueFrom")
    if value_from is None:
        return []
    value_from = _obj(value_from)
    causes: list[Cause] = []
    sources = 0
    if (ref := value_from.get("fieldRef")) is not None:
        sources += 1
        causes += _field_ref_errors(_obj(ref), f"{path}.fieldRef")
    if (ref := value_from.get("resourceFieldRef")) is not None:
        sources += 1
        if not _str(_obj(ref).get("resource")):
            causes.append(required(f"{path}.resourceFieldRef.resource"))
    for source_name in ("configMapKeyRef", "secretKeyRef"):
        if (ref := value_from.get(source_name)) is not None:
            sources += 1
            causes += _key_selector_errors(_obj(ref), f"{path}.{source_name}")
    if value_from.get("fileKeyRef") is not None:
        sources += 1
    if not sources:
        causes.append(invalid(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` "
                                        "or `secretKeyRef`"))
    elif env.get("value"):
        causes.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif sources > 1:
        causes.append(invalid(path, "", "may not have more than one field specified at a time"))
    return causes


def _env_errors(env_vars: Any, path: str) -> list[Cause]:
    """ValidateEnv with the relaxed names Kubernetes accepts: printable ASCII without '='."""
    causes: list[Cause] = []
    for index, env in _indexed(env_vars):
        at = f"{path}[{index}]"
        name = _str(env.get("name"))
        if not name:
            causes.append(required(f"{at}.name"))
            causes.append(invalid(f"{at}.name", name, "environment variable name must be non-empty"))
        elif any(not (32 <= ord(c) < 127) or c == "=" for c in name):
            causes.append(invalid(f"{at}.name", name, "a valid environment variable name must consist only of "
                                                      "printable ASCII characters other than '='"))
        causes += _env_value_from_errors(env, f"{at}.valueFrom")
    return causes


def _volume_mounts_errors(mounts: Any, volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    mount_points: set[str] = set()
    for index, mount in _indexed(mounts):
        at = f"{path}[{index}]"
        name, mount_path = _str(mount.get("name")), _str(mount.get("mountPath"))
        if not name:
            causes.append(required(f"{at}.name"))
        if name not in volumes:
            causes.append(not_found(f"{at}.name", name))
        if not mount_path:
            causes.append(required(f"{at}.mountPath"))
        if mount_path in mount_points:
            causes.append(invalid(f"{at}.mountPath", mount_path, "must be unique"))
        mount_points.add(mount_path)
        if sub_path := _str(mount.get("subPath")):
            causes += _local_descending_path(sub_path, f"{path}.subPath")
    return causes


def _handler_errors(handler: Obj, path: str) -> list[Cause]:
    present = [name for name in _HANDLERS if handler.get(name) is not None]
    if not present:
        return [required(path, "must specify a handler type")]
    causes = [forbidden(f"{path}.{name}", "may not specify more than 1 handler type") for name in present[1:]]
    kind, body = present[0], _obj(handler.get(present[0]))
    at = f"{path}.{kind}"
    if kind == "exec" and not _list(body.get("command")):
        causes.append(required(f"{at}.command"))
    elif kind in ("httpGet", "tcpSocket"):
        if kind == "httpGet":
            if not _str(body.get("path")):
                causes.append(required(f"{at}.path"))
            if body.get("scheme") not in ("HTTP", "HTTPS"):
                causes.append(not_supported(f"{at}.scheme", body.get("scheme"), ("HTTP", "HTTPS")))
        causes += _port_or_name_errors(body.get("port"), f"{at}.port")
    elif kind == "grpc":
        causes += _each(f"{at}.port", body.get("port"), port_number_errors(body.get("port")))
    return causes


def _probe_errors(probe: Any, path: str, kind: str) -> list[Cause]:
    if probe is None:
        return []
    probe = _obj(probe)
    causes = _handler_errors(probe, path)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        causes += nonnegative(f"{path}.{key}", probe.get(key))
    grace = probe.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace <= 0:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0"))
    if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold") != 1:
        causes.append(invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    if kind == "readinessProbe" and grace is not None:
        causes.append(invalid(f"{path}.terminationGracePeriodSeconds", grace, "must not be set for readinessProbes"))
    return causes


def _container_common_errors(container: Obj, volumes: set[str], path: str) -> list[Cause]:
    """validateContainerCommon: what every kind of container must satisfy."""
    name = _str(container.get("name"))
    causes = dns_label(f"{path}.name", name) if name else [required(f"{path}.name")]
    if not _str(container.get("image")):
        causes.append(required(f"{path}.image"))
    causes += _one_of(container.get("terminationMessagePolicy"), _TERMINATION_MESSAGE_POLICIES,
                      f"{path}.terminationMessagePolicy")
    causes += _container_ports_errors(container.get("ports"), f"{path}.ports")
    causes += _env_errors(container.get("env"), f"{path}.env")
    causes += _volume_mounts_errors(container.get("volumeMounts"), volumes, f"{path}.volumeMounts")
    causes += _one_of(container.get("imagePullPolicy"), _PULL_POLICIES, f"{path}.imagePullPolicy")
    causes += resource_requirements_errors(container.get("resources"), f"{path}.resources")
    return causes


def _containers_errors(containers: Any, volumes: set[str], path: str) -> tuple[set[str], list[Cause]]:
    if not _list(containers):
        return set(), [required(path)]
    names: set[str] = set()
    causes: list[Cause] = []
    for index, container in _indexed(containers):
        at = f"{path}[{index}]"
        causes += _container_common_errors(container, volumes, at)
        name = _str(container.get("name"))
        if name in names:
            causes.append(duplicate(f"{at}.name", name))
        names.add(name)
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            causes += _probe_errors(container.get(probe), f"{at}.{probe}", probe)
        if container.get("restartPolicy") is not None:
            causes.append(forbidden(f"{at}.restartPolicy", "may not be set for non-init containers"))
    return names, causes


def _init_containers_errors(containers: Any, names: set[str], volumes: set[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    names = set(names)
    for index, container in _indexed(containers):
        at = f"{path}[{index}]"
        causes += _container_common_errors(container, volumes, at)
        restart_policy = container.get("restartPolicy")
        if restart_policy is not None and restart_policy != "Always":
            causes.append(not_supported(f"{at}.restartPolicy", restart_policy, ("Always",)))
        name = _str(container.get("name"))
        if name in names:
            causes.append(duplicate(f"{at}.name", name))
        elif name:
            names.add(name)
        if restart_policy == "Always":
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                causes += _probe_errors(container.get(probe), f"{at}.{probe}", probe)
        else:
            for field_name in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(field_name) is not None:
                    causes.append(forbidden(f"{at}.{field_name}",
                                            "may not be set for init containers without restartPolicy=Always"))
    return causes


# --- pod spec: scheduling ------------------------------------------------------------------------------------

_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _tolerations_errors(tolerations: Any, path: str) -> list[Cause]:
    """ValidateTolerations."""
    causes: list[Cause] = []
    for index, toleration in _indexed(tolerations):
        at = f"{path}[{index}]"
        key, operator, value = _str(toleration.get("key")), toleration.get("operator") or "", \
            _str(toleration.get("value"))
        effect = toleration.get("effect") or ""
        if key:
            causes += _each(f"{at}.key", key, qualified_name_errors(key))
        if not key and operator != "Exists":
            causes.append(invalid(f"{at}.operator", operator, "operator must be Exists when `key` is empty, which "
                                                              'means "match all values and all keys"'))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(invalid(f"{at}.effect", effect,
                                  "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            if problems := label_value_errors(value):
                causes.append(invalid(f"{at}.operator", value, ";".join(problems)))
        elif operator == "Exists":
            if value:
                causes.append(invalid(f"{at}.operator", go_toleration(toleration),
                                      "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(not_supported(f"{at}.operator", operator, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(f"{at}.effect", effect, _TAINT_EFFECTS))
    return causes


def _named_subdomain(spec: Obj, key: str, path: str) -> list[Cause]:
    value = _str(spec.get(key))
    return _each(f"{path}.{key}", value, dns1123_subdomain_errors(value)) if value else []


def pod_spec_errors(spec: Any, path: str) -> list[Cause]:
    """ValidatePodSpec for a Pod's or a template's spec at ``path``."""
    spec = _obj(spec)
    volumes, causes = _volumes_errors(spec.get("volumes"), f"{path}.volumes")
    names, container_causes = _containers_errors(spec.get("containers"), volumes, f"{path}.containers")
    causes += container_causes
    causes += _init_containers_errors(spec.get("initContainers"), names, volumes, f"{path}.initContainers")
    causes += _one_of(spec.get("restartPolicy"), ("Always", "OnFailure", "Never"), f"{path}.restartPolicy")
    causes += _one_of(spec.get("dnsPolicy"), ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
                      f"{path}.dnsPolicy")
    causes += labels_errors(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for index, gate in _indexed(spec.get("readinessGates")):
        condition = _str(gate.get("conditionType"))
        causes += _each(f"{path}.readinessGates[{index}].conditionType", condition, qualified_name_errors(condition))
    causes += _scheduling_gates_errors(spec.get("schedulingGates"), f"{path}.schedulingGates")
    causes += _named_subdomain(spec, "serviceAccountName", path)
    causes += _named_subdomain(spec, "nodeName", path)
    deadline = spec.get("activeDeadlineSeconds")
    if isinstance(deadline, int) and not 1 <= deadline <= MAX_INT32:
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline, inclusive_range_error(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        if value := _str(spec.get(key)):
            causes += dns_label(f"{path}.{key}", value)
    causes += _tolerations_errors(spec.get("tolerations"), f"{path}.tolerations")
    causes += _named_subdomain(spec, "priorityClassName", path)
    return causes


def _scheduling_gates_errors(gates: Any, path: str) -> list[Cause]:
    causes: list[Cause] = []
    seen: set[str] = set()
    for index, gate in _indexed(gates):
        name = _str(gate.get("name"))
        causes += _each(f"{path}[{index}].name", name, qualified_name_errors(name))
        if name in seen:
            causes.append(duplicate(f"{path}[{index}].name", name))
        seen.add(name)
    return causes


def pod_template_errors(template: Any, path: str) -> list[Cause]:
    """ValidatePodTemplateSpec (labels are reported at ``<template>.labels``, as Kubernetes does)."""
    template = _obj(template)
    meta = _obj(template.get("metadata"))
    causes = labels_errors(meta.get("labels"), f"{path}.labels")
    causes += annotations_errors(meta.get("annotations"), f"{path}.annotations")
    spec = _obj(template.get("spec"))
    causes += pod_spec_errors(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        causes.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod "
                                                                    "template"))
    return causes


# --- pods ------------------------------------------------------------------------------------------------------

_POD_UPDATE_FORBIDDEN = ("pod updates may not change fields other than `spec.containers[*].image`,"
                         "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                         "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                         "to 1 if it was previously negative)")


def _validate_pod(obj: Obj) -> list[Cause]:
    return pod_spec_errors(obj.get("spec"), "spec")


def _container_update_errors(new: Any, old: Any, path: str) -> tuple[list[Cause], bool]:
    """ValidateContainerUpdates: same containers, each with an image."""
    if len(_list(new)) != len(_list(old)):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    causes: list[Cause] = []
    for index, container in _indexed(new):
        image = _str(container.get("image"))
        if not image:
            causes.append(required(f"{path}[{index}].image"))
        if image != image.strip():
            causes.append(invalid(f"{path}[{index}].image", image, "must not have leading or trailing whitespace"))
    return causes, False


def _only_added_tolerations(new: Any, old: Any, path: str) -> list[Cause]:
    """validateOnlyAddedTolerations: old tolerations stay (only their tolerationSeconds may change)."""
    def without_seconds(toleration: Obj) -> Obj:
        return {k: v for k, v in toleration.items() if k != "tolerationSeconds"}
    kept = [without_seconds(t) for _, t in _indexed(new)]
    for _, toleration in _indexed(old):
        if without_seconds(toleration) not in kept:
            return [forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return []


def _deadline_update_errors(new: Any, old: Any, path: str) -> list[Cause]:
    if new is None:
        return [invalid(path, None, "must not update from a positive integer to nil value")] if old is not None else []
    if isinstance(new, int) and not 0 <= new <= MAX_INT32:
        return [invalid(path, new, inclusive_range_error(0, MAX_INT32))]
    if isinstance(old, int) and isinstance(new, int) and old < new:
        return [invalid(path, new, "must be less than or equal to previous value")]
    return []


def _spec_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The changed leaves of two specs as ``-``/``+`` lines (Kubernetes prints a Go cmp.Diff here)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines: list[str] = []
        for key in sorted(set(old) | set(new)):
            lines += _spec_diff(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (a, b) in enumerate(zip(old, new, strict=True))
                for line in _spec_diff(a, b, f"{prefix}[{i}]")]
    if _semantic(old) == _semantic(new):
        return []
    return [f"-  {prefix}: {json.dumps(old, sort_keys=True)}", f"+  {prefix}: {json.dumps(new, sort_keys=True)}"]


def _munged_pod_spec(new_spec: Obj, old_spec: Obj) -> Obj:
    """The new spec with every field a Pod update may change taken from the old one."""
    munged = json.loads(json.dumps(new_spec))
    for list_name in ("containers", "initContainers"):
        for (_, container), (_, old_container) in zip(_indexed(munged.get(list_name)),
                                                      _indexed(old_spec.get(list_name)), strict=False):
            container["image"] = old_container.get("image")
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    return munged


def _scheduling_gates_update_errors(new: Any, old: Any, path: str) -> list[Cause]:
    old_names = {_str(g.get("name")) for _, g in _indexed(old)}
    for _, gate in _indexed(new):
        if _str(gate.get("name")) not in old_names:
            return [forbidden(path, f"only deletion is allowed, but found new scheduling gate "
                                    f"'{_str(gate.get('name'))}'")]
    return []


def _validate_pod_update(new: Obj, old: Obj) -> list[Cause]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations, removed scheduling gates and a
    negative grace period set to 1 may change."""
    spec, old_spec = _obj(new.get("spec")), _obj(old.get("spec"))
    causes: list[Cause] = []
    for list_name in ("containers", "initContainers"):
        errors, stop = _container_update_errors(spec.get(list_name), old_spec.get(list_name), f"spec.{list_name}")
        causes += errors
        if stop:
            return causes
    deadline_errors = _deadline_update_errors(spec.get("activeDeadlineSeconds"),
                                              old_spec.get("activeDeadlineSeconds"), "spec.activeDeadlineSeconds")
    if deadline_errors:
        return causes + deadline_errors
    causes += _only_added_tolerations(spec.get("tolerations"), old_spec.get("tolerations"), "spec.tolerations")
    causes += _scheduling_gates_update_errors(spec.get("schedulingGates"), old_spec.get("schedulingGates"),
                                              "spec.schedulingGates")
    munged = _munged_pod_spec(spec, old_spec)
    if _semantic(munged) != _semantic(old_spec):
        diff = "\n".join(_spec_diff(old_spec, munged))
        causes.append(forbidden("spec", f"{_POD_UPDATE_FORBIDDEN}\n{diff}"))
    return causes


# --- workloads ---------------------------------------------------------------------------------------------------

def _replica_template_errors(template: Any, selector: LabelSelector, path: str, owner: str) -> list[Cause]:
    """ValidatePodTemplateSpecForReplicaSet / ForRC: selector matches, restartPolicy Always, no deadline."""
    if template is None:
        return [required(path)]
    template = _obj(template)
    causes = [] if selector.empty else _selector_mismatch(selector, template, path)
    causes += pod_template_errors(template, path)
    spec = _obj(template.get("spec"))
    if spec.get("restartPolicy") != "Always":
        causes.append(not_supported(f"{path}.spec.restartPolicy", spec.get("restartPolicy") or "", ("Always",)))
    if spec.get("activeDeadlineSeconds") is not None:
        causes.append(forbidden(f"{path}.spec.activeDeadlineSeconds",
                                f"activeDeadlineSeconds in {owner} is not Supported"))
    return causes


def _required_selector_errors(spec: Obj, owner: str) -> tuple[LabelSelector | None, list[Cause]]:
    """A required, non-empty metav1.LabelSelector; returns the built selector (None if it cannot be built)."""
    selector = spec.get("selector")
    if selector is None:
        return _as_selector(None), [required("spec.selector")]
    causes = label_selector_errors(selector, "spec.selector")
    if _selector_is_empty(selector):
        causes.append(invalid("spec.selector", go_label_selector(_obj(selector)), f"empty selector is invalid for {owner}"))
    built = _as_selector(selector)
    if built is None:
        causes.append(invalid("spec.selector", go_label_selector(_obj(selector)), "invalid label selector"))
    return built, causes


def _validate_replicated(obj: Obj, owner: str) -> list[Cause]:
    """Deployment and ReplicaSet specs (ReplicaSet reuses the Deployment wording for an empty selector)."""
    spec = _obj(obj.get("spec"))
    causes = nonnegative("spec.replicas", spec.get("replicas"))
    selector, selector_causes = _required_selector_errors(spec, "deployment")
    causes += selector_causes
    if selector is not None:
        causes += _replica_template_errors(spec.get("template"), selector, "spec.template", owner)
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    return causes


def _int_or_percent_errors(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        if not _PERCENT.fullmatch(value):
            return [invalid(path, GoText(value), regex_error("a valid percent string must be a numeric string "
                                                             "followed by an ending '%'", "[0-9]+%", "1%", "93%"))]
        return []
    return nonnegative(path, value)


def _int_or_percent_value(value: Any) -> int | None:
    if isinstance(value, str) and _PERCENT.fullmatch(value):
        return int(value[:-1])
    return value if isinstance(value, int) else None


def _rolling_update_errors(rolling: Obj, path: str) -> list[Cause]:
    """ValidateRollingUpdateDeployment."""
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = _int_or_percent_errors(unavailable, f"{path}.maxUnavailable")
    causes += _int_or_percent_errors(surge, f"{path}.maxSurge")
    if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
        causes.append(invalid(f"{path}.maxUnavailable", GoText(str(unavailable)), "may not be 0 when `maxSurge` is 0"))
    if isinstance(unavailable, str) and (_int_or_percent_value(unavailable) or 0) > 100:
        causes.append(invalid(f"{path}.maxUnavailable", GoText(unavailable), "must not be greater than 100%"))
    return causes


def _go_strategy(kind: str, strategy: Obj, rolling_type: str) -> GoText:
    pointer = f"(*apps.{rolling_type})(nil)" if strategy.get("rollingUpdate") is None else \
        f"(*apps.{rolling_type})(0xc000000000)"
    return GoText(f"apps.{kind}{{Type:{go_string(_str(strategy.get('type')))}, RollingUpdate:{pointer}}}")


def _deployment_strategy_errors(strategy: Obj) -> list[Cause]:
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is "
                                                             "'Recreate'")]
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")]
        return _rolling_update_errors(_obj(rolling), "spec.strategy.rollingUpdate")
    return [not_supported("spec.strategy", _go_strategy("DeploymentStrategy", strategy, "RollingUpdateDeployment"),
                          ("Recreate", "RollingUpdate"))]


def _validate_deployment(obj: Obj) -> list[Cause]:
    spec = _obj(obj.get("spec"))
    causes = _validate_replicated(obj, "ReplicaSet")
    causes += _deployment_strategy_errors(_obj(spec.get("strategy")))
    limit = spec.get("revisionHistoryLimit")
    causes += nonnegative("spec.revisionHistoryLimit", limit)
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        causes += nonnegative("spec.progressDeadlineSeconds", deadline)
        if deadline <= (spec.get("minReadySeconds") or 0):
            causes.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return causes


def _validate_replica_set(obj: Obj) -> list[Cause]:
    return _validate_replicated(obj, "ReplicaSet")


def _validate_replication_controller(obj: Obj) -> list[Cause]:
    """ValidateReplicationControllerSpec: a non-empty map selector matching the template."""
    spec = _obj(obj.get("spec"))
    causes = nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector_map = spec.get("selector")
    selector = selector_from_labels(selector_map if isinstance(selector_map, dict) else None)
    if selector.empty:
        causes.append(required("spec.selector"))
    causes += nonnegative("spec.replicas", spec.get("replicas"))
    causes += _replica_template_errors(spec.get("template"), selector, "spec.template", "ReplicationController")
    return causes


def _daemon_set_strategy_errors(strategy: Obj) -> list[Cause]:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [required("spec.updateStrategy.rollingUpdate")]
        rolling = _obj(rolling)
        path = "spec.updateStrategy.rollingUpdate"
        unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        causes = _int_or_percent_errors(unavailable, f"{path}.maxUnavailable")
        causes += _int_or_percent_errors(surge, f"{path}.maxSurge")
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            causes.append(invalid(f"{path}.maxUnavailable", GoText(str(unavailable)),
                                  "may not be 0 when `maxSurge` is 0"))
        if isinstance(unavailable, str) and (_int_or_percent_value(unavailable) or 0) > 100:
            causes.append(invalid(f"{path}.maxUnavailable", GoText(unavailable), "must not be greater than 100%"))
        return causes
    return [not_supported("spec.updateStrategy",
                          _go_strategy("DaemonSetUpdateStrategy", strategy, "RollingUpdateDaemonSet"),
                          ("RollingUpdate", "OnDelete"))]


def _validate_daemon_set(obj: Obj) -> list[Cause]:
    """ValidateDaemonSetSpec."""
    spec = _obj(obj.get("spec"))
    selector_dict = spec.get("selector")
    causes = label_selector_errors(selector_dict, "spec.selector")
    selector = _as_selector(selector_dict)
    template = _obj(spec.get("template"))
    if selector is not None and not selector.matches(_obj(_template_labels(template))):
        causes += _selector_mismatch(selector, template, "spec.template")
    if selector_dict is not None and _selector_is_empty(selector_dict):
        causes.append(invalid("spec.selector", go_label_selector(_obj(selector_dict)),
                              "empty selector is invalid for daemonset"))
    causes += pod_template_errors(template, "spec.template")
    template_spec = _obj(template.get("spec"))
    if template_spec.get("restartPolicy") != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", template_spec.get("restartPolicy") or "",
                                    ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        causes.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                "activeDeadlineSeconds in DaemonSet is not Supported"))
    causes += nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += nonnegative("spec.templateGeneration", spec.get("templateGeneration"))
    causes += _daemon_set_strategy_errors(_obj(spec.get("updateStrategy")))
    causes += nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    return causes


def _immutable_selector(new: Obj, old: Obj) -> list[Cause]:
    """apps/v1 and batch/v1 selectors cannot change after creation."""
    selector, old_selector = _obj(new.get("spec")).get("selector"), _obj(old.get("spec")).get("selector")
    shown = go_label_selector(_obj(selector)) if isinstance(selector, dict) else None
    return immutable("spec.selector", selector, old_selector, shown)


# --- jobs ---------------------------------------------------------------------------------------------------------

_JOB_LABELS = ("controller-uid", "job-name", "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name")


def _has_label(labels: Obj, key: str, expected: str) -> list[Cause]:
    """ValidateHasLabel on the Job template."""
    path = f"spec.template.metadata.labels[{key}]"
    if key not in labels:
        return [required(path, expected)]
    if labels[key] != expected:
        return [invalid(path, go_string_map(labels), f"must be '{expected}'")]
    return []


def _generated_selector_errors(obj: Obj, prefixed_labels: bool) -> list[Cause]:
    """validateGeneratedSelector: an auto-generated selector needs the uid and the generated template labels."""
    spec = _obj(obj.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    meta = _obj(obj.get("metadata"))
    uid, name = _str(meta.get("uid")), _str(meta.get("name"))
    causes = [] if uid else [required("metadata.uid")]
    labels = _obj(_template_labels(_obj(spec.get("template"))))
    expected = {"controller-uid": uid, "job-name": name}
    causes += _has_label(labels, "controller-uid", uid) + _has_label(labels, "job-name", name)
    if prefixed_labels:
        causes += _has_label(labels, "batch.kubernetes.io/controller-uid", uid)
        causes += _has_label(labels, "batch.kubernetes.io/job-name", name)
        expected.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name})
    selector = _as_selector(spec.get("selector"))
    if selector is not None and not selector.matches(expected):
        causes.append(invalid("spec.selector", go_label_selector(_obj(spec.get("selector"))),
                              "`selector` not auto-generated"))
    return causes


def _job_spec_errors(spec: Obj) -> list[Cause]:
    """validateJobSpec and ValidateJobSpec."""
    causes: list[Cause] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += nonnegative(f"spec.{key}", spec.get(key))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        causes.append(required("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode")
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        causes.append(not_supported("spec.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(required("spec.completions", "when completion mode is Indexed"))
    if mode in (None, "NonIndexed"):
        for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(key) is not None:
                causes.append(invalid(f"spec.{key}", spec[key], "requires indexed completion mode"))
    policy = spec.get("podReplacementPolicy")
    if policy is not None and policy not in ("Failed", "TerminatingOrFailed"):
        causes.append(not_supported("spec.podReplacementPolicy", policy, ("Failed", "TerminatingOrFailed")))
    template = _obj(spec.get("template"))
    causes += pod_template_errors(template, "spec.template")
    restart_policy = _obj(template.get("spec")).get("restartPolicy") or ""
    if restart_policy in ("Always", ""):
        causes.append(required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"'))
    elif restart_policy not in ("OnFailure", "Never"):
        causes.append(not_supported("spec.template.spec.restartPolicy", restart_policy, ("OnFailure", "Never")))
    elif spec.get("podFailurePolicy") is not None and restart_policy != "Never":
        causes.append(invalid("spec.template.spec.restartPolicy", restart_policy,
                              'only "Never" is supported when podFailurePolicy is specified'))
    if spec.get("selector") is None:
        causes.append(required("spec.selector"))
    else:
        causes += label_selector_errors(spec["selector"], "spec.selector")
    selector = _as_selector(spec.get("selector"))
    if selector is not None:
        causes += _selector_mismatch(selector, template, "spec.template")
    return causes


def _validate_job(obj: Obj, prefixed_labels: bool = True) -> list[Cause]:
    causes = _generated_selector_errors(obj, prefixed_labels)
    spec = _obj(obj.get("spec"))
    causes += _job_spec_errors(spec)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        hostname = f"{_str(_obj(obj.get('metadata')).get('name'))}-{completions - 1}"
        if dns1123_label_errors(hostname):
            causes.append(invalid("metadata.name", _str(_obj(obj.get("metadata")).get("name")),
                                  f"will not able to create pod with invalid DNS label: {hostname}"))
    return causes


def _validate_job_update(new: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _obj(new.get("spec")), _obj(old.get("spec"))
    causes: list[Cause] = []
    indexed = spec.get("completionMode") == "Indexed"
    if not indexed:
        causes += immutable("spec.completions", spec.get("completions"), old_spec.get("completions"))
    elif spec.get("completions") != old_spec.get("completions") and spec.get("completions") is not None \
            and spec.get("completions") != spec.get("parallelism"):
        causes.append(invalid("spec.completions", spec.get("completions"),
                              "can only be modified in tandem with spec.parallelism"))
    causes += _immutable_selector(new, old)
    causes += immutable("spec.template", _job_template_for_update(new, old), old_spec.get("template"))
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        causes += immutable(f"spec.{key}", spec.get(key), old_spec.get(key))
    return causes


def _job_template_for_update(new: Obj, old: Obj) -> Any:
    """A suspended Job that never started may change its template's scheduling directives and metadata."""
    old_spec = _obj(old.get("spec"))
    template = _obj(new.get("spec")).get("template")
    never_started = _obj(old.get("status")).get("startTime") is None
    if old_spec.get("suspend") is not True or not never_started or not isinstance(template, dict):
        return template
    mutable = json.loads(json.dumps(template))
    old_template = _obj(old_spec.get("template"))
    mutable["metadata"] = old_template.get("metadata")
    mutable_spec, old_template_spec = _obj(mutable.get("spec")), _obj(old_template.get("spec"))
    for key in ("nodeSelector", "tolerations", "affinity", "schedulingGates"):
        if key in old_template_spec:
            mutable_spec[key] = old_template_spec[key]
        else:
            mutable_spec.pop(key, None)
    return mutable


# --- services, endpoints -------------------------------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_TRAFFIC_POLICIES = ("Cluster", "Local")
_KUBELET_PORT = 10250


def _is_headless(spec: Obj) -> bool:
    cluster_ips = _list(spec.get("clusterIPs"))
    first = cluster_ips[0] if cluster_ips else spec.get("clusterIP")
    return first == "None"


def _go_service_port(protocol: Any, port: Any) -> GoText:
    return GoText(f'core.ServicePort{{Name:"", Protocol:{go_string(_str(protocol))}, AppProtocol:(*string)(nil), '
                  f"Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}")


def _service_port_errors(port: Obj, path: str, require_name: bool, names: set[str]) -> list[Cause]:
    """validateServicePort."""
    causes: list[Cause] = []
    name = _str(port.get("name"))
    if require_name and not name:
        causes.append(required(f"{path}.name"))
    elif name:
        causes += dns_label(f"{path}.name", name)
        if name in names:
            causes.append(duplicate(f"{path}.name", name))
        names.add(name)
    causes += _each(f"{path}.port", port.get("port"), port_number_errors(port.get("port")))
    causes += _one_of(port.get("protocol"), _PROTOCOLS, f"{path}.protocol")
    causes += _port_or_name_errors(port.get("targetPort"), f"{path}.targetPort")
    if isinstance(port.get("appProtocol"), str):
        causes += _each(f"{path}.appProtocol", port["appProtocol"], qualified_name_errors(port["appProtocol"]))
    return causes


def _service_type_errors(spec: Obj) -> list[Cause]:
    kind = spec.get("type")
    headless = _is_headless(spec)
    causes: list[Cause] = []
    if kind == "LoadBalancer":
        for index, port in _indexed(spec.get("ports")):
            if port.get("port") == _KUBELET_PORT:
                causes.append(invalid(f"spec.ports[{index}]", _KUBELET_PORT,
                                      f"may not expose port {_KUBELET_PORT} externally since it is used by kubelet"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        causes.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        if _list(spec.get("clusterIPs")) or _str(spec.get("clusterIP")) not in ("", "None"):
            causes.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        cname = _str(spec.get("externalName")).removesuffix(".")
        causes += _each("spec.externalName", cname, dns1123_subdomain_errors(cname)) if cname else \
            [required("spec.externalName")]
    return causes


def _cluster_ip_errors(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for index, address in enumerate(_list(spec.get("clusterIPs")) or
                                    ([spec["clusterIP"]] if _str(spec.get("clusterIP")) else [])):
        if address == "None" and index == 0:
            continue
        if not _is_ip(address):
            causes.append(invalid(f"spec.clusterIPs[{index}]", address,
                                  "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    for index, address in enumerate(_list(spec.get("externalIPs"))):
        if not _is_ip(address):
            causes.append(invalid(f"spec.externalIPs[{index}]", address,
                                  "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    return causes


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _traffic_policy_errors(obj: Obj) -> list[Cause]:
    spec = _obj(obj.get("spec"))
    causes: list[Cause] = []
    external = spec.get("externalTrafficPolicy")
    if not externally_accessible(obj):
        if external:
            causes.append(invalid("spec.externalTrafficPolicy", external,
                                  "may only be set for externally-accessible services"))
    elif not external:
        causes.append(required("spec.externalTrafficPolicy"))
    elif external not in _TRAFFIC_POLICIES:
        causes.append(not_supported("spec.externalTrafficPolicy", external, _TRAFFIC_POLICIES))
    internal = spec.get("internalTrafficPolicy")
    if internal is None and spec.get("type") in ("NodePort", "LoadBalancer", "ClusterIP"):
        causes.append(required("spec.internalTrafficPolicy"))
    elif internal is not None and internal not in _TRAFFIC_POLICIES:
        causes.append(not_supported("spec.internalTrafficPolicy", internal, _TRAFFIC_POLICIES))
    return causes


def _validate_service(obj: Obj) -> list[Cause]:
    """ValidateService (IP and node-port allocation are the apiserver's)."""
    spec = _obj(obj.get("spec"))
    ports = _list(spec.get("ports"))
    causes: list[Cause] = []
    if not ports and not _is_headless(spec) and spec.get("type") != "ExternalName":
        causes.append(required("spec.ports"))
    causes += _service_type_errors(spec)
    names: set[str] = set()
    for index, port in _indexed(ports):
        causes += _service_port_errors(port, f"spec.ports[{index}]", len(ports) > 1, names)
    causes += labels_errors(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    causes += _one_of(affinity, ("ClientIP", "None"), "spec.sessionAffinity")
    if affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        causes.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    causes += _cluster_ip_errors(spec)
    causes += _one_of(spec.get("type"), _SERVICE_TYPES, "spec.type")
    causes += _service_port_uniqueness_errors(spec)
    return causes + _traffic_policy_errors(obj)


def _service_port_uniqueness_errors(spec: Obj) -> list[Cause]:
    causes: list[Cause] = []
    if spec.get("type") == "ClusterIP":
        for index, port in _indexed(spec.get("ports")):
            if port.get("nodePort"):
                causes.append(forbidden(f"spec.ports[{index}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[str] = set()
    ports: set[str] = set()
    for index, port in _indexed(spec.get("ports")):
        if port.get("nodePort"):
            key = _identity(port.get("protocol"), port["nodePort"])
            if key in node_ports:
                causes.append(duplicate(f"spec.ports[{index}].nodePort", port["nodePort"]))
            node_ports.add(key)
    for index, port in _indexed(spec.get("ports")):
        key = _identity(port.get("protocol"), port.get("port"))
        if key in ports:
            causes.append(duplicate(f"spec.ports[{index}]", _go_service_port(port.get("protocol"), port.get("port"))))
        ports.add(key)
    return causes


def _validate_service_update(new: Obj, old: Obj) -> list[Cause]:
    """A Service keeps its cluster IPs unless it moves to or from ExternalName."""
    spec, old_spec = _obj(new.get("spec")), _obj(old.get("spec"))
    if "ExternalName" in (spec.get("type"), old_spec.get("type")) or (_is_headless(spec) and _is_headless(old_spec)):
        return []
    new_ips, old_ips = _list(spec.get("clusterIPs")), _list(old_spec.get("clusterIPs"))
    if not new_ips or not old_ips:
        return []
    return [invalid(f"spec.clusterIPs[{index}]", new_ips, "may not change once set")
            for index, address in enumerate(old_ips[:len(new_ips)]) if address != new_ips[index]]


def _endpoint_port_errors(port: Obj, path: str, require_name: bool) -> list[Cause]:
    name = _str(port.get("name"))
    causes = [required(f"{path}.name")] if require_name and not name else (dns_label(f"{path}.name", name)
                                                                           if name else [])
    causes += _each(f"{path}.port", port.get("port"), port_number_errors(port.get("port")))
    return causes + _one_of(port.get("protocol"), _PROTOCOLS, f"{path}.protocol")


def _validate_endpoints(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for index, subset in _indexed(obj.get("subsets")):
        at = f"subsets[{index}]"
        addresses = _list(subset.get("addresses")) + _list(subset.get("notReadyAddresses"))
        if not addresses:
            causes.append(required(at, "must specify `addresses` or `notReadyAddresses`"))
        for list_name in ("addresses", "notReadyAddresses"):
            for address_index, address in _indexed(subset.get(list_name)):
                ip = _str(address.get("ip"))
                if not _is_ip(ip):
                    causes.append(invalid(f"{at}.{list_name}[{address_index}].ip", ip,
                                          "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        ports = _list(subset.get("ports"))
        for port_index, port in _indexed(ports):
            causes += _endpoint_port_errors(port, f"{at}.ports[{port_index}]", len(ports) > 1)
    return causes


_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def _slice_address_errors(address: Any, address_type: Any, path: str) -> list[Cause]:
    if address_type == "IPv4":
        ok = _is_ip(address) and ipaddress.ip_address(address).version == 4
        return [] if ok else [invalid(path, address, "must be a valid IPv4 address")]
    if address_type == "IPv6":
        ok = _is_ip(address) and ipaddress.ip_address(address).version == 6
        return [] if ok else [invalid(path, address, "must be a valid IPv6 address")]
    if address_type == "FQDN":
        return _each(path, address, dns1123_subdomain_errors(_str(address)))
    return []


def _validate_endpoint_slice(obj: Obj) -> list[Cause]:
    """ValidateEndpointSlice."""
    address_type = obj.get("addressType")
    causes = [] if address_type in _ADDRESS_TYPES else [not_supported("addressType", address_type, _ADDRESS_TYPES)]
    endpoints = _list(obj.get("endpoints"))
    if len(endpoints) > 1000:
        causes.append(too_many("endpoints", len(endpoints), 1000))
    for index, endpoint in _indexed(endpoints):
        at = f"endpoints[{index}]"
        addresses = _list(endpoint.get("addresses"))
        if not addresses:
            causes.append(required(f"{at}.addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            causes.append(too_many(f"{at}.addresses", len(addresses), 100))
        for address_index, address in enumerate(addresses):
            causes += _slice_address_errors(address, address_type, f"{at}.addresses[{address_index}]")
        if hostname := _str(endpoint.get("hostname")):
            causes += dns_label(f"{at}.hostname", hostname)
        if node_name := _str(endpoint.get("nodeName")):
            causes += _each(f"{at}.nodeName", node_name, dns1123_subdomain_errors(node_name))
    ports = _list(obj.get("ports"))
    if len(ports) > 100:
        causes.append(too_many("ports", len(ports), 100))
    names: set[str] = set()
    for index, port in _indexed(ports):
        at = f"ports[{index}]"
        name = _str(port.get("name"))
        if name:
            causes += dns_label(f"{at}.name", name)
        if name in names:
            causes.append(duplicate(f"{at}.name", name))
        names.add(name)
        causes += [required(f"{at}.protocol")] if port.get("protocol") is None else \
            ([] if port["protocol"] in _PROTOCOLS else [not_supported(f"{at}.protocol", port["protocol"], _PROTOCOLS)])
        if port.get("port") is not None:
            causes += _each(f"{at}.port", port["port"], port_number_errors(port["port"]))
    return causes


# --- config and cluster kinds ---------------------------------------------------------------------------------

def _validate_config_map(obj: Obj) -> list[Cause]:
    data, binary = _obj(obj.get("data")), _obj(obj.get("binaryData"))
    causes: list[Cause] = []
    size = 0
    for key in sorted(data):
        causes += _each(f"data[{key}]", key, config_map_key_errors(key))
        if key in binary:
            causes.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
        size += len(str(data[key]).encode())
    for key in sorted(binary):
        causes += _each(f"binaryData[{key}]", key, config_map_key_errors(key))
        if key in data:
            causes.append(invalid(f"binaryData[{key}]", key, "duplicate of key present in data"))
        size += len(_decoded(binary[key]) or b"")
    if size > MAX_SECRET_SIZE:
        causes.append(too_long("", MAX_SECRET_SIZE))
    return causes


def _decoded(value: Any) -> bytes | None:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return None


def _base64_error(value: str) -> str:
    """Go's encoding/base64 complaint about the first bad byte."""
    for index, char in enumerate(value):
        if not (char.isascii() and (char.isalnum() or char in "+/=")):
            return f"illegal base64 data at input byte {index}"
    return f"illegal base64 data at input byte {len(value.rstrip('='))}"


def _json_error(data: bytes) -> str | None:
    """Why ``data`` is not a JSON object (what Go's json.Unmarshal into a map would say), None if it is one."""
    if not data.strip():
        return "unexpected end of JSON input"
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        first = data.strip()[:1].decode(errors="replace")
        return f"invalid character '{first}' looking for beginning of value"
    return None if isinstance(parsed, dict) else "json: cannot unmarshal value into Go value of type map[string]interface {}"


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _validate_secret(obj: Obj) -> list[Cause]:
    """ValidateSecret: keys, 1 MiB, base64 values, and what each secret type requires."""
    data = _obj(obj.get("data"))
    causes: list[Cause] = []
    decoded: dict[str, bytes] = {}
    for key in sorted(data):
        causes += _each(f"data[{key}]", key, config_map_key_errors(key))
        raw = str(data[key]) if data[key] is not None else ""
        if (value := _decoded(raw)) is None:
            causes.append(invalid(f"data[{key}]", "<secret contents redacted>", _base64_error(raw)))
        else:
            decoded[key] = value
    if sum(len(v) for v in decoded.values()) > MAX_SECRET_SIZE:
        causes.append(too_long("data", MAX_SECRET_SIZE))
    kind = _str(obj.get("type"))
    if kind == "kubernetes.io/service-account-token":
        annotations = _obj(_obj(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind in _SECRET_REQUIRED_KEYS:
        missing = [required(f"data[{key}]") for key in _SECRET_REQUIRED_KEYS[kind] if key not in data]
        causes += missing
        if not missing and kind != "kubernetes.io/tls":
            key = _SECRET_REQUIRED_KEYS[kind][0]
            if key in decoded and (problem := _json_error(decoded[key])):
                causes.append(invalid(f"data[{key}]", "<secret contents redacted>", problem))
    elif kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes += [required("data[username]"), required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth" and not decoded.get("ssh-privatekey"):
        causes.append(required("data[ssh-privatekey]"))
    return causes


def _immutable_data_update(new: Obj, old: Obj, keys: tuple[str, ...]) -> list[Cause]:
    """ConfigMaps and Secrets marked ``immutable`` keep their data and the flag."""
    causes: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            causes.append(forbidden("immutable", "field is immutable when `immutable` is set"))
        for key in keys:
            if _semantic(new.get(key)) != _semantic(old.get(key)):
                causes.append(forbidden(key, "field is immutable when `immutable` is set"))
    return causes


def _validate_secret_update(new: Obj, old: Obj) -> list[Cause]:
    causes = immutable("type", new.get("type"), old.get("type"))
    return causes + _immutable_data_update(new, old, ("data",))


def _validate_config_map_update(new: Obj, old: Obj) -> list[Cause]:
    return _immutable_data_update(new, old, ("data", "binaryData"))


def _validate_namespace(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for name in _list(_obj(obj.get("spec")).get("finalizers")):
        if isinstance(name, str):
            causes += _kube_finalizer_errors(name, "spec.finalizers")
    return causes


def _cidr_errors(value: Any, path: str) -> list[Cause]:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in str(value):
            raise ValueError(value)
    except (ValueError, TypeError):
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []


def _taint_errors(taints: Any, path: str) -> list[Cause]:
    """validateNodeTaints."""
    causes: list[Cause] = []
    seen: set[str] = set()
    for index, taint in _indexed(taints):
        at = f"{path}[{index}]"
        key, effect = _str(taint.get("key")), taint.get("effect") or ""
        identity = _identity(key, effect)
        causes += _each(f"{at}.key", key, qualified_name_errors(key))
        if problems := label_value_errors(_str(taint.get("value"))):
            causes.append(invalid(f"{at}.value", _str(taint.get("value")), ";".join(problems)))
        causes += _one_of(effect, _TAINT_EFFECTS, f"{at}.effect")
        if identity in seen:
            causes.append(Cause(at, f"Duplicate value: {go_taint(taint)}: taints must be unique by key and effect "
                                    "pair", DUPLICATE))
            continue
        seen.add(identity)
    return causes


def _validate_node(obj: Obj) -> list[Cause]:
    """ValidateNode: taints (reported under ``metadata.taints``, as Kubernetes does) and pod CIDRs."""
    spec = _obj(obj.get("spec"))
    causes = _taint_errors(spec.get("taints"), "metadata.taints")
    cidrs = _list(spec.get("podCIDRs")) or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
    for index, cidr in enumerate(cidrs):
        causes += _cidr_errors(cidr, f"spec.podCIDRs[{index}]")
    if len(cidrs) > 1:
        families = [ipaddress.ip_network(c, strict=False).version for c in cidrs if not _cidr_errors(c, "")]
        if len(cidrs) > 2 or len(set(families)) != len(families):
            causes.append(invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"))
        seen: set[str] = set()
        for index, cidr in enumerate(cidrs):
            if _identity(cidr) in seen:
                causes.append(duplicate(f"spec.podCIDRs[{index}]", cidr))
            seen.add(_identity(cidr))
    return causes


def _validate_node_update(new: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _obj(new.get("spec")), _obj(old.get("spec"))
    causes: list[Cause] = []
    old_cidrs = _list(old_spec.get("podCIDRs"))
    if old_cidrs and old_cidrs != _list(spec.get("podCIDRs")):
        causes.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    old_provider = _str(old_spec.get("providerID"))
    if old_provider and old_provider != _str(spec.get("providerID")):
        causes.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return causes


def _validate_event(obj: Obj) -> list[Cause]:
    """legacyValidateEvent (core/v1 events): the involved object's namespace must be the event's."""
    namespace = _str(_obj(obj.get("metadata")).get("namespace"))
    involved = _obj(obj.get("involvedObject"))
    involved_namespace = _str(involved.get("namespace"))
    causes: list[Cause] = []
    if not obj.get("eventTime"):
        mismatch = namespace not in ("", "default") if not involved_namespace else namespace != involved_namespace
    else:
        mismatch = not involved_namespace and namespace not in ("default", "kube-system")
        for key, limit in (("reportingController", None), ("reportingInstance", 128), ("action", 128),
                           ("reason", 128)):
            value = _str(obj.get(key))
            if not value:
                causes.append(required(key))
            elif limit and len(value) > limit:
                causes.append(invalid(key, "", f"can have at most {limit} characters"))
        if controller := _str(obj.get("reportingController")):
            causes += _each("reportingController", controller, qualified_name_errors(controller))
        if len(_str(obj.get("message"))) > 1024:
            causes.append(invalid("message", "", "can have at most 1024 characters"))
    if mismatch:
        causes.insert(0, invalid("involvedObject.namespace", involved_namespace, "does not match event.namespace"))
    if namespace:
        causes += _each("namespace", namespace, dns1123_subdomain_errors(namespace))
    return causes


def _validate_lease(obj: Obj) -> list[Cause]:
    spec = _obj(obj.get("spec"))
    causes: list[Cause] = []
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, IS_NEGATIVE))
    if spec.get("preferredHolder") and not spec.get("strategy"):
        causes.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes


# --- certificate signing requests ------------------------------------------------------------------------------

_KEY_USAGES = ("any", "cert sign", "client auth", "code signing", "content commitment", "crl sign",
               "data encipherment", "decipher only", "digital signature", "email protection", "encipher only",
               "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment",
               "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping")
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)


def _csr_request_error(request: bytes) -> str | None:
    """ParseCSR: a ``CERTIFICATE REQUEST`` PEM block whose body is one DER SEQUENCE. The signature itself is not
    checked here."""
    block = _PEM_BLOCK.search(request.decode("latin-1"))
    if block is None or block.group(1) != "CERTIFICATE REQUEST":
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        der = base64.b64decode("".join(block.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        return "PEM block type must be CERTIFICATE REQUEST"
    if not _der_sequence_spans(der):
        return "asn1: structure error: tags don't match"
    return None


def _der_sequence_spans(der: bytes) -> bool:
    if len(der) < 2 or der[0] != 0x30:
        return False
    length, offset = der[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return False
        length, offset = int.from_bytes(der[2:2 + count], "big"), 2 + count
    return offset + length == len(der)


def signer_name_errors(signer: str, path: str) -> list[Cause]:
    """ValidateSignerName: ``example.com/signer-name``."""
    if not signer:
        return [required(path)]
    domain, slash, rest = signer.partition("/")
    if not slash or "/" in rest or not domain or not rest:
        return [invalid(path, signer, "must be a fully qualified domain and path of the form "
                                      "'example.com/signer-name'")]
    causes = [too_long(path, 253)] if len(domain) > 253 else []
    labels = domain.split(".")
    for label in labels:
        if errors := dns1123_label_errors(label):
            causes += [invalid(path, domain, f'validating label "{label}": {error}') for error in errors]
            break
    if len(labels) < 2:
        causes.append(invalid(path, domain, "should be a domain with at least two segments separated by dots"))
    for component in rest.split("."):
        if errors := dns1123_subdomain_errors(component):
            causes += [invalid(path, rest, f'validating component "{component}": {error}') for error in errors]
            break
    if len(signer) > 253 + 253 + 63 + 2:
        causes.append(too_long(path, 253 + 253 + 63 + 2))
    return causes


def _validate_csr(obj: Obj) -> list[Cause]:
    spec = _obj(obj.get("spec"))
    raw = spec.get("request")
    request = _decoded(raw) if isinstance(raw, str) else None
    causes: list[Cause] = []
    if request is None and isinstance(raw, str) and raw:
        causes.append(invalid("spec.request", "<redacted>", _base64_error(raw)))
    elif (problem := _csr_request_error(request or b"")) is not None:
        causes.append(invalid("spec.request", go_bytes(request or None), problem))
    usages = _list(spec.get("usages"))
    if not usages:
        causes.append(required("spec.usages"))
    seen: set[str] = set()
    for index, usage in enumerate(usages):
        if usage not in _KEY_USAGES:
            causes.append(not_supported(f"spec.usages[{index}]", usage, _KEY_USAGES))
        if _identity(usage) in seen:
            causes.append(duplicate(f"spec.usages[{index}]", usage))
        seen.add(_identity(usage))
    signer = _str(spec.get("signerName"))
    if signer == "kubernetes.io/legacy-unknown":
        causes.append(invalid("spec.signerName", signer, "the legacy signerName is not allowed via this API version"))
    else:
        causes += signer_name_errors(signer, "spec.signerName")
    expiration = spec.get("expirationSeconds")
    if isinstance(expiration, int) and expiration < 600:
        causes.append(invalid("spec.expirationSeconds", expiration,
                              "may not specify a duration less than 600 seconds (10 minutes)"))
    return causes


def _csr_conditions(csr: Obj, kind: str) -> list[Any]:
    return [c for c in _list(_obj(csr.get("status")).get("conditions")) if _obj(c).get("type") == kind]


def csr_status_update_errors(new: Obj, old: Obj, *, approval: bool, certificate: bool) -> list[Cause]:
    """The status checks of ValidateCertificateSigningRequestUpdate: conditions are never removed, only /approval
    (``approval``) adds Approved or Denied ones, and only /status (``certificate``) issues the certificate, once.
    (A modified approval condition cannot reach here: the status strategies put the old ones back.)"""
    causes = [forbidden("status.conditions", f'updates may not remove a condition of type "{kind}"')
              for kind in ("Approved", "Denied", "Failed")
              if len(_csr_conditions(new, kind)) < len(_csr_conditions(old, kind))]
    if not approval:
        causes += [forbidden("status.conditions", f'updates may not add a condition of type "{kind}"')
                   for kind in ("Approved", "Denied")
                   if len(_csr_conditions(new, kind)) > len(_csr_conditions(old, kind))]
    issued, was_issued = _obj(new.get("status")).get("certificate"), _obj(old.get("status")).get("certificate")
    if (issued or "") != (was_issued or ""):
        if not certificate:
            causes.append(forbidden("status.certificate", "updates may not set certificate content"))
        elif was_issued:
            causes.append(forbidden("status.certificate", "updates may not modify existing certificate content"))
    return causes


# --- dispatch ------------------------------------------------------------------------------------------------

def _no_rules(*_: Obj) -> list[Cause]:
    return []


@dataclass(frozen=True)
class _KindRules:
    name: NameCheck | None
    spec: Callable[[Obj], list[Cause]] = _no_rules
    update: Callable[[Obj, Obj], list[Cause]] = _no_rules


def _validate_job_update_spec(new: Obj, old: Obj) -> list[Cause]:
    """Job updates re-run spec validation requiring the prefixed labels only if the Job already had them."""
    old_labels = _obj(_template_labels(_obj(_obj(old.get("spec")).get("template"))))
    prefixed = all(key in old_labels for key in _JOB_LABELS[2:])
    return _validate_job(new, prefixed) + _validate_job_update(new, old)


_RULES: dict[str, _KindRules] = {
    "Pod": _KindRules(dns1123_subdomain_errors, _validate_pod, _validate_pod_update),
    "Deployment": _KindRules(dns1123_subdomain_errors, _validate_deployment, _immutable_selector),
    "ReplicaSet": _KindRules(dns1123_subdomain_errors, _validate_replica_set, _immutable_selector),
    "ReplicationController": _KindRules(dns1123_subdomain_errors, _validate_replication_controller),
    "DaemonSet": _KindRules(dns1123_subdomain_errors, _validate_daemon_set, _immutable_selector),
    "Job": _KindRules(dns1123_subdomain_errors, _validate_job),
    "Service": _KindRules(dns1035_label_errors, _validate_service, _validate_service_update),
    "Endpoints": _KindRules(dns1123_subdomain_errors, _validate_endpoints),
    "EndpointSlice": _KindRules(dns1123_subdomain_errors, _validate_endpoint_slice,
                                lambda new, old: immutable("addressType", new.get("addressType"),
                                                           old.get("addressType"))),
    "ConfigMap": _KindRules(dns1123_subdomain_errors, _validate_config_map, _validate_config_map_update),
    "Secret": _KindRules(dns1123_subdomain_errors, _validate_secret, _validate_secret_update),
    "Namespace": _KindRules(dns1123_label_errors, _validate_namespace),
    "Node": _KindRules(dns1123_subdomain_errors, _validate_node, _validate_node_update),
    # Core/v1 events and CSRs only get the generic checks every name needs to be a URL segment.
    "Event": _KindRules(path_segment_name_errors, _validate_event),
    "Lease": _KindRules(dns1123_subdomain_errors, _validate_lease),
    "ServiceAccount": _KindRules(dns1123_subdomain_errors),
    "CertificateSigningRequest": _KindRules(path_segment_name_errors, _validate_csr),
}
_DEFAULT_RULES = _KindRules(dns1123_subdomain_errors)


def validate(resource: Resource, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Everything wrong with ``obj`` (defaulted) as a create, or as an update of ``old``; empty if valid."""
    rules = _RULES.get(resource.kind, _DEFAULT_RULES)
    if old is None:
        return validate_object_meta(obj, rules.name) + rules.spec(obj)
    if resource.kind == "Job":
        return validate_metadata_update(obj, old) + _validate_job_update_spec(obj, old)
    return validate_metadata_update(obj, old) + rules.spec(obj) + rules.update(obj, old)
