"""Label and field selectors with the syntax, semantics and error messages of Kubernetes' apimachinery.

Label selectors (``?labelSelector=``, ``metav1.LabelSelector``) are sets of requirements ANDed together:
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist) and the
integer comparisons ``a>1`` / ``a<1``. Parsed requirements are kept sorted by key, values sorted and unique, so
``str()`` is canonical and parses back to the same selector.

Field selectors (``?fieldSelector=``) are ``field=value``, ``field==value`` or ``field!=value`` terms separated by
commas; ``\\``, ``,`` and ``=`` in values are escaped with a backslash. Every field is compared as a string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provisioner.services.api.resources import Resource
from provisioner.services.api.status import ApiError, bad_request

# --- label keys and values (k8s.io/apimachinery/pkg/util/validation) ------------------------------------------

_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character")
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = _DNS_LABEL_FMT + "(\\." + _DNS_LABEL_FMT + ")*"
_DNS_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                      "'.', and must start and end with an alphanumeric character")
_DNS_SUBDOMAIN_RE = re.compile(_DNS_SUBDOMAIN_FMT)
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character")
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_NAME_MAX = 63
_SUBDOMAIN_MAX = 253
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER_RE = re.compile("[+-]?[0-9]+")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _dns_subdomain_errors(value: str) -> list[str]:
    errors = []
    if len(value) > _SUBDOMAIN_MAX:
        errors.append(f"must be no more than {_SUBDOMAIN_MAX} characters")
    if not _DNS_SUBDOMAIN_RE.fullmatch(value):
        errors.append(_regex_error(_DNS_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com"))
    return errors


def label_key_errors(key: str) -> list[str]:
    """Why ``key`` is not a label key (a qualified name with an optional DNS-subdomain prefix); empty if it is."""
    parts = key.split("/")
    if len(parts) > 2:
        return ["a qualified name " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                   "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend("prefix part " + message for message in _dns_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        errors.append(f"name part must be no more than {_NAME_MAX} characters")
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errors.append("name part " + _regex_error(_QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name",
                                                  "123-abc"))
    return errors


def label_value_errors(value: str) -> list[str]:
    """Why ``value`` is not a label value (at most 63 characters, alphanumeric ends); empty if it is."""
    errors = []
    if len(value) > _NAME_MAX:
        errors.append(f"must be no more than {_NAME_MAX} characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _quote(value: str) -> str:
    """Go's %q, close enough for the printable strings selectors carry."""
    return json.dumps(value, ensure_ascii=False)


def _invalid(path: str, shown_value: str, detail: str) -> str:
    """One field.Error rendered the way apimachinery prints it: ``path: Invalid value: value: detail``."""
    return f"{path}: Invalid value: {shown_value}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors.Aggregate: one message alone, several as ``[a, b]``."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(text: str) -> int | None:
    if not _INTEGER_RE.fullmatch(text):
        return None
    number = int(text)
    return number if _INT64_MIN <= number <= _INT64_MAX else None


# --- label selectors ------------------------------------------------------------------------------------------

IN, NOT_IN = "in", "notin"
EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "=", "==", "!="
EXISTS, DOES_NOT_EXIST = "exists", "!"
GREATER_THAN, LESS_THAN = "gt", "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_OPERATOR_SYMBOL = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", GREATER_THAN: ">", LESS_THAN: "<",
                    IN: " in ", NOT_IN: " notin "}
# metav1.LabelSelectorRequirement operators and what they become.
_EXPRESSION_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


@dataclass(frozen=True)
class Requirement:
    """One ANDed term of a label selector. Build it with :func:`new_requirement` so it is validated."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in (IN, EQUALS, DOUBLE_EQUALS):
            return present and value in self.values
        if self.operator in (NOT_IN, NOT_EQUALS):
            return not present or value not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        return present and self._compares(value)

    def _compares(self, value: Any) -> bool:
        actual = _parse_int64(value) if isinstance(value, str) else None
        bound = _parse_int64(self.values[0]) if len(self.values) == 1 else None
        if actual is None or bound is None:
            return False
        return actual > bound if self.operator == GREATER_THAN else actual < bound

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        shown = ",".join(sorted(self.values)) if len(self.values) > 1 else "".join(self.values)
        if self.operator in (IN, NOT_IN):
            shown = f"({shown})"
        return self.key + _OPERATOR_SYMBOL[self.operator] + shown


def new_requirement(key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
    """labels.NewRequirement: validate the key, the operator's arity and every value (message in the error)."""
    values = tuple(values)
    errors = []
    if key_problems := label_key_errors(key):
        errors.append(_invalid("key", _quote(key), "; ".join(key_problems)))
    shown_values = "[]string{" + ", ".join(_quote(v) for v in values) + "}"
    if operator in (IN, NOT_IN) and not values:
        errors.append(_invalid("values", shown_values, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS) and len(values) != 1:
        errors.append(_invalid("values", shown_values, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST) and values:
        errors.append(_invalid("values", shown_values, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errors.append(_invalid("values", shown_values,
                                   "for 'Gt', 'Lt' operators, exactly one value is required"))
        errors.extend(_invalid(f"values[{i}]", _quote(v),
                               "for 'Gt', 'Lt' operators, the value must be an integer")
                      for i, v in enumerate(values) if _parse_int64(v) is None)
    elif operator not in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST):
        supported = ", ".join(_quote(op) for op in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errors.append(f"operator: Unsupported value: {_quote(operator)}: supported values: {supported}")
    for i, value in enumerate(values):
        if problems := label_value_errors(value):
            errors.append(_invalid(f"values[{i}][{key}]", _quote(value), "; ".join(problems)))
    if errors:
        raise bad_request(_aggregate(errors))
    return Requirement(key, operator, values)


@dataclass(frozen=True)
class LabelSelector:
    """ANDed requirements, sorted by key. ``nothing`` marks the selector of a nil ``metav1.LabelSelector``."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True if the selector does not restrict anything (it matches every label set)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _sorted_by_key(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(requirements, key=lambda requirement: requirement.key))


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def selector_from_labels(labels: Mapping[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet: ``k=v`` for every pair, not validated; empty matches everything."""
    return LabelSelector(_sorted_by_key(Requirement(k, EQUALS, (v,)) for k, v in (labels or {}).items()))


def selector_string_from_labels(labels: Mapping[str, str] | None) -> str:
    """``SelectorFromSet(labels).String()``: sorted ``k=v`` joined by commas (Scale ``status.selector``)."""
    return str(selector_from_labels(labels))


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, ``{}`` everything; bad operators or values → 400."""
    if selector is None:
        return NOTHING
    if not isinstance(selector, Mapping):
        raise bad_request(f"invalid label selector: expected an object, got {type(selector).__name__}")
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping) or not isinstance(expressions, list):
        raise bad_request("invalid label selector: matchLabels must be an object and matchExpressions a list")
    requirements = [new_requirement(key, EQUALS, [_label_string(value)]) for key, value in match_labels.items()]
    requirements.extend(_expression_requirement(expression) for expression in expressions)
    return LabelSelector(_sorted_by_key(requirements))


def _label_string(value: Any) -> str:
    if not isinstance(value, str):
        raise bad_request(f"invalid label selector: label values must be strings, got {json.dumps(value)}")
    return value


def _expression_requirement(expression: Any) -> Requirement:
    if not isinstance(expression, Mapping):
        raise bad_request("invalid label selector: matchExpressions items must be objects")
    operator = expression.get("operator")
    if operator not in _EXPRESSION_OPERATORS:
        raise bad_request(f"{_quote(str(operator or ''))} is not a valid label selector operator")
    values = expression.get("values") or []
    if not isinstance(values, list):
        raise bad_request("invalid label selector: matchExpressions values must be a list")
    return new_requirement(_label_string(expression.get("key", "")), _EXPRESSION_OPERATORS[operator],
                           [_label_string(value) for value in values])


# The string syntax, tokenised like apimachinery's lexer: special symbols, keywords and identifiers.
_END, _OPEN, _CLOSE, _COMMA, _NOT, _IDENT = "end", "(", ")", ",", "!", "identifier"
_KEYWORDS = {"in": IN, "notin": NOT_IN}
_SYMBOLS = {"(": _OPEN, ")": _CLOSE, ",": _COMMA, "!": _NOT, "==": DOUBLE_EQUALS, "=": EQUALS, "!=": NOT_EQUALS,
            ">": GREATER_THAN, "<": LESS_THAN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while True:
        while position < len(text) and text[position] in _WHITESPACE:
            position += 1
        if position == len(text):
            tokens.append((_END, ""))
            return tokens
        start = position
        if text[position] in _SPECIAL:
            # Longest run of special characters that is still an operator: "!=" and "==" but not "((".
            while position < len(text) and text[start:position + 1] in _SYMBOLS:
                position += 1
            literal = text[start:position]
            tokens.append((_SYMBOLS[literal], literal))
        else:
            while position < len(text) and text[position] not in _SPECIAL and text[position] not in _WHITESPACE:
                position += 1
            literal = text[start:position]
            tokens.append((_KEYWORDS.get(literal, _IDENT), literal))


class _ParseError(Exception):
    pass


class _LabelParser:
    """Recursive descent over the token list, following labels.Parser's grammar and messages."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._position = 0

    def _peek(self, as_value: bool = True) -> tuple[str, str]:
        return self._as_value(self._tokens[self._position], as_value)

    def _next(self, as_value: bool = True) -> tuple[str, str]:
        token = self._tokens[self._position]
        self._position += 1
        return self._as_value(token, as_value)

    @staticmethod
    def _as_value(token: tuple[str, str], as_value: bool) -> tuple[str, str]:
        # "in" and "notin" are ordinary identifiers wherever a key or a value is expected.
        kind, literal = token
        return (_IDENT, literal) if as_value and kind in (IN, NOT_IN) else token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            kind, literal = self._peek()
            if kind == _END:
                return requirements
            if kind not in (_IDENT, _NOT):
                raise _ParseError(f"found '{literal}', expected: !, identifier, or 'end of string'")
            requirements.append(self._requirement())
            kind, literal = self._next()
            if kind == _END:
                return requirements
            if kind != _COMMA:
                raise _ParseError(f"found '{literal}', expected: ',' or 'end of string'")
            kind, literal = self._peek()
            if kind not in (_IDENT, _NOT):
                raise _ParseError(f"found '{literal}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        try:
            key, operator = self._key_and_inferred_operator()
            if operator in (EXISTS, DOES_NOT_EXIST):
                return new_requirement(key, operator)
            operator = self._operator()
            values = self._value_set() if operator in (IN, NOT_IN) else self._exact_value()
            return new_requirement(key, operator, sorted(values))
        except (_ParseError, ApiError) as error:
            raise _ParseError(f"unable to parse requirement: {error}") from None

    def _key_and_inferred_operator(self) -> tuple[str, str]:
        operator = ""
        kind, literal = self._next()
        if kind == _NOT:
            operator = DOES_NOT_EXIST
            kind, literal = self._next()
        if kind != _IDENT:
            raise _ParseError(f"found '{literal}', expected: identifier")
        if problems := label_key_errors(literal):
            # The parser validates with a nil field path, which apimachinery prints as "<nil>".
            raise _ParseError(_invalid("<nil>", _quote(literal), "; ".join(problems)))
        if not operator and self._peek()[0] in (_END, _COMMA):
            operator = EXISTS
        return literal, operator

    def _operator(self) -> str:
        kind, literal = self._next(as_value=False)
        if kind not in _BINARY_OPERATORS:
            raise _ParseError(f"found '{literal}', expected: in, notin, =, ==, !=, gt, lt")
        return kind

    def _value_set(self) -> set[str]:
        kind, literal = self._next()
        if kind != _OPEN:
            raise _ParseError(f"found '{literal}' expected: '('")
        kind, literal = self._peek()
        if kind == _CLOSE:  # "()" is the set holding the empty string
            self._next()
            return {""}
        if kind not in (_IDENT, _COMMA):
            raise _ParseError(f"found '{literal}', expected: ',', ')' or identifier")
        values = self._identifiers()
        if self._next()[0] != _CLOSE:
            raise _ParseError(f"found '{literal}', expected: ')'")
        return values

    def _identifiers(self) -> set[str]:
        # Empty entries between commas are empty-string values: "(,a)", "(a,)" and "(a,,b)" all hold "".
        values: set[str] = set()
        while True:
            kind, literal = self._next()
            if kind == _IDENT:
                values.add(literal)
                following, shown = self._peek()
                if following == _CLOSE:
                    return values
                if following != _COMMA:
                    raise _ParseError(f"found '{shown}', expected: ',' or ')'")
            elif kind == _COMMA:
                following = self._peek()[0]
                if not values or following in (_CLOSE, _COMMA):
                    values.add("")
                if following == _CLOSE:
                    return values
            else:
                raise _ParseError(f"found '{literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek()[0] in (_END, _COMMA):
            return {""}
        kind, literal = self._next()
        if kind != _IDENT:
            raise _ParseError(f"found '{literal}', expected: identifier")
        return {literal}


def parse_label_selector(text: str | None) -> LabelSelector:
    """labels.Parse: the ``labelSelector`` query syntax; bad syntax or invalid keys/values → ApiError 400."""
    try:
        requirements = _LabelParser(text or "").parse()
    except _ParseError as error:
        raise bad_request(str(error)) from None
    return LabelSelector(_sorted_by_key(requirements))


# --- field selectors ------------------------------------------------------------------------------------------

ALWAYS_SELECTABLE_FIELDS = ("metadata.name", "metadata.namespace")
_TERM_OPERATORS = ("!=", "==", "=")  # "==" before "=" so "a==b" does not leave "=b" as the value


@dataclass(frozen=True)
class FieldRequirement:
    """``field = value`` or ``field != value``; ``==`` parses to ``=``."""

    field: str
    operator: str
    value: str

    def matches(self, actual: str) -> bool:
        return (actual == self.value) == (self.operator == EQUALS)

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_field_value(self.value)}"


def escape_field_value(value: str) -> str:
    """fields.EscapeValue: backslash-escape ``\\``, ``,`` and ``=``."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_field_value(text: str) -> str:
    """fields.UnescapeValue; unknown escapes, a trailing backslash and bare ``,``/``=`` → ApiError 400."""
    value: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            if char not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{char}")
            value.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # apimachinery prints the rune with %v, i.e. as its number.
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            value.append(char)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(value)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped; the escapes stay in the terms."""
    terms: list[str] = []
    start = 0
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The field, operator and raw value at the first operator; the field part has no escaping."""
    for index in range(len(term)):
        for operator in _TERM_OPERATORS:
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator):]
    return None


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(requirement.field for requirement in self.requirements)

    def matches(self, obj: Mapping[str, Any]) -> bool:
        """Whether the object's fields satisfy every term (values read by :func:`field_value`)."""
        return self.matches_fields(lambda field: field_value(obj, field))

    def matches_fields(self, get: Callable[[str], str]) -> bool:
        """Whether ``get(field)`` satisfies every term, for callers holding fields rather than objects."""
        return all(requirement.matches(get(requirement.field)) for requirement in self.requirements)

    def exact_value(self, field: str) -> str | None:
        """The value the selector pins ``field`` to with ``=``, if any (fields.RequiresExactMatch)."""
        return next((r.value for r in self.requirements if r.field == field and r.operator == EQUALS), None)

    @property
    def pinned_name(self) -> str | None:
        """``metadata.name=X`` → X: a single-object watch or list."""
        return self.exact_value("metadata.name")

    @property
    def pinned_namespace(self) -> str | None:
        return self.exact_value("metadata.namespace")

    @property
    def pinned_node_name(self) -> str | None:
        """``spec.nodeName=X`` → X: the pods of one node (kubelet, drain, describe node)."""
        return self.exact_value("spec.nodeName")

    def validate(self, supported: Iterable[str]) -> FieldSelector:
        """Reject the first field not in ``supported`` with ``field label not supported: <field>``."""
        allowed = frozenset(supported)
        for requirement in self.requirements:
            if requirement.field not in allowed:
                raise bad_request(f"field label not supported: {requirement.field}")
        return self

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def supported_fields(resource: Resource) -> frozenset[str]:
    """The field selectors ``resource`` accepts: metadata.name and metadata.namespace, plus its own."""
    return frozenset((*ALWAYS_SELECTABLE_FIELDS, *resource.field_selectors))


def parse_field_selector(text: str | None, resource: Resource | None = None) -> FieldSelector:
    """fields.ParseSelector, then (given a resource) the apiserver's field-label check. Errors → ApiError 400."""
    text = text or ""
    requirements = []
    for term in sorted(_split_terms(text)) if text else []:
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, raw_value = split
        requirements.append(FieldRequirement(field, NOT_EQUALS if operator == "!=" else EQUALS,
                                             unescape_field_value(raw_value)))
    selector = FieldSelector(tuple(requirements))
    return selector.validate(supported_fields(resource)) if resource is not None else selector


# How selectable fields read objects where the JSON path alone is not the answer: events' "source" is the
# reporting component, Job's "status.successful" counts succeeded pods, and booleans and counters print their
# Go zero values ("false", "0") when unset.
_FIELD_PATHS = {"source": "source.component", "status.successful": "status.succeeded"}
_BOOLEAN_FIELDS = frozenset({"spec.unschedulable", "spec.hostNetwork"})
_COUNTER_FIELDS = frozenset({"status.replicas", "status.successful"})


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The string a field selector compares for ``field`` of ``obj``; a missing field is ``""``."""
    current: Any = obj
    for part in _FIELD_PATHS.get(field, field).split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    if isinstance(current, bool):
        return "true" if current else "false"
    if current is None and field in _BOOLEAN_FIELDS:
        return "false"
    if current is None and field in _COUNTER_FIELDS:
        return "0"
    if isinstance(current, int | float | str):
        return str(current)
    return ""
