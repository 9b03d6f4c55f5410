"""Dates and durations typed by people: accepted forms, refusals with hints, boundaries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.errors import InputError
from lungtrack.parsing.dates import format_date, parse_date, parse_duration, parse_since

TODAY = date(2026, 11, 28)  # a Saturday


def pd(text: str, **kw) -> date:
    kw.setdefault("today", TODAY)
    return parse_date(text, **kw)


# ----------------------------------------------------------------------------- accepted


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-03-04", date(2026, 3, 4)),
        ("2026/03/04", date(2026, 3, 4)),
        ("2026-3-4", date(2026, 3, 4)),
        ("  2026-03-04  ", date(2026, 3, 4)),
        ("20260304", date(2026, 3, 4)),
        ("4 Mar 2026", date(2026, 3, 4)),
        ("4 March 2026", date(2026, 3, 4)),
        ("March 4, 2026", date(2026, 3, 4)),
        ("Mar 4th 2026", date(2026, 3, 4)),
        ("2026-Mar-04", date(2026, 3, 4)),
        ("4 Sept 2026", date(2026, 9, 4)),
        # 4 March 2026 is a Wednesday (date(2026, 3, 4).weekday() == 2)
        ("Wed 2026-03-04", date(2026, 3, 4)),
        ("Wednesday, March 4, 2026", date(2026, 3, 4)),
    ],
)
def test_absolute_forms(text: str, expected: date) -> None:
    assert pd(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("today", TODAY),
        ("TODAY", TODAY),
        ("yesterday", date(2026, 11, 27)),
        ("0 days ago", TODAY),
        ("3 days ago", date(2026, 11, 25)),
        ("3d ago", date(2026, 11, 25)),
        ("1 day ago", date(2026, 11, 27)),
        ("a week ago", date(2026, 11, 21)),
        ("2 weeks ago", date(2026, 11, 14)),
        ("2w ago", date(2026, 11, 14)),
        ("6 months ago", date(2026, 5, 28)),
        ("6m ago", date(2026, 5, 28)),  # m = months, not minutes
        ("1 year ago", date(2025, 11, 28)),
        ("2y ago", date(2024, 11, 28)),
    ],
)
def test_relative_forms(text: str, expected: date) -> None:
    assert pd(text) == expected


def test_month_arithmetic_clamps_to_month_end() -> None:
    # 31 March minus one month: February has no 31st, relativedelta gives the last day.
    assert parse_date("1 month ago", today=date(2026, 3, 31)) == date(2026, 2, 28)
    assert parse_date("1 month ago", today=date(2024, 3, 31)) == date(2024, 2, 29)


def test_future_forms_only_when_allowed() -> None:
    assert pd("tomorrow", allow_future=True) == date(2026, 11, 29)
    assert pd("in 2 weeks", allow_future=True) == date(2026, 12, 12)
    assert pd("2026-12-01", allow_future=True) == date(2026, 12, 1)
    with pytest.raises(InputError):
        pd("tomorrow")
    with pytest.raises(InputError):
        pd("in 2 weeks")


def test_today_may_be_a_datetime() -> None:
    from datetime import datetime

    assert parse_date("yesterday", today=datetime(2026, 11, 28, 23, 59)) == date(2026, 11, 27)


# ----------------------------------------------------------------------------- boundaries


def test_future_boundary_today_ok_tomorrow_refused() -> None:
    assert pd("2026-11-28") == TODAY
    with pytest.raises(InputError) as err:
        pd("2026-11-29", field="--date")
    assert err.value.field == "--date"


def test_future_message_names_today() -> None:
    with pytest.raises(InputError) as err:
        pd("2026-12-01", field="--date")
    assert err.value.message == (
        "--date: 2026-12-01 is in the future (today is 2026-11-28); expected today or an earlier date."
    )


def test_1900_boundary() -> None:
    assert pd("1900-01-01") == date(1900, 1, 1)
    with pytest.raises(InputError) as err:
        pd("1899-12-31")
    assert "before 1900" in err.value.message


def test_relative_date_before_1900_refused() -> None:
    with pytest.raises(InputError):
        parse_date("100 years ago", today=date(1999, 6, 1))


def test_allow_future_has_a_ten_year_limit() -> None:
    assert pd("2036-11-28", allow_future=True) == date(2036, 11, 28)
    with pytest.raises(InputError) as err:
        pd("2036-11-29", allow_future=True)
    assert "check the year" in err.value.message


# ----------------------------------------------------------------------------- refused


def test_ambiguous_numeric_date_names_both_readings() -> None:
    with pytest.raises(InputError) as err:
        pd("03/04/2026", field="--date")
    assert err.value.message == (
        "--date: '03/04/2026' is ambiguous (3 April or 4 March?); write 2026-04-03 or 2026-03-04 (YYYY-MM-DD), "
        'or set locale_order = "dmy" or "mdy" in thresholds.toml.'
    )
    assert "\n" not in err.value.message


@pytest.mark.parametrize("text", ["3.4.2026", "03-04-2026", "02/03/2026", "12/11/2026"])
def test_other_ambiguous_separators(text: str) -> None:
    with pytest.raises(InputError) as err:
        pd(text)
    assert "ambiguous" in err.value.message
    assert "YYYY-MM-DD" in err.value.message


def test_two_digit_years_are_refused() -> None:
    with pytest.raises(InputError) as err:
        pd("3/4/26")
    assert "4-digit year" in err.value.message


@pytest.mark.parametrize("text, expected", [
    ("25/04/2026", date(2026, 4, 25)), ("04/25/2026", date(2026, 4, 25)),  # only one reading is real
    ("11/20/2024", date(2024, 11, 20)), ("20/11/2024", date(2024, 11, 20)),
    ("31/12/2025", date(2025, 12, 31)), ("12/31/2025", date(2025, 12, 31)),  # the year's last day
    ("13/01/2026", date(2026, 1, 13)), ("01/13/2026", date(2026, 1, 13)),  # 13: the first non-month
    ("05/05/2026", date(2026, 5, 5)),  # both readings are the same day
    ("29/02/2024", date(2024, 2, 29)), ("02/29/2024", date(2024, 2, 29)),  # leap day
    ("20.11.2024", date(2024, 11, 20)), ("11-20-2024", date(2024, 11, 20)),
])
def test_slash_dates_with_one_reading_are_accepted(text: str, expected: date) -> None:
    assert pd(text) == expected
    assert pd(text, order="dmy") == expected and pd(text, order="mdy") == expected


@pytest.mark.parametrize("text", ["29/02/2023", "02/29/2023", "31/04/2026", "04/31/2026", "13/13/2026", "32/01/2026"])
def test_slash_dates_with_no_real_reading_are_refused(text: str) -> None:
    with pytest.raises(InputError) as err:
        pd(text, field="--date")
    assert "not a real date" in err.value.message


def test_locale_order_decides_ambiguous_dates() -> None:
    assert pd("02/03/2026", order="dmy") == date(2026, 3, 2)
    assert pd("02/03/2026", order="mdy") == date(2026, 2, 3)
    assert pd("12/11/2026", order="dmy") == date(2026, 11, 12)
    with pytest.raises(InputError) as err:
        pd("12/11/2026", order="mdy")  # 11 December 2026 is after TODAY (28 November)
    assert "in the future" in err.value.message
    assert pd("12/11/2026", order="mdy", allow_future=True) == date(2026, 12, 11)
    with pytest.raises(InputError):
        pd("02/03/2026", order="ymd")


@pytest.mark.parametrize("text, expected", [
    ("last saturday", date(2026, 11, 21)),  # TODAY is a Saturday: a week ago, never today
    ("last friday", date(2026, 11, 27)),
    ("last sunday", date(2026, 11, 22)),
    ("last tue", date(2026, 11, 24)),
    ("Last Tuesday", date(2026, 11, 24)),
    ("last week", date(2026, 11, 21)),
    ("last month", date(2026, 10, 28)),
    ("last year", date(2025, 11, 28)),
    ("3w", date(2026, 11, 7)),
    ("3 weeks", date(2026, 11, 7)),
    ("2m", date(2026, 9, 28)),
    ("10d", date(2026, 11, 18)),
    ("1y", date(2025, 11, 28)),
    ("0d", TODAY),
])
def test_weekday_and_duration_words(text: str, expected: date) -> None:
    assert pd(text) == expected


def test_next_weekday_is_in_the_future() -> None:
    assert pd("next monday", allow_future=True) == date(2026, 11, 30)
    assert pd("next saturday", allow_future=True) == date(2026, 12, 5)  # never today
    assert pd("next week", allow_future=True) == date(2026, 12, 5)
    with pytest.raises(InputError) as err:
        pd("next monday")
    assert "in the future" in err.value.message


def test_bare_durations_are_refused_where_the_future_is_allowed() -> None:
    with pytest.raises(InputError) as err:
        pd("3w", allow_future=True, field="--date")
    assert "3 weeks ago or in 3 weeks" in err.value.message
    assert pd("in 3w", allow_future=True) == date(2026, 12, 19)


def test_bare_weekday_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError) as err:
        pd("tuesday", field="--date")
    assert "'last tuesday'" in err.value.message and "'next tuesday'" in err.value.message


def test_durations_reaching_before_1900_are_refused() -> None:
    with pytest.raises(InputError):
        parse_date("200y", today=TODAY)


@pytest.mark.parametrize("text", ["2026-02-30", "2025-02-29", "2026-13-01", "2026-04-31", "20261304"])
def test_impossible_dates(text: str) -> None:
    with pytest.raises(InputError) as err:
        pd(text, field="--date")
    assert err.value.field == "--date"
    assert err.value.value == text


def test_leap_day_is_accepted() -> None:
    assert pd("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize(
    "text",
    ["2016", "2026030", "202603041", "", "   ", "foo", "next week", "last foo", "4 Foo 2026", "Mar 2026", "4 Mar 26", "3 fortnights ago", "-3 days ago",
     "2026-03-04T10:00", "2026-03/04"],
)
def test_rejected_texts(text: str) -> None:
    with pytest.raises(InputError) as err:
        pd(text, field="--date")
    message = err.value.message
    assert message.startswith("--date: ")
    assert "\n" not in message


def test_wrong_weekday_is_refused() -> None:
    with pytest.raises(InputError) as err:
        pd("Tue 2026-03-04")
    assert "Wed" in err.value.message


def test_non_string_refused() -> None:
    with pytest.raises(InputError):
        parse_date(None, today=TODAY)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- format_date


@pytest.mark.parametrize(
    "d, text",
    [
        (date(2026, 3, 4), "Wed 2026-03-04"),
        (date(2025, 9, 15), "Mon 2025-09-15"),  # user story 1: "Logged CT on Mon 2025-09-15"
        (date(2025, 12, 10), "Wed 2025-12-10"),  # user story 1: "Logged CT on Wed 2025-12-10"
        (date(2026, 8, 12), "Wed 2026-08-12"),  # user story 3
        (date(2026, 11, 29), "Sun 2026-11-29"),
    ],
)
def test_format_date(d: date, text: str) -> None:
    assert format_date(d) == text


def test_format_date_ignores_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    import locale

    try:
        locale.setlocale(locale.LC_TIME, "de_DE.UTF-8")
    except locale.Error:
        pytest.skip("German locale not installed")
    try:
        assert format_date(date(2026, 3, 4)) == "Wed 2026-03-04"
    finally:
        locale.setlocale(locale.LC_TIME, "C")


# ----------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7d", relativedelta(days=7)),
        ("7 days", relativedelta(days=7)),
        ("1 day", relativedelta(days=1)),
        ("2w", relativedelta(weeks=2)),
        ("2 weeks", relativedelta(days=14)),
        ("3m", relativedelta(months=3)),
        ("6 months", relativedelta(months=6)),
        ("1y", relativedelta(years=1)),
        ("2 YEARS", relativedelta(years=2)),
    ],
)
def test_durations(text: str, expected: relativedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["0d", "-3d", "1.5w", "3", "w", "", "3 fortnights", "7d ago", "101y", "36526d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse_duration(text, field="--snooze")
    assert err.value.message.startswith("--snooze: ")


def test_duration_upper_bound_both_sides() -> None:
    assert parse_duration("100y") == relativedelta(years=100)
    with pytest.raises(InputError):
        parse_duration("101y")


def test_since_accepts_duration_or_date() -> None:
    assert parse_since("6m", today=TODAY) == date(2026, 5, 28)
    assert parse_since("2w", today=TODAY) == date(2026, 11, 14)
    assert parse_since("2026-01-01", today=TODAY) == date(2026, 1, 1)
    assert parse_since("3 months ago", today=TODAY) == date(2026, 8, 28)


def test_since_errors() -> None:
    with pytest.raises(InputError) as err:
        parse_since("blah", today=TODAY, field="--since")
    assert err.value.message.startswith("--since: 'blah' is not valid; expected a duration")
    with pytest.raises(InputError) as err:
        parse_since("03/04/2026", today=TODAY, field="--since")
    assert "ambiguous" in err.value.message
    with pytest.raises(InputError):
        parse_since("2027-01-01", today=TODAY)
    with pytest.raises(InputError):
        parse_since("0d", today=TODAY)


# ----------------------------------------------------------------------------- properties

_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@given(_dates)
def test_iso_round_trip(d: date) -> None:
    assert parse_date(d.isoformat(), today=TODAY) == d
    assert parse_date(d.isoformat().replace("-", "/"), today=TODAY) == d
    assert parse_date(d.strftime("%Y%m%d"), today=TODAY) == d


@given(_dates)
def test_format_date_reads_back(d: date) -> None:
    assert parse_date(format_date(d), today=TODAY) == d


@given(st.integers(min_value=0, max_value=20000))
def test_days_ago_matches_timedelta(n: int) -> None:
    assert parse_date(f"{n} days ago", today=TODAY) == TODAY - timedelta(days=n)
    assert parse_date(f"{n}d ago", today=TODAY) == TODAY - timedelta(days=n)


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12), st.integers(1950, 2025))
def test_every_two_reading_numeric_date_is_refused_unless_an_order_is_set(a: int, b: int, year: int) -> None:
    text = f"{a:02d}/{b:02d}/{year}"
    if a == b:  # both readings are the same day
        assert parse_date(text, today=TODAY) == date(year, a, a)
        return
    with pytest.raises(InputError) as err:
        parse_date(text, today=TODAY)
    assert "YYYY-MM-DD" in err.value.message
    assert date(year, b, a).isoformat() in err.value.message and date(year, a, b).isoformat() in err.value.message
    assert parse_date(text, today=TODAY, order="dmy") == date(year, b, a)
    assert parse_date(text, today=TODAY, order="mdy") == date(year, a, b)


@given(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_every_real_date_with_a_day_above_12_reads_back_either_way(d: date) -> None:
    if d.day <= 12:
        return
    assert parse_date(f"{d.day}/{d.month}/{d.year}", today=TODAY) == d
    assert parse_date(f"{d.month}/{d.day}/{d.year}", today=TODAY) == d


# ----------------------------------------------------------------------------- the locale_order setting


def test_locale_order_setting_through_the_cli(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    assert cli("patient", "add", "Ann").code == 0
    r = cli("marker", "add", "cea", "3.1", "--date", "02/03/2026")
    assert r.code == 2 and "2026-03-02 or 2026-02-03" in r.stderr and r.stderr.count("\n") == 1
    assert cli("marker", "add", "cea", "3.1", "--date", "11/20/2025").code == 0  # one reading only
    r = cli("config", "set", "input.locale_order", "dmy")
    assert r.code == 0, r
    assert 'locale_order = "dmy"' in cli("config", "show").stdout
    assert cli("marker", "add", "cea", "3.2", "--date", "02/03/2026").code == 0
    dates = [row["date"] for row in cli("marker", "list", "--json").json()]
    assert "2026-03-02" in dates and "2025-11-20" in dates
    assert cli("config", "set", "input.locale_order", "mdy").code == 0
    assert cli("marker", "add", "cea", "3.3", "--date", "02/03/2026").code == 0
    assert "2026-02-03" in [row["date"] for row in cli("marker", "list", "--json").json()]
    r = cli("config", "set", "input.locale_order", "ymd")
    assert r.code != 0 and "none" in r.stderr and "dmy" in r.stderr and r.stderr.count("\n") == 1
    r = cli("config", "set", "recist.pd_increase_pct", "25")
    assert r.code == 0 and "pd_increase_pct = 25" in cli("config", "show").stdout
    assert 'locale_order = "mdy"' in cli("config", "show").stdout  # the other key was kept
