"""Reminder lines from the rules' due items, findings and snoozes.  Pure: no store, no clock.

``lungtrack remind`` is mostly read by cron, which mails whatever a job prints, so this module
decides *what* is worth a line and words it for an e-mail:

* due items (:class:`lungtrack.core.timing.DueItem`) that are **due soon**, **due** or
  **overdue**: imaging, marker tests, planned appointments coming up or missed;
* with ``with_findings``, the watch/alert findings not yet acknowledged - except the timing
  findings that only repeat a due item (one line per thing, not two).

Snoozes (Nightscout's lesson: every suppression must stay visible and explainable):

* a snooze on an item key hides it while ``today < until``; on the ``until`` day it is back;
* ``remind --all`` still shows snoozed items, marked ``(snoozed until YYYY-MM-DD)``;
* a snooze never hides a change for the worse: snoozing an item that is not yet overdue lasts
  at most until the day it becomes overdue (:func:`snooze_until`), so a snooze set on
  "due soon" cannot silence "overdue" (compare nightscout/nightguard#39).

Dates come from the last event that happened (:mod:`lungtrack.core.timing`); nothing here
creates future rows, so nothing can be duplicated.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Collection, Mapping, Sequence

from lungtrack.core.findings import Finding
from lungtrack.core.history import PatientInfo
from lungtrack.core.timing import DueItem, booking_text
from lungtrack.enums import DueState, Marker
from lungtrack.errors import InputError

#: What ``--snooze ITEM`` accepts, for error messages.
ITEM_EXPECTED = "imaging (or ct, scan), a marker such as marker:CEA (or cea), or appointment:ID"
#: Longest snooze accepted: a year.  Longer is almost certainly a typo.
MAX_SNOOZE_DAYS = 366

_SHOWN_STATES = (DueState.DUE_SOON, DueState.DUE, DueState.OVERDUE)
_IMAGING_WORDS = {"imaging", "ct", "scan", "ctscan", "mri", "pet", "petct", "xray", "image", "scans"}
_APPOINTMENT = re.compile(r"(?:appointment|appt|appointments)\s*[:# ]?\s*(\d+)")


@dataclass(frozen=True)
class Reminder:
    """One line of ``lungtrack remind``."""

    patient_id: int
    patient: str
    key: str  # the due-item key ("imaging", "marker:CEA", "appointment:3") or "finding:<finding id>"
    kind: str  # "imaging", "marker", "appointment" or "finding"
    label: str  # "CT scan", "CEA blood test", "Oncology visit", or the finding's title
    state: str  # "due-soon", "due", "overdue" for due items; "watch" or "alert" for findings
    date: date  # the due date, the appointment's date, or the finding's date
    days: int | None  # date - today for due items (negative: overdue by); None for findings
    last_date: date | None  # the last event the due date was computed from
    snoozed_until: date | None  # set while a snooze hides this line
    text: str  # the line without the patient's name

    @property
    def snoozed(self) -> bool:
        return self.snoozed_until is not None

    def line(self) -> str:
        """``- Ann: CT scan due in 2 days (2026-08-14); last scan 2026-05-15.``"""
        tail = f" (snoozed until {self.snoozed_until.isoformat()})" if self.snoozed_until else ""
        return f"- {self.patient}: {self.text}{tail}"


# --------------------------------------------------------------------------- wording


def _days(n: int) -> str:
    return f"{n} day{'' if n == 1 else 's'}"


def _last(item: DueItem) -> str:
    what = {"imaging": "scan", "marker": "test"}.get(item.kind, "event")
    if item.last_date is None:
        return f"no {what} recorded on this treatment yet"
    return f"last {what} {item.last_date.isoformat()}"


def item_text(item: DueItem) -> str:
    """The words for one due item (without the patient's name)."""
    due = item.due_date.isoformat()
    if item.kind == "appointment":
        if item.state == DueState.OVERDUE:
            appt = item.key.split(":", 1)[1]
            return (f"{item.label} on {due} was {_days(-item.days)} ago and is still marked planned "
                    f"(if it took place: lungtrack appointment done {appt}).")
        if item.days == 0:
            return f"{item.label} today ({due})."
        return f"{item.label} on {due}, in {_days(item.days)}."
    if item.booked_for is not None:
        if item.booked_in_time:
            return f"{item.label} {booking_text(item)} (due by {due}); {_last(item)}."
        return f"{_unbooked_text(item, due)[:-1]}; {booking_text(item)}."
    return _unbooked_text(item, due)


def _unbooked_text(item: DueItem, due: str) -> str:
    if item.state == DueState.OVERDUE:
        return f"{item.label} overdue by {_days(-item.days)} (was due by {due}); {_last(item)}."
    if item.days == 0:
        return f"{item.label} due today ({due}); {_last(item)}."
    if item.state == DueState.DUE_SOON:
        return f"{item.label} due soon: by {due}, in {_days(item.days)}; {_last(item)}."
    return f"{item.label} due in {_days(item.days)} ({due}); {_last(item)}."


def finding_text(finding: Finding) -> str:
    word = "alert" if finding.severity.value == "alert" else "watch finding"
    return f"new {word} not yet acknowledged: {finding.title} ({finding.date.isoformat()})."


# --------------------------------------------------------------------------- building


def active_snooze(key: str, snoozes: Mapping[str, date], today: date) -> date | None:
    """The date a snooze on ``key`` ends, if it still hides the item today (``today < until``)."""
    until = snoozes.get(key)
    return until if until is not None and today < until else None


def patient_reminders(
    patient: PatientInfo,
    due: Sequence[DueItem],
    findings: Sequence[Finding],
    acknowledged: Collection[str],
    snoozes: Mapping[str, date],
    today: date,
    *,
    with_findings: bool = False,
) -> list[Reminder]:
    """Every reminder for one patient, snoozed ones included (marked); the caller filters.

    Order: due items in the rules' order (imaging, markers, appointments by date), then
    findings in the engine's order (alerts first).
    """
    out: list[Reminder] = []
    for item in due:
        if item.state not in _SHOWN_STATES or item.booked_in_time:
            continue  # booked on or before its due date: the appointment itself is reminded
        out.append(Reminder(
            patient_id=patient.id, patient=patient.name, key=item.key, kind=item.kind, label=item.label,
            state=item.state.value, date=item.due_date, days=item.days, last_date=item.last_date,
            snoozed_until=active_snooze(item.key, snoozes, today), text=item_text(item)))
    if with_findings:
        due_keys = {item.key for item in due}
        for f in findings:
            if not f.needs_attention or f.id in acknowledged:
                continue
            if isinstance(f.data, Mapping) and f.data.get("key") in due_keys:
                continue  # a timing finding that repeats a due item already listed (or snoozed)
            key = f"finding:{f.id}"
            out.append(Reminder(
                patient_id=patient.id, patient=patient.name, key=key, kind="finding", label=f.title,
                state=f.severity.value, date=f.date, days=None, last_date=None,
                snoozed_until=None, text=finding_text(f)))
    return out


def reminders_for(pe: Any, today: date, *, with_findings: bool = False) -> list[Reminder]:
    """:func:`patient_reminders` for a :class:`lungtrack.services.PatientEvaluation`."""
    ev = pe.evaluation
    return patient_reminders(ev.patient, ev.due, ev.findings, set(pe.acks), pe.snoozes, today,
                             with_findings=with_findings)


def shown(reminders: Sequence[Reminder], *, include_snoozed: bool = False) -> list[Reminder]:
    return [r for r in reminders if include_snoozed or not r.snoozed]


def needs_attention(reminders: Sequence[Reminder]) -> int:
    """How many reminders are not snoozed: non-zero means exit code ATTENTION."""
    return sum(1 for r in reminders if not r.snoozed)


def render_text(reminders: Sequence[Reminder], today_label: str, *, include_snoozed: bool = False,
                single_patient: bool = False) -> list[str]:
    """The plain-text message (ASCII punctuation, no colour), or ``[]`` when there is nothing to say.

    ``today_label`` is the formatted date for the header, e.g. ``Wed 2026-08-12``.
    """
    lines_shown = shown(reminders, include_snoozed=include_snoozed)
    if not lines_shown:
        return []
    lines = [header_line(today_label)]
    lines.extend(r.line() for r in lines_shown)
    due = next((r for r in lines_shown if r.kind != "finding" and not r.snoozed), None)
    lines.extend(footer_lines(lines_shown[0], due, any(r.kind == "finding" for r in lines_shown),
                              single_patient=single_patient))
    return lines


def header_line(today_label: str) -> str:
    return f"lungtrack reminders for {today_label}"


def footer_lines(first: Reminder, due: Reminder | None, any_finding: bool, *, single_patient: bool) -> list[str]:
    """The lines after the reminders: where the details are, how to snooze, how to acknowledge.

    ``first`` is the first reminder shown, ``due`` the first shown due item that is not snoozed.
    (Split from :func:`render_text` so that ``remind`` can print a large store's lines as each
    patient is done and the footer at the end.)"""
    lines = [""]
    where = f"--patient {shlex.quote(first.patient)}"
    lines.append(f"Details: lungtrack check {where if single_patient else '--all-patients'}")
    if due is not None:
        lines.append(f"Quiet one item for a week: lungtrack remind --patient {shlex.quote(due.patient)} "
                     f"--snooze {due.key} 7d")
    if any_finding:
        lines.append("Once a finding has been discussed: lungtrack ack ID (the id is shown by lungtrack check)")
    return lines


def reminder_data(r: Reminder) -> dict[str, Any]:
    """JSON-ready: ISO dates, numbers as numbers."""
    return {
        "patient_id": r.patient_id, "patient": r.patient, "key": r.key, "kind": r.kind, "label": r.label,
        "state": r.state, "date": r.date.isoformat(), "days": r.days,
        "last_date": r.last_date.isoformat() if r.last_date else None,
        "snoozed_until": r.snoozed_until.isoformat() if r.snoozed_until else None,
        "text": r.text,
    }


# --------------------------------------------------------------------------- snoozes


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def resolve_item_key(text: str, available: Sequence[str], *, field: str = "--snooze ITEM") -> str:
    """Turn what a person types (``ct``, ``scan``, ``cea``, ``marker:CYFRA 21-1``, ``appointment 3``)
    into one of the patient's current due-item keys."""
    raw = " ".join(str(text).strip().split())
    lowered = raw.lower()
    if raw in available:
        return raw
    candidate: str | None = None
    m = _APPOINTMENT.fullmatch(lowered)
    if m:
        candidate = f"appointment:{int(m.group(1))}"
    elif _norm(lowered) in _IMAGING_WORDS:
        candidate = "imaging"
    else:
        bare = lowered.split(":", 1)[1] if lowered.startswith(("marker:", "markers:")) else lowered
        for marker in Marker:
            if _norm(bare) in (_norm(marker.value), _norm(marker.name)):
                candidate = f"marker:{marker.value}"
                break
    if candidate is not None and candidate in available:
        return candidate
    listed = ", ".join(available) if available else "none (nothing is scheduled for this patient)"
    if candidate is not None:
        raise InputError(field, text, ITEM_EXPECTED, message=(
            f"{field}: {text!r} ({candidate}) is not one of this patient's current items; "
            f"expected one of: {listed}."))
    raise InputError(field, text, ITEM_EXPECTED, message=(
        f"{field}: {text!r} is not valid; expected {ITEM_EXPECTED}; this patient's items: {listed}. "
        "Findings are not snoozed: acknowledge them with lungtrack ack ID."))


def parse_snooze_end(text: str, today: date, *, field: str = "--snooze DURATION") -> date:
    """``7d``, ``2w``, ``1m`` from today, or a date after today (``2026-09-01``, ``in 3 weeks``)."""
    from lungtrack.parsing.dates import parse_date, parse_duration

    try:
        until = today + parse_duration(text, field=field)
    except InputError:
        try:
            until = parse_date(text, today=today, field=field, allow_future=True)
        except InputError:
            raise InputError(field, text, "a duration such as 7d, 2w or 1m, or a date after today") from None
    if until <= today:
        raise InputError(field, text, "a date after today (a snooze ends in the future)")
    if (until - today).days > MAX_SNOOZE_DAYS:
        raise InputError(field, text, f"at most {MAX_SNOOZE_DAYS} days (a year) from today")
    return until


def snooze_until(requested: date, item: DueItem) -> tuple[date, bool]:
    """The date a snooze really ends, and whether it was shortened.

    A snooze on an item that is not overdue yet ends at the latest on the day the item becomes
    overdue (``due_date + 1``): quieting "due soon" must not hide "overdue".  An overdue item can be
    snoozed for as long as asked (the person has seen that it is overdue).
    """
    if item.state == DueState.OVERDUE:
        return requested, False
    limit = item.due_date + timedelta(days=1)
    if requested > limit:
        return limit, True
    return requested, False
