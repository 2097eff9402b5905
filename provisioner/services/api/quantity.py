"""Resource quantities (``100m``, ``1Gi``, ``1e3``, ``0.5``) with the parsing, exactness and canonical printing of
apimachinery's ``resource.Quantity``.

A quantity is an exact rational number plus the format it was written in: DecimalSI (``m``, ``k``, ``M``, …),
BinarySI (``Ki``, ``Mi``, …) or DecimalExponent (``e3``). Parsing rounds values finer than a nano-unit up (away from
zero), so nothing asked for is ever rounded to nothing. Printing gives the canonical form Kubernetes stores and
returns: ``1000m`` → ``1``, ``0.5`` → ``500m``, ``1024Mi`` → ``1Gi``, ``1.5Gi`` → ``1536Mi``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import total_ordering

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"

FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
SUFFIX_ERROR = "unable to parse quantity's suffix"
NUMERIC_ERROR = "unable to parse numeric part of quantity"

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL_SUFFIXES.items()}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_BINARY_BY_POWER = {power // 10: suffix for suffix, power in _BINARY_SUFFIXES.items()}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_NANO = -9
# BinarySI quantities are capped at the largest int64, as Kubernetes does.
_BINARY_MAX = Fraction(2**63 - 1)
# Kubernetes keeps a quantity's decimal scale in an int32: a decimal exponent beyond it is a suffix it cannot
# parse (apimachinery #141203).
MAX_EXPONENT = 2**31 - 1
# Within that, amounts of 10^309 and more (past float64, the range AsApproximateFloat64 and CEL work in) are
# refused as out of range: holding them exactly — as Kubernetes' rounding to nano-units does — costs time and
# memory that grow with the exponent, so "1e999999999" would stall the server (kube-apiserver's too).
MAX_INTEGER_DIGITS = 309


class QuantityError(ValueError):
    """A string that is not a quantity; the message is apimachinery's."""


@total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact amount and the format it prints in. Equality and order compare amounts only."""

    value: Fraction
    format: str = DECIMAL_SI

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self.value == other.value
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __str__(self) -> str:
        return format_quantity(self)

    def __add__(self, other: Quantity) -> Quantity:
        # Like Quantity.Add: the receiver's format wins.
        return Quantity(self.value + other.value, self.format)

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self.format)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.format)

    def is_zero(self) -> bool:
        return self.value == 0

    def scaled_value(self, scale: int) -> int:
        """The amount in units of 10^scale, rounded away from zero (Quantity.ScaledValue)."""
        return _round_away_from_zero(self.value / Fraction(10) ** scale)

    def value_int(self) -> int:
        """Whole units, rounded away from zero (Quantity.Value)."""
        return self.scaled_value(0)

    def milli_value(self) -> int:
        """Thousandths, rounded away from zero (Quantity.MilliValue) — how the scheduler counts CPU."""
        return self.scaled_value(-3)

    def rounded_up(self, scale: int) -> Quantity:
        """The amount rounded away from zero to a multiple of 10^scale (Quantity.RoundUp)."""
        unit = Fraction(10) ** scale
        return Quantity(_round_away_from_zero(self.value / unit) * unit, self.format)


def _round_away_from_zero(value: Fraction) -> int:
    magnitude = math.ceil(abs(value))
    return magnitude if value >= 0 else -magnitude


def _split(text: str) -> tuple[str, str]:
    """Split into the signed number and the suffix the way parseQuantityString scans, or raise."""
    position = 0
    if text[:1] in ("+", "-"):
        position = 1
    while position < len(text) and text[position].isdigit() and text[position].isascii():
        position += 1
    if position < len(text) and text[position] == ".":
        position += 1
        while position < len(text) and text[position].isdigit() and text[position].isascii():
            position += 1
    number, suffix = text[:position], text[position:]
    rest = suffix
    letters = 0
    while letters < len(rest) and rest[letters] in _SUFFIX_CHARS:
        letters += 1
    rest = rest[letters:]
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    if rest and not (rest.isdigit() and rest.isascii()):
        raise QuantityError(FORMAT_ERROR)
    return number, suffix


def _interpret_suffix(suffix: str) -> tuple[int, int, str]:
    """(base, exponent, format) for a suffix, or raise with Kubernetes' message."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        exponent = decimal_exponent(suffix[1:])
        if exponent is not None:
            return 10, exponent, DECIMAL_EXPONENT
    raise QuantityError(SUFFIX_ERROR)


def decimal_exponent(text: str) -> int | None:
    """The exponent of an ``e`` suffix (``3``, ``+3``, ``-12``), or None if Kubernetes cannot parse it: not a
    number, or outside the int32 scale. Checked by length first, so a thousand-digit exponent costs nothing."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isdigit() and digits.isascii()):
        return None
    significant = digits.lstrip("0") or "0"
    if len(significant) > len(str(MAX_EXPONENT)):
        return None
    exponent = -int(significant) if text.startswith("-") else int(significant)
    return exponent if abs(exponent) <= MAX_EXPONENT else None


def _ceil_scaled(digits: str, scale: int) -> int:
    """ceil(int(digits) × 10^scale), reading no more digits than the result has (``digits`` has no leading
    zeros): a numeral with a million decimals costs no more than its first few."""
    if scale >= 0:
        return int(digits) * 10**scale
    kept = len(digits) + scale
    if kept <= 0:
        return 1  # below one unit: rounds up to one
    return int(digits[:kept]) + (1 if digits[kept:].strip("0") else 0)


def _decimal_nanos(whole: str, fraction: str, exponent: int) -> int:
    """|whole.fraction × 10^exponent| in nano-units, rounded up; out of range (see MAX_INTEGER_DIGITS) fails."""
    digits = (whole + fraction).lstrip("0")
    if not digits:
        return 0
    shift = exponent - len(fraction)  # the amount is int(digits) × 10^shift
    if len(digits) + shift > MAX_INTEGER_DIGITS:
        raise QuantityError(NUMERIC_ERROR if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS else SUFFIX_ERROR)
    return _ceil_scaled(digits, shift - _NANO)


def _binary_nanos(whole: str, fraction: str, power: int) -> int:
    """|whole.fraction × 2^power| in nano-units, rounded up (any amount past the BinarySI cap may stand in)."""
    whole = whole.lstrip("0")
    if len(whole) > len(str(_BINARY_MAX.numerator)):
        return (_BINARY_MAX.numerator + 1) * 10**-_NANO  # capped by the caller
    # Decimals past the 9+power-th cannot move the rounded nano-unit, only whether there is a remainder: keep
    # them as one sticky digit.
    fraction = fraction.rstrip("0")
    if len(fraction) > power - _NANO:
        fraction = fraction[:power - _NANO] + "1"
    numerator = int((whole or "0") + fraction) * 2**power * 10**-_NANO
    return -(-numerator // 10 ** len(fraction))


def parse_quantity(text: str) -> Quantity:
    """resource.ParseQuantity: the exact amount of ``text`` (surrounding spaces allowed) and its format. Amounts
    finer than a nano-unit round up (away from zero), so a tiny request is never lost."""
    text = text.strip()
    if not text:
        raise QuantityError(FORMAT_ERROR)
    number, suffix = _split(text)
    base, exponent, fmt = _interpret_suffix(suffix)
    whole, _, fraction = number.lstrip("+-").partition(".")
    nanos = _decimal_nanos(whole, fraction, exponent) if base == 10 else _binary_nanos(whole, fraction, exponent)
    value = Fraction(-nanos if number.startswith("-") else nanos, 10**-_NANO)
    if fmt == BINARY_SI:
        if abs(value) > _BINARY_MAX:
            value = _BINARY_MAX if value > 0 else -_BINARY_MAX
        if 0 < abs(value) < 1:
            fmt = DECIMAL_SI
    return Quantity(value, fmt)


def _decimal_parts(value: Fraction) -> tuple[int, int]:
    """(mantissa, exponent) with value == mantissa × 10^exponent, trailing zeros folded into an exponent that is
    a multiple of 3 — AsCanonicalBytes. Amounts finer than a nano-unit (from arithmetic) round up first."""
    exponent = _NANO
    mantissa = _round_away_from_zero(value * 10**-_NANO)
    while mantissa != 0 and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    while exponent % 3 != 0:
        mantissa *= 10
        exponent -= 1
    return mantissa, exponent


def _binary_parts(value: int) -> tuple[int, int]:
    """(mantissa, power) with value == mantissa × 1024^power, power at most that of ``Ei``."""
    power = 0
    while power < max(_BINARY_BY_POWER) and abs(value) >= 1024 and value % 1024 == 0:
        value //= 1024
        power += 1
    return value, power


def format_quantity(quantity: Quantity | str) -> str:
    """The canonical string Kubernetes stores and returns for a quantity (Quantity.String)."""
    if isinstance(quantity, str):
        quantity = parse_quantity(quantity)
    value, fmt = quantity.value, quantity.format
    if value == 0:
        return "0"
    if fmt == BINARY_SI and (-1024 < value < 1024 or value.denominator != 1):
        # Small or fractional binary amounts print in decimal rather than lose precision.
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        mantissa, power = _binary_parts(int(value))
        return f"{mantissa}{_BINARY_BY_POWER[power] if power else ''}"
    mantissa, exponent = _decimal_parts(value)
    if fmt == DECIMAL_EXPONENT or exponent > max(_DECIMAL_BY_EXPONENT):
        # Past "E" DecimalSI has no suffix: Kubernetes falls back to an exponent ("1000E" prints "1e21").
        return f"{mantissa}e{exponent}" if exponent else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


def canonical(text: str) -> str:
    """Parse and print: ``"1000m"`` → ``"1"``."""
    return format_quantity(parse_quantity(text))
