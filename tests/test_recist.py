"""RECIST 1.1 per therapy line: worked examples with the expected result reasoned from the
criteria (Eisenhauer 2009 and the RECIST working group clarifications), boundaries on both
sides."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lungtrack.core.config import RecistConfig, RulesConfig
from lungtrack.core.history import (
    History,
    ImagingStudy,
    Lesion,
    Measurement,
    NewLesion,
    PatientInfo,
    TherapyLine,
)
from lungtrack.core.recist import (
    _overall,
    assess_history,
    assess_line,
    recist_findings,
)
from lungtrack.enums import LesionRole, MeasurementStatus, NonTargetStatus, Severity

START = date(2025, 1, 10)
BASE = date(2025, 1, 3)  # 7 days before the start
LINE = TherapyLine(1, "osimertinib", START)

TS = MeasurementStatus.TOO_SMALL
GONE = MeasurementStatus.DISAPPEARED
NEV = MeasurementStatus.NOT_EVALUATED


def m(lesion_id: int, size: float | None = None, status: MeasurementStatus = MeasurementStatus.MEASURED) -> Measurement:
    return Measurement(lesion_id, size, status)


def study(sid: int, on: date, *rows: Measurement, nt: NonTargetStatus | None = None,
          new: tuple[NewLesion, ...] = (), slice_mm: float | None = None) -> ImagingStudy:
    return ImagingStudy(sid, on, slice_thickness_mm=slice_mm, measurements=rows, new_lesions=new, non_target_status=nt)


def week(n: int) -> date:
    return START + timedelta(weeks=n)


def hist(lesions: tuple[Lesion, ...], studies: tuple[ImagingStudy, ...], lines: tuple[TherapyLine, ...] = (LINE,)) -> History:
    return History(PatientInfo(1, "Test"), lines=lines, lesions=lesions, studies=studies)


LUNG = Lesion(1, "RUL mass", "lung")
LIVER = Lesion(2, "liver S6", "liver")
LIVER2 = Lesion(3, "liver S2", "liver")
NODE = Lesion(4, "subcarinal node", "node", is_node=True)


def two_target_course(*sums: tuple[float, float]) -> list:
    """Baseline RUL mass + liver S6, then one study per (lung, liver) pair, 8 weeks apart."""
    studies = [study(1, BASE, m(1, sums[0][0]), m(2, sums[0][1]))]
    for i, (a, b) in enumerate(sums[1:], start=1):
        studies.append(study(i + 1, week(8 * i), m(1, a), m(2, b)))
    r = assess_line(hist((LUNG, LIVER), tuple(studies)), LINE)
    return list(r.timepoints)


def one_target_course(*sizes: float) -> list:
    studies = [study(1, BASE, m(1, sizes[0]))]
    studies += [study(i + 1, week(8 * i), m(1, s)) for i, s in enumerate(sizes[1:], start=1)]
    return list(assess_line(hist((LUNG,), tuple(studies)), LINE).timepoints)


# ----------------------------------------------------------------------------- target response


def test_partial_response_worked_example():
    # 40 + 26 = 66 mm -> 25 + 18 = 43 mm: (43 - 66) / 66 = -34.8 %, beyond -30 % -> PR.
    tps = two_target_course((40, 26), (25, 18))
    assert tps[0].overall == "BASELINE" and tps[0].sum_mm == 66.0
    assert tps[1].sum_mm == 43.0
    assert tps[1].change_from_baseline_pct == pytest.approx(-34.8485, abs=1e-3)
    assert tps[1].target == "PR" and tps[1].overall == "PR"


def test_exactly_minus_30_percent_is_pr_although_floats_say_otherwise():
    assert 1 - 7.07 / 10.1 < 0.3  # binary floats: 0.29999999999999993
    assert one_target_course(10.1, 7.07)[1].target == "PR"
    assert one_target_course(10.1, 7.08)[1].target == "SD"  # -29.9 %


def test_pd_needs_both_20_percent_and_5_mm():
    # +20 % but only +4 mm on a small sum: not PD.
    assert one_target_course(20, 24)[1].target == "SD"
    # +5 mm but only +10 %: not PD.
    assert one_target_course(50, 55)[1].target == "SD"
    # exactly +20 % and +5.0 mm: PD (both inclusive).
    tp = one_target_course(25, 30)[1]
    assert tp.target == "PD" and tp.overall == "PD"
    assert tp.change_from_nadir_pct == pytest.approx(20.0) and tp.change_from_nadir_mm == pytest.approx(5.0)


def test_pd_boundary_4_99_mm_is_not_pd_even_above_20_percent():
    # nadir 24.95 -> 29.94: exactly +20 % (24.95 x 1.2 = 29.94) but only +4.99 mm -> not PD.
    tp = one_target_course(24.95, 29.94)[1]
    assert tp.change_from_nadir_pct == 20.0 and tp.change_from_nadir_mm == 4.99
    assert tp.target == "SD"
    # the same +20 % with +5.0 mm (nadir 25) is PD: only the millimetres differ.
    assert one_target_course(25, 30)[1].target == "PD"


def test_pd_float_trap_25_5_to_30_6():
    # 30.6 / 25.5 - 1 is 0.19999999999999996 in floats; exactly +20 % with +5.1 mm is PD.
    assert 30.6 / 25.5 - 1 < 0.2
    assert one_target_course(25.5, 30.6)[1].target == "PD"
    assert one_target_course(25.5, 30.59)[1].target == "SD"


def test_pd_float_trap_3_2_to_8_2_mm_node():
    # A nodal target shrinks to 3.2 mm (CR: node < 10 mm), then 8.2 mm: +5.0 mm (floats say
    # 4.999999999999999) and +156 % vs the nadir -> PD by the sum rule although the node is < 10 mm.
    assert 8.2 - 3.2 < 5
    studies = (study(1, BASE, m(4, 20)), study(2, week(8), m(4, 3.2)), study(3, week(16), m(4, 8.2)))
    tps = assess_line(hist((NODE,), studies), LINE).timepoints
    assert tps[1].target == "CR" and tps[1].sum_mm == 3.2
    assert tps[2].target == "PD" and tps[2].nadir_mm == 3.2


def test_nadir_is_the_smallest_earlier_sum_including_baseline():
    # 50 -> 58 (SD, +16 %) -> 40 (SD, -20 %) -> 48: +20 %, +8 mm over the nadir 40 -> PD (not vs baseline 50).
    tps = one_target_course(50, 58, 40, 48)
    assert [t.target for t in tps[1:]] == ["SD", "SD", "PD"]
    assert tps[3].nadir_mm == 40.0
    assert tps[1].nadir_mm == 50.0  # baseline is the first nadir


def test_missing_measurement_is_ne_and_never_a_false_nadir():
    # Baseline 30 + 20 = 50; week 8: 24 + 16 = 40 (SD); week 16: liver missing -> NE (the 20 mm
    # measured alone must not become the nadir); week 24: 28 + 18 = 46 -> +15 % over 40 -> SD.
    studies = (
        study(1, BASE, m(1, 30), m(2, 20)),
        study(2, week(8), m(1, 24), m(2, 16)),
        study(3, week(16), m(1, 20)),
        study(4, week(24), m(1, 28), m(2, 18)),
    )
    tps = assess_line(hist((LUNG, LIVER), studies), LINE).timepoints
    assert tps[2].target == "NE" and tps[2].sum_mm is None and tps[2].overall == "NE"
    assert tps[3].nadir_mm == 40.0
    assert tps[3].target == "SD"
    # With a false nadir of 20 mm this would have been PD (+130 %).


def test_not_evaluated_status_is_ne_not_zero():
    studies = (study(1, BASE, m(1, 30), m(2, 20)), study(2, week(8), m(1, 30), m(2, None, NEV)))
    tp = assess_line(hist((LUNG, LIVER), studies), LINE).timepoints[1]
    assert tp.target == "NE" and tp.sum_mm is None


def test_measured_targets_alone_can_establish_pd():
    # Eisenhauer 2009 4.3.4 example: baseline 50 mm over three lesions, only two assessed but
    # summing 80 mm -> PD regardless of the missing one (it could only add).
    lesions = (LUNG, LIVER, Lesion(5, "adrenal", "adrenal"))
    studies = (study(1, BASE, m(1, 20), m(2, 20), m(5, 10)), study(2, week(8), m(1, 40), m(2, 40)))
    tp = assess_line(hist(lesions, studies), LINE).timepoints[1]
    assert tp.target == "PD" and tp.overall == "PD" and tp.sum_mm is None
    # ... while a partial sum that does not reach PD stays NE.
    studies = (study(1, BASE, m(1, 20), m(2, 20), m(5, 10)), study(2, week(8), m(1, 25), m(2, 25)))
    assert assess_line(hist(lesions, studies), LINE).timepoints[1].target == "NE"


def test_too_small_counts_5_mm_and_disappeared_0():
    studies = (study(1, BASE, m(1, 20), m(2, 20)), study(2, week(8), m(1, None, TS), m(2, 10)))
    assert assess_line(hist((LUNG, LIVER), studies), LINE).timepoints[1].sum_mm == 15.0
    studies = (study(1, BASE, m(1, 20), m(2, 20)), study(2, week(8), m(1, None, GONE), m(2, 10)))
    tp = assess_line(hist((LUNG, LIVER), studies), LINE).timepoints[1]
    assert tp.sum_mm == 10.0 and tp.target == "PR"


def test_too_small_is_not_complete_response():
    studies = (study(1, BASE, m(1, 20)), study(2, week(8), m(1, None, TS)))
    tp = assess_line(hist((LUNG,), studies), LINE).timepoints[1]
    assert tp.sum_mm == 5.0 and tp.target == "PR"


def test_cr_with_nodal_target_below_10_mm_has_a_non_zero_sum():
    studies = (study(1, BASE, m(1, 30), m(4, 18)), study(2, week(8), m(1, None, GONE), m(4, 9)))
    tp = assess_line(hist((LUNG, NODE), studies), LINE).timepoints[1]
    assert tp.sum_mm == 9.0 and tp.target == "CR" and tp.overall == "CR"
    # node at exactly 10 mm is still pathological: PR, not CR
    studies = (study(1, BASE, m(1, 30), m(4, 18)), study(2, week(8), m(1, None, GONE), m(4, 10)))
    assert assess_line(hist((LUNG, NODE), studies), LINE).timepoints[1].target == "PR"


def test_pr_is_kept_when_measurements_drift_up_below_pd():
    # RECIST working group FAQ table: 100, 70, 70, 80, 80, 80 -> PR at every time point.
    tps = one_target_course(100, 70, 70, 80, 80, 80)
    assert [t.target for t in tps[1:]] == ["PR"] * 5
    assert any("Kept as PR" in n for n in tps[3].notes)
    # ... until PD against the nadir: 70 -> 84 is +20 % and +14 mm.
    tps = one_target_course(100, 70, 80, 84)
    assert [t.target for t in tps[1:]] == ["PR", "PR", "PD"]


def test_without_earlier_pr_the_same_sum_is_sd():
    assert one_target_course(100, 80)[1].target == "SD"


def test_reappearance_after_cr_is_pd():
    # CR at week 8, the lesion is visible again (4 mm: below the 5 mm floor) -> PD per the
    # working-group FAQ (reappearance after CR).
    tps = one_target_course(20, 0, 4)
    assert tps[1].target == "CR"
    assert tps[2].target == "PD"


# ----------------------------------------------------------------------------- baseline


def test_baseline_window_28_days_is_pre_treatment_29_is_not():
    inside = (study(1, START - timedelta(days=28), m(1, 30)), study(2, week(8), m(1, 20)))
    r = assess_line(hist((LUNG,), inside), LINE)
    assert r.baseline_is_pre_treatment and r.baseline_study_id == 1
    assert [t.overall for t in r.timepoints] == ["BASELINE", "PR"]

    outside = (study(1, START - timedelta(days=29), m(1, 30)), study(2, week(8), m(1, 20)), study(3, week(16), m(1, 20)))
    r = assess_line(hist((LUNG,), outside), LINE)
    assert not r.baseline_is_pre_treatment
    assert r.baseline_study_id == 2 and r.baseline_date == week(8)
    assert [t.study_id for t in r.timepoints] == [2, 3]
    assert any("first scan after the start" in n for n in r.notes)
    findings = recist_findings(r_hist := hist((LUNG,), outside), assess_history(r_hist))
    nb = [f for f in findings if f.rule == "recist.no_baseline"]
    assert len(nb) == 1 and nb[0].severity is Severity.INFO and nb[0].id == "recist.no_baseline:line-1:2025-01-10"


def test_baseline_on_start_day_counts_and_latest_in_window_wins():
    studies = (study(1, START - timedelta(days=20), m(1, 40)), study(2, START, m(1, 30)), study(3, week(8), m(1, 21)))
    r = assess_line(hist((LUNG,), studies), LINE)
    assert r.baseline_study_id == 2 and r.targets[0].baseline_mm == 30.0
    assert r.timepoints[1].target == "PR"  # -30 % of 30, not of 40


def test_no_study_at_all_gives_empty_response():
    r = assess_line(hist((LUNG,), ()), LINE)
    assert r.baseline_study_id is None and r.timepoints == () and r.best_overall is None
    assert r.first_pd_date is None


def test_baseline_window_studies_are_combined():
    # Chest CT 14 days before, brain MRI 7 days before: the brain lesion is baseline disease,
    # so seeing it again on follow-up is not a new lesion.
    brain = Lesion(9, "brain frontal", "brain")
    studies = (
        study(1, START - timedelta(days=14), m(1, 30)),
        study(2, START - timedelta(days=7), m(9, 12)),
        study(3, week(8), m(1, 25), m(9, 12)),
    )
    r = assess_line(hist((LUNG, brain), studies), LINE)
    assert {t.lesion_id for t in r.targets} == {1, 9}
    assert r.timepoints[1].new_lesions == () and r.timepoints[1].overall == "SD"


def test_studies_after_line_end_belong_to_the_next_line():
    line1 = TherapyLine(1, "gefitinib", START, end=date(2025, 6, 1))
    line2 = TherapyLine(2, "osimertinib", date(2025, 6, 10))
    studies = (
        study(1, BASE, m(1, 30)),
        study(2, date(2025, 6, 1), m(1, 40)),  # last scan of line 1 (on the end date) and baseline of line 2
        study(3, date(2025, 8, 1), m(1, 26)),
    )
    r1, r2 = assess_history(hist((LUNG,), studies, (line2, line1)))  # order of the tuple does not matter
    assert r1.line.id == 1 and [t.study_id for t in r1.timepoints] == [1, 2]
    assert r1.timepoints[1].overall == "PD"  # 30 -> 40: +33 %, +10 mm
    assert r2.baseline_study_id == 2 and r2.baseline_is_pre_treatment
    assert r2.targets[0].baseline_mm == 40.0
    assert r2.timepoints[1].target == "PR"  # 26 vs 40: -35 %


# ----------------------------------------------------------------------------- target selection


def test_at_most_5_targets_2_per_organ_nodes_one_organ():
    lesions = (
        Lesion(1, "lung A", "lung"), Lesion(2, "lung B", "lung"), Lesion(3, "lung C", "lung"),
        Lesion(4, "node 4R", "mediastinum", is_node=True), Lesion(5, "node 7", "mediastinum", is_node=True),
        Lesion(6, "node hilar", "hilum", is_node=True),  # different site, still the organ "lymph node"
        Lesion(7, "liver S6", "liver"), Lesion(8, "liver S2", "liver"),
    )
    sizes = {1: 50, 2: 45, 3: 40, 4: 30, 5: 28, 6: 26, 7: 20, 8: 18}
    r = assess_line(hist(lesions, (study(1, BASE, *(m(i, s) for i, s in sizes.items())),)), LINE)
    # largest first: lung A, lung B, (lung C: lung full), node 4R, node 7, (node hilar: nodes full), liver S6 -> 5.
    assert [t.lesion_id for t in r.targets] == [1, 2, 4, 5, 7]
    assert r.non_targets == (3, 6, 8)
    assert r.timepoints[0].sum_mm == 50 + 45 + 30 + 28 + 20


def test_equal_sizes_tie_break_by_label():
    lesions = (Lesion(1, "lung C", "lung"), Lesion(2, "lung A", "lung"), Lesion(3, "lung B", "lung"))
    r = assess_line(hist(lesions, (study(1, BASE, m(1, 30), m(2, 30), m(3, 30)),)), LINE)
    assert [t.label for t in r.targets] == ["lung A", "lung B"]
    assert r.non_targets == (1,)


def test_slice_thickness_8_mm_needs_16_mm():
    lesions = (Lesion(1, "lung A", "lung"), Lesion(2, "lung B", "lung"))
    r = assess_line(hist(lesions, (study(1, BASE, m(1, 16), m(2, 15.9), slice_mm=8),)), LINE)
    assert [t.lesion_id for t in r.targets] == [1] and r.non_targets == (2,)
    # 5 mm slices: the 10 mm minimum applies
    r = assess_line(hist(lesions, (study(1, BASE, m(1, 10), m(2, 9.9), slice_mm=5),)), LINE)
    assert [t.lesion_id for t in r.targets] == [1] and r.non_targets == (2,)


def test_node_measurability_thresholds():
    nodes = (
        Lesion(1, "node 15", "node", is_node=True),
        Lesion(2, "node 14.9", "node", is_node=True),
        Lesion(3, "node 10", "node", is_node=True),
        Lesion(4, "node 9.9", "node", is_node=True),
    )
    r = assess_line(hist(nodes, (study(1, BASE, m(1, 15), m(2, 14.9), m(3, 10), m(4, 9.9)),)), LINE)
    assert [t.lesion_id for t in r.targets] == [1]
    assert r.non_targets == (2, 3)  # pathological, not measurable; the 9.9 mm node is normal


def test_non_nodal_below_10_mm_is_non_target():
    r = assess_line(hist((LUNG, LIVER), (study(1, BASE, m(1, 10), m(2, 9.9)),)), LINE)
    assert [t.lesion_id for t in r.targets] == [1] and r.non_targets == (2,)


def test_user_override_roles():
    forced_node = Lesion(4, "subcarinal node", "node", is_node=True, role=LesionRole.TARGET)
    forced_nt = Lesion(1, "RUL mass", "lung", role=LesionRole.NON_TARGET)
    r = assess_line(hist((forced_nt, forced_node), (study(1, BASE, m(1, 40), m(4, 12)),)), LINE)
    assert [t.lesion_id for t in r.targets] == [4]
    assert "not measurable" in r.targets[0].reason
    assert r.non_targets == (1,)
    assert any("not measurable" in n for n in r.notes)


def test_once_target_always_target_within_a_line():
    # liver S6 is a non-target (8 mm) and grows to 40 mm: it never enters the sum.
    studies = (study(1, BASE, m(1, 30), m(2, 8)), study(2, week(8), m(1, 30), m(2, 40)))
    r = assess_line(hist((LUNG, LIVER), studies), LINE)
    assert [t.lesion_id for t in r.targets] == [1]
    assert r.timepoints[1].sum_mm == 30.0


# ----------------------------------------------------------------------------- new lesions


def test_explicit_new_lesion_is_pd_dated_to_its_first_study():
    studies = (
        study(1, BASE, m(1, 40)),
        study(2, week(8), m(1, 25)),
        study(3, week(16), m(1, 24), new=(NewLesion("brain", "brain R frontal"),)),
        study(4, week(24), m(1, 24), new=(NewLesion("brain", "brain R frontal"),)),
    )
    h = hist((LUNG,), studies)
    r = assess_line(h, LINE)
    assert [t.overall for t in r.timepoints] == ["BASELINE", "PR", "PD", "PR"]
    assert r.timepoints[2].new_lesions == ("brain R frontal",)
    assert r.timepoints[3].new_lesions == ()  # not new again
    assert r.first_pd_date == week(16)
    assert r.best_overall == "PR"
    pd = [f for f in recist_findings(h, (r,)) if f.rule == "recist.progression"]
    assert len(pd) == 1 and pd[0].date == week(16) and pd[0].severity is Severity.ALERT
    assert "brain R frontal" in pd[0].evidence
    assert pd[0].id == f"recist.progression:line-1:{week(16).isoformat()}"


def test_equivocal_new_lesion_confirmed_later_dates_pd_back():
    studies = (
        study(1, BASE, m(1, 40)),
        study(2, week(8), m(1, 30), new=(NewLesion("liver", "liver S2", equivocal=True),)),
        study(3, week(16), m(1, 30), new=(NewLesion("liver", "Liver S2"),)),
    )
    r = assess_line(hist((LUNG,), studies), LINE)
    assert r.timepoints[1].overall == "PD" and r.timepoints[1].new_lesions == ("Liver S2",)
    assert r.first_pd_date == week(8)
    assert r.timepoints[2].new_lesions == ()


def test_equivocal_new_lesion_not_confirmed_is_not_pd():
    studies = (
        study(1, BASE, m(1, 40)),
        study(2, week(8), m(1, 30), new=(NewLesion("liver", "liver S2", equivocal=True),)),
        study(3, week(16), m(1, 30)),
    )
    r = assess_line(hist((LUNG,), studies), LINE)
    assert [t.overall for t in r.timepoints[1:]] == ["SD", "SD"]
    assert r.timepoints[1].equivocal_new_lesions == ("liver S2",)
    assert any("equivocal" in n for n in r.timepoints[1].notes)
    assert r.first_pd_date is None


def test_lesion_first_measured_after_baseline_is_new():
    studies = (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 30), m(2, 6)))
    tp = assess_line(hist((LUNG, LIVER), studies), LINE).timepoints[1]
    assert tp.new_lesions == ("liver S6",) and tp.overall == "PD"


@pytest.mark.parametrize(("size", "is_new"), [(11.0, True), (10.0, True), (9.9, False), (9.0, False)])
def test_node_not_at_baseline_is_new_from_10_mm(size, is_new):
    studies = (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 30), m(4, size)))
    tp = assess_line(hist((LUNG, NODE), studies), LINE).timepoints[1]
    assert (tp.new_lesions == ("subcarinal node",)) is is_new
    assert tp.overall == ("PD" if is_new else "SD")


def test_node_becomes_new_when_it_reaches_10_mm():
    studies = (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 30), m(4, 8)), study(3, week(16), m(1, 30), m(4, 12)))
    r = assess_line(hist((LUNG, NODE), studies), LINE)
    assert r.timepoints[1].new_lesions == () and r.timepoints[2].new_lesions == ("subcarinal node",)
    assert r.first_pd_date == week(16)


def test_node_recorded_at_baseline_is_never_new():
    # 8 mm at baseline (normal, not disease) -> 12 mm: noted, not a new lesion.
    studies = (study(1, BASE, m(1, 40), m(4, 8)), study(2, week(8), m(1, 30), m(4, 12)))
    tp = assess_line(hist((LUNG, NODE), studies), LINE).timepoints[1]
    assert tp.new_lesions == () and tp.overall == "SD"
    assert any("not counted as new" in n for n in tp.notes)


def test_new_node_reported_explicitly_under_10_mm_is_not_new():
    studies = (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 30), new=(NewLesion("node", "node 4L", is_node=True, size_mm=8),)))
    assert assess_line(hist((LUNG,), studies), LINE).timepoints[1].overall == "SD"


# ----------------------------------------------------------------------------- non-targets and Table 1/2


def test_non_target_unequivocal_progression_is_overall_pd():
    studies = (study(1, BASE, m(1, 40), m(2, 8)), study(2, week(8), m(1, 25), nt=NonTargetStatus.PROGRESSION))
    tp = assess_line(hist((LUNG, LIVER), studies), LINE).timepoints[1]
    assert tp.target == "PR" and tp.non_target == "PD" and tp.overall == "PD"
    assert "unequivocal" in " ".join(tp.pd_reasons)


def test_non_target_states():
    base = study(1, BASE, m(1, 40), m(2, 8))
    def nt(follow: ImagingStudy) -> tuple[str | None, str]:
        tp = assess_line(hist((LUNG, LIVER), (base, follow)), LINE).timepoints[1]
        return tp.non_target, tp.overall
    assert nt(study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.ABSENT)) == ("CR", "CR")
    assert nt(study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.PRESENT)) == ("non-CR/non-PD", "PR")
    assert nt(study(2, week(8), m(1, None, GONE))) == ("NE", "PR")  # CR + NE -> PR (Table 1)
    assert nt(study(2, week(8), m(1, None, GONE), m(2, None, GONE))) == ("CR", "CR")
    assert nt(study(2, week(8), m(1, 35), m(2, 6))) == ("non-CR/non-PD", "SD")
    assert nt(study(2, week(8), m(2, 6))) == ("non-CR/non-PD", "NE")  # target NE + non-PD -> NE


def test_no_non_targets_gives_none():
    tp = assess_line(hist((LUNG,), (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 30)))), LINE).timepoints[1]
    assert tp.non_target is None


@pytest.mark.parametrize(
    ("target", "non_target", "new", "expected"),
    [
        # Eisenhauer 2009 Table 1 (target disease)
        ("CR", "CR", False, "CR"),
        ("CR", None, False, "CR"),
        ("CR", "non-CR/non-PD", False, "PR"),
        ("CR", "NE", False, "PR"),
        ("PR", "non-CR/non-PD", False, "PR"),
        ("PR", "NE", False, "PR"),
        ("PR", "CR", False, "PR"),
        ("SD", "non-CR/non-PD", False, "SD"),
        ("SD", "NE", False, "SD"),
        ("NE", "non-CR/non-PD", False, "NE"),
        ("NE", "CR", False, "NE"),
        ("PD", "CR", False, "PD"),
        ("PR", "PD", False, "PD"),
        ("CR", "CR", True, "PD"),
        ("NE", "NE", True, "PD"),
    ],
)
def test_table_1(target, non_target, new, expected):
    assert _overall(target, non_target, new, has_targets=True) == expected


@pytest.mark.parametrize(
    ("non_target", "new", "expected"),
    [("CR", False, "CR"), ("non-CR/non-PD", False, "non-CR/non-PD"), ("NE", False, "NE"), ("PD", False, "PD"),
     ("CR", True, "PD")],
)
def test_table_2_non_target_only(non_target, new, expected):
    assert _overall(None, non_target, new, has_targets=False) == expected


def test_non_target_only_disease_end_to_end():
    pleura = Lesion(5, "pleural effusion", "pleura")
    studies = (study(1, BASE, m(5, None, NEV)), study(2, week(8), nt=NonTargetStatus.PRESENT), study(3, week(16)))
    r = assess_line(hist((pleura,), studies), LINE)
    assert r.targets == () and r.non_targets == (5,)
    assert [t.overall for t in r.timepoints[1:]] == ["non-CR/non-PD", "NE"]
    assert r.best_overall == "non-CR/non-PD"


# ----------------------------------------------------------------------------- best overall response


def test_best_overall_sd_needs_6_weeks_from_start():
    def bor(days_first: int, *more: float) -> str | None:
        studies = [study(1, BASE, m(1, 40)), study(2, START + timedelta(days=days_first), m(1, 38))]
        studies += [study(3 + i, START + timedelta(days=days_first + 56 * (i + 1)), m(1, s)) for i, s in enumerate(more)]
        return assess_line(hist((LUNG,), tuple(studies)), LINE).best_overall
    assert bor(42) == "SD"
    assert bor(41) == "NE"
    assert bor(41, 50) == "PD"  # early SD then PD (+31.6 %, +12 mm over the nadir 38)


def test_best_overall_is_pr_before_pd_and_ignores_later_points():
    r = assess_line(hist((LUNG,), tuple(
        [study(1, BASE, m(1, 40)), study(2, week(8), m(1, 25)), study(3, week(16), m(1, 31)), study(4, week(24), m(1, 5))]
    )), LINE)
    assert [t.overall for t in r.timepoints[1:]][:2] == ["PR", "PD"]
    assert r.best_overall == "PR" and r.first_pd_date == week(16)


# ----------------------------------------------------------------------------- findings


def test_progression_finding_gives_the_numbers_once_per_line():
    studies = (study(1, BASE, m(1, 30), m(2, 20)), study(2, week(8), m(1, 20), m(2, 10)),
               study(3, week(16), m(1, 25), m(2, 12)), study(4, week(24), m(1, 30), m(2, 15)))
    h = hist((LUNG, LIVER), studies)
    responses = assess_history(h)
    findings = recist_findings(h, responses)
    pd = [f for f in findings if f.rule == "recist.progression"]
    assert len(pd) == 1
    f = pd[0]
    # nadir 30 -> 37: +23.3 %, +7 mm
    assert f.date == week(16) and f.subject == "line-1"
    assert "37 mm" in f.evidence and "+23.3 %" in f.evidence and "+7 mm" in f.evidence and "30 mm" in f.evidence
    assert "Eisenhauer" in f.source
    assert "care team" in f.discuss
    assert f.data["sum_mm"] == 37.0 and f.data["nadir_mm"] == 30.0
    resp = [f for f in findings if f.rule == "recist.response"]
    assert len(resp) == 1 and resp[0].date == week(8) and resp[0].severity is Severity.INFO


def test_no_findings_for_stable_disease_with_baseline():
    h = hist((LUNG,), (study(1, BASE, m(1, 40)), study(2, week(8), m(1, 38))))
    assert recist_findings(h, assess_history(h)) == []


def test_config_thresholds_are_used():
    cfg = RulesConfig(recist=RecistConfig(pd_increase_pct=10.0, pd_increase_min_mm=2.0))
    h = hist((LUNG,), (study(1, BASE, m(1, 30)), study(2, week(8), m(1, 33))))
    assert assess_history(h, cfg)[0].timepoints[1].overall == "PD"
    assert assess_history(h)[0].timepoints[1].overall == "SD"


def test_same_day_studies_are_one_time_point():
    # CT chest and MRI brain on the same follow-up day: one time point with both lesions.
    brain = Lesion(9, "brain frontal", "brain")
    studies = (
        study(1, BASE, m(1, 30), m(9, 12)),
        study(2, week(8), m(1, 20)),
        study(3, week(8), m(9, 8)),
    )
    r = assess_line(hist((LUNG, brain), studies), LINE)
    assert len(r.timepoints) == 2
    tp = r.timepoints[1]
    assert tp.study_ids == (2, 3) and tp.study_id == 2
    assert tp.sum_mm == 28.0 and tp.target == "PR"  # 42 -> 28 = -33 %


def test_non_target_reappearance_after_cr_is_pd():
    studies = (
        study(1, BASE, m(1, 30), m(2, 8)),
        study(2, week(8), m(1, None, GONE), nt=NonTargetStatus.ABSENT),
        study(3, week(16), m(1, None, GONE), nt=NonTargetStatus.PRESENT),
    )
    r = assess_line(hist((LUNG, LIVER), studies), LINE)
    assert [t.overall for t in r.timepoints[1:]] == ["CR", "PD"]
    assert "reappeared" in r.timepoints[2].pd_reasons[0]


def test_decimal_helpers():
    from decimal import Decimal

    from lungtrack.core.decimal_math import D, at_least_pct_increase, fmt_mm, fmt_pct, pct_change

    assert D(30.6) == Decimal("30.6") and D(5) == Decimal(5)
    assert at_least_pct_increase(D(30.6), D(25.5), D(20.0))
    assert not at_least_pct_increase(D(30.59), D(25.5), D(20.0))
    assert at_least_pct_increase(D(1.0), D(0), D(20.0)) and not at_least_pct_increase(D(0), D(0), D(20.0))
    assert pct_change(D(5), D(0)) is None
    assert fmt_mm(20.0) == "20" and fmt_mm(22.5) == "22.5" and fmt_pct(-34.8485) == "-34.8" and fmt_pct(20) == "+20"
    with pytest.raises(TypeError):
        D(True)


@pytest.mark.parametrize("recorded_before", [True, False])
def test_a_lesion_recorded_before_the_baseline_scan_is_not_new(recorded_before: bool) -> None:
    """A lesion missing from the baseline scan but measured on an earlier scan (outside the
    baseline window) is noted, not counted as new; one never recorded before is new (PD)."""
    early = (study(1, BASE - timedelta(days=90), m(1, 30.0), m(2, 12.0)),) if recorded_before else ()
    h = hist((LUNG, LIVER), early + (study(2, BASE, m(1, 30.0)), study(3, week(8), m(1, 29.0), m(2, 14.0))))
    tp = assess_line(h, LINE).timepoints[-1]
    if recorded_before:
        assert tp.new_lesions == () and tp.overall == "SD"
        assert any("not on the baseline scan but recorded before it" in n for n in tp.notes)
    else:
        assert tp.new_lesions == ("liver S6",) and tp.overall == "PD"
        assert not any("recorded before it" in n for n in tp.notes)
