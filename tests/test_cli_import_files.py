"""lungtrack import csv / import json / import undo, through the CLI and the real store."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from gen_history import TODAY as GEN_TODAY
from gen_history import ten_year_patient

DATA = Path(__file__).parent / "data"
JOURNAL = {"change", "change_entry", "event_log", "alembic_version"}


def dump(db: Path) -> list[str]:
    """Every domain table, row by row, as SQL text (the journal and the export log excluded)."""
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
                  if r[0] not in JOURNAL and not r[0].startswith("sqlite_")]
        out = []
        for t in tables:
            out += [f"{t}: {row!r}" for row in con.execute(f'SELECT * FROM "{t}" ORDER BY 1')]
        return out
    finally:
        con.close()


def copy(tmp_path: Path, name: str) -> str:
    target = tmp_path / name
    shutil.copy(DATA / name, target)
    return str(target)


@pytest.fixture
def ann(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    assert cli("patient", "add", "Ann").code == 0
    return cli


# ----------------------------------------------------------------------------- CSV

def test_foreign_lab_export_through_a_mapping_then_one_bad_row_refuses_the_whole_file(ann, db_path, tmp_path):
    path = copy(tmp_path, "us-lab-portal.csv")
    r = ann("import", "csv", path, "--mapping", "us-lab-portal", "--json")
    assert r.code == 0, r
    out = r.json()
    assert out["added"] == {"marker": 5} and out["import_id"] is not None
    assert out["skipped"] == [{"record": "marker", "reason": "not a tumour marker lungtrack tracks", "count": 2}]
    markers = ann("marker", "list", "--json").json()
    got = sorted((m["date"], m["marker"], m["value"], m["unit"], m["uln"], m.get("comparator")) for m in markers)
    assert got == [
        ("2026-01-14", "CEA", 3.4, "ng/mL", 5.0, None), ("2026-01-14", "CYFRA 21-1", 2.1, "ng/mL", 3.3, None),
        ("2026-04-15", "CEA", 4.8, "ng/mL", 5.0, None), ("2026-04-15", "ProGRP", 52.0, "pg/mL", 65.0, None),
        ("2026-07-13", "CEA", 0.5, "ng/mL", 5.0, "<"),
    ]
    # the next download has one more row, and it is bad: nothing of it is imported
    before = dump(db_path)
    with open(path, "a", encoding="utf-8") as f:
        f.write('"DOE, ANN","Carcinoembryonic Antigen (CEA)","5.1","","ng/mL","<5.0","08/01/2026","Quest"\n')
        f.write('"DOE, ANN","Carcinoembryonic Antigen (CEA)","5,9","","ng/mL","<5.0","08/10/2026","Quest"\n')
        f.write('"DOE, ANN","Carcinoembryonic Antigen (CEA)","6.0","","mg/dL","<5.0","08/11/2026","Quest"\n')
    r = ann("import", "csv", path, "--mapping", "us-lab-portal")
    assert r.code == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("Error: us-lab-portal.csv: 2 bad rows; nothing was imported")
    assert lines[1] == ("us-lab-portal.csv:10: Result: '5,9' has a decimal comma, expected a number with a dot "
                        "(or decimal = \",\" in the mapping)")
    assert lines[2].startswith("us-lab-portal.csv:11: Units: 'mg/dL' is not a unit for CEA, expected one of ng/mL")
    assert len(lines) == 3
    assert dump(db_path) == before


def test_reimport_adds_nothing_and_a_dry_run_writes_nothing(ann, db_path, tmp_path):
    path = copy(tmp_path, "de-lab-export.csv")
    before = dump(db_path)
    r = ann("import", "csv", path, "--mapping", "de-lab-export", "--dry-run")
    assert r.code == 0, r
    assert r.stdout.splitlines()[0].split("\t") == ["record", "would add", "would change", "already there", "skipped"]
    assert "marker\t5\t0\t0\t1" in r.stdout
    assert all(len(line) <= 80 for line in r.stdout.splitlines()), r.stdout
    assert "Would add 5 record(s)" in r.stderr
    assert dump(db_path) == before
    dry = ann("import", "csv", path, "--mapping", "de-lab-export", "--dry-run", "--json").json()
    assert dry["dry_run"] is True and dry["added"] == {"marker": 5} and dry["import_id"] is None
    assert dump(db_path) == before
    first = ann("import", "csv", path, "--mapping", "de-lab-export", "--json").json()
    assert first["added"] == {"marker": 5}
    after_first = dump(db_path)
    again = ann("import", "csv", path, "--mapping", "de-lab-export", "--json").json()
    assert again["added"] == {} and again["already_present"]["marker"] == 5
    assert dump(db_path) == after_first


def test_import_undo_restores_the_store_byte_equal(ann, db_path, tmp_path):
    assert ann("marker", "add", "cea", "2.9", "ng/mL", "--date", "2026-01-02").code == 0
    before = dump(db_path)
    path = copy(tmp_path, "us-lab-portal.csv")
    result = ann("import", "csv", path, "--mapping", "us-lab-portal", "--json").json()
    assert dump(db_path) != before
    r = ann("import", "undo", str(result["import_id"]), "--yes")
    assert r.code == 0, r
    assert dump(db_path) == before
    # off a terminal, undo is refused without --yes
    again = ann("import", "csv", path, "--mapping", "us-lab-portal", "--json").json()
    r = ann("import", "undo", str(again["import_id"]))
    assert r.code == 2 and "--yes" in r.stderr
    assert ann("import", "undo", "999999", "--yes").code != 0


def test_a_changed_value_in_a_later_download_changes_the_stored_one(ann, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("date,marker,value,unit\n2026-03-04,CEA,3.1,ng/mL\n", encoding="utf-8")
    assert ann("import", "csv", str(path), "--json").json()["added"] == {"marker": 1}
    path.write_text("date,marker,value,unit\n2026-03-04,CEA,3.4,ng/mL\n", encoding="utf-8")
    out = ann("import", "csv", str(path), "--json").json()
    assert out["added"] == {} and out["changed"] == {"marker": 1}
    assert [m["value"] for m in ann("marker", "list", "--json").json()] == [3.4]


def test_without_a_mapping_a_suggestion_is_printed_and_nothing_is_imported(ann, db_path, tmp_path):
    before = dump(db_path)
    r = ann("import", "csv", copy(tmp_path, "de-lab-export.csv"))
    assert r.code == 2
    assert 'date_format = "DD.MM.YYYY"' in r.stdout and 'delimiter = ";"' in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "--mapping" in r.stderr
    suggestion = tmp_path / "mine.toml"
    suggestion.write_text(r.stdout, encoding="utf-8")
    assert dump(db_path) == before
    out = ann("import", "csv", str(tmp_path / "de-lab-export.csv"), "--mapping", str(suggestion), "--json").json()
    assert out["added"] == {"marker": 3}  # the suggestion knows CYFRA, ProGRP and CA 125, not the German CEA name


def test_scans_biopsies_and_appointments_in_one_mixed_file(ann, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(
        "type,date,lesion,site,node,size,status,sample,gene,variant,result,vaf,kind,description\n"
        "scan,2026-01-10,RUL mass,lung,,32x21 mm,,,,,,,,\n"
        "scan,2026-01-10,4R,lymph node,,18x12 mm,,,,,,,,\n"
        "scan,2026-04-10,RUL mass,,,25,,,,,,,,\n"
        "scan,2026-04-10,4R,,,,too small,,,,,,,\n"
        "biopsy,2026-07-28,,,,,,plasma,EGFR,T790M,detected,0.8,,\n"
        "appointment,2026-09-01,,,,,,,,,,,imaging,CT chest\n", encoding="utf-8")
    out = ann("import", "csv", str(path), "--json").json()
    assert out["added"].get("scan") == 2 and out["added"].get("biopsy") == 1 and out["added"].get("appointment") == 1
    scans = ann("scan", "list", "--json").json()
    first = next(s for s in scans if s["date"] == "2026-01-10")
    sizes = sorted((m["label"], m["size_mm"]) for m in first["measurements"])
    assert sizes == [("4R", 12.0), ("RUL mass", 32.0)]  # long axis; short axis for the node
    assert ann("import", "csv", str(path), "--json").json()["added"] == {}


# ----------------------------------------------------------------------------- JSON round trips

_VOLATILE = {"id", "patient_id", "lesion_id", "study_id", "created_at", "updated_at"}


def records(doc: dict) -> list[dict]:
    """The patients' records with row ids and timestamps removed (what a round trip must keep)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value
    return strip(doc["patients"])


def export(cli) -> dict:
    r = cli("export", "json", "--all-patients")
    assert r.code == 0, r
    return r.json()


def findings(cli) -> list:
    r = cli("check", "--json")
    assert r.code in (0, 3), r
    data = r.json()
    items = data if isinstance(data, list) else data.get("findings", data)
    return json.loads(json.dumps(items, sort_keys=True).replace('"id": ', '"_": '))


def into_new_store(cli, tmp_path: Path, doc: dict, name: str) -> dict:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    os.environ["LUNGTRACK_DB"] = str(tmp_path / f"{name}.db")
    r = cli("import", "json", str(path), "--json")
    assert r.code == 0, r
    return r.json()


def test_demo_round_trip_through_json(demo, tmp_path, monkeypatch):
    first = export(demo)
    checks_before = findings(demo)
    monkeypatch.setenv("LUNGTRACK_DB", str(tmp_path / "empty.db"))
    out = into_new_store(demo, tmp_path, first, "restored")
    assert out["patients"][0]["how"] == "created"
    second = export(demo)
    assert records(second) == records(first)
    assert findings(demo) == checks_before
    # importing the same export again adds nothing
    again = demo("import", "json", str(tmp_path / "restored.json"), "--json").json()
    assert again["added"] == {}


def test_generated_ten_year_patient_round_trip(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", GEN_TODAY.isoformat())
    generated = ten_year_patient()
    monkeypatch.setenv("LUNGTRACK_DB", str(tmp_path / "one.db"))
    into_new_store(cli, tmp_path, generated, "one")
    first = export(cli)
    checks_first = findings(cli)
    # what the generator wrote is what the store holds
    assert records(first)[0]["marker_results"] == records(generated)[0]["marker_results"]
    assert records(first)[0]["biopsy_findings"] == records(generated)[0]["biopsy_findings"]
    assert records(first)[0]["therapy_lines"] == records(generated)[0]["therapy_lines"]
    assert len(first["patients"][0]["scans"]) == len(generated["patients"][0]["scans"])
    scans = first["patients"][0]["scans"]
    assert sum(len(s["new_lesions"]) for s in scans) == 1
    followed = [s["date"] for s in scans for m in s["measurements"] if m["label"] == "liver S2"]
    assert len(followed) > 20  # the new lesion became a lesion that later scans measure
    monkeypatch.setenv("LUNGTRACK_DB", str(tmp_path / "two.db"))
    into_new_store(cli, tmp_path, first, "two")
    second = export(cli)
    assert records(second) == records(first)
    assert findings(cli) == checks_first


def test_import_json_refuses_what_is_not_a_lungtrack_export(cli, tmp_path, db_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"resourceType": "Bundle"}), encoding="utf-8")
    r = cli("import", "json", str(path))
    assert r.code == 2 and "not a lungtrack export" in r.stderr
    doc = ten_year_patient()
    doc["patients"][0]["marker_results"][3]["value"] = "high"
    del doc["patients"][0]["scans"][2]["date"]
    path.write_text(json.dumps(doc), encoding="utf-8")
    r = cli("import", "json", str(path))
    lines = r.stderr.strip().splitlines()
    assert r.code == 2 and lines[0].startswith("Error: x.json: 2 bad rows; nothing was imported")
    assert "patients[0].scans[2]: date: missing" in r.stderr
    assert "patients[0].marker_results[3]: value: 'high' has the wrong type" in r.stderr
    assert not db_path.exists() or not [row for row in dump(db_path) if row.startswith("patient:")]


def test_file_level_refusals_are_one_line(ann, tmp_path):
    r = ann("import", "csv", str(tmp_path / "missing.csv"))
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1 and "no such file" in r.stderr
    path = tmp_path / "labs.csv"
    path.write_text("date,marker,value,unit\n2026-03-04,CEA,3.1,ng/mL\n", encoding="utf-8")
    r = ann("import", "csv", str(path), "--mapping", "no-such-lab")
    assert r.code == 2 and "us-lab-portal" in r.stderr and "de-lab-export" in r.stderr
    path.write_bytes("date,marker,value,unit,lab\n2026-03-04,CEA,3.1,ng/mL,Labor Müller\n".encode("cp1252"))
    r = ann("import", "csv", str(path))
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "labs.csv:2: byte 0xfc is not UTF-8" in r.stderr
    path.write_bytes("date,marker,value,unit\n2026-03-04,CEA,3.1,ng/mL\n".encode("utf-16"))
    r = ann("import", "csv", str(path))
    assert r.code == 2 and "UTF-16" in r.stderr
    assert ann("marker", "list", "--json").json() == []


def test_rows_for_a_patient_not_in_the_store_are_refused(ann, db_path, tmp_path):
    before = dump(db_path)
    path = tmp_path / "two.csv"
    path.write_text("patient,date,marker,value,unit\nAnn,2026-03-04,CEA,3.1,ng/mL\nBob,2026-03-04,CEA,2.0,ng/mL\n",
                    encoding="utf-8")
    r = ann("import", "csv", str(path))
    assert r.code == 2 and "Bob" in r.stderr
    assert dump(db_path) == before


def test_import_json_into_a_store_that_has_the_patient_adds_only_what_is_missing(demo, tmp_path):
    path = tmp_path / "ann.json"
    doc = export(demo)
    doc["patients"][0]["marker_results"].append(
        {**doc["patients"][0]["marker_results"][-1], "date": "2026-08-01", "value": 9.9})
    path.write_text(json.dumps(doc), encoding="utf-8")
    dry = demo("import", "json", str(path), "--dry-run", "--json").json()
    assert dry["added"] == {"marker": 1} and dry["patients"][0]["how"] == "matched"
    out = demo("import", "json", str(path), "--json").json()
    assert out["added"] == {"marker": 1}
    assert 9.9 in [m["value"] for m in demo("marker", "list", "--json").json()]


def test_problems_found_against_the_store_are_listed_per_row(cli, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    assert cli("patient", "add", "Ann", "--born", "1960-05-01").code == 0
    path = tmp_path / "old.csv"
    path.write_text("date,marker,value,unit\n1960-04-30,CEA,3.1,ng/mL\n1960-05-01,CEA,3.2,ng/mL\n"
                    "1950-03-04,CEA,3.3,ng/mL\n", encoding="utf-8")
    before = dump(db_path)
    r = cli("import", "csv", str(path))
    lines = r.stderr.strip().splitlines()
    assert r.code == 2 and lines[0].startswith("Error: old.csv: 2 bad rows; nothing was imported")
    assert lines[1].startswith("old.csv:2: date: 1960-04-30 is before the patient's birth (1960-05-01)")
    assert lines[2].startswith("old.csv:4: date: 1950-03-04 is before the patient's birth")
    assert len(lines) == 3  # the row on the birth date itself is fine
    assert dump(db_path) == before


def test_import_json_keeps_the_stores_default_patient(demo, tmp_path):
    doc = ten_year_patient()  # its patient is the default patient of the store it came from
    path = tmp_path / "other.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert demo("import", "json", str(path)).code == 0
    patients = {p["patient"]["name"]: p for p in export(demo)["patients"]}
    assert patients["Ann"]["patient"]["is_default"] is True
    assert patients["Ten Year"]["patient"]["is_default"] is False
    assert patients["Ten Year"]["patient"]["imaging_overdue_weeks"] == 14.0  # its own schedule came along
