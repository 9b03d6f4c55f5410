"""The repository: typed functions over a session.  No printing, no prompts.

Commands call these inside one ``Store.transaction()``; errors are ``LungtrackError``s.
:func:`load_history` turns a patient's rows into the plain :class:`~lungtrack.core.history.History`
that the rules take.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Iterable, TypeVar

from sqlmodel import Session, SQLModel, col, select

from lungtrack.core import history as h
from lungtrack.enums import (
    AlleleContext,
    AppointmentKind,
    AppointmentStatus,
    BiopsyResult,
    LesionRole,
    Marker,
    MeasurementStatus,
    Modality,
    NonTargetStatus,
    Sample,
    SmokingStatus,
    StopReason,
)
from lungtrack.errors import InputError, NotFoundError
from lungtrack.store import models as m
from lungtrack.store.models import utcnow

T = TypeVar("T", bound=SQLModel)

# ---------------------------------------------------------------- patients

def list_patients(session: Session) -> list[m.Patient]:
    return list(session.exec(select(m.Patient).order_by(col(m.Patient.name))))


def find_patient(session: Session, name: str | None, field: str = "--patient") -> m.Patient:
    """The patient named ``name`` (case-insensitive), or the default patient when ``None``.

    ``field`` is how the name was given on the command line, for the error message."""
    patients = list_patients(session)
    if not patients:
        raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
    if name is None:
        defaults = [p for p in patients if p.is_default]
        if defaults:
            return defaults[0]
        if len(patients) == 1:
            return patients[0]
        names = ", ".join(p.name for p in patients)
        raise InputError("--patient", "", "a patient name", message=(
            f"--patient: this store holds several patients ({names}); name one with --patient NAME "
            "or set a default with: lungtrack patient default NAME"))
    wanted = name.strip().casefold()
    for p in patients:
        if p.name.casefold() == wanted:
            return p
    names = ", ".join(p.name for p in patients)
    raise InputError(field, name, f"one of: {names}")


def select_patients(session: Session, name: str | None, all_patients: bool) -> list[m.Patient]:
    """Every patient when ``all_patients``; otherwise the one named (or the default patient)."""
    if all_patients:
        return list_patients(session)
    return [find_patient(session, name)]


def patient_named(session: Session, name: str) -> m.Patient | None:
    """The patient of that name (case-insensitive), by one query (never loading every patient)."""
    from sqlalchemy import func

    wanted = " ".join(name.split())
    stmt = select(m.Patient)
    if wanted.isascii():  # SQLite's lower() folds ASCII only: other names are compared here
        stmt = stmt.where(func.lower(m.Patient.name) == wanted.lower())
    for p in session.exec(stmt):
        if p.name.casefold() == wanted.casefold():
            return p
    return None


def add_patient(session: Session, **fields: Any) -> m.Patient:
    name = fields["name"]
    if patient_named(session, name) is not None:
        raise InputError("name", name, "a name not already in this store",
                         message=f"name: a patient called {name!r} already exists in this store.")
    first = session.exec(select(m.Patient.id).limit(1)).first() is None
    patient = m.Patient(**fields)
    if first:
        patient.is_default = True
    session.add(patient)
    session.flush()
    return patient


def set_default_patient(session: Session, patient: m.Patient) -> None:
    for p in list_patients(session):
        p.is_default = p.id == patient.id
        session.add(p)


# ---------------------------------------------------------------- generic records

def get_record(session: Session, model: type[T], record_id: int, patient: m.Patient | None = None) -> T:
    row = session.get(model, record_id)
    if row is None or (patient is not None and record_patient_id(session, row) != patient.id):
        who = f" for {patient.name}" if patient is not None else ""
        raise NotFoundError(f"No {table_label(model)} with id {record_id}{who}.")
    return row


def record_patient_id(session: Session, row: SQLModel) -> int | None:
    if isinstance(row, m.Patient):
        return row.id
    if hasattr(row, "patient_id"):
        return row.patient_id  # type: ignore[attr-defined]
    if isinstance(row, (m.LesionMeasurement, m.NewLesion)):
        study = session.get(m.ImagingStudy, row.study_id)
        return study.patient_id if study else None
    return None


def table_label(model: type[SQLModel]) -> str:
    return {
        m.Patient: "patient", m.TherapyLine: "therapy line", m.ImagingStudy: "scan", m.Lesion: "lesion",
        m.LesionMeasurement: "measurement", m.NewLesion: "new lesion", m.MarkerResult: "marker result",
        m.BiopsyFinding: "biopsy finding", m.Appointment: "appointment", m.Note: "note",
    }.get(model, model.__name__)


def touch(row: SQLModel) -> None:
    if hasattr(row, "updated_at"):
        row.updated_at = utcnow()  # type: ignore[attr-defined]


def records(session: Session, model: type[T], patient: m.Patient, order: str = "date") -> list[T]:
    stmt = select(model).where(getattr(model, "patient_id") == patient.id)
    if hasattr(model, order):
        stmt = stmt.order_by(getattr(model, order), getattr(model, "id"))
    return list(session.exec(stmt))


def row_dict(row: SQLModel) -> dict[str, Any]:
    """A row as JSON-ready data: ISO dates, UTC timestamps with 'Z', JSON columns decoded."""
    out: dict[str, Any] = {}
    dumped = row.model_dump()
    names = list(type(row).model_fields)
    tail = [n for n in ("source", "created_at", "updated_at") if n in names]
    for key in ["id"] + [n for n in names if n != "id" and n not in tail] + tail:
        value = dumped.get(key)
        if key in ("subtypes", "drivers") and isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, date):
            value = value.isoformat()
        out[key] = value
    return out


# ---------------------------------------------------------------- scans and lesions

def lesions(session: Session, patient: m.Patient) -> list[m.Lesion]:
    return list(session.exec(select(m.Lesion).where(m.Lesion.patient_id == patient.id).order_by(m.Lesion.id)))


def find_lesion(session: Session, patient: m.Patient, label: str) -> m.Lesion | None:
    wanted = " ".join(label.split()).casefold()
    for lesion in lesions(session, patient):
        if " ".join(lesion.label.split()).casefold() == wanted:
            return lesion
    return None


def study_measurements(session: Session, study: m.ImagingStudy) -> list[m.LesionMeasurement]:
    return list(session.exec(select(m.LesionMeasurement).where(m.LesionMeasurement.study_id == study.id)
                             .order_by(m.LesionMeasurement.id)))


def study_new_lesions(session: Session, study: m.ImagingStudy) -> list[m.NewLesion]:
    return list(session.exec(select(m.NewLesion).where(m.NewLesion.study_id == study.id).order_by(m.NewLesion.id)))


def last_measurement(session: Session, lesion: m.Lesion, before: date | None = None) -> tuple[m.LesionMeasurement, m.ImagingStudy] | None:
    stmt = (select(m.LesionMeasurement, m.ImagingStudy)
            .join(m.ImagingStudy, m.ImagingStudy.id == m.LesionMeasurement.study_id)
            .where(m.LesionMeasurement.lesion_id == lesion.id)
            .where(m.LesionMeasurement.size_mm.is_not(None))  # type: ignore[union-attr]
            .order_by(col(m.ImagingStudy.date).desc()))
    if before is not None:
        stmt = stmt.where(m.ImagingStudy.date < before)
    row = session.exec(stmt).first()
    return (row[0], row[1]) if row else None


def delete_record(session: Session, row: SQLModel) -> dict[str, int]:
    """Delete a row and what hangs off it.  Returns counts per table."""
    counts: dict[str, int] = {}

    def drop(rows: Iterable[SQLModel], name: str) -> None:
        for r in rows:
            session.delete(r)
            counts[name] = counts.get(name, 0) + 1

    if isinstance(row, m.ImagingStudy):
        drop(study_measurements(session, row), "measurement")
        drop(study_new_lesions(session, row), "new_lesion")
    elif isinstance(row, m.Lesion):
        drop(session.exec(select(m.LesionMeasurement).where(m.LesionMeasurement.lesion_id == row.id)), "measurement")
    elif isinstance(row, m.Patient):
        for study in records(session, m.ImagingStudy, row):
            drop(study_measurements(session, study), "measurement")
            drop(study_new_lesions(session, study), "new_lesion")
        session.flush()
        for model in (m.ImagingStudy, m.Lesion, m.TherapyLine, m.MarkerResult, m.BiopsyFinding,
                      m.Appointment, m.Note, m.Acknowledgement, m.Snooze):
            drop(session.exec(select(model).where(getattr(model, "patient_id") == row.id)), model.__tablename__)
    session.flush()  # children first: without ORM relationships the flush order is not guaranteed
    session.delete(row)
    counts[type(row).__tablename__] = counts.get(type(row).__tablename__, 0) + 1
    session.flush()
    return counts


# ---------------------------------------------------------------- therapy

def therapy_lines(session: Session, patient: m.Patient) -> list[m.TherapyLine]:
    return list(session.exec(select(m.TherapyLine).where(m.TherapyLine.patient_id == patient.id)
                             .order_by(m.TherapyLine.start_date, m.TherapyLine.id)))


def current_line(session: Session, patient: m.Patient, on: date | None = None) -> m.TherapyLine | None:
    lines = therapy_lines(session, patient)
    active = [ln for ln in lines if ln.end_date is None and (on is None or ln.start_date <= on)]
    return active[-1] if active else None


# ---------------------------------------------------------------- acknowledgements and snoozes

def acknowledgements(session: Session, patient: m.Patient) -> dict[str, m.Acknowledgement]:
    rows = session.exec(select(m.Acknowledgement).where(m.Acknowledgement.patient_id == patient.id))
    return {r.finding_id: r for r in rows}


def snoozes(session: Session, patient: m.Patient) -> dict[str, m.Snooze]:
    rows = session.exec(select(m.Snooze).where(m.Snooze.patient_id == patient.id))
    return {r.item_key: r for r in rows}


# ---------------------------------------------------------------- history for the rules

def _enum(enum_cls, value, default=None):
    if value is None:
        return default
    try:
        return enum_cls(value)
    except ValueError:
        return default


def patient_info(p: m.Patient) -> h.PatientInfo:
    """The patient as plain data; intervals not set for the patient stay ``None`` (configured default)."""
    schedule = h.Schedule(
        imaging_due_soon_weeks=p.imaging_due_soon_weeks, imaging_overdue_weeks=p.imaging_overdue_weeks,
        marker_due_soon_weeks=p.marker_due_soon_weeks, marker_overdue_weeks=p.marker_overdue_weeks,
    )
    return h.PatientInfo(
        id=p.id or 0, name=p.name, diagnosis_date=p.diagnosis_date, histology=p.histology,
        drivers=tuple(json.loads(p.drivers)) if p.drivers else (),
        smoking=_enum(SmokingStatus, p.smoking, SmokingStatus.UNKNOWN),
        schedule=schedule, ended_on=p.ended_on,
    )


def load_history(session: Session, patient: m.Patient) -> h.History:
    """Everything the rules need about one patient, as plain frozen data."""
    info = patient_info(patient)
    lines = tuple(
        h.TherapyLine(id=ln.id or 0, drug=ln.drug, start=ln.start_date, end=ln.end_date,
                      stop_reason=_enum(StopReason, ln.stop_reason))
        for ln in therapy_lines(session, patient)
    )
    lesion_rows = lesions(session, patient)
    lesion_objs = tuple(
        h.Lesion(id=le.id or 0, label=le.label, site=le.site, is_node=le.is_node, role=_enum(LesionRole, le.role))
        for le in lesion_rows
    )
    studies = []
    for st in records(session, m.ImagingStudy, patient):
        meas = tuple(
            h.Measurement(lesion_id=mm.lesion_id, size_mm=mm.size_mm,
                          status=_enum(MeasurementStatus, mm.status, MeasurementStatus.MEASURED))
            for mm in study_measurements(session, st)
        )
        new = tuple(
            h.NewLesion(site=nl.site, label=nl.label, is_node=nl.is_node, size_mm=nl.size_mm, equivocal=nl.equivocal)
            for nl in study_new_lesions(session, st)
        )
        studies.append(h.ImagingStudy(
            id=st.id or 0, date=st.date, modality=_enum(Modality, st.modality, Modality.CT),
            slice_thickness_mm=st.slice_thickness_mm, measurements=meas, new_lesions=new,
            non_target_status=_enum(NonTargetStatus, st.non_target_status), impression=st.impression))
    markers = tuple(
        h.MarkerResult(id=r.id or 0, date=r.date, marker=Marker(r.marker), value=r.value, unit=r.unit, uln=r.uln, lab=r.lab,
                       comparator=r.comparator)
        for r in records(session, m.MarkerResult, patient) if _enum(Marker, r.marker) is not None
    )
    biopsies = tuple(
        h.BiopsyFinding(id=b.id or 0, date=b.date, sample=_enum(Sample, b.sample, Sample.OTHER), gene=b.gene,
                        variant=b.variant, result=_enum(BiopsyResult, b.result, BiopsyResult.INDETERMINATE),
                        vaf=b.vaf, assay=b.assay, allele_context=_enum(AlleleContext, b.allele_context))
        for b in records(session, m.BiopsyFinding, patient)
    )
    appts = tuple(
        h.Appointment(id=a.id or 0, date=a.date, kind=_enum(AppointmentKind, a.kind, AppointmentKind.OTHER),
                      description=a.description, status=_enum(AppointmentStatus, a.status, AppointmentStatus.PLANNED))
        for a in records(session, m.Appointment, patient)
    )
    return h.History(patient=info, lines=lines, lesions=lesion_objs, studies=tuple(studies), markers=markers,
                     biopsies=biopsies, appointments=appts)
