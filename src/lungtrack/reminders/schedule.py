"""Per-patient follow-up intervals: parsing and validation for ``lungtrack schedule``.  Pure.

An interval pair is "due soon from N weeks" and "overdue after M weeks" after the last event
that happened (the last scan, the last test of a marker).  People type ``8-13 weeks``,
``8w``, ``56d`` or a bare number of weeks.  Months are refused on purpose: a month is 4.3 to
4.4 weeks and the rules count days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lungtrack.errors import InputError

MIN_WEEKS = 1.0  # a follow-up more often than weekly is not a schedule lungtrack can help with
MAX_WEEKS = 52.0  # once a year at the least; longer is almost certainly a typo

WEEKS_EXPECTED = "a number of weeks or days, e.g. 8w, 8 weeks, 56d (1 to 52 weeks)"
RANGE_EXPECTED = "a range 'DUE-SOON-OVERDUE weeks', e.g. '8-13 weeks' or '6-9w' (1 to 52 weeks)"

_NUM = r"(\d+(?:\.\d+)?)"
_UNIT = r"(w|wk|wks|week|weeks|d|day|days)?"
_ONE = re.compile(rf"{_NUM}\s*{_UNIT}")
_RANGE = re.compile(rf"{_NUM}\s*{_UNIT}\s*(?:-|–|—|to|\.\.)\s*{_NUM}\s*{_UNIT}")


@dataclass(frozen=True)
class Interval:
    due_soon_weeks: float
    overdue_weeks: float


def _to_weeks(number: str, unit: str | None) -> float:
    value = float(number)
    if unit and unit.startswith("d"):
        return round(value / 7, 4)
    return value


def parse_weeks(text: str, *, field: str) -> float:
    """``8w``, ``8 weeks``, ``56d``, ``8`` -> weeks (float)."""
    t = " ".join(str(text).strip().lower().split())
    m = _ONE.fullmatch(t)
    if not m:
        raise InputError(field, text, WEEKS_EXPECTED)
    weeks = _to_weeks(m.group(1), m.group(2))
    _check_bounds(weeks, field, text)
    return weeks


def parse_range(text: str, *, field: str) -> Interval:
    """``8-13 weeks`` (a unit after the second number applies to both), ``8w-13w``, ``56-91 days``."""
    t = " ".join(str(text).strip().lower().split())
    m = _RANGE.fullmatch(t)
    if not m:
        raise InputError(field, text, RANGE_EXPECTED)
    unit_a, unit_b = m.group(2), m.group(4)
    soon = _to_weeks(m.group(1), unit_a or unit_b)
    overdue = _to_weeks(m.group(3), unit_b or unit_a)
    interval = Interval(soon, overdue)
    validate(interval, field=field, text=text)
    return interval


def _check_bounds(weeks: float, field: str, text: object) -> None:
    if not (MIN_WEEKS <= weeks <= MAX_WEEKS):
        raise InputError(field, text, WEEKS_EXPECTED, message=(
            f"{field}: {text!r} is {weeks:g} weeks; expected between {MIN_WEEKS:g} and {MAX_WEEKS:g} weeks."))


def validate(interval: Interval, *, field: str, text: object | None = None) -> None:
    """Both values within 1-52 weeks, and "due soon" strictly before "overdue"."""
    shown = text if text is not None else f"{interval.due_soon_weeks:g}-{interval.overdue_weeks:g} weeks"
    _check_bounds(interval.due_soon_weeks, field, shown)
    _check_bounds(interval.overdue_weeks, field, shown)
    if interval.due_soon_weeks >= interval.overdue_weeks:
        raise InputError(field, shown, RANGE_EXPECTED, message=(
            f"{field}: due soon from {interval.due_soon_weeks:g} weeks must come before overdue after "
            f"{interval.overdue_weeks:g} weeks; expected {RANGE_EXPECTED}."))


def combine(kind: str, every: str | None, due_soon: str | None, overdue: str | None,
            current: Interval) -> tuple[Interval, set[str]] | None:
    """The new interval for ``kind`` ("imaging" / "markers") from the options given, and which of
    its two fields were set; ``None`` when no option for ``kind`` was given."""
    if every is None and due_soon is None and overdue is None:
        return None
    flag = f"--{kind}"
    if every is not None and (due_soon is not None or overdue is not None):
        raise InputError(f"{flag}-every", every, f"either {flag}-every or {flag}-due-soon/{flag}-overdue, not both")
    if every is not None:
        return parse_range(every, field=f"{flag}-every"), {"due_soon", "overdue"}
    soon = parse_weeks(due_soon, field=f"{flag}-due-soon") if due_soon is not None else current.due_soon_weeks
    late = parse_weeks(overdue, field=f"{flag}-overdue") if overdue is not None else current.overdue_weeks
    changed = {name for name, v in (("due_soon", due_soon), ("overdue", overdue)) if v is not None}
    interval = Interval(soon, late)
    field = f"{flag}-due-soon" if due_soon is not None else f"{flag}-overdue"
    validate(interval, field=field)
    return interval, changed
