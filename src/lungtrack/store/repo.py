"""The repository: typed functions over a session.  No printing, no prompts.

Commands call these inside one ``Store.transaction()``; errors are ``LungtrackError``s.
:func:`load_history` turns a patient's rows into the plain :class:`~lungtrack.core.history.History`
that the rules take.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Iterable, Iterator, Sequence, TypeVar

from sqlalchemy import func, true
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


def count_patients(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(m.Patient)).one())


def find_patient(session: Session, name: str | None, field: str = "--patient") -> m.Patient:
    """The patient named ``name`` (case-insensitive), or the default patient when ``None``.

    ``field`` is how the name was given on the command line, for the error message.  Indexed
    look-ups only (``lower(name)`` and ``is_default``): the cost does not grow with the store."""
    if name is None:
        is_default = col(m.Patient.is_default) == true()
        default = session.exec(select(m.Patient).where(is_default).order_by(col(m.Patient.id)).limit(1)).first()
        if default is not None:
            return default
        first_two = list(session.exec(select(m.Patient).order_by(col(m.Patient.name)).limit(2)))
        if not first_two:
            raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
        if len(first_two) == 1:
            return first_two[0]
        raise InputError("--patient", "", "a patient name", message=(
            f"--patient: this store holds several patients ({_some_names(session)}); name one with --patient NAME "
            "or set a default with: lungtrack patient default NAME"))
    found = patient_by_name(session, name)
    if found is not None:
        return found
    if session.exec(select(m.Patient.id).limit(1)).first() is None:
        raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
    raise InputError(field, name, f"one of: {_some_names(session)}")


def patient_by_name(session: Session, name: str) -> m.Patient | None:
    """The patient whose name equals ``name`` ignoring case and surrounding spaces, or None.

    Uses the ``lower(name)`` index (migration 0008).  SQLite's ``lower()`` folds ASCII only, so
    when the indexed look-up misses and the name has non-ASCII letters, the names are compared
    with ``str.casefold`` in Python (a scan, on that rare path only)."""
    wanted = name.strip().casefold()
    candidates = session.exec(select(m.Patient).where(func.lower(m.Patient.name) == name.strip().lower())).all()
    for p in candidates:
        if p.name.casefold() == wanted:
            return p
    if not name.isascii():
        for p in session.exec(select(m.Patient).where(func.lower(m.Patient.name) != name.strip().lower())):
            if p.name.casefold() == wanted:
                return p
    return None


def _some_names(session: Session, limit: int = 10) -> str:
    """Up to ``limit`` patient names for a message (never every name of a large store)."""
    names = list(session.exec(select(m.Patient.name).order_by(col(m.Patient.name)).limit(limit + 1)))
    shown = ", ".join(names[:limit])
    return shown + (", ... (see lungtrack patient list)" if len(names) > limit else "")


def select_patients(session: Session, name: str | None, all_patients: bool) -> list[m.Patient]:
    """Every patient when ``all_patients``; otherwise the one named (or the default patient)."""
    if all_patients:
        return list_patients(session)
    return [find_patient(session, name)]


def add_patient(session: Session, **fields: Any) -> m.Patient:
    name = fields["name"]
    if patient_by_name(session, name) is not None:
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
    """Make ``patient`` the default: only the rows that change are touched (no scan of every patient)."""
    for p in session.exec(select(m.Patient).where(col(m.Patient.is_default) == true())):
        if p.id != patient.id:
            p.is_default = False
            session.add(p)
    patient.is_default = True
    session.add(patient)


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


def patient_info(p: Any) -> h.PatientInfo:
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
    """Everything the rules need about one patient, as plain frozen data.

    A fixed handful of indexed queries (one per table; measurements and new lesions joined to
    their scans by patient), whatever the size of the patient's history or of the store."""
    return _build_histories(session, [patient])[0]


def load_histories(session: Session, patient_ids: Sequence[int]) -> list[h.History]:
    """The histories of a batch of patients, in the order of ``patient_ids``: one query per
    table (``WHERE patient_id IN (...)``), never one per patient or per record.

    Each history is identical to :func:`load_history` of that patient."""
    if not patient_ids:
        return []
    pt = m.Patient.__table__
    rows = session.connection().execute(select(pt).where(pt.c.id.in_(list(patient_ids)))).all()
    by_id = {r.id: r for r in rows}
    return _build_histories(session, [by_id[i] for i in patient_ids if i in by_id])


def iter_patient_batches(session: Session, batch_size: int = 200) -> Iterator[list[Any]]:
    """Every patient row (name order), in batches of ``batch_size``: keyset pagination on the
    unique name index, so memory stays flat however many patients the store holds."""
    pt = m.Patient.__table__
    last: str | None = None
    conn = session.connection()
    while True:
        stmt = select(pt).order_by(pt.c.name).limit(batch_size)
        if last is not None:
            stmt = stmt.where(pt.c.name > last)
        batch = conn.execute(stmt).all()
        if not batch:
            return
        yield list(batch)
        if len(batch) < batch_size:
            return
        last = batch[-1].name


def acks_and_snoozes(session: Session, patient_ids: Sequence[int]) -> tuple[dict[int, dict[str, Any]],
                                                                          dict[int, dict[str, date]]]:
    """Acknowledgements ({patient id: {finding id: {"at", "note"}}}) and snoozes
    ({patient id: {item key: until}}) of a batch of patients, one query each."""
    ids = list(patient_ids)
    conn = session.connection()
    at = m.Acknowledgement.__table__
    st = m.Snooze.__table__
    acks: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for r in conn.execute(select(at.c.patient_id, at.c.finding_id, at.c.created_at, at.c.note)
                          .where(at.c.patient_id.in_(ids)).order_by(at.c.id)):
        acks[r.patient_id][r.finding_id] = {"at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "note": r.note}
    snz: dict[int, dict[str, date]] = {i: {} for i in ids}
    for r in conn.execute(select(st.c.patient_id, st.c.item_key, st.c.until)
                          .where(st.c.patient_id.in_(ids)).order_by(st.c.id)):
        snz[r.patient_id][r.item_key] = r.until
    return acks, snz


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for r in rows:
        out.setdefault(r.patient_id, []).append(r)
    return out


#: The columns the rules read, per table, in the order of the history dataclasses' fields.
_LINE_SQL = ("SELECT patient_id, id, drug, start_date, end_date, stop_reason FROM therapy_line "
             "WHERE patient_id IN :ids ORDER BY start_date, id")
_LESION_SQL = "SELECT patient_id, id, label, site, is_node, role FROM lesion WHERE patient_id IN :ids ORDER BY id"
_STUDY_SQL = ("SELECT patient_id, id, date, modality, slice_thickness_mm, non_target_status, impression "
              "FROM imaging_study WHERE patient_id IN :ids ORDER BY date, id")
_MEASUREMENT_SQL = ("SELECT lm.study_id, lm.lesion_id, lm.size_mm, lm.status FROM lesion_measurement lm "
                    "JOIN imaging_study s ON s.id = lm.study_id WHERE s.patient_id IN :ids ORDER BY lm.id")
_NEW_LESION_SQL = ("SELECT nl.study_id, nl.site, nl.label, nl.is_node, nl.size_mm, nl.equivocal FROM new_lesion nl "
                   "JOIN imaging_study s ON s.id = nl.study_id WHERE s.patient_id IN :ids ORDER BY nl.id")
_MARKER_SQL = ("SELECT patient_id, id, date, marker, value, unit, uln, lab, comparator FROM marker_result "
               "WHERE patient_id IN :ids ORDER BY date, id")
_BIOPSY_SQL = ("SELECT patient_id, id, date, sample, gene, variant, result, vaf, assay, allele_context "
               "FROM biopsy_finding WHERE patient_id IN :ids ORDER BY date, id")
_APPOINTMENT_SQL = ("SELECT patient_id, id, date, kind, description, status FROM appointment "
                    "WHERE patient_id IN :ids ORDER BY date, id")


def _raw_rows(conn: Any, sql: str, ids: list[int]) -> list[tuple[Any, ...]]:
    """The rows of one query as the driver's plain tuples (no per-row SQLAlchemy processing),
    on the session's connection (same transaction, same statement events)."""
    style = conn.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):  # a driver we do not know: through SQLAlchemy
        from sqlalchemy import bindparam, text

        stmt = text(sql).bindparams(bindparam("ids", expanding=True))
        return [tuple(r) for r in conn.execute(stmt, {"ids": ids}).all()]
    mark = "?" if style == "qmark" else "%s"
    result = conn.exec_driver_sql(sql.replace(":ids", "(" + ",".join([mark] * len(ids)) + ")"), tuple(ids))
    try:
        cursor = getattr(result, "cursor", None)
        return cursor.fetchall() if cursor is not None else [tuple(r) for r in result.all()]
    finally:
        result.close()


def _date_reader() -> Any:
    """``value`` as a ``date``: drivers that return ISO strings (SQLite) are parsed once per
    distinct string (a batch repeats the same few thousand dates); ``date`` values pass."""
    cache: dict[Any, Any] = {}
    parse = date.fromisoformat

    def read(value: Any) -> Any:
        if value is None or type(value) is date:
            return value
        try:
            return cache[value]
        except KeyError:
            cache[value] = result = parse(value[:10]) if isinstance(value, str) else value
            return result

    return read


def _build_histories(session: Session, patients: Sequence[Any]) -> list[h.History]:
    """Histories for patient rows (ORM objects or Core rows): one query per table, only the
    columns the rules read (no audit timestamps), as plain driver tuples; dates parsed once per
    distinct string and enum values looked up in dicts (a batch repeats the same few values)."""
    if not patients:
        return []
    ids = [p.id for p in patients]
    conn = session.connection()
    day = _date_reader()
    status_of, modality_of, nts_of = _values(MeasurementStatus), _values(Modality), _values(NonTargetStatus)
    marker_of, stop_of, role_of = _values(Marker), _values(StopReason), _values(LesionRole)
    sample_of, result_of, allele_of = _values(Sample), _values(BiopsyResult), _values(AlleleContext)
    kind_of, appt_status_of = _values(AppointmentKind), _values(AppointmentStatus)

    def grouped(sql: str) -> dict[int, list[tuple[Any, ...]]]:
        out: dict[int, list[tuple[Any, ...]]] = {}
        for r in _raw_rows(conn, sql, ids):
            rows = out.get(r[0])
            if rows is None:
                out[r[0]] = [r]
            else:
                rows.append(r)
        return out

    Measurement, NewLesion, Study = h.Measurement, h.NewLesion, h.ImagingStudy
    measured = MeasurementStatus.MEASURED
    meas: dict[int, list[h.Measurement]] = {}
    for study_id, lesion_id, size_mm, status in _raw_rows(conn, _MEASUREMENT_SQL, ids):
        m_ = Measurement(lesion_id, size_mm, status_of(status, measured))
        rows_ = meas.get(study_id)
        if rows_ is None:
            meas[study_id] = [m_]
        else:
            rows_.append(m_)
    new: dict[int, list[h.NewLesion]] = {}
    for study_id, site, label, is_node, size_mm, equivocal in _raw_rows(conn, _NEW_LESION_SQL, ids):
        new.setdefault(study_id, []).append(NewLesion(site, label, bool(is_node), size_mm, bool(equivocal)))
    lines = grouped(_LINE_SQL)
    lesion_rows = grouped(_LESION_SQL)
    study_rows = grouped(_STUDY_SQL)
    marker_rows = grouped(_MARKER_SQL)
    biopsy_rows = grouped(_BIOPSY_SQL)
    appt_rows = grouped(_APPOINTMENT_SQL)

    ct = Modality.CT
    empty: tuple[Any, ...] = ()
    out = []
    for p in patients:
        pid = p.id
        studies = tuple(
            Study(sid or 0, day(sdate), modality_of(modality, ct), slice_mm,
                  tuple(meas.get(sid, empty)), tuple(new.get(sid, empty)),
                  nts_of(nts), impression)
            for _pid, sid, sdate, modality, slice_mm, nts, impression in study_rows.get(pid, empty))
        markers = []
        for _pid, rid, rdate, marker, value, unit, uln, lab, comparator in marker_rows.get(pid, empty):
            mk = marker_of(marker)
            if mk is not None:
                markers.append(h.MarkerResult(rid or 0, day(rdate), mk, value, unit, uln, lab, comparator))
        out.append(h.History(
            patient=patient_info(p),
            lines=tuple(h.TherapyLine(lid or 0, drug, day(start), day(end), stop_of(stop))
                        for _pid, lid, drug, start, end, stop in lines.get(pid, empty)),
            lesions=tuple(h.Lesion(lid or 0, label, site, bool(is_node), role_of(role))
                          for _pid, lid, label, site, is_node, role in lesion_rows.get(pid, empty)),
            studies=studies,
            markers=tuple(markers),
            biopsies=tuple(h.BiopsyFinding(bid or 0, day(bdate), sample_of(sample, Sample.OTHER), gene, variant,
                                           result_of(result, BiopsyResult.INDETERMINATE), vaf, assay,
                                           allele_of(allele))
                           for _pid, bid, bdate, sample, gene, variant, result, vaf, assay, allele
                           in biopsy_rows.get(pid, empty)),
            appointments=tuple(h.Appointment(aid or 0, day(adate), kind_of(kind, AppointmentKind.OTHER),
                                             desc, appt_status_of(status, AppointmentStatus.PLANNED))
                               for _pid, aid, adate, kind, desc, status in appt_rows.get(pid, empty)),
        ))
    return out


def _values(enum_cls: Any) -> Any:
    """``lookup(value, default=None)``: the member of ``enum_cls`` with that stored value, else
    ``default`` - what :func:`_enum` returns, as one dict look-up (the enums have no ``_missing_``)."""
    return {member.value: member for member in enum_cls}.get
