"""Due soon / due / overdue, early progression and time on therapy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from lungtrack.core.config import RulesConfig, TimingConfig
from lungtrack.core.history import (
    Appointment,
    History,
    ImagingStudy,
    MarkerResult,
    PatientInfo,
    Schedule,
    TherapyLine,
)
from lungtrack.core.timing import add_months, due_items, timing_findings, weeks_to_days
from lungtrack.enums import (
    AppointmentKind,
    AppointmentStatus,
    DueState,
    Marker,
    Modality,
    Severity,
    StopReason,
)

START = date(2025, 9, 20)
GEF = TherapyLine(1, "gefitinib", START)
CT = date(2026, 5, 15)


def hist(lines=(GEF,), studies=(CT,), markers=(), appointments=(), schedule=Schedule(), ended=None,
         drivers=("EGFR exon 19 deletion",)) -> History:
    return History(
        PatientInfo(3, "Ann", drivers=drivers, schedule=schedule, ended_on=ended),
        lines=tuple(lines),
        studies=tuple(ImagingStudy(i + 1, d) for i, d in enumerate(studies)),
        markers=tuple(markers),
        appointments=tuple(appointments),
    )


def item(h: History, today: date, key: str, config: RulesConfig = RulesConfig()):
    return next((i for i in due_items(h, today, config) if i.key == key), None)


def test_weeks_to_days() -> None:
    assert weeks_to_days(8) == 56 and weeks_to_days(13) == 91 and weeks_to_days(8.5) == 60
    assert weeks_to_days(0) == 0


def test_add_months_clamps() -> None:
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert add_months(date(2025, 9, 20), 3) == date(2025, 12, 20)
    assert add_months(date(2025, 12, 31), 2) == date(2026, 2, 28)


# --------------------------------------------------------------------------- imaging states


@pytest.mark.parametrize(
    "day, state, days_left",
    [
        (0, DueState.UP_TO_DATE, 91),
        (55, DueState.UP_TO_DATE, 36),
        (56, DueState.DUE_SOON, 35),  # 8 weeks: window opens
        (84, DueState.DUE_SOON, 7),
        (85, DueState.DUE, 6),  # the last 7 days before the overdue date
        (91, DueState.DUE, 0),  # 13 weeks: the due date itself
        (92, DueState.OVERDUE, -1),
        (200, DueState.OVERDUE, -109),
    ],
)
def test_imaging_boundaries(day: int, state: DueState, days_left: int) -> None:
    i = item(hist(), CT + timedelta(days=day), "imaging")
    assert i is not None
    assert i.state == state and i.days == days_left
    assert i.due_date == CT + timedelta(days=91) and i.due_soon_date == CT + timedelta(days=56)
    assert i.last_date == CT and i.label == "CT scan" and i.kind == "imaging"


def test_story_due_date() -> None:
    i = item(hist(), date(2026, 8, 12), "imaging")
    assert i.due_date == date(2026, 8, 14) and i.days == 2 and i.state == DueState.DUE


def test_last_study_is_the_reference_and_modality_named() -> None:
    h = History(PatientInfo(3, "Ann"), lines=(GEF,),
                studies=(ImagingStudy(1, CT), ImagingStudy(2, CT + timedelta(days=30), modality=Modality.MRI)))
    i = item(h, CT + timedelta(days=40), "imaging")
    assert i.last_date == CT + timedelta(days=30) and i.label == "MRI scan"


def test_no_study_counts_from_line_start() -> None:
    i = item(hist(studies=()), START + timedelta(days=92), "imaging")
    assert i.last_date is None and i.due_date == START + timedelta(days=91) and i.state == DueState.OVERDUE


def test_future_study_is_ignored() -> None:
    i = item(hist(studies=(CT, CT + timedelta(days=200))), CT + timedelta(days=92), "imaging")
    assert i.last_date == CT and i.state == DueState.OVERDUE


def test_config_and_patient_schedule() -> None:
    config = RulesConfig(timing=TimingConfig(imaging_overdue_weeks=12.0, due_window_days=0))
    i = item(hist(), CT + timedelta(days=84), "imaging", config)
    assert i.due_date == CT + timedelta(days=84) and i.state == DueState.DUE_SOON  # window 0: never "due"
    assert item(hist(), CT + timedelta(days=85), "imaging", config).state == DueState.OVERDUE
    # The patient's own schedule (differs from the default) wins over the config ...
    own = Schedule(imaging_due_soon_weeks=4.0, imaging_overdue_weeks=6.0)
    j = item(hist(schedule=own), CT + timedelta(days=28), "imaging", config)
    assert j.due_soon_date == CT + timedelta(days=28) and j.due_date == CT + timedelta(days=42)
    assert j.state == DueState.DUE_SOON
    assert item(hist(schedule=own), CT + timedelta(days=27), "imaging", config).state == DueState.UP_TO_DATE
    # ... but a Schedule() with nothing set means "not customised": the config still applies.
    assert item(hist(schedule=Schedule()), CT, "imaging", config).due_date == CT + timedelta(days=84)


# --------------------------------------------------------------------------- markers


def cea(i: int, d: date, v: float = 3.0) -> MarkerResult:
    return MarkerResult(i, d, Marker.CEA, v, "ng/mL")


def test_marker_due_only_for_markers_tested_on_this_line() -> None:
    last = date(2026, 6, 1)
    h = hist(markers=[cea(1, START - timedelta(days=10)), cea(2, last),
                      MarkerResult(3, START - timedelta(days=5), Marker.NSE, 5.0, "ng/mL")])
    items = {i.key: i for i in due_items(h, last + timedelta(days=56))}
    assert "marker:NSE" not in items  # only tested before this line
    m = items["marker:CEA"]
    assert m.label == "CEA blood test" and m.last_date == last and m.state == DueState.DUE_SOON
    assert item(h, last + timedelta(days=55), "marker:CEA").state == DueState.UP_TO_DATE
    assert item(h, last + timedelta(days=91), "marker:CEA").state == DueState.DUE
    assert item(h, last + timedelta(days=92), "marker:CEA").state == DueState.OVERDUE


def test_marker_schedule_override() -> None:
    last = date(2026, 6, 1)
    h = hist(markers=[cea(1, last)], schedule=Schedule(marker_due_soon_weeks=3.0, marker_overdue_weeks=4.0))
    m = item(h, last + timedelta(days=29), "marker:CEA")
    assert m.due_date == last + timedelta(days=28) and m.state == DueState.OVERDUE


# --------------------------------------------------------------------------- line / patient ended


def test_no_imaging_or_marker_items_without_active_line() -> None:
    ended = TherapyLine(1, "gefitinib", START, end=date(2026, 6, 1), stop_reason=StopReason.PROGRESSION)
    visit = Appointment(1, date(2026, 9, 1), AppointmentKind.VISIT)
    h = hist(lines=(ended,), markers=[cea(1, date(2026, 5, 1))], appointments=[visit])
    items = due_items(h, date(2026, 8, 28))
    assert [i.key for i in items] == ["appointment:1"]  # appointments are kept
    # The line ending today is no longer active; ending tomorrow still is.
    end_today = TherapyLine(1, "gefitinib", START, end=date(2026, 8, 28))
    assert item(hist(lines=(end_today,)), date(2026, 8, 28), "imaging") is None
    assert item(hist(lines=(end_today,)), date(2026, 8, 27), "imaging") is not None
    # A line that starts after today is not active.
    assert due_items(hist(lines=(TherapyLine(1, "gefitinib", date(2027, 1, 1)),)), date(2026, 8, 1)) == ()


def test_nothing_at_all_after_tracking_ended() -> None:
    visit = Appointment(1, date(2026, 9, 1), AppointmentKind.VISIT)
    h = hist(appointments=[visit], ended=date(2026, 7, 1))
    assert due_items(h, date(2026, 8, 30)) == ()
    assert timing_findings(h, (), date(2026, 8, 30)) == []
    assert due_items(h, date(2026, 6, 30)) != ()  # the day before it ended


# --------------------------------------------------------------------------- appointments


@pytest.mark.parametrize(
    "offset, state",
    [(-8, DueState.UP_TO_DATE), (-7, DueState.DUE_SOON), (-1, DueState.DUE_SOON), (0, DueState.DUE),
     (1, DueState.OVERDUE)],
)
def test_appointment_boundaries(offset: int, state: DueState) -> None:
    d = date(2026, 9, 1)
    h = hist(appointments=[Appointment(5, d, AppointmentKind.VISIT)])
    a = item(h, d + timedelta(days=offset), "appointment:5")
    assert a.state == state and a.days == -offset and a.label == "Oncology visit" and a.kind == "appointment"


def test_done_and_cancelled_appointments_are_not_due() -> None:
    d = date(2026, 9, 1)
    h = hist(appointments=[Appointment(1, d, AppointmentKind.IMAGING, status=AppointmentStatus.DONE),
                           Appointment(2, d, AppointmentKind.IMAGING, status=AppointmentStatus.CANCELLED),
                           Appointment(3, d, AppointmentKind.MARKERS, description="CEA at Dr Lee")])
    keys = [i.key for i in due_items(h, d) if i.kind == "appointment"]
    assert keys == ["appointment:3"]
    assert item(h, d, "appointment:3").label == "CEA at Dr Lee"


# --------------------------------------------------------------------------- findings


def by_rule(findings, rule):
    return [f for f in findings if f.rule == rule]


def test_imaging_findings_by_state() -> None:
    h = hist()
    assert by_rule(timing_findings(h, (), CT + timedelta(days=55)), "timing.imaging_due") == []
    [soon] = by_rule(timing_findings(h, (), CT + timedelta(days=56)), "timing.imaging_due")
    assert soon.severity == Severity.INFO and soon.subject == "imaging-due-soon"
    [due] = by_rule(timing_findings(h, (), CT + timedelta(days=89)), "timing.imaging_due")
    assert due.severity == Severity.WATCH and due.subject == "imaging-due"
    assert "due by 2026-08-14 (in 2 days)" in due.evidence and "last 2026-05-15" in due.evidence
    [over] = by_rule(timing_findings(h, (), CT + timedelta(days=96)), "timing.imaging_due")
    assert over.severity == Severity.WATCH and over.subject == "imaging-overdue"
    assert "overdue by 5 days" in over.evidence
    # Ids: dated by the due date, so stable day to day, but different per state.
    assert soon.date == due.date == over.date == date(2026, 8, 14)
    assert len({soon.id, due.id, over.id}) == 3
    again = by_rule(timing_findings(h, (), CT + timedelta(days=120)), "timing.imaging_due")[0]
    assert again.id == over.id == "timing.imaging_due:imaging-overdue:2026-08-14"


def test_marker_and_appointment_findings() -> None:
    last = date(2026, 6, 1)
    d = date(2026, 9, 1)
    h = hist(studies=(date(2026, 8, 20),), markers=[cea(1, last)],
             appointments=[Appointment(9, d, AppointmentKind.VISIT)])
    found = timing_findings(h, (), d + timedelta(days=2))
    [m] = by_rule(found, "timing.marker_due")
    assert m.subject == "CEA-overdue" and m.severity == Severity.WATCH and m.date == last + timedelta(days=91)
    assert "ESMO 2018" in m.discuss
    [a] = by_rule(found, "timing.appointment_missed")
    assert a.subject == "appointment-9" and a.date == d and a.severity == Severity.WATCH
    assert "2 days past" in a.evidence
    # On the day itself the appointment is not missed.
    assert by_rule(timing_findings(h, (), d), "timing.appointment_missed") == []


@dataclass
class FakeResponse:
    line: TherapyLine
    first_pd_date: date | None


def test_early_progression_boundary() -> None:
    h = hist()
    limit = date(2025, 12, 20)  # start + 3 calendar months
    [f] = by_rule(timing_findings(h, [FakeResponse(GEF, limit)], date(2026, 1, 5)), "timing.early_progression")
    assert f.severity == Severity.ALERT and f.date == limit and f.subject == "line-1"
    assert "20–30 %" in f.discuss and "Santoni-Rugiu 2019" in f.source
    late = timing_findings(h, [FakeResponse(GEF, limit + timedelta(days=1))], date(2026, 1, 5))
    assert by_rule(late, "timing.early_progression") == []


def test_early_progression_from_stop_reason_and_non_egfr_source() -> None:
    chemo = TherapyLine(1, "docetaxel", date(2026, 1, 10), end=date(2026, 3, 1), stop_reason=StopReason.PROGRESSION)
    [f] = by_rule(timing_findings(hist(lines=(chemo,)), (), date(2026, 3, 5)), "timing.early_progression")
    assert f.date == date(2026, 3, 1) and "Eisenhauer" in f.source and "20–30 %" not in f.discuss
    toxic = TherapyLine(1, "docetaxel", date(2026, 1, 10), end=date(2026, 3, 1), stop_reason=StopReason.TOXICITY)
    assert by_rule(timing_findings(hist(lines=(toxic,)), (), date(2026, 3, 5)), "timing.early_progression") == []


def test_time_on_therapy_story_text() -> None:
    [f] = by_rule(timing_findings(hist(), (), date(2026, 7, 30)), "timing.time_on_therapy")
    # 2025-09-20 -> 2026-07-30 = 313 days = 313 / 30.4375 = 10.28 months
    assert f.evidence == ("gefitinib since 2025-09-20 (10.3 months; median PFS in IPASS: 9.5 months — "
                          "a median, not a prediction)")
    assert f.severity == Severity.INFO and f.id == "timing.time_on_therapy:line-1:2025-09-20"
    assert "half of the patients" in f.discuss


def test_time_on_therapy_settings() -> None:
    osi = TherapyLine(2, "osimertinib", date(2026, 8, 1))
    ended_gef = TherapyLine(1, "gefitinib", START, end=date(2026, 8, 1), stop_reason=StopReason.PROGRESSION)
    [f] = by_rule(timing_findings(hist(lines=(ended_gef, osi)), (), date(2026, 9, 1)), "timing.time_on_therapy")
    assert "AURA3: 10.1 months" in f.evidence and f.subject == "line-2"
    lor = TherapyLine(1, "lorlatinib", date(2026, 1, 1))
    [g] = by_rule(timing_findings(hist(lines=(lor,)), (), date(2026, 3, 1)), "timing.time_on_therapy")
    assert "median PFS in CROWN: not reached" in g.evidence
    laz = TherapyLine(1, "lazertinib", date(2026, 1, 1))  # LASER301 unconfirmed: no median shown
    [k] = by_rule(timing_findings(hist(lines=(laz,)), (), date(2026, 3, 1)), "timing.time_on_therapy")
    assert "no confirmed trial median" in k.evidence and "LASER301" not in k.evidence
    # No active line: no time-on-therapy finding.
    assert by_rule(timing_findings(hist(lines=(ended_gef,)), (), date(2026, 9, 1)), "timing.time_on_therapy") == []


def test_patient_value_equal_to_builtin_default_still_wins_over_config() -> None:
    config = RulesConfig(timing=TimingConfig(imaging_due_soon_weeks=6.0, imaging_overdue_weeks=9.0))
    own = Schedule(imaging_due_soon_weeks=8.0, imaging_overdue_weeks=13.0)
    assert item(hist(schedule=own), CT, "imaging", config).due_date == CT + timedelta(days=91)
    assert item(hist(schedule=Schedule()), CT, "imaging", config).due_date == CT + timedelta(days=63)


# --------------------------------------------------------------------------- booked scans and blood tests
# CT on 2026-05-15: due soon from 2026-07-10, due by 2026-08-14, overdue from 2026-08-15.


def scan_booking(d: date, i: int = 20, status: AppointmentStatus = AppointmentStatus.PLANNED) -> Appointment:
    return Appointment(i, d, AppointmentKind.IMAGING, status=status)


@pytest.mark.parametrize("booked", [date(2026, 8, 12), date(2026, 8, 14)])  # before / exactly on the due date
def test_scan_booked_in_time_is_shown_as_booked_not_due(booked: date) -> None:
    today = date(2026, 8, 10)  # state "due" without the booking
    h = hist(appointments=[scan_booking(booked)])
    it = item(h, today, "imaging")
    assert it.booked_for == booked and it.booked_in_time
    [f] = by_rule(timing_findings(h, (), today), "timing.imaging_due")
    assert f.severity == Severity.INFO and not f.needs_attention
    assert f.title == f"CT scan booked for {booked.isoformat()}"
    assert f.evidence.startswith(f"CT scan booked for {booked.isoformat()} (due by 2026-08-14 (in 4 days))")
    # The id is the one of the unbooked item: an acknowledgement keeps matching.
    [plain] = by_rule(timing_findings(hist(), (), today), "timing.imaging_due")
    assert f.id == plain.id == "timing.imaging_due:imaging-due:2026-08-14"
    assert plain.severity == Severity.WATCH and plain.title == "CT scan due"


def test_scan_booked_a_day_after_the_due_date_is_still_flagged_and_says_so() -> None:
    today = date(2026, 8, 10)
    h = hist(appointments=[scan_booking(date(2026, 8, 15))])
    it = item(h, today, "imaging")
    assert it.booked_for == date(2026, 8, 15) and not it.booked_in_time
    [f] = by_rule(timing_findings(h, (), today), "timing.imaging_due")
    assert f.severity == Severity.WATCH and f.id == "timing.imaging_due:imaging-due:2026-08-14"
    assert "booked for 2026-08-15, the day it falls overdue" in f.evidence
    assert f.title == "CT scan due, booked after the due date"
    [g] = by_rule(timing_findings(hist(appointments=[scan_booking(date(2026, 8, 16))]), (), today),
                  "timing.imaging_due")
    assert "booked for 2026-08-16, after it falls overdue on 2026-08-15" in g.evidence
    # Already overdue: a booking can only be late.
    late = timing_findings(hist(appointments=[scan_booking(date(2026, 9, 2))]), (), date(2026, 8, 20))
    [o] = by_rule(late, "timing.imaging_due")
    assert o.severity == Severity.WATCH and o.subject == "imaging-overdue"
    assert "booked for 2026-09-02, after it fell overdue on 2026-08-15" in o.evidence


def test_booked_while_due_soon_but_late_is_raised_to_watch() -> None:
    today = date(2026, 7, 20)  # due soon
    [f] = by_rule(timing_findings(hist(appointments=[scan_booking(date(2026, 8, 20))]), (), today),
                  "timing.imaging_due")
    assert f.severity == Severity.WATCH and f.subject == "imaging-due-soon"
    [g] = by_rule(timing_findings(hist(appointments=[scan_booking(date(2026, 8, 1))]), (), today),
                  "timing.imaging_due")
    assert g.severity == Severity.INFO and g.title == "CT scan booked for 2026-08-01"


def test_only_planned_future_bookings_of_the_matching_kind_count() -> None:
    today = date(2026, 8, 10)
    for a in (scan_booking(date(2026, 8, 9)),  # in the past
              scan_booking(date(2026, 8, 12), status=AppointmentStatus.CANCELLED),
              Appointment(21, date(2026, 8, 12), AppointmentKind.VISIT),
              Appointment(22, date(2026, 8, 12), AppointmentKind.MARKERS)):
        assert item(hist(appointments=[a]), today, "imaging").booked_for is None, a
    # booked today counts; the earliest booking is the one shown
    h = hist(appointments=[scan_booking(date(2026, 8, 30), 1), scan_booking(today, 2)])
    assert item(h, today, "imaging").booked_for == today


def test_blood_test_booking_covers_the_marker_items() -> None:
    last = date(2026, 6, 1)  # CEA overdue after 2026-08-31
    h = hist(studies=(date(2026, 8, 20),), markers=[cea(1, last)],
             appointments=[Appointment(30, date(2026, 8, 28), AppointmentKind.MARKERS)])
    [f] = by_rule(timing_findings(h, (), date(2026, 8, 26)), "timing.marker_due")
    assert f.severity == Severity.INFO and f.title == "CEA blood test booked for 2026-08-28"
    assert f.id == "timing.marker_due:cea-due:2026-08-31"


def test_cli_check_and_remind_show_the_booking(cli, monkeypatch) -> None:
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-10")
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "gefitinib", "--on", "2025-09-20").code == 0
    assert cli("scan", "add", "--date", "2026-05-15", "--lesion", "A: lung, 30 mm").code == 0
    before = cli("check", "--json")
    assert before.code == 3
    assert cli("appointment", "add", "--date", "2026-09-02", "--kind", "imaging").code == 0
    r = cli("check", "--json")
    [f] = [f for p in r.json()["patients"] for f in p["findings"] if f["rule"] == "timing.imaging_due"]
    assert "booked for 2026-09-02, after it falls overdue on 2026-08-15" in f["evidence"]
    assert r.code == 3
    r = cli("remind")
    assert "booked for 2026-09-02, after it falls overdue on 2026-08-15" in r.stdout, r


def test_remind_does_not_nag_a_scan_booked_in_time(cli, monkeypatch) -> None:
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-10")
    assert cli("patient", "add", "Ann").code == 0
    assert cli("therapy", "start", "gefitinib", "--on", "2025-09-20").code == 0
    assert cli("scan", "add", "--date", "2026-05-15", "--lesion", "A: lung, 30 mm").code == 0
    assert "CT scan due" in cli("remind").stdout
    assert cli("appointment", "add", "--date", "2026-08-12", "--kind", "imaging").code == 0
    r = cli("remind")
    assert "CT scan due" not in r.stdout and "2026-08-12" in r.stdout, r  # the booking is what is reminded
    [f] = [f for p in cli("check", "--json").json()["patients"] for f in p["findings"]
           if f["rule"] == "timing.imaging_due"]
    assert f["title"] == "CT scan booked for 2026-08-12" and f["severity"] == "info"
