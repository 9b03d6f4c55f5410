"""`lungtrack import fhir` through the CLI and the one write path (records.apply_import): the
facts of mCODE / genomics-reporting / R4 resources land in the store, re-imports add nothing,
incremental imports extend a line, bad records refuse the whole import, `import undo` takes it
back.  Fixtures: tests/data/fhir/ (see tests/test_fhir_mapping.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from conftest import assert_refused

DATA = Path(__file__).parent / "data" / "fhir"
MCODE = str(DATA / "mcode-nsclc-transaction.json")
VARIANTS = str(DATA / "variants.ndjson")


def _rows(db: Path, sql: str) -> list:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _counts(db: Path) -> dict:
    tables = ("patient", "therapy_line", "imaging_study", "lesion_measurement", "marker_result", "biopsy_finding")
    return {t: _rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def test_mcode_bundle_facts_land_in_the_store(cli, db_path):
    r = cli("import", "fhir", MCODE, "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert data["added"]["patient"] == 1 and data["added"]["therapy"] == 2 and data["added"]["scan"] == 1
    assert data["added"]["marker"] == 1
    skipped = {(s["resource_type"], s["reason"]): s["count"] for s in data["skipped"]}
    assert skipped[("Bundle entry", "request only (DELETE), no resource")] == 1
    assert skipped[("Bundle entry", "request only (GET), no resource")] == 1
    assert data["skipped_total"] == sum(skipped.values()) == 6
    assert _rows(db_path, "SELECT name, diagnosis_date, histology, stage, birth_date, gender FROM patient") == [
        ("John B. Anyperson", "2019-04-01", "adenocarcinoma", "cT3 cN3 cM0, stage IIIC (clinical)", "1951-01-20", "male")]
    assert _rows(db_path, "SELECT system, value FROM patient_identifier") == [("http://hospital.example.org", "m123")]
    assert _rows(db_path, "SELECT drug, start_date, end_date, stop_reason, stop_reason_text, rxnorm FROM therapy_line "
                          "ORDER BY start_date") == [
        ("cisplatin", "2018-11-15", "2018-11-15", "toxicity", "Treatment not tolerated", "309311"),
        ("gefitinib", "2019-04-01", None, None, None, "349472")]
    assert _rows(db_path, "SELECT s.date, s.source_status, l.label, m.size_mm FROM imaging_study s "
                          "JOIN lesion_measurement m ON m.study_id = s.id JOIN lesion l ON l.id = m.lesion_id") == [
        ("2019-05-02", "improved", "lung structure 1234", 25.0)]
    # CEA 0.0062 mg/L is 6.2 ng/mL; its lab's ULN 0.005 mg/L is 5 ng/mL
    assert _rows(db_path, "SELECT marker, value, unit, uln FROM marker_result") == [("CEA", 6.2, "ng/mL", 5.0)]


def test_variants_in_both_encodings(cli, db_path):
    r = cli("import", "fhir", VARIANTS)
    assert r.code == 0, r
    assert _rows(db_path, "SELECT date, gene, variant, result, round(vaf, 3), origin, hgvs_p FROM biopsy_finding "
                          "ORDER BY date") == [
        ("2019-04-01", "EGFR", "L858R", "detected", 6.6, "somatic", "NP_005219.2:p.Leu858Arg"),
        ("2019-05-20", "EGFR", "L858R", "detected", 12.0, "somatic", "p.L858R")]


def test_importing_again_adds_nothing_and_dry_run_writes_nothing(cli, db_path):
    r = cli("import", "fhir", MCODE, "--dry-run", "--json")
    assert r.code == 0, r
    assert json.loads(r.stdout)["dry_run"] is True and not db_path.exists()
    assert cli("import", "fhir", MCODE).code == 0
    before = _counts(db_path)
    again = cli("import", "fhir", MCODE, "--json")
    assert again.code == 0, again
    data = json.loads(again.stdout)
    assert sum(data["added"].values()) == 0 and data["already_present"]["patient"] == 1
    assert data["already_present"]["marker"] == 1
    assert _counts(db_path) == before


def _bundle(*resources) -> str:
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]})


PATIENT = {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "urn:test", "value": "1"}],
           "name": [{"given": ["Ann"], "family": "Lee"}], "birthDate": "1960-01-01"}


def _request(rid: str, authored: str, status: str = "active") -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "subject": {"reference": "Patient/p1"}, "authoredOn": authored,
            "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                      "code": "1721560", "display": "osimertinib 80 MG"}]}}


def test_incremental_import_extends_the_line(cli, db_path, tmp_path):
    first, second = tmp_path / "jan.json", tmp_path / "jun.json"
    first.write_text(_bundle(PATIENT, _request("r1", "2025-01-10"), _request("r2", "2025-02-10")))
    second.write_text(_bundle(PATIENT, _request("r3", "2025-05-10"), _request("r4", "2025-06-10", "stopped")))
    assert cli("import", "fhir", str(first)).code == 0
    r = cli("import", "fhir", str(second), "--json")
    assert r.code == 0, r
    assert _rows(db_path, "SELECT drug, start_date, end_date FROM therapy_line") == [
        ("osimertinib", "2025-01-10", "2025-06-10")]  # one line, extended and ended by the stopped request
    assert json.loads(r.stdout)["changed"]["therapy"] == 1


def test_quantity_without_unit_is_refused_and_nothing_written(cli, db_path, tmp_path):
    assert cli("import", "fhir", MCODE).code == 0
    before = _counts(db_path)
    obs = {"resourceType": "Observation", "id": "cea-x", "status": "final", "subject": {"reference": "Patient/p1"},
           "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]}, "effectiveDateTime": "2025-01-02",
           "valueQuantity": {"value": 4.2}}
    f = tmp_path / "nounit.json"
    f.write_text(_bundle(PATIENT, obs))
    assert_refused(cli("import", "fhir", str(f)), "nounit.json:", "has no unit")
    assert _counts(db_path) == before


def test_bad_record_refuses_the_whole_import_with_its_origin(cli, db_path, tmp_path):
    future = {"resourceType": "Observation", "id": "cea-2099", "status": "final", "subject": {"reference": "Patient/p1"},
              "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]}, "effectiveDateTime": "2099-01-02",
              "valueQuantity": {"value": 4.2, "unit": "ng/mL"}}
    good = {**future, "id": "cea-ok", "effectiveDateTime": "2025-01-02"}
    f = tmp_path / "future.ndjson"
    f.write_text("\n".join(json.dumps(x) for x in (PATIENT, good, future)) + "\n")
    r = cli("import", "fhir", str(f))
    assert r.code == 2, r
    assert "future.ndjson:3" in r.stderr and "date" in r.stderr
    assert not db_path.exists() or _counts(db_path)["marker_result"] == 0


def test_wrong_json_type_is_a_usage_error_naming_file_line_and_field(cli, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": 5}))
    assert_refused(cli("import", "fhir", str(f)), "bad.json:1", "Bundle.entry")


def test_a_later_import_of_another_drug_is_refused_while_a_line_is_active(cli, db_path, tmp_path):
    """As at the command line (issue 8): a new line while another is active is refused, with the
    same reason, whole; the import does not stop the stored line by itself."""
    first, second = tmp_path / "osi.json", tmp_path / "gef.json"
    first.write_text(_bundle(PATIENT, _request("r1", "2025-01-10")))
    gef = {**_request("g1", "2025-06-15"), "medicationCodeableConcept": {"text": "gefitinib 250 MG"}}
    second.write_text(_bundle(PATIENT, gef))
    assert cli("import", "fhir", str(first)).code == 0
    before = _counts(db_path)
    r = cli("import", "fhir", str(second))
    assert_refused(r, "gef.json:", "still active")
    assert _counts(db_path) == before


def test_import_undo_takes_the_import_back(cli, db_path):
    r = cli("import", "fhir", MCODE, "--json")
    change = json.loads(r.stdout)["change_id"]
    assert change is not None
    assert _counts(db_path)["therapy_line"] == 2
    u = cli("import", "undo", str(change), "--yes")
    assert u.code == 0, u
    assert _counts(db_path) == {"patient": 0, "therapy_line": 0, "imaging_study": 0, "lesion_measurement": 0,
                                "marker_result": 0, "biopsy_finding": 0}
