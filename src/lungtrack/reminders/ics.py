"""The follow-up calendar: RFC 5545 iCalendar, written with the ``icalendar`` library.

One all-day ``VEVENT`` per follow-up, each with a ``VALARM``:

* every due item the rules compute (imaging, each marker tested on the current line) on its
  due date ("overdue after this day"), whatever its state - the calendar is the schedule, so
  an item that is up to date is there too; the alarm fires at 09:00 ``due_window_days`` (7)
  days before;
* every planned appointment on its day, alarm at 09:00 the day before;
* a cancelled appointment is written with ``STATUS:CANCELLED`` so that re-importing the file
  marks the event cancelled in the calendar instead of leaving it active.

**UIDs are stable**: ``lungtrack-<patient tag>-<item key>@lungtrack.local``.  They do *not*
contain the due date - when a new scan is logged the imaging due date moves, and the event
with the same UID moves with it; importing the file again updates events instead of adding
duplicates.  The patient tag is the patient's id in the store plus a short hash of the
moment the patient was created, so that patient 1 of the demo store and patient 1 of a real
store never share UIDs in one calendar.

**SEQUENCE and DTSTAMP rise only when an event changes.**  The previous export is the memory:
when the calendar is written to a file that already exists (``export ics -o FILE``, ``remind
--ics FILE``), that file is read first, and each event keeps its ``SEQUENCE`` and ``DTSTAMP``
when nothing else in it changed; an event that changed (its date, summary, description,
status or alarm) gets the previous ``SEQUENCE`` + 1 and the export time as ``DTSTAMP``; a new
event starts at ``SEQUENCE:0``.  Exporting twice with nothing changed therefore gives the same
bytes.  Without a previous file (standard output) every event has ``SEQUENCE:0``.  The
description states no "status today", so that the mere passing of days changes nothing.  Set
``SOURCE_DATE_EPOCH`` (reproducible-builds convention) to pin the export time.

Events that disappear (a therapy line ends, an appointment is deleted) are not removed from a
calendar by re-importing: calendar imports only add or update.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Sequence

from lungtrack import __version__
from lungtrack.core.history import Appointment, PatientInfo
from lungtrack.core.timing import DueItem
from lungtrack.enums import AppointmentStatus

UID_DOMAIN = "lungtrack.local"
PRODID = f"-//lungtrack//lungtrack {__version__}//EN"
SEQUENCE_EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
ALARM_HOUR = 9  # alarms at 09:00 local time


@dataclass(frozen=True)
class CalendarEntry:
    """One all-day event with its alarm (plain data, rendered by :func:`build_calendar`)."""

    uid: str
    day: date
    summary: str
    description: str
    alarm_days_before: int  # the alarm fires at 09:00 this many days before ``day`` (0: that morning)
    cancelled: bool = False


def patient_tag(patient_id: int, created: str | None = None) -> str:
    """``p1-3f9a0c2b``: the id plus a short hash of the row's creation time (see the module doc)."""
    if not created:
        return f"p{patient_id}"
    digest = hashlib.sha256(f"{patient_id}|{created}".encode()).hexdigest()[:8]
    return f"p{patient_id}-{digest}"


def entry_uid(tag: str, key: str) -> str:
    """``lungtrack-p1-3f9a0c2b-marker-cea@lungtrack.local``: no date in it, so it survives moves."""
    slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")
    return f"lungtrack-{tag}-{slug}@{UID_DOMAIN}"


def _item_description(item: DueItem, today: date) -> str:
    what = {"imaging": "scan", "marker": "test"}.get(item.kind, "event")
    last = (f"Last {what}: {item.last_date.isoformat()}." if item.last_date
            else f"No {what} recorded on this treatment yet.")
    soon = f" Due soon from {item.due_soon_date.isoformat()}." if item.due_soon_date else ""
    return (f"{item.label} due by {item.due_date.isoformat()} (overdue after that day).{soon} {last} "
            "Computed by lungtrack from the last event that happened; the date moves when a new "
            "result is logged - export again to update this event.")


def entries_for_patient(patient: PatientInfo, due: Sequence[DueItem], appointments: Iterable[Appointment],
                        today: date, *, tag: str, window_days: int = 7) -> list[CalendarEntry]:
    """The calendar entries of one patient (pure)."""
    out: list[CalendarEntry] = []
    for item in due:
        if item.kind == "appointment":
            continue  # from the appointments themselves below, so cancelled ones are included
        out.append(CalendarEntry(
            uid=entry_uid(tag, item.key), day=item.due_date, summary=f"{patient.name}: {item.label} due",
            description=_item_description(item, today), alarm_days_before=window_days))
    for a in sorted(appointments, key=lambda a: (a.date, a.id)):
        if a.status == AppointmentStatus.DONE:
            continue
        label = next((d.label for d in due if d.key == f"appointment:{a.id}"), None) or a.description \
            or f"{a.kind.value} appointment"
        cancelled = a.status == AppointmentStatus.CANCELLED
        out.append(CalendarEntry(
            uid=entry_uid(tag, f"appointment:{a.id}"), day=a.date,
            summary=f"{'Cancelled: ' if cancelled else ''}{patient.name}: {label}",
            description=(f"{label} ({a.kind.value}) on {a.date.isoformat()}, "
                         f"{'cancelled' if cancelled else 'planned'} in lungtrack (appointment {a.id})."),
            alarm_days_before=1, cancelled=cancelled))
    return out


def export_sequence(now: datetime) -> int:
    """Seconds since 2020-01-01Z (no longer used for SEQUENCE; kept for callers of older versions)."""
    return max(0, int((now.astimezone(timezone.utc) - SEQUENCE_EPOCH).total_seconds()))


_VOLATILE = (b"DTSTAMP", b"SEQUENCE")


def _content(event_ical: bytes) -> bytes:
    """An event's text without the properties that record when it was written (unfolded lines)."""
    lines = event_ical.replace(b"\r\n ", b"").replace(b"\r\n\t", b"").split(b"\r\n")
    return b"\r\n".join(line for line in lines if line.split(b":", 1)[0].split(b";", 1)[0] not in _VOLATILE)


def previous_events(data: bytes | None) -> dict[str, tuple[bytes, int, datetime]]:
    """UID -> (content, SEQUENCE, DTSTAMP) of each event in a previous export (an unreadable
    file counts as no previous export)."""
    if not data:
        return {}
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError):
        return {}
    out: dict[str, tuple[bytes, int, datetime]] = {}
    for ev in cal.walk("VEVENT"):
        try:
            uid = str(ev["UID"])
            seq = int(ev.get("SEQUENCE", 0))
            stamp = ev.decoded("DTSTAMP")
        except (KeyError, ValueError, TypeError):
            continue
        out[uid] = (_content(ev.to_ical()), seq, stamp)
    return out


def _trigger(days_before: int) -> timedelta:
    """Relative to the all-day event's start (00:00): 09:00 ``days_before`` days earlier."""
    return -(timedelta(days=days_before) - timedelta(hours=ALARM_HOUR))


def build_calendar(entries: Sequence[CalendarEntry], now: datetime, previous: bytes | None = None):
    """An ``icalendar.Calendar`` (METHOD:PUBLISH) holding one VEVENT + VALARM per entry.

    ``previous``: the last export of this calendar; an unchanged event keeps its SEQUENCE and
    DTSTAMP, a changed one gets SEQUENCE + 1 (see the module docstring)."""
    from icalendar import Alarm, Calendar, Event

    stamp = now.astimezone(timezone.utc).replace(microsecond=0)
    before = previous_events(previous)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "lungtrack follow-ups")
    for e in sorted(entries, key=lambda e: (e.day, e.uid)):
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstart", e.day)
        ev.add("dtend", e.day + timedelta(days=1))
        ev.add("summary", e.summary)
        ev.add("description", e.description)
        ev.add("status", "CANCELLED" if e.cancelled else "CONFIRMED")
        ev.add("transp", "TRANSPARENT")
        ev.add("categories", ["lungtrack"])
        if not e.cancelled:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", e.summary)
            alarm.add("trigger", _trigger(e.alarm_days_before))
            ev.add_component(alarm)
        sequence, when = 0, stamp
        if e.uid in before:
            content, old_seq, old_stamp = before[e.uid]
            if content == _content(ev.to_ical()):
                sequence, when = old_seq, old_stamp
            else:
                sequence = old_seq + 1
        ev.add("dtstamp", when)
        ev.add("sequence", sequence)
        cal.add_component(ev)
    return cal


def calendar_bytes(entries: Sequence[CalendarEntry], now: datetime, previous: bytes | None = None) -> bytes:
    """The .ics file: UTF-8, CRLF line ends, lines folded at 75 octets (RFC 5545 3.1)."""
    return build_calendar(entries, now, previous).to_ical()
