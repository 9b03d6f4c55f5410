"""Per-lesion courses (spider plot data) and the mixed-response rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.config import HeterogeneityConfig, RulesConfig
from lungtrack.core.heterogeneity import lesion_courses, mixed_response_findings
from lungtrack.core.history import History, ImagingStudy, Lesion, Measurement, PatientInfo, TherapyLine
from lungtrack.core.recist import assess_history
from lungtrack.enums import MeasurementStatus, Severity

START = date(2025, 1, 10)
BASE = date(2025, 1, 3)
LINE = TherapyLine(1, "osimertinib", START)
RUL = Lesion(1, "RUL mass", "lung")
S6 = Lesion(2, "liver S6", "liver")
LUNG2 = Lesion(3, "LLL nodule", "lung")


def week(n: int) -> date:
    return START + timedelta(weeks=n)


def course(*rows: dict[int, float | None | MeasurementStatus], lesions=(RUL, S6)) -> History:
    """One study per dict {lesion_id: size | status}, the first at baseline, then every 8 weeks."""
    studies = []
    for i, r in enumerate(rows):
        ms = []
        for lid, v in r.items():
            if isinstance(v, MeasurementStatus):
                ms.append(Measurement(lid, None, v))
            elif v is not None:
                ms.append(Measurement(lid, float(v)))
        studies.append(ImagingStudy(i + 1, BASE if i == 0 else week(8 * i), measurements=tuple(ms)))
    return History(PatientInfo(1, "T"), lines=(LINE,), lesions=lesions, studies=tuple(studies))


def mixed(h: History, config: RulesConfig = RulesConfig()):
    return mixed_response_findings(h, assess_history(h, config), config)


def test_mixed_response_worked_example():
    # RUL 40 -> 25 -> 22; liver S6 12 -> 9 -> 15.  Sum 52 -> 34 (PR) -> 37 (+8.8 % over the
    # nadir 34: not PD, stays PR).  S6 alone: 9 -> 15 = +66.7 %, +6 mm from its own nadir.
    h = course({1: 40, 2: 12}, {1: 25, 2: 9}, {1: 22, 2: 15})
    r = assess_history(h)[0]
    assert r.timepoints[2].overall == "PR"
    found = mixed(h)
    assert len(found) == 1
    f = found[0]
    assert f.rule == "lesion.mixed_response" and f.severity is Severity.WATCH
    assert f.subject == "liver S6" and f.date == week(16)
    assert f.id == f"lesion.mixed_response:liver-s6:{week(16).isoformat()}"
    assert "liver S6 grew 9 → 15 mm (+66.7 %, +6 mm from its own nadir" in f.evidence
    assert "RUL mass 40 → 22 mm" in f.evidence
    assert "lungtrack's own" in f.evidence and "lungtrack's own" in f.source
    assert "Eisenhauer" in f.source
    assert "re-biopsy" in f.discuss and "care team" in f.discuss
    assert f.data["size_mm"] == 15.0 and f.data["nadir_mm"] == 9.0


@pytest.mark.parametrize(
    ("nadir", "now", "raised"),
    [
        (9, 14, True),  # +55.6 %, exactly +5 mm
        (9, 13.99, False),  # +4.99 mm
        (25, 30, True),  # exactly +20 % and +5 mm
        (25.5, 30.6, True),  # +20 % exactly (floats: 19.999...), +5.1 mm
        (30, 35.99, False),  # +19.97 %
    ],
)
def test_mixed_response_thresholds(nadir, now, raised):
    # a big shrinking lung lesion keeps the overall response away from PD
    h = course({1: 100, 2: nadir + 1}, {1: 60, 2: nadir}, {1: 50, 2: now})
    assert assess_history(h)[0].timepoints[2].overall != "PD"
    assert bool(mixed(h)) is raised


def test_not_raised_when_overall_is_pd():
    # Single target growing: the sum is PD, the progression finding covers it.
    h = course({1: 30}, {1: 20}, {1: 26}, lesions=(RUL,))
    assert assess_history(h)[0].timepoints[2].overall == "PD"
    assert mixed(h) == []


def test_one_finding_per_growth_episode():
    # S6 grows at week 16 (raised), keeps growing at week 24 (same episode: no new finding),
    # falls back under the threshold at week 32 (episode ends), grows again at week 40 (raised).
    h = course(
        {1: 100, 2: 12}, {1: 60, 2: 9}, {1: 55, 2: 15}, {1: 50, 2: 17}, {1: 50, 2: 10}, {1: 48, 2: 16},
    )
    overall = [t.overall for t in assess_history(h)[0].timepoints]
    assert "PD" not in overall
    dates = sorted(f.date for f in mixed(h))
    assert dates == [week(16), week(40)]


def test_not_evaluated_does_not_end_an_episode():
    h = course({1: 100, 2: 12}, {1: 60, 2: 9}, {1: 55, 2: 15}, {1: 50}, {1: 50, 2: 17})
    assert [f.date for f in mixed(h)] == [week(16)]


def test_threshold_from_config():
    cfg = RulesConfig(heterogeneity=HeterogeneityConfig(lesion_growth_pct=50.0, lesion_growth_min_mm=5.0))
    h = course({1: 100, 2: 21}, {1: 60, 2: 20}, {1: 50, 2: 26})  # +30 %, +6 mm
    assert len(mixed(h)) == 1
    assert mixed(h, cfg) == []


def test_lesion_courses_spider_data():
    h = course(
        {1: 40, 2: 20},
        {1: 30, 2: MeasurementStatus.TOO_SMALL},
        {1: 20},  # liver not evaluated
        {1: 10, 2: MeasurementStatus.DISAPPEARED, 3: 12},  # LLL nodule new
        lesions=(RUL, S6, LUNG2),
    )
    r = assess_history(h)[0]
    cs = {c.label: c for c in lesion_courses(h, r)}
    rul, s6, lll = cs["RUL mass"], cs["liver S6"], cs["LLL nodule"]
    assert rul.role == "target" and s6.role == "target" and lll.role == "new"
    assert [p.size_mm for p in rul.points] == [40.0, 30.0, 20.0, 10.0]
    assert [p.change_from_baseline_pct for p in rul.points] == [0.0, -25.0, -50.0, -75.0]
    assert [p.size_mm for p in s6.points] == [20.0, 5.0, None, 0.0]
    assert [p.status for p in s6.points] == [
        MeasurementStatus.MEASURED, MeasurementStatus.TOO_SMALL, MeasurementStatus.NOT_EVALUATED,
        MeasurementStatus.DISAPPEARED,
    ]
    assert s6.points[1].change_from_baseline_pct == -75.0
    assert s6.nadir_mm == 0.0 and s6.nadir_date == week(24)
    assert rul.nadir_mm == 10.0
    assert len(lll.points) == 1 and lll.points[0].size_mm == 12.0 and lll.points[0].change_from_baseline_pct is None


def test_lesion_courses_empty_without_baseline():
    h = History(PatientInfo(1, "T"), lines=(LINE,), lesions=(RUL,))
    assert lesion_courses(h, assess_history(h)[0]) == ()
