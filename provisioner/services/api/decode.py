"""Field validation of request bodies, as kube-apiserver's JSON decoder performs it.

kube-apiserver decodes a body into the Go structs of its kind with sigs.k8s.io/json, and two kinds of problem
come out of that decode:

* strict errors: unknown fields (``unknown field "spec.foo"``) and repeated keys (``duplicate field
  "metadata.name"``). What happens to them depends on ``fieldValidation``: Strict fails the request with 400,
  Warn (the default) returns them as ``Warning: 299`` headers, Ignore drops them.
* decode errors: a value of the wrong JSON type, a malformed quantity, timestamp or base64 string. The decode
  fails in every mode, with Go's own wording (``json: cannot unmarshal string into Go struct field
  DeploymentSpec.spec.replicas of type int32``).

This module reproduces both from the types in ``typeschema``, with the same paths, order and wording, so that
kubectl and client libraries show what they show against a real cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Literal

from provisioner.services.api import typeschema
from provisioner.services.api.quantity import QuantityError, decimal_exponent, parse_quantity
from provisioner.services.api.status import ApiError
from provisioner.services.api.typeschema import ListOf, MapOf, Scalar, Struct

FieldValidation = Literal["Strict", "Warn", "Ignore"]
FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")

# sigs.k8s.io/json stops collecting strict errors after this many.
_MAX_STRICT_ERRORS = 100


# ------------------------------------------------------------------------------------------ Go strings

_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
                  "\\": "\\\\", '"': '\\"'}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_go_string(text: str) -> str:
    """The string Go's decoder would hold: a lone UTF-16 surrogate escape becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def go_quote(text: str) -> str:
    """``fmt.Sprintf("%q", text)``: how Go quotes field paths in strict-decoding messages."""
    out = ['"']
    for ch in _as_go_string(text):
        code = ord(ch)
        if ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _number_text(value: int | float) -> str:
    """A number as its JSON literal, for ``number 1.5``-style messages."""
    try:
        return repr(value)
    except ValueError:  # an integer too long for Python to print; Go would quote it whole
        return "<number>"


# ------------------------------------------------------------------------------------------ timestamps

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
# The layouts as Go's time.Parse walks them: (literal to skip, element to parse).
_LAYOUT_CHUNKS = {
    RFC3339: (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"), ("", "Z07:00")),
    RFC3339_MICRO: (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"),
                    ("", ".000000"), ("", "Z07:00")),
}
_FRACTION_ELEMENTS = (".000000",)


def _time_quote(value: bytes) -> str:
    """Go's time.quote: bytes outside printable ASCII are shown as \\x escapes."""
    out = ['"']
    for ch in value.decode("utf-8", "surrogateescape"):
        if ord(ch) >= 0x80 or ord(ch) < 0x20:
            out.extend(f"\\x{byte:02x}" for byte in ch.encode("utf-8", "surrogateescape"))
        else:
            out.append("\\" + ch if ch in '"\\' else ch)
    out.append('"')
    return "".join(out)


def _is_digit(value: bytes, index: int) -> bool:
    return index < len(value) and 0x30 <= value[index] <= 0x39


def _getnum(value: bytes, fixed: bool) -> tuple[int, bytes] | None:
    """Go's getnum: one or two leading digits (exactly two when ``fixed``)."""
    if not _is_digit(value, 0):
        return None
    if not _is_digit(value, 1):
        return None if fixed else (value[0] - 0x30, value[1:])
    return (value[0] - 0x30) * 10 + value[1] - 0x30, value[2:]


def _atoi(value: bytes) -> int | None:
    """Go's time.atoi: an optional sign and only digits (none at all reads as 0)."""
    negative = value[:1] == b"-"
    if value[:1] in (b"-", b"+"):
        value = value[1:]
    if not all(0x30 <= c <= 0x39 for c in value):
        return None
    number = int(value) if value else 0
    return -number if negative else number


@dataclass
class _Clock:
    """The parts of a timestamp parsed so far, and where parsing stands."""

    rest: bytes
    year: int = 0
    month: int = 1
    day: int = 1
    bad: bool = False  # the element does not match its layout element
    out_of_range: str = ""  # the name of a value outside its range, for "<name> out of range"


def _parse_year(clock: _Clock, _next: str) -> None:
    value = clock.rest
    if len(value) < 4 or not _is_digit(value, 0):
        clock.bad = True
        return
    year = _atoi(value[:4])
    clock.rest = value[4:]
    clock.bad = year is None
    clock.year = year or 0


def _two_digits(clock: _Clock, fixed: bool, low: int, high: int, name: str) -> int:
    parsed = _getnum(clock.rest, fixed)
    if parsed is None:
        clock.bad = True
        return 0
    number, clock.rest = parsed
    if name and not low <= number <= high:
        clock.out_of_range = name
    return number


def _parse_month(clock: _Clock, _next: str) -> None:
    clock.month = _two_digits(clock, True, 1, 12, "month")


def _parse_day(clock: _Clock, _next: str) -> None:
    clock.day = _two_digits(clock, True, 0, 0, "")  # checked against the month once everything is parsed


def _parse_hour(clock: _Clock, _next: str) -> None:
    _two_digits(clock, False, 0, 23, "hour")


def _parse_minute(clock: _Clock, _next: str) -> None:
    _two_digits(clock, True, 0, 59, "minute")


def _parse_nanoseconds(clock: _Clock, width: int) -> None:
    value = clock.rest
    if value[:1] not in (b".", b","):
        clock.bad = True
        return
    fraction = _atoi(value[1:min(width, 10)])
    if fraction is None:
        clock.bad = True
    elif fraction < 0:
        clock.out_of_range = "fractional second"


def _parse_second(clock: _Clock, next_element: str) -> None:
    _two_digits(clock, True, 0, 59, "second")
    value = clock.rest
    if clock.bad or clock.out_of_range or next_element in _FRACTION_ELEMENTS:
        return
    # A fraction the layout does not mention is accepted after the seconds, as Go does for RFC 3339.
    if len(value) >= 2 and value[:1] in (b".", b",") and _is_digit(value, 1):
        width = 2
        while _is_digit(value, width):
            width += 1
        _parse_nanoseconds(clock, width)
        clock.rest = value[width:]


def _parse_fraction(clock: _Clock, _next: str) -> None:
    width = len(".000000")  # the separator and six digits
    if len(clock.rest) < width:
        clock.bad = True
        return
    _parse_nanoseconds(clock, width)
    clock.rest = clock.rest[width:]


def _parse_zone(clock: _Clock, _next: str) -> None:
    value = clock.rest
    if value[:1] == b"Z":
        clock.rest = value[1:]
        return
    if len(value) < 6 or value[3] != ord(":"):
        clock.bad = True
        return
    sign, hours, minutes, clock.rest = value[:1], value[1:3], value[4:6], value[6:]
    parsed_hours = _getnum(hours, True)
    parsed_minutes = _getnum(minutes, True) if parsed_hours else None
    if parsed_hours and parsed_hours[0] > 24:  # Go allows offsets of exactly 24 hours or 60 minutes
        clock.out_of_range = "time zone offset hour"
    if parsed_minutes and parsed_minutes[0] > 60:
        clock.out_of_range = "time zone offset minute"
    clock.bad = parsed_hours is None or parsed_minutes is None or sign not in (b"+", b"-")


_ELEMENT_PARSERS = {"2006": _parse_year, "01": _parse_month, "02": _parse_day, "15": _parse_hour,
                    "04": _parse_minute, "05": _parse_second, ".000000": _parse_fraction, "Z07:00": _parse_zone}


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def time_error(text: str, layout: str = RFC3339) -> str | None:
    """The error Go's ``time.Parse(layout, text)`` returns for an RFC 3339 layout, or None if it parses."""
    original = _as_go_string(text).encode()
    clock = _Clock(original)
    chunks = _LAYOUT_CHUNKS[layout]

    def cannot_parse(value: bytes, element: str) -> str:
        return (f"parsing time {_time_quote(original)} as {_time_quote(layout.encode())}: cannot parse "
                f"{_time_quote(value)} as {_time_quote(element.encode())}")

    for index, (literal, element) in enumerate(chunks):
        for expected in literal.encode():
            if not clock.rest or clock.rest[0] != expected:
                return cannot_parse(clock.rest, literal)
            clock.rest = clock.rest[1:]
        hold = clock.rest
        next_element = chunks[index + 1][1] if index + 1 < len(chunks) else ""
        _ELEMENT_PARSERS[element](clock, next_element)
        if clock.out_of_range:
            return f"parsing time {_time_quote(original)}: {clock.out_of_range} out of range"
        if clock.bad:
            return cannot_parse(hold, element)
    if clock.rest:
        return f"parsing time {_time_quote(original)}: extra text: {_time_quote(clock.rest)}"
    if not 1 <= clock.day <= _days_in(clock.month, clock.year):
        return f"parsing time {_time_quote(original)}: day out of range"
    return None


# ------------------------------------------------------------------------------------------ quantities

QUANTITY_FORMAT_ERROR = ("quantities must match the regular expression "
                         "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix"
QUANTITY_NUMERIC_ERROR = "unable to parse numeric part of quantity"
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_INT64_MAX = 2**63 - 1
# Go's unicode.IsSpace, which strings.TrimSpace strips.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")


def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _scan_quantity(text: str) -> tuple[str, str, str, str] | None:
    """apimachinery's parseQuantityString: (value, numerator, denominator, suffix), or None when malformed."""
    end = len(text)
    pos = 1 if text[0] in "+-" else 0
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return "0", "0", "", ""
    start = pos
    while pos < end and _is_ascii_digit(text[pos]):
        pos += 1
    numerator = text[start:pos] or "0"
    if pos >= end:
        return text, numerator, "", ""
    denominator = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and _is_ascii_digit(text[pos]):
            pos += 1
        denominator = text[start:pos]
        if pos >= end:
            return text, numerator, denominator, ""
    value, suffix_start = text[:pos], pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and _is_ascii_digit(text[pos]):
        pos += 1
    if pos < end:
        return None  # something after the exponent digits
    return value, numerator, denominator, text[suffix_start:]


def _interpret_suffix(suffix: str) -> tuple[int, int] | None:
    """(base, exponent) of a suffix, or None when apimachinery does not know it."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix]
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix]
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = decimal_exponent(suffix[1:])  # beyond the int32 scale Kubernetes refuses it (#141203)
        if exponent is not None:
            return 10, exponent
    return None


def _needs_decimal_parse(numerator: str, denominator: str, base: int, exponent: int) -> bool:
    """Whether ParseQuantity leaves its int64 fast path and parses the number as an arbitrary decimal."""
    if base == 10:
        precision, scale = 18 - len(numerator) - len(denominator), exponent
        mantissa = 1
    elif exponent >= 0 and not denominator:
        precision, scale = 15 - len(numerator) - exponent * 3 // 10 - 1, 0
        mantissa = 1 << exponent
    else:
        return True
    if precision < 0 or scale - len(denominator) < -9:
        return True
    return int(numerator + denominator) * mantissa > _INT64_MAX


def quantity_error(text: str) -> str | None:
    """The error of resource.Quantity's JSON decoding of ``text``, or None if it is a quantity.

    Cheap whatever the text: the parse that also checks the amount's range is bounded (1e999999999 is refused
    as out of range without being materialised).
    """
    text = text.strip(_GO_SPACE)
    if not text:
        return QUANTITY_FORMAT_ERROR
    scanned = _scan_quantity(text)
    if scanned is None:
        return QUANTITY_FORMAT_ERROR
    value, numerator, denominator, suffix = scanned
    interpreted = _interpret_suffix(suffix)
    if interpreted is None:
        return QUANTITY_SUFFIX_ERROR
    if _needs_decimal_parse(numerator, denominator, *interpreted) and not _DECIMAL.fullmatch(value):
        return QUANTITY_NUMERIC_ERROR
    try:
        parse_quantity(text)  # the amount's range, checked where it is used (see quantity.MAX_INTEGER_DIGITS)
    except QuantityError as error:
        return str(error)
    return None


# ------------------------------------------------------------------------------------------ base64

_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = (0x0A, 0x0D)
_PAD = 0x3D


def _skip_newlines(src: bytes, index: int) -> int:
    while index < len(src) and src[index] in _NEWLINES:
        index += 1
    return index


def _base64_quantum(src: bytes, index: int) -> tuple[int, int | None]:
    """Go's decodeQuantum for padded standard base64: (next index, offset of the bad byte or None)."""
    filled = 0
    while filled < 4:
        if index == len(src):
            return index, None if filled == 0 else index - filled
        byte = src[index]
        index += 1
        if byte in _BASE64_ALPHABET:
            filled += 1
            continue
        if byte in _NEWLINES:
            continue
        if byte != _PAD or filled < 2:
            return index, index - 1
        if filled == 2:  # "==" expected: the first "=" has been read
            index = _skip_newlines(src, index)
            if index == len(src):
                return index, len(src)
            if src[index] != _PAD:
                return index, index - 1
            index += 1
        index = _skip_newlines(src, index)
        return index, index if index < len(src) else None  # anything after the padding is garbage
    return index, None


def base64_error(text: str) -> str | None:
    """The error Go's base64.StdEncoding gives decoding ``text`` into a []byte field, or None."""
    src = _as_go_string(text).encode()
    index = 0
    while index < len(src):
        index, bad = _base64_quantum(src, index)
        if bad is not None:
            return f"illegal base64 data at input byte {bad}"
    return None


# ------------------------------------------------------------------------------------------ the walk


@dataclass(frozen=True)
class FieldReport:
    """What decoding an object into its kind's Go types finds.

    ``strict_errors`` are the messages kube-apiserver reports for unknown and repeated fields, in document
    order; ``decode_error`` is the error that makes the decode itself fail (the first type error, or one the
    decoder cannot skip), regardless of field validation.
    """

    unknown_fields: tuple[str, ...] = ()
    duplicate_fields: tuple[str, ...] = ()
    strict_errors: tuple[str, ...] = ()
    type_errors: tuple[str, ...] = ()
    decode_error: str | None = None
    # Where the unknown fields are (the object holding each, and its key): the typed decode drops them.
    unknown_at: tuple[tuple[dict[str, Any], str], ...] = dataclass_field(default=(), compare=False, repr=False)

    def drop_unknown_fields(self) -> None:
        for holder, key in self.unknown_at:
            holder.pop(key, None)

    @property
    def ok(self) -> bool:
        return not self.strict_errors and self.decode_error is None


class _Stop(Exception):
    """An error Go's decoder returns at once (from a custom UnmarshalJSON), ending the decode."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_INTEGER_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1), "uint8": (0, 255)}
_UINT8 = Scalar("uint8", "uint8")


def _json_kind(value: Any) -> str:
    """How Go's json errors name the JSON value found."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _repeated_pairs(obj: dict[str, Any]) -> list[tuple[str, Any]] | None:
    return getattr(obj, "pairs", None)


class _Walker:
    """Walks a decoded JSON value against a type, recording what Go's strict decoder would say about it."""

    def __init__(self) -> None:
        self.path: list[str] = []  # segments of the strict-error path: ".spec", ".containers", "[0]"
        self.go_fields: list[str] = []  # Go's error context: the struct fields entered, embedded ones included
        self.go_struct = ""  # Go's error context: the struct the innermost field belongs to
        self.strict: list[tuple[str, str]] = []  # ("unknown" | "duplicate", path)
        self.unknown_at: list[tuple[dict[str, Any], str]] = []
        self.strict_seen: set[tuple[str, str]] = set()
        self.type_errors: list[str] = []

    # -- recording

    def strict_error(self, what: str, key: str) -> None:
        path = "".join(self.path)[1:] + "." + key if self.path else key
        entry = (what, path)
        if len(self.strict) < _MAX_STRICT_ERRORS and entry not in self.strict_seen:
            self.strict_seen.add(entry)
            self.strict.append(entry)

    def type_message(self, found: str, go_type: str) -> str:
        if self.go_struct or self.go_fields:
            return (f"json: cannot unmarshal {found} into Go struct field "
                    f"{self.go_struct}.{'.'.join(self.go_fields)} of type {go_type}")
        return f"json: cannot unmarshal {found} into Go value of type {go_type}"

    def mismatch(self, value: Any, go_type: str) -> None:
        self.type_errors.append(self.type_message(_json_kind(value), go_type))

    def stop(self, message: str) -> None:
        self.type_errors.append(message)
        raise _Stop(message)

    # -- values

    def value(self, value: Any, t: typeschema.FieldType) -> None:
        if value is None:
            return  # null decodes to the zero value of any type
        if isinstance(t, Struct):
            self.struct(value, t)
        elif isinstance(t, ListOf):
            self.list(value, t)
        elif isinstance(t, MapOf):
            self.map(value, t)
        else:
            _SCALAR_CHECKS[t.kind](self, value, t)

    def struct(self, obj: Any, t: Struct) -> None:
        if not isinstance(obj, dict):
            self.mismatch(obj, t.go_name)
            return
        pairs = _repeated_pairs(obj)
        seen: set[str] = set()
        outer_struct, outer_depth = self.go_struct, len(self.go_fields)
        for key, value in pairs if pairs is not None else obj.items():
            field = t.fields.get(key)
            if field is None:
                self.strict_error("unknown", key)  # Go skips the value of an unknown field entirely
                self.unknown_at.append((obj, key))
                continue
            if pairs is not None:
                if key in seen:
                    self.strict_error("duplicate", key)
                seen.add(key)
            self.path.append("." + key)
            self.go_fields.extend((*field.via, key))
            self.go_struct = t.name
            self.value(value, field.type)
            self.go_struct = outer_struct
            del self.go_fields[outer_depth:]
            self.path.pop()

    def list(self, items: Any, t: ListOf) -> None:
        if not isinstance(items, list):
            self.mismatch(items, t.go_name)
            return
        for index, item in enumerate(items):
            self.path.append(f"[{index}]")
            self.value(item, t.item)
            self.path.pop()

    def map(self, obj: Any, t: MapOf) -> None:
        if not isinstance(obj, dict):
            self.mismatch(obj, t.go_name)
            return
        pairs = _repeated_pairs(obj)
        seen: set[str] = set()
        for key, value in pairs if pairs is not None else obj.items():
            if pairs is not None:
                if key in seen:
                    self.strict_error("duplicate", key)
                seen.add(key)
            self.path.append("." + key)
            self.value(value, t.value)
            self.path.pop()

    # -- scalars

    def string(self, value: Any, t: Scalar) -> None:
        if not isinstance(value, str):
            self.mismatch(value, t.go_name)

    def boolean(self, value: Any, t: Scalar) -> None:
        if not isinstance(value, bool):
            self.mismatch(value, t.go_name)

    def integer(self, value: Any, t: Scalar) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.mismatch(value, t.go_name)
            return
        low, high = _INTEGER_RANGES[t.kind]
        if isinstance(value, float) or not low <= value <= high:
            self.type_errors.append(self.type_message(f"number {_number_text(value)}", t.go_name))

    def number(self, value: Any, t: Scalar) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.mismatch(value, t.go_name)

    def int_or_string(self, value: Any, t: Scalar) -> None:
        # IntOrString.UnmarshalJSON decodes a non-string into an int32 and returns the error straight away.
        if isinstance(value, str):
            return
        found = _json_kind(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            low, high = _INTEGER_RANGES["int32"]
            if isinstance(value, int) and low <= value <= high:
                return
            found = f"number {_number_text(value)}"
        self.stop(self.type_message(found, "int32"))

    def quantity(self, value: Any, t: Scalar) -> None:
        if isinstance(value, str):
            error = quantity_error(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            error = QUANTITY_FORMAT_ERROR  # Quantity.UnmarshalJSON parses the raw JSON text
        else:
            error = quantity_error(_number_text(value))
        if error:
            self.stop(error)

    def timestamp(self, value: Any, t: Scalar) -> None:
        if not isinstance(value, str):
            self.stop(self.type_message(_json_kind(value), "string"))  # Time.UnmarshalJSON wants a string
            return
        error = time_error(value, RFC3339_MICRO if t.kind == "microtime" else RFC3339)
        if error:
            self.stop(error)

    def byte_string(self, value: Any, t: Scalar) -> None:
        if isinstance(value, str):
            error = base64_error(value)
            if error:
                self.type_errors.append(error)
        elif isinstance(value, list):
            self.list(value, ListOf(_UINT8, t.go_name))  # Go also decodes a []byte from a list of numbers
        else:
            self.mismatch(value, t.go_name)

    def free_form(self, value: Any, t: Scalar) -> None:
        """Kept verbatim (metav1.FieldsV1): anything goes."""


_SCALAR_CHECKS = {
    "string": _Walker.string,
    "bool": _Walker.boolean,
    "int32": _Walker.integer,
    "int64": _Walker.integer,
    "uint8": _Walker.integer,
    "float64": _Walker.number,
    "intstr": _Walker.int_or_string,
    "quantity": _Walker.quantity,
    "time": _Walker.timestamp,
    "microtime": _Walker.timestamp,
    "bytes": _Walker.byte_string,
    "raw": _Walker.free_form,
}


def check_fields(kind_or_type: str, obj: Any) -> FieldReport:
    """Walk ``obj`` against the Go types of a kind (``Deployment``) or type (``PodSpec``, ``core.EndpointPort``).

    Repeated keys are only seen in objects parsed by ``loads_checking_duplicates``. Raises KeyError for a
    name ``typeschema`` does not know.
    """
    walker = _Walker()
    stopped = None
    try:
        walker.value(obj, typeschema.find_type(kind_or_type))
    except _Stop as stop:
        stopped = stop.message
    strict = walker.strict
    return FieldReport(
        unknown_fields=tuple(path for what, path in strict if what == "unknown"),
        duplicate_fields=tuple(path for what, path in strict if what == "duplicate"),
        strict_errors=tuple(f"{what} field {go_quote(path)}" for what, path in strict),
        type_errors=tuple(walker.type_errors),
        decode_error=stopped if stopped is not None else next(iter(walker.type_errors), None),
        unknown_at=tuple(walker.unknown_at),
    )


# ------------------------------------------------------------------------------------------ parsing


class _ObjectWithRepeatedKeys(dict):  # type: ignore[type-arg]
    """A JSON object in which a key appears more than once.

    The dict holds what Go's decoder ends up with (later scalars and lists win, repeated objects merge);
    ``pairs`` keeps every (key, value) in document order for the duplicate-field check.
    """

    __slots__ = ("pairs",)


def _merged(earlier: Any, later: Any) -> Any:
    """Decoding the same key twice into a Go struct or map: objects merge, anything else is replaced."""
    if isinstance(earlier, dict) and isinstance(later, dict):
        out = dict(earlier)
        for key, value in later.items():
            out[key] = _merged(out[key], value) if key in out else value
        return out
    return later


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    merged = _ObjectWithRepeatedKeys()
    for key, value in pairs:
        merged[key] = _merged(merged[key], value) if key in merged else value
    merged.pairs = pairs
    return merged


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON literal {name}")


def loads_checking_duplicates(data: bytes | str) -> Any:
    """Parse JSON like ``json.loads``, keeping track of repeated keys for ``check_fields``.

    Slower than orjson; meant for requests that ask for fieldValidation=Strict. Raises ValueError on bad JSON
    (including NaN and Infinity, which Go rejects).
    """
    return json.loads(data, object_pairs_hook=_object_from_pairs, parse_constant=_reject_constant)


# ------------------------------------------------------------------------------------------ validation


def _version_of(kind: str, obj: Any) -> str:
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    if isinstance(api_version, str) and api_version:
        return api_version.rpartition("/")[2]
    info = typeschema.KINDS.get(kind)
    return info.version if info else "v1"


def _go_json(obj: Any) -> str:
    """Go's json.Marshal of decoded JSON: compact, keys sorted, <, > and & escaped."""
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _undecodable(kind: str, obj: Any, error: str, request: str) -> ApiError:
    if request == "patch":
        # A patched object that does not decode is reported as an invalid "patch" field (422).
        cause = f"Invalid value: {go_quote(_go_json(obj))}: {error}"
        return ApiError(422, f' "" is invalid: patch: {cause}', "Invalid",
                        {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "patch"}]})
    return ApiError(400, f'{kind} in version "{_version_of(kind, obj)}" cannot be handled as a {kind}: {error}',
                    "BadRequest")


def apply_field_validation(kind: str, obj: Any, mode: str, *,
                           request: Literal["body", "patch"] = "body") -> list[str]:
    """Check ``obj`` as kube-apiserver decodes a body of ``kind``; return the warnings to send.

    ``mode`` is the request's fieldValidation (an empty string means the default, Warn). An object that does
    not decode is an ApiError in every mode; unknown and repeated fields raise a 400 under Strict, come back as
    warnings (``unknown field "spec.foo"``) under Warn, and are dropped under Ignore. ``request="patch"``
    words the errors the way kube-apiserver does for an object produced by a JSON or merge patch.
    """
    if mode not in (*FIELD_VALIDATION_MODES, ""):
        raise ValueError(f"fieldValidation must be one of {FIELD_VALIDATION_MODES}, not {mode!r}")
    report = check_fields(kind, obj)
    if report.decode_error is not None:
        raise _undecodable(kind, obj, report.decode_error, request)
    if mode != "Strict":
        report.drop_unknown_fields()  # as the decode into Go structs does: they are never stored
    if not report.strict_errors or mode == "Ignore":
        return []
    if mode != "Strict":
        return list(report.strict_errors)
    message = "strict decoding error: " + ", ".join(report.strict_errors)
    if request == "body":
        message = f'{kind} in version "{_version_of(kind, obj)}" cannot be handled as a {kind}: {message}'
    raise ApiError(400, message, "BadRequest")
