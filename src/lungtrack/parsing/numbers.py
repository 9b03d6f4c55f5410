"""Numbers and lesion sizes as people type them.

Pure: no I/O.  Every error is an :class:`~lungtrack.errors.InputError` whose one-line message
names the field, the value given and the form expected.

Why so strict:

* A decimal comma (``7,4``) is rejected rather than guessed: ``1,234`` could be 1.234 or 1234,
  and a silent factor of 1000 in a tumour marker is exactly the kind of error this tool must
  not make.
* ``nan``/``inf`` (which ``float()`` happily accepts) and overflowing literals such as
  ``1e999`` are rejected: a non-finite value would poison every later comparison.
* Sizes are converted with :class:`~decimal.Decimal` so that ``3.2 cm`` is exactly ``32.0`` mm,
  not ``32.00000000000001``; the rules compare at exact boundaries (+5.0 mm is PD, +4.99 is not).
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

from lungtrack.errors import InputError

__all__ = [
    "MARKER_VALUE_EXPECTED",
    "MAX_LESION_MM",
    "MIN_LESION_MM",
    "format_number",
    "parse_marker_value",
    "parse_number",
    "parse_size_mm",
]

#: Largest single-lesion size accepted (mm).  Same default as
#: ``PlausibilityConfig.max_lesion_mm``: a 30 cm lesion is beyond anything a follow-up CT of one
#: lesion reports, so a bigger number is almost always a unit slip (mm typed as cm x 10).
MAX_LESION_MM = 300.0
#: Smallest measured size accepted (mm).  Same default as ``PlausibilityConfig.min_lesion_mm``:
#: CT cannot measure below about 1 mm; RECIST 1.1 records "too small to measure" instead.
MIN_LESION_MM = 1.0

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMMA_NUMBER = re.compile(r"[+-]?\d*,\d+|[+-]?\d+(?:,\d{3})+(?:\.\d+)?")

_UNIT_FACTORS_MM: dict[str, Decimal] = {
    "mm": Decimal(1),
    "millimeter": Decimal(1),
    "millimeters": Decimal(1),
    "millimetre": Decimal(1),
    "millimetres": Decimal(1),
    "cm": Decimal(10),
    "centimeter": Decimal(10),
    "centimeters": Decimal(10),
    "centimetre": Decimal(10),
    "centimetres": Decimal(10),
}
_SIZE_TEXT = re.compile(r"(?P<num>[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+))\s*(?P<unit>.*)")
_TENTH = Decimal("0.1")


def format_number(value: float | Decimal) -> str:
    """Shortest plain form of a number for messages: 32.0 -> '32', 3.25 -> '3.25'."""
    d = Decimal(repr(float(value))) if not isinstance(value, Decimal) else value
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a number from {format_number(minimum)} to {format_number(maximum)}"
    if minimum is not None:
        return f"a number of at least {format_number(minimum)}"
    if maximum is not None:
        return f"a number of at most {format_number(maximum)}"
    return "a number such as 7.4 (with a dot as decimal separator)"


def _comma_hint(number: str) -> str:
    whole, _, frac = number.partition(",")
    if "," in frac:
        return number.replace(",", "")
    dotted = f"{whole}.{frac}"
    return f"{dotted} or {whole}{frac}" if len(frac) == 3 else dotted


def _to_decimal(text: str | float | int, field: str, expected: str, shown: object = None) -> Decimal:
    """Exact decimal value of what was typed; rejects commas, words and non-finite values.

    ``shown`` is the full text to quote in messages when ``text`` is only its number part.
    """
    given = text if shown is None else shown
    quoted = _shown(given)
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise InputError(field, given, expected)
    if isinstance(text, (int, float)):
        if isinstance(text, float) and not math.isfinite(text):
            raise InputError(field, given, expected, message=f"{field}: {text} is not a finite number; expected {expected}.")
        return Decimal(repr(text)) if isinstance(text, float) else Decimal(text)
    stripped = text.strip()
    if not stripped:
        raise InputError(field, given, expected, message=f"{field}: no value given; expected {expected}.")
    if _COMMA_NUMBER.fullmatch(stripped):
        raise InputError(
            field,
            given,
            expected,
            message=(
                f"{field}: {quoted} contains a comma, which is ambiguous (decimal comma or thousands "
                f"separator?); expected {expected}, with a dot for decimals and no thousands separator, "
                f"e.g. {_comma_hint(stripped)}."
            ),
        )
    if not _PLAIN_NUMBER.fullmatch(stripped):
        raise InputError(field, given, expected)
    value = Decimal(stripped)
    if not value.is_finite() or not math.isfinite(float(value)):
        raise InputError(field, given, expected, message=f"{field}: {quoted} is too large to be a real value; expected {expected}.")
    return value


def parse_number(
    text: str | float,
    *,
    field: str,
    minimum: float | None = None,
    maximum: float | None = None,
    allow_zero: bool = True,
) -> float:
    """Parse a finite decimal number typed by a person and check it against a plausible range.

    ``minimum`` and ``maximum`` are inclusive.  ``allow_zero=False`` rejects exactly zero (for
    values where zero means "nothing was measured", e.g. a marker concentration that is below
    the assay's limit should be entered as the limit, not as 0).
    """
    expected = _range_text(minimum, maximum)
    value = _to_decimal(text, field, expected)
    result = float(value)
    if result == 0:
        result = 0.0  # normalise -0.0
        if not allow_zero:
            raise InputError(
                field, text, expected, message=f"{field}: {_shown(text)} is zero; expected a value greater than 0."
            )
    below = minimum is not None and value < Decimal(repr(float(minimum)))
    above = maximum is not None and value > Decimal(repr(float(maximum)))
    if below or above:
        raise InputError(
            field,
            text,
            expected,
            message=f"{field}: {_shown(text)} is outside the plausible range; expected {expected}.",
        )
    return result


def parse_size_mm(
    text: str | float,
    *,
    field: str,
    default_unit: str = "mm",
    min_mm: float = MIN_LESION_MM,
    max_mm: float = MAX_LESION_MM,
) -> float:
    """Parse a lesion size (``"3.2 cm"``, ``"32 mm"``, ``"32"``) and return millimetres.

    The result is rounded half-up to 0.1 mm (the precision of a CT report), computed exactly
    so that ``3.2 cm`` gives ``32.0``.  The plausibility limits are checked on the exact value
    *before* rounding, so 0.96 mm is rejected rather than rounded up to an accepted 1.0 mm.
    Zero is rejected here: a lesion that is gone is recorded with the status "disappeared"
    (the lesion-spec parser turns an explicit 0 into that status before calling this).
    """
    unit_default = default_unit.strip().lower()
    if unit_default not in ("mm", "cm"):
        raise ValueError(f"default_unit must be 'mm' or 'cm', not {default_unit!r}")
    expected = "a size in mm or cm, e.g. 32 mm or 3.2 cm"
    if isinstance(text, bool):
        raise InputError(field, text, expected)
    if isinstance(text, (int, float)):
        number = _to_decimal(text, field, expected)
        unit = unit_default
    elif isinstance(text, str):
        match = _SIZE_TEXT.fullmatch(text.strip())
        if match is None:
            raise InputError(field, text, expected)
        number = _to_decimal(match["num"], field, expected, shown=text)
        unit = match["unit"].strip().lower().rstrip(".") or unit_default
    else:
        raise InputError(field, text, expected)
    factor = _UNIT_FACTORS_MM.get(unit)
    if factor is None:
        raise InputError(
            field,
            text,
            expected,
            message=f"{field}: {_shown(text)} has an unknown unit {unit!r}; expected {expected}.",
        )
    mm = number * factor
    if mm < 0:
        raise InputError(field, text, expected, message=f"{field}: {_shown(text)} is negative; expected {expected}.")
    if mm == 0:
        raise InputError(
            field,
            text,
            expected,
            message=f"{field}: {_shown(text)} is zero; expected a size greater than 0 (a lesion that is gone is recorded as disappeared).",
        )
    if mm < Decimal(repr(float(min_mm))):
        raise InputError(
            field,
            text,
            expected,
            message=(
                f"{field}: {_shown(text)} is {format_number(mm)} mm, below {format_number(min_mm)} mm, which CT "
                f"cannot measure reliably; expected at least {format_number(min_mm)} mm (record a lesion that is "
                f"still visible but too small to measure as \"too small\")."
            ),
        )
    if mm > Decimal(repr(float(max_mm))):
        raise InputError(
            field,
            text,
            expected,
            message=(
                f"{field}: {_shown(text)} is {format_number(mm)} mm, above {format_number(max_mm)} mm, which is "
                f"implausible for one lesion; expected at most {format_number(max_mm)} mm (check the unit and "
                f"the decimal point)."
            ),
        )
    return float(mm.quantize(_TENTH, rounding=ROUND_HALF_UP))


#: The forms a marker value takes on a lab report.
MARKER_VALUE_EXPECTED = 'a number above 0 such as 7.4, or a limit as the lab prints it, e.g. "<0.5" or ">1000"'
_MARKER_VALUE = re.compile(r"(?P<cmp>[<>])?\s*(?P<num>.*)", re.DOTALL)


def parse_marker_value(text: str | float, *, field: str = "value") -> tuple[str | None, float]:
    """A tumour-marker value as a lab prints it: ``(comparator, value)``.

    ``"7.4"`` -> ``(None, 7.4)``; ``"<0.5"`` or ``"< 0.5"`` -> ``("<", 0.5)`` (the true value is
    below 0.5, the assay's detection limit); ``">1000"`` -> ``(">", 1000.0)`` (above the
    measuring range).  Only ``<`` and ``>`` are accepted: they are what lab reports print.
    The value (or limit) must be greater than 0: a bare ``0`` is refused, because a result below
    the detection limit is reported as ``<LIMIT``, and 0 would break ratios and doubling times.
    """
    comparator: str | None
    number: str | float
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        comparator, number = None, text
    elif isinstance(text, str):
        match = _MARKER_VALUE.fullmatch(text.strip())
        assert match is not None  # the pattern matches any text
        comparator, number = match.group("cmp"), match.group("num")
    else:
        raise InputError(field, text, MARKER_VALUE_EXPECTED)
    value = _to_decimal(number, field, MARKER_VALUE_EXPECTED, shown=text)
    if value <= 0:
        if value == 0 and comparator is None:
            message = (f"{field}: {_shown(text)} is zero; expected a number above 0, or a result below the "
                       'detection limit as the lab prints it, e.g. "<0.5".')
        else:
            message = f"{field}: {_shown(text)} is not greater than 0; expected {MARKER_VALUE_EXPECTED}."
        raise InputError(field, text, MARKER_VALUE_EXPECTED, message=message)
    return comparator, float(value)
