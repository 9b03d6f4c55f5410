"""FHIR R4 import: the pure mapping (lungtrack.fhir.mapping) and `lungtrack import fhir`.

The sample is a synthetic Synthea patient (shared/external/README.md): 1 Patient who died on
1989-05-09, 3 lung Conditions (one of them "suspected"), 43 Procedures (41 chest CT/X-ray, one
sputum microscopy, one brain MRI) and 8 MedicationRequests (4 cisplatin, 4 paclitaxel).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from conftest import assert_refused

from lungtrack.enums import Marker, Modality
from lungtrack.errors import InputError
from lungtrack.fhir.mapping import drug_in_text, fhir_date, map_files, read_fhir, read_files

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "external" / "synthea-sample-bulk-10-patients-lung"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="shared/external sample data not available")
PATIENT_ID = "Patient/129c6ac7-8d06-89de-ad63-0204a93e76c3"
NAME = "Sumiko254 Larue605 Medhurst46"


def _sample_files() -> list[str]:
    return [str(p) for p in sorted(SAMPLE.glob("*.ndjson"))]


def _sample_plan():
    """(ImportPlan, number of resources read)."""
    plan, _extras, resources = map_files([(f.name, f.read_text(encoding="utf-8")) for f in sorted(SAMPLE.glob("*.ndjson"))])
    return plan, resources


def _map(*resources: dict):
    """The plan of one NDJSON file ``test.ndjson`` holding ``resources``, one per line."""
    return read_files([("test.ndjson", "\n".join(json.dumps(r) for r in resources) + "\n")])


def _skipped(plan) -> dict:
    return {(t, r): n for t, r, n in plan.skipped}


def _therapies(plan) -> list:
    return [t for b in plan.batches for t in b.therapies]


def _scans(plan) -> list:
    return [s for b in plan.batches for s in b.scans]


def _markers(plan) -> list:
    return [m for b in plan.batches for m in b.markers]


def _request(rid: str, text: str, authored: str, status: str = "stopped", subject: str = "Patient/p1") -> dict:
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "medicationCodeableConcept": {"text": text}, "subject": {"reference": subject}, "authoredOn": authored}


def _cea(rid: str = "o1", value=4.2, unit="ng/mL", status="final", when="2025-01-15", **extra) -> dict:
    obs = {"resourceType": "Observation", "id": rid, "status": status,
           "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]},
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": when,
           "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
    obs.update(extra)
    return obs


# --------------------------------------------------------------------------- pure mapping: the sample


@needs_sample
def test_sample_patient_condition_and_death():
    plan, _n = _sample_plan()
    (batch,) = plan.batches
    p = batch.patient_input
    assert p.source.external_id == PATIENT_ID
    assert batch.patient.local_id == PATIENT_ID.removeprefix("Patient/")
    assert p.name == NAME  # name[0]: given names then family
    assert p.deceased_date == date(1989, 5, 9)  # the writer ends tracking on it, reason "deceased"
    # two confirmed NSCLC conditions (onsets 1984-10-31 and 1984-11-01), both mapped (neither skipped);
    # the earliest onset is the diagnosis date
    assert p.diagnosis_date == date(1984, 10, 31)
    assert p.histology == "non-small cell lung cancer"
    conditions = {r: n for (t, r), n in _skipped(plan).items() if t == "Condition"}
    assert conditions == {"suspected lung cancer is not a diagnosis": 1}


@needs_sample
def test_sample_scans_are_the_chest_imaging_procedures_with_local_dates():
    plan, _n = _sample_plan()
    scans = _scans(plan)
    # 43 procedures - sputum microscopy - brain MRI = 41 chest CT / X-ray
    assert len(scans) == 41
    assert _skipped(plan)[("Procedure", "not chest CT, X-ray or PET-CT")] == 2
    by_id = {s.source.external_id: s for s in scans}
    xray = by_id["Procedure/288e9616-c1d0-455a-44c7-ecf65702c6c3"]
    # performed 1984-10-22T23:58:16-04:00: the local date, not UTC (which would be 10-23)
    assert (xray.date, xray.modality) == (date(1984, 10, 22), Modality.XRAY.value)
    assert by_id["Procedure/c2cf9648-8e3e-dc21-63f4-7a1eabfc7d42"].modality == Modality.CT.value
    assert sum(s.modality == Modality.CT.value for s in scans) == 40
    assert min(s.date for s in scans) == date(1984, 10, 22)
    assert max(s.date for s in scans) == date(1989, 1, 13)
    assert all(s.source.label == "import:fhir:Procedure.lung-imaging-diagnostic.ndjson" for s in scans)


@needs_sample
def test_sample_chemotherapy_becomes_one_cisplatin_line_ended_at_the_last_request():
    plan, resources = _sample_plan()
    (line,) = _therapies(plan)  # the 4 cisplatin requests make one line
    assert line.drug == "cisplatin"
    assert line.start == date(1984, 11, 1)  # first authoredOn
    # the requests are "stopped": the line ends at the last request (1989-04-01)
    assert line.end == date(1989, 4, 1)
    # the line is named after its earliest request
    assert line.source.origin.endswith(" MedicationRequest/032af586-8840-6a9a-c6bb-d8f9c0d7684e")
    assert line.source.external_id == "therapy/cisplatin/1984-11-01"
    sk = _skipped(plan)
    assert sk[("MedicationRequest", "drug not in lungtrack's drug table (paclitaxel)")] == 4
    assert sum(sk.values()) == 1 + 2 + 4
    assert resources == 55


# --------------------------------------------------------------------------- pure mapping: rules


def test_open_line_ends_when_a_later_drug_starts_and_the_latest_stays_open():
    plan = _map(
        _request("a1", "carboplatin 10 MG/ML Injection", "2020-01-01", status="active"),
        _request("a2", "carboplatin 10 MG/ML Injection", "2020-03-01", status="active"),
        _request("b1", "osimertinib 80 MG Oral Tablet [Tagrisso]", "2020-04-01", status="active"),
        _request("b2", "osimertinib 80 MG Oral Tablet [Tagrisso]", "2020-09-01", status="active"),
    )
    lines = {ln.drug: ln for ln in _therapies(plan)}
    # an active line ends where the later drug starts (not at its own last request)
    assert (lines["carboplatin"].start, lines["carboplatin"].end) == (date(2020, 1, 1), date(2020, 4, 1))
    assert (lines["osimertinib"].start, lines["osimertinib"].end) == (date(2020, 4, 1), None)  # latest: open
    assert lines["carboplatin"].source.origin == "test.ndjson:1 MedicationRequest/a1"
    assert lines["osimertinib"].source.origin == "test.ndjson:3 MedicationRequest/b1"


def test_stopped_requests_end_each_line_at_its_last_request():
    plan = _map(
        _request("a1", "carboplatin 10 MG/ML Injection", "2020-01-01"),
        _request("a2", "carboplatin 10 MG/ML Injection", "2020-03-01"),
        _request("b1", "osimertinib 80 MG Oral Tablet [Tagrisso]", "2020-04-01"),
        _request("b2", "osimertinib 80 MG Oral Tablet [Tagrisso]", "2020-09-01"),
    )
    lines = {ln.drug: ln for ln in _therapies(plan)}
    assert (lines["carboplatin"].start, lines["carboplatin"].end) == (date(2020, 1, 1), date(2020, 3, 1))
    assert (lines["osimertinib"].start, lines["osimertinib"].end) == (date(2020, 4, 1), date(2020, 9, 1))
    assert {ln.stop_reason for ln in lines.values()} == {None}  # a request does not say why


def test_open_line_of_a_deceased_patient_ends_at_its_last_request():
    plan = _map({"resourceType": "Patient", "id": "p1", "deceasedDateTime": "2021-01-01"},
                _request("a", "Cisplatin 50 MG Injection", "2020-01-01", status="active"),
                _request("b", "Cisplatin 50 MG Injection", "2020-06-01", status="active"))
    (line,) = _therapies(plan)
    assert (line.start, line.end) == (date(2020, 1, 1), date(2020, 6, 1))


def test_drugs_started_the_same_day_both_stay_open():
    plan = _map(_request("a", "Cisplatin 50 MG Injection", "2020-01-01", status="active"),
                _request("b", "Pemetrexed 500 MG Injection", "2020-01-01", status="active"))
    assert {(ln.drug, ln.end) for ln in _therapies(plan)} == {("cisplatin", None), ("pemetrexed", None)}


def test_bad_requests_are_counted_not_imported():
    plan = _map(
        _request("c", "Cisplatin 50 MG Injection", "2020-01-01", status="entered-in-error"),
        _request("d", "Cisplatin 50 MG Injection", "2020-01"),  # month only: no date
        {**_request("e", "Cisplatin 50 MG Injection", "2020-01-02"), "intent": "proposal"},
    )
    assert _therapies(plan) == []
    sk = _skipped(plan)
    assert sk[("MedicationRequest", "status entered-in-error")] == 1
    assert sk[("MedicationRequest", "no full start date")] == 1
    assert sk[("MedicationRequest", "intent proposal, not an order")] == 1


@pytest.mark.parametrize("text, drug", [
    ("Cisplatin 50 MG Injection", "cisplatin"),
    ("osimertinib 80 MG Oral Tablet [Tagrisso]", "osimertinib"),
    ("Tagrisso 80 MG", "osimertinib"),
    ("Amivantamab and Lazertinib", "amivantamab-lazertinib"),
    ("PACLitaxel 100 MG Injection", None),
    ("", None),
])
def test_drug_in_text(text, drug):
    assert drug_in_text(text) == drug


def test_marker_observations_mapping_and_skips():
    plan = _map(
        _cea("ok", referenceRange=[{"high": {"value": 5, "unit": "ng/mL"}}], performer=[{"display": "City lab"}]),
        _cea("ugl", value=3.0, unit="ug/L"),
        _cea("lt", valueQuantity={"value": 0.5, "comparator": "<", "unit": "ng/mL"}),
        _cea("prelim", status="preliminary"),
        _cea("cancelled", status="cancelled"),
        _cea("month", when="2025-01"),
        {**_cea("imm"), "code": {"coding": [{"system": "http://loinc.org", "code": "83085-1"}]}},
        {**_cea("nsys"), "code": {"coding": [{"system": "http://example.org", "code": "2039-6"}]}},
        {**_cea("hr"), "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}},
    )
    (batch,) = plan.batches
    assert batch.patient.local_id == "p1"
    got = {r.source.external_id: r for r in batch.markers}
    # preliminary results are kept (docs/formats.md: final / amended / corrected / preliminary)
    assert set(got) == {"Observation/ok", "Observation/ugl", "Observation/lt", "Observation/prelim", "Observation/imm"}
    ok = got["Observation/ok"]
    assert (ok.marker, ok.value, ok.unit, ok.uln, ok.lab, ok.date) == (
        Marker.CEA.value, 4.2, "ng/mL", 5.0, "City lab", date(2025, 1, 15))
    assert got["Observation/imm"].marker == Marker.CEA.value  # the "by immunoassay" LOINC code
    # the plan keeps the unit as written; the writer converts (µg/L == ng/mL: test_marker_units_through_the_cli)
    assert (got["Observation/ugl"].value, got["Observation/ugl"].unit) == (3.0, "ug/L")
    # "<0.5" is kept as a limit: value 0.5 with its comparator, never as the number 0.5
    assert (got["Observation/lt"].value, got["Observation/lt"].comparator) == (0.5, "<")
    sk = _skipped(plan)
    assert sk[("Observation", "no full effective date")] == 1
    assert sk[("Observation", "not a kind of observation lungtrack keeps")] == 2  # wrong system, heart rate
    assert sum(sk.values()) == 4  # and the cancelled one


def test_other_resources_and_missing_ids_are_counted():
    plan = _map({"resourceType": "Encounter", "id": "e1"}, {"resourceType": "Procedure"},
                {"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p1"},
                _cea("o1"), _cea("o1"))
    sk = _skipped(plan)
    assert sk[("Encounter", "not a kind of record lungtrack keeps")] == 1
    assert sk[("Procedure", "no id (a second import could not be told apart)")] == 1
    assert sk[("Observation", "the same resource twice in this import")] == 1
    (batch,) = plan.batches  # the Patient given twice is one patient
    assert batch.patient_input.name == "Patient p1"
    assert len(batch.markers) == 1


def test_the_same_patient_twice_is_counted():
    plan = _map({"resourceType": "Patient", "id": "p1"}, {"resourceType": "Patient", "id": "p1"})
    assert _skipped(plan)[("Patient", "the same resource twice in this import")] == 1


def test_patient_name_and_dates():
    plan = _map({"resourceType": "Patient", "id": "a", "name": [{"given": ["Ann", "B."], "family": "Smith"}]},
                {"resourceType": "Patient", "id": "b", "name": [{"text": "Ann Smith"}]})
    assert [b.patient_input.name for b in plan.batches] == ["Ann B. Smith", "Ann Smith"]
    assert fhir_date("2025-01-15T23:30:00+14:00") == date(2025, 1, 15)
    assert fhir_date("2025-02") is None and fhir_date("2025-02-30") is None and fhir_date(None) is None


def test_bundle_references_through_full_urls():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:aaa", "resource": {"resourceType": "Patient", "id": "x1", "name": [{"text": "Eve"}]}},
        {"fullUrl": "urn:uuid:bbb", "resource": {**_cea("o9"), "subject": {"reference": "urn:uuid:aaa"}}},
    ]}
    plan = read_files([("b.json", json.dumps(bundle, indent=2))])
    (batch,) = plan.batches
    assert batch.patient_input.source.external_id == "Patient/x1" and batch.patient.local_id == "x1"
    assert [m.source.external_id for m in batch.markers] == ["Observation/o9"]  # urn:uuid:aaa is Patient/x1


# --------------------------------------------------------------------------- parsing errors


@pytest.mark.parametrize("text, words", [
    ('{"resourceType": "Patient", "id": "a"}\n\n{not json}\n', ["f.ndjson:3: not valid JSON"]),
    ('{"resourceType": "Patient", "id": "a"}\n[1, 2]\n', ["f.ndjson:2: not a FHIR resource"]),
    ('{"id": "a"}\n', ["f.ndjson:1: the document is not a FHIR resource"]),
    ("", ["f.ndjson: the file is empty"]),
    ('{\n  "resourceType": "Bundle",\n  "entry": [\n    {"resource": 1}\n  ]\n}',
     ["f.ndjson:3: Bundle.entry[0].resource: 1 is not valid", "expected a FHIR resource"]),
    ('{\n  "resourceType": "Bundle",\n  "entry": [,]\n}', ["f.ndjson:3: not valid JSON"]),
])
def test_parse_errors_name_file_and_line(text, words):
    with pytest.raises(InputError) as exc:
        read_fhir(text, "f.ndjson")
    for w in words:
        assert w in exc.value.message


# --------------------------------------------------------------------------- CLI


def con_rows(db_path: Path, sql: str) -> list:
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _counts(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("patient", "therapy_line", "imaging_study", "marker_result")}
    finally:
        con.close()


@needs_sample
def test_import_sample_then_again_adds_nothing(cli, db_path):
    r = cli("import", "fhir", *_sample_files())
    assert r.code == 0, r
    assert r.stdout == ""
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("Imported from Condition.lung.ndjson, MedicationRequest.chemo-first4-last4.ndjson")
    assert ": 1 patient, 1 therapy line, 41 scans;" in line
    assert "skipped 7 (" in line and "MedicationRequest: 4 drug not in lungtrack's drug table (paclitaxel)" in line
    first = _counts(db_path)
    assert first == {"patient": 1, "therapy_line": 1, "imaging_study": 41, "marker_result": 0}
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT name, diagnosis_date, histology, ended_on, ended_reason, external_id FROM patient").fetchall() == [
        (NAME, "1984-10-31", "non-small cell lung cancer", "1989-05-09", "deceased", PATIENT_ID)]
    assert con.execute("SELECT count(DISTINCT external_id), min(source) FROM imaging_study").fetchone() == (
        41, "import:fhir:Procedure.lung-imaging-diagnostic.ndjson")
    con.close()

    again = cli("import", "fhir", *_sample_files(), "--json")
    assert again.code == 0, again
    data = again.json()
    assert sum(data["added"].values()) == 0
    assert (data["already_present"]["patient"], data["already_present"]["therapy"],
            data["already_present"]["scan"]) == (1, 1, 41)
    assert data["skipped_total"] == 7 and sum(data["changed"].values()) == 0
    assert _counts(db_path) == first


@needs_sample
def test_dry_run_writes_nothing(cli, db_path):
    r = cli("import", "fhir", *_sample_files(), "--dry-run")
    assert r.code == 0, r
    assert not db_path.exists()  # no store was created
    assert "Would import" in r.stderr and "Dry run: nothing was written." in r.stderr
    rows = [row.split("\t") for row in r.stdout.strip().splitlines()]
    assert rows[0] == ["record", "add", "change", "already present"]
    assert rows[1:] == [["patient", "1", "0", "0"], ["therapy", "1", "0", "0"], ["scan", "41", "0", "0"]]
    assert cli("patient", "add", "Bob").code == 0
    before = _counts(db_path)
    r = cli("import", "fhir", *_sample_files(), "--dry-run", "--json")
    assert r.code == 0, r
    assert r.json()["dry_run"] is True and r.json()["added"]["scan"] == 41
    assert _counts(db_path) == before


@needs_sample
def test_imported_scans_in_the_timeline(cli):
    assert cli("import", "fhir", *_sample_files()).code == 0
    events = cli("timeline", "--json").json()["events"]
    scans = [e for e in events if e["type"] == "scan"]
    assert len(scans) == 41
    assert (scans[0]["date"], scans[0]["data"]["modality"]) == ("1984-10-22", "X-ray")
    assert scans[-1]["date"] == "1989-01-13"
    assert all(s["data"]["measurements"] == [] for s in scans)  # FHIR procedures carry no measurements


def _timing(cli, today: str, code: int = 3) -> list[dict]:
    r = cli("check", "--json", env={"LUNGTRACK_TODAY": today})
    assert r.code == code, r  # 3: a CT due or overdue needs attention
    (patient,) = r.json()["patients"]
    return [f for f in patient["findings"] if f["rule"] == "timing.imaging_due"]


@needs_sample
def test_imaging_gap_shows_as_overdue_while_the_line_runs(cli):
    """Scans on 1986-02-21 and next on 1986-06-06: 13 weeks after 02-21 is 05-23 (overdue after it)."""
    assert cli("import", "fhir", *_sample_files()).code == 0
    on_due_date = _timing(cli, "1986-05-23")
    assert [f["data"]["state"] for f in on_due_date] == ["due"]
    day_after = _timing(cli, "1986-05-24")
    assert [f["data"]["state"] for f in day_after] == ["overdue"]
    assert day_after[0]["data"]["last_date"] == "1986-02-21" and day_after[0]["data"]["days"] == -1
    assert _timing(cli, "1986-06-06", code=0) == []  # the next scan happened: nothing due


@needs_sample
def test_check_and_remind_after_death_run_quietly(cli):
    assert cli("import", "fhir", *_sample_files()).code == 0
    r = cli("check", "--json", env={"LUNGTRACK_TODAY": "2026-08-12"})
    assert r.code == 0, r
    (patient,) = r.json()["patients"]
    assert [f for f in patient["findings"] if f["rule"].startswith("timing.")] == []
    rem = cli("remind", "--json", env={"LUNGTRACK_TODAY": "2026-08-12"})
    assert rem.code == 0 and rem.json()["reminders"] == []


@needs_sample
def test_patient_option_attaches_to_an_existing_patient(cli, db_path):
    assert cli("patient", "add", "Sumi").code == 0
    r = cli("import", "fhir", *_sample_files(), "--patient", "Sumi")
    assert r.code == 0, r
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT name, external_id, ended_on FROM patient").fetchall() == [("Sumi", PATIENT_ID, "1989-05-09")]
    assert con.execute("SELECT count(*) FROM imaging_study WHERE patient_id = 1").fetchone()[0] == 41
    con.close()
    # importing again into her adds nothing
    again = cli("import", "fhir", *_sample_files(), "--patient", "Sumi", "--json")
    assert again.json()["added"]["scan"] == 0 and again.json()["already_present"]["patient"] == 1
    # without --patient she is found by the identifiers (system + value) of the FHIR Patient, which
    # the first import stored on her; never by the local id alone (issue 8)
    other = cli("import", "fhir", *_sample_files(), "--json")
    assert other.code == 0, other
    assert other.json()["added"]["patient"] == 0 and other.json()["already_present"]["scan"] == 41
    assert con_rows(db_path, "SELECT count(*) FROM patient_identifier WHERE patient_id = 1") == [(5,)]


@needs_sample
def test_same_name_patient_is_not_merged_silently(cli, db_path):
    assert cli("patient", "add", NAME).code == 0
    before = _counts(db_path)
    r = cli("import", "fhir", *_sample_files())
    assert_refused(r, "--patient", NAME)
    assert _counts(db_path) == before


def test_bad_line_refuses_the_whole_import(cli, db_path, tmp_path):
    good = tmp_path / "Observation.ndjson"
    good.write_text(json.dumps(_cea("o1")) + "\n", encoding="utf-8")
    bad = tmp_path / "Broken.ndjson"
    bad.write_text(json.dumps(_cea("o2")) + "\n" + "this is not json\n", encoding="utf-8")
    assert cli("patient", "add", "Ann").code == 0
    before = _counts(db_path)
    r = cli("import", "fhir", str(good), str(bad), "--patient", "Ann")
    assert_refused(r, "Broken.ndjson:2", "not valid JSON")
    assert _counts(db_path) == before


def test_missing_file_is_refused_and_creates_no_store(cli, db_path, tmp_path):
    r = cli("import", "fhir", str(tmp_path / "nope.ndjson"))
    assert_refused(r, "nope.ndjson", "no such file")
    assert not db_path.exists()


def test_observations_for_a_named_patient(cli, db_path, tmp_path):
    f = tmp_path / "Observation.ndjson"
    f.write_text("\n".join(json.dumps(o) for o in (
        _cea("o1", value=4.2, when="2025-01-15", referenceRange=[{"high": {"value": 5.0, "unit": "ng/mL"}}]),
        _cea("o2", value=6.1, when="2025-03-15"))) + "\n", encoding="utf-8")
    assert cli("patient", "add", "Ann").code == 0
    # without --patient, Patient/p1 is neither in the file nor in the store: counted, never guessed
    r = cli("import", "fhir", str(f), "--json")
    assert r.code == 0, r
    assert sum(r.json()["added"].values()) == 0
    assert r.json()["skipped"] == [{"resource_type": "marker", "count": 2,
                                    "reason": "its patient is neither in the import nor in the store; name one with --patient"}]
    r = cli("import", "fhir", str(f), "--patient", "Ann")
    assert r.code == 0, r
    rows = cli("marker", "list", "--json").json()
    assert [(x["date"], x["value"], x["uln"]) for x in rows] == [("2025-01-15", 4.2, 5.0), ("2025-03-15", 6.1, None)]


@pytest.mark.parametrize("text, modality", [
    ("CT of thorax with contrast", Modality.CT),
    ("Chest X-ray 2 views", Modality.XRAY),
    ("PET-CT of chest", Modality.PET_CT),
    ("CT guided biopsy of lung", None),
    ("CT of head", None),
    ("Sputum microscopy (procedure)", None),
])
def test_imaging_by_text_when_the_code_is_unknown(text, modality):
    proc = {"resourceType": "Procedure", "id": "p", "status": "completed", "code": {"text": text},
            "subject": {"reference": "Patient/p1"}, "performedDateTime": "2025-01-02"}
    plan = _map(proc)
    assert [s.modality for s in _scans(plan)] == ([modality.value] if modality else [])
    assert _skipped(plan).get(("Procedure", "not chest CT, X-ray or PET-CT"), 0) == (0 if modality else 1)


def test_procedure_not_completed_is_skipped():
    proc = {"resourceType": "Procedure", "id": "p", "status": "not-done",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "399208008"}]},
            "performedDateTime": "2025-01-02"}
    plan = _map(proc)
    assert _scans(plan) == [] and _skipped(plan)[("Procedure", "status not-done, not completed")] == 1


def test_marker_units_through_the_cli(cli, db_path, tmp_path):
    """The plan keeps units as written; the writer converts them, keeps limits, refuses a wrong unit."""
    f = tmp_path / "Observation.ndjson"
    f.write_text("\n".join(json.dumps(o) for o in (
        _cea("ugl", value=3.0, unit="ug/L", when="2025-01-15"),
        _cea("lt", when="2025-02-15", valueQuantity={"value": 0.5, "comparator": "<", "unit": "ng/mL"}))) + "\n",
        encoding="utf-8")
    assert cli("patient", "add", "Ann").code == 0
    r = cli("import", "fhir", str(f), "--patient", "Ann")
    assert r.code == 0, r
    rows = cli("marker", "list", "--json").json()
    assert [(x["date"], x["value"], x["unit"], x["comparator"]) for x in rows] == [
        ("2025-01-15", 3.0, "ng/mL", None), ("2025-02-15", 0.5, "ng/mL", "<")]  # µg/L == ng/mL
    bad = tmp_path / "Bad.ndjson"
    bad.write_text(json.dumps(_cea("badunit", unit="mg/dL", when="2025-03-15")) + "\n", encoding="utf-8")
    before = _counts(db_path)
    r = cli("import", "fhir", str(bad), "--patient", "Ann")
    assert_refused(r, "Bad.ndjson:1", "mg/dL")
    assert _counts(db_path) == before
