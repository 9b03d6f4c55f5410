"""``lungtrack remind`` and ``lungtrack schedule``: the pure reminder logic and the CLI (in-process).

Dates are worked out by hand from the default schedule (imaging and markers: due soon 8 weeks =
56 days after the last event, overdue after 13 weeks = 91 days; "due" in the last 7 days;
planned appointments shown from 7 days before).  "Today" is Wed 2026-08-12 unless said.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from lungtrack.core.findings import Finding
from lungtrack.core.history import PatientInfo
from lungtrack.core.timing import DueItem
from lungtrack.enums import DueState, Severity
from lungtrack.errors import InputError
from lungtrack.reminders import remind as rm
from lungtrack.reminders import schedule as sch

TODAY = date(2026, 8, 12)
ANN = PatientInfo(id=1, name="Ann")


def item(key="imaging", kind="imaging", label="CT scan", last=date(2026, 5, 15), due=date(2026, 8, 14),
         state=DueState.DUE, today=TODAY) -> DueItem:
    soon = due - timedelta(days=35) if kind != "appointment" else due - timedelta(days=7)
    return DueItem(key, kind, label, last, soon, due, state, (due - today).days)


def finding(rule="variant.resistance", subject="egfr-t790m", on=date(2026, 7, 28), severity=Severity.ALERT,
            title="EGFR T790M detected", data=None) -> Finding:
    return Finding(rule=rule, subject=subject, date=on, severity=severity, title=title, evidence="e",
                   source="s", discuss="d", patient_id=1, data=data or {})


# ================================================================== wording


def test_story_three_lines():
    """The lines of user story 3 (CT due in 2 days; CEA overdue by 5 days; an alert)."""
    ct = item()
    cea = item("marker:CEA", "marker", "CEA blood test", date(2026, 6, 1), date(2026, 8, 7), DueState.OVERDUE)
    rs = rm.patient_reminders(ANN, [ct, cea], [finding()], set(), {}, TODAY, with_findings=True)
    assert [r.line() for r in rs] == [
        "- Ann: CT scan due in 2 days (2026-08-14); last scan 2026-05-15.",
        "- Ann: CEA blood test overdue by 5 days (was due by 2026-08-07); last test 2026-06-01.",
        "- Ann: new alert not yet acknowledged: EGFR T790M detected (2026-07-28).",
    ]
    text = rm.render_text(rs, "Wed 2026-08-12")
    assert text[0] == "lungtrack reminders for Wed 2026-08-12"
    assert "\x1b" not in "\n".join(text)


@pytest.mark.parametrize("it, expected", [
    (item(due=date(2026, 8, 13)), "CT scan due in 1 day (2026-08-13); last scan 2026-05-15."),
    (item(due=TODAY), "CT scan due today (2026-08-12); last scan 2026-05-15."),
    (item(due=date(2026, 8, 11), state=DueState.OVERDUE),
     "CT scan overdue by 1 day (was due by 2026-08-11); last scan 2026-05-15."),
    (item(due=date(2026, 9, 9), state=DueState.DUE_SOON),
     "CT scan due soon: by 2026-09-09, in 28 days; last scan 2026-05-15."),
    (item(last=None, due=date(2026, 8, 20)),
     "CT scan due in 8 days (2026-08-20); no scan recorded on this treatment yet."),
    (item("appointment:3", "appointment", "Oncology visit", None, date(2026, 8, 15), DueState.DUE_SOON),
     "Oncology visit on 2026-08-15, in 3 days."),
    (item("appointment:3", "appointment", "Oncology visit", None, TODAY, DueState.DUE),
     "Oncology visit today (2026-08-12)."),
    (item("appointment:3", "appointment", "Oncology visit", None, date(2026, 8, 10), DueState.OVERDUE),
     "Oncology visit on 2026-08-10 was 2 days ago and is still marked planned "
     "(if it took place: lungtrack appointment done 3)."),
])
def test_item_wording(it, expected):
    assert rm.item_text(it) == expected


def test_up_to_date_items_are_not_reminders():
    up = item(due=date(2026, 10, 1), state=DueState.UP_TO_DATE)
    assert rm.patient_reminders(ANN, [up], [], set(), {}, TODAY) == []
    assert rm.render_text([], "Wed 2026-08-12") == []  # nothing to say: nothing printed


# ================================================================== snoozes


@pytest.mark.parametrize("until, hidden", [
    (TODAY + timedelta(days=1), True),  # ends tomorrow: still quiet today
    (TODAY, False),  # ends today: back today
    (TODAY - timedelta(days=3), False),  # expired
])
def test_snooze_hides_until_its_date(until, hidden):
    [r] = rm.patient_reminders(ANN, [item()], [], set(), {"imaging": until}, TODAY)
    assert r.snoozed is hidden
    assert rm.needs_attention([r]) == (0 if hidden else 1)
    assert (rm.render_text([r], "x") == []) is hidden


def test_snoozed_items_visible_with_all_and_marked():
    rs = rm.patient_reminders(ANN, [item()], [], set(), {"imaging": date(2026, 8, 19)}, TODAY)
    assert rm.render_text(rs, "x") == []
    text = rm.render_text(rs, "x", include_snoozed=True)
    assert "- Ann: CT scan due in 2 days (2026-08-14); last scan 2026-05-15. (snoozed until 2026-08-19)" in text
    assert not any("--snooze" in line for line in text)  # no advice to snooze what is already snoozed


def test_snooze_of_one_item_does_not_hide_another():
    cea = item("marker:CEA", "marker", "CEA blood test", date(2026, 6, 1), date(2026, 8, 7), DueState.OVERDUE)
    rs = rm.patient_reminders(ANN, [item(), cea], [], set(), {"marker:CEA": date(2026, 9, 1)}, TODAY)
    assert [(r.key, r.snoozed) for r in rs] == [("imaging", False), ("marker:CEA", True)]
    assert rm.needs_attention(rs) == 1


@pytest.mark.parametrize("requested_offset, expected_offset, capped", [
    (0, 0, False), (1, 1, False), (2, 1, True), (30, 1, True),
])
def test_snooze_capped_at_the_day_the_item_turns_overdue(requested_offset, expected_offset, capped):
    it = item(due=date(2026, 8, 14), state=DueState.DUE)
    got, was_capped = rm.snooze_until(it.due_date + timedelta(days=requested_offset), it)
    assert got == it.due_date + timedelta(days=expected_offset)
    assert was_capped is capped


def test_overdue_item_can_be_snoozed_as_long_as_asked():
    it = item(due=date(2026, 8, 1), state=DueState.OVERDUE)
    assert rm.snooze_until(date(2026, 10, 1), it) == (date(2026, 10, 1), False)


@pytest.mark.parametrize("text, expected", [
    ("7d", date(2026, 8, 19)), ("2w", date(2026, 8, 26)), ("1m", date(2026, 9, 12)),
    ("2026-09-01", date(2026, 9, 1)), ("tomorrow", date(2026, 8, 13)),
    ("2027-08-13", date(2027, 8, 13)),  # 366 days: the longest accepted
])
def test_parse_snooze_end(text, expected):
    assert rm.parse_snooze_end(text, TODAY) == expected


@pytest.mark.parametrize("text", ["0d", "today", "2026-08-01", "yesterday", "2027-08-14", "soon", ""])
def test_parse_snooze_end_refuses(text):
    with pytest.raises(InputError):
        rm.parse_snooze_end(text, TODAY)


AVAILABLE = ["imaging", "marker:CEA", "marker:CYFRA 21-1", "appointment:3"]


@pytest.mark.parametrize("text, key", [
    ("imaging", "imaging"), ("CT", "imaging"), ("scan", "imaging"), ("ct-scan", "imaging"), ("MRI", "imaging"),
    ("cea", "marker:CEA"), ("CEA", "marker:CEA"), ("marker:cea", "marker:CEA"), ("marker:CEA", "marker:CEA"),
    ("cyfra 21-1", "marker:CYFRA 21-1"), ("CYFRA21-1", "marker:CYFRA 21-1"),
    ("appointment:3", "appointment:3"), ("appointment 3", "appointment:3"), ("appt:3", "appointment:3"),
])
def test_resolve_item_key(text, key):
    assert rm.resolve_item_key(text, AVAILABLE) == key


@pytest.mark.parametrize("text", ["nse", "appointment:4", "egfr", "marker:xyz", "variant.resistance:egfr-t790m"])
def test_resolve_item_key_refuses_unknown_or_absent(text):
    with pytest.raises(InputError) as exc:
        rm.resolve_item_key(text, AVAILABLE)
    assert "imaging, marker:CEA" in exc.value.message  # lists what can be snoozed


# ================================================================== findings


def test_with_findings_lists_only_unacknowledged_watch_and_alert():
    due = [item()]
    fs = [
        finding(),  # alert, open
        finding("marker.rising", "cea", date(2026, 6, 1), Severity.WATCH, "CEA rising"),
        finding("recist.response", "line-1", date(2026, 3, 1), Severity.INFO, "Partial response"),
        finding("variant.vaf_rising", "egfr", date(2026, 7, 28), Severity.WATCH, "VAF rising"),  # acknowledged
        # a timing finding that repeats the imaging due item: one line, not two
        finding("timing.imaging_due", "imaging-due", date(2026, 8, 14), Severity.WATCH, "CT scan due",
                data={"key": "imaging"}),
    ]
    acked = {fs[3].id}
    rs = rm.patient_reminders(ANN, due, fs, acked, {}, TODAY, with_findings=True)
    assert [r.key for r in rs] == ["imaging", f"finding:{fs[0].id}", f"finding:{fs[1].id}"]
    assert rs[2].text == "new watch finding not yet acknowledged: CEA rising (2026-06-01)."
    assert rm.patient_reminders(ANN, due, fs, acked, {}, TODAY, with_findings=False)[0].key == "imaging"
    assert len(rm.patient_reminders(ANN, due, fs, acked, {}, TODAY, with_findings=False)) == 1


def test_snoozed_due_item_is_not_repeated_by_its_timing_finding():
    f = finding("timing.imaging_due", "imaging-due", date(2026, 8, 14), Severity.WATCH, "CT scan due",
                data={"key": "imaging"})
    rs = rm.patient_reminders(ANN, [item()], [f], set(), {"imaging": date(2026, 8, 14)}, TODAY, with_findings=True)
    assert rm.needs_attention(rs) == 0


# ================================================================== schedule parsing


@pytest.mark.parametrize("text, soon, overdue", [
    ("8-13 weeks", 8, 13), ("8-13", 8, 13), ("8w-13w", 8, 13), ("6–9w", 6, 9), ("6 to 9 weeks", 6, 9),
    ("56-91 days", 8, 13), ("1-52 weeks", 1, 52), ("8.5-12.5w", 8.5, 12.5),
])
def test_parse_range(text, soon, overdue):
    assert sch.parse_range(text, field="--imaging-every") == sch.Interval(soon, overdue)


@pytest.mark.parametrize("text", ["13-8 weeks", "8-8 weeks", "0-13", "0.5-2w", "1-53 weeks", "2-3 months", "8",
                                  "weekly", "-1-5"])
def test_parse_range_refuses(text):
    with pytest.raises(InputError):
        sch.parse_range(text, field="--imaging-every")


@pytest.mark.parametrize("text, weeks", [("1w", 1), ("7d", 1), ("8", 8), ("8 weeks", 8), ("52w", 52), ("364d", 52)])
def test_parse_weeks_bounds_inside(text, weeks):
    assert sch.parse_weeks(text, field="f") == weeks


@pytest.mark.parametrize("text", ["6d", "0w", "52.1w", "365d", "53", "3m", "x"])
def test_parse_weeks_bounds_outside(text):
    with pytest.raises(InputError):
        sch.parse_weeks(text, field="f")


def test_combine_keeps_the_other_value_and_validates_the_pair():
    current = sch.Interval(8, 13)
    assert sch.combine("imaging", None, "10w", None, current) == (sch.Interval(10, 13), {"due_soon"})
    with pytest.raises(InputError):
        sch.combine("imaging", None, "13w", None, current)  # due soon must come before overdue
    with pytest.raises(InputError):
        sch.combine("imaging", "8-13", "8w", None, current)  # both forms at once
    assert sch.combine("imaging", None, None, None, current) is None


# ================================================================== CLI (in-process)


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY.isoformat())
    return TODAY


def patient(cli, name, *, start="2026-01-06", scan=None, cea=None, default=False):
    assert cli("patient", "add", name, *(["--default"] if default else [])).code == 0
    assert cli("therapy", "start", "gefitinib", "--on", start, "--patient", name).code == 0
    if scan:
        r = cli("scan", "add", "--date", scan, "--lesion", "RUL mass: lung, 30 mm", "--patient", name)
        assert r.code == 0, r
    if cea:
        r = cli("marker", "add", "cea", "3.1", "--date", cea, "--patient", name)
        assert r.code == 0, r


def test_remind_cli_silent_when_nothing_due(cli, today):
    patient(cli, "Ann", scan="2026-07-20")  # due soon from 2026-09-14
    r = cli("remind", "--with-findings")
    assert (r.code, r.stdout, r.stderr) == (0, "", "")


def test_remind_cli_all_patients_by_default(cli, today):
    patient(cli, "Ann", scan="2026-05-01")  # overdue after 2026-07-31: overdue by 12 days
    patient(cli, "Bob", scan="2026-06-10")  # due soon from 2026-08-05, due by 2026-09-09
    patient(cli, "Cy", scan="2026-07-20")  # up to date
    r = cli("remind")
    assert r.code == 3, r
    assert r.stdout.splitlines()[:3] == [
        "lungtrack reminders for Wed 2026-08-12",
        "- Ann: CT scan overdue by 12 days (was due by 2026-07-31); last scan 2026-05-01.",
        "- Bob: CT scan due soon: by 2026-09-09, in 28 days; last scan 2026-06-10.",
    ]
    assert "Cy" not in r.stdout
    only_bob = cli("remind", "--patient", "Bob", "--json").json()
    assert [x["patient"] for x in only_bob["reminders"]] == ["Bob"]
    assert only_bob["needs_attention"] == 1


def test_remind_boundary_due_soon_window_opens(cli, monkeypatch):
    patient(cli, "Ann", scan="2026-06-17")  # + 56 days = 2026-08-12
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-11")
    assert cli("remind").code == 0
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    r = cli("remind")
    assert r.code == 3 and "due soon" in r.stdout


def test_snooze_cli_hides_then_all_shows(cli, today):
    patient(cli, "Ann", scan="2026-05-01", cea="2026-05-01")
    r = cli("remind", "--snooze", "ct", "7d")
    assert r.code == 0 and r.stdout == "", r
    assert "until 2026-08-19" in r.stderr
    r = cli("remind")
    assert r.code == 3  # CEA is still overdue
    assert "CT scan" not in r.stdout and "CEA blood test overdue" in r.stdout
    assert cli("remind", "--snooze", "cea", "2026-09-01").code == 0
    r = cli("remind")
    assert (r.code, r.stdout) == (0, "")
    r = cli("remind", "--all")
    assert r.code == 0
    assert "(snoozed until 2026-08-19)" in r.stdout and "(snoozed until 2026-09-01)" in r.stdout
    assert cli("remind", "--unsnooze", "imaging").code == 0
    assert "CT scan overdue" in cli("remind").stdout


def test_snooze_cli_capped_for_item_not_yet_overdue(cli, today):
    patient(cli, "Ann", scan="2026-05-15")  # due by 2026-08-14 (Story 3)
    r = cli("remind", "--snooze", "imaging", "30d")
    assert r.code == 0
    assert "until 2026-08-15" in r.stderr and "not 2026-09-11" in r.stderr
    monkey_today = "2026-08-15"
    r = cli("remind", env={"LUNGTRACK_TODAY": monkey_today})
    assert r.code == 3 and "overdue by 1 day" in r.stdout


def test_snooze_cli_errors_are_one_line(cli, today):
    patient(cli, "Ann", scan="2026-05-01")
    for args in (("remind", "--snooze", "nse", "7d"), ("remind", "--snooze", "ct", "yesterday")):
        r = cli(*args)
        assert r.code == 2, r
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("Error: ")
        assert r.stdout == ""


def test_due_date_follows_the_last_event_and_nothing_is_written(cli, today, db_path):
    patient(cli, "Ann", scan="2026-05-01")

    def counts() -> dict[str, int]:
        con = sqlite3.connect(db_path)
        try:
            names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        finally:
            con.close()

    before = counts()
    for _ in range(3):  # re-running never adds rows (no materialised future reminders)
        cli("remind", "--with-findings")
        cli("schedule", "--show")
        cli("export", "ics", "-o", str(db_path.parent / "x.ics"))
    after = counts()
    # the only rows added are the event-log entries of the three calendar exports
    assert after.pop("event_log") == before.pop("event_log") + 3
    assert after == before
    first = {d["key"]: d for d in cli("schedule", "--json").json()["next"]}
    assert first["imaging"]["due_date"] == "2026-07-31"  # 2026-05-01 + 91 days
    assert cli("scan", "add", "--date", "2026-08-10", "--lesion", "RUL mass 28").code == 0
    second = {d["key"]: d for d in cli("schedule", "--json").json()["next"]}
    assert second["imaging"]["due_date"] == "2026-11-09"  # 2026-08-10 + 91 days
    assert second["imaging"]["state"] == "up-to-date"
    assert cli("remind").code == 0


def test_schedule_sets_shows_and_resets(cli, today, db_path):
    patient(cli, "Ann", scan="2026-06-17", cea="2026-06-17")
    r = cli("schedule", "--imaging-every", "6-9 weeks", "--markers-due-soon", "4w", "--markers-overdue", "6w")
    assert r.code == 0, r
    data = cli("schedule", "--json").json()
    assert data["imaging"] == {"due_soon_weeks": 6.0, "overdue_weeks": 9.0, "set_for_patient": True}
    assert data["markers"] == {"due_soon_weeks": 4.0, "overdue_weeks": 6.0, "set_for_patient": True}
    nxt = {d["key"]: d for d in data["next"]}
    assert nxt["imaging"]["due_date"] == "2026-08-19"  # 2026-06-17 + 63 days
    assert nxt["marker:CEA"]["due_date"] == "2026-07-29"  # + 42 days: overdue
    assert nxt["marker:CEA"]["state"] == "overdue"
    text = cli("schedule").stdout
    assert "Imaging: due soon from 6 weeks, overdue after 9 weeks after the last scan (set for this patient)" in text
    assert cli("schedule", "--reset").code == 0
    data = cli("schedule", "--json").json()
    assert data["imaging"] == {"due_soon_weeks": 8.0, "overdue_weeks": 13.0, "set_for_patient": False}
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT imaging_due_soon_weeks, marker_overdue_weeks FROM patient").fetchone() == (None, None)
    con.close()


@pytest.mark.parametrize("args", [
    ("--imaging-every", "13-8 weeks"), ("--imaging-every", "0-4w"), ("--markers-overdue", "60w"),
    ("--imaging-due-soon", "13w"),  # not before the default 13-week overdue
    ("--next-appointment", "2026-08-11"),  # in the past
    ("--reset", "--imaging-every", "8-13"),
])
def test_schedule_refuses_and_writes_nothing(cli, today, db_path, args):
    patient(cli, "Ann", scan="2026-06-17")
    r = cli("schedule", *args)
    assert r.code == 2, r
    assert r.stderr.startswith("Error: ") and len(r.stderr.strip().splitlines()) == 1
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT imaging_due_soon_weeks, imaging_overdue_weeks, marker_overdue_weeks FROM patient"
                       ).fetchone() == (None, None, None)
    assert con.execute("SELECT count(*) FROM appointment").fetchone() == (0,)
    con.close()


def test_schedule_next_appointment_is_reminded_and_not_duplicated(cli, today, db_path):
    patient(cli, "Ann", scan="2026-07-20")
    for _ in range(2):
        r = cli("schedule", "--next-appointment", "2026-08-15", "--kind", "imaging", "--description", "CT chest")
        assert r.code == 0, r
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*) FROM appointment").fetchone() == (1,)
    con.close()
    r = cli("remind")
    assert r.code == 3
    assert "- Ann: CT chest on 2026-08-15, in 3 days." in r.stdout
    # planned for today: still a reminder; the day after, it is "missed"
    r = cli("remind", env={"LUNGTRACK_TODAY": "2026-08-16"})
    assert "was 1 day ago and is still marked planned" in r.stdout


def test_remind_json_is_stable(cli, today):
    patient(cli, "Ann", scan="2026-05-01")
    data = cli("remind", "--json").json()
    assert data["date"] == "2026-08-12" and data["needs_attention"] == 1
    [r] = data["reminders"]
    assert r == {"patient_id": 1, "patient": "Ann", "key": "imaging", "kind": "imaging", "label": "CT scan",
                 "state": "overdue", "date": "2026-07-31", "days": -12, "last_date": "2026-05-01",
                 "snoozed_until": None,
                 "text": "CT scan overdue by 12 days (was due by 2026-07-31); last scan 2026-05-01."}
    json.dumps(data)


def test_cron_line_uses_absolute_paths(cli, tmp_path, monkeypatch):
    store = tmp_path / "my store" / "lungtrack.db"
    r = cli("--db", str(store), "cron", "--time", "6:05")
    assert r.code == 0
    line = r.stdout.strip()
    fields = line.split(" ", 5)
    assert fields[:5] == ["5", "6", "*", "*", "*"]
    assert f"--db '{store}' remind --with-findings" in line
    exe = fields[5].split(" ")[0]
    assert Path(exe).is_absolute()
    assert "crontab -e" in r.stderr and "MAILTO" in r.stderr and "no store" in r.stderr
    r = cli("cron", "--time", "7:60")
    assert r.code == 2


def test_crontab_helpers():
    from lungtrack.reminders import crontab as ct

    assert ct.parse_time("07:00") == (7, 0) and ct.parse_time("23:59") == (23, 59) and ct.parse_time("0") == (0, 0)
    for bad in ("24:00", "7:5", "7pm", "-1"):
        with pytest.raises(InputError):
            ct.parse_time(bad)
    line = ct.crontab_line(["/opt/bin/lungtrack", "--db", "/data/50% ann.db", "remind"], 7, 0)
    assert line == "0 7 * * * /opt/bin/lungtrack --db '/data/50\\% ann.db' remind"
    # a pyenv shim on PATH is not used: cron has no pyenv set-up
    got = ct.find_executable(argv0="/usr/bin/pytest", python="/nonexistent/python3",
                             which=lambda _n: "/home/ann/.pyenv/shims/lungtrack")
    assert got == ["/nonexistent/python3", "-m", "lungtrack"]


def test_all_patients_overrides_lungtrack_patient(cli, today, monkeypatch):
    patient(cli, "Ann", scan="2026-05-01")
    patient(cli, "Bob", scan="2026-05-02")
    monkeypatch.setenv("LUNGTRACK_PATIENT", "Bob")
    assert [r["patient"] for r in cli("remind", "--json").json()["reminders"]] == ["Bob"]
    lines = cli("remind", "--json", "--all-patients").stdout.splitlines()  # JSON Lines: one object per patient
    assert [r["patient"] for line in lines for r in json.loads(line)["reminders"]] == ["Ann", "Bob"]
