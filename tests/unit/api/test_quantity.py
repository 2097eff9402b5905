"""Resource quantities: parsing, exact amounts and the canonical strings Kubernetes stores."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.services.api.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    FORMAT_ERROR,
    NUMERIC_ERROR,
    SUFFIX_ERROR,
    Quantity,
    QuantityError,
    canonical,
    format_quantity,
    parse_quantity,
)

# (written, canonical form Kubernetes returns, format it keeps) — resource.Quantity's own test expectations.
CANONICAL = [
    ("0", "0", DECIMAL_SI),
    ("100m", "100m", DECIMAL_SI),
    ("1000m", "1", DECIMAL_SI),
    ("1500m", "1500m", DECIMAL_SI),
    ("0.5", "500m", DECIMAL_SI),
    ("1.5", "1500m", DECIMAL_SI),
    ("1000", "1k", DECIMAL_SI),
    ("1500", "1500", DECIMAL_SI),
    ("2000000", "2M", DECIMAL_SI),
    ("1E", "1E", DECIMAL_SI),
    ("0.0000000001", "1n", DECIMAL_SI),  # finer than nano rounds up, never down to nothing
    ("1.", "1", DECIMAL_SI),
    ("+5", "5", DECIMAL_SI),
    ("-100m", "-100m", DECIMAL_SI),
    ("1Ki", "1Ki", BINARY_SI),
    ("1024Mi", "1Gi", BINARY_SI),
    ("1.5Gi", "1536Mi", BINARY_SI),
    ("0.5Gi", "512Mi", BINARY_SI),
    ("2048Ki", "2Mi", BINARY_SI),
    ("8148932Ki", "8148932Ki", BINARY_SI),
    ("1536", "1536", DECIMAL_SI),
    ("-2Gi", "-2Gi", BINARY_SI),
    ("1e3", "1e3", DECIMAL_EXPONENT),
    ("1E3", "1e3", DECIMAL_EXPONENT),
    ("1e+3", "1e3", DECIMAL_EXPONENT),
    ("1.5e3", "1500", DECIMAL_EXPONENT),
    ("12e-3", "12e-3", DECIMAL_EXPONENT),
    ("129e6", "129e6", DECIMAL_EXPONENT),
]


@pytest.mark.parametrize(("written", "shown", "fmt"), CANONICAL)
def test_canonical_form(written: str, shown: str, fmt: str) -> None:
    quantity = parse_quantity(written)
    assert format_quantity(quantity) == shown
    assert quantity.format == fmt
    assert str(quantity) == shown


@pytest.mark.parametrize(("written", "value"), [
    ("100m", Fraction(1, 10)),
    ("1Gi", Fraction(2**30)),
    ("1e3", Fraction(1000)),
    ("0.5", Fraction(1, 2)),
    ("1.5Ki", Fraction(1536)),
    ("3u", Fraction(3, 10**6)),
    ("  2  ", Fraction(2)),
    ("m", Fraction(0)),  # Go reads an empty number as zero
])
def test_exact_amounts(written: str, value: Fraction) -> None:
    assert parse_quantity(written).value == value


@pytest.mark.parametrize(("written", "message"), [
    ("", FORMAT_ERROR),
    ("abc", FORMAT_ERROR),
    ("1.2.3", FORMAT_ERROR),
    ("1 Gi", FORMAT_ERROR),
    ("1e", SUFFIX_ERROR),
    ("1Ki3", SUFFIX_ERROR),
    ("1KB", FORMAT_ERROR),
    ("5x", FORMAT_ERROR),
])
def test_rejected_with_kubernetes_messages(written: str, message: str) -> None:
    with pytest.raises(QuantityError) as error:
        parse_quantity(written)
    assert str(error.value) == message


def test_binary_amounts_below_one_print_in_decimal_and_huge_ones_are_capped() -> None:
    half = parse_quantity("0.5Ki")
    assert half.format == BINARY_SI and format_quantity(half) == "512"
    tiny = parse_quantity("0.0001Ki")
    assert tiny.format == DECIMAL_SI and format_quantity(tiny) == "102400u"
    assert parse_quantity("1024Ei").value == 2**63 - 1


def test_equality_and_order_compare_amounts_not_spelling() -> None:
    assert parse_quantity("1Gi") == parse_quantity("1073741824")
    assert parse_quantity("1") == parse_quantity("1000m")
    assert parse_quantity("999m") < parse_quantity("1")
    assert max(parse_quantity(q) for q in ("1Mi", "1M", "1000Ki")) == parse_quantity("1Mi")
    assert len({parse_quantity("1"), parse_quantity("1000m")}) == 1


def test_scaled_values_round_away_from_zero() -> None:
    assert parse_quantity("100m").value_int() == 1
    assert parse_quantity("1500m").value_int() == 2
    assert parse_quantity("1").milli_value() == 1000
    assert parse_quantity("1n").milli_value() == 1
    assert parse_quantity("-1n").milli_value() == -1
    assert parse_quantity("1Gi").scaled_value(6) == 1074  # 1073.741824 M rounds up
    assert format_quantity(parse_quantity("1n").rounded_up(-3)) == "1m"


def test_arithmetic_keeps_the_left_format() -> None:
    total = parse_quantity("1Gi") + parse_quantity("512Mi")
    assert format_quantity(total) == "1536Mi"
    assert format_quantity(parse_quantity("1") - parse_quantity("250m")) == "750m"
    assert format_quantity(-parse_quantity("2Gi")) == "-2Gi"
    assert format_quantity(Quantity(Fraction(1, 3))) == "333333334n"  # finer than nano rounds up when printed


_DECIMAL_EXPONENTS = st.integers(min_value=-9, max_value=18)
_MANTISSAS = st.integers(min_value=-(10**12), max_value=10**12)


@st.composite
def quantities(draw: st.DrawFn) -> Quantity:
    fmt = draw(st.sampled_from([DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT]))
    if fmt == BINARY_SI:
        # BinarySI amounts are capped at the largest int64, so stay below it.
        value = Fraction(draw(st.integers(min_value=-(10**9), max_value=10**9))) * 1024 ** draw(
            st.integers(min_value=0, max_value=3))
    else:
        value = Fraction(draw(_MANTISSAS)) * Fraction(10) ** draw(_DECIMAL_EXPONENTS)
    return Quantity(value, fmt)


@given(quantities())
def test_canonical_strings_parse_back_to_the_same_amount(quantity: Quantity) -> None:
    shown = format_quantity(quantity)
    again = parse_quantity(shown)
    assert again.value == quantity.value
    if quantity.format != BINARY_SI or quantity.value % 1024 == 0:
        assert format_quantity(again) == shown  # canonical is a fixed point...


def test_binary_amounts_without_a_binary_suffix_print_plainly() -> None:
    # ...except, as in Kubernetes, a BinarySI amount that is no multiple of 1024 prints without a suffix and
    # reads back as DecimalSI.
    odd = Quantity(Fraction(15625000), BINARY_SI)
    assert format_quantity(odd) == "15625000"
    assert canonical(format_quantity(odd)) == "15625k"


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=999),
       st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi"]))
def test_written_decimals_parse_exactly(whole: int, thousandths: int, suffix: str) -> None:
    written = f"{whole}.{thousandths:03d}{suffix}"
    scale = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9,
             "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}[suffix]
    expected = (whole + Fraction(thousandths, 1000)) * scale
    assert parse_quantity(written).value == expected
    assert canonical(canonical(written)) == canonical(written)


# ------------------------------------------------------------------------------------------------ range
@pytest.mark.parametrize("written", ["1e9999999", "1e2147483647", "1e309", "10e308", "1e4294967297",
                                     "1e99999999999999999999", "1e" + "9" * 5000])
def test_exponents_out_of_range_fail_fast_with_the_suffix_error(written: str) -> None:
    started = time.perf_counter()
    with pytest.raises(QuantityError) as error:
        parse_quantity(written)
    assert str(error.value) == SUFFIX_ERROR
    assert time.perf_counter() - started < 0.05


def test_numerals_out_of_range_fail_fast_with_the_numeric_error() -> None:
    with pytest.raises(QuantityError) as error:
        parse_quantity("1" * 5000)
    assert str(error.value) == NUMERIC_ERROR


@pytest.mark.parametrize(("written", "shown"), [
    ("1e308", "100e306"),
    ("1e-2147483647", "1e-9"),  # anything finer than a nano-unit is one nano-unit, however small
    ("-1e-2147483647", "-1e-9"),
    ("0e2147483647", "0"),  # zero is exact whatever its exponent
    ("1e" + "0" * 5000 + "3", "1e3"),
    ("0." + "0" * 5000 + "1", "1n"),
    ("1." + "0" * 5000 + "1", "1000000001n"),
    ("1." + "0" * 5000 + "1Ki", "1024000000001n"),
    ("99999999999999999999999Ei", "9223372036854775807"),
    ("1000E", "1e21"),  # DecimalSI has no suffix past E: Kubernetes prints an exponent
])
def test_extreme_but_valid_quantities_parse_quickly(written: str, shown: str) -> None:
    started = time.perf_counter()
    assert format_quantity(parse_quantity(written)) == shown
    assert time.perf_counter() - started < 0.05


@given(st.integers(min_value=0, max_value=10**40), st.integers(min_value=1, max_value=80),
       st.sampled_from(["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "", "e-20", "e5"]))
def test_long_decimals_round_exactly(numerator: int, places: int, suffix: str) -> None:
    """Dropping the digits past those that reach a nano-unit never changes the rounded amount."""
    digits = str(numerator).rjust(places + 1, "0")
    written = f"{digits[:-places]}.{digits[-places:]}{suffix}"
    exact = Fraction(numerator, 10**places) * {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
                                                "Ei": 2**60, "": 1, "e-20": Fraction(1, 10**20),
                                                "e5": 10**5}[suffix]
    expected = Fraction(-(-exact.numerator * 10**9 // exact.denominator), 10**9)
    if suffix.endswith("i"):
        expected = min(expected, Fraction(2**63 - 1))
    assert parse_quantity(written).value == expected
