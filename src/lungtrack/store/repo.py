"""The repository: typed functions over a session.  No printing, no prompts.

Commands call these inside one ``Store.transaction()``; errors are ``LungtrackError``s.
:func:`load_history` turns a patient's rows into the plain :class:`~lungtrack.core.history.History`
that the rules take.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Iterable, Sequence, TypeVar

from sqlmodel import Session, SQLModel, col, select

from lungtrack.errors import NotFoundError
from lungtrack.store import models as m
from lungtrack.store import read

if TYPE_CHECKING:
    from lungtrack.core import history as h
from lungtrack.store.models import utcnow

T = TypeVar("T", bound=SQLModel)

# ---------------------------------------------------------------- patients

def list_patients(session: Session) -> list[m.Patient]:
    return list(session.exec(select(m.Patient).order_by(col(m.Patient.name))))


def find_patient(session: Session, name: str | None, field: str = "--patient") -> m.Patient:
    """The patient named ``name`` (case-insensitive), or the default patient when ``None``, as an
    ORM object (:func:`lungtrack.store.read.find_patient` finds it: indexed look-ups only)."""
    row = read.find_patient(session.connection(), name, field)
    return _patient(session, row.id)


def patient_by_name(session: Session, name: str) -> m.Patient | None:
    """The patient whose name equals ``name`` ignoring case and surrounding spaces, or None."""
    row = read.patient_by_name(session.connection(), name)
    return None if row is None else _patient(session, row.id)


def _patient(session: Session, patient_id: int) -> m.Patient:
    patient = session.get(m.Patient, patient_id)
    if patient is None:  # pragma: no cover - the row was just read in this transaction
        raise NotFoundError(f"patient {patient_id} is no longer in the store")
    return patient


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
    """A row as JSON-ready data: ISO dates, UTC timestamps with 'Z', JSON columns decoded
    (:func:`lungtrack.store.read.row_data`, which the exports use on Core rows)."""
    table = row.__table__  # type: ignore[attr-defined]
    return read.row_data(table, {c.name: getattr(row, c.name) for c in table.columns})


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

def load_history(session: Session, patient: Any) -> h.History:
    """Everything the rules need about one patient, as plain frozen data (:func:`lungtrack.store.read.load_history`)."""
    return read.build_histories(session.connection(), [patient])[0]


def load_histories(session: Session, patient_ids: Sequence[int]) -> list[h.History]:
    """The histories of a batch of patients (:func:`lungtrack.store.read.load_histories`)."""
    return read.load_histories(session.connection(), patient_ids)


