"""FHIR R4 export, the pure part: one patient's records -> a ``Bundle`` (type ``collection``).

Input is the plain JSON-ready data of ``lungtrack export json`` for one patient
(:func:`lungtrack.cli.exports.patient_export`: ``patient``, ``therapy_lines``, ``scans`` with
``measurements``, ``marker_results``, ``biopsy_findings``) plus the RECIST time points the rules
computed (:class:`ResponsePoint`).  No store, no files, no clock: the caller passes the time.

Codes come only from the clinical reference (clinical.md §2.5, §5.1, §5.2).  Where the reference
marks a code unconfirmed (VAF component LOINC, ProGRP LOINC) or gives none (the "absent" answer
of a variant, HGVS code systems), the element carries a ``text`` and no code.  docs/formats.md
lists every resource and code with its source.

Resource ids are stable, ``lungtrack-<table>-<row id>``; every ``fullUrl`` is a name-based
``urn:uuid:`` made from that id, and references inside the Bundle use those ``urn:uuid:`` URLs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from lungtrack.enums import Marker
from lungtrack.knowledge.markers import MARKERS

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
TUMOR_MARKER_PROFILE = f"{MCODE}/mcode-tumor-marker-test"
DISEASE_STATUS_PROFILE = f"{MCODE}/mcode-cancer-disease-status"
#: The evidenceType extension of CancerDiseaseStatus.  clinical.md §5.1 names the extension, not
#: its URL: this URL follows the IG's naming and is unconfirmed (docs/formats.md says so).
EVIDENCE_TYPE_URL = f"{MCODE}/mcode-evidence-type"

#: LOINC displays, as in clinical.md §2.5 / §5.1 / §5.2.
MARKER_DISPLAY: Mapping[Marker, str] = {
    Marker.CEA: "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma",
    Marker.CYFRA21_1: "Cytokeratin 19 [Mass/volume] in Serum or Plasma",
    Marker.NSE: "Enolase.neuron specific [Mass/volume] in Serum or Plasma",
    Marker.CA125: "Cancer Ag 125 [Units/volume] in Serum or Plasma",
}
#: Units that are UCUM codes as written.  CA-125's "U/mL" are assay units, not UCUM's enzyme
#: unit: exported as unit text only.
UCUM_UNITS = {"ng/mL", "pg/mL"}

NSCLC_CODE = "254637007"  # Non-small cell lung cancer (clinical.md §5.4, mCODE NSCLC example)
_NSCLC_WORDS = ("non-small", "non small", "nsclc", "adenocarcinoma", "squamous", "large cell", "large-cell")

#: RECIST overall response -> ConditionStatusTrendVS (clinical.md §5.1).  non-CR/non-PD (no
#: target lesions, non-target disease present) is read as "stable": lungtrack's choice.
RESPONSE_TREND: Mapping[str, tuple[str, str]] = {
    "CR": ("268910001", "improved"),
    "PR": ("268910001", "improved"),
    "SD": ("359746009", "stable"),
    "non-CR/non-PD": ("359746009", "stable"),
    "PD": ("271299001", "worsened"),
    "NE": ("709137006", "undetermined"),
}
IMAGING_EVIDENCE = "363679005"  # Imaging (clinical.md §5.1, evidenceType)


@dataclass(frozen=True)
class ResponsePoint:
    """One RECIST time point after baseline: the line, the date, the overall response word
    (``CR``, ``PR``, ``SD``, ``PD``, ``NE``, ``non-CR/non-PD``) and the studies it merges."""

    line_id: int
    drug: str
    date: date
    overall: str
    study_ids: tuple[int, ...] = ()


def resource_id(kind: str, row_id: Any) -> str:
    return f"lungtrack-{kind}-{row_id}"


def full_url(resource_type: str, rid: str) -> str:
    """A stable ``urn:uuid:`` for a resource id (UUID version 5 of ``lungtrack:<type>/<id>``)."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"lungtrack:{resource_type}/{rid}"))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _quantity(value: float, unit: str) -> dict:
    q: dict[str, Any] = {"value": value, "unit": unit}
    if unit in UCUM_UNITS or unit in ("mm", "%"):
        q.update(system=UCUM, code=unit)
    return q


def _loinc(code: str, display: str | None = None) -> dict:
    coding: dict[str, Any] = {"system": LOINC, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _lab_category() -> list[dict]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}]


def _imaging_category() -> list[dict]:
    return [{"coding": [{"system": OBS_CATEGORY, "code": "imaging"}]}]


class _Builder:
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.urls: dict[tuple[str, str], str] = {}

    def add(self, resource: dict) -> str:
        url = full_url(resource["resourceType"], resource["id"])
        self.urls[(resource["resourceType"], resource["id"])] = url
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def build_bundle(data: Mapping[str, Any], responses: Sequence[ResponsePoint] = (),
                 timestamp: datetime | None = None) -> dict:
    """The FHIR R4 Bundle for one patient (see the module docstring for the input)."""
    b = _Builder()
    p = data["patient"]
    pid = resource_id("patient", p["id"])
    patient: dict[str, Any] = {"resourceType": "Patient", "id": pid, "name": [{"text": p["name"]}]}
    if p.get("ended_on") and (p.get("ended_reason") or "").strip().lower() == "deceased":
        patient["deceasedDateTime"] = _iso(p["ended_on"])
    subject = {"reference": b.add(patient), "display": p["name"]}

    condition_ref = None
    if p.get("diagnosis_date") or p.get("histology"):
        condition_ref = {"reference": b.add(_condition(p, subject))}

    for ln in data.get("therapy_lines", []):
        b.add(_medication_statement(ln, subject, condition_ref))
    for r in data.get("marker_results", []):
        b.add(_marker_observation(r, subject))
    study_obs: dict[int, list[dict]] = {}
    for study in data.get("scans", []):
        for mm in study.get("measurements", []):
            obs = _tumor_size(study, mm, subject)
            if obs is not None:
                study_obs.setdefault(study["id"], []).append({"reference": b.add(obs)})
    for f in data.get("biopsy_findings", []):
        b.add(_variant(f, subject))
    for point in responses:
        b.add(_disease_status(point, subject, condition_ref, study_obs))

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": resource_id("bundle-patient", p["id"]),
        "type": "collection",
        "entry": b.entries,
    }
    if timestamp is not None:
        bundle["timestamp"] = timestamp.isoformat().replace("+00:00", "Z")
    return bundle


def _condition(p: Mapping[str, Any], subject: dict) -> dict:
    histology = (p.get("histology") or "").strip()
    code: dict[str, Any] = {"text": f"lung cancer ({histology})" if histology else "lung cancer"}
    if any(w in histology.lower() for w in _NSCLC_WORDS):
        code["coding"] = [{"system": SNOMED, "code": NSCLC_CODE, "display": "Non-small cell lung cancer"}]
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": resource_id("condition", p["id"]),
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "code": code,
        "subject": subject,
    }
    if p.get("diagnosis_date"):
        cond["onsetDateTime"] = _iso(p["diagnosis_date"])
    return cond


def _medication_statement(ln: Mapping[str, Any], subject: dict, condition_ref: dict | None) -> dict:
    period: dict[str, Any] = {"start": _iso(ln["start_date"])}
    if ln.get("end_date"):
        period["end"] = _iso(ln["end_date"])
    ms: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": resource_id("therapy-line", ln["id"]),
        "status": "completed" if ln.get("end_date") else "active",
        "medicationCodeableConcept": {"text": ln["drug"]},
        "subject": subject,
        "effectivePeriod": period,
    }
    if ln.get("stop_reason"):
        ms["statusReason"] = [{"text": ln["stop_reason"]}]
    if condition_ref is not None:
        ms["reasonReference"] = [condition_ref]
    if ln.get("note"):
        ms["note"] = [{"text": ln["note"]}]
    return ms


def _marker_observation(r: Mapping[str, Any], subject: dict) -> dict:
    marker = Marker(r["marker"])
    info = MARKERS[marker]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id("marker-result", r["id"]),
        "status": "final",
        "category": _lab_category(),
        "subject": subject,
        "effectiveDateTime": _iso(r["date"]),
        "valueQuantity": _quantity(float(r["value"]), r["unit"]),
    }
    if info.loinc:
        obs["meta"] = {"profile": [TUMOR_MARKER_PROFILE]}
        obs["code"] = _loinc(info.loinc, MARKER_DISPLAY.get(marker))
        obs["code"]["text"] = marker.value
    else:  # no confirmed LOINC code (ProGRP): text only, and no profile claimed
        obs["code"] = {"text": marker.value}
    if r.get("uln") is not None:
        obs["referenceRange"] = [{"high": _quantity(float(r["uln"]), r["unit"])}]
    if r.get("lab"):
        obs["performer"] = [{"display": r["lab"]}]
    return {k: obs[k] for k in ("resourceType", "id", "meta", "status", "category", "code", "subject",
                                "effectiveDateTime", "performer", "valueQuantity", "referenceRange") if k in obs}


_ABSENT_REASON = {"too-small": "too small to measure (RECIST counts 5 mm)", "not-evaluated": "not evaluated"}


def _tumor_size(study: Mapping[str, Any], mm: Mapping[str, Any], subject: dict) -> dict | None:
    """Tumour size (clinical.md §5.1, TumorSize): LOINC 21889-1, component 33728-7 longest
    dimension in mm.  Lymph nodes are measured on the short axis, which is not the longest
    dimension: their component has a text code "short axis" and no LOINC code."""
    status = mm.get("status") or "measured"
    component: dict[str, Any]
    if mm.get("is_node"):
        component = {"code": {"text": "short axis (lymph node, RECIST 1.1)"}}
    else:
        component = {"code": _loinc("33728-7")}
        component["code"]["text"] = "longest dimension"
    if status in _ABSENT_REASON or mm.get("size_mm") is None:
        component["dataAbsentReason"] = {"text": _ABSENT_REASON.get(status, "not measured")}
    else:
        component["valueQuantity"] = _quantity(float(mm["size_mm"]), "mm")
    label = mm.get("label") or ""
    return {
        "resourceType": "Observation",
        "id": resource_id("lesion-measurement", mm["id"]),
        "status": "final",
        "category": _imaging_category(),
        "code": {"coding": [{"system": LOINC, "code": "21889-1"}], "text": "tumour size"},
        "subject": subject,
        "effectiveDateTime": _iso(study["date"]),
        "bodySite": {"text": mm.get("site") or "unknown site"},
        "note": [{"text": f"lesion: {label}; {study.get('modality') or 'CT'}; status: {status}"}],
        "component": [component],
    }


def _variant(f: Mapping[str, Any], subject: dict) -> dict:
    """Genomics-reporting variant (clinical.md §5.2): 69548-6; value LA9633-4 "Present" when
    detected; "absent"/"indeterminate" as text (no answer code for them in the reference)."""
    result = f.get("result")
    if result == "detected":
        value: dict[str, Any] = {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]}
    elif result == "not-detected":
        value = {"text": "Absent (not detected)"}
    else:
        value = {"text": "Indeterminate"}
    components: list[dict] = [
        {"code": _loinc("48018-6", "Gene studied [ID]"), "valueCodeableConcept": {"text": f["gene"]}},
    ]
    if f.get("hgvs_p"):
        components.append({"code": _loinc("48005-3", "Amino acid change (pHGVS)"),
                           "valueCodeableConcept": {"text": f["hgvs_p"]}})
    if f.get("hgvs_c"):
        components.append({"code": _loinc("48004-6", "DNA change (c.HGVS)"),
                           "valueCodeableConcept": {"text": f["hgvs_c"]}})
    components.append({"code": {"text": "variant (lungtrack name)"}, "valueString": f["variant"]})
    if f.get("vaf") is not None:
        # the VAF LOINC code is unconfirmed in the reference (clinical.md §5.2): text code only
        components.append({"code": {"text": "variant allele frequency"}, "valueQuantity": _quantity(float(f["vaf"]), "%")})
    notes = [f"sample: {f.get('sample')}"]
    if f.get("assay"):
        notes.append(f"assay: {f['assay']}")
    if f.get("allele_context"):
        notes.append(f"allele context: {f['allele_context']}")
    return {
        "resourceType": "Observation",
        "id": resource_id("biopsy-finding", f["id"]),
        "status": "final",
        "category": _lab_category(),
        "code": _loinc("69548-6", "Genetic variant assessment"),
        "subject": subject,
        "effectiveDateTime": _iso(f["date"]),
        "valueCodeableConcept": value,
        "note": [{"text": "; ".join(notes)}],
        "component": components,
    }


def _disease_status(point: ResponsePoint, subject: dict, condition_ref: dict | None,
                    study_obs: Mapping[int, list[dict]]) -> dict:
    code, word = RESPONSE_TREND.get(point.overall, RESPONSE_TREND["NE"])
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id("disease-status", f"{point.line_id}-{point.date.isoformat()}"),
        "extension": [{"url": EVIDENCE_TYPE_URL,
                       "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": IMAGING_EVIDENCE}],
                                                "text": "imaging"}}],
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "97509-4", "display": "Cancer Disease Progression"}]},
        "subject": subject,
        "effectiveDateTime": point.date.isoformat(),
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code}],
                                 "text": f"{word} (RECIST 1.1 overall response {point.overall})"},
        "note": [{"text": (f"Computed by lungtrack from the recorded measurements on {point.drug} (RECIST 1.1); "
                           "not a clinician's assessment.")}],
    }
    if condition_ref is not None:
        obs["meta"] = {"profile": [DISEASE_STATUS_PROFILE]}
        obs["focus"] = [condition_ref]
    derived = [ref for sid in point.study_ids for ref in study_obs.get(sid, [])]
    if derived:
        obs["derivedFrom"] = derived
    order = ("resourceType", "id", "meta", "extension", "status", "code", "subject", "focus", "effectiveDateTime",
             "valueCodeableConcept", "note", "derivedFrom")
    return {k: obs[k] for k in order if k in obs}
