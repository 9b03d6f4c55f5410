"""Values that used to be saved are refused: exit 2, one line naming the field, nothing written."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import assert_refused

LONG = "x" * 10_000


def _counts(db_path) -> dict:
    con = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


def _rows(db_path, sql: str) -> list:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


BAD = [
    (("patient", "add", "Zed", "--subtype", "solid -10%"), ["--subtype", "solid -10%"]),
    (("patient", "add", "Zed", "--subtype", "solid 50%, acinar -5%"), ["--subtype"]),
    (("scan", "add", "--date", "2026-08-01", "--lesion", "RUL mass 20", "--new-lesion", "liver S2: liver, 0 mm"),
     ["--new-lesion", "0 mm"]),
    (("scan", "add", "--date", "2026-08-01", "--lesion", "RUL mass 20", "--new-lesion", "bone: bone, gone"),
     ["--new-lesion"]),
    (("scan", "add", "--date", "2026-08-01", "--lesion", "new spot: lung, 0 mm"), ["--lesion", "first time"]),
    (("lesion", "edit", "RUL mass", "--label", ""), ["--label", "not empty"]),
    (("lesion", "edit", "RUL mass", "--label", "   "), ["--label"]),
    (("lesion", "edit", "RUL mass", "--site", ""), ["--site"]),
    (("marker", "edit", "1", "--unit", "banana", "--date", "2025-09-11"), ["--unit", "banana"]),
    (("marker", "edit", "1", "--unit", "banana"), ["--unit", "banana"]),
    (("marker", "edit", "1", "--unit", "ug/L"), ["--unit", "--value"]),
    (("biopsy", "add", "--date", "2026-08-01", "--sample", "plasma", "--gene", "NOTAGENE", "--variant", "T790M",
      "--result", "detected"), ["--gene", "NOTAGENE"]),
    (("biopsy", "list", "--gene", "NOTAGENE"), ["--gene"]),
    (("biopsy", "add", "--date", "2026-08-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "L858R",
      "--result", "detected", "--allele-context", "cis"), ["--allele-context", "C797S"]),
    (("biopsy", "add", "--date", "2026-08-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "T790M",
      "--result", "detected", "--allele-context", "unknown"), ["--allele-context"]),
    (("biopsy", "edit", "2", "--allele-context", "trans"), ["--allele-context"]),
    (("note", "add", "bad\x00text"), ["TEXT", "NUL"]),
    (("patient", "add", "Ze\x00d"), ["NAME", "NUL"]),
    (("marker", "add", "CEA", "5", "--lab", "lab\x00x", "--date", "2026-08-01"), ["--lab", "NUL"]),
    (("remind", "--unsnooze", "banana"), ["--unsnooze", "banana"]),
    (("remind", "--unsnooze", "appointment 999"), ["--unsnooze"]),
    (("marker", "show", "99999999999999999999"), ["RESULT_ID", "9223372036854775807"]),
    (("scan", "delete", "--yes", "--", "-99999999999999999999"), ["STUDY_ID"]),
    (("patient", "add", "Zed", "--subtype", LONG), ["--subtype", "…", "10000 characters"]),
    (("lesion", "edit", "RUL mass", "--role", LONG), ["--role", "…"]),
]


@pytest.mark.parametrize("args,words", BAD, ids=[" ".join(a)[:60] for a, _ in BAD])
def test_bad_value_is_refused_and_nothing_is_written(demo, db_path, args, words):
    before = _counts(db_path)
    r = demo(*args)
    assert_refused(r, *words)
    assert len(r.stderr) < 400, r.stderr  # a 10 kB value is never echoed whole
    assert _counts(db_path) == before


def test_allele_context_for_c797s_is_kept(demo, db_path):
    r = demo("biopsy", "add", "--date", "2026-08-01", "--sample", "plasma", "--gene", "EGFR", "--variant", "C797S",
             "--result", "detected", "--allele-context", "cis")
    assert r.code == 0, r
    assert _rows(db_path, "SELECT allele_context FROM biopsy_finding WHERE variant = 'C797S'") == [("cis",)]


def test_panel_gene_outside_the_table_is_still_accepted(demo, db_path):
    r = demo("biopsy", "add", "--date", "2026-08-01", "--sample", "tissue", "--gene", "TP53", "--variant", "R273H",
             "--result", "detected")
    assert r.code == 0, r


def test_marker_edit_with_a_known_unit_converts(demo, db_path):
    r = demo("marker", "edit", "1", "--value", "5", "--unit", "ug/L")
    assert r.code == 0, r
    assert _rows(db_path, "SELECT value, unit FROM marker_result WHERE id = 1") == [(5.0, "ng/mL")]


def test_new_lesion_too_small_is_accepted(demo, db_path):
    r = demo("scan", "add", "--date", "2026-08-01", "--lesion", "RUL mass 20", "--new-lesion", "liver S2: liver, too small")
    assert r.code == 0, r


def test_subtypes_with_hyphenated_names_still_parse():
    from lungtrack.parsing.subtypes import parse_subtypes

    assert parse_subtypes(["lepidic-predominant 20%, solid 30%"]) == {"lepidic-predominant": 20.0, "solid": 30.0}


def test_unsnooze_of_a_scan_that_is_not_snoozed_changes_nothing(demo, db_path):
    before = _counts(db_path)
    r = demo("remind", "--unsnooze", "ct")
    assert r.code == 0, r
    assert "is not snoozed; nothing changed" in r.stderr
    assert _counts(db_path) == before


def test_stdin_not_utf8_or_with_nul_is_refused(demo, db_path):
    before = _counts(db_path)
    for data in (b"caf\xe9 note", b"a\x00b"):
        from typer.testing import CliRunner

        from lungtrack.cli import app

        res = CliRunner().invoke(app, ["note", "add", "-"], input=data)
        assert res.exit_code == 2, res.stderr
        (line,) = res.stderr.strip().splitlines()
        assert line.startswith("Error: text: standard input")
    assert _counts(db_path) == before


def test_argument_with_undecodable_bytes_names_the_field(demo, db_path):
    before = _counts(db_path)
    bad = b"Ann\xff".decode("utf-8", "surrogateescape")  # what Python makes of such bytes in argv
    assert_refused(demo("patient", "add", bad), "NAME", "UTF-8")
    assert_refused(demo("note", "add", "x", "--patient", bad), "--patient", "UTF-8")
    assert _counts(db_path) == before


# ------------------------------------------------------------------ thresholds file

CONTRADICTIONS = [
    ("[recist]\npr_decrease_pct = 120\n", "recist.pr_decrease_pct"),
    ("[recist]\npr_decrease_pct = 0\n", "recist.pr_decrease_pct"),
    ("[recist]\nmax_targets = 0\n", "recist.max_targets"),
    ("[recist]\nmax_targets = 2\nmax_targets_per_organ = 3\n", "max_targets_per_organ"),
    ("[timing]\nimaging_due_soon_weeks = 20\nimaging_overdue_weeks = 13\n", "timing.imaging_due_soon_weeks"),
    ("[timing]\nmarker_due_soon_weeks = 14\n", "timing.marker_due_soon_weeks"),
    ("[plausibility]\nmin_lesion_mm = 400\n", "plausibility.min_lesion_mm"),
    ("[plausibility]\nmin_lesion_mm = 50\nmax_lesion_mm = 20\n", "plausibility.min_lesion_mm"),
    ("[recist]\nnode_pathological_min_mm = 20\n", "node_pathological_min_mm"),
]


@pytest.mark.parametrize("toml,key", CONTRADICTIONS, ids=[k for _, k in CONTRADICTIONS])
def test_contradictory_thresholds_are_refused(demo, tmp_path, monkeypatch, toml, key):
    path = tmp_path / "thresholds.toml"
    path.write_text(toml, encoding="utf-8")
    monkeypatch.setenv("LUNGTRACK_CONFIG", str(path))
    assert_refused(demo("check"), key)


def test_thresholds_at_the_edges_are_accepted(demo, tmp_path, monkeypatch):
    path = tmp_path / "thresholds.toml"
    path.write_text("[recist]\npr_decrease_pct = 100\nmax_targets = 1\nmax_targets_per_organ = 1\n"
                    "[timing]\nimaging_due_soon_weeks = 13\nimaging_overdue_weeks = 13\n", encoding="utf-8")
    monkeypatch.setenv("LUNGTRACK_CONFIG", str(path))
    assert demo("check").code == 3  # the demo story has alerts on its day


def test_thresholds_file_not_utf8_is_one_line(demo, tmp_path, monkeypatch):
    path = tmp_path / "thresholds.toml"
    path.write_bytes(b"# r\xe9glages\n[recist]\nmax_targets = 5\n")
    monkeypatch.setenv("LUNGTRACK_CONFIG", str(path))
    assert_refused(demo("check"), "thresholds.toml", "line 1", "UTF-8")
