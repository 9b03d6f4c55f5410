"""FHIR R4 import, the pure part: text -> resources -> plain lungtrack records and skip counts.

Input is FHIR R4 bulk-data NDJSON (one resource per line) or one JSON document (a ``Bundle`` or
a single resource).  :func:`parse_fhir_text` turns the text of one file into
:class:`ParsedResource` items or raises ``InputError`` naming the file and line;
:func:`map_resources` maps them to an :class:`ImportPlan`.  The store is not touched here: the
CLI matches the plan against the store (``external_id``) and writes it in one transaction.

What is mapped (docs/formats.md has the full table):

* ``Patient`` -> patient: name from ``name[0]`` (given + family), ``deceasedDateTime`` ->
  tracking ended on that date, reason "deceased".
* ``Condition`` with a lung-cancer SNOMED code -> diagnosis date (onset) and histology text.
  "Suspected lung cancer" is a situation, not a diagnosis: skipped.
* ``Procedure`` that is chest CT / X-ray / PET-CT -> an imaging study with its date and modality.
  FHIR procedures carry no lesion measurements, so none are imported.
* ``MedicationRequest`` for a drug in lungtrack's drug table -> one therapy line per drug
  (see :func:`_therapy_lines` for start and end); ``MedicationStatement`` with a period (what
  ``lungtrack export fhir`` writes) -> one therapy line with that period.
* ``Observation`` with a tumour-marker LOINC code and a quantity -> a marker result.

Everything else is skipped and counted by resource type and reason, never silently dropped.
Dates are the calendar date written in the resource (``1984-10-22T23:58:16-04:00`` ->
1984-10-22): the local date of the event, not converted to UTC.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from lungtrack.enums import Marker, Modality
from lungtrack.errors import InputError
from lungtrack.knowledge.drugs import get_drug
from lungtrack.knowledge.markers import MARKERS, convert_marker_value

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

#: Lung-cancer diagnoses (SNOMED CT) -> histology text.  The codes are those of the sample data
#: (Synthea) and mCODE's NSCLC example (clinical.md §5.4: 254637007).
LUNG_CANCER_CONDITIONS: Mapping[str, str] = {
    "254637007": "non-small cell lung cancer",  # Non-small cell lung cancer (disorder)
    "424132000": "non-small cell lung cancer",  # Non-small cell carcinoma of lung, TNM stage 1 (disorder)
}
#: Lung-cancer codes that are not a diagnosis: skipped with their own reason.
NOT_A_DIAGNOSIS: Mapping[str, str] = {
    "162573006": "suspected lung cancer is not a diagnosis",  # Suspected lung cancer (situation)
}

#: Chest imaging procedures (SNOMED CT) -> modality; codes as they appear in the sample data.
IMAGING_PROCEDURES: Mapping[str, Modality] = {
    "399208008": Modality.XRAY,  # Plain chest X-ray (procedure)
    "418891003": Modality.CT,  # Computed tomography of chest and abdomen
    "16335031000119103": Modality.CT,  # High resolution computed tomography of chest without contrast
}

#: Tumour-marker LOINC codes: the canonical ones of lungtrack.knowledge.markers plus the
#: "by immunoassay" variants listed in clinical.md §2.5 (same quantity, same unit).
MARKER_LOINC: Mapping[str, Marker] = {
    **{info.loinc: m for m, info in MARKERS.items() if info.loinc},
    "83085-1": Marker.CEA,
    "57371-7": Marker.NSE,
    "83082-8": Marker.CA125,
}

_OK_OBSERVATION_STATUS = {"final", "amended", "corrected"}
_OK_PROCEDURE_STATUS = {"completed"}
_BAD_MEDREQ_STATUS = {"entered-in-error", "cancelled", "draft"}
_BAD_MEDREQ_INTENT = {"proposal", "plan", "option"}
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ParsedResource:
    """One resource and where it was read: ``file`` (name for messages and ``source``),
    ``line`` (1-based NDJSON line; for a JSON document the entry number), ``full_url`` (Bundle)."""

    resource: Mapping[str, Any]
    file: str
    line: int
    full_url: str | None = None

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("resourceType"))

    @property
    def external_id(self) -> str | None:
        rid = self.resource.get("id")
        return f"{self.resource_type}/{rid}" if isinstance(rid, str) and rid else None


@dataclass(frozen=True)
class PatientRecord:
    external_id: str  # "Patient/<id>"
    name: str
    ended_on: date | None
    ended_reason: str | None
    source: str


@dataclass(frozen=True)
class DiagnosisRecord:
    subject: str | None  # "Patient/<id>", or None when the resource names none
    external_id: str
    date: date | None
    histology: str
    source: str


@dataclass(frozen=True)
class TherapyRecord:
    subject: str | None
    external_id: str  # the earliest MedicationRequest of the drug
    drug: str  # canonical name from lungtrack.knowledge.drugs
    start: date
    end: date | None
    requests: int  # how many MedicationRequests made this line
    last_request: date
    note: str
    source: str
    stop_reason: str | None = None  # "progression", "toxicity", "other" when the source says so


@dataclass(frozen=True)
class ScanRecord:
    subject: str | None
    external_id: str
    date: date
    modality: Modality
    description: str
    source: str


@dataclass(frozen=True)
class MarkerRecord:
    subject: str | None
    external_id: str
    date: date
    marker: Marker
    value: float  # canonical unit
    unit: str
    uln: float | None
    lab: str | None
    source: str


@dataclass
class ImportPlan:
    """What the files hold, mapped; ``skipped`` counts (resource type, reason)."""

    patients: list[PatientRecord] = field(default_factory=list)
    diagnoses: list[DiagnosisRecord] = field(default_factory=list)
    therapy_lines: list[TherapyRecord] = field(default_factory=list)
    scans: list[ScanRecord] = field(default_factory=list)
    markers: list[MarkerRecord] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # Counter[(resource_type, reason)]
    notes: list[str] = field(default_factory=list)
    resources: int = 0

    def skip(self, resource_type: str, reason: str, n: int = 1) -> None:
        self.skipped[(resource_type, reason)] += n


# --------------------------------------------------------------------------- parsing


def _resource_or_error(value: Any, file: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str) or not value["resourceType"]:
        raise InputError(file, where, "a FHIR resource", message=(
            f"{file}: {where} is not a FHIR resource (a JSON object with a resourceType); nothing was imported."))
    return value


def parse_fhir_text(text: str, file: str) -> list[ParsedResource]:
    """The resources of one file: NDJSON (one resource per line), a Bundle, or one resource.

    Raises ``InputError`` naming the file and line for text that is not JSON, a line that is not
    a resource, or a Bundle entry without a resource.  Blank lines are allowed in NDJSON.
    """
    stripped = text.strip()
    if not stripped:
        raise InputError(file, "", "FHIR NDJSON or a JSON Bundle", message=(
            f"{file}: the file is empty; expected FHIR NDJSON (one resource per line) or a JSON Bundle."))
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError as exc:
        whole = None
        first = stripped.splitlines()[0]
        if exc.msg != "Extra data":
            try:
                json.loads(first)
            except json.JSONDecodeError:
                # not NDJSON either: report where the one JSON document breaks
                offset = len(text) - len(text.lstrip())
                line = text[:offset].count("\n") + exc.lineno
                raise InputError(file, f"line {line}", "JSON", message=(
                    f"{file}: line {line}: not valid JSON ({exc.msg}); expected FHIR NDJSON "
                    "(one resource per line) or a JSON Bundle; nothing was imported.")) from None
    if whole is not None:
        res = _resource_or_error(whole, file, "the document")
        if res["resourceType"] != "Bundle":
            return [ParsedResource(res, file, 1)]
        items = []
        for i, entry in enumerate(res.get("entry") or [], start=1):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            inner = _resource_or_error(inner, file, f"Bundle entry {i}")
            url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
            items.append(ParsedResource(inner, file, i, url))
        return items
    items = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(file, f"line {n}", "JSON", message=(
                f"{file}: line {n}: not valid JSON ({exc.msg}); expected one FHIR resource per line; "
                "nothing was imported.")) from None
        items.append(ParsedResource(_resource_or_error(value, file, f"line {n}"), file, n))
    return items


# --------------------------------------------------------------------------- helpers


def fhir_date(value: Any) -> date | None:
    """The calendar date of a FHIR date/dateTime as written, or None (missing, or only year/month)."""
    if not isinstance(value, str):
        return None
    m = _DATE.match(value)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def _code_in(concept: Any, system: str, table: Mapping[str, Any]) -> str | None:
    for c in _codings(concept):
        if c.get("system") == system and c.get("code") in table:
            return c["code"]
    return None


def _label(concept: Any) -> str:
    if isinstance(concept, dict):
        if isinstance(concept.get("text"), str) and concept["text"].strip():
            return concept["text"].strip()
        for c in _codings(concept):
            if isinstance(c.get("display"), str) and c["display"].strip():
                return c["display"].strip()
            if c.get("code"):
                return str(c["code"])
    return "no code"


def _status(resource: Mapping[str, Any], key: str = "status") -> str | None:
    value = resource.get(key)
    return value if isinstance(value, str) else None


def _coded_status(resource: Mapping[str, Any], key: str) -> str | None:
    for c in _codings(resource.get(key)):
        if isinstance(c.get("code"), str):
            return c["code"]
    return None


def _source(file: str) -> str:
    return f"import:{file}"[:200]


def _normalise_reference(ref: Any, aliases: Mapping[str, str]) -> str | None:
    """``Patient/x``, ``urn:uuid:...`` (via the Bundle's fullUrls) or ``https://.../Patient/x`` -> ``Patient/x``."""
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return None
    text = ref["reference"].strip()
    if text in aliases:
        return aliases[text]
    m = re.search(r"(?:^|/)(Patient/[A-Za-z0-9\-.]{1,64})(?:/_history/.*)?$", text)
    return m.group(1) if m else None


def patient_name(resource: Mapping[str, Any]) -> str:
    """``name[0]``: given names then family; its ``text`` when those are missing; else "Patient <id>"."""
    names = resource.get("name")
    if isinstance(names, list) and names and isinstance(names[0], dict):
        first = names[0]
        given = [g for g in first.get("given") or [] if isinstance(g, str)]
        family = first.get("family") if isinstance(first.get("family"), str) else ""
        text = " ".join(" ".join([*given, family]).split())
        if text:
            return text[:200]
        if isinstance(first.get("text"), str) and first["text"].strip():
            return " ".join(first["text"].split())[:200]
    return f"Patient {resource.get('id')}"[:200]


_WORD = re.compile(r"[A-Za-z0-9]+")


def drug_in_text(text: str) -> str | None:
    """The drug-table drug named in a medication text such as "Cisplatin 50 MG Injection" or
    "osimertinib 80 MG Oral Tablet [Tagrisso]": the longest run of up to four words that is a
    drug name or alias, leftmost first.  None when no drug of the table is named."""
    words = _WORD.findall(text or "")
    for n in range(min(4, len(words)), 0, -1):
        for i in range(0, len(words) - n + 1):
            drug = get_drug(" ".join(words[i:i + n]))
            if drug is not None:
                return drug.name
    return None


def _medication_text(resource: Mapping[str, Any], medications: Mapping[str, Mapping[str, Any]]) -> tuple[str, list[str]]:
    """(label for messages, texts to search for a drug name)."""
    concept = resource.get("medicationCodeableConcept")
    if concept is None and isinstance(resource.get("medicationReference"), dict):
        ref = resource["medicationReference"].get("reference")
        med = medications.get(ref) if isinstance(ref, str) else None
        if med is None and isinstance(ref, str) and ref.startswith("#"):
            for c in resource.get("contained") or []:
                if isinstance(c, dict) and c.get("id") == ref[1:]:
                    med = c
        concept = med.get("code") if med else None
    if not isinstance(concept, dict):
        return "no medication code", []
    texts = [concept["text"]] if isinstance(concept.get("text"), str) else []
    texts += [c["display"] for c in _codings(concept) if isinstance(c.get("display"), str)]
    return _label(concept), texts


# --------------------------------------------------------------------------- mapping


def map_resources(items: Sequence[ParsedResource]) -> ImportPlan:
    """Map parsed resources to lungtrack records; count what is skipped and why."""
    plan = ImportPlan(resources=len(items))
    aliases: dict[str, str] = {}
    medications: dict[str, Mapping[str, Any]] = {}
    for it in items:
        if it.full_url and it.external_id:
            aliases[it.full_url] = it.external_id
        if it.resource_type == "Medication" and it.external_id:
            medications[it.external_id] = it.resource
            if it.full_url:
                medications[it.full_url] = it.resource
    requests: list[tuple[ParsedResource, str, date]] = []
    seen: set[str] = set()
    for it in items:
        rtype, res = it.resource_type, it.resource
        ext = it.external_id
        if rtype not in ("Patient", "Condition", "Procedure", "MedicationRequest", "MedicationStatement", "Observation"):
            plan.skip(rtype, "used only to name the drugs of MedicationRequests" if rtype == "Medication"
                      else "not a kind of record lungtrack keeps")
            continue
        if ext is None:
            plan.skip(rtype, "no id (a second import could not be told apart)")
            continue
        if ext in seen:
            plan.skip(rtype, "the same resource twice in this import")
            continue
        seen.add(ext)
        subject = _normalise_reference(res.get("subject"), aliases)
        if rtype == "Patient":
            _map_patient(it, plan)
        elif rtype == "Condition":
            _map_condition(it, subject, plan)
        elif rtype == "Procedure":
            _map_procedure(it, subject, plan)
        elif rtype == "Observation":
            _map_observation(it, subject, plan)
        elif rtype == "MedicationStatement":
            _map_statement(it, subject, medications, plan)
        else:
            request = _map_request(it, medications, plan)
            if request is not None:
                requests.append((it, subject or "", request))
    deceased = {r.external_id for r in plan.patients if r.ended_reason == "deceased"}
    plan.therapy_lines.extend(_therapy_lines(requests, medications, deceased))
    return plan


def _map_patient(it: ParsedResource, plan: ImportPlan) -> None:
    res = it.resource
    ended_on = fhir_date(res.get("deceasedDateTime"))
    reason = "deceased" if ended_on else None
    if ended_on is None and res.get("deceasedBoolean") is True:
        plan.notes.append(f"{it.external_id}: deceased without a date; tracking was not ended")
    plan.patients.append(PatientRecord(it.external_id or "", patient_name(res), ended_on, reason, _source(it.file)))


def _map_condition(it: ParsedResource, subject: str | None, plan: ImportPlan) -> None:
    res = it.resource
    code = res.get("code")
    if _code_in(code, SNOMED, NOT_A_DIAGNOSIS):
        plan.skip("Condition", NOT_A_DIAGNOSIS[_code_in(code, SNOMED, NOT_A_DIAGNOSIS) or ""])
        return
    hit = _code_in(code, SNOMED, LUNG_CANCER_CONDITIONS)
    if hit is None:
        plan.skip("Condition", "not a lung-cancer diagnosis lungtrack knows")
        return
    verification = _coded_status(res, "verificationStatus")
    if verification in ("refuted", "entered-in-error", "provisional", "differential", "unconfirmed"):
        plan.skip("Condition", f"verification status {verification}")
        return
    onset = fhir_date(res.get("onsetDateTime")) or fhir_date((res.get("onsetPeriod") or {}).get("start"))
    plan.diagnoses.append(DiagnosisRecord(subject, it.external_id or "", onset, LUNG_CANCER_CONDITIONS[hit],
                                          _source(it.file)))


def _imaging_modality(concept: Any) -> Modality | None:
    """By code (the table above), else by words: chest/thorax/lung plus CT, X-ray/radiograph or PET
    (not CT-guided biopsies, aspirations or drainages: those are interventions)."""
    code = _code_in(concept, SNOMED, IMAGING_PROCEDURES)
    if code is not None:
        return IMAGING_PROCEDURES[code]
    texts = [concept.get("text", "")] if isinstance(concept, dict) else []
    texts += [c.get("display", "") for c in _codings(concept)]
    for text in texts:
        t = str(text).lower()
        if not re.search(r"\b(chest|thorax|thoracic|lungs?)\b", t):
            continue
        if re.search(r"biops|guided|aspiration|drainage", t):  # an intervention, not a scan
            continue
        if re.search(r"\bpet\b|positron", t):
            return Modality.PET_CT
        if re.search(r"\bct\b|computed tomography", t):
            return Modality.CT
        if re.search(r"x-ray|\bradiograph", t):
            return Modality.XRAY
    return None


def _map_procedure(it: ParsedResource, subject: str | None, plan: ImportPlan) -> None:
    res = it.resource
    modality = _imaging_modality(res.get("code"))
    if modality is None:
        plan.skip("Procedure", "not chest CT, X-ray or PET-CT")
        return
    status = _status(res)
    if status not in _OK_PROCEDURE_STATUS:
        plan.skip("Procedure", f"status {status or 'missing'}, not completed")
        return
    when = fhir_date(res.get("performedDateTime")) or fhir_date((res.get("performedPeriod") or {}).get("start"))
    if when is None:
        plan.skip("Procedure", "no full performed date")
        return
    plan.scans.append(ScanRecord(subject, it.external_id or "", when, modality, _label(res.get("code")),
                                 _source(it.file)))


def _map_observation(it: ParsedResource, subject: str | None, plan: ImportPlan) -> None:
    res = it.resource
    code = _code_in(res.get("code"), LOINC, MARKER_LOINC)
    if code is None:
        plan.skip("Observation", "not a tumour-marker test lungtrack keeps")
        return
    marker = MARKER_LOINC[code]
    status = _status(res)
    if status not in _OK_OBSERVATION_STATUS:
        plan.skip("Observation", f"status {status or 'missing'}, not a final result")
        return
    when = fhir_date(res.get("effectiveDateTime")) or fhir_date((res.get("effectivePeriod") or {}).get("start"))
    if when is None:
        plan.skip("Observation", "no full effective date")
        return
    q = res.get("valueQuantity")
    if not isinstance(q, dict) or isinstance(q.get("value"), bool) or not isinstance(q.get("value"), (int, float)):
        plan.skip("Observation", "no numeric value")
        return
    if q.get("comparator"):
        plan.skip("Observation", "value is a limit such as '<0.5', not a number")
        return
    unit = q.get("code") if isinstance(q.get("code"), str) else q.get("unit")
    try:
        value, canonical = convert_marker_value(marker, float(q["value"]), unit if isinstance(unit, str) else None)
    except InputError:
        plan.skip("Observation", f"{marker.value} unit {unit!r} not accepted")
        return
    if value < 0 or value > MARKERS[marker].plausible_max:
        plan.skip("Observation", f"{marker.value} value outside 0-{MARKERS[marker].plausible_max:g}")
        return
    uln = None
    for rr in res.get("referenceRange") or []:
        high = rr.get("high") if isinstance(rr, dict) else None
        if isinstance(high, dict) and isinstance(high.get("value"), (int, float)) and not isinstance(high["value"], bool):
            hunit = high.get("code") if isinstance(high.get("code"), str) else high.get("unit")
            try:
                uln, _u = convert_marker_value(marker, float(high["value"]), hunit if isinstance(hunit, str) else unit)
            except InputError:
                uln = None
            break
    lab = None
    for perf in res.get("performer") or []:
        if isinstance(perf, dict) and isinstance(perf.get("display"), str):
            lab = perf["display"][:200]
            break
    plan.markers.append(MarkerRecord(subject, it.external_id or "", when, marker, value, canonical, uln, lab,
                                     _source(it.file)))


def _map_request(it: ParsedResource, medications: Mapping[str, Mapping[str, Any]], plan: ImportPlan) -> date | None:
    """The request's date when it names a drug of the drug table and is a real order; else skip it."""
    res = it.resource
    label, texts = _medication_text(res, medications)
    drug = next((d for d in (drug_in_text(t) for t in texts) if d), None)
    if drug is None:
        first = _WORD.findall(label)
        plan.skip("MedicationRequest", f"drug not in lungtrack's drug table ({first[0].lower() if first else label})")
        return None
    status = _status(res)
    if status in _BAD_MEDREQ_STATUS:
        plan.skip("MedicationRequest", f"status {status}")
        return None
    intent = _status(res, "intent")
    if intent in _BAD_MEDREQ_INTENT:
        plan.skip("MedicationRequest", f"intent {intent}, not an order")
        return None
    when = fhir_date(res.get("authoredOn"))
    if when is None:
        plan.skip("MedicationRequest", "no full authoredOn date")
        return None
    return when


def _map_statement(it: ParsedResource, subject: str | None, medications: Mapping[str, Mapping[str, Any]],
                   plan: ImportPlan) -> None:
    """A MedicationStatement with a period (as ``lungtrack export fhir`` writes them) -> one line,
    start and end as stated; a stop reason when its text is one of lungtrack's words."""
    res = it.resource
    label, texts = _medication_text(res, medications)
    drug = next((d for d in (drug_in_text(t) for t in texts) if d), None)
    if drug is None:
        first = _WORD.findall(label)
        plan.skip("MedicationStatement", f"drug not in lungtrack's drug table ({first[0].lower() if first else label})")
        return
    status = _status(res)
    if status in ("entered-in-error", "not-taken", "intended"):
        plan.skip("MedicationStatement", f"status {status}")
        return
    period = res.get("effectivePeriod") if isinstance(res.get("effectivePeriod"), dict) else {}
    start = fhir_date(period.get("start")) or fhir_date(res.get("effectiveDateTime"))
    if start is None:
        plan.skip("MedicationStatement", "no full start date")
        return
    end = fhir_date(period.get("end"))
    if end is not None and end < start:
        plan.skip("MedicationStatement", "ends before it starts")
        return
    reason = None
    for concept in res.get("statusReason") or []:
        text = concept.get("text") if isinstance(concept, dict) else None
        if text in ("progression", "toxicity", "other"):
            reason = text
    note = f"imported from a MedicationStatement, {start.isoformat()} to {end.isoformat() if end else 'open'}"
    plan.therapy_lines.append(TherapyRecord(subject, it.external_id or "", drug, start, end, 1, end or start, note,
                                            _source(it.file), stop_reason=reason))


def _therapy_lines(requests: Iterable[tuple[ParsedResource, str, date]],
                   medications: Mapping[str, Mapping[str, Any]],
                   deceased: frozenset[str] | set[str] = frozenset()) -> list[TherapyRecord]:
    """One line per (patient, drug): from the first to the last request.

    A line is *ended* at its drug's last request when the same patient has a different drug
    whose first request came later (a later line of treatment started), or when the import's
    Patient resource gives a death date (``deceased``: no treatment after death, and the last
    request is the last evidence of it).  Otherwise it is left open (active), because a request
    says a drug was ordered, not that it was stopped.  The stop reason stays empty: requests do
    not say why a drug was stopped.  The line's ``external_id`` is its earliest request, so a
    second import of the same file adds nothing.
    """
    groups: dict[tuple[str, str], list[tuple[date, str, str]]] = {}
    for it, subject, when in requests:
        _label_text, texts = _medication_text(it.resource, medications)
        drug = next(d for d in (drug_in_text(t) for t in texts) if d)
        groups.setdefault((subject, drug), []).append((when, it.external_id or "", it.file))
    firsts: dict[str, list[tuple[date, str]]] = {}
    for (subject, drug), rows in groups.items():
        firsts.setdefault(subject, []).append((min(r[0] for r in rows), drug))
    lines = []
    for (subject, drug), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], min(r[0] for r in kv[1]), kv[0][1])):
        rows.sort()
        start, last = rows[0][0], rows[-1][0]
        later = [d for first, d in firsts[subject] if d != drug and first > start]
        end = last if later or subject in deceased else None
        if later:
            why = f"ended at the last request because {sorted(later)[0]} started later"
        elif subject in deceased:
            why = "ended at the last request because the patient's record ends with a death date"
        else:
            why = "left open: no later drug in the import"
        note = (f"imported from {len(rows)} MedicationRequest(s), {start.isoformat()} to {last.isoformat()}; {why}")
        lines.append(TherapyRecord(subject or None, rows[0][1], drug, start, end, len(rows), last, note,
                                   _source(rows[0][2])))
    return lines


# --------------------------------------------------------------------------- to the write contract


def as_import_plan(plan: ImportPlan, label: str) -> Any:
    """The mapped records as a :class:`lungtrack.records.inputs.ImportPlan` (one batch per patient).

    Patients are referred to by their local id (``Patient/<id>``) together with their name:
    these files give no server base URL, so the local id alone never identifies a stored
    patient.  Records naming no patient go to the one patient of the files; with several
    patients in the files they are skipped and counted.
    """
    from lungtrack.records import inputs as ri

    def src(source: str, ext: str | None) -> ri.Source:
        origin = f"{source.removeprefix('import:')} {ext}" if ext else source.removeprefix("import:")
        return ri.Source(label=source, external_id=ext or None, origin=origin)

    names = {p.external_id: p for p in plan.patients}
    first_dx: dict[str, DiagnosisRecord] = {}
    for d in plan.diagnoses:
        if d.subject is None:
            continue
        best = first_dx.get(d.subject)
        if best is None or (d.date is not None and (best.date is None or d.date < best.date)):
            first_dx[d.subject] = d
    skipped: Counter = Counter(plan.skipped)
    groups: dict[str | None, dict[str, list[Any]]] = {}

    def subject_of(subject: str | None, rtype: str) -> str | None | bool:
        if subject is not None:
            return subject
        if len(names) == 1:
            return next(iter(names))
        skipped[(rtype, "no subject patient; name one with --patient")] += 1
        return False

    def put(subject: str | None, rtype: str, kind: str, item: Any) -> None:
        who = subject_of(subject, rtype)
        if who is False:
            return
        groups.setdefault(who, {}).setdefault(kind, []).append(item)  # type: ignore[arg-type]

    for t in plan.therapy_lines:
        put(t.subject, t.external_id.split("/")[0], "therapies", ri.TherapyInput(
            drug=t.drug, start=t.start, end=t.end, stop_reason=t.stop_reason, note=t.note,
            source=src(t.source, t.external_id)))
    for s in plan.scans:
        put(s.subject, "Procedure", "scans", ri.ScanInput(date=s.date, modality=s.modality.value,
                                                          source=src(s.source, s.external_id)))
    for r in plan.markers:
        put(r.subject, "Observation", "markers", ri.MarkerInput(
            marker=r.marker.value, value=r.value, unit=r.unit, date=r.date, uln=r.uln, lab=r.lab,
            source=src(r.source, r.external_id)))
    batches = []
    for ext in list(names) + [s for s in groups if s not in names]:
        rec = names.get(ext)
        local_id = ext.split("/", 1)[1] if ext and "/" in ext else ext
        pin = None
        if rec is not None:
            dx = first_dx.get(ext)
            pin = ri.PatientInput(
                name=rec.name, diagnosis_date=dx.date if dx else None, histology=dx.histology if dx else None,
                deceased_date=rec.ended_on if rec.ended_reason == "deceased" else None,
                source=src(rec.source, rec.external_id))
        ref = ri.PatientRef(name=rec.name if rec else None, local_id=local_id)
        g = groups.get(ext, {})
        batches.append(ri.ImportBatch(
            patient=ref, patient_input=pin, therapies=tuple(g.get("therapies", ())), scans=tuple(g.get("scans", ())),
            markers=tuple(g.get("markers", ()))))
    return ri.ImportPlan(kind="fhir", source_label=label, batches=tuple(batches),
                         skipped=tuple((t, r, n) for (t, r), n in sorted(skipped.items())))
