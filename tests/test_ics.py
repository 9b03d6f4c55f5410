"""The iCalendar export: RFC 5545 structure checked by the ``icalendar`` parser *and* by an
independent reader written here (unfolding, CRLF, 75-octet lines, BEGIN/END balance, required
properties), and "import twice" simulated by a calendar keyed by UID."""

from __future__ import annotations

import os
import stat
from datetime import date, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from lungtrack.core.history import Appointment, PatientInfo
from lungtrack.core.timing import DueItem
from lungtrack.enums import AppointmentKind, AppointmentStatus, DueState
from lungtrack.reminders import ics

TODAY = date(2026, 8, 12)
T1 = datetime(2026, 8, 12, 6, 0, tzinfo=timezone.utc)
T2 = datetime(2026, 8, 13, 6, 0, tzinfo=timezone.utc)


# ================================================================== an independent reader


def read_ics(data: bytes) -> list[dict]:
    """A minimal RFC 5545 reader that shares no code with ``icalendar``.

    Checks the physical format, unfolds, and returns the components as dicts
    ``{"name": ..., "props": {NAME: [(params, value), ...]}, "children": [...]}``.
    """
    assert data.endswith(b"\r\n"), "the last line must end with CRLF"
    physical = data.split(b"\r\n")[:-1]
    for raw in physical:
        assert b"\n" not in raw and b"\r" not in raw, f"bare LF/CR in {raw!r}"
        assert len(raw) <= 75, f"line longer than 75 octets: {len(raw)} {raw!r}"
        raw.decode("utf-8")  # folding must not split a UTF-8 sequence
    logical: list[str] = []
    for raw in physical:
        if raw[:1] in (b" ", b"\t"):
            assert logical, "continuation line first"
            logical[-1] += raw[1:].decode("utf-8")
        else:
            logical.append(raw.decode("utf-8"))
    root: dict = {"name": None, "props": {}, "children": []}
    stack = [root]
    for line in logical:
        head, sep, value = line.partition(":")
        assert sep, f"no ':' in {line!r}"
        name, *params = head.split(";")
        name = name.upper()
        if name == "BEGIN":
            comp = {"name": value.upper(), "props": {}, "children": []}
            stack[-1]["children"].append(comp)
            stack.append(comp)
        elif name == "END":
            assert len(stack) > 1 and stack[-1]["name"] == value.upper(), f"unbalanced END:{value}"
            stack.pop()
        else:
            stack[-1]["props"].setdefault(name, []).append((params, value))
    assert len(stack) == 1, "missing END"
    assert [c["name"] for c in root["children"]] == ["VCALENDAR"]
    return root["children"]


def check_structure(data: bytes) -> list[dict]:
    """The required properties (RFC 5545 3.6, 3.6.1, 3.6.6); returns the VEVENTs."""
    [cal] = read_ics(data)
    assert cal["props"]["VERSION"] == [([], "2.0")]
    assert cal["props"]["PRODID"][0][1]
    events = [c for c in cal["children"] if c["name"] == "VEVENT"]
    for ev in events:
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "SEQUENCE"):
            assert len(ev["props"].get(required, [])) == 1, (required, ev)
        params, start = ev["props"]["DTSTART"][0]
        assert "VALUE=DATE" in params and len(start) == 8, "an all-day event"
        _, end = ev["props"]["DTEND"][0]
        assert _d(end) == _d(start) + timedelta(days=1)
        assert ev["props"]["DTSTAMP"][0][1].endswith("Z")
        int(ev["props"]["SEQUENCE"][0][1])
        for alarm in ev["children"]:
            assert alarm["name"] == "VALARM"
            assert alarm["props"]["ACTION"] == [([], "DISPLAY")]
            assert alarm["props"]["TRIGGER"] and alarm["props"]["DESCRIPTION"]
    uids = [ev["props"]["UID"][0][1] for ev in events]
    assert len(uids) == len(set(uids)), "UIDs must be unique within one file"
    return events


def _d(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _prop(ev: dict, name: str) -> str:
    return ev["props"][name][0][1]


class FakeCalendar:
    """What a calendar application does on import (RFC 5546 PUBLISH): a UID it already has is an
    update, taken when its SEQUENCE is not lower than the stored one; a new UID is a new event."""

    def __init__(self):
        self.events: dict[str, dict] = {}

    def import_file(self, data: bytes) -> None:
        for ev in check_structure(data):
            uid = _prop(ev, "UID")
            seq = int(_prop(ev, "SEQUENCE"))
            old = self.events.get(uid)
            if old is None or seq >= old["seq"]:
                self.events[uid] = {"seq": seq, "start": _prop(ev, "DTSTART"), "summary": _prop(ev, "SUMMARY"),
                                    "status": _prop(ev, "STATUS")}


# ================================================================== pure building


ANN = PatientInfo(id=1, name="Ann")


def due_items(last_scan: date, today: date = TODAY) -> list[DueItem]:
    due = last_scan + timedelta(days=91)
    state = DueState.OVERDUE if today > due else DueState.UP_TO_DATE
    return [
        DueItem("imaging", "imaging", "CT scan", last_scan, last_scan + timedelta(days=56), due, state,
                (due - today).days),
        DueItem("marker:CEA", "marker", "CEA blood test", date(2026, 6, 1), date(2026, 7, 27), date(2026, 8, 31),
                DueState.DUE_SOON, 19),
        DueItem("appointment:3", "appointment", "Oncology clinic, Dr Okafor", None, date(2026, 8, 13),
                date(2026, 8, 20), DueState.DUE_SOON, 8),
    ]


APPTS = [
    Appointment(id=3, date=date(2026, 8, 20), kind=AppointmentKind.VISIT, description="Oncology clinic, Dr Okafor"),
    Appointment(id=4, date=date(2026, 9, 2), kind=AppointmentKind.IMAGING, status=AppointmentStatus.CANCELLED),
    Appointment(id=5, date=date(2026, 5, 15), kind=AppointmentKind.IMAGING, status=AppointmentStatus.DONE),
]


def export(last_scan: date, now: datetime, patient: PatientInfo = ANN, tag: str = "p1-abcd1234",
           previous: bytes | None = None, today: date = TODAY) -> bytes:
    entries = ics.entries_for_patient(patient, due_items(last_scan, today), APPTS, today, tag=tag)
    return ics.calendar_bytes(entries, now, previous)


def test_one_all_day_event_with_alarm_per_follow_up():
    data = export(date(2026, 5, 15), T1)
    events = {_prop(e, "UID"): e for e in check_structure(data)}
    assert set(events) == {
        "lungtrack-p1-abcd1234-imaging@lungtrack.local",
        "lungtrack-p1-abcd1234-marker-cea@lungtrack.local",
        "lungtrack-p1-abcd1234-appointment-3@lungtrack.local",
        "lungtrack-p1-abcd1234-appointment-4@lungtrack.local",  # cancelled: kept so an import cancels it
    }  # the done appointment (5) is not a follow-up any more
    ct = events["lungtrack-p1-abcd1234-imaging@lungtrack.local"]
    assert _prop(ct, "DTSTART") == "20260814"  # 2026-05-15 + 91 days
    assert _prop(ct, "SUMMARY") == "Ann: CT scan due"
    [alarm] = ct["children"]
    assert _prop(alarm, "TRIGGER") == "-P6DT15H"  # 09:00, 7 days before the due date
    visit = events["lungtrack-p1-abcd1234-appointment-3@lungtrack.local"]
    assert _prop(visit, "DTSTART") == "20260820"
    assert _prop(visit["children"][0], "TRIGGER") == "-PT15H"  # 09:00 the day before
    cancelled = events["lungtrack-p1-abcd1234-appointment-4@lungtrack.local"]
    assert _prop(cancelled, "STATUS") == "CANCELLED" and cancelled["children"] == []


def test_icalendar_library_reads_it_back():
    cal = Calendar.from_ical(export(date(2026, 5, 15), T1))
    events = list(cal.walk("VEVENT"))
    assert len(events) == 4
    ct = next(e for e in events if str(e["UID"]).endswith("-imaging@lungtrack.local"))
    assert ct.decoded("DTSTART") == date(2026, 8, 14)  # a date, not a datetime: all-day
    assert ct.decoded("DTEND") == date(2026, 8, 15)
    assert ct.decoded("DTSTAMP") == T1
    [alarm] = ct.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(days=6, hours=15)


def test_uid_has_no_date_in_it_so_a_moved_due_date_keeps_it():
    uid_a = {_prop(e, "UID") for e in check_structure(export(date(2026, 5, 15), T1))}
    uid_b = {_prop(e, "UID") for e in check_structure(export(date(2026, 8, 10), T2))}
    assert uid_a == uid_b
    assert not any(ch in "".join(uid_a) for ch in ("2026", "0814"))


def test_import_twice_does_not_duplicate_and_an_update_moves_the_event():
    cal = FakeCalendar()
    first = export(date(2026, 5, 15), T1)
    cal.import_file(first)
    cal.import_file(first)  # the same file again
    assert len(cal.events) == 4
    # a new scan on 2026-08-10: the imaging due date moves to 2026-11-09; exported a day later
    second = export(date(2026, 8, 10), T2, previous=first)
    cal.import_file(second)
    assert len(cal.events) == 4
    ct = cal.events["lungtrack-p1-abcd1234-imaging@lungtrack.local"]
    assert ct["start"] == "20261109"
    seq1 = int(_prop(next(e for e in check_structure(first) if "imaging" in _prop(e, "UID")), "SEQUENCE"))
    assert ct["seq"] > seq1
    # re-importing the older file does not move it back (lower SEQUENCE)
    cal.import_file(first)
    assert cal.events["lungtrack-p1-abcd1234-imaging@lungtrack.local"]["start"] == "20261109"


def _seqs(data: bytes) -> dict[str, tuple[int, str]]:
    return {_prop(e, "UID"): (int(_prop(e, "SEQUENCE")), _prop(e, "DTSTAMP")) for e in check_structure(data)}


def test_sequence_rises_only_when_an_event_changes():
    first = export(date(2026, 5, 15), T1)
    assert {s for s, _ in _seqs(first).values()} == {0}  # no previous export: every event is new
    # a day later, nothing changed: the same bytes (same SEQUENCE and DTSTAMP), even though "today" moved
    again = export(date(2026, 5, 15), T2, previous=first, today=TODAY + timedelta(days=1))
    assert again == first
    # a new scan moves only the imaging event: its SEQUENCE goes up by one, its DTSTAMP is the new export's
    moved = export(date(2026, 8, 10), T2, previous=again)
    before, after = _seqs(again), _seqs(moved)
    imaging = "lungtrack-p1-abcd1234-imaging@lungtrack.local"
    assert after[imaging][0] == before[imaging][0] + 1 and after[imaging][1] != before[imaging][1]
    assert {u: v for u, v in after.items() if u != imaging} == {u: v for u, v in before.items() if u != imaging}
    # and once more unchanged: it stays at 1
    assert _seqs(export(date(2026, 8, 10), T2 + timedelta(days=3), previous=moved))[imaging][0] == 1


def test_an_unreadable_previous_file_counts_as_none():
    assert _seqs(export(date(2026, 5, 15), T1, previous=b"not a calendar")) == _seqs(export(date(2026, 5, 15), T1))


def test_patient_tag_separates_stores():
    assert ics.patient_tag(1, "2026-01-01T10:00:00") != ics.patient_tag(1, "2026-03-05T08:00:00")
    assert ics.patient_tag(1, "2026-01-01T10:00:00") == ics.patient_tag(1, "2026-01-01T10:00:00")
    assert ics.entry_uid("p1-x", "marker:CYFRA 21-1") == "lungtrack-p1-x-marker-cyfra-21-1@lungtrack.local"


def test_non_ascii_and_long_text_folds_on_octets_not_characters():
    zoe = PatientInfo(id=2, name="Zoë Ångström-Øvergård " + "é" * 60)
    data = export(date(2026, 5, 15), T1, patient=zoe)
    events = check_structure(data)  # every physical line <= 75 octets and valid UTF-8 on its own
    assert any(_prop(e, "SUMMARY").startswith("Zoë Ångström-Øvergård") for e in events)


# ================================================================== through the CLI


@pytest.fixture
def store(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY.isoformat())
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "gefitinib", "--on", "2026-01-06").code == 0
    assert cli("scan", "add", "--date", "2026-05-15", "--lesion", "RUL mass: lung, 30 mm").code == 0
    assert cli("marker", "add", "cea", "3.1", "--date", "2026-06-01").code == 0
    assert cli("appointment", "add", "--date", "2026-08-20", "--kind", "visit",
               "--description", "Oncology clinic").code == 0


def test_cli_export_twice_updates_not_duplicates(cli, store, tmp_path, monkeypatch):
    out = tmp_path / "follow-ups.ics"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(T1.timestamp())))
    r = cli("export", "ics", "-o", str(out))
    assert r.code == 0, r
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # health data: private
    first = out.read_bytes()
    cal = FakeCalendar()
    cal.import_file(first)
    cal.import_file(first)
    assert sorted(e["summary"] for e in cal.events.values()) == [
        "Ann: CEA blood test due", "Ann: CT scan due", "Ann: Oncology clinic"]
    # exported again a day later with nothing changed: the file is byte for byte the same
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(T1.timestamp()) + 86400))
    assert cli("export", "ics", "-o", str(out)).code == 0 and out.read_bytes() == first
    assert cli("scan", "add", "--date", "2026-08-10", "--lesion", "RUL mass 28").code == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(T2.timestamp())))
    r = cli("remind", "--ics", str(out))  # the same file through remind --ics
    assert r.code == 3  # CEA is due soon (2026-06-01 + 56 days) and the visit is 8 days away
    cal.import_file(out.read_bytes())
    assert len(cal.events) == 3
    ct = next(e for uid, e in cal.events.items() if uid.endswith("-imaging@lungtrack.local"))
    assert ct["start"] == "20261109" and ct["seq"] == 1  # the one event that changed
    assert sorted(e["seq"] for e in cal.events.values()) == [0, 0, 1]
    # independent check of the icalendar parse of the CLI file
    parsed = Calendar.from_ical(out.read_bytes())
    assert len(list(parsed.walk("VEVENT"))) == 3


def test_cli_export_to_stdout_and_remind_ics_when_nothing_due(cli, store, tmp_path):
    r = cli("export", "ics")
    assert r.code == 0
    assert r.stdout.startswith("BEGIN:VCALENDAR")  # (CliRunner normalises line ends; bytes: test_cron_env)
    out = tmp_path / "quiet.ics"
    # nothing due on 2026-06-20 (scan 2026-05-15, CEA 2026-06-01; visit not yet within 7 days)
    r = cli("remind", "--ics", str(out), env={"LUNGTRACK_TODAY": "2026-06-20"})
    assert (r.code, r.stdout, r.stderr) == (0, "", "")
    assert len(check_structure(out.read_bytes())) == 3  # the calendar still holds the coming dates


def test_cli_ics_into_missing_directory_is_refused(cli, store, tmp_path):
    r = cli("export", "ics", "-o", str(tmp_path / "nope" / "x.ics"))
    assert r.code == 2 and r.stderr.startswith("Error: --output")
    assert not (tmp_path / "nope").exists()
