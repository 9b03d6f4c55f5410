"""The engine: all rules together, as of a given day."""

from __future__ import annotations

from datetime import date

import pytest

from lungtrack.core import engine
from lungtrack.core.engine import evaluate, history_as_of
from lungtrack.core.history import (
    Appointment,
    BiopsyFinding,
    History,
    ImagingStudy,
    Lesion,
    MarkerResult,
    Measurement,
    PatientInfo,
    TherapyLine,
)
from lungtrack.enums import (
    AppointmentKind,
    BiopsyResult,
    Marker,
    Sample,
    Severity,
    SmokingStatus,
)

GEF = TherapyLine(1, "gefitinib", date(2025, 9, 20))


def ann(**changes) -> History:
    """Story 2: Ann on gefitinib, T790M in plasma, liver S6 growing, CEA rising."""
    m = Measurement
    base = dict(
        patient=PatientInfo(1, "Ann", drivers=("EGFR exon 19 deletion",), smoking=SmokingStatus.NEVER),
        lines=(GEF,),
        lesions=(Lesion(1, "RUL mass", "lung"), Lesion(2, "liver S6", "liver"), Lesion(3, "4R", "node", is_node=True)),
        studies=(
            ImagingStudy(1, date(2025, 9, 15), measurements=(m(1, 32), m(2, 18), m(3, 16))),
            ImagingStudy(2, date(2025, 12, 10), measurements=(m(1, 22), m(2, 12), m(3, 9))),
            ImagingStudy(3, date(2026, 2, 20), measurements=(m(1, 20), m(2, 9), m(3, 8))),
            ImagingStudy(4, date(2026, 5, 15), measurements=(m(1, 18), m(2, 15), m(3, 7))),
        ),
        markers=(
            MarkerResult(1, date(2026, 6, 1), Marker.CEA, 2.9, "ng/mL"),
            MarkerResult(2, date(2026, 6, 29), Marker.CEA, 3.8, "ng/mL"),
            MarkerResult(3, date(2026, 7, 27), Marker.CEA, 5.6, "ng/mL"),
        ),
        biopsies=(
            BiopsyFinding(1, date(2026, 1, 15), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.NOT_DETECTED),
            BiopsyFinding(2, date(2026, 7, 28), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.DETECTED, vaf=0.8),
        ),
    )
    base.update(changes)
    return History(**base)


def test_story_two() -> None:
    ev = evaluate(ann(), date(2026, 8, 12))
    rules = [f.rule for f in ev.findings]
    assert "engine.rule_error" not in rules
    assert rules[0] == "variant.resistance"  # the only alert comes first
    for rule in ("lesion.mixed_response", "marker.rising", "timing.imaging_due", "timing.time_on_therapy"):
        assert rule in rules, rule
    imaging = next(f for f in ev.findings if f.rule == "timing.imaging_due")
    assert imaging.subject == "imaging-due" and imaging.date == date(2026, 8, 14)
    assert all(f.patient_id == 1 for f in ev.findings)
    assert ev.needs_attention
    assert ev.current_line == GEF
    assert [k.marker for k in ev.kinetics] == [Marker.CEA]
    assert next(d for d in ev.due if d.key == "imaging").due_date == date(2026, 8, 14)
    assert ev.patient.name == "Ann" and ev.today == date(2026, 8, 12)


def test_sorted_by_severity_then_date_desc_then_id() -> None:
    ev = evaluate(ann(), date(2026, 8, 12))
    keys = [(-Severity(f.severity).rank, -f.date.toordinal(), f.id) for f in ev.findings]
    assert keys == sorted(keys)
    ranks = [Severity(f.severity).rank for f in ev.findings]
    assert ranks == sorted(ranks, reverse=True)


def test_history_after_today_is_ignored() -> None:
    ev = evaluate(ann(), date(2026, 7, 27))  # the day before the T790M result
    rules = [f.rule for f in ev.findings]
    assert "variant.resistance" not in rules
    assert "marker.rising" in rules
    assert all(f.date <= date(2026, 7, 27) for f in ev.findings if not f.rule.startswith("timing."))
    # A line that ends after today is still running today.
    ended_later = TherapyLine(1, "gefitinib", date(2025, 9, 20), end=date(2026, 12, 1))
    h = history_as_of(ann(lines=(ended_later,)), date(2026, 8, 12))
    assert h.lines[0].end is None
    assert evaluate(ann(lines=(ended_later,)), date(2026, 8, 12)).current_line is not None


def test_future_appointments_are_kept() -> None:
    visit = Appointment(4, date(2026, 8, 15), AppointmentKind.VISIT)
    ev = evaluate(ann(appointments=(visit,)), date(2026, 8, 12))
    assert any(d.key == "appointment:4" for d in ev.due)


def test_duplicate_ids_are_removed() -> None:
    # The same T790M reported on plasma and tissue on one day is one event.
    extra = BiopsyFinding(3, date(2026, 7, 28), Sample.TISSUE, "EGFR", "T790M", BiopsyResult.DETECTED)
    ev = evaluate(ann(biopsies=ann().biopsies + (extra,)), date(2026, 8, 12))
    ids = [f.id for f in ev.findings]
    assert len(ids) == len(set(ids))
    assert ids.count("variant.resistance:egfr-t790m:2026-07-28") == 1


def test_empty_and_minimal_histories_do_not_raise() -> None:
    empty = History(PatientInfo(2, "Bob"))
    ev = evaluate(empty, date(2026, 1, 1))
    assert ev.findings == () and ev.due == () and ev.current_line is None and not ev.needs_attention
    only_line = History(PatientInfo(2, "Bob"), lines=(TherapyLine(1, "unknown-drug", date(2026, 1, 1)),))
    ev2 = evaluate(only_line, date(2026, 1, 2))
    assert "engine.rule_error" not in [f.rule for f in ev2.findings]


def test_patient_ended_has_no_timing_findings() -> None:
    h = ann(patient=PatientInfo(1, "Ann", ended_on=date(2026, 8, 1)))
    ev = evaluate(h, date(2026, 8, 20))
    assert not any(f.rule.startswith("timing.") for f in ev.findings)
    assert ev.due == ()
    # As of a day before the end, tracking was still running.
    assert any(f.rule.startswith("timing.") for f in evaluate(h, date(2026, 7, 30)).findings)


def test_a_failing_rule_module_is_contained_and_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a, **_k):
        raise RuntimeError("bug")

    monkeypatch.setattr(engine, "marker_findings", boom)
    ev = evaluate(ann(), date(2026, 8, 12))
    errors = [f for f in ev.findings if f.rule == "engine.rule_error"]
    assert len(errors) == 1 and errors[0].subject == "markers" and errors[0].severity == Severity.WATCH
    assert "variant.resistance" in [f.rule for f in ev.findings]  # the others still run


# --------------------------------------------------------------------------- never raises

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from lungtrack.enums import AlleleContext, MeasurementStatus, StopReason  # noqa: E402
from lungtrack.knowledge.drugs import DRUG_LIST  # noqa: E402

_days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
_drug = st.sampled_from([d.name for d in DRUG_LIST] + ["not-in-table"])


@st.composite
def histories(draw) -> History:
    lines = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(_days)
        end = draw(st.one_of(st.none(), _days.filter(lambda d, s=start: d >= s)))
        reason = draw(st.sampled_from(list(StopReason))) if end else None
        lines.append(TherapyLine(i + 1, draw(_drug), start, end, reason))
    lesions = tuple(Lesion(i + 1, f"L{i}", draw(st.sampled_from(["lung", "liver", "node"])), is_node=draw(st.booleans()))
                    for i in range(draw(st.integers(0, 3))))
    studies = []
    for i in range(draw(st.integers(0, 4))):
        ms = []
        for les in lesions:
            status = draw(st.sampled_from(list(MeasurementStatus)))
            size = draw(st.floats(1, 200)) if status == MeasurementStatus.MEASURED else None
            ms.append(Measurement(les.id, size, status))
        studies.append(ImagingStudy(i + 1, draw(_days), measurements=tuple(ms)))
    markers = tuple(
        # Lab values as typed: 0 or 0.001-5000 (no subnormal floats such as 5e-324).
        MarkerResult(i + 1, draw(_days), m, draw(st.one_of(st.just(0.0), st.floats(0.001, 5000))), "u",
                     uln=draw(st.one_of(st.none(), st.floats(0.1, 100))))
        for i, m in enumerate(draw(st.lists(st.sampled_from(list(Marker)), max_size=6)))
    )
    genes = [("EGFR", "T790M"), ("EGFR", "C797S"), ("MET", "amplification"), ("ALK", "G1202R"),
             ("", "small-cell transformation"), ("EGFR", "exon 19 deletion"), ("TP53", "R273H")]
    biopsies = tuple(
        BiopsyFinding(i + 1, draw(_days), draw(st.sampled_from(list(Sample))), g, v,
                      draw(st.sampled_from(list(BiopsyResult))),
                      vaf=draw(st.one_of(st.none(), st.just(0.0), st.floats(0.01, 100))),
                      allele_context=draw(st.one_of(st.none(), st.sampled_from(list(AlleleContext)))))
        for i, (g, v) in enumerate(draw(st.lists(st.sampled_from(genes), max_size=5)))
    )
    appointments = tuple(Appointment(i + 1, draw(_days), draw(st.sampled_from(list(AppointmentKind))))
                         for i in range(draw(st.integers(0, 2))))
    ended = draw(st.one_of(st.none(), _days))
    return History(PatientInfo(1, "P", ended_on=ended, smoking=draw(st.sampled_from(list(SmokingStatus)))),
                   tuple(lines), lesions, tuple(studies), markers, biopsies, appointments)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), _days)
def test_evaluate_never_raises_and_never_fails_a_rule(h: History, today: date) -> None:
    ev = evaluate(h, today)
    assert [f for f in ev.findings if f.rule == "engine.rule_error"] == []
    assert all(f.date <= today for f in ev.findings if not f.rule.startswith("timing."))
    assert len({f.id for f in ev.findings}) == len(ev.findings)
