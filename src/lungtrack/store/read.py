"""Reading the store without the ORM: plain SQLAlchemy Core over :mod:`lungtrack.store.tables`.

Every read-only command (``check``, ``response``, ``remind``, ``summary``, ``report``...) and the
all-patient commands use these functions, which take a Core ``Connection`` (``Store.read()``, or
``session.connection()`` inside a write).  Importing this module does not import SQLModel,
pydantic or ``sqlalchemy.orm``: a one-patient check costs its few indexed queries, not the
building of the ORM classes.  :mod:`lungtrack.store.repo` keeps the ORM side (the writer's) and
calls these for the look-ups both need, so there is one implementation of each.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from sqlalchemy import func, select, true
from sqlalchemy.engine import Connection

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

if TYPE_CHECKING:  # imported where used: a write that only looks a patient up does not build them
    from lungtrack.core import history as h


def _tables() -> Any:
    """The tables to query: in a process that uses the ORM (a write command), the table of each
    model class already built, so no second copy is made; else the Core ones of
    :mod:`lungtrack.store.tables`.  They are the same tables (tests/test_tables.py)."""
    if "sqlmodel" in sys.modules:
        return _OrmFirst
    from lungtrack.store import tables

    return tables


class _OrmFirstTables:
    def __getattr__(self, name: str) -> Any:
        from lungtrack.store.models import table

        return table(name)


_OrmFirst = _OrmFirstTables()

# ---------------------------------------------------------------- patients


def find_patient(conn: Connection, name: str | None, field: str = "--patient") -> Any:
    """The patient row named ``name`` (case-insensitive), or the default patient when ``None``.

    ``field`` is how the name was given on the command line, for the error message.  Indexed
    look-ups only (``lower(name)`` and ``is_default``): the cost does not grow with the store."""
    t = _tables()
    pt = t.patient
    if name is None:
        default = conn.execute(select(pt).where(pt.c.is_default == true()).order_by(pt.c.id).limit(1)).first()
        if default is not None:
            return default
        first_two = conn.execute(select(pt).order_by(pt.c.name).limit(2)).all()
        if not first_two:
            raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
        if len(first_two) == 1:
            return first_two[0]
        raise InputError("--patient", "", "a patient name", message=(
            f"--patient: this store holds several patients ({some_names(conn)}); name one with --patient NAME "
            "or set a default with: lungtrack patient default NAME"))
    found = patient_by_name(conn, name)
    if found is not None:
        return found
    if conn.execute(select(pt.c.id).limit(1)).first() is None:
        raise NotFoundError("No patients in this store yet. Add one with: lungtrack patient add NAME")
    raise InputError(field, name, f"one of: {some_names(conn)}")


def patient_by_name(conn: Connection, name: str) -> Any | None:
    """The patient row whose name equals ``name`` ignoring case and surrounding spaces, or None.

    Uses the ``lower(name)`` index (migration 0008).  SQLite's ``lower()`` folds ASCII only, so
    when the indexed look-up misses and the name has non-ASCII letters, the names are compared
    with ``str.casefold`` in Python (a scan, on that rare path only)."""
    t = _tables()
    pt = t.patient
    wanted = name.strip().casefold()
    for p in conn.execute(select(pt).where(func.lower(pt.c.name) == name.strip().lower())).all():
        if p.name.casefold() == wanted:
            return p
    if not name.isascii():
        for p in conn.execute(select(pt).where(func.lower(pt.c.name) != name.strip().lower())):
            if p.name.casefold() == wanted:
                return p
    return None


def some_names(conn: Connection, limit: int = 10) -> str:
    """Up to ``limit`` patient names for a message (never every name of a large store)."""
    t = _tables()
    pt = t.patient
    names = list(conn.execute(select(pt.c.name).order_by(pt.c.name).limit(limit + 1)).scalars())
    shown = ", ".join(names[:limit])
    return shown + (", ... (see lungtrack patient list)" if len(names) > limit else "")


def list_patients(conn: Connection) -> list[Any]:
    t = _tables()
    pt = t.patient
    return list(conn.execute(select(pt).order_by(pt.c.name)).all())


def select_patients(conn: Connection, name: str | None, all_patients: bool) -> list[Any]:
    """Every patient when ``all_patients``; otherwise the one named (or the default patient)."""
    if all_patients:
        return list_patients(conn)
    return [find_patient(conn, name)]


def count_patients(conn: Connection) -> int:
    t = _tables()
    return int(conn.execute(select(func.count()).select_from(t.patient)).scalar_one())


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
    from lungtrack.core import history as h

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


def load_history(conn: Connection, patient: Any) -> h.History:
    """Everything the rules need about one patient, as plain frozen data.

    A fixed handful of indexed queries (one per table; measurements and new lesions joined to
    their scans by patient), whatever the size of the patient's history or of the store."""
    return build_histories(conn, [patient])[0]


def load_histories(conn: Connection, patient_ids: Sequence[int]) -> list[h.History]:
    """The histories of a batch of patients, in the order of ``patient_ids``: one query per
    table (``WHERE patient_id IN (...)``), never one per patient or per record.

    Each history is identical to :func:`load_history` of that patient."""
    t = _tables()
    if not patient_ids:
        return []
    pt = t.patient
    rows = conn.execute(select(pt).where(pt.c.id.in_(list(patient_ids)))).all()
    by_id = {r.id: r for r in rows}
    return build_histories(conn, [by_id[i] for i in patient_ids if i in by_id])


def iter_patient_batches(conn: Connection, batch_size: int = 200) -> Iterator[list[Any]]:
    """Every patient row (name order), in batches of ``batch_size``: keyset pagination on the
    unique name index, so memory stays flat however many patients the store holds."""
    t = _tables()
    pt = t.patient
    last: str | None = None
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


def acks_and_snoozes(conn: Connection, patient_ids: Sequence[int]) -> tuple[dict[int, dict[str, Any]],
                                                                          dict[int, dict[str, date]]]:
    """Acknowledgements ({patient id: {finding id: {"at", "note"}}}) and snoozes
    ({patient id: {item key: until}}) of a batch of patients, one query each."""
    t = _tables()
    ids = list(patient_ids)
    at = t.acknowledgement
    st = t.snooze
    acks: dict[int, dict[str, Any]] = {i: {} for i in ids}
    for r in conn.execute(select(at.c.patient_id, at.c.finding_id, at.c.created_at, at.c.note)
                          .where(at.c.patient_id.in_(ids)).order_by(at.c.id)):
        acks[r.patient_id][r.finding_id] = {"at": r.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "note": r.note}
    snz: dict[int, dict[str, date]] = {i: {} for i in ids}
    for r in conn.execute(select(st.c.patient_id, st.c.item_key, st.c.until)
                          .where(st.c.patient_id.in_(ids)).order_by(st.c.id)):
        snz[r.patient_id][r.item_key] = r.until
    return acks, snz


#: The columns the rules read, per table, in the order of the history dataclasses' fields.  Rows
#: are grouped by patient (and measurements by scan) as they are read, so only the order within a
#: patient (a scan) matters; where an index gives it (``(patient_id, date)`` and the row id),
#: ``ORDER BY patient_id`` first lets SQLite read the rows in index order instead of sorting them
#: (measurements: by patient, scan and row id; each scan's rows stay in row-id order).
_LINE_SQL = ("SELECT patient_id, id, drug, start_date, end_date, stop_reason FROM therapy_line "
             "WHERE patient_id IN :ids ORDER BY start_date, id")
_LESION_SQL = ("SELECT patient_id, id, label, site, is_node, role FROM lesion WHERE patient_id IN :ids "
               "ORDER BY patient_id, id")
_STUDY_SQL = ("SELECT patient_id, id, date, modality, slice_thickness_mm, non_target_status, impression "
              "FROM imaging_study WHERE patient_id IN :ids ORDER BY patient_id, date, id")
_MEASUREMENT_SQL = ("SELECT lm.study_id, lm.lesion_id, lm.size_mm, lm.status FROM imaging_study s "
                    "JOIN lesion_measurement lm ON lm.study_id = s.id WHERE s.patient_id IN :ids "
                    "ORDER BY s.patient_id, s.id, lm.id")
_NEW_LESION_SQL = ("SELECT nl.study_id, nl.site, nl.label, nl.is_node, nl.size_mm, nl.equivocal FROM new_lesion nl "
                   "JOIN imaging_study s ON s.id = nl.study_id WHERE s.patient_id IN :ids ORDER BY nl.id")
_MARKER_SQL = ("SELECT patient_id, id, date, marker, value, unit, uln, lab, comparator FROM marker_result "
               "WHERE patient_id IN :ids ORDER BY patient_id, date, id")
_BIOPSY_SQL = ("SELECT patient_id, id, date, sample, gene, variant, result, vaf, assay, allele_context "
               "FROM biopsy_finding WHERE patient_id IN :ids ORDER BY patient_id, date, id")
_APPOINTMENT_SQL = ("SELECT patient_id, id, date, kind, description, status FROM appointment "
                    "WHERE patient_id IN :ids ORDER BY date, id")


def _raw_rows(conn: Connection, sql: str, ids: list[int]) -> list[tuple[Any, ...]]:
    """The rows of one query as the driver's plain tuples (no per-row SQLAlchemy processing),
    on the given connection (same transaction, same statement events)."""
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


def _date_reader() -> tuple[Any, Any]:
    """``(read, seen)``: ``read(value)`` is ``value`` as a ``date``: drivers that return ISO
    strings (SQLite) are parsed once per distinct string (a batch repeats the same few thousand
    dates); ``date`` values pass.  ``seen(value)`` is ``read(value)`` for a value already read,
    else None: one dict look-up, no call."""
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

    return read, cache.get


def build_histories(conn: Connection, patients: Sequence[Any]) -> list[h.History]:
    """Histories for patient rows (ORM objects or Core rows): one query per table, only the
    columns the rules read (no audit timestamps), as plain driver tuples; dates parsed once per
    distinct string and enum values looked up in dicts (a batch repeats the same few values)."""
    from lungtrack.core import history as h

    if not patients:
        return []
    ids = [p.id for p in patients]
    day, seen_day = _date_reader()  # seen_day(v) or day(v): a string already read without the call
    status_of, modality_of, nts_of = _values(MeasurementStatus), _values(Modality), _values(NonTargetStatus)
    marker_of, stop_of, role_of = _values(Marker), _values(StopReason), _values(LesionRole)
    sample_of, result_of, allele_of = _values(Sample), _values(BiopsyResult), _values(AlleleContext)
    kind_of, appt_status_of = _values(AppointmentKind), _values(AppointmentStatus)

    first = itemgetter(0)

    def grouped(sql: str) -> dict[int, list[tuple[Any, ...]]]:
        # the rows of one patient come one after the other (ORDER BY patient_id first) or not
        # (lines, lesions, appointments): either way each patient's rows keep the query's order
        out: dict[int, list[tuple[Any, ...]]] = {}
        for key, run in groupby(_raw_rows(conn, sql, ids), first):
            rows = out.get(key)
            if rows is None:
                out[key] = list(run)
            else:
                rows.extend(run)
        return out

    Measurement, NewLesion, Study, MarkerResult = h.Measurement, h.NewLesion, h.ImagingStudy, h.MarkerResult
    measured = MeasurementStatus.MEASURED
    meas: dict[int, list[h.Measurement]] = {}
    for study_id, run in groupby(_raw_rows(conn, _MEASUREMENT_SQL, ids), first):  # one scan's rows together
        ms = [Measurement(lesion_id, size_mm, status_of(status, measured)) for _sid, lesion_id, size_mm, status in run]
        rows_ = meas.get(study_id)
        if rows_ is None:
            meas[study_id] = ms
        else:
            rows_.extend(ms)
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
            Study(sid or 0, seen_day(sdate) or day(sdate), modality_of(modality, ct), slice_mm,
                  tuple(meas.get(sid, empty)), tuple(new.get(sid, empty)),
                  nts_of(nts), impression)
            for _pid, sid, sdate, modality, slice_mm, nts, impression in study_rows.get(pid, empty))
        markers = [MarkerResult(rid or 0, seen_day(rdate) or day(rdate), mk, value, unit, uln, lab, comparator)
                   for _pid, rid, rdate, marker, value, unit, uln, lab, comparator in marker_rows.get(pid, empty)
                   if (mk := marker_of(marker)) is not None]
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


# ---------------------------------------------------------------- every record, for the exports

_TAIL = ("source", "created_at", "updated_at")


def row_data(table: Any, row: Any) -> dict[str, Any]:
    """A row as JSON-ready data, keys in the order of :func:`lungtrack.store.repo.row_dict`
    (``id`` first, the audit columns last): ISO dates, UTC timestamps with 'Z', JSON columns decoded."""
    from datetime import datetime

    names = [c.name for c in table.columns]
    tail = [n for n in _TAIL if n in names]
    out: dict[str, Any] = {}
    for key in ["id"] + [n for n in names if n != "id" and n not in tail] + tail:
        value = row[key]
        if key in ("subtypes", "drivers") and isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, date):
            value = value.isoformat()
        out[key] = value
    return out


def patient_records(conn: Connection, patients: Sequence[Any]) -> list[dict[str, Any]]:
    """Every record of each patient row, as ``lungtrack export json`` writes it (format v2), for a
    batch of patients: one query per table for the whole batch, never one per record."""
    t = _tables()
    if not patients:
        return []
    ids = [p.id for p in patients]

    def by_patient(table: Any, *order: Any) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for r in conn.execute(select(table).where(table.c.patient_id.in_(ids)).order_by(*order)).mappings():
            out.setdefault(r["patient_id"], []).append(row_data(table, r))
        return out

    pi, tl, le, st = t.patient_identifier, t.therapy_line, t.lesion, t.imaging_study
    lm, nl = t.lesion_measurement, t.new_lesion
    identifiers: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(select(pi.c.patient_id, pi.c.system, pi.c.value).where(pi.c.patient_id.in_(ids))
                          .order_by(pi.c.id)):
        identifiers.setdefault(r.patient_id, []).append({"system": r.system, "value": r.value})
    measurements: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(select(lm.c.study_id, lm.c.id, lm.c.lesion_id, le.c.label, le.c.site, le.c.is_node,
                                 lm.c.size_mm, lm.c.status)
                          .join(st, st.c.id == lm.c.study_id).join(le, le.c.id == lm.c.lesion_id)
                          .where(st.c.patient_id.in_(ids)).order_by(lm.c.id)):
        measurements.setdefault(r.study_id, []).append({
            "id": r.id, "lesion_id": r.lesion_id, "label": r.label, "site": r.site, "is_node": r.is_node,
            "size_mm": r.size_mm, "unit": "mm", "status": r.status})
    new_lesions: dict[int, list[dict[str, Any]]] = {}
    for r in conn.execute(select(nl.c.study_id, nl.c.id, nl.c.lesion_id, nl.c.label, nl.c.site, nl.c.is_node,
                                 nl.c.size_mm, nl.c.equivocal)
                          .join(st, st.c.id == nl.c.study_id).where(st.c.patient_id.in_(ids)).order_by(nl.c.id)):
        new_lesions.setdefault(r.study_id, []).append({
            "id": r.id, "lesion_id": r.lesion_id, "label": r.label, "site": r.site, "is_node": r.is_node,
            "size_mm": r.size_mm, "unit": "mm", "equivocal": r.equivocal})
    lines = by_patient(tl, tl.c.start_date, tl.c.id)
    lesions = by_patient(le, le.c.id)
    scans = by_patient(st, st.c.date, st.c.id)
    for studies in scans.values():
        for s in studies:
            s["measurements"] = measurements.get(s["id"], [])
            s["new_lesions"] = new_lesions.get(s["id"], [])
    markers = by_patient(t.marker_result, t.marker_result.c.date, t.marker_result.c.id)
    biopsies = by_patient(t.biopsy_finding, t.biopsy_finding.c.date, t.biopsy_finding.c.id)
    appointments = by_patient(t.appointment, t.appointment.c.date, t.appointment.c.id)
    notes = by_patient(t.note, t.note.c.date, t.note.c.id)
    acks = by_patient(t.acknowledgement, t.acknowledgement.c.id)
    snoozes = by_patient(t.snooze, t.snooze.c.id)
    out = []
    for p in patients:
        patient = row_data(t.patient, p._mapping if hasattr(p, "_mapping") else
                            {c.name: getattr(p, c.name) for c in t.patient.columns})
        patient["identifiers"] = identifiers.get(p.id, [])
        out.append({
            "patient": patient, "therapy_lines": lines.get(p.id, []), "lesions": lesions.get(p.id, []),
            "scans": scans.get(p.id, []), "marker_results": markers.get(p.id, []),
            "biopsy_findings": biopsies.get(p.id, []), "appointments": appointments.get(p.id, []),
            "notes": notes.get(p.id, []), "acknowledgements": acks.get(p.id, []), "snoozes": snoozes.get(p.id, []),
        })
    return out
