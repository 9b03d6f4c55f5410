"""Numbers and lesion sizes: exact conversion, plausibility limits on both sides, clear errors."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.errors import InputError
from lungtrack.parsing.numbers import parse_number, parse_size_mm

# ----------------------------------------------------------------------------- parse_number


@pytest.mark.parametrize(
    "text, expected",
    [("7.4", 7.4), ("  7.4 ", 7.4), ("0", 0.0), ("-0", 0.0), (".5", 0.5), ("5.", 5.0), ("+3", 3.0), ("1e3", 1000.0),
     (7.4, 7.4), (3, 3.0)],
)
def test_parse_number_accepts(text, expected: float) -> None:
    result = parse_number(text, field="value")
    assert result == expected
    assert isinstance(result, float)


def test_negative_zero_is_normalised() -> None:
    assert math.copysign(1.0, parse_number("-0", field="value")) == 1.0


@pytest.mark.parametrize(
    "text",
    ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "", "  ", "abc", "7.4.1", "1_000", "7 4", "0x10", float("nan"),
     float("inf"), True, None],
)
def test_parse_number_rejects(text) -> None:
    with pytest.raises(InputError) as err:
        parse_number(text, field="--vaf")
    assert err.value.field == "--vaf"
    assert err.value.message.startswith("--vaf: ")
    assert "\n" not in err.value.message


@pytest.mark.parametrize("text, hint", [("7,4", "7.4"), ("1,234", "1.234 or 1234"), ("1,234,567", "1234567")])
def test_decimal_comma_refused_with_hint(text: str, hint: str) -> None:
    with pytest.raises(InputError) as err:
        parse_number(text, field="value")
    assert "comma" in err.value.message
    assert f"e.g. {hint}." in err.value.message


def test_range_is_inclusive_on_both_sides() -> None:
    assert parse_number("0", field="v", minimum=0, maximum=100) == 0.0
    assert parse_number("100", field="v", minimum=0, maximum=100) == 100.0
    with pytest.raises(InputError) as low:
        parse_number("-0.01", field="v", minimum=0, maximum=100)
    with pytest.raises(InputError) as high:
        parse_number("100.01", field="v", minimum=0, maximum=100)
    for err in (low, high):
        assert "expected a number from 0 to 100" in err.value.message


def test_range_compares_typed_decimal_exactly() -> None:
    # The bound is compared as the decimal that was typed: "0.3" equals a 0.3 maximum,
    # anything typed above it is refused, however small the excess.
    assert parse_number("0.3", field="v", maximum=0.3) == 0.3
    with pytest.raises(InputError):
        parse_number("0.3000001", field="v", maximum=0.3)


def test_one_sided_ranges() -> None:
    assert parse_number("5", field="v", minimum=5) == 5.0
    with pytest.raises(InputError) as err:
        parse_number("4.9", field="v", minimum=5)
    assert "at least 5" in err.value.message
    with pytest.raises(InputError) as err:
        parse_number("5.1", field="v", maximum=5)
    assert "at most 5" in err.value.message


def test_allow_zero_false() -> None:
    assert parse_number("0.001", field="v", allow_zero=False) == 0.001
    with pytest.raises(InputError) as err:
        parse_number("0", field="v", allow_zero=False)
    assert "zero" in err.value.message


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_round_trips_any_finite_float(x: float) -> None:
    assert parse_number(repr(x), field="v") == (0.0 if x == 0 else x)


# ----------------------------------------------------------------------------- parse_size_mm


@pytest.mark.parametrize(
    "text, mm",
    [
        ("3.2 cm", 32.0),
        ("3.2cm", 32.0),
        ("3.2 CM", 32.0),
        ("3.2 centimetres", 32.0),
        ("32 mm", 32.0),
        ("32mm", 32.0),
        ("32", 32.0),
        ("0.9 cm", 9.0),
        ("2.55 cm", 25.5),
        ("1.05 cm", 10.5),
        ("12.25 mm", 12.3),  # half-up to 0.1 mm
        ("12.24 mm", 12.2),
        (32, 32.0),
        (3.2, 3.2),
    ],
)
def test_size_accepts(text, mm: float) -> None:
    assert parse_size_mm(text, field="size") == mm


def test_size_cm_to_mm_has_no_float_artefact() -> None:
    # In binary floats 0.14 * 10 == 1.4000000000000001 and 0.18 * 10 == 1.7999999999999998.
    assert 0.14 * 10 != 1.4 and 0.18 * 10 != 1.8  # the hazard the parser must avoid
    assert repr(parse_size_mm("0.14 cm", field="size")) == "1.4"
    assert repr(parse_size_mm("0.18 cm", field="size")) == "1.8"
    assert repr(parse_size_mm("2.33 cm", field="size")) == "23.3"


def test_default_unit_cm() -> None:
    assert parse_size_mm("3.2", field="size", default_unit="cm") == 32.0
    assert parse_size_mm("32 mm", field="size", default_unit="cm") == 32.0
    with pytest.raises(ValueError):
        parse_size_mm("3", field="size", default_unit="in")


def test_size_lower_bound_both_sides() -> None:
    assert parse_size_mm("1 mm", field="size") == 1.0
    assert parse_size_mm("0.1 cm", field="size") == 1.0
    with pytest.raises(InputError) as err:
        parse_size_mm("0.99 mm", field="size")
    assert "too small" in err.value.message  # points at the RECIST status instead
    with pytest.raises(InputError):
        parse_size_mm("0.96", field="size")  # checked before rounding: not rounded up to 1.0


def test_size_upper_bound_both_sides() -> None:
    assert parse_size_mm("300 mm", field="size") == 300.0
    assert parse_size_mm("30 cm", field="size") == 300.0
    with pytest.raises(InputError) as err:
        parse_size_mm("300.01", field="size")
    assert "implausible" in err.value.message
    with pytest.raises(InputError):
        parse_size_mm("30.1 cm", field="size")


def test_size_limits_configurable() -> None:
    assert parse_size_mm("400", field="size", max_mm=500) == 400.0
    with pytest.raises(InputError):
        parse_size_mm("2", field="size", min_mm=2.5)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("3 in", "unknown unit 'in'"),
        ("3 inches", "unknown unit"),
        ("3.2 m", "unknown unit 'm'"),
        ("-3 mm", "negative"),
        ("0", "zero"),
        ("0 cm", "zero"),
        ("3,2 cm", "comma"),
        ("cm", "is not valid"),
        ("", "is not valid"),
        ("nan mm", "is not valid"),
    ],
)
def test_size_rejects(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        parse_size_mm(text, field="--size")
    assert fragment in err.value.message
    assert err.value.message.startswith("--size: ")
    assert "\n" not in err.value.message


def test_comma_size_error_quotes_the_whole_text() -> None:
    with pytest.raises(InputError) as err:
        parse_size_mm("3,2 cm", field="size")
    assert "'3,2 cm'" in err.value.message
    assert err.value.value == "3,2 cm"


@given(st.integers(min_value=10, max_value=3000))
def test_mm_and_cm_round_trip(tenths: int) -> None:
    """Every size from 1.0 to 300.0 mm in 0.1 mm steps reads the same in mm and in cm."""
    expected = tenths / 10
    mm_text = f"{tenths // 10}.{tenths % 10} mm"
    cm_text = f"{tenths // 100}.{tenths % 100:02d} cm"
    assert parse_size_mm(mm_text, field="size") == expected
    assert parse_size_mm(cm_text, field="size") == expected


# ----------------------------------------------------------------------------- purity


def test_parsing_and_knowledge_do_not_import_heavy_modules() -> None:
    code = (
        "import sys, lungtrack.parsing, lungtrack.knowledge.markers, lungtrack.knowledge.variants;"
        "bad = [m for m in ('sqlalchemy', 'sqlmodel', 'typer', 'rich') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
