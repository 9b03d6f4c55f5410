"""The engine: every rule over one history, as of one day.

``evaluate(history, today, config)`` first cuts the history at ``today`` (later studies,
markers and biopsies are ignored, lines that start later are dropped, and a line or the
tracking that ends later is treated as still running), so a report "as of" a past day shows
exactly what was known then.  Planned appointments are kept whatever their date: they are
plans, not events.

It then runs the rule modules (RECIST, heterogeneity, plausibility, markers, variants,
timing), sets ``patient_id`` on every finding, drops event findings dated after today, removes
duplicate ids (keeping the most severe) and sorts: severity (alert, watch, info), then date
(newest first), then id.  Timing findings are dated by their due date, which may be in the
future by design (a deadline), so they are exempt from the date cut.

The engine never raises on a valid history: if one rule module fails, its findings are
replaced by a visible ``engine.rule_error`` finding (severity watch) and the others are still
shown - a crash would hide every other finding, and silence would hide the failure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from lungtrack.core.config import RulesConfig
from lungtrack.core.findings import Finding
from lungtrack.core.heterogeneity import mixed_response_findings
from lungtrack.core.history import History, PatientInfo, TherapyLine
from lungtrack.core.markers import MarkerKinetics, marker_findings, marker_kinetics
from lungtrack.core.plausibility import plausibility_findings
from lungtrack.core.recist import LineResponse, assess_history, recist_findings
from lungtrack.core.timing import DueItem, active_line, due_items, timing_findings
from lungtrack.core.variants import variant_findings
from lungtrack.enums import Severity
from lungtrack.knowledge.sources import cite


@dataclass(frozen=True)
class Evaluation:
    patient: PatientInfo
    today: date
    config: RulesConfig
    responses: tuple[LineResponse, ...]
    kinetics: tuple[MarkerKinetics, ...]
    due: tuple[DueItem, ...]
    findings: tuple[Finding, ...]  # sorted: severity (alert, watch, info), then date desc, then id
    history: History | None = None  # the history as of ``today`` (cut), which the rules saw

    @property
    def current_line(self) -> TherapyLine | None:
        """The line running today (started, not ended), or ``None``."""
        if self.history is None:
            return None
        return active_line(self.history, self.today)

    @property
    def needs_attention(self) -> bool:
        return any(f.needs_attention for f in self.findings)


def history_as_of(history: History, today: date) -> History:
    """The history as it was known on ``today`` (see the module docstring)."""
    lines = tuple(
        dataclasses.replace(l, end=None, stop_reason=None) if l.end is not None and l.end > today else l
        for l in history.lines
        if l.start <= today
    )
    patient = history.patient
    if patient.ended_on is not None and patient.ended_on > today:
        patient = dataclasses.replace(patient, ended_on=None)
    return dataclasses.replace(
        history,
        patient=patient,
        lines=lines,
        studies=tuple(s for s in history.studies if s.date <= today),
        markers=tuple(m for m in history.markers if m.date <= today),
        biopsies=tuple(b for b in history.biopsies if b.date <= today),
    )


def _error_finding(name: str, exc: BaseException, today: date) -> Finding:
    return Finding(
        rule="engine.rule_error",
        subject=name,
        date=today,
        severity=Severity.WATCH,
        title=f"The {name} rules could not be evaluated",
        evidence=f"The {name} rules stopped with an internal error ({type(exc).__name__}: {exc}); "
                 "the findings of the other rules are shown.",
        source=cite("lungtrack_design"),
        discuss="This is a lungtrack bug, not a clinical finding: please report it. Findings of this kind "
                "may be missing until it is fixed.",
        data={"module": name, "error": type(exc).__name__},
    )


def _run(name: str, fn: Callable[[], Any], default: Any, errors: list[Finding], today: date) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - contained and reported, see module docstring
        errors.append(_error_finding(name, exc, today))
        return default


def _sort_key(f: Finding) -> tuple[int, int, str]:
    return (-Severity(f.severity).rank, -f.date.toordinal(), f.id)


def evaluate(history: History, today: date, config: RulesConfig = RulesConfig()) -> Evaluation:
    """Run every rule on ``history`` as of ``today``."""
    h = history_as_of(history, today)
    errors: list[Finding] = []
    responses = tuple(_run("recist", lambda: assess_history(h, config), (), errors, today))
    found: list[Finding] = []
    found += _run("recist", lambda: recist_findings(h, responses, config), [], errors, today)
    found += _run("heterogeneity", lambda: mixed_response_findings(h, responses, config), [], errors, today)
    found += _run("plausibility", lambda: plausibility_findings(h, config), [], errors, today)
    found += _run("markers", lambda: marker_findings(h, config), [], errors, today)
    found += _run("variants", lambda: variant_findings(h, config, responses), [], errors, today)
    found += _run("timing", lambda: timing_findings(h, responses, today, config), [], errors, today)
    kinetics = tuple(_run("markers", lambda: marker_kinetics(h, config), (), errors, today))
    due = tuple(_run("timing", lambda: due_items(h, today, config), (), errors, today))

    pid = history.patient.id
    cleaned = [
        dataclasses.replace(f, patient_id=pid)
        for f in found + errors
        if f.date <= today or f.rule.startswith("timing.")
    ]
    cleaned.sort(key=_sort_key)
    seen: set[str] = set()
    unique: list[Finding] = []
    for f in cleaned:
        if f.id not in seen:
            seen.add(f.id)
            unique.append(f)
    return Evaluation(
        patient=h.patient,
        today=today,
        config=config,
        responses=responses,
        kinetics=kinetics,
        due=due,
        findings=tuple(unique),
        history=h,
    )
