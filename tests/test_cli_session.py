"""A scripted session as a new user would type it (issue 2's check), and malformed inputs."""

from __future__ import annotations

import sqlite3

import pytest

TODAY = "2026-08-12"


@pytest.fixture
def ann(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    steps = [
        ("patient", "add", "Ann", "--diagnosed", "2025-09-02", "--histology", "adenocarcinoma",
         "--driver", "EGFR exon 19 deletion", "--never-smoker"),
        ("therapy", "start", "gefitinib", "--on", "2025-09-20"),
        ("scan", "add", "--date", "2025-09-15", "--modality", "CT", "--lesion", "RUL mass: lung, 3.2 cm",
         "--lesion", "liver S6: liver, 18 mm", "--lesion", "4R: node, 16 mm"),
        ("scan", "add", "--date", "2025-12-10", "--lesion", "RUL mass 22", "--lesion", "liver S6 12", "--lesion", "4R 9"),
        ("marker", "add", "cea", "4.1", "--date", "2025-12-08"),
        ("marker", "add", "CEA", "3.1", "ng/mL", "--date", "2026-01-12"),
        ("marker", "add", "cea", "2.9", "--unit", "µg/L", "--date", "2026-03-09"),
        ("marker", "add", "cea", "3.8", "--date", "2026-04-06"),
        ("marker", "add", "cea", "5.6", "--date", "2026-05-04", "--uln", "5.0"),
        ("biopsy", "add", "--date", "2026-01-15", "--sample", "plasma", "--gene", "EGFR", "--variant", "T790M",
         "--result", "not-detected"),
        ("biopsy", "add", "--date", "2026-07-28", "--sample", "plasma", "--gene", "EGFR", "--variant", "p.Thr790Met",
         "--result", "detected", "--vaf", "0.8"),
    ]
    for step in steps:
        r = cli(*step)
        assert r.code == 0, (step, r)
    return cli


def test_scan_confirmation_states_baseline_and_response(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    cli("patient", "add", "Ann", "--never-smoker")
    cli("therapy", "start", "gefitinib", "--on", "2025-09-20")
    r = cli("scan", "add", "--date", "2025-09-15", "--lesion", "RUL mass: lung, 3.2 cm",
            "--lesion", "liver S6: liver, 18 mm", "--lesion", "4R: node, 16 mm")
    assert "Logged CT on Mon 2025-09-15 for Ann" in r.stderr
    assert "2 targets + 1 nodal target" in r.stderr and "sum of diameters 66 mm" in r.stderr
    assert "baseline for gefitinib" in r.stderr
    r = cli("scan", "add", "--date", "2025-12-10", "--lesion", "RUL mass 22", "--lesion", "liver S6 12", "--lesion", "4R 9")
    assert "sum 43 mm" in r.stderr and "−35 % from baseline" in r.stderr and "partial response" in r.stderr


def test_marker_confirmation(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", TODAY)
    cli("patient", "add", "Ann")
    r = cli("marker", "add", "cea", "7.4", "--date", "2026-03-04")
    assert r.code == 0
    assert r.stderr.strip() == "Logged CEA 7.4 ng/mL on Wed 2026-03-04 for Ann."


def test_timeline_json_and_show_agree_with_what_was_typed(ann):
    tl = ann("timeline", "--json").json()
    types = [e["type"] for e in tl["events"]]
    assert types.count("scan") == 2 and types.count("marker") == 5 and types.count("biopsy") == 2
    dates = [e["date"] for e in tl["events"]]
    assert dates == sorted(dates)
    scans = ann("scan", "list", "--json").json()
    base = {m["label"]: m for m in scans[0]["measurements"]}
    assert base["RUL mass"]["size_mm"] == 32.0 and base["RUL mass"]["unit"] == "mm"
    assert base["4R"]["is_node"] is True and base["4R"]["size_mm"] == 16.0
    assert base["liver S6"]["site"] == "liver"
    markers = ann("marker", "list", "--json").json()
    assert [m["value"] for m in markers] == [4.1, 3.1, 2.9, 3.8, 5.6]
    assert all(m["unit"] == "ng/mL" for m in markers)
    assert markers[-1]["uln"] == 5.0
    biopsies = ann("biopsy", "list", "--json").json()
    assert biopsies[1]["gene"] == "EGFR" and biopsies[1]["variant"] == "T790M" and biopsies[1]["vaf"] == 0.8
    shown = ann("scan", "show", str(scans[1]["id"]), "--json").json()
    assert shown == scans[1]
    tl_scan = next(e for e in tl["events"] if e["type"] == "scan")
    assert tl_scan["data"] == scans[0]
    human = ann("timeline")
    assert human.code == 0 and "RUL mass 32 mm" in human.stdout


def test_patient_selection(ann):
    assert ann("patient", "add", "Bob").code == 0
    r = ann("marker", "list", "--json", "--patient", "bob")
    assert r.code == 0 and r.json() == []
    assert len(ann("marker", "list", "--json").json()) == 5  # Ann is still the default
    assert ann("patient", "default", "Bob").code == 0
    assert ann("marker", "list", "--json").json() == []
    r = ann("marker", "list", "--patient", "Carol")
    assert r.code == 2 and "--patient: 'Carol'" in r.stderr and "Ann" in r.stderr


def _counts(db_path) -> dict:
    con = sqlite3.connect(db_path)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


BAD_INPUTS = [
    # (args, field named in the message)
    (("marker", "add", "cea", "abc"), "value"),
    (("marker", "add", "cea", "nan"), "value"),
    (("marker", "add", "cea", "inf"), "value"),
    (("marker", "add", "cea", "--", "-3"), "value"),
    (("marker", "add", "cea", "7.4", "mmol/L"), "unit"),
    (("marker", "add", "psa", "7.4"), "marker"),
    (("marker", "add", "cea", "7.4", "--date", "03/04/2026"), "--date"),
    (("marker", "add", "cea", "7.4", "--date", "2026-12-01"), "--date"),
    (("marker", "add", "cea", "7.4", "--date", "2026-02-30"), "--date"),
    (("marker", "add", "cea", "7.4", "--date", "someday"), "--date"),
    (("marker", "add", "cea", "7.4", "--uln", "-1"), "--uln"),
    (("marker", "add", "cea", "500"), "value"),  # 100x the last value: a unit slip
    (("marker", "add", "cea", "7,4"), "value"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 220"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass: lung, 3.2 inches"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "new thing 12"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 0.3"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 400 mm"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 20", "--lesion", "RUL mass 21"), "--lesion"),
    (("scan", "add", "--date", "2026-06-01", "--lesion", "4R: lung, 9 mm"), "--lesion"),
    (("scan", "add", "--date", "2025-09-15", "--lesion", "RUL mass 30"), "--date"),  # duplicate scan
    (("scan", "add", "--date", "2027-01-01", "--lesion", "RUL mass 20"), "--date"),
    (("scan", "add", "--date", "2026-06-01", "--slice", "0"), "--slice"),
    (("scan", "add", "--date", "2026-06-01", "--modality", "ultrasound"), "--modality"),
    (("scan", "add", "--date", "2026-06-01", "--non-target", "bigger"), "--non-target"),
    (("therapy", "start", "aspirinol"), "drug"),
    (("therapy", "start", "osimertinib", "--on", "2026-01-01"), "drug"),  # gefitinib still active
    (("therapy", "stop", "--on", "2025-01-01"), "--date"),  # --on is an alias of --date
    (("therapy", "stop", "--reason", "boredom"), "--reason"),
    (("biopsy", "add", "--date", "2026-07-01", "--sample", "saliva", "--gene", "EGFR", "--variant", "T790M",
      "--result", "detected"), "--sample"),
    (("biopsy", "add", "--date", "2026-07-01", "--sample", "plasma", "--gene", "ALK", "--variant", "T790M",
      "--result", "detected"), "variant"),
    (("biopsy", "add", "--date", "2026-07-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "T790M",
      "--result", "detected", "--vaf", "150"), "--vaf"),
    (("biopsy", "add", "--date", "2026-07-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "zzz",
      "--result", "detected"), "variant"),
    (("biopsy", "add", "--date", "2026-07-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "T790M",
      "--result", "maybe"), "--result"),
    (("patient", "add", "Ann"), "name"),
    (("patient", "add", "Zed", "--diagnosed", "2030-01-01"), "--diagnosed"),
    (("patient", "add", "Zed", "--subtype", "solid 80%, acinar 40%"), "--subtype"),
    (("patient", "add", "Zed", "--driver", "EGFR banana"), "--driver"),
    (("patient", "add", "Zed", "--never-smoker", "--current-smoker"), "--smoking"),
    (("marker", "delete", "1"), "--yes"),  # no TTY and no --yes
    (("scan", "delete", "1"), "--yes"),
    (("patient", "delete", "Ann"), "--yes"),
    (("marker", "show", "999"), "marker result"),
    (("ack", "no-such-finding"), "ID"),
    (("lesion", "edit", "RUL mass", "--role", "sometimes"), "--role"),
]


@pytest.mark.parametrize("args,field", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_malformed_input_gives_one_line_and_writes_nothing(ann, db_path, args, field):
    before = _counts(db_path)
    r = ann(*args)
    assert r.code == 2, r  # every one of these is bad input (a wrong id included): a usage error
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r
    assert "Traceback" not in r.stderr
    assert field in lines[0], r
    assert r.stdout == ""
    assert _counts(db_path) == before


def test_typo_message_suggests_corrections(ann):
    r = ann("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 220")
    assert "RUL mass: 220 mm is 10× the last value (22 mm" in r.stderr
    assert "22 mm or 2.2 cm" in r.stderr and "Nothing was saved" in r.stderr
    assert ann("scan", "add", "--date", "2026-06-01", "--lesion", "RUL mass 220", "--force").code == 0


def test_delete_with_yes_deletes(ann):
    markers = ann("marker", "list", "--json").json()
    r = ann("marker", "delete", str(markers[0]["id"]), "--yes")
    assert r.code == 0 and "Deleted CEA 4.1 ng/mL" in r.stderr
    assert len(ann("marker", "list", "--json").json()) == 4


def test_delete_asks_on_a_tty_and_respects_no(ann, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdin_is_tty", lambda: True)
    markers = ann("marker", "list", "--json").json()
    r = ann("marker", "delete", str(markers[0]["id"]), input="n\n")
    assert r.code == 0 and "Nothing was deleted" in r.stderr
    assert len(ann("marker", "list", "--json").json()) == 5
    r = ann("marker", "delete", str(markers[0]["id"]), input="y\n")
    assert r.code == 0
    assert len(ann("marker", "list", "--json").json()) == 4


def test_scan_delete_removes_measurements(ann, db_path):
    scans = ann("scan", "list", "--json").json()
    before = _counts(db_path)
    assert ann("scan", "delete", str(scans[1]["id"]), "--yes").code == 0
    after = _counts(db_path)
    assert after["imaging_study"] == before["imaging_study"] - 1
    assert after["lesion_measurement"] == before["lesion_measurement"] - 3


def test_patient_delete_removes_everything(ann, db_path):
    assert ann("patient", "delete", "Ann", "--yes").code == 0
    counts = _counts(db_path)
    assert all(v == 0 for k, v in counts.items() if k not in ("alembic_version", "event_log", "change", "change_entry")), counts
    assert counts["event_log"] == 1  # the trace of the deletion (see test_event_log.py)


def test_edits(ann):
    markers = ann("marker", "list", "--json").json()
    r = ann("marker", "edit", str(markers[0]["id"]), "--value", "4.3", "--json")
    assert r.code == 0 and r.json()["value"] == 4.3
    assert r.json()["updated_at"] >= r.json()["created_at"]
    lines = ann("therapy", "list", "--json").json()
    r = ann("therapy", "stop", "--on", "2026-08-01", "--reason", "progression", "--json")
    assert r.code == 0 and r.json()["stop_reason"] == "progression" and r.json()["end_date"] == "2026-08-01"
    assert ann("therapy", "start", "osimertinib", "--on", "2026-08-05").code == 0
    lines = ann("therapy", "list", "--json").json()
    assert [ln["drug"] for ln in lines] == ["gefitinib", "osimertinib"]
    assert lines[1]["generation"] == 3
    r = ann("patient", "edit", "--histology", "adenocarcinoma (acinar-predominant)", "--json")
    assert r.json()["histology"] == "adenocarcinoma (acinar-predominant)"
    r = ann("lesion", "edit", "RUL mass", "--label", "RUL primary")
    assert r.code == 0
    assert "RUL primary" in [x["label"] for x in ann("lesion", "list", "--json").json()]
    scans = ann("scan", "list", "--json").json()
    r = ann("scan", "edit", str(scans[1]["id"]), "--lesion", "4R 8", "--json")
    assert {m["label"]: m["size_mm"] for m in r.json()["measurements"]}["4R"] == 8.0


def test_relative_dates(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-04")
    cli("patient", "add", "Ann")
    for text, expected in (("today", "2026-03-04"), ("yesterday", "2026-03-03"), ("2 weeks ago", "2026-02-18"),
                           ("3 months ago", "2025-12-04")):
        r = cli("marker", "add", "cea", "3", "--date", text, "--json", "--force")
        assert r.code == 0 and r.json()["date"] == expected, (text, r)


def test_too_small_and_disappeared(ann):
    r = ann("scan", "add", "--date", "2026-03-01", "--lesion", "RUL mass: too small", "--lesion", "liver S6: disappeared",
            "--lesion", "4R 8", "--json")
    assert r.code == 0, r
    m = {x["label"]: x for x in r.json()["measurements"]}
    assert m["RUL mass"]["status"] == "too-small" and m["RUL mass"]["size_mm"] is None
    assert m["liver S6"]["status"] == "disappeared" and m["liver S6"]["size_mm"] == 0.0


def test_scan_add_on_a_terminal_asks_for_each_known_lesion(ann, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdin_is_tty", lambda: True)
    # RUL mass: a typo first (refused and asked again), then 2.1 cm; liver S6 skipped; 4R too small; a new lesion.
    answers = "2.1 inches\n2.1 cm\n\ntoo small\nliver S8: liver, 12 mm\n\n"
    r = ann("scan", "add", "--date", "2026-03-01", input=answers)
    assert r.code == 0, r
    assert "Try again" in r.stderr
    scans = ann("scan", "list", "--json").json()
    latest = {m["label"]: m for m in scans[-1]["measurements"]}
    assert latest["RUL mass"]["size_mm"] == 21.0
    assert latest["4R"]["status"] == "too-small"
    assert "liver S6" not in latest
    assert latest["liver S8"]["size_mm"] == 12.0 and latest["liver S8"]["site"] == "liver"


def test_scan_add_without_lesions_does_not_prompt_when_not_on_a_terminal(ann):
    r = ann("scan", "add", "--date", "2026-03-01", "--non-target", "present")
    assert r.code == 0 and "Enter each lesion" not in r.stderr


def test_not_found_ids_and_names_exit_2_as_documented(cli, monkeypatch):
    """docs/usage.md: exit 2 for bad input, including an id or a name that does not exist;
    exit 1 only for a store that is missing or unreadable."""
    from lungtrack.exitcodes import ExitStatus

    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    assert cli("patient", "add", "Ann").code == 0
    for args in (("scan", "show", "99"), ("marker", "delete", "7", "--yes"), ("therapy", "show", "3"),
                 ("patient", "show", "Bob"), ("note", "show", "5"), ("biopsy", "show", "1")):
        r = cli(*args)
        assert r.code == ExitStatus.USAGE, (args, r)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r)
    usage = (__import__("pathlib").Path(__file__).parent.parent / "docs" / "usage.md").read_text(encoding="utf-8")
    assert "| 2 | bad usage or input" in usage and "does not exist" in usage
