"""`lungtrack export fhir`: a FHIR R4 Bundle, validated with the fhir.resources models, with the
codes of clinical.md §2.5 / §5; and a round trip through `lungtrack import fhir`.

fhir.resources 8 has no separate FHIR 4.0.1 (R4) package: its default models are R5 and
``fhir.resources.R4B`` holds FHIR 4.3 (R4B).  The resources used here (Bundle, Patient,
Condition, MedicationStatement, Observation) have the same structure in R4 and R4B, so the
Bundle is validated against the R4B models.
"""

from __future__ import annotations

import json
import stat
from datetime import date

import pytest

from lungtrack.fhir.export import RESPONSE_TREND, ResponsePoint, build_bundle

fhir_r4b = pytest.importorskip("fhir.resources.R4B")

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def _lt(res: dict, name: str):
    for e in res.get("extension", []):
        if e["url"] == "urn:lungtrack:fhir:extension:" + name:
            return next(v for k, v in e.items() if k.startswith("value"))
    return None


def _bundle(cli, *args) -> dict:
    r = cli("export", "fhir", *args)
    assert r.code == 0, r
    return json.loads(r.stdout)


def _validate(bundle: dict) -> None:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])


def _by_code(bundle: dict, code: str) -> list[dict]:
    out = []
    for e in bundle["entry"]:
        res = e["resource"]
        if any(c.get("code") == code for c in res.get("code", {}).get("coding", [])):
            out.append(res)
    return out


def _component(obs: dict, code: str | None = None, text: str | None = None) -> dict:
    for comp in obs["component"]:
        codings = comp["code"].get("coding", [])
        if code is not None and any(c["code"] == code for c in codings):
            return comp
        if text is not None and not codings and text in comp["code"].get("text", ""):
            return comp
    raise KeyError(code or text)


def test_demo_bundle_is_valid_fhir(demo):
    bundle = _bundle(demo)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    _validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    # 1 patient, 1 condition, 1 line, 7 CEA, 4 scans x 4 lesions, 5 biopsy findings, 3 RECIST time points
    assert kinds.count("Patient") == 1 and kinds.count("Condition") == 1 and kinds.count("MedicationStatement") == 1
    assert len(_by_code(bundle, "2039-6")) == 7
    assert len(_by_code(bundle, "21889-1")) == 16
    assert len(_by_code(bundle, "69548-6")) == 5
    assert len(_by_code(bundle, "97509-4")) == 3


def test_ids_are_stable_and_references_resolve(demo):
    first, second = _bundle(demo), _bundle(demo)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    urls = [e["fullUrl"] for e in first["entry"]]
    assert len(set(urls)) == len(urls) and all(u.startswith("urn:uuid:") for u in urls)
    ids = [e["resource"]["id"] for e in first["entry"]]
    assert "lungtrack-patient-1" in ids and "lungtrack-marker-result-1" in ids
    text = json.dumps(first)
    import re

    for ref in re.findall(r'"reference": "([^"]+)"', text):
        assert ref in urls, ref


def test_cea_observation(demo):
    (first, *_rest) = sorted(_by_code(_bundle(demo), "2039-6"), key=lambda o: o["effectiveDateTime"])
    assert first["effectiveDateTime"] == "2025-09-10"  # demo_data: first CEA 12.4 ng/mL on 2025-09-10
    assert first["valueQuantity"] == {"value": 12.4, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"}
    assert first["code"]["coding"][0] == {"system": LOINC, "code": "2039-6",
                                          "display": "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma"}
    assert first["meta"]["profile"] == ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-marker-test"]
    assert first["category"][0]["coding"][0]["code"] == "laboratory"
    assert "referenceRange" not in first  # the demo's results carry no lab ULN
    assert first["performer"] == [{"display": "City Hospital lab"}]


def test_lab_uln_becomes_reference_range_high(demo):
    assert demo("marker", "add", "cea", "6.1", "--date", "2026-08-01", "--uln", "5").code == 0
    (obs,) = [o for o in _by_code(_bundle(demo), "2039-6") if o["effectiveDateTime"] == "2026-08-01"]
    assert obs["valueQuantity"]["value"] == 6.1
    assert obs["referenceRange"] == [{"high": {"value": 5.0, "unit": "ng/mL", "system": UCUM, "code": "ng/mL"}}]


def test_tumour_size_in_mm(demo):
    sizes = _by_code(_bundle(demo), "21889-1")
    rul = [o for o in sizes if _lt(o, "lesion-label") == "RUL mass"]
    rul.sort(key=lambda o: o["effectiveDateTime"])
    # demo_data: RUL mass 32, 22, 20, 19 mm on 2025-09-15, 2025-12-10, 2026-02-18, 2026-05-15
    got = [(o["effectiveDateTime"], _component(o, "33728-7")["valueQuantity"]) for o in rul]
    assert got[0] == ("2025-09-15", {"value": 32.0, "unit": "mm", "system": UCUM, "code": "mm"})
    assert [q["value"] for _d, q in got] == [32.0, 22.0, 20.0, 19.0]
    # the 4R node is measured on the short axis: not labelled "longest dimension"
    node = next(o for o in sizes if _lt(o, "lesion-label") == "4R")
    assert all(c["code"].get("coding") is None for c in node["component"])
    assert _component(node, text="short axis")["valueQuantity"]["value"] == 16.0
    assert "meta" not in node  # a short axis is not TumorSize's longest dimension: no profile claimed


def test_tumour_size_is_mcode_with_a_tumor_body_structure_per_lesion(demo):
    bundle = _bundle(demo)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    sizes = [o for o in _by_code(bundle, "21889-1") if _lt(o, "lesion-label") == "RUL mass"]
    assert all(o["meta"]["profile"] == ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor-size"]
               for o in sizes)
    (focus,) = {o["focus"][0]["reference"] for o in sizes}  # one Tumor for the lesion, every scan
    tumor = by_url[focus]
    assert tumor["resourceType"] == "BodyStructure"
    assert tumor["meta"]["profile"] == ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-tumor"]
    assert tumor["identifier"] == [{"system": "urn:lungtrack:lesion", "value": "RUL mass"}]
    tumors = [r for r in by_url.values() if r["resourceType"] == "BodyStructure"]
    assert len(tumors) == 4  # demo_data: four lesions


def test_t790m_variant(demo):
    variants = _by_code(_bundle(demo), "69548-6")
    # (the plasma exon 19 deletion rows state no protein change, so they have no 48005-3 component)
    t790m = [v for v in variants if any(x.get("code") == "48005-3" and c["valueCodeableConcept"]["coding"][0]["code"]
                                        == "p.Thr790Met" for c in v.get("component", []) for x in c["code"].get("coding", []))]
    by_date = {v["effectiveDateTime"]: v for v in t790m}
    # demo_data: T790M not detected on 2026-01-15, detected at 0.8 % on 2026-07-28
    found = by_date["2026-07-28"]
    assert found["valueCodeableConcept"]["coding"] == [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]
    assert found["meta"]["profile"] == ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-genomic-variant"]
    assert _component(found, "48018-6")["valueCodeableConcept"] == {
        "text": "EGFR", "coding": [{"system": "http://www.genenames.org/geneId", "code": "HGNC:3236", "display": "EGFR"}]}
    assert _component(found, "48004-6")["valueCodeableConcept"] == {
        "coding": [{"system": "http://varnomen.hgvs.org", "code": "c.2369C>T"}]}
    vaf = _component(found, "81258-6")  # 0.8 % as the fraction genomics-reporting uses
    assert vaf["valueQuantity"] == {"value": 0.008, "system": UCUM, "code": "1"}
    absent = by_date["2026-01-15"]["valueCodeableConcept"]
    assert absent["coding"] == [{"system": LOINC, "code": "LA9634-2", "display": "Absent"}]
    with pytest.raises(KeyError):  # no VAF given: no VAF component
        _component(by_date["2026-01-15"], "81258-6")


def test_disease_status_follows_recist(demo):
    """Sums (demo_data): baseline 78 mm; 51 (-34.6 %), 44 (-43.6 %), 49 mm (-37.2 % from baseline,
    +11.4 % from the nadir 44: not PD) -> PR, PR, PR -> "improved".  A new scan summing 65 mm
    (+47.7 %, +21 mm from the nadir) is PD -> "worsened"."""
    assert demo("scan", "add", "--date", "2026-08-01", "--lesion", "RUL mass 30", "--lesion", "liver S6 20",
                "--lesion", "4R 8", "--lesion", "RLL nodule 7").code == 0
    bundle = _bundle(demo)
    _validate(bundle)
    statuses = sorted(_by_code(bundle, "97509-4"), key=lambda o: o["effectiveDateTime"])
    got = [(o["effectiveDateTime"], o["valueCodeableConcept"]["coding"][0]["code"]) for o in statuses]
    assert got == [("2025-12-10", "268910001"), ("2026-02-18", "268910001"), ("2026-05-15", "268910001"),
                   ("2026-08-01", "271299001")]
    last = statuses[-1]
    assert last["extension"][0]["url"] == "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-evidence-type"
    assert last["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "363679005"
    assert {"system": "urn:lungtrack:fhir:tag", "code": "lungtrack-computed"}.items() <= last["meta"]["tag"][0].items()
    assert "PD" in last["valueCodeableConcept"]["text"] and "not a clinician's assessment" in last["note"][0]["text"]
    condition = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    assert last["focus"] == [{"reference": condition["fullUrl"]}]
    assert len(last["derivedFrom"]) == 4  # the four lesion sizes of that scan


def test_response_trend_table_is_clinical_md_5_1():
    assert RESPONSE_TREND["CR"][0] == RESPONSE_TREND["PR"][0] == "268910001"
    assert RESPONSE_TREND["SD"][0] == "359746009"
    assert RESPONSE_TREND["PD"][0] == "271299001"
    assert RESPONSE_TREND["NE"][0] == "709137006"


def _data(**patient) -> dict:
    p = {"id": 7, "name": "Eve", "diagnosis_date": None, "histology": None, "ended_on": None, "ended_reason": None}
    p.update(patient)
    return {"patient": p, "therapy_lines": [], "scans": [], "marker_results": [], "biopsy_findings": []}


def test_pure_builder_edge_cases():
    data = _data(histology="small cell carcinoma", ended_on=date(2027, 1, 10), ended_reason="deceased")
    data["marker_results"] = [
        {"id": 1, "date": date(2026, 1, 1), "marker": "ProGRP", "value": 80.0, "unit": "pg/mL", "uln": None, "lab": None},
        {"id": 2, "date": date(2026, 1, 1), "marker": "CA-125", "value": 40.0, "unit": "U/mL", "uln": 35.0, "lab": None},
    ]
    data["scans"] = [{"id": 3, "date": date(2026, 1, 2), "modality": "CT", "measurements": [
        {"id": 9, "label": "RUL", "site": "lung", "is_node": False, "size_mm": None, "status": "too-small"}]}]
    data["therapy_lines"] = [{"id": 4, "drug": "osimertinib", "start_date": date(2025, 1, 1),
                              "end_date": date(2026, 1, 3), "stop_reason": "progression", "note": None}]
    bundle = build_bundle(data, [ResponsePoint(4, "osimertinib", date(2026, 1, 2), "NE", (3,))])
    _validate(bundle)
    res = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert res["lungtrack-patient-7"]["deceasedDateTime"] == "2027-01-10"
    cond = res["lungtrack-condition-7"]
    # small cell is not NSCLC: no 254637007, but ICD-10-CM C34.90 and the SNOMED morphology
    assert [c["code"] for c in cond["code"]["coding"]] == ["C34.90"]
    assert cond["extension"][0]["url"] == "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-histology-morphology-behavior"
    assert cond["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "74364000"
    assert cond["meta"]["profile"] == ["http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"]
    progrp = res["lungtrack-marker-result-1"]
    assert progrp["code"] == {"text": "ProGRP"} and "meta" not in progrp  # no confirmed LOINC: no profile
    ca125 = res["lungtrack-marker-result-2"]
    assert ca125["valueQuantity"] == {"value": 40.0, "unit": "U/mL"}  # assay units: not a UCUM code
    size = res["lungtrack-lesion-measurement-9"]
    assert "valueQuantity" not in size["component"][0] and "too small" in size["component"][0]["dataAbsentReason"]["text"]
    ms = res["lungtrack-therapy-line-4"]
    assert ms["status"] == "stopped" and ms["effectivePeriod"] == {"start": "2025-01-01", "end": "2026-01-03"}
    assert ms["statusReason"] == [{"text": "progression", "coding": [
        {"system": SNOMED, "code": "266721009", "display": "No response to treatment"}]}]
    assert ms["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.nlm.nih.gov/research/umls/rxnorm"
    ds = next(r for r in res.values() if r["id"].startswith("lungtrack-disease-status"))
    assert ds["valueCodeableConcept"]["coding"][0]["code"] == "709137006"
    assert "focus" not in ds or ds["focus"][0]["reference"].startswith("urn:uuid:")


def test_output_file_is_private(demo, tmp_path):
    out = tmp_path / "ann.json"
    r = demo("export", "fhir", "-o", str(out))
    assert r.code == 0 and r.stdout == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["type"] == "collection"
