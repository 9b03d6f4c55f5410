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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from lungtrack.enums import Marker
from lungtrack.knowledge.markers import MARKERS

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HGVS = "http://varnomen.hgvs.org"
HGNC = "http://www.genenames.org/geneId"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition"
GENOMICS = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition"
#: mCODE STU4 (4.0.0) profiles, under their published canonical URLs.
CANCER_PATIENT_PROFILE = f"{MCODE}/mcode-cancer-patient"
PRIMARY_CANCER_PROFILE = f"{MCODE}/mcode-primary-cancer-condition"
TUMOR_MARKER_PROFILE = f"{MCODE}/mcode-tumor-marker-test"
TUMOR_SIZE_PROFILE = f"{MCODE}/mcode-tumor-size"
TUMOR_PROFILE = f"{MCODE}/mcode-tumor"
GENOMIC_VARIANT_PROFILE = f"{MCODE}/mcode-genomic-variant"
DISEASE_STATUS_PROFILE = f"{MCODE}/mcode-cancer-disease-status"
#: The evidenceType extension of CancerDiseaseStatus (mCODE ``Extension: EvidenceType``,
#: ``Id: mcode-evidence-type``, HL7/fhir-mCODE-ig input/fsh/SD_Extensions.fsh).
EVIDENCE_TYPE_URL = f"{MCODE}/mcode-evidence-type"
HISTOLOGY_URL = f"{MCODE}/mcode-histology-morphology-behavior"
#: lungtrack's own extensions: the facts no FHIR element holds, so that ``import fhir`` of an
#: export gives the same records back.  Receivers ignore extensions they do not know.
LT_EXT = "urn:lungtrack:fhir:extension:"
LT_TAG_SYSTEM = "urn:lungtrack:fhir:tag"

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
#: Histology words -> SNOMED CT morphology (mcode-histology-morphology-behavior; 35917007 as in
#: the mCODE NSCLC example).
MORPHOLOGY: tuple[tuple[str, str, str], ...] = (
    ("adenocarcinoma", "35917007", "Adenocarcinoma, no subtype (morphologic abnormality)"),
    ("squamous", "28899001", "Squamous cell carcinoma, no ICD-O subtype (morphologic abnormality)"),
    ("large cell", "22687000", "Large cell carcinoma (morphologic abnormality)"),
    ("small cell", "74364000", "Small cell carcinoma (morphologic abnormality)"),
)
#: ICD-10-CM C34.90: malignant neoplasm of unspecified part of unspecified bronchus or lung
#: (lungtrack does not record the lobe or side).
ICD10_LUNG = ("C34.90", "Malignant neoplasm of unspecified part of unspecified bronchus or lung")
#: RxNorm ingredient codes of the drug table's drugs (RxNav).  A line imported with a code keeps
#: the source's code; others get the ingredient code here, or text only when none is listed.
RXNORM_INGREDIENTS: Mapping[str, str] = {
    "gefitinib": "328134", "erlotinib": "337525", "afatinib": "1430438", "osimertinib": "1721560",
    "crizotinib": "1148495", "alectinib": "1727455", "brigatinib": "1921217", "lorlatinib": "2103164",
    "cisplatin": "2555", "carboplatin": "40048", "pemetrexed": "68446", "docetaxel": "72962", "paclitaxel": "56946",
}  # fmt: skip
#: HGNC ids of the driver genes (the genomics-reporting examples use HGNC:3236 for EGFR and
#: HGNC:10261 for ROS1).
HGNC_IDS: Mapping[str, str] = {
    "EGFR": "HGNC:3236", "ALK": "HGNC:427", "ROS1": "HGNC:10261", "KRAS": "HGNC:6407", "BRAF": "HGNC:1097",
    "MET": "HGNC:7029", "RET": "HGNC:9967", "ERBB2": "HGNC:3430", "PIK3CA": "HGNC:8975",
}  # fmt: skip
#: stop reason -> mCODE TreatmentTerminationReasonVS (clinical.md §5.1): 266721009 "No response
#: to treatment", 407563006 "Treatment not tolerated"; "other" has no single code.
STOP_REASON_CODES: Mapping[str, tuple[str, str]] = {
    "progression": ("266721009", "No response to treatment"),
    "toxicity": ("407563006", "Treatment not tolerated"),
}
SMOKING_CODES: Mapping[str, tuple[str, str]] = {
    "never": ("266919005", "Never smoked tobacco"), "former": ("8517006", "Ex-smoker"),
    "current": ("77176002", "Smoker"), "unknown": ("266927001", "Tobacco smoking consumption unknown"),
}  # fmt: skip

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
STATUS_WORD_CODES: Mapping[str, str] = {w: c for c, w in {v[0]: v[1] for v in RESPONSE_TREND.values()}.items()}
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


def _ext(name: str, **value: Any) -> dict:
    return {"url": LT_EXT + name, **value}


def _exts(*pairs: tuple[str, str, Any]) -> list[dict]:
    """lungtrack extensions for the values that are set: ``(name, valueX, value)``."""
    return [_ext(name, **{kind: v}) for name, kind, v in pairs if v is not None and v != "" and v != []]


class _Builder:
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.urls: dict[tuple[str, str], str] = {}

    def add(self, resource: dict) -> str:
        resource = {k: v for k, v in resource.items() if v is not None and v != []}
        url = full_url(resource["resourceType"], resource["id"])
        self.urls[(resource["resourceType"], resource["id"])] = url
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def build_bundle(data: Mapping[str, Any], responses: Sequence[ResponsePoint] = (),
                 timestamp: datetime | None = None,
                 identifiers: Sequence[tuple[str, str]] = ()) -> dict:
    """The FHIR R4 Bundle for one patient (see the module docstring for the input);
    ``identifiers`` are the patient's (system, value) pairs in other systems."""
    b = _Builder()
    p = data["patient"]
    subject = {"reference": b.add(_patient(p, identifiers)), "display": p["name"]}

    condition_ref = None
    if p.get("diagnosis_date") or p.get("histology") or p.get("stage"):
        condition_ref = {"reference": b.add(_condition(p, subject))}
    if p.get("smoking") and p["smoking"] != "unknown":
        b.add(_smoking(p, subject))

    for ln in data.get("therapy_lines", []):
        b.add(_medication_statement(ln, subject, condition_ref))
    for r in data.get("marker_results", []):
        b.add(_marker_observation(r, subject))
    lesions = {x["id"]: x for x in data.get("lesions", [])}
    tumor_refs: dict[Any, dict] = {}
    study_obs: dict[int, list[dict]] = {}
    for study in data.get("scans", []):
        for mm in study.get("measurements", []):
            key = ("lesion", mm.get("lesion_id"))
            if key not in tumor_refs:
                tumor_refs[key] = {"reference": b.add(_tumor(mm, lesions.get(mm.get("lesion_id")), subject))}
            obs = _tumor_size(study, mm, subject, tumor_refs[key])
            study_obs.setdefault(study["id"], []).append({"reference": b.add(obs)})
        for nl in study.get("new_lesions", []):
            key = ("new", nl["id"])
            tumor_refs[key] = {"reference": b.add(_tumor({**nl, "lesion_id": None, "new_id": nl["id"]}, None, subject))}
            obs = _tumor_size(study, {**nl, "status": "measured" if nl.get("size_mm") is not None else "not-evaluated",
                                      "new": True}, subject, tumor_refs[key])
            study_obs.setdefault(study["id"], []).append({"reference": b.add(obs)})
        if study.get("source_status"):
            b.add(_source_status(study, subject, condition_ref))
        if not study.get("measurements") and not study.get("new_lesions"):
            b.add(_imaging_procedure(study, subject))
    for f in data.get("biopsy_findings", []):
        b.add(_variant(f, subject))
    for a in data.get("appointments", []):
        b.add(_appointment(a, subject))
    for n in data.get("notes", []):
        b.add(_note(n, subject))
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


def _patient(p: Mapping[str, Any], identifiers: Sequence[tuple[str, str]]) -> dict:
    patient: dict[str, Any] = {
        "resourceType": "Patient", "id": resource_id("patient", p["id"]),
        "meta": {"profile": [CANCER_PATIENT_PROFILE]},
        "extension": _exts(*[("driver", "valueString", d) for d in _drivers(p)],
                           ("smoking", "valueString", p.get("smoking") if p.get("smoking") == "unknown" else None),
                           ("tracking-ended", "valueString", _iso(p.get("ended_on"))),
                           ("tracking-ended-reason", "valueString", p.get("ended_reason")),
                           ("schedule", "valueString", _schedule(p))),
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
        "name": [{"text": p["name"], **_split_name(p["name"])}],
        "gender": p.get("gender") if p.get("gender") in ("male", "female", "other", "unknown") else None,
        "birthDate": _iso(p.get("birth_date")),
    }
    if p.get("ended_on") and (p.get("ended_reason") or "").strip().lower() == "deceased":
        patient["deceasedDateTime"] = _iso(p["ended_on"])
    return patient


SCHEDULE_KEYS = ("imaging_due_soon_weeks", "imaging_overdue_weeks", "marker_due_soon_weeks", "marker_overdue_weeks")


def _schedule(p: Mapping[str, Any]) -> str | None:
    """The patient's own follow-up intervals (weeks), as JSON; None when all are the defaults."""
    import json

    values = {k: p[k] for k in SCHEDULE_KEYS if p.get(k) is not None}
    return json.dumps(values, sort_keys=True) if values else None


def _split_name(name: str) -> dict:
    words = name.split()
    if len(words) < 2:
        return {"family": name} if name else {}
    return {"given": words[:-1], "family": words[-1]}


def _drivers(p: Mapping[str, Any]) -> list[str]:
    raw = p.get("drivers")
    if isinstance(raw, str):
        import json

        try:
            raw = json.loads(raw)
        except ValueError:
            raw = [raw]
    return [str(d) for d in raw or []]


def _condition(p: Mapping[str, Any], subject: dict) -> dict:
    histology = (p.get("histology") or "").strip()
    code: dict[str, Any] = {"text": f"lung cancer ({histology})" if histology else "lung cancer"}
    codings = [{"system": ICD10CM, "code": ICD10_LUNG[0], "display": ICD10_LUNG[1]}]
    if any(w in histology.lower() for w in _NSCLC_WORDS):
        codings.insert(0, {"system": SNOMED, "code": NSCLC_CODE, "display": "Non-small cell lung cancer (disorder)"})
    code["coding"] = codings
    extensions: list[dict] = []
    morph = next((m for m in MORPHOLOGY if m[0] in histology.lower()
                  and not (m[0] == "small cell" and "non" in histology.lower())), None)
    if histology:
        concept: dict[str, Any] = {"text": histology}
        if morph is not None:
            concept["coding"] = [{"system": SNOMED, "code": morph[1], "display": morph[2]}]
        extensions.append({"url": HISTOLOGY_URL, "valueCodeableConcept": concept})
    subtypes = p.get("subtypes")
    if subtypes:
        import json

        extensions.append(_ext("subtypes", valueString=subtypes if isinstance(subtypes, str) else json.dumps(subtypes)))
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": resource_id("condition", p["id"]),
        "meta": {"profile": [PRIMARY_CANCER_PROFILE]},
        "extension": extensions + [_ext("histology", valueString=histology)] if histology else extensions,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "problem-list-item"}]}],
        "code": code,
        "subject": subject,
        "onsetDateTime": _iso(p.get("diagnosis_date")),
    }
    if p.get("stage"):
        cond["stage"] = [{"summary": {"text": p["stage"]}}]
    return cond


def _smoking(p: Mapping[str, Any], subject: dict) -> dict:
    code, display = SMOKING_CODES[p["smoking"]]
    return {
        "resourceType": "Observation", "id": resource_id("smoking-status", p["id"]), "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "social-history"}]}],
        "code": _loinc("72166-2", "Tobacco smoking status"), "subject": subject,
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": p["smoking"]},
    }


def _medication_statement(ln: Mapping[str, Any], subject: dict, condition_ref: dict | None) -> dict:
    period: dict[str, Any] = {"start": _iso(ln["start_date"])}
    if ln.get("end_date"):
        period["end"] = _iso(ln["end_date"])
    medication: dict[str, Any] = {"text": ln["drug"]}
    rx = ln.get("rxnorm") or RXNORM_INGREDIENTS.get(ln["drug"])
    if rx:
        medication["coding"] = [{"system": RXNORM, "code": rx, "display": ln["drug"]}]
    ms: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        "id": resource_id("therapy-line", ln["id"]),
        "extension": _exts(("stop-reason-text", "valueString", ln.get("stop_reason_text")),
                           ("rxnorm-from-drug-table", "valueBoolean", True if rx and not ln.get("rxnorm") else None)),
        "status": "completed" if ln.get("end_date") else "active",
        "medicationCodeableConcept": medication,
        "subject": subject,
        "effectivePeriod": period,
    }
    if ln.get("stop_reason"):
        reason: dict[str, Any] = {"text": ln["stop_reason"]}
        if ln["stop_reason"] in STOP_REASON_CODES:
            c, d = STOP_REASON_CODES[ln["stop_reason"]]
            reason["coding"] = [{"system": SNOMED, "code": c, "display": d}]
        ms["statusReason"] = [reason]
        ms["status"] = "stopped"
    if condition_ref is not None:
        ms["reasonReference"] = [condition_ref]
    if ln.get("note"):
        ms["note"] = [{"text": ln["note"]}]
    return ms


def _marker_observation(r: Mapping[str, Any], subject: dict) -> dict:
    marker = Marker(r["marker"])
    info = MARKERS[marker]
    q = _quantity(float(r["value"]), r["unit"])
    if r.get("comparator") in ("<", ">"):
        q = {"value": q["value"], "comparator": r["comparator"], **{k: v for k, v in q.items() if k != "value"}}
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id("marker-result", r["id"]),
        "status": "final",
        "category": _lab_category(),
        "subject": subject,
        "effectiveDateTime": _iso(r["date"]),
        "valueQuantity": q,
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


def _tumor(mm: Mapping[str, Any], lesion: Mapping[str, Any] | None, subject: dict) -> dict:
    """mCODE Tumor (BodyStructure): one per lesion, identified by its label."""
    label = mm.get("label") or (lesion or {}).get("label") or mm.get("site") or "lesion"
    rid = resource_id("lesion", mm["lesion_id"]) if mm.get("lesion_id") is not None else resource_id(
        "new-lesion", mm.get("new_id"))
    return {
        "resourceType": "BodyStructure", "id": rid,
        "meta": {"profile": [TUMOR_PROFILE]},
        "extension": _exts(("lesion-is-node", "valueBoolean", bool(mm.get("is_node"))),
                           ("lesion-role", "valueString", (lesion or {}).get("role"))),
        "identifier": [{"system": "urn:lungtrack:lesion", "value": label}],
        "description": label,
        "morphology": {"text": "lymph node" if mm.get("is_node") else "tumour"},
        "location": {"text": mm.get("site") or "unknown site"},
        "patient": subject,
    }


def _tumor_size(study: Mapping[str, Any], mm: Mapping[str, Any], subject: dict, tumor_ref: dict) -> dict:
    """mCODE TumorSize (clinical.md §5.1): LOINC 21889-1, component 33728-7 longest dimension
    in mm, ``focus`` the lesion's Tumor BodyStructure.  Lymph nodes are measured on the short
    axis, which is not the longest dimension: their component has a text code "short axis"
    and no LOINC code, and no TumorSize profile is claimed for them."""
    status = mm.get("status") or "measured"
    node = bool(mm.get("is_node"))
    component: dict[str, Any]
    if node:
        component = {"code": {"text": "short axis (lymph node, RECIST 1.1)"}}
    else:
        component = {"code": _loinc("33728-7", "Size.maximum dimension in Tumor")}
    if status in _ABSENT_REASON or mm.get("size_mm") is None:
        component["dataAbsentReason"] = {"text": _ABSENT_REASON.get(status, "not measured")}
    else:
        component["valueQuantity"] = _quantity(float(mm["size_mm"]), "mm")
    label = mm.get("label") or mm.get("site") or ""
    kind = "new-lesion" if mm.get("new") else "lesion-measurement"
    return {
        "resourceType": "Observation",
        "id": resource_id(kind, mm["id"]),
        "meta": None if node else {"profile": [TUMOR_SIZE_PROFILE]},
        "extension": _exts(("lesion-label", "valueString", label),
                           ("lesion-is-node", "valueBoolean", node),
                           ("measurement-status", "valueString", status),
                           ("new-lesion", "valueBoolean", True if mm.get("new") else None),
                           ("equivocal", "valueBoolean", True if mm.get("equivocal") else None),
                           ("imaging-study", "valueString", f"ImagingStudy/{resource_id('scan', study['id'])}"),
                           ("modality", "valueString", study.get("modality")),
                           ("non-target-status", "valueString", study.get("non_target_status")),
                           ("slice-thickness-mm", "valueDecimal", study.get("slice_thickness_mm")),
                           ("impression", "valueString", study.get("impression")),
                           ("report-text", "valueString", study.get("report_text"))),
        "status": "final",
        "category": _imaging_category(),
        "code": {"coding": [{"system": LOINC, "code": "21889-1", "display": "Size Tumor"}], "text": "tumour size"},
        "subject": subject,
        "focus": [tumor_ref],
        "effectiveDateTime": _iso(study["date"]),
        "method": {"text": study.get("modality") or "CT"},
        "bodySite": {"text": mm.get("site") or "unknown site"},
        "component": [component],
    }


def _imaging_procedure(study: Mapping[str, Any], subject: dict) -> dict:
    """A scan without measurements: the imaging Procedure (date and modality) and its details."""
    words = {"CT": "Computed tomography of chest", "PET-CT": "PET-CT of chest", "MRI": "MRI of chest",
             "X-ray": "Plain chest X-ray"}
    return {
        "resourceType": "Procedure", "id": resource_id("scan", study["id"]),
        "extension": _exts(("modality", "valueString", study.get("modality")),
                           ("non-target-status", "valueString", study.get("non_target_status")),
                           ("slice-thickness-mm", "valueDecimal", study.get("slice_thickness_mm")),
                           ("impression", "valueString", study.get("impression")),
                           ("report-text", "valueString", study.get("report_text"))),
        "status": "completed",
        "code": {"text": words.get(study.get("modality") or "CT", "Chest imaging")},
        "subject": subject,
        "performedDateTime": _iso(study["date"]),
    }


def _variant(f: Mapping[str, Any], subject: dict) -> dict:
    """mCODE GenomicVariant / genomics-reporting Variant (clinical.md §5.2): 69548-6; value
    LA9633-4 Present / LA9634-2 Absent; gene 48018-6 as an HGNC coding; HGVS 48005-3 / 48004-6
    in the ``http://varnomen.hgvs.org`` system; VAF 81258-6 as a fraction; genomic source class
    48002-0 (LA6684-0 somatic, LA6683-2 germline)."""
    result = f.get("result")
    if result == "detected":
        value: dict[str, Any] = {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]}
    elif result == "not-detected":
        value = {"coding": [{"system": LOINC, "code": "LA9634-2", "display": "Absent"}]}
    else:
        value = {"text": "Indeterminate"}
    gene: dict[str, Any] = {"text": f["gene"]}
    if f["gene"] in HGNC_IDS:
        gene["coding"] = [{"system": HGNC, "code": HGNC_IDS[f["gene"]], "display": f["gene"]}]
    components: list[dict] = [{"code": _loinc("48018-6", "Gene studied [ID]"), "valueCodeableConcept": gene}]
    if f.get("hgvs_p"):
        components.append({"code": _loinc("48005-3", "Amino acid change (pHGVS)"),
                           "valueCodeableConcept": {"coding": [{"system": HGVS, "code": f["hgvs_p"]}]}})
    if f.get("hgvs_c"):
        components.append({"code": _loinc("48004-6", "DNA change (c.HGVS)"),
                           "valueCodeableConcept": {"coding": [{"system": HGVS, "code": f["hgvs_c"]}]}})
    if f.get("origin") in ("somatic", "germline"):
        code, display = ("LA6684-0", "Somatic") if f["origin"] == "somatic" else ("LA6683-2", "Germline")
        components.append({"code": _loinc("48002-0", "Genomic source class [Type]"),
                           "valueCodeableConcept": {"coding": [{"system": LOINC, "code": code, "display": display}]}})
    if f.get("vaf") is not None:
        components.append({"code": _loinc("81258-6", "Sample variant allelic frequency [NFr]"),
                           "valueQuantity": {"value": round(float(f["vaf"]) / 100, 10), "system": UCUM, "code": "1"}})
    return {
        "resourceType": "Observation",
        "id": resource_id("biopsy-finding", f["id"]),
        "meta": {"profile": [GENOMIC_VARIANT_PROFILE]},
        "extension": _exts(("variant", "valueString", f.get("variant")), ("sample", "valueString", f.get("sample")),
                           ("assay", "valueString", f.get("assay")),
                           ("allele-context", "valueString", f.get("allele_context"))),
        "status": "final",
        "category": _lab_category(),
        "code": _loinc("69548-6", "Genetic variant assessment"),
        "subject": subject,
        "effectiveDateTime": _iso(f["date"]),
        "valueCodeableConcept": value,
        "method": {"text": f["assay"]} if f.get("assay") else None,
        "component": components,
    }


def _appointment(a: Mapping[str, Any], subject: dict) -> dict:
    status = {"planned": "booked", "done": "fulfilled", "cancelled": "cancelled"}.get(a.get("status") or "", "booked")
    return {
        "resourceType": "Appointment", "id": resource_id("appointment", a["id"]),
        "extension": _exts(("appointment-kind", "valueString", a.get("kind"))),
        "status": status, "description": a.get("description"),
        "start": f"{_iso(a['date'])}T00:00:00Z", "end": f"{_iso(a['date'])}T00:00:00Z",
        "participant": [{"actor": subject, "status": "accepted"}],
    }


def _note(n: Mapping[str, Any], subject: dict) -> dict:
    """A note: a Communication from the patient's own record (``sent`` = its date)."""
    return {
        "resourceType": "Communication", "id": resource_id("note", n["id"]), "status": "completed",
        "subject": subject, "sent": _iso(n["date"]), "payload": [{"contentString": n["text"]}],
    }


def _source_status(study: Mapping[str, Any], subject: dict, condition_ref: dict | None) -> dict:
    """The source's own disease-status assessment kept on a scan, written back as it came."""
    word = study["source_status"]
    value: dict[str, Any] = {"text": word}
    if word in STATUS_WORD_CODES:
        value["coding"] = [{"system": SNOMED, "code": STATUS_WORD_CODES[word]}]
    obs: dict[str, Any] = {
        "resourceType": "Observation", "id": resource_id("source-disease-status", study["id"]),
        "status": "final", "code": {"coding": [{"system": LOINC, "code": "97509-4",
                                                "display": "Cancer Disease Progression"}]},
        "subject": subject, "effectiveDateTime": _iso(study["date"]), "valueCodeableConcept": value,
    }
    if condition_ref is not None:
        obs["meta"] = {"profile": [DISEASE_STATUS_PROFILE]}
        obs["focus"] = [condition_ref]
    return obs


def _disease_status(point: ResponsePoint, subject: dict, condition_ref: dict | None,
                    study_obs: Mapping[int, list[dict]]) -> dict:
    code, word = RESPONSE_TREND.get(point.overall, RESPONSE_TREND["NE"])
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id("disease-status", f"{point.line_id}-{point.date.isoformat()}"),
        "meta": {"tag": [{"system": LT_TAG_SYSTEM, "code": "lungtrack-computed",
                          "display": "computed by lungtrack from the measurements"}]},
        "extension": [{"url": EVIDENCE_TYPE_URL,
                       "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": IMAGING_EVIDENCE,
                                                            "display": "Imaging (procedure)"}],
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
        obs["meta"]["profile"] = [DISEASE_STATUS_PROFILE]
        obs["focus"] = [condition_ref]
    derived = [ref for sid in point.study_ids for ref in study_obs.get(sid, [])]
    if derived:
        obs["derivedFrom"] = derived
    order = ("resourceType", "id", "meta", "extension", "status", "code", "subject", "focus", "effectiveDateTime",
             "valueCodeableConcept", "note", "derivedFrom")
    return {k: obs[k] for k in order if k in obs}
