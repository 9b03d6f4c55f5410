"""Findings of an earlier therapy line become history (issue 8): kept, but not the alerts of the
current line, and not counted by `check`'s exit code."""

from __future__ import annotations

from datetime import date

from lungtrack.core.engine import evaluate
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
from lungtrack.enums import AppointmentKind, BiopsyResult, Marker, Sample, StopReason

GEF = TherapyLine(1, "gefitinib", date(2025, 1, 10), end=date(2025, 12, 1), stop_reason=StopReason.PROGRESSION)
OSI = TherapyLine(2, "osimertinib", date(2025, 12, 8))
LUNG = Lesion(1, "RUL mass", "lung")


def cea(i: int, d: date, v: float) -> MarkerResult:
    return MarkerResult(i, d, Marker.CEA, v, "ng/mL", uln=5.0)


def story(lines=(GEF, OSI), markers=()) -> History:
    return History(
        PatientInfo(1, "Ann"),
        lines=lines,
        lesions=(LUNG,),
        studies=(
            ImagingStudy(1, date(2025, 1, 3), measurements=(Measurement(1, 30.0),)),
            ImagingStudy(2, date(2025, 3, 10), measurements=(Measurement(1, 18.0),)),
            ImagingStudy(3, date(2025, 11, 20), measurements=(Measurement(1, 26.0),)),  # PD on gefitinib
            ImagingStudy(4, date(2026, 2, 1), measurements=(Measurement(1, 20.0),)),
        ),
        biopsies=(BiopsyFinding(1, date(2025, 11, 25), Sample.PLASMA, "EGFR", "T790M", BiopsyResult.DETECTED),),
        markers=tuple(markers),
        appointments=(Appointment(1, date(2026, 2, 20), AppointmentKind.VISIT),),
    )


def by_rule(ev, rule: str):
    return [f for f in ev.findings if f.rule == rule]


def test_findings_of_the_ended_line_are_history_and_need_no_attention():
    ev = evaluate(story(), date(2026, 3, 1))
    [pd] = by_rule(ev, "recist.progression")
    [t790m] = by_rule(ev, "variant.resistance")
    for f in (pd, t790m):
        assert f.line_id == 1 and f.historical and not f.needs_attention
        assert f in ev.historical_findings and f not in ev.current_findings
    # Missed appointment (line-independent) and the current line's findings stay current.
    [missed] = by_rule(ev, "timing.appointment_missed")
    assert not missed.historical and missed.needs_attention
    [tot] = by_rule(ev, "timing.time_on_therapy")
    assert tot.line_id == 2 and not tot.historical
    # History comes after every current finding.
    flags = [f.historical for f in ev.findings]
    assert flags == sorted(flags)


def test_without_a_newer_line_the_ended_line_keeps_its_findings_current():
    # Gefitinib stopped for progression and no new line yet: the progression and the T790M
    # result are the latest information, not history.
    ev = evaluate(story(lines=(GEF,)), date(2025, 12, 5))
    assert [f.historical for f in by_rule(ev, "recist.progression") + by_rule(ev, "variant.resistance")] == \
        [False, False]
    assert ev.needs_attention


def test_marker_and_biopsy_findings_dated_before_the_current_line_are_history():
    # A biopsy finding tied to no line (before any line): history when dated before the latest
    # line started; on that day it is current (boundary).
    def ex19(d1: date, d2: date) -> History:
        return History(PatientInfo(1, "Ann"), lines=(OSI,), biopsies=(
            BiopsyFinding(1, d1, Sample.PLASMA, "EGFR", "exon 19 deletion", BiopsyResult.NOT_DETECTED),
            BiopsyFinding(2, d2, Sample.PLASMA, "EGFR", "exon 19 deletion", BiopsyResult.DETECTED)))
    [old] = by_rule(evaluate(ex19(date(2025, 10, 1), date(2025, 12, 7)), date(2026, 3, 1)), "variant.new")
    assert old.line_id is None and old.historical
    [same_day] = by_rule(evaluate(ex19(date(2025, 10, 1), OSI.start), date(2026, 3, 1)), "variant.new")
    assert same_day.line_id is None and not same_day.historical
    # Marker kinetics start at the latest line, so a rise on the current line is current.
    h = story(markers=(cea(1, date(2025, 12, 10), 3.0), cea(2, date(2026, 1, 10), 9.0), cea(3, date(2026, 2, 10), 20.0)))
    [rise] = by_rule(evaluate(h, date(2026, 3, 1)), "marker.rising")
    assert not rise.historical and rise.needs_attention


def test_cli_check_hides_history_by_default_and_lists_it_with_all(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-01-20")
    for step in (
        ("patient", "add", "Ann"),
        ("therapy", "start", "gefitinib", "--on", "2025-01-10"),
        ("scan", "add", "--date", "2025-01-03", "--lesion", "A: lung, 30 mm"),
        ("scan", "add", "--date", "2025-03-10", "--lesion", "A 18"),
        ("scan", "add", "--date", "2025-11-20", "--lesion", "A 26"),
        ("therapy", "stop", "--on", "2025-12-01", "--reason", "progression"),
        ("therapy", "start", "osimertinib", "--on", "2025-12-08"),
        ("scan", "add", "--date", "2026-01-15", "--lesion", "A 24"),
    ):
        assert cli(*step).code == 0, step
    r = cli("check", "--json")
    data = r.json()["patients"][0]
    assert all(not f["historical"] for f in data["findings"])
    assert data["history"] == [] and data["history_count"] >= 1
    assert "recist.progression" not in {f["rule"] for f in data["findings"]}
    assert r.code == 0, r  # the old line's progression does not make check exit 3
    text = cli("check")
    assert "of earlier therapy lines not shown (lungtrack check --all)" in text.stdout
    assert "Progression by RECIST 1.1" not in text.stdout
    full = cli("check", "--all")
    assert "History — findings of earlier therapy lines:" in full.stdout
    assert "Progression by RECIST 1.1" in full.stdout
    assert full.code == 0
    hist = cli("check", "--all", "--json").json()["patients"][0]["history"]
    assert {f["rule"] for f in hist} >= {"recist.progression"} and all(f["historical"] for f in hist)
