"""Dates and durations as people type them.

Pure: "today" is always a parameter (never ``date.today()``), so the same input always gives
the same answer and tests need no clock.

Accepted dates:

* ISO ``2026-03-04`` (also ``2026/03/04``, ``2026.03.04`` and the compact ``20260304``);
* ``today``, ``yesterday``, ``tomorrow`` (the last only where future dates are allowed);
* relative: ``3 days ago``, ``2 weeks ago``, ``6 months ago``, ``1 year ago``, short ``3d ago``,
  ``2w ago``, ``6m ago`` (``m`` is months: nobody logs a CT by the minute), and ``in 2 weeks``
  where future dates are allowed;
* dates with an English month name, which are unambiguous: ``4 Mar 2026``, ``March 4, 2026``,
  ``2026-Mar-04``;
* any of the above after an optional English weekday (``Wed 2026-03-04``), which must then be
  the right weekday - so the output of :func:`format_date` reads back;
* weekday names with ``last``/``next``: ``last tuesday`` is the latest Tuesday before today
  (7 days ago on a Tuesday), ``next monday`` the first Monday after today; ``last week`` /
  ``last month`` / ``last year`` are one week / month / year ago (``next ...`` ahead);
* a bare duration as a date in the past: ``3w`` = ``3 weeks ago``, ``2m``, ``10d``, ``1y``
  (where future dates are allowed too, ``3w`` could mean either way and is refused: write
  ``3w ago`` or ``in 3w``);
* numeric dates with the day or the month first (``20/11/2024``, ``11/20/2024``) when only one
  reading is a real date, or both readings are the same day (``05/05/2026``).  When both
  readings are real and differ (``02/03/2026``: 2 March or 3 February?) the date is refused
  naming both readings - unless the ``order`` parameter (the ``locale_order`` setting,
  ``dmy`` or ``mdy``) decides, once and for all.

Rejected, each with a one-line explanation: ambiguous numeric dates as above (guessing would
silently move a CT by a month), two-digit years, impossible dates (``2026-02-30``), dates
before 1900, future dates unless allowed, bare weekdays (``tuesday``: last or next?), and bare
numbers such as ``2016``.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from dateutil.relativedelta import relativedelta

from lungtrack.errors import InputError

__all__ = [
    "EARLIEST_DATE",
    "MAX_FUTURE_YEARS",
    "format_date",
    "parse_date",
    "parse_duration",
    "parse_since",
    "DATE_ORDERS",
]

#: Values of the ``locale_order`` setting: how to read an ambiguous numeric date.
#: ``none`` refuses it (naming both readings), ``dmy`` reads 02/03 as 2 March, ``mdy`` as 3 February.
DATE_ORDERS = ("none", "dmy", "mdy")

#: Dates before this are rejected: no clinical record in this tool can be that old, so an
#: earlier year is a typo (``1026`` for ``2026``).
EARLIEST_DATE = date(1900, 1, 1)
#: Where future dates are allowed (appointments), at most this many years ahead: a date
#: further out is almost certainly a mistyped year (``2062`` for ``2026``).
MAX_FUTURE_YEARS = 10

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_WORDS = {
    "mon": 0, "monday": 0,
    "tue": 1, "tues": 1, "tuesday": 1,
    "wed": 2, "weds": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3,
    "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}  # fmt: skip
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_WORDS: dict[str, int] = {}
for _i, _name in enumerate(_MONTH_NAMES, start=1):
    _MONTH_WORDS[_name.lower()] = _i
    _MONTH_WORDS[_name[:3].lower()] = _i
_MONTH_WORDS["sept"] = 9

_UNIT_WORDS = {
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "m": "months", "mo": "months", "mos": "months", "mon": "months", "mth": "months", "mths": "months",
    "month": "months", "months": "months",
    "y": "years", "yr": "years", "yrs": "years", "year": "years", "years": "years",
}  # fmt: skip
# Upper bound for a duration, per unit: 100 years.  Larger numbers are typos and would
# overflow date arithmetic.
_UNIT_MAX = {"days": 36525, "weeks": 5218, "months": 1200, "years": 100}

_DATE_EXPECTED = (
    "a date as YYYY-MM-DD (e.g. 2026-03-04), 'today', 'yesterday', 'last tuesday' or 'N days/weeks/months ago' (3w)"
)
_DURATION_EXPECTED = "a duration such as 7d, 2w, 3m, 1y or '6 months' (a positive whole number and a unit)"
_SINCE_EXPECTED = "a duration such as 6m, 2w, 30d, or a date as YYYY-MM-DD"

_ISO = re.compile(r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})")
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})")
_DAY_FIRST = re.compile(r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{2}|\d{4})")
_AMOUNT = r"(?:(?P<n>\d+)\s*|(?P<w>an?|one)\s+)"
_UNIT = r"(?P<unit>[a-z]+)"
_AGO = re.compile(rf"{_AMOUNT}{_UNIT}\s+ago")
_IN = re.compile(rf"in\s+{_AMOUNT}{_UNIT}")
_DURATION = re.compile(rf"(?P<n>[+-]?\d+(?:[.,]\d+)?)\s*{_UNIT}")
_TOKEN = re.compile(r"[a-z]+|\d+")
_BARE_DURATION = re.compile(rf"(?P<n>\d+)\s*{_UNIT}")
_LAST_NEXT = re.compile(r"(?P<dir>last|next|past|coming)\s+(?P<what>[a-z]+)")


def _delta(unit: str, n: int) -> relativedelta:
    """``n`` days, weeks, months or years (``unit`` is a value of ``_UNIT_WORDS``)."""
    if unit == "days":
        return relativedelta(days=n)
    if unit == "weeks":
        return relativedelta(weeks=n)
    if unit == "months":
        return relativedelta(months=n)
    return relativedelta(years=n)


def format_date(d: date) -> str:
    """``Wed 2026-03-04``: English weekday (independent of the locale, unlike ``%a``) + ISO date."""
    return f"{_WEEKDAYS[d.weekday()]} {d.isoformat()}"


def _as_date(today: date) -> date:
    return today.date() if isinstance(today, datetime) else today


def _invalid(field: str, text: object, expected: str = _DATE_EXPECTED) -> InputError:
    err = InputError(field, text, expected)
    err.generic = True  # type: ignore[attr-defined]  # lets parse_since rephrase it
    return err


def _make_date(field: str, text: str, y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        if 1 <= m <= 12:
            reason = f"{_MONTH_NAMES[m - 1]} {y} has no day {d}"
        else:
            reason = f"there is no month {m}"
        raise InputError(
            field, text, _DATE_EXPECTED, message=f"{field}: {text!r} is not a real date ({reason}); expected {_DATE_EXPECTED}."
        ) from None


def _amount(match: re.Match[str]) -> int:
    return int(match["n"]) if match["n"] is not None else 1  # "a week ago", "one month ago"


def _relative(field: str, text: str, n: int, unit_word: str) -> relativedelta:
    unit = _UNIT_WORDS.get(unit_word)
    if unit is None:
        raise _invalid(field, text)
    if n > _UNIT_MAX[unit]:
        raise InputError(
            field, text, _DATE_EXPECTED, message=f"{field}: {text!r} is more than 100 years away; check the number."
        )
    return _delta(unit, n)


def _check_weekday(field: str, text: str, weekday: int | None, result: date) -> None:
    if weekday is not None and weekday != result.weekday():
        raise InputError(
            field,
            text,
            _DATE_EXPECTED,
            message=(
                f"{field}: {text!r} does not match: {result.isoformat()} is a "
                f"{_WEEKDAYS[result.weekday()]}, not a {_WEEKDAYS[weekday]}; check the date."
            ),
        )


def _strip_weekday(text: str) -> tuple[int | None, str]:
    match = re.match(r"([a-z]+)\.?,?\s+(?=\S)", text)
    if match and match.group(1) in _WEEKDAY_WORDS:
        return _WEEKDAY_WORDS[match.group(1)], text[match.end():]
    return None, text


def _day_month(field: str, text: str, match: re.Match[str], order: str | None) -> date:
    """A numeric date with the day or the month first: accepted when only one reading is a real
    date (or both are the same day), or when ``order`` decides; refused otherwise, naming both."""
    a, b, y_text = int(match["a"]), int(match["b"]), match["y"]
    if len(y_text) != 4:
        year = 2000 + int(y_text)
        raise InputError(
            field, text, _DATE_EXPECTED,
            message=(f"{field}: {text!r} has a 2-digit year (19{y_text} or {year}?); "
                     f"use YYYY-MM-DD with a 4-digit year, e.g. {_example(year, a, b)}."),
        )
    year = int(y_text)

    def real(day: int, month: int) -> date | None:
        try:
            return date(year, month, day)
        except ValueError:
            return None

    day_first, month_first = real(a, b), real(b, a)
    if day_first is not None and month_first is not None and day_first != month_first:
        if order == "dmy":
            return day_first
        if order == "mdy":
            return month_first
        raise InputError(
            field, text, _DATE_EXPECTED,
            message=(
                f"{field}: {text!r} is ambiguous ({a} {_MONTH_NAMES[b - 1]} or {b} {_MONTH_NAMES[a - 1]}?); "
                f"write {day_first.isoformat()} or {month_first.isoformat()} (YYYY-MM-DD), "
                "or set locale_order = \"dmy\" or \"mdy\" in thresholds.toml."
            ),
        )
    result = day_first or month_first
    if result is None:
        if a > 12 and b > 12:
            reason = f"neither {a} nor {b} is a month"
        else:
            day, month = (a, b) if b <= 12 else (b, a)
            reason = f"{_MONTH_NAMES[month - 1]} {year} has no day {day}"
        raise InputError(
            field, text, _DATE_EXPECTED, message=f"{field}: {text!r} is not a real date ({reason}); expected {_DATE_EXPECTED}."
        )
    return result


def _example(year: int, a: int, b: int) -> str:
    for day, month in ((a, b), (b, a)):
        try:
            return date(year, month, day).isoformat()
        except ValueError:
            continue
    return f"{year}-03-04"


def _weekday_or_period(field: str, text: str, match: re.Match[str], today: date) -> date | None:
    """``last tuesday``, ``next monday``, ``last week``, ``next month``."""
    forward = match["dir"] in ("next", "coming")
    what = match["what"]
    if what in _WEEKDAY_WORDS:
        target = _WEEKDAY_WORDS[what]
        if forward:
            return today + relativedelta(days=(target - today.weekday() - 1) % 7 + 1)
        return today - relativedelta(days=(today.weekday() - target - 1) % 7 + 1)
    unit = _UNIT_WORDS.get(what)
    if unit is not None and what not in ("d", "w", "m", "y"):
        step = _delta(unit, 1)
        return today + step if forward else today - step
    return None


def _month_name_date(field: str, text: str, lowered: str) -> date | None:
    """``4 Mar 2026``, ``March 4, 2026``, ``2026-Mar-04``: one month name, a 4-digit year, a day."""
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", lowered)
    if re.search(r"[^a-z0-9\s,./-]", cleaned):
        return None
    tokens = _TOKEN.findall(cleaned)
    words = [t for t in tokens if t.isalpha()]
    numbers = [t for t in tokens if t.isdigit()]
    if len(words) != 1 or words[0] not in _MONTH_WORDS:
        return None
    month = _MONTH_WORDS[words[0]]
    years = [t for t in numbers if len(t) == 4]
    days = [t for t in numbers if len(t) <= 2]
    if len(years) != 1 or len(days) != 1 or len(numbers) != 2:
        raise InputError(
            field,
            text,
            _DATE_EXPECTED,
            message=(
                f"{field}: {text!r} needs a day, a month and a 4-digit year; expected e.g. "
                f"'4 {_MONTH_NAMES[month - 1][:3]} 2026' or 2026-{month:02d}-04."
            ),
        )
    return _make_date(field, text, int(years[0]), month, int(days[0]))


def _absolute(field: str, text: str, lowered: str, today: date, order: str | None = None,
              allow_future: bool = False) -> date:
    if lowered == "today":
        return today
    if lowered == "yesterday":
        return today - relativedelta(days=1)
    if lowered == "tomorrow":
        return today + relativedelta(days=1)
    match = _AGO.fullmatch(lowered)
    if match:
        return today - _relative(field, text, _amount(match), match["unit"])
    match = _IN.fullmatch(lowered)
    if match:
        return today + _relative(field, text, _amount(match), match["unit"])
    match = _BARE_DURATION.fullmatch(lowered)
    if match and match["unit"] in _UNIT_WORDS:
        if allow_future:
            n, unit = int(match["n"]), _UNIT_WORDS[match["unit"]]
            words = f"{n} {unit[:-1] if n == 1 else unit}"
            raise InputError(
                field, text, _DATE_EXPECTED,
                message=(f"{field}: {text!r} could be {words} ago or in {words}; "
                         f"write '{text.strip()} ago' or 'in {text.strip()}' (or a date as YYYY-MM-DD)."),
            )
        return today - _relative(field, text, int(match["n"]), match["unit"])
    match = _LAST_NEXT.fullmatch(lowered)
    if match:
        result = _weekday_or_period(field, text, match, today)
        if result is not None:
            return result
    if lowered.rstrip(".,") in _WEEKDAY_WORDS:
        raise InputError(
            field, text, _DATE_EXPECTED,
            message=(f"{field}: {text!r} could be this week's or another; write 'last {lowered}' or "
                     f"'next {lowered}' (or a date as YYYY-MM-DD)."),
        )
    weekday, rest = _strip_weekday(lowered)
    match = _ISO.fullmatch(rest) or _COMPACT.fullmatch(rest)
    if match:
        result = _make_date(field, text, int(match["y"]), int(match["m"]), int(match["d"]))
        _check_weekday(field, text, weekday, result)
        return result
    match = _DAY_FIRST.fullmatch(rest)
    if match:
        result = _day_month(field, text, match, order)
        _check_weekday(field, text, weekday, result)
        return result
    result = _month_name_date(field, text, rest)
    if result is not None:
        _check_weekday(field, text, weekday, result)
        return result
    raise _invalid(field, text)


def parse_date(text: str, *, today: date, field: str = "date", allow_future: bool = False,
               order: str | None = None) -> date:
    """Parse a date typed by a person (see the module docstring for the accepted forms).

    ``today`` anchors relative forms and the future check.  With ``allow_future=False`` (logging
    results) any date after ``today`` is refused; with ``True`` (planning an appointment) dates
    up to :data:`MAX_FUTURE_YEARS` ahead are accepted.  ``order`` (``"dmy"``, ``"mdy"``, or
    ``None``/``"none"`` to refuse) reads a numeric date whose two readings are both real.
    """
    today = _as_date(today)
    if order not in (None, *DATE_ORDERS):
        raise InputError("locale_order", order, "one of " + ", ".join(DATE_ORDERS))
    if not isinstance(text, str):
        raise _invalid(field, text)
    lowered = " ".join(text.strip().lower().split())
    if not lowered:
        raise InputError(field, text, _DATE_EXPECTED, message=f"{field}: no date given; expected {_DATE_EXPECTED}.")
    try:
        result = _absolute(field, text, lowered, today, order if order != "none" else None, allow_future)
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            field, text, _DATE_EXPECTED, message=f"{field}: {text!r} is out of range; check the number or the year."
        ) from None
    if result < EARLIEST_DATE:
        raise InputError(
            field,
            text,
            _DATE_EXPECTED,
            message=f"{field}: {result.isoformat()} is before 1900; expected a date from 1900-01-01 on (check the year).",
        )
    if result > today and not allow_future:
        raise InputError(
            field,
            text,
            _DATE_EXPECTED,
            message=(
                f"{field}: {result.isoformat()} is in the future (today is {today.isoformat()}); "
                f"expected today or an earlier date."
            ),
        )
    if result > today + relativedelta(years=MAX_FUTURE_YEARS):
        raise InputError(
            field,
            text,
            _DATE_EXPECTED,
            message=(
                f"{field}: {result.isoformat()} is more than {MAX_FUTURE_YEARS} years ahead "
                f"(today is {today.isoformat()}); check the year."
            ),
        )
    return result


def parse_duration(text: str, *, field: str = "duration") -> relativedelta:
    """Parse ``7d``, ``2w``, ``3m``, ``1y``, ``7 days``, ``6 months`` into a ``relativedelta``.

    Only positive whole numbers: "1.5 months" has no exact calendar meaning, and a zero or
    negative duration is always a mistake where this is used (look-back windows, snoozes).
    """
    if not isinstance(text, str):
        raise _invalid(field, text, _DURATION_EXPECTED)
    lowered = " ".join(text.strip().lower().split())
    match = _DURATION.fullmatch(lowered)
    if match is None or match["unit"] not in _UNIT_WORDS:
        raise _invalid(field, text, _DURATION_EXPECTED)
    number = match["n"]
    if not number.isdigit() or int(number) == 0:
        raise InputError(
            field,
            text,
            _DURATION_EXPECTED,
            message=f"{field}: {text!r} is not a positive whole number of {_UNIT_WORDS[match['unit']]}; expected {_DURATION_EXPECTED}.",
        )
    unit = _UNIT_WORDS[match["unit"]]
    if int(number) > _UNIT_MAX[unit]:
        raise InputError(
            field, text, _DURATION_EXPECTED, message=f"{field}: {text!r} is longer than 100 years; check the number."
        )
    return _delta(unit, int(number))


def parse_since(text: str, *, today: date, field: str = "--since", order: str | None = None) -> date:
    """A start date for a look-back window: a duration before ``today`` (``6m``) or a date.

    A text that looks like a duration is read as one (``6m`` = six months before today);
    anything else must be a date that is not in the future.
    """
    today = _as_date(today)
    if not isinstance(text, str):
        raise _invalid(field, text, _SINCE_EXPECTED)
    lowered = " ".join(text.strip().lower().split())
    match = _DURATION.fullmatch(lowered)
    if match is not None and match["unit"] in _UNIT_WORDS:
        result = today - parse_duration(text, field=field)
        if result < EARLIEST_DATE:
            raise InputError(
                field, text, _SINCE_EXPECTED, message=f"{field}: {text!r} reaches back before 1900; check the number."
            )
        return result
    try:
        return parse_date(text, today=today, field=field, allow_future=False, order=order)
    except InputError as err:
        if getattr(err, "generic", False):
            raise InputError(field, text, _SINCE_EXPECTED) from None
        raise
