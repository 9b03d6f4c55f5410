"""``lungtrack export json`` documents -> an :class:`~lungtrack.records.inputs.ImportPlan`.  Pure.

The document is lungtrack's own (docs/formats.md): one entry per patient with every record.
Each record keeps its own ``source`` and ``external_id``, so that export -> import -> export gives
the same records (row ids and timestamps aside) and a later FHIR or CSV import still recognises
what it imported before.  Structure problems are collected, one per record, with the record's
place in the document (``export.json: patients[0].marker_results[3]: value: ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from lungtrack.records.inputs import (
    AppointmentInput,
    BiopsyInput,
    ImportBatch,
    ImportPlan,
    MarkerInput,
    MeasurementInput,
    NoteInput,
    PatientInput,
    PatientRef,
    ScanInput,
    Source,
    TherapyInput,
)

__all__ = ["EXPORT_FORMAT", "FORMAT_VERSION", "JsonProblem", "PatientExtras", "plan_from_export"]

EXPORT_FORMAT = "lungtrack-export"
#: 1: the first export (no ``format_version`` key); 2: adds ``format_version``, patient
#: ``identifiers``, ``snoozes`` and a new lesion's ``lesion_id``.  Both are read.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class JsonProblem:
    where: str  # "patients[0].marker_results[3]"
    field: str
    problem: str
    expected: str


@dataclass(frozen=True)
class PatientExtras:
    """What a patient record holds beyond :class:`PatientInput`: schedule, end of tracking,
    default flag, acknowledgements and snoozes.  Applied after the import by the caller."""

    name: str
    is_default: bool
    schedule: tuple[tuple[str, float | None], ...]
    ended_on: date | None
    ended_reason: str | None
    acknowledgements: tuple[tuple[str, str | None], ...]  # (finding id, note)
    snoozes: tuple[tuple[str, date], ...]  # (item key, until)


SCHEDULE_FIELDS = ("imaging_due_soon_weeks", "imaging_overdue_weeks", "marker_due_soon_weeks", "marker_overdue_weeks")


class _Bad(Exception):
    def __init__(self, field: str, problem: str, expected: str):
        super().__init__(problem)
        self.field, self.problem, self.expected = field, problem, expected


def _get(rec: dict[str, Any], key: str, kind: type | tuple[type, ...], required: bool = True) -> Any:
    value = rec.get(key)
    if value.__class__ is kind:  # the usual case (a str, a list): exactly the type asked for
        return value
    if value is None:
        if required:
            raise _Bad(key, "missing", "a value as lungtrack export json writes it")
        return None
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _Bad(key, f"{value!r} is not a number", "a number")
    if not isinstance(value, kind):
        raise _Bad(key, f"{value!r} has the wrong type", f"a {getattr(kind, '__name__', 'number')}")
    return value


def _date(rec: dict[str, Any], key: str, required: bool = True) -> date | None:
    text = _get(rec, key, str, required)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Bad(key, f"{text!r} is not an ISO date", "YYYY-MM-DD") from None


def _num(rec: dict[str, Any], key: str, required: bool = False) -> float | None:
    value = rec.get(key)
    if value.__class__ is float:  # the usual case; an int (not a bool) is converted below
        return float(value)
    value = _get(rec, key, (int, float), required)
    return None if value is None else float(value)


def _source(rec: dict[str, Any], origin: str, fallback: str) -> Source:
    given = rec.get("source")
    label: str = given if isinstance(given, str) and given else fallback
    ext = rec.get("external_id") if isinstance(rec.get("external_id"), str) else None
    return Source(label=label, external_id=ext, origin=origin)


def plan_from_export(doc: Any, file_name: str) -> tuple[ImportPlan, list[PatientExtras], list[JsonProblem]]:
    """The plan, each patient's extras, and every structure problem found (the caller refuses
    the file when there is any).  A document that is not a lungtrack export gives one problem."""
    problems: list[JsonProblem] = []
    fallback = f"import:json:{file_name}"
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        problems.append(JsonProblem("", "format", "not a lungtrack export", f'"format": "{EXPORT_FORMAT}"'))
        return ImportPlan("json", fallback, ()), [], problems
    version = doc.get("format_version", 1)
    if version not in (1, FORMAT_VERSION):
        problems.append(JsonProblem("", "format_version", f"{version!r} is not known",
                                    f"1 or {FORMAT_VERSION} (a newer lungtrack wrote it: upgrade lungtrack)"))
        return ImportPlan("json", fallback, ()), [], problems
    patients = doc.get("patients")
    if not isinstance(patients, list):
        problems.append(JsonProblem("", "patients", "missing", "a list of patients"))
        return ImportPlan("json", fallback, ()), [], problems
    batches: list[ImportBatch] = []
    extras: list[PatientExtras] = []
    for i, entry in enumerate(patients):
        where = f"patients[{i}]"
        batch, extra = _patient_entry(entry, where, file_name, fallback, problems)
        if batch is not None and extra is not None:
            batches.append(batch)
            extras.append(extra)
    return ImportPlan("json", fallback, tuple(batches)), extras, problems


def _records(entry: dict[str, Any], key: str, where: str, problems: list[JsonProblem]) -> list[tuple[str, dict[str, Any]]]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        problems.append(JsonProblem(f"{where}.{key}", key, "not a list", "a list of records"))
        return []
    out = []
    for j, rec in enumerate(value):
        if isinstance(rec, dict):
            out.append((f"{where}.{key}[{j}]", rec))
        else:
            problems.append(JsonProblem(f"{where}.{key}[{j}]", key, "not an object", "a record object"))
    return out


def _patient_entry(entry: Any, where: str, file_name: str, fallback: str,
                   problems: list[JsonProblem]) -> tuple[ImportBatch | None, PatientExtras | None]:
    if not isinstance(entry, dict) or not isinstance(entry.get("patient"), dict):
        problems.append(JsonProblem(where, "patient", "missing", "an object with the patient's record"))
        return None, None

    def each(key: str, build: Any) -> list[Any]:
        out = []
        for place, rec in _records(entry, key, where, problems):
            try:
                out.append(build(rec, f"{file_name}#{place}"))
            except _Bad as bad:
                problems.append(JsonProblem(place, bad.field, bad.problem, bad.expected))
        return out

    try:
        p = entry["patient"]
        name = _get(p, "name", str)
        identifiers = tuple((str(x["system"]), str(x["value"])) for x in p.get("identifiers") or ()
                            if isinstance(x, dict) and x.get("system") and x.get("value"))
        subtypes = p.get("subtypes")
        patient_input = PatientInput(
            name=name, diagnosis_date=_date(p, "diagnosis_date", False), histology=_get(p, "histology", str, False),
            subtypes=tuple((str(k), float(v)) for k, v in subtypes.items()) if isinstance(subtypes, dict) else None,
            drivers=tuple(str(d) for d in p.get("drivers") or ()), smoking=_get(p, "smoking", str, False),
            birth_date=_date(p, "birth_date", False), gender=_get(p, "gender", str, False), identifiers=identifiers,
            source=_source(p, f"{file_name}#{where}.patient", fallback))
        extra = PatientExtras(
            name=name, is_default=bool(p.get("is_default")),
            schedule=tuple((f, _num(p, f)) for f in SCHEDULE_FIELDS),
            ended_on=_date(p, "ended_on", False), ended_reason=_get(p, "ended_reason", str, False),
            acknowledgements=tuple((str(a["finding_id"]), a.get("note")) for _w, a in
                                   _records(entry, "acknowledgements", where, problems) if a.get("finding_id")),
            snoozes=tuple((str(s["item_key"]), date.fromisoformat(s["until"])) for _w, s in
                          _records(entry, "snoozes", where, problems) if s.get("item_key") and s.get("until")))
    except _Bad as bad:
        problems.append(JsonProblem(f"{where}.patient", bad.field, bad.problem, bad.expected))
        return None, None
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(JsonProblem(f"{where}.patient", "patient", f"not readable ({exc})", "a record as exported"))
        return None, None

    roles = {rec.get("id"): rec.get("role") for _w, rec in _records(entry, "lesions", where, problems)}

    def therapy(rec: dict[str, Any], origin: str) -> TherapyInput:
        return TherapyInput(drug=_get(rec, "drug", str), start=_date(rec, "start_date"),  # type: ignore[arg-type]
                            end=_date(rec, "end_date", False), stop_reason=_get(rec, "stop_reason", str, False),
                            note=_get(rec, "note", str, False), source=_source(rec, origin, fallback))

    def scan(rec: dict[str, Any], origin: str) -> ScanInput:
        measurements = []
        for m in _get(rec, "measurements", list, False) or []:
            if not isinstance(m, dict):
                raise _Bad("measurements", "an entry is not an object", "measurement objects")
            measurements.append(MeasurementInput(
                label=_get(m, "label", str), size_mm=_num(m, "size_mm"), status=_get(m, "status", str, False) or "measured",
                site=_get(m, "site", str, False), is_node=m.get("is_node") if isinstance(m.get("is_node"), bool) else None,
                role=roles.get(m.get("lesion_id"))))
        for n in _get(rec, "new_lesions", list, False) or []:
            if not isinstance(n, dict):
                raise _Bad("new_lesions", "an entry is not an object", "new-lesion objects")
            measurements.append(MeasurementInput(
                label=_get(n, "label", str, False) or _get(n, "site", str), size_mm=_num(n, "size_mm"),
                status="measured" if n.get("size_mm") is not None else "not-evaluated",
                site=_get(n, "site", str), is_node=bool(n.get("is_node")), new=True,
                equivocal=bool(n.get("equivocal"))))
        return ScanInput(date=_date(rec, "date"), measurements=tuple(measurements),  # type: ignore[arg-type]
                         modality=_get(rec, "modality", str, False) or "CT",
                         non_target_status=_get(rec, "non_target_status", str, False),
                         slice_thickness_mm=_num(rec, "slice_thickness_mm"),
                         impression=_get(rec, "impression", str, False),
                         report_text=_get(rec, "report_text", str, False), source=_source(rec, origin, fallback))

    def marker(rec: dict[str, Any], origin: str) -> MarkerInput:
        return MarkerInput(marker=_get(rec, "marker", str), value=_num(rec, "value", True),  # type: ignore[arg-type]
                           unit=_get(rec, "unit", str), date=_date(rec, "date"),  # type: ignore[arg-type]
                           uln=_num(rec, "uln"), lab=_get(rec, "lab", str, False),
                           comparator=_get(rec, "comparator", str, False), source=_source(rec, origin, fallback))

    def biopsy(rec: dict[str, Any], origin: str) -> BiopsyInput:
        return BiopsyInput(date=_date(rec, "date"), sample=_get(rec, "sample", str),  # type: ignore[arg-type]
                           gene=_get(rec, "gene", str), variant=_get(rec, "variant", str),
                           result=_get(rec, "result", str), vaf=_num(rec, "vaf"), assay=_get(rec, "assay", str, False),
                           allele_context=_get(rec, "allele_context", str, False),
                           hgvs_c=_get(rec, "hgvs_c", str, False), hgvs_p=_get(rec, "hgvs_p", str, False),
                           source=_source(rec, origin, fallback))

    def appointment(rec: dict[str, Any], origin: str) -> AppointmentInput:
        return AppointmentInput(date=_date(rec, "date"), kind=_get(rec, "kind", str),  # type: ignore[arg-type]
                                description=_get(rec, "description", str, False),
                                status=_get(rec, "status", str, False) or "planned",
                                source=_source(rec, origin, fallback))

    def note(rec: dict[str, Any], origin: str) -> NoteInput:
        return NoteInput(date=_date(rec, "date"), text=_get(rec, "text", str),  # type: ignore[arg-type]
                         source=_source(rec, origin, fallback))

    batch = ImportBatch(
        patient=PatientRef(name=name, identifiers=identifiers), patient_input=patient_input,
        therapies=tuple(each("therapy_lines", therapy)), scans=tuple(each("scans", scan)),
        markers=tuple(each("marker_results", marker)), biopsies=tuple(each("biopsy_findings", biopsy)),
        appointments=tuple(each("appointments", appointment)), notes=tuple(each("notes", note)))
    return batch, extra
