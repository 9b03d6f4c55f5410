"""Follow-up timing: what is due, early progression, and time on therapy vs the trial median.

Due items are computed from the last event that actually happened (never from materialised
future rows, so no duplicate reminders):

* **Imaging**: from the last imaging study (or, if there is none, the start of the current
  line).  Due soon from ``imaging_due_soon_weeks`` (8) after it; "due" in the last
  ``due_window_days`` (7) days up to the due date; overdue after the due date, which is
  ``imaging_overdue_weeks`` (13) after it.  ESMO 2018 advises response imaging every 6-9 weeks
  on targeted therapy; Gao 2017's cohort had CT every 2 months.
* **Markers**: the same with the marker intervals, for each marker tested during the current
  line (a marker never tested on this line is not reminded: routine CEA is not recommended).
* **Booked**: a planned appointment of the matching kind (``imaging`` for scans, ``markers``
  for blood tests) dated today or later is a booking.  Booked on or before the due date, the
  item is shown as booked (info, "CT scan booked for 2026-09-02"), not nagged as due or
  overdue; booked after the due date it is still flagged (watch), saying "booked for X, after
  it falls overdue on Y".  The finding id does not change with a booking.
* **Appointments** (status planned): due soon ``appointment_soon_days`` (7) before, due on the
  day, overdue (missed) after the day while still marked planned.

Imaging and marker items need an *active* line (started on or before today, not ended by
today).  Appointments are shown with or without a line (they are the user's own plan).
Nothing at all is due once tracking has ended (``patient.ended_on`` on or before today).

Per-patient intervals (``PatientInfo.schedule``) override the thresholds file field by field
where they are set; a field left ``None`` follows the ``[timing]`` thresholds.

Finding ids use the due date and put the state into the subject (``imaging-due-soon``,
``imaging-overdue``): acknowledging "due soon" must not silence "overdue".  Timing findings
are dated by their due date, which may lie after today - it is a deadline, not an event.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP
from typing import Any, Sequence

from lungtrack.core.fastinit import fast_init
from lungtrack.core.config import RulesConfig
from lungtrack.core.decimal_math import D
from lungtrack.core.findings import Finding
from lungtrack.core.history import Appointment, History, MarkerResult, Schedule, TherapyLine, markers_by_kind
from lungtrack.enums import AppointmentKind, AppointmentStatus, DueState, Marker, Severity, StopReason
from lungtrack.knowledge.drugs import Drug, TrialPFS, get_drug, primary_trial
from lungtrack.knowledge.sources import cite

DAYS_PER_MONTH = 365.25 / 12


@fast_init
@dataclass(frozen=True, slots=True)
class DueItem:
    key: str  # stable, e.g. "imaging", "marker:CEA", "appointment:<id>"
    kind: str  # "imaging", "marker", "appointment"
    label: str  # "CT scan", "CEA blood test", "Oncology visit"
    last_date: date | None
    due_soon_date: date | None  # window opens
    due_date: date  # overdue after this date
    state: DueState
    days: int  # due_date - today (negative = overdue by)
    # Imaging/marker items: the date of the earliest planned appointment of the matching kind on
    # or after today (a booked scan or blood test), else None.
    booked_for: date | None = None

    @property
    def booked_in_time(self) -> bool:
        """Booked for a date on or before the due date (so it will not fall overdue)."""
        return self.booked_for is not None and self.booked_for <= self.due_date


# --------------------------------------------------------------------------- helpers


def weeks_to_days(weeks: float) -> int:
    """Whole days, half up: 8 weeks -> 56, 13 -> 91, 8.5 -> 60 (59.5 rounded up)."""
    return int((D(weeks) * 7).to_integral_value(rounding=ROUND_HALF_UP))


def add_months(d: date, months: int) -> date:
    """Calendar months, clamped to the month's end (2025-11-30 + 3 -> 2026-02-28)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def months_between(start: date, end: date) -> float:
    """Elapsed months as days / (365.25 / 12), the usual way trials report durations."""
    return (end - start).days / DAYS_PER_MONTH


def active_line(history: History, today: date) -> TherapyLine | None:
    """The latest line that started on or before today and has not ended by today."""
    lines = [l for l in history.lines if l.start <= today and (l.end is None or l.end > today)]
    return max(lines, key=lambda l: (l.start, l.id)) if lines else None


@fast_init
@dataclass(frozen=True, slots=True)
class ResolvedSchedule:
    """:class:`Schedule` with every interval filled in (the patient's own, else the thresholds)."""

    imaging_due_soon_weeks: float
    imaging_overdue_weeks: float
    marker_due_soon_weeks: float
    marker_overdue_weeks: float


def effective_schedule(history: History, config: RulesConfig) -> ResolvedSchedule:
    """The patient's own intervals where set, else the ``[timing]`` thresholds (every field filled)."""
    own = history.patient.schedule
    values: dict[str, float] = {}
    for f in fields(Schedule):
        mine = getattr(own, f.name)
        values[f.name] = float(mine if mine is not None else getattr(config.timing, f.name))
    return ResolvedSchedule(**values)


def _state(today: date, soon: date | None, due: date, window_days: int) -> DueState:
    if today > due:
        return DueState.OVERDUE
    if (due - today).days < window_days:
        return DueState.DUE
    if soon is not None and today >= soon:
        return DueState.DUE_SOON
    return DueState.UP_TO_DATE


def _interval_item(key: str, kind: str, label: str, last: date | None, ref: date, soon_weeks: float,
                   overdue_weeks: float, today: date, window_days: int, booked_for: date | None = None) -> DueItem:
    soon = ref + timedelta(days=weeks_to_days(soon_weeks))
    due = ref + timedelta(days=weeks_to_days(overdue_weeks))
    return DueItem(key, kind, label, last, soon, due, _state(today, soon, due, window_days), (due - today).days,
                   booked_for)


_APPOINTMENT_LABEL = {
    AppointmentKind.IMAGING: "Scan appointment",
    AppointmentKind.MARKERS: "Blood test appointment",
    AppointmentKind.VISIT: "Oncology visit",
    AppointmentKind.BIOPSY: "Biopsy appointment",
    AppointmentKind.OTHER: "Appointment",
}


def _appointment_item(a: Appointment, today: date, soon_days: int) -> DueItem:
    soon = a.date - timedelta(days=soon_days)
    if today > a.date:
        state = DueState.OVERDUE
    elif today == a.date:
        state = DueState.DUE
    elif today >= soon:
        state = DueState.DUE_SOON
    else:
        state = DueState.UP_TO_DATE
    label = a.description or _APPOINTMENT_LABEL.get(a.kind, "Appointment")
    return DueItem(f"appointment:{a.id}", "appointment", label, None, soon, a.date, state, (a.date - today).days)


def booking(history: History, kind: AppointmentKind, today: date) -> date | None:
    """The earliest planned appointment of ``kind`` dated today or later, if any."""
    dates = [a.date for a in history.appointments
             if a.kind == kind and a.status == AppointmentStatus.PLANNED and a.date >= today]
    return min(dates) if dates else None


def due_items(history: History, today: date, config: RulesConfig = RulesConfig(), *,
              by_kind: Sequence[tuple[Marker, list[MarkerResult]]] | None = None) -> tuple[DueItem, ...]:
    """Everything with a due date: imaging, markers tested on the current line, planned
    appointments (see the module docstring for the rules).  ``by_kind``:
    ``markers_by_kind(history.markers)``, when the caller already has it."""
    ended = history.patient.ended_on
    if ended is not None and ended <= today:
        return ()
    tc = config.timing
    sched = effective_schedule(history, config)
    items: list[DueItem] = []
    line = active_line(history, today)
    if line is not None:
        scan_booked = booking(history, AppointmentKind.IMAGING, today)
        blood_booked = booking(history, AppointmentKind.MARKERS, today)
        studies = [s for s in history.studies if s.date <= today]
        last_study = max(studies, key=lambda s: (s.date, s.id)) if studies else None
        if last_study is not None:
            label = f"{last_study.modality.value} scan"
            items.append(_interval_item("imaging", "imaging", label, last_study.date, last_study.date,
                                        sched.imaging_due_soon_weeks, sched.imaging_overdue_weeks, today,
                                        tc.due_window_days, scan_booked))
        else:
            items.append(_interval_item("imaging", "imaging", "CT scan", None, line.start,
                                        sched.imaging_due_soon_weeks, sched.imaging_overdue_weeks, today,
                                        tc.due_window_days, scan_booked))
        for marker, all_results in (markers_by_kind(history.markers) if by_kind is None else by_kind):
            results = [r for r in all_results if r.date <= today]
            if not any(r.date >= line.start for r in results):
                continue
            last = max(r.date for r in results)
            items.append(_interval_item(f"marker:{marker.value}", "marker", f"{marker.value} blood test", last, last,
                                        sched.marker_due_soon_weeks, sched.marker_overdue_weeks, today,
                                        tc.due_window_days, blood_booked))
    planned = sorted((a for a in history.appointments if a.status == AppointmentStatus.PLANNED),
                     key=lambda a: (a.date, a.id))
    items.extend(_appointment_item(a, today, tc.appointment_soon_days) for a in planned)
    return tuple(items)


# --------------------------------------------------------------------------- findings


def _schedule_text(soon_weeks: float, overdue_weeks: float) -> str:
    return f"schedule: due soon from {_num(soon_weeks)} weeks, overdue after {_num(overdue_weeks)} weeks"


def _num(x: float) -> str:
    text = format(D(x).normalize(), "f")
    return text


def _when(item: DueItem) -> str:
    if item.state == DueState.OVERDUE:
        n = -item.days
        return f"overdue by {n} day{'s' if n != 1 else ''} (due by {item.due_date.isoformat()})"
    if item.days == 0:
        return f"due today ({item.due_date.isoformat()})"
    return f"due by {item.due_date.isoformat()} (in {item.days} day{'s' if item.days != 1 else ''})"


def booking_text(item: DueItem) -> str:
    """'' when not booked; else the booking, and whether it falls after the due date."""
    if item.booked_for is None:
        return ""
    booked = f"booked for {item.booked_for.isoformat()}"
    if item.booked_in_time:
        return booked
    overdue_from = item.due_date + timedelta(days=1)
    if item.state == DueState.OVERDUE:
        return f"{booked}, after it fell overdue on {overdue_from.isoformat()}"
    if item.booked_for == overdue_from:
        return f"{booked}, the day it falls overdue"
    return f"{booked}, after it falls overdue on {overdue_from.isoformat()}"


def _due_finding(item: DueItem, rule: str, subject_base: str, sched_text: str, source: str, discuss: str,
                 pid: int | None) -> Finding:
    """A due item as a finding.  The id depends only on the due state and date, never on a
    booking, so an acknowledgement keeps matching when a booking is added or moved.

    Booked on or before the due date: shown as booked (info).  Booked after the due date: still
    flagged (watch), saying so.
    """
    last = f"last {item.last_date.isoformat()}" if item.last_date else "none recorded on this treatment"
    booked = booking_text(item)
    if item.booked_in_time:
        assert item.booked_for is not None
        severity = Severity.INFO
        title = f"{item.label} booked for {item.booked_for.isoformat()}"
        evidence = f"{item.label} {booked} ({_when(item)}); {last}; {sched_text}."
    else:
        late = item.booked_for is not None
        severity = Severity.INFO if item.state == DueState.DUE_SOON and not late else Severity.WATCH
        title = {
            DueState.DUE_SOON: f"{item.label} due soon",
            DueState.DUE: f"{item.label} due",
            DueState.OVERDUE: f"{item.label} overdue",
        }[item.state]
        if late:
            title += ", booked after the due date"
        evidence = f"{item.label} {_when(item)}; {booked + '; ' if booked else ''}{last}; {sched_text}."
    return Finding(
        rule=rule,
        subject=f"{subject_base}-{item.state.value}",
        date=item.due_date,
        severity=severity,
        title=title,
        evidence=evidence,
        source=source,
        discuss=discuss,
        patient_id=pid,
        data={
            "key": item.key,
            "state": item.state.value,
            "last_date": item.last_date.isoformat() if item.last_date else None,
            "due_soon_date": item.due_soon_date.isoformat() if item.due_soon_date else None,
            "due_date": item.due_date.isoformat(),
            "days": item.days,
            "booked_for": item.booked_for.isoformat() if item.booked_for else None,
            "booked_in_time": item.booked_in_time,
        },
    )


def driver_gene(history: History, drug: Drug) -> str | None:
    """The patient's driver gene among the drug's targets (crizotinib: ALK or ROS1), if recorded."""
    for driver in history.patient.drivers:
        words = {w.strip(",;()").upper() for w in driver.replace("-", " ").split()}
        for target in drug.targets:
            if target in words:
                return target
    return None


def line_number(history: History, line: TherapyLine) -> int:
    """1 for the first line (by start date, then id), 2 for the next, ..."""
    return 1 + sum(1 for l in history.lines if (l.start, l.id) < (line.start, line.id))


def _trial_text(trial: TrialPFS) -> str:
    if trial.median_pfs_months is not None:
        return f"median PFS in {trial.trial}: {_num(trial.median_pfs_months)} months — a median, not a prediction"
    return f"median PFS in {trial.trial}: not reached ({trial.note})" if trial.note else \
        f"median PFS in {trial.trial}: not reached"


def _early_progression(history: History, responses: Sequence[Any], config: RulesConfig, pid: int | None) -> list[Finding]:
    out: list[Finding] = []
    months = config.timing.early_progression_months
    for line in history.lines:
        candidates: list[date] = []
        for r in responses:
            if getattr(r, "line", None) is not None and r.line.id == line.id and r.first_pd_date is not None:
                candidates.append(r.first_pd_date)
        if line.stop_reason == StopReason.PROGRESSION and line.end is not None:
            candidates.append(line.end)
        candidates = [d for d in candidates if d >= line.start]
        if not candidates:
            continue
        pd = min(candidates)
        limit = add_months(line.start, months)
        if pd > limit:
            continue
        drug = get_drug(line.drug)
        after = months_between(line.start, pd)
        egfr = drug is not None and drug.target == "EGFR" and drug.generation is not None
        meaning = (
            "On EGFR TKIs, 20–30 % of patients with an EGFR mutation do not respond or respond for less than "
            "3 months (intrinsic resistance). " if egfr else ""
        )
        out.append(Finding(
            rule="timing.early_progression",
            subject=f"line-{line.id}",
            date=pd,
            severity=Severity.ALERT,
            title=f"Early progression on {line.drug}",
            evidence=(
                f"Progression on {pd.isoformat()}, {after:.1f} months after {line.drug} started "
                f"({line.start.isoformat()}): within the first {months} months (by {limit.isoformat()})."
            ),
            source=cite("santoni2019") if egfr else cite("eisenhauer2009"),
            discuss=meaning + "Topic to discuss: what progression this early means, including re-testing of the tumour.",
            patient_id=pid,
            data={"line_id": line.id, "drug": line.drug, "start": line.start.isoformat(),
                  "progression_date": pd.isoformat(), "months_after_start": round(after, 2),
                  "limit_months": months},
        ))
    return out


def _time_on_therapy(history: History, today: date, pid: int | None) -> Finding | None:
    line = active_line(history, today)
    if line is None:
        return None
    drug = get_drug(line.drug)
    months = months_between(line.start, today)
    trial = primary_trial(drug, line_number(history, line), driver_gene(history, drug)) if drug else None
    head = f"{line.drug} since {line.start.isoformat()} ({months:.1f} months"
    if trial is not None:
        evidence = f"{head}; {_trial_text(trial)})"
        comparator = (
            f" vs {_num(trial.comparator_months)} months with {trial.comparator}"
            if trial.comparator_months is not None and trial.comparator else ""
        )
        if trial.median_pfs_months is not None:
            meaning = (f"In {trial.trial} ({trial.setting}), half of the patients had progressed by "
                       f"{_num(trial.median_pfs_months)} months{comparator}. ")
        else:
            meaning = f"In {trial.trial} ({trial.setting}), the median PFS was not reached{comparator}. "
        meaning += "A median describes a group; many people do better or worse. "
        source = cite(trial.source_key) if trial.source_key else trial.source_url
    else:
        evidence = f"{head}; no confirmed trial median for this drug and setting in lungtrack's table)"
        meaning = ""
        source = cite("lungtrack_design")
    return Finding(
        rule="timing.time_on_therapy",
        subject=f"line-{line.id}",
        date=line.start,
        severity=Severity.INFO,
        title=f"{line.drug}: {months:.1f} months on treatment",
        evidence=evidence,
        source=source,
        discuss=meaning + "Topic to discuss: how the latest results compare with what is expected on this treatment.",
        patient_id=pid,
        data={
            "line_id": line.id, "drug": line.drug, "start": line.start.isoformat(), "months": round(months, 2),
            "line_number": line_number(history, line),
            "trial": trial.trial if trial else None,
            "median_pfs_months": trial.median_pfs_months if trial else None,
            "comparator_months": trial.comparator_months if trial else None,
        },
    )


def timing_findings(history: History, responses: Sequence[Any], today: date,
                    config: RulesConfig = RulesConfig(), *, due: Sequence[DueItem] | None = None) -> list[Finding]:
    """``timing.imaging_due``, ``timing.marker_due``, ``timing.appointment_missed``,
    ``timing.early_progression`` and ``timing.time_on_therapy``.  ``due``: what
    :func:`due_items` gives for ``history``, ``today`` and ``config``, when already computed."""
    pid = history.patient.id
    out: list[Finding] = []
    sched = effective_schedule(history, config)
    for item in (due_items(history, today, config) if due is None else due):
        if item.state == DueState.UP_TO_DATE:
            continue
        if item.kind == "imaging":
            out.append(_due_finding(
                item, "timing.imaging_due", "imaging",
                _schedule_text(sched.imaging_due_soon_weeks, sched.imaging_overdue_weeks),
                "; ".join([cite("esmo2018"), cite("gao2017")]),
                "ESMO 2018 advises response imaging every 6–9 weeks on targeted therapy; lungtrack's window is "
                "configurable. Topic to discuss: when the next scan is planned.",
                pid))
        elif item.kind == "marker":
            marker = item.key.split(":", 1)[1]
            out.append(_due_finding(
                item, "timing.marker_due", marker,
                _schedule_text(sched.marker_due_soon_weeks, sched.marker_overdue_weeks),
                "; ".join([cite("lungtrack_design"), cite("esmo2018")]),
                f"Reminded because {marker} has been tested during this treatment; routine marker monitoring is "
                f"not recommended by ESMO 2018. Topic to discuss: whether and when the next {marker} test is planned.",
                pid))
        elif item.kind == "appointment" and item.state == DueState.OVERDUE:
            appt_id = item.key.split(":", 1)[1]
            out.append(Finding(
                rule="timing.appointment_missed",
                subject=f"appointment-{appt_id}",
                date=item.due_date,
                severity=Severity.WATCH,
                title=f"{item.label} on {item.due_date.isoformat()} still marked as planned",
                evidence=(f"{item.label} planned for {item.due_date.isoformat()} is {-item.days} "
                          f"day{'s' if item.days != -1 else ''} past and still marked as planned."),
                source=cite("lungtrack_design"),
                discuss="If it took place, mark it as done. Otherwise, topic to discuss: rescheduling it with your care team.",
                patient_id=pid,
                data={"key": item.key, "appointment_id": int(appt_id) if appt_id.isdigit() else appt_id,
                      "date": item.due_date.isoformat(), "days": item.days},
            ))
    ended = history.patient.ended_on
    if ended is None or ended > today:
        out.extend(_early_progression(history, responses, config, pid))
        tot = _time_on_therapy(history, today, pid)
        if tot is not None:
            out.append(tot)
    return out
