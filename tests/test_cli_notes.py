"""``lungtrack appointment`` and ``lungtrack note`` through the real CLI (in-process).

"Today" is fixed to Sat 2026-08-01.  The appointment list's default window is "planned, or
within the last 90 days": 2026-08-01 minus 90 days is 2026-05-03, so a done appointment on
2026-05-03 is listed and one on 2026-05-02 is not.
"""

from __future__ import annotations

import pytest

from conftest import assert_refused

TODAY = "2026-08-01"


@pytest.fixture(autouse=True)
def ann(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    r = cli("patient", "add", "Ann")
    assert r.code == 0, r


def appts(cli, *extra: str) -> list[dict]:
    r = cli("appointment", "list", "--all", "--json", *extra)
    assert r.code == 0, r
    return r.json()


def notes(cli) -> list[dict]:
    r = cli("note", "list", "--json")
    assert r.code == 0, r
    return r.json()


def add_appt(cli, date: str = "2026-09-15", kind: str = "imaging", *extra: str):
    return cli("appointment", "add", "--date", date, "--kind", kind, *extra)


def only_id(rows: list[dict]) -> str:
    [row] = rows
    return str(row["id"])




# ================================================================== appointments

def test_appointment_add_future_date_is_planned(cli):
    r = add_appt(cli, "2026-09-15", "imaging", "--description", "CT chest/abdomen", "--json")
    assert r.code == 0, r
    assert "Planned imaging appointment (CT chest/abdomen) on Tue 2026-09-15 for Ann" in r.stderr
    data = r.json()
    assert data["date"] == "2026-09-15"
    assert data["kind"] == "imaging"
    assert data["status"] == "planned"
    assert data["description"] == "CT chest/abdomen"
    assert data["days_from_today"] == 45  # 2026-08-01 -> 2026-09-15
    assert data["past_due"] is False
    assert appts(cli)[0]["id"] == data["id"]


def test_appointment_relative_future_date(cli):
    assert add_appt(cli, "in 2 weeks", "markers").code == 0
    assert appts(cli)[0]["date"] == "2026-08-15"


@pytest.mark.parametrize("args, words", [
    (["--date", "2026-09-15", "--kind", "dentist"], ["--kind", "dentist"]),
    (["--date", "03/04/2026", "--kind", "visit"], ["--date", "03/04/2026", "ambiguous"]),
    (["--date", "2026-13-01", "--kind", "visit"], ["--date", "2026-13-01"]),
    (["--date", "2046-01-01", "--kind", "visit"], ["--date", "2046-01-01"]),  # > 10 years ahead: a typo
    (["--date", "2026-09-15"], ["--kind"]),
    (["--date", "2026-09-15", "--kind", "visit", "--description", "x" * 501], ["--description", "500"]),
])
def test_appointment_bad_input_is_refused_and_nothing_written(cli, args, words):
    r = cli("appointment", "add", *args)
    assert_refused(r, *words)
    assert appts(cli) == []


def test_appointment_list_default_window(cli):
    # 90 days before 2026-08-01 is 2026-05-03: the boundary day is inside the window.
    for date, kind in (("2026-05-02", "markers"), ("2026-05-03", "imaging"), ("2026-04-01", "visit"),
                       ("2026-03-01", "biopsy"), ("2026-09-01", "visit")):
        assert add_appt(cli, date, kind).code == 0
    ids = {r["date"]: str(r["id"]) for r in appts(cli)}
    assert cli("appointment", "done", ids["2026-05-02"]).code == 0
    assert cli("appointment", "done", ids["2026-05-03"]).code == 0
    assert cli("appointment", "cancel", ids["2026-03-01"]).code == 0
    # 2026-04-01 stays planned although past: listed, flagged past_due.
    r = cli("appointment", "list", "--json")
    assert r.code == 0, r
    shown = {row["date"]: row for row in r.json()}
    assert sorted(shown) == ["2026-04-01", "2026-05-03", "2026-09-01"]
    assert shown["2026-04-01"]["past_due"] is True
    assert shown["2026-05-03"]["past_due"] is False  # done
    assert shown["2026-09-01"]["past_due"] is False  # future
    assert len(appts(cli)) == 5
    table = cli("appointment", "list")
    assert table.code == 0, table
    lines = table.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["id", "date", "kind", "status"]
    assert len(lines) == 4
    assert "past" in lines[1]  # 2026-04-01, oldest first


def test_appointment_done_and_done_on(cli):
    assert add_appt(cli, "2026-07-20", "markers").code == 0
    aid = only_id(appts(cli))
    r = cli("appointment", "done", aid, "--json")
    assert r.code == 0, r
    assert r.json()["status"] == "done"
    assert r.json()["date"] == "2026-07-20"
    r = cli("appointment", "done", aid, "--on", "2026-07-22")
    assert r.code == 0, r
    [row] = appts(cli)
    assert (row["status"], row["date"]) == ("done", "2026-07-22")


def test_appointment_done_today_is_accepted(cli):
    assert add_appt(cli, TODAY, "visit").code == 0
    assert cli("appointment", "done", only_id(appts(cli))).code == 0
    assert appts(cli)[0]["status"] == "done"


def test_appointment_done_in_future_is_refused(cli):
    assert add_appt(cli, "2026-08-02", "visit").code == 0  # tomorrow
    before = appts(cli)
    aid = only_id(before)
    assert_refused(cli("appointment", "done", aid), "future")
    assert_refused(cli("appointment", "done", aid, "--on", "2026-08-02"), "--date", "future")  # --on is an alias of --date
    assert appts(cli) == before
    r = cli("appointment", "done", aid, "--on", "today")
    assert r.code == 0, r
    assert (appts(cli)[0]["status"], appts(cli)[0]["date"]) == ("done", TODAY)


def test_appointment_cancel(cli):
    assert add_appt(cli).code == 0
    aid = only_id(appts(cli))
    r = cli("appointment", "cancel", aid)
    assert r.code == 0, r
    assert appts(cli)[0]["status"] == "cancelled"


def test_appointment_show_json_and_text(cli):
    assert add_appt(cli, "2026-09-15", "imaging", "--description", "CT chest").code == 0
    aid = only_id(appts(cli))
    data = cli("appointment", "show", aid, "--json").json()
    assert (data["id"], data["kind"], data["description"]) == (int(aid), "imaging", "CT chest")
    r = cli("appointment", "show", aid)
    assert r.code == 0, r
    assert "CT chest" in r.stdout and "2026-09-15" in r.stdout and "planned" in r.stdout


def test_appointment_edit_changes_only_given_options(cli):
    assert add_appt(cli, "2026-09-15", "imaging", "--description", "CT chest").code == 0
    before = appts(cli)[0]
    r = cli("appointment", "edit", str(before["id"]), "--date", "2026-09-22")
    assert r.code == 0, r
    after = appts(cli)[0]
    assert after["date"] == "2026-09-22"
    for key in ("kind", "description", "status", "created_at"):
        assert after[key] == before[key], key


@pytest.mark.parametrize("args, words", [
    (["--status", "done"], ["future"]),  # planned for 2026-09-15: cannot be done yet
    (["--kind", "dentist"], ["--kind", "dentist"]),
    (["--date", "02/03/2027"], ["--date", "02/03/2027", "ambiguous"]),
    ([], ["at least one"]),
])
def test_appointment_edit_bad_input_changes_nothing(cli, args, words):
    assert add_appt(cli).code == 0
    before = appts(cli)
    assert_refused(cli("appointment", "edit", only_id(before), *args), *words)
    assert appts(cli) == before


def test_appointment_delete_refuses_without_yes_then_deletes(cli):
    assert add_appt(cli).code == 0
    aid = only_id(appts(cli))
    assert_refused(cli("appointment", "delete", aid), "--yes")
    assert len(appts(cli)) == 1
    r = cli("appointment", "delete", aid, "--yes")
    assert r.code == 0, r
    assert appts(cli) == []


def test_appointment_unknown_id(cli):
    r = cli("appointment", "done", "42")
    assert r.code == 2, r
    assert "42" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ================================================================== notes

def test_note_add_and_list_json(cli):
    r = cli("note", "add", "Grade 1 rash on the face since Monday", "--json")
    assert r.code == 0, r
    assert r.json()["text"] == "Grade 1 rash on the face since Monday"
    assert "Added note" in r.stderr and "Sat 2026-08-01" in r.stderr
    [row] = notes(cli)
    assert (row["date"], row["text"]) == (TODAY, "Grade 1 rash on the face since Monday")


def test_note_add_from_stdin(cli):
    r = cli("note", "add", "-", "--date", "yesterday", input="Tired after the scan.\nAsk about fatigue.\n")
    assert r.code == 0, r
    [row] = notes(cli)
    assert row["text"] == "Tired after the scan.\nAsk about fatigue."
    assert row["date"] == "2026-07-31"


def test_note_help_mentions_shell_history(cli):
    r = cli("note", "add", "--help")
    assert r.code == 0, r
    assert "shell history" in " ".join(r.stdout.split())


@pytest.mark.parametrize("args, stdin, words", [
    (["", ], None, ["text", "empty"]),
    (["   "], None, ["text", "empty"]),
    (["-"], "", ["text", "empty"]),
    (["-"], " \n\n ", ["text", "empty"]),
    (["fine", "--date", "2026-08-02"], None, ["--date", "future"]),
    (["fine", "--date", "03/04/2026"], None, ["--date", "ambiguous"]),
])
def test_note_bad_input_is_refused_and_nothing_written(cli, args, stdin, words):
    r = cli("note", "add", *args, input=stdin)
    assert_refused(r, *words)
    assert notes(cli) == []


def test_note_list_table_shows_a_preview(cli):
    long = "word " * 40
    assert cli("note", "add", long).code == 0
    r = cli("note", "list")
    assert r.code == 0, r
    header, line = r.stdout.splitlines()
    assert header.split("\t") == ["id", "date", "text"]
    assert len(line.split("\t")[2]) == 60
    assert notes(cli)[0]["text"] == long.strip()  # JSON keeps the full text


def test_note_show_json_and_text(cli):
    assert cli("note", "add", "Line one\nLine two").code == 0
    nid = only_id(notes(cli))
    data = cli("note", "show", nid, "--json").json()
    assert data["text"] == "Line one\nLine two"
    r = cli("note", "show", nid)
    assert r.code == 0, r
    assert "Line one\nLine two" in r.stdout


def test_note_edit_text_and_date(cli):
    assert cli("note", "add", "first", "--date", "2026-07-01").code == 0
    nid = only_id(notes(cli))
    assert cli("note", "edit", nid, "--text", "second").code == 0
    assert (notes(cli)[0]["text"], notes(cli)[0]["date"]) == ("second", "2026-07-01")
    assert cli("note", "edit", nid, "--date", "2026-07-05").code == 0
    assert (notes(cli)[0]["text"], notes(cli)[0]["date"]) == ("second", "2026-07-05")
    assert cli("note", "edit", nid, "--text", "-", input="third\n").code == 0
    assert notes(cli)[0]["text"] == "third"


@pytest.mark.parametrize("args, words", [
    (["--text", ""], ["--text", "empty"]),
    (["--date", "2026-08-02"], ["--date", "future"]),
    ([], ["at least one"]),
])
def test_note_edit_bad_input_changes_nothing(cli, args, words):
    assert cli("note", "add", "keep me").code == 0
    before = notes(cli)
    assert_refused(cli("note", "edit", only_id(before), *args), *words)
    assert notes(cli) == before


def test_note_delete_refuses_without_yes_then_deletes(cli):
    assert cli("note", "add", "to delete").code == 0
    nid = only_id(notes(cli))
    assert_refused(cli("note", "delete", nid), "--yes")
    assert len(notes(cli)) == 1
    r = cli("note", "delete", nid, "--yes")
    assert r.code == 0, r
    assert notes(cli) == []
