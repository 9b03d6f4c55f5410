"""Lossless FHIR round trip (issue 9 item 4): `export fhir`, `import fhir` into an empty store,
`export fhir` again gives the same records, record by record, for every record type lungtrack
has (patients, lines, scans, lesions, measurements, markers, biopsies, appointments, notes), and
`check --json` gives the same findings (the T790M alert included).

Two patients: the built-in demo patient, and a generated 10-year patient (three therapy lines,
monthly CEA, CT every three months with four lesions, a node and a new lesion, yearly liquid
biopsies, appointments and notes) written as FHIR by :func:`ten_year_bundle` below.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

VOLATILE = {"id", "created_at", "updated_at", "source", "external_id", "exported_at", "lungtrack_version"}


def _records(cli, db: Path) -> dict:
    """Every record of the store's one patient (export json), without row ids and timestamps."""
    r = cli("--db", str(db), "export", "json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    (patient,) = data["patients"]
    patient.pop("acknowledgements", None)
    patient.pop("snoozes", None)
    return _strip(patient)


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE and not k.endswith("_id")}
    if isinstance(value, list):
        items = [_strip(v) for v in value]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True, default=str))
    return value


def _findings(cli, db: Path) -> list:
    r = cli("--db", str(db), "check", "--json")
    assert r.code in (0, 3), r
    (patient,) = json.loads(r.stdout)["patients"]
    return sorted((f["id"], f["severity"], f["title"]) for f in patient["findings"])


def _round_trip(cli, first: Path, tmp_path: Path) -> Path:
    out = tmp_path / "first.json"
    assert cli("--db", str(first), "export", "fhir", "-o", str(out)).code == 0
    second = tmp_path / "second.db"
    r = cli("--db", str(second), "import", "fhir", str(out), "--json")
    assert r.code == 0, r
    return second


def test_demo_patient_round_trip_keeps_every_record_and_finding(demo, db_path, tmp_path):
    second = _round_trip(demo, db_path, tmp_path)
    before, after = _records(demo, db_path), _records(demo, second)
    for kind in ("patient", "therapy_lines", "lesions", "scans", "marker_results", "biopsy_findings",
                 "appointments", "notes"):
        assert after[kind] == before[kind], kind
    assert after == before
    findings = _findings(demo, db_path)
    assert any("T790M" in title for _i, _s, title in findings)  # the alert the issue saw lost
    assert _findings(demo, second) == findings
    # and a second export of the imported store writes the same resources again
    again = tmp_path / "again.json"
    assert demo("--db", str(second), "export", "fhir", "-o", str(again)).code == 0
    assert _resources(again) == _resources(tmp_path / "first.json")


def _resources(path: Path) -> list:
    bundle = json.loads(path.read_text())
    out = []
    for e in bundle["entry"]:
        res = json.loads(json.dumps(e["resource"]))
        out.append(_strip_refs(res))
    return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


def _strip_refs(value):
    """Resource ids and references carry row ids, which differ between stores."""
    if isinstance(value, dict):
        return {k: _strip_refs(v) for k, v in value.items() if k not in ("id", "reference")}
    if isinstance(value, list):
        return [_strip_refs(v) for v in value]
    if isinstance(value, str) and value.startswith("ImagingStudy/lungtrack-scan-"):
        return "ImagingStudy"
    return value


def test_importing_the_export_again_adds_nothing(demo, db_path, tmp_path):
    second = _round_trip(demo, db_path, tmp_path)
    r = demo("--db", str(second), "import", "fhir", str(tmp_path / "first.json"), "--json")
    assert r.code == 0, r
    data = json.loads(r.stdout)
    assert sum(data["added"].values()) == 0
    assert data["already_present"]["marker"] == 7 and data["already_present"]["patient"] == 1


# --------------------------------------------------------------------------- a generated 10-year patient


def ten_year_bundle(start: date = date(2015, 3, 2)) -> dict:
    """A 10-year course as FHIR: gefitinib (progression), osimertinib (progression), then
    carboplatin; CEA monthly; a CT every 91 days of three lesions and a node; a new lesion late
    on osimertinib; yearly plasma biopsies (T790M found in year 4); appointments and notes."""
    subject = {"reference": "urn:uuid:10000000-0000-4000-8000-000000000001"}
    entries = [{"fullUrl": subject["reference"], "resource": {
        "resourceType": "Patient", "id": "ten", "identifier": [{"system": "urn:test:mrn", "value": "T10"}],
        "name": [{"given": ["Tess"], "family": "Tenyear"}], "gender": "female", "birthDate": "1958-06-01"}}]

    def add(res: dict) -> None:
        res["subject"] = subject
        entries.append({"fullUrl": f"urn:uuid:10000000-0000-4000-8000-{len(entries) + 1:012d}", "resource": res})

    def d(days: int) -> str:
        return (start + timedelta(days=days)).isoformat()

    add({"resourceType": "Condition", "id": "dx", "code": {"coding": [{"system": "http://snomed.info/sct",
                                                                       "code": "254637007"}]},
         "onsetDateTime": d(-20), "extension": [{"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/"
                                                        "mcode-histology-morphology-behavior",
                                                 "valueCodeableConcept": {"text": "adenocarcinoma"}}]})
    lines = [("gefitinib", 0, 1200, "progression"), ("osimertinib", 1200, 2900, "progression"), ("carboplatin", 2900, None, None)]
    for i, (drug, s, e, why) in enumerate(lines):
        ms = {"resourceType": "MedicationStatement", "id": f"line{i}", "status": "stopped" if e else "active",
              "medicationCodeableConcept": {"text": drug}, "effectivePeriod": {"start": d(s)}}
        if e:
            ms["effectivePeriod"]["end"] = d(e)
            ms["statusReason"] = [{"text": why}]
        add(ms)
    for k in range(120):
        add({"resourceType": "Observation", "id": f"cea{k}", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]}, "effectiveDateTime": d(30 * k + 3),
             "valueQuantity": {"value": round(8 - (k % 12) * 0.3 + max(0, k - 30) * 0.05, 2), "unit": "ng/mL"}})
    lesions = [("RUL mass", "lung", False, 34.0), ("liver S6", "liver", False, 22.0), ("RLL nodule", "lung", False, 12.0),
               ("4R", "lymph node", True, 16.0)]
    for k in range(40):
        when = d(91 * k - 5)
        for j, (label, site, node, base) in enumerate(lesions):
            size = round(max(6.0, base * (0.7 if 2 < k < 12 else 1.0) + (k - 30) * 0.4 * (k > 30)), 1)
            add({"resourceType": "Observation", "id": f"ts{k}-{j}", "status": "final",
                 "code": {"coding": [{"system": "http://loinc.org", "code": "21889-1"}]}, "effectiveDateTime": when,
                 "extension": [{"url": "urn:lungtrack:fhir:extension:lesion-label", "valueString": label},
                               {"url": "urn:lungtrack:fhir:extension:lesion-is-node", "valueBoolean": node}],
                 "bodySite": {"text": site},
                 "component": [{"code": {"text": "short axis"} if node else {"coding": [
                     {"system": "http://loinc.org", "code": "33728-7"}]},
                                "valueQuantity": {"value": size, "unit": "mm"}}]})
    for y in range(10):
        found = y >= 4
        obs = {"resourceType": "Observation", "id": f"bx{y}", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "69548-6"}]}, "effectiveDateTime": d(365 * y + 40),
               "valueCodeableConcept": {"coding": [{"system": "http://loinc.org",
                                                    "code": "LA9633-4" if found else "LA9634-2"}]},
               "extension": [{"url": "urn:lungtrack:fhir:extension:sample", "valueString": "plasma"}],
               "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "48018-6"}]},
                              "valueCodeableConcept": {"text": "EGFR"}},
                             {"code": {"coding": [{"system": "http://loinc.org", "code": "48005-3"}]},
                              "valueCodeableConcept": {"coding": [{"system": "http://varnomen.hgvs.org",
                                                                   "code": "p.Thr790Met"}]}}]}
        if found:
            obs["component"].append({"code": {"coding": [{"system": "http://loinc.org", "code": "81258-6"}]},
                                     "valueQuantity": {"value": 0.012 + y / 1000, "unit": "1"}})
        add(obs)
    for k in range(10):
        entries.append({"fullUrl": f"urn:uuid:10000000-0000-4000-8000-{len(entries) + 1:012d}", "resource": {
            "resourceType": "Appointment", "id": f"ap{k}", "status": "fulfilled", "description": f"clinic visit {k}",
            "start": f"{d(365 * k + 100)}T00:00:00Z", "end": f"{d(365 * k + 100)}T00:00:00Z",
            "participant": [{"actor": subject, "status": "accepted"}]}})
        add({"resourceType": "Communication", "id": f"note{k}", "status": "completed", "sent": d(365 * k + 101),
             "payload": [{"contentString": f"Year {k}: tolerating treatment."}]})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@pytest.fixture
def ten_year(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2025-06-01")
    src = tmp_path / "ten-year.json"
    src.write_text(json.dumps(ten_year_bundle()))
    first = tmp_path / "first.db"
    r = cli("--db", str(first), "import", "fhir", str(src), "--json")
    assert r.code == 0, r
    return first


def test_generated_ten_year_patient_round_trip(cli, ten_year, tmp_path):
    before = _records(cli, ten_year)
    assert len(before["marker_results"]) == 120 and len(before["scans"]) == 40
    assert len(before["therapy_lines"]) == 3 and len(before["biopsy_findings"]) == 10
    assert len(before["appointments"]) == 10 and len(before["notes"]) == 10
    second = _round_trip(cli, ten_year, tmp_path)
    assert _records(cli, second) == before
    assert _findings(cli, second) == _findings(cli, ten_year)
