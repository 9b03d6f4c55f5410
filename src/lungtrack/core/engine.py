"""The engine: every rule over one history, as of one day.

``evaluate(history, today, config)`` first cuts the history at ``today`` (later studies,
markers and biopsies are ignored, lines that start later are dropped, and a line or the
tracking that ends later is treated as still running), so a report "as of" a past day shows
exactly what was known then.  Planned appointments are kept whatever their date: they are
plans, not events.

It then runs the rule modules (RECIST, heterogeneity, plausibility, markers, variants,
timing), sets ``patient_id`` on every finding, drops event findings dated after today, removes
duplicate ids (keeping the most severe) and sorts: current before history, then severity
(alert, watch, info), then date (newest first), then id.  Timing findings are dated by their due date, which may be in the
future by design (a deadline), so they are exempt from the date cut.

Findings from an earlier therapy line become **history** (``Finding.historical``, see
:func:`mark_history`): they stay in ``findings`` but do not need attention, so ``check`` and the
reports do not show them as the alerts of the current line.

The engine never raises on a valid history: if one rule module fails, its findings are
replaced by a visible ``engine.rule_error`` finding (severity watch) and the others are still
shown - a crash would hide every other finding, and silence would hide the failure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, TypeVar

from lungtrack.core.fastinit import fast_init
from lungtrack.core.config import RulesConfig
from lungtrack.core.findings import Finding
from lungtrack.core.heterogeneity import mixed_response_findings
from lungtrack.core.history import History, PatientInfo, TherapyLine, markers_by_kind
from lungtrack.core.markers import MarkerKinetics, marker_findings, marker_kinetics
from lungtrack.core.plausibility import plausibility_findings
from lungtrack.core.recist import LineResponse, assess_history_with_rows, recist_findings
from lungtrack.core.timing import DueItem, active_line, due_items, timing_findings
from lungtrack.core.variants import variant_findings
from lungtrack.enums import Severity
from lungtrack.knowledge.sources import cite

T = TypeVar("T")


@fast_init
@dataclass(frozen=True, slots=True)
class Evaluation:
    patient: PatientInfo
    today: date
    config: RulesConfig
    responses: tuple[LineResponse, ...]
    kinetics: tuple[MarkerKinetics, ...]
    due: tuple[DueItem, ...]
    findings: tuple[Finding, ...]  # sorted: current before history, severity, date desc, id
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

    @property
    def current_findings(self) -> tuple[Finding, ...]:
        """Findings of the current line and those tied to no line (same order)."""
        return tuple(f for f in self.findings if not f.historical)

    @property
    def historical_findings(self) -> tuple[Finding, ...]:
        """Findings that belong to an earlier line (same order)."""
        return tuple(f for f in self.findings if f.historical)


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


#: Rules whose findings are about the records or the schedule, not about one therapy line:
#: they are never history (a due scan, a missed appointment, an entry to check).
LINE_INDEPENDENT_PREFIXES = ("entry.", "engine.")
LINE_INDEPENDENT_RULES = ("timing.imaging_due", "timing.marker_due", "timing.appointment_missed")


def _line_of(f: Finding) -> int | None:
    value = f.data.get("line_id") if isinstance(f.data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def mark_history(findings: list[Finding], history: History) -> list[Finding]:
    """Set ``line_id`` and ``historical`` on every finding.

    The *latest line* is the one that started last (running or ended; ``history`` is already
    cut at today).  A finding about a line (``data["line_id"]``: RECIST, mixed response, early
    progression, variants read in that line's context) is history when that line is not the
    latest one.  A finding tied to no line (marker kinetics) is history when it is dated before
    the latest line started.  Timing reminders, plausibility checks and engine errors are never
    history.  With no line at all, nothing is history; the findings of the latest line stay
    current after it ends, until another line starts.
    """
    return [dataclasses.replace(f, line_id=line_id, historical=historical)
            for f, line_id, historical in _history_marks(findings, history)]


def _history_marks(findings: list[Finding], history: History) -> list[tuple[Finding, int | None, bool]]:
    """``(finding, line_id, historical)`` for each finding (see :func:`mark_history`)."""
    latest = max(history.lines, key=lambda l: (l.start, l.id)) if history.lines else None
    out: list[tuple[Finding, int | None, bool]] = []
    for f in findings:
        line_id = _line_of(f)
        if latest is None or f.rule in LINE_INDEPENDENT_RULES or f.rule.startswith(LINE_INDEPENDENT_PREFIXES):
            historical = False
        elif line_id is not None:
            historical = line_id != latest.id
        else:
            historical = f.date < latest.start
        out.append((f, line_id, historical))
    return out


def _with(f: Finding, **changes: Any) -> Finding:
    """``dataclasses.replace(f, **changes)`` without running the frozen ``__init__`` again:
    ``Finding`` has no ``__post_init__``, so a copy of its fields with the changes applied is
    the same object (equal, same field values)."""
    out = object.__new__(Finding)
    out.__dict__.update(f.__dict__)
    out.__dict__.update(changes)
    return out


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


def _once(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn``, called at most once: later calls return its first result (an exception is not
    kept: the next call runs ``fn`` again, and raises again)."""
    done: list[T] = []

    def call() -> T:
        if not done:
            done.append(fn())
        return done[0]

    return call


def _sort_key(f: Finding, fid: str) -> tuple[bool, int, int, str]:
    """Current before history, then severity (alert, watch, info), date (newest first), id."""
    return (f.historical, -Severity(f.severity).rank, -f.date.toordinal(), fid)


def evaluate(history: History, today: date, config: RulesConfig = RulesConfig()) -> Evaluation:
    """Run every rule on ``history`` as of ``today``."""
    h = history_as_of(history, today)
    errors: list[Finding] = []
    # the assessment's merged rows per time point go on to the per-lesion rules (no second merge)
    assessed, rows = _run("recist", lambda: assess_history_with_rows(h, config), ((), None), errors, today)
    responses = tuple(assessed)
    found: list[Finding] = []
    found += _run("recist", lambda: recist_findings(h, responses, config), [], errors, today)
    found += _run("heterogeneity", lambda: mixed_response_findings(h, responses, config, timepoint_rows=rows), [],
                  errors, today)
    found += _run("plausibility", lambda: plausibility_findings(h, config), [], errors, today)
    # the marker kinetics and the due items are computed once, for the findings and for the
    # evaluation (a rule module that fails, fails in both places as before)
    # ... both over the markers grouped by kind, grouped once
    by_kind = _once(lambda: markers_by_kind(h.markers))
    kinetics_once = _once(lambda: marker_kinetics(h, config, by_kind=by_kind()))
    due_once = _once(lambda: due_items(h, today, config, by_kind=by_kind()))
    found += _run("markers", lambda: marker_findings(h, config, kinetics=kinetics_once()), [], errors, today)
    found += _run("variants", lambda: variant_findings(h, config, responses), [], errors, today)
    found += _run("timing", lambda: timing_findings(h, responses, today, config, due=due_once()), [], errors, today)
    kinetics = tuple(_run("markers", kinetics_once, (), errors, today))
    due = tuple(_run("timing", due_once, (), errors, today))

    pid = history.patient.id
    kept = [f for f in found + errors if f.date <= today or f.rule.startswith("timing.")]
    # one copy per finding with patient_id, line_id and historical set (mark_history's marks)
    marked = [(_with(f, patient_id=pid, line_id=line_id, historical=historical), f.id)
              for f, line_id, historical in _history_marks(kept, h)]
    marked.sort(key=lambda pair: _sort_key(*pair))
    seen: set[str] = set()
    unique: list[Finding] = []
    for f, fid in marked:
        if fid not in seen:
            seen.add(fid)
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
