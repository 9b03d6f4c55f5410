"""Properties of the RECIST, heterogeneity and plausibility rules over generated histories."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungtrack.core.heterogeneity import lesion_courses, mixed_response_findings
from lungtrack.core.history import History, ImagingStudy, Lesion, Measurement, NewLesion, PatientInfo, TherapyLine
from lungtrack.core.plausibility import plausibility_findings
from lungtrack.core.recist import assess_history, recist_findings
from lungtrack.enums import LesionRole, MeasurementStatus, NonTargetStatus

START = date(2025, 3, 1)
SITES = ("lung", "liver", "bone", "adrenal", "brain")
LABELS = ("A", "B", "C", "D", "E", "F", "G")

sizes = st.one_of(st.integers(1, 120).map(float), st.floats(1.0, 120.0, allow_nan=False).map(lambda x: round(x, 2)))


@st.composite
def lesions(draw) -> tuple[Lesion, ...]:
    n = draw(st.integers(1, 7))
    out = []
    for i in range(n):
        is_node = draw(st.booleans())
        role = draw(st.sampled_from([None, None, None, LesionRole.TARGET, LesionRole.NON_TARGET]))
        out.append(Lesion(i + 1, LABELS[i], "node" if is_node else draw(st.sampled_from(SITES)), is_node, role))
    return tuple(out)


@st.composite
def measurement(draw, lesion_id: int) -> Measurement:
    status = draw(st.sampled_from(list(MeasurementStatus)))
    if status is MeasurementStatus.MEASURED:
        return Measurement(lesion_id, draw(sizes), status)
    return Measurement(lesion_id, None, status)


@st.composite
def histories(draw) -> History:
    ls = draw(lesions())
    n_studies = draw(st.integers(0, 6))
    offsets = sorted(draw(st.lists(st.integers(-40, 400), min_size=n_studies, max_size=n_studies)))
    studies = []
    for i, off in enumerate(offsets):
        chosen = draw(st.lists(st.sampled_from([l.id for l in ls]), unique=True))
        rows = tuple(draw(measurement(lid)) for lid in chosen)
        news = tuple(
            NewLesion(draw(st.sampled_from(SITES)), draw(st.sampled_from([None, "X", "Y"])), draw(st.booleans()),
                      draw(st.one_of(st.none(), sizes)), draw(st.booleans()))
            for _ in range(draw(st.integers(0, 2)))
        )
        studies.append(
            ImagingStudy(
                i + 1,
                START + timedelta(days=off),
                slice_thickness_mm=draw(st.sampled_from([None, 1.0, 5.0, 8.0])),
                measurements=rows,
                new_lesions=news,
                non_target_status=draw(st.sampled_from([None, *NonTargetStatus])),
            )
        )
    lines = [TherapyLine(1, "osimertinib", START)]
    if draw(st.booleans()):
        end = START + timedelta(days=draw(st.integers(30, 300)))
        lines = [TherapyLine(1, "gefitinib", START, end=end), TherapyLine(2, "osimertinib", end + timedelta(days=3))]
    return History(PatientInfo(1, "P"), lines=tuple(lines), lesions=ls, studies=tuple(studies))


def shuffled(h: History, rnd) -> History:
    studies = [
        replace(s, measurements=tuple(rnd.sample(s.measurements, len(s.measurements))),
                new_lesions=tuple(rnd.sample(s.new_lesions, len(s.new_lesions))))
        for s in h.studies
    ]
    return replace(
        h,
        lines=tuple(rnd.sample(h.lines, len(h.lines))),
        lesions=tuple(rnd.sample(h.lesions, len(h.lesions))),
        studies=tuple(rnd.sample(studies, len(studies))),
    )


RANK = {"CR": 5, "PR": 4, "SD": 3, "non-CR/non-PD": 3, "NE": 1, "PD": 0, None: 6}


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(h, rnd):
    assert assess_history(shuffled(h, rnd)) == assess_history(h)
    a = sorted(f.id for f in recist_findings(h, assess_history(h)))
    hs = shuffled(h, rnd)
    assert sorted(f.id for f in recist_findings(hs, assess_history(hs))) == a
    assert sorted(f.id for f in plausibility_findings(hs)) == sorted(f.id for f in plausibility_findings(h))


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.data())
def test_adding_a_new_lesion_never_improves_the_response(h, data):
    before = assess_history(h)
    followups = [(r.line.id, t.study_id) for r in before for t in r.timepoints if not t.is_baseline]
    if not followups:
        return
    line_id, sid = data.draw(st.sampled_from(followups))
    new = NewLesion("liver", data.draw(st.sampled_from([None, "Z"])))
    h2 = replace(h, studies=tuple(replace(s, new_lesions=s.new_lesions + (new,)) if s.id == sid else s for s in h.studies))
    after = assess_history(h2)
    for r1, r2 in zip(before, after):
        assert RANK[r2.best_overall] <= RANK[r1.best_overall]
        if r1.first_pd_date is not None:
            assert r2.first_pd_date is not None and r2.first_pd_date <= r1.first_pd_date
        if r2.line.id == line_id:
            tp = next(t for t in r2.timepoints if t.study_id == sid)
            assert tp.overall == "PD"
            assert r2.first_pd_date is not None and r2.first_pd_date <= tp.date


@st.composite
def shrinking(draw) -> History:
    """A baseline with measured lesions, then follow-ups where every lesion is no larger than on
    the previous scan (or gone), with no new lesion and no non-target progression."""
    ls = draw(lesions())
    current = {l.id: draw(sizes) for l in ls}
    studies = [ImagingStudy(1, START - timedelta(days=3), measurements=tuple(Measurement(i, v) for i, v in current.items()))]
    day = 0
    for k in range(draw(st.integers(1, 5))):
        day += draw(st.integers(14, 120))
        rows = []
        for lid in current:
            if current[lid] == 0 or draw(st.integers(0, 5)) == 0:
                current[lid] = 0.0
                rows.append(Measurement(lid, None, MeasurementStatus.DISAPPEARED))
            else:
                current[lid] = round(current[lid] * draw(st.floats(0.0, 1.0)), 2)
                if current[lid] == 0:
                    rows.append(Measurement(lid, None, MeasurementStatus.DISAPPEARED))
                else:
                    rows.append(Measurement(lid, current[lid]))
        # "present" only while every lesion is still there as disease: a node under 10 mm counts as
        # normal, so "present" then would report disease reappearing after a CR (found by hypothesis)
        nodes = {l.id for l in ls if l.is_node}
        still_disease = all(v >= 10 if lid in nodes else v > 0 for lid, v in current.items())
        nt = draw(st.sampled_from([None, NonTargetStatus.PRESENT])) if still_disease else None
        studies.append(ImagingStudy(k + 2, START + timedelta(days=day), measurements=tuple(rows), non_target_status=nt))
    return History(PatientInfo(1, "P"), lines=(TherapyLine(1, "osimertinib", START),), lesions=ls, studies=tuple(studies))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(shrinking())
def test_shrinking_every_lesion_never_yields_pd(h):
    for r in assess_history(h):
        assert all(t.overall != "PD" for t in r.timepoints), [(t.sum_mm, t.overall, t.pd_reasons) for t in r.timepoints]
        assert r.first_pd_date is None
    assert [f for f in recist_findings(h, assess_history(h)) if f.rule == "recist.progression"] == []
    assert mixed_response_findings(h, assess_history(h)) == []


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_rules_never_raise_and_stay_consistent(h):
    responses = assess_history(h)
    assert [r.line.start for r in responses] == sorted(r.line.start for r in responses)
    for r in responses:
        assert len(r.targets) <= 5 or any(t.reason.startswith("chosen as a target by you") for t in r.targets)
        dates = [t.date for t in r.timepoints]
        assert dates == sorted(dates)
        if r.timepoints:
            assert r.timepoints[0].is_baseline and r.timepoints[0].overall == "BASELINE"
        for t in r.timepoints[1:]:
            assert t.overall in {"CR", "PR", "SD", "PD", "NE", "non-CR/non-PD"}
            if r.line.end is not None:
                assert t.date <= r.line.end
            if t.sum_mm is None:
                assert t.change_from_nadir_mm is None
            if t.target is not None and t.nadir_mm is not None and t.sum_mm is not None:
                assert t.nadir_mm <= max(x.sum_mm for x in r.timepoints if x.sum_mm is not None)
        lesion_courses(h, r)
    recist_findings(h, responses)
    mixed_response_findings(h, responses)
    plausibility_findings(h)
