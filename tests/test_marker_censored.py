"""Marker values below or above the assay range ("<0.5", ">1000"): parsing and kinetics."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lungtrack.core.history import History, MarkerResult, PatientInfo, TherapyLine
from lungtrack.core.markers import (
    MarkerPoint,
    certainly_above,
    marker_findings,
    marker_kinetics,
)
from lungtrack.enums import Marker
from lungtrack.errors import InputError
from lungtrack.parsing.numbers import parse_marker_value

D0 = date(2026, 1, 5)
LINE = TherapyLine(1, "gefitinib", date(2025, 12, 1))


def series(*values: str, uln: float | None = 5.0) -> History:
    """Values as the lab prints them, 28 days apart."""
    results = []
    for i, text in enumerate(values):
        comparator, value = parse_marker_value(text)
        results.append(MarkerResult(i + 1, D0 + timedelta(days=28 * i), Marker.CEA, value, "ng/mL", uln=uln,
                                    comparator=comparator))
    return History(PatientInfo(1, "Ann"), lines=(LINE,), markers=tuple(results))


def kin(h: History):
    [k] = marker_kinetics(h)
    return k


# --------------------------------------------------------------------------- parser


@pytest.mark.parametrize(("text", "expected"), [
    ("7.4", (None, 7.4)), ("<0.5", ("<", 0.5)), ("< 0.5", ("<", 0.5)), (" <0.5 ", ("<", 0.5)),
    (">1000", (">", 1000.0)), ("> 1000", (">", 1000.0)), ("0.01", (None, 0.01)), (3.5, (None, 3.5)),
])
def test_parse_marker_value_accepts_what_labs_print(text, expected) -> None:
    assert parse_marker_value(text) == expected


@pytest.mark.parametrize("text", ["0", "0.0", 0.0, "<0", ">0", "-1", "below 0.5", "≤0.5", "<", "<<1", "1,5",
                                  "nan", "0.5 ng/mL", ""])
def test_parse_marker_value_refuses_other_forms(text) -> None:
    with pytest.raises(InputError) as err:
        parse_marker_value(text, field="--value")
    assert str(err.value).startswith("--value: ")
    assert "\n" not in str(err.value)


def test_bare_zero_is_refused_with_the_below_limit_form() -> None:
    with pytest.raises(InputError) as err:
        parse_marker_value("0", field="VALUE")
    assert str(err.value) == ('VALUE: \'0\' is zero; expected a number above 0, or a result below the detection '
                              'limit as the lab prints it, e.g. "<0.5".')


# --------------------------------------------------------------------------- ordering of censored values


@pytest.mark.parametrize(("a", "b", "rise"), [
    ("<0.5", "3", True), ("<0.5", "0.5", True), ("<0.5", "0.4", False), ("<0.5", "<0.5", False),
    ("<0.5", "<1", False), ("500", ">1000", True), ("1000", ">1000", True), ("1001", ">1000", False),
    (">1000", ">1000", False), (">1000", "2000", False), ("3", "3", False), ("3", "3.1", True),
    ("<0.5", ">1000", True),
])
def test_certainly_above(a, b, rise) -> None:
    pa, pb = (MarkerPoint(D0, v, c) for c, v in (parse_marker_value(a), parse_marker_value(b)))
    assert certainly_above(pb, pa) is rise


# --------------------------------------------------------------------------- kinetics


def test_below_detection_limit_is_below_uln_and_never_a_number_for_doubling() -> None:
    k = kin(series("<0.5"))
    assert not k.above_uln and k.latest.comparator == "<"
    k = kin(series("<0.5", "3", "9"))
    assert k.consecutive_rises == 2 and k.trend == "rising"
    assert k.nadir.comparator == "<" and k.nadir.value == 0.5
    # % from the nadir is only a lower bound: the true nadir is below 0.5.
    assert k.pct_above_nadir == pytest.approx(1700.0) and k.pct_is_lower_bound
    # Only 3 -> 9 are inside the assay range: fewer than the 3 values a doubling time needs.
    assert k.censored_in_run == 1 and k.doubling_time_days is None and k.fit_points == 0
    # With 3 -> 9 -> 27 after it, the fit uses those three only (tripling every 28 days).
    k = kin(series("<0.5", "3", "9", "27"))
    assert k.fit_points == 3 and k.censored_in_run == 1
    assert k.doubling_time_days == pytest.approx(28 * 0.6309297535714574, rel=1e-9)  # 28 * ln2/ln3


def test_doubling_time_not_computed_when_too_few_exact_values_remain() -> None:
    k = kin(series("<0.5", "3", "9"))
    assert k.consecutive_rises == 2 and k.doubling_time_days is None and k.censored_in_run == 1
    k = kin(series("100", "400", ">1000"))
    assert k.consecutive_rises == 2 and k.doubling_time_days is None and k.fit_points == 0


def test_above_range_is_above_uln_when_its_limit_is() -> None:
    assert kin(series(">1000")).above_uln
    assert kin(series(">5", uln=5.0)).above_uln  # the true value is above 5 = ULN
    assert not kin(series(">4", uln=5.0)).above_uln  # unknown: could be 4.5
    assert not kin(series("<10", uln=5.0)).above_uln


def test_repeated_limits_are_not_rises_or_falls() -> None:
    k = kin(series("<0.5", "<0.5", "<0.5"))
    assert k.consecutive_rises == 0 and k.consecutive_falls == 0 and k.trend == "stable"
    k = kin(series(">1000", ">1000"))
    assert k.consecutive_rises == 0 and k.pct_above_nadir is None  # a nadir ">1000" has no number
    k = kin(series("8", "<0.5"))
    assert k.consecutive_falls == 1 and k.pct_above_nadir is None  # the latest is only "below 0.5"


def test_rising_finding_words_the_censored_values() -> None:
    [f] = marker_findings(series("<0.5", "3", "9", "27"))
    assert f.rule == "marker.rising"
    assert "<0.5 → 3 → 9 → 27 ng/mL" in f.evidence
    assert "at least +5300 % from nadir (<0.5 ng/mL)" in f.evidence
    assert "(from the last 3 values inside the assay range)" in f.evidence
    assert f.data["nadir_comparator"] == "<" and f.data["pct_above_nadir_is_lower_bound"] is True
    [g] = marker_findings(series("3", "9", ">1000"))
    assert "3 → 9 → >1000 ng/mL" in g.evidence
    assert "doubling time not computed across values outside the assay range" in g.evidence


def test_exact_values_are_unchanged() -> None:
    k = kin(series("2", "4", "8"))
    assert not k.pct_is_lower_bound and k.censored_in_run == 0 and k.fit_points == 3
    assert k.doubling_time_days == pytest.approx(28.0)


# --------------------------------------------------------------------------- soundness (property)

_limits = st.sampled_from([0.1, 0.5, 1.0, 5.0, 10.0, 1000.0])


@st.composite
def _observed(draw):
    """(true value, what the lab printed): "<L" for a true value below L, ">L" above L."""
    true = draw(st.floats(min_value=0.01, max_value=5000, allow_nan=False))
    limit = draw(_limits)
    kind = draw(st.sampled_from(["exact", "<", ">"]))
    if kind == "<" and true < limit:
        return true, MarkerPoint(D0, limit, "<")
    if kind == ">" and true > limit:
        return true, MarkerPoint(D0, limit, ">")
    return true, MarkerPoint(D0, true, None)


@given(_observed(), _observed())
def test_a_certain_rise_is_a_true_rise(a, b) -> None:
    (true_a, pa), (true_b, pb) = a, b
    if certainly_above(pb, pa):
        assert true_b > true_a
    assert not (certainly_above(pb, pa) and certainly_above(pa, pb))
