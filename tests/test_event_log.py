"""The event log: what left the store (exports, reports, backups) and what was destroyed."""

from __future__ import annotations

import sqlite3
import stat



def _log(cli):
    return cli("db", "log", "--json").json()


def test_exports_reports_and_backups_are_logged(demo, tmp_path):
    assert _log(demo) == []
    assert demo("export", "csv", "markers", "-o", str(tmp_path / "m.csv")).code == 0
    assert demo("export", "json").code == 0
    assert demo("report", "--format", "txt").code == 0
    assert demo("export", "ics", "-o", str(tmp_path / "c.ics")).code == 0
    assert demo("db", "backup", "-o", str(tmp_path / "b.db")).code == 0
    entries = _log(demo)
    assert [e["action"] for e in entries] == ["export-csv", "export-json", "report", "export-ics", "backup"]
    assert entries[0]["patient_name"] == "Ann" and entries[0]["detail"] == f"markers to {tmp_path / 'm.csv'}"
    assert entries[1]["detail"] == "standard output"
    assert entries[2]["detail"].startswith("txt report (")
    assert entries[4]["detail"] == str(tmp_path / "b.db") and entries[4]["patient_name"] is None
    assert all(e["at"].endswith("Z") for e in entries)
    human = demo("db", "log", "--patient", "ann")
    assert "export-csv" in human.stdout and "backup" not in human.stdout


def test_a_failed_export_is_not_logged(demo):
    r = demo("export", "json", "-o", "/no/such/dir/x.json")
    assert r.code == 2
    assert _log(demo) == []


def test_deleting_a_patient_keeps_a_backup_and_a_trace(demo, db_path):
    assert demo("patient", "add", "Bob").code == 0
    assert demo("marker", "add", "cea", "3", "--patient", "Bob", "--date", "2026-08-01").code == 0
    r = demo("patient", "delete", "Bob", "--yes")
    assert r.code == 0 and "a backup copy was saved first" in r.stderr
    backup = r.stderr.strip().rsplit(": ", 1)[1]
    assert stat.S_IMODE(__import__("os").stat(backup).st_mode) == 0o600
    con = sqlite3.connect(backup)
    assert ("Bob",) in con.execute("SELECT name FROM patient").fetchall()
    assert con.execute("SELECT COUNT(*) FROM marker_result WHERE patient_id = (SELECT id FROM patient WHERE name='Bob')"
                       ).fetchone()[0] == 1
    (entry,) = [e for e in _log(demo) if e["action"] == "delete-patient"]
    assert entry["patient_name"] == "Bob" and "1 record(s) deleted" in entry["detail"]
    assert [p["name"] for p in demo("patient", "list", "--json").json()] == ["Ann"]
