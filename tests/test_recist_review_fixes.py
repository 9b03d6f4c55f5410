"""RECIST 1.1 fixes from review (issue 8): non-target disease given only as a study-level status,
and a reappearance after CR while another target is not evaluated.  Expected results reasoned
from Eisenhauer 2009 Table 1 and the RECIST working group's guidance on missing assessments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.history import (
    History,
    ImagingStudy,
    Lesion,
    Measurement,
    PatientInfo,
    TherapyLine,
)
from lungtrack.core.recist import assess_line, recist_findings
from lungtrack.enums import MeasurementStatus, NonTargetStatus

START = date(2025, 1, 10)
BASE = date(2025, 1, 3)
LINE = TherapyLine(1, "osimertinib", START)
GONE = MeasurementStatus.DISAPPEARED
NEV = MeasurementStatus.NOT_EVALUATED
TS = MeasurementStatus.TOO_SMALL

LUNG = Lesion(1, "RUL mass", "lung")
NODE = Lesion(4, "subcarinal node", "node", is_node=True)
PLEURA = Lesion(5, "pleural nodules", "pleura")


def m(lesion_id: int, size: float | None = None, status: MeasurementStatus = MeasurementStatus.MEASURED) -> Measurement:
    return Measurement(lesion_id, size, status)


def study(sid: int, on: date, *rows: Measurement, nt: NonTargetStatus | None = None) -> ImagingStudy:
    return ImagingStudy(sid, on, measurements=rows, non_target_status=nt)


def week(n: int) -> date:
    return START + timedelta(weeks=n)


def line_response(lesions: tuple[Lesion, ...], *studies: ImagingStudy):
    return assess_line(History(PatientInfo(1, "Test"), lines=(LINE,), lesions=lesions, studies=studies), LINE)


# ----------------------------------------------------------------- 1. non-target disease flag


def test_targets_cr_with_baseline_non_target_flag_present_is_pr_not_cr():
    r = line_response((LUNG,), study(1, BASE, m(1, 30), nt=NonTargetStatus.PRESENT),
                      study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.PRESENT))
    tp = r.timepoints[1]
    assert (tp.target, tp.non_target, tp.overall) == ("CR", "non-CR/non-PD", "PR")
    assert r.best_overall == "PR"
    assert any("without a named non-target" in n for n in r.notes)


def test_flag_present_at_baseline_and_no_status_later_is_not_evaluated_so_pr():
    # Table 1: target CR, non-target not evaluated -> PR.
    tp = line_response((LUNG,), study(1, BASE, m(1, 30), nt=NonTargetStatus.PRESENT),
                       study(2, week(8), m(1, None, GONE))).timepoints[1]
    assert (tp.target, tp.non_target, tp.overall) == ("CR", "NE", "PR")


def test_flag_present_then_recorded_absent_is_cr():
    tp = line_response((LUNG,), study(1, BASE, m(1, 30), nt=NonTargetStatus.PRESENT),
                       study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.ABSENT)).timepoints[1]
    assert (tp.target, tp.non_target, tp.overall) == ("CR", "CR", "CR")


def test_without_the_flag_targets_cr_alone_is_cr():
    # The other side of the boundary: no non-target disease at baseline at all.
    for nt in (None, NonTargetStatus.ABSENT):
        tp = line_response((LUNG,), study(1, BASE, m(1, 30), nt=nt),
                           study(2, week(8), m(1, None, GONE))).timepoints[1]
        assert (tp.target, tp.non_target, tp.overall) == ("CR", None, "CR")


def test_flag_with_named_non_targets_gone_but_no_status_is_ne():
    # Named non-target gone, but the baseline also recorded non-target disease as a status:
    # it is not shown to be gone, so not all non-target disease is resolved (PR, not CR).
    tp = line_response((LUNG, PLEURA), study(1, BASE, m(1, 30), m(5, None, NEV), nt=NonTargetStatus.PRESENT),
                       study(2, week(8), m(1, None, GONE), m(5, None, GONE))).timepoints[1]
    assert (tp.target, tp.non_target, tp.overall) == ("CR", "NE", "PR")


def test_flag_only_disease_is_non_target_only_disease_table_2():
    r = line_response((), study(1, BASE, nt=NonTargetStatus.PRESENT), study(2, week(8), nt=NonTargetStatus.PRESENT),
                      study(3, week(16), nt=NonTargetStatus.ABSENT))
    assert [t.overall for t in r.timepoints[1:]] == ["non-CR/non-PD", "CR"]


def test_flag_disease_back_after_cr_is_pd():
    r = line_response((LUNG,), study(1, BASE, m(1, 30), nt=NonTargetStatus.PRESENT),
                      study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.ABSENT),
                      study(3, week(16), m(1, None, GONE), nt=NonTargetStatus.PRESENT))
    assert [t.overall for t in r.timepoints[1:]] == ["CR", "PD"]


def test_cli_non_target_present_at_baseline_makes_targets_cr_a_pr(cli):
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "osimertinib", "--on", "2026-01-05").code == 0
    assert cli("scan", "add", "--date", "2026-01-02", "--lesion", "A: lung, 30 mm", "--non-target", "present").code == 0
    assert cli("scan", "add", "--date", "2026-03-02", "--lesion", "A disappeared", "--non-target", "present").code == 0
    r = cli("response", "--json")
    assert r.code == 0, r
    tp = r.json()["lines"][0]["timepoints"][1]
    assert (tp["target"], tp["non_target"], tp["overall"]) == ("CR", "non-CR/non-PD", "PR")


# ----------------------------------------------------------------- 4. reappearance after CR


def brief_course(third: tuple[Measurement, ...], second: tuple[Measurement, ...] = (m(1, None, GONE), m(4, 8))):
    """Lung 30 mm + node 20 mm at baseline; then ``second``; then ``third``."""
    return line_response((LUNG, NODE), study(1, BASE, m(1, 30), m(4, 20)), study(2, week(8), *second),
                         study(3, week(16), *third))


def test_the_example_node_back_to_12_mm_with_lung_not_evaluated_is_pd():
    r = brief_course((m(1, None, NEV), m(4, 12)))
    cr, third = r.timepoints[1], r.timepoints[2]
    assert (cr.target, cr.overall, cr.sum_mm) == ("CR", "CR", 8.0)
    assert (third.target, third.overall) == ("PD", "PD")
    assert third.sum_mm is None  # the sum is still not computed
    assert "subcarinal node" in third.pd_reasons[0] and "RUL mass" in third.pd_reasons[0]
    assert r.first_pd_date == week(16)
    finding = next(f for f in recist_findings(History(PatientInfo(1, "T"), lines=(LINE,)), (r,))
                   if f.rule == "recist.progression")
    assert finding.date == week(16) and "reappeared" in finding.evidence


@pytest.mark.parametrize(("node_mm", "expected"), [(10.0, "PD"), (9.9, "NE"), (9.0, "NE")])
def test_node_boundary_10_mm_short_axis_after_cr(node_mm, expected):
    assert brief_course((m(1, None, NEV), m(4, node_mm))).timepoints[2].target == expected


def test_non_nodal_target_back_while_node_not_evaluated_is_pd():
    r = brief_course((m(1, 3), m(4, None, NEV)))
    assert r.timepoints[2].target == "PD"
    # "too small to measure" is visible too
    assert brief_course((m(1, None, TS), m(4, None, NEV))).timepoints[2].target == "PD"


def test_still_gone_while_the_other_is_not_evaluated_stays_ne():
    assert brief_course((m(1, None, GONE), m(4, None, NEV))).timepoints[2].target == "NE"
    assert brief_course((m(1, None, NEV), m(4, 9.5))).timepoints[2].target == "NE"


def test_without_a_previous_cr_a_missing_target_keeps_ne():
    # Previous time point PR (lung 10 mm still visible): node 12 mm with lung missing is not a
    # reappearance; the measured 12 mm does not reach PD against the nadir 18 mm either.
    r = brief_course((m(1, None, NEV), m(4, 12)), second=(m(1, 10), m(4, 8)))
    assert r.timepoints[1].overall == "PR"
    assert r.timepoints[2].target == "NE"


def test_cli_reappearance_after_cr_with_a_missing_target_is_pd(cli):
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "osimertinib", "--on", "2026-01-05").code == 0
    assert cli("scan", "add", "--date", "2026-01-02", "--lesion", "lung: lung, 30 mm",
               "--lesion", "4R: node, 20 mm").code == 0
    assert cli("scan", "add", "--date", "2026-03-02", "--lesion", "lung disappeared", "--lesion", "4R 8").code == 0
    r = cli("scan", "add", "--date", "2026-05-04", "--lesion", "lung NE", "--lesion", "4R 12")
    assert r.code == 0, r
    tps = cli("response", "--json").json()["lines"][0]["timepoints"]
    assert [t["overall"] for t in tps] == ["BASELINE", "CR", "PD"]
    assert tps[2]["sum_mm"] is None


def test_an_ne_time_point_between_the_cr_and_the_reappearance_does_not_undo_the_cr():
    r = line_response((LUNG, NODE), study(1, BASE, m(1, 30), m(4, 20)),
                      study(2, week(8), m(1, None, GONE), m(4, 8)),
                      study(3, week(16), m(1, None, NEV), m(4, None, NEV)),
                      study(4, week(24), m(1, None, NEV), m(4, 12)))
    assert [t.overall for t in r.timepoints[1:]] == ["CR", "NE", "PD"]
    # The same course after a PR (lung still 10 mm) instead of the CR: not a reappearance; 12 mm
    # alone is not +20 % and +5 mm over the nadir of 18 mm, so NE.
    r = line_response((LUNG, NODE), study(1, BASE, m(1, 30), m(4, 20)),
                      study(2, week(8), m(1, 10), m(4, 8)),
                      study(3, week(16), m(1, None, NEV), m(4, None, NEV)),
                      study(4, week(24), m(1, None, NEV), m(4, 12)))
    assert [t.overall for t in r.timepoints[1:]] == ["PR", "NE", "NE"]
