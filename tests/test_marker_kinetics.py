"""Marker kinetics (nadir, rises, ULN, doubling/halving time) and the marker findings."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.config import MarkerConfig, RulesConfig
from lungtrack.core.history import History, MarkerResult, PatientInfo, TherapyLine
from lungtrack.core.markers import marker_findings, marker_kinetics
from lungtrack.enums import Marker, Severity, SmokingStatus

D0 = date(2026, 1, 5)
LINE = TherapyLine(1, "gefitinib", date(2025, 12, 1))


def series(values, marker=Marker.CEA, step_days=28, start=D0, uln=None, unit="ng/mL", first_id=1):
    return tuple(
        MarkerResult(first_id + i, start + timedelta(days=step_days * i), marker, v, unit, uln=uln)
        for i, v in enumerate(values)
    )


def hist(markers, lines=(LINE,), smoking=SmokingStatus.NEVER) -> History:
    return History(PatientInfo(1, "Ann", smoking=smoking), lines=tuple(lines), markers=tuple(markers))


def kin(h: History, config: RulesConfig = RulesConfig(), marker=Marker.CEA):
    return next(k for k in marker_kinetics(h, config) if k.marker == marker)


def cfg(**kw) -> RulesConfig:
    return RulesConfig(markers=MarkerConfig(**kw))


# --------------------------------------------------------------------------- doubling time


def test_doubling_every_28_days_gives_28_days() -> None:
    k = kin(hist(series([1.0, 2.0, 4.0, 8.0], uln=0.5)))
    assert k.doubling_time_days == pytest.approx(28.0, abs=1e-9)
    assert k.fit_points == 4 and k.consecutive_rises == 3 and k.trend == "rising"


def test_doubling_time_three_points_by_hand() -> None:
    # Story 2: 2.9, 3.8, 5.6 at days 0, 28, 56.  For three equally spaced points the
    # least-squares slope of ln(value) is (ln 5.6 - ln 2.9) / 56 = 0.011750 per day,
    # so DT = ln 2 / 0.011750 = 58.99 days = 8.43 weeks.
    k = kin(hist(series([2.9, 3.8, 5.6])))
    assert k.doubling_time_days == pytest.approx(58.986, abs=0.01)


def test_doubling_time_unequal_spacing_by_hand() -> None:
    # Days 0, 10, 40; values 10, 12, 20.  x-mean 16.667; Sxx = 277.78 + 44.44 + 544.44 = 866.67;
    # ln values 2.302585, 2.484907, 2.995732 (mean 2.594408);
    # Sxy = (-16.667)(-0.291823) + (-6.667)(-0.109501) + (23.333)(0.401324) = 14.958;
    # slope = 14.958 / 866.67 = 0.017259 per day; DT = 0.693147 / 0.017259 = 40.16 days.
    results = (
        MarkerResult(1, D0, Marker.CEA, 10.0, "ng/mL"),
        MarkerResult(2, D0 + timedelta(days=10), Marker.CEA, 12.0, "ng/mL"),
        MarkerResult(3, D0 + timedelta(days=40), Marker.CEA, 20.0, "ng/mL"),
    )
    assert kin(hist(results)).doubling_time_days == pytest.approx(40.16, abs=0.01)


def test_only_the_final_rising_run_is_fitted() -> None:
    # 8 -> 4 -> 2 falls, then 2 -> 4 -> 8 doubles every 28 days: the fall must not bend the fit.
    k = kin(hist(series([8.0, 4.0, 2.0, 4.0, 8.0])))
    assert k.consecutive_rises == 2
    assert k.fit_points == 3
    assert k.doubling_time_days == pytest.approx(28.0, abs=1e-9)
    assert k.nadir is not None and k.nadir.value == 2.0
    assert k.pct_above_nadir == pytest.approx(300.0)


def test_doubling_time_needs_min_points() -> None:
    k = kin(hist(series([2.0, 4.0])))  # one rise = 2 points < 3
    assert k.doubling_time_days is None and k.fit_points == 0
    k2 = kin(hist(series([2.0, 4.0])), cfg(doubling_min_points=2))
    assert k2.doubling_time_days == pytest.approx(28.0)  # two-point form: 28 * ln2 / ln(4/2)


def test_halving_time_over_final_falling_run() -> None:
    k = kin(hist(series([8.0, 4.0, 2.0], step_days=14)))
    assert k.halving_time_days == pytest.approx(14.0, abs=1e-9)
    assert k.doubling_time_days is None
    assert k.trend == "falling" and k.consecutive_rises == 0


def test_equal_values_break_the_run_and_read_stable() -> None:
    k = kin(hist(series([3.0, 3.0, 4.0])))
    assert k.consecutive_rises == 1
    k2 = kin(hist(series([3.0, 4.0, 4.0])))
    assert k2.consecutive_rises == 0 and k2.trend == "stable"


def test_single_value_is_insufficient() -> None:
    k = kin(hist(series([3.0])))
    assert k.trend == "insufficient" and k.consecutive_rises == 0 and k.doubling_time_days is None
    assert k.latest == k.nadir and k.pct_above_nadir == 0.0


# --------------------------------------------------------------------------- line, nadir, ULN


def test_only_values_since_the_line_began() -> None:
    before = MarkerResult(99, LINE.start - timedelta(days=1), Marker.CEA, 1.0, "ng/mL")  # not a nadir of this line
    k = kin(hist((before, *series([4.0, 5.0]))))
    assert [p.value for p in k.points] == [4.0, 5.0]
    assert k.nadir.value == 4.0
    # On the start day the value counts.
    on_start = MarkerResult(98, LINE.start, Marker.CEA, 3.0, "ng/mL")
    assert kin(hist((on_start, *series([4.0])))).nadir.value == 3.0


def test_latest_line_is_used_and_without_lines_everything() -> None:
    second = TherapyLine(2, "osimertinib", D0 + timedelta(days=50))
    k = kin(hist(series([9.0, 8.0, 7.0, 6.0]), lines=(LINE, second)))
    assert [p.value for p in k.points] == [7.0, 6.0]  # days 56 and 84 only
    assert len(kin(hist(series([9.0, 8.0, 7.0]), lines=())).points) == 3


def test_same_day_values_keep_the_last_entered() -> None:
    a = MarkerResult(1, D0, Marker.CEA, 30.0, "ng/mL")  # typo, corrected by a later entry
    b = MarkerResult(2, D0, Marker.CEA, 3.0, "ng/mL")
    k = kin(hist((b, a)[::-1]))
    assert [p.value for p in k.points] == [3.0]


def test_lab_uln_wins_and_equal_is_not_above() -> None:
    k = kin(hist(series([3.0, 4.0, 5.0], uln=5.0)))
    assert k.uln == 5.0 and k.uln_source == "lab"
    assert k.above_uln is False  # 5.0 is not above 5.0
    k2 = kin(hist(series([3.0, 4.0, 5.01], uln=5.0)))
    assert k2.above_uln is True


def test_default_uln_depends_on_smoking_for_cea() -> None:
    k = kin(hist(series([3.0, 4.0]), smoking=SmokingStatus.NEVER))
    assert k.uln == 2.5 and k.uln_source != "lab" and "MedlinePlus" in k.uln_source
    k2 = kin(hist(series([3.0, 4.0]), smoking=SmokingStatus.CURRENT))
    assert k2.uln == 5.0 and k2.above_uln is False


# --------------------------------------------------------------------------- marker.rising


def test_story_two_evidence() -> None:
    results = (
        MarkerResult(1, date(2026, 6, 1), Marker.CEA, 2.9, "ng/mL"),
        MarkerResult(2, date(2026, 6, 29), Marker.CEA, 3.8, "ng/mL"),
        MarkerResult(3, date(2026, 7, 27), Marker.CEA, 5.6, "ng/mL"),
    )
    [f] = marker_findings(hist(results))
    assert f.rule == "marker.rising" and f.subject == "CEA" and f.severity == Severity.WATCH
    assert f.date == date(2026, 7, 27)
    assert f.id == "marker.rising:cea:2026-07-27"
    assert f.evidence.startswith(
        "CEA rising: 2.9 → 3.8 → 5.6 ng/mL (4 weeks apart), 2 consecutive rises, +93 % from nadir, "
        "doubling time 8.4 weeks."
    )
    assert "do not replace it" in f.discuss and "Topic to discuss" in f.discuss
    assert "Arrieta 2013" in f.source and "Gao 2017" in f.source
    assert f.data["consecutive_rises"] == 2 and f.data["nadir"] == 2.9


def test_exactly_20_pct_over_nadir_is_flagged_and_just_below_is_not() -> None:
    # 5.0 -> 5.5 -> 6.0 is exactly +20 % over the nadir 5.0 (float arithmetic would say 19.99...).
    at = marker_findings(hist(series([5.0, 5.5, 6.0], uln=3.0)))
    assert [f.rule for f in at] == ["marker.rising"]
    below = marker_findings(hist(series([5.0, 5.5, 5.999], uln=3.0)))
    assert below == []


def test_needs_two_consecutive_rises() -> None:
    one_rise = marker_findings(hist(series([5.0, 4.0, 9.0], uln=3.0)))  # +125 % but only one rise
    assert one_rise == []
    assert marker_findings(hist(series([5.0, 4.0, 9.0], uln=3.0)), cfg(rising_min_consecutive=1))
    # min_consecutive = 3: two rises are not enough, three are.
    assert marker_findings(hist(series([5.0, 6.0, 7.0], uln=3.0)), cfg(rising_min_consecutive=3)) == []
    assert marker_findings(hist(series([4.0, 5.0, 6.0, 7.0], uln=3.0)), cfg(rising_min_consecutive=3))


def test_needs_latest_above_uln_unless_configured() -> None:
    inside = hist(series([1.0, 1.5, 2.0], uln=2.0))  # +100 %, 2 rises, but 2.0 is not above ULN 2.0
    assert marker_findings(inside) == []
    assert [f.rule for f in marker_findings(inside, cfg(rising_requires_above_uln=False))] == ["marker.rising"]
    just_above = hist(series([1.0, 1.5, 2.01], uln=2.0))
    assert [f.rule for f in marker_findings(just_above)] == ["marker.rising"]


def test_falling_or_flat_markers_raise_nothing() -> None:
    assert marker_findings(hist(series([9.0, 6.0, 3.0], uln=2.0))) == []
    assert marker_findings(hist(series([9.0, 9.0, 9.0], uln=2.0))) == []


# --------------------------------------------------------------------------- marker.sclc_watch


def test_nse_rise_is_reported_once_as_sclc_watch() -> None:
    nse = series([20.0, 25.0, 30.0], marker=Marker.NSE, uln=16.3)
    [f] = marker_findings(hist(nse))
    assert f.rule == "marker.sclc_watch" and f.subject == "NSE" and f.severity == Severity.WATCH
    assert "small-cell" in f.discuss and "design choice" in f.discuss
    assert "lungtrack design choice" in f.source


def test_sclc_watch_second_trigger_small_rises_above_uln() -> None:
    # +10 % over nadir: not the rising rule, but 2 consecutive rises above ULN.
    values = [100.0, 105.0, 110.0]
    progrp = series(values, marker=Marker.PROGRP, uln=65.0, unit="pg/mL")
    assert [f.rule for f in marker_findings(hist(progrp))] == ["marker.sclc_watch"]
    # The same numbers for CEA raise nothing.
    assert marker_findings(hist(series(values, uln=65.0))) == []
    # Below the ULN: nothing.
    low = series([40.0, 44.0, 48.0], marker=Marker.PROGRP, uln=65.0, unit="pg/mL")
    assert marker_findings(hist(low)) == []
