"""``Writer.apply_import``: an :class:`~lungtrack.records.inputs.ImportPlan` into the store.

1. Each batch's patient is resolved without guessing (identifiers, then source base + local
   id, then - only for input where the person names the patient - the name), or created from
   the batch's ``patient_input``.
2. Every record is validated in memory against that one patient's loaded state (therapy
   lines, what is already stored by external id and by content).  Any invalid record refuses
   the whole plan: :class:`~lungtrack.errors.RecordsRefused` lists every problem with its origin.
3. New rows are inserted in bulk (SQLAlchemy Core executemany, ids returned in order) and
   journalled as one ``insert-ids`` entry per table; rows already present are counted, rows
   whose external id is stored with other values are updated ("changed").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from lungtrack.errors import InputError, RecordsRefused
from lungtrack.records import checks as ck
from lungtrack.records.inputs import (
    ImportBatch,
    ImportPlan,
    ImportResult,
    PatientRef,
    Problem,
)
from lungtrack.store import read
from lungtrack.store.bulk import bulk_insert
from lungtrack.store.clock import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from lungtrack.records.writer import Writer

#: Plans whose patients the person names (so a name may identify the patient).
NAMED_KINDS = frozenset({"csv", "json", "manual", "demo"})


def patient_key(ref: PatientRef) -> str | None:
    """The ``external_id`` stored on a patient created from ``ref``."""
    if ref.local_id is None:
        return None
    return f"{ref.source_base}|Patient/{ref.local_id}" if ref.source_base else f"Patient/{ref.local_id}"


def resolve_patient(w: Writer, ref: PatientRef, kind: str) -> tuple[Any | None, str | None]:
    """(patient row or None, problem).  Never by a local id alone."""
    t = read._tables()
    pt, ident = t.patient, t.patient_identifier
    found: dict[int, Any] = {}
    for system, value in ref.identifiers:
        row = w._first(select(ident).where(ident.c.system == system, ident.c.value == value).order_by(ident.c.id))
        if row is not None:
            found[row.patient_id] = w.patient_values(row.patient_id)
    if ref.local_id is not None and ref.source_base:
        for p in w._rows(select(pt).where(pt.c.external_id == patient_key(ref)).order_by(pt.c.id)):
            found[p.id] = p
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found.values()))
        return None, (f"patient: the identifiers of this patient match {len(found)} different patients ({names}); "
                      "expected identifiers of one patient; nothing was imported.")
    if found:
        return next(iter(found.values())), None
    if ref.local_id is not None and not ref.source_base and ref.name:
        # no base URL: the local id only counts together with the same name
        for p in w._rows(select(pt).where(pt.c.external_id == patient_key(ref)).order_by(pt.c.id)):
            if p.name.casefold() == ref.name.casefold():
                return p, None
    if ref.name and kind in NAMED_KINDS:
        found_row = read.patient_by_name(w.conn, ref.name)
        if found_row is not None:
            return w.patient_values(found_row.id), None
    return None, None


class _State:
    """One patient's stored records, loaded once, for validation in memory."""

    def __init__(self, w: Writer, p: Any | None):
        self.spans: list[ck.Span] = []
        self.ext: dict[str, dict[str, Any]] = {}  # table -> external_id -> row
        self.keys: dict[str, set[Any]] = {t: set() for t in ("marker", "appointment", "scan", "biopsy", "note", "therapy")}
        self.birth = p.birth_date if p is not None else None
        if p is None:
            return
        t = read._tables()
        tl = t.therapy_line
        for ln in w._rows(select(tl).where(tl.c.patient_id == p.id).order_by(tl.c.start_date, tl.c.id)):
            self.spans.append(ck.Span(ln.id, ln.drug, ln.start_date, ln.end_date))
            self.keys["therapy"].add((ln.drug, ln.start_date))
            self._ext("therapy_line", ln)
        w._sync()
        for table, kind, key in (
            (t.marker_result, "marker", lambda r: (r.marker, r.date, r.value, r.comparator)),
            (t.appointment, "appointment", lambda r: (r.date, r.kind, r.status)),
            (t.imaging_study, "scan", lambda r: (r.date, r.modality)),
            (t.biopsy_finding, "biopsy", lambda r: (r.date, r.sample, r.gene, r.variant)),
            (t.note, "note", lambda r: (r.date, r.text)),
        ):
            for r in w.conn.execute(select(table).where(table.c.patient_id == p.id)):
                self.keys[kind].add(key(r))
                if r.external_id:
                    self.ext.setdefault(table.name, {})[r.external_id] = r

    def _ext(self, table: str, row: Any) -> None:
        if row.external_id:
            self.ext.setdefault(table, {})[row.external_id] = row


def apply_import(w: Writer, plan: ImportPlan, *, dry_run: bool = False, patient: Any | None = None) -> ImportResult:
    """Validate the whole plan against the store, then write it (SQLAlchemy Core on the
    writer's connection: no ORM).  ``patient``: a row or an ORM patient (``--patient``)."""
    problems: list[Problem] = []
    added: Counter[str] = Counter()
    already: Counter[str] = Counter()
    changed: Counter[str] = Counter()
    skipped: Counter[tuple[str, str]] = Counter({(t, r): n for t, r, n in plan.skipped})
    notes: list[str] = []
    patients: list[tuple[int | None, str, str]] = []
    if patient is not None and len({b.patient for b in plan.batches}) > 1:
        raise InputError("--patient", patient.name, "files holding one patient", message=(
            f"--patient: the files hold {len(plan.batches)} patients; import them without --patient "
            "(each becomes its own patient); nothing was imported."))

    # ---- 1. patients
    targets: list[tuple[ImportBatch, Any | None, _State]] = []
    for batch in plan.batches:
        origin = batch.patient_input.source.origin if batch.patient_input else None
        if patient is not None:
            p, problem = patient, None
        else:
            p, problem = resolve_patient(w, batch.patient, plan.kind)
        if problem:
            problems.append(Problem(origin, "patient", problem))
            continue
        if p is None:
            inp = batch.patient_input
            if inp is None:
                # records of a patient neither in the import nor (identified) in the store: counted, not guessed
                why = "its patient is neither in the import nor in the store; name one with --patient"
                for kind, items in (("therapy", batch.therapies), ("scan", batch.scans), ("marker", batch.markers),
                                    ("biopsy", batch.biopsies), ("appointment", batch.appointments),
                                    ("note", batch.notes)):
                    if items:
                        skipped[(kind, why)] += len(items)
                continue
            # resolve_patient has just looked this name up (nothing is written before step 3)
            by_name_already = patient is None and plan.kind in NAMED_KINDS and bool(batch.patient.name) \
                and batch.patient.name == inp.name
            if not by_name_already and read.patient_by_name(w.conn, inp.name) is not None:
                problems.append(Problem(origin, "--patient", (
                    f"--patient: a patient called {inp.name!r} is already in this store but is not known by this "
                    f"import's identifiers ({patient_key(batch.patient) or 'none'}); to add the records to that "
                    f"patient use --patient {inp.name!r}; nothing was imported.")))
                continue
            problems.extend(w._patient_problems(inp, None))
            patients.append((None, inp.name, "created"))
            added["patient"] += 1
        else:
            patients.append((p.id, p.name, "matched"))
            already["patient"] += 1
        targets.append((batch, p, _State(w, p)))

    # ---- 2. validate every record in memory
    pending: list[tuple[ImportBatch, Any | None, dict[str, list[dict[str, Any]]], list[Any]]] = []
    for batch, p, state in targets:
        rows: dict[str, list[dict[str, Any]]] = {"marker_result": [], "appointment": [], "note": [], "biopsy_finding": []}
        orm_ops: list[Any] = []  # (kind, payload) written through the writer
        birth = state.birth or (batch.patient_input.birth_date if batch.patient_input else None)
        _therapies(w, batch, state, birth, problems, orm_ops, already, changed)
        _scans(w, batch, state, birth, problems, orm_ops, already)
        _markers(w, batch, state, birth, problems, rows["marker_result"], already, changed, orm_ops)
        _simple(w, batch, state, birth, problems, rows, already)
        pending.append((batch, p, rows, orm_ops))
    if problems:
        raise RecordsRefused(tuple(problems), what="nothing was imported")

    for _b, _p, rows, ops in pending:
        for table, items in rows.items():
            added[_KIND_OF[table]] += len(items)
        for op in ops:
            if op[0] in ("therapy", "scan"):
                added[op[0]] += 1
            elif op[0] == "update":
                changed[op[1]] += 1
    if dry_run:
        return ImportResult(plan.kind, plan.source_label, True, None, tuple(patients), _t(added), _t(already),
                            _t(changed), tuple((t, r, n) for (t, r), n in sorted(skipped.items())), tuple(notes))

    # ---- 3. write
    now = utcnow()
    out_patients = []
    for (batch, p, rows, ops), (_pid, pname, how) in zip(pending, patients):
        if p is None:
            inp = batch.patient_input
            assert inp is not None
            from dataclasses import replace

            from lungtrack.records.inputs import Source

            src = Source(inp.source.label, inp.source.external_id or patient_key(batch.patient), inp.source.origin)
            extra = {"ended_on": inp.deceased_date, "ended_reason": "deceased"} if inp.deceased_date else {}
            p = w.patient_values(w.add_patient(replace(inp, source=src), **extra).ids[0])
        else:
            _fill_patient(w, p, batch, notes)
        out_patients.append((p.id, p.name, how))
        for op in ops:
            if op[0] != "scan":
                _run_op(w, p, op)
        _write_scans(w, p, [op for op in ops if op[0] == "scan"], now, new_patient=how == "created")
        for table, items in rows.items():
            if not items:
                continue
            for r in items:
                r.update(patient_id=p.id, created_at=now, updated_at=now)
            w.recorder.add_inserted_ids(table, bulk_insert(w.conn, getattr(read._tables(), table), items))
    w._sync()
    total = sum(added.values()) - added.get("patient", 0)
    w.kind = "import"
    w.say(f"import {plan.kind} {plan.source_label}: {total} record(s) added")
    return ImportResult(plan.kind, plan.source_label, False, None, tuple(out_patients), _t(added), _t(already),
                        _t(changed), tuple((t, r, n) for (t, r), n in sorted(skipped.items())), tuple(notes))


_KIND_OF = {"marker_result": "marker", "appointment": "appointment", "note": "note", "biopsy_finding": "biopsy"}


def _t(c: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((k, v) for k, v in c.items() if v))


def _fill_patient(w: Writer, p: Any, batch: ImportBatch, notes: list[str]) -> None:
    """What the import knows and the store does not yet: diagnosis date, histology, death."""
    inp = batch.patient_input
    if inp is None:
        return
    t = read._tables()
    p = w.patient_values(p.id)
    values: dict[str, Any] = {}
    changes = []
    if p.diagnosis_date is None and inp.diagnosis_date is not None:
        values["diagnosis_date"] = inp.diagnosis_date
        changes.append(f"diagnosis date {inp.diagnosis_date.isoformat()}")
    if not p.histology and inp.histology:
        values["histology"] = inp.histology
        changes.append(f"histology {inp.histology!r}")
    if p.birth_date is None and inp.birth_date is not None:
        values["birth_date"] = inp.birth_date
        changes.append(f"birth date {inp.birth_date.isoformat()}")
    if not p.stage and inp.stage:
        values["stage"] = inp.stage
        changes.append(f"stage {inp.stage!r}")
    if not p.gender and inp.gender:
        values["gender"] = inp.gender
    if inp.deceased_date is not None and p.ended_on is None:
        values.update(ended_on=inp.deceased_date, ended_reason="deceased")
        changes.append(f"tracking ended {inp.deceased_date.isoformat()} (deceased)")
    if p.external_id is None and batch.patient.local_id is not None:
        key = patient_key(batch.patient)
        if w._first(select(t.patient.c.id).where(t.patient.c.external_id == key)) is None:
            values["external_id"] = key
            changes.append("")
    ident = t.patient_identifier
    for system, value in batch.patient.identifiers:
        if w._first(select(ident.c.id).where(ident.c.system == system, ident.c.value == value)) is None:
            w._insert("patient_identifier", dict(patient_id=p.id, system=system, value=value, source=inp.source.label))
    # only a patient that changed is touched (and journalled); a gender alone changes it untouched
    w._update("patient", p, values, touch=bool(changes))
    shown = [c for c in changes if c]
    if shown:
        notes.append(f"{p.name}: " + " and ".join(shown))


def _write_scans(w: Writer, p: Any, ops: list[tuple[Any, ...]], now: datetime, new_patient: bool = False) -> None:
    """The scans of one patient's import, written in bulk: the same rows, in the same order, as
    adding them one by one (``_run_op``: a study, then its lesions and measurements, a lesion
    created the first time its label is seen), with one insert per table instead of a flush
    and a lesion look-up per measurement.  A patient this import created has no lesions yet:
    they are not looked up."""
    if not ops:
        return
    from lungtrack.records.writer import lesion_values, norm_label, stored_size

    known: dict[str, Any] = {}
    for le in () if new_patient else w._lesions(p):  # find_lesion's choice: the first lesion (by id) with the label
        known.setdefault(norm_label(le.label), le)
    new_lesions: list[dict[str, Any]] = []
    studies: list[dict[str, Any]] = []
    measured: list[tuple[int, Any, dict[str, Any]]] = []  # (study index, lesion, row)
    new_rows: list[tuple[int, Any, dict[str, Any]]] = []
    for op in ops:
        inp = op[1]
        src = inp.source.label
        studies.append({"patient_id": p.id, "date": inp.date, "modality": op[3],
                        "slice_thickness_mm": inp.slice_thickness_mm, "impression": inp.impression,
                        "report_text": inp.report_text, "non_target_status": op[4], "source": src,
                        "external_id": inp.source.external_id, "source_status": inp.source_status,
                        "created_at": now, "updated_at": now})
        at = len(studies) - 1
        for item in op[2]:
            key = norm_label(item.label)
            lesion = known.get(key)
            if lesion is None:  # a new lesion row (Writer._new_lesion_row)
                lesion = {**lesion_values(p.id, item, src), "created_at": now, "updated_at": now}
                new_lesions.append(lesion)
                known[key] = lesion
            elif item.role is not None and not (item.new or item.equivocal):
                if "id" not in lesion:  # a lesion of this import, not yet written
                    lesion["role"] = item.role
                else:
                    w._update("lesion", lesion, {"role": item.role})
            size = item.size_mm
            if item.new or item.equivocal:
                new_rows.append((at, lesion, {"size_mm": size, "equivocal": item.equivocal, "source": src,
                                              "created_at": now, "updated_at": now}))
            else:
                measured.append((at, lesion, {"size_mm": stored_size(item, size), "status": item.status, "source": src,
                                              "created_at": now, "updated_at": now}))

    def insert(table: str, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        ids = bulk_insert(w.conn, getattr(read._tables(), table), rows)
        w.recorder.add_inserted_ids(table, ids)
        return ids

    for row, rid in zip(new_lesions, insert("lesion", new_lesions)):
        row["id"] = rid

    study_ids = insert("imaging_study", studies)
    insert("lesion_measurement", [{"study_id": study_ids[at], "lesion_id": le["id"], **row}
                                  for at, le, row in measured])
    insert("new_lesion", [{"study_id": study_ids[at], "label": le["label"],
                           "site": le["site"], "is_node": le["is_node"],
                           "lesion_id": le["id"], **row} for at, le, row in new_rows])


_TABLE_OF_UPDATE = {"therapy": "therapy_line", "marker": "marker_result"}


def _run_op(w: Writer, p: Any, op: tuple[Any, ...]) -> None:
    """One therapy line (inserted) or update of a stored row, journalled, in the plan's order."""
    kind = op[0]
    if kind == "therapy":
        inp, drug, reason = op[1], op[2], op[3]
        w._insert("therapy_line", dict(patient_id=p.id, drug=drug, start_date=inp.start, end_date=inp.end,
                                       stop_reason=reason, note=inp.note, source=inp.source.label,
                                       external_id=inp.source.external_id, rxnorm=inp.rxnorm,
                                       stop_reason_text=inp.stop_reason_text))
    elif kind == "update":
        row, values = op[2], op[3]
        w._update(_TABLE_OF_UPDATE[op[1]], row, values)


def _date_problem(problems: list[Problem], origin: str | None, fieldname: str, d: date, w: Writer,
                  birth: date | None, allow_future: bool = False) -> bool:
    reason = ck.clinical_date(fieldname, d, w.today, birth, allow_future=allow_future)
    if reason:
        problems.append(Problem(origin, fieldname, reason))
        return True
    return False


def _therapies(w: Writer, batch: ImportBatch, state: _State, birth: date | None, problems: list[Problem],
               ops: list[Any], already: Counter[str], changed: Counter[str]) -> None:
    from lungtrack.records.inputs import TherapyInput

    spans = list(state.spans)
    stored = state.ext.get("therapy_line", {})
    for inp in batch.therapies:
        ext = inp.source.external_id
        row = stored.get(ext) if ext else None
        if row is None and ext is None and (inp.drug, inp.start) in state.keys["therapy"]:
            already["therapy"] += 1
            continue
        if row is None and ext is not None:
            row = _continued_line(w, state, inp)
        line_id = row.id if row is not None else None
        probs, drug, reason = w._therapy_problems(_Patient(birth), inp, spans, line_id=line_id)
        if probs:
            problems.extend(probs)
            continue
        if row is None and (drug.name, inp.start) in state.keys["therapy"]:
            already["therapy"] += 1
            continue
        if row is not None:
            values = {"end_date": inp.end, "stop_reason": reason, "stop_reason_text": inp.stop_reason_text}
            if inp.rxnorm and not row.rxnorm:
                values["rxnorm"] = inp.rxnorm
            if (row.end_date, row.stop_reason) == (inp.end, reason) or inp.end is None and row.end_date is not None:
                already["therapy"] += 1
            else:
                ops.append(("update", "therapy", row, values))
                spans = [s for s in spans if s.id != row.id] + [ck.Span(row.id, row.drug, row.start_date, inp.end)]
            continue
        spans.append(ck.Span(None, drug.name, inp.start, inp.end))
        state.keys["therapy"].add((drug.name, inp.start))
        ops.append(("therapy", TherapyInput(**inp.__dict__), drug.name, reason))


def _continued_line(w: Writer, state: _State, inp: Any) -> Any:
    """The stored line that an imported line continues: the patient's latest line, of the same
    drug, started on or before it and still running on its start (a later import of more
    requests for the same treatment extends that line instead of starting a second one)."""
    from lungtrack.knowledge.drugs import get_drug

    drug = get_drug(inp.drug)
    if drug is None or not state.spans:
        return None
    latest = max(state.spans, key=lambda sp: sp.start)
    if latest.drug != drug.name or latest.start > inp.start:
        return None
    if latest.end is not None and latest.end < inp.start:
        return None
    tl = read._tables().therapy_line
    return w._first(select(tl).where(tl.c.id == latest.id))


class _Patient:
    """What the therapy checks read of a patient that may not exist yet."""

    def __init__(self, birth: date | None):
        self.birth_date = birth


def _scans(w: Writer, batch: ImportBatch, state: _State, birth: date | None, problems: list[Problem],
           ops: list[Any], already: Counter[str]) -> None:
    stored = state.ext.get("imaging_study", {})
    for inp in batch.scans:
        probs = w._scan_problems(_Patient(birth), inp)  # type: ignore[arg-type]
        if probs:
            problems.extend(probs)
            continue
        modality = ck.vocabulary("modality", inp.modality, "modality")[0]
        nts = ck.vocabulary("non-target status", inp.non_target_status, "non-target status")[0]
        ext = inp.source.external_id
        if (ext and ext in stored) or (ext is None and (inp.date, modality) in state.keys["scan"]):
            already["scan"] += 1
            continue
        for item in inp.measurements:
            if item.status not in ck.VOCABULARIES["measurement status"]:
                problems.append(Problem(inp.source.origin, "status", ck.vocabulary(
                    "status", item.status, "measurement status")[1] or ""))
            elif item.status == "measured":
                why = ck.positive("size", item.size_mm)
                if why or item.size_mm is None:
                    problems.append(Problem(inp.source.origin, "size", why or f"size: {item.label} has no size; "
                                                                             "expected a size in mm."))
        stored[ext or f"@{len(stored)}"] = inp
        state.keys["scan"].add((inp.date, modality))
        ops.append(("scan", inp, inp.measurements, modality, nts))


def _markers(w: Writer, batch: ImportBatch, state: _State, birth: date | None, problems: list[Problem],
             rows: list[dict[str, Any]], already: Counter[str], changed: Counter[str], ops: list[Any]) -> None:
    stored = state.ext.get("marker_result", {})
    keys = state.keys["marker"]
    today, earliest = w.today, max(ck.EARLIEST, birth or ck.EARLIEST)
    for inp in batch.markers:
        marker, value, unit, uln, probs = w._marker_value(inp)
        if not (earliest <= inp.date <= today):  # the full check (and its message) only when it fails
            _date_problem(probs, inp.source.origin, "date", inp.date, w, birth)
        if probs:
            problems.extend(probs)
            continue
        ext = inp.source.external_id
        if ext and ext in stored:
            old = stored[ext]
            values = {"date": inp.date, "value": value, "unit": unit, "uln": uln, "comparator": inp.comparator}
            if old is None or all(getattr(old, k) == v for k, v in values.items()):
                already["marker"] += 1
            else:
                from lungtrack.records.writer import RowValues

                ops.append(("update", "marker", RowValues(old._mapping), values))
            continue
        key = (marker.value, inp.date, value, inp.comparator)
        if key in keys:
            already["marker"] += 1
            continue
        keys.add(key)
        if ext:
            stored[ext] = None  # seen in this import: a repeat is "already present"
        rows.append({"date": inp.date, "marker": marker.value, "value": value, "unit": unit, "uln": uln,
                     "lab": inp.lab, "comparator": inp.comparator, "source": inp.source.label, "external_id": ext})


def _simple(w: Writer, batch: ImportBatch, state: _State, birth: date | None, problems: list[Problem],
            rows: dict[str, list[dict[str, Any]]], already: Counter[str]) -> None:
    for inp in batch.appointments:
        kind, why1 = ck.vocabulary("kind", inp.kind, "appointment kind")
        status, why2 = ck.vocabulary("status", inp.status, "appointment status")
        probs = [Problem(inp.source.origin, f, y) for f, y in (("kind", why1), ("status", why2)) if y]
        _date_problem(probs, inp.source.origin, "date", inp.date, w, birth, allow_future=status != "done")
        if probs:
            problems.extend(probs)
            continue
        if _seen(state, "appointment", inp.source.external_id, (inp.date, kind, status), already):
            continue
        rows["appointment"].append({"date": inp.date, "kind": kind, "description": inp.description, "status": status,
                                    "source": inp.source.label, "external_id": inp.source.external_id})
    for inp in batch.notes:
        probs = []
        _date_problem(probs, inp.source.origin, "date", inp.date, w, birth)
        if not (inp.text or "").strip():
            probs.append(Problem(inp.source.origin, "text", "text: the note is empty; expected some text."))
        if probs:
            problems.extend(probs)
            continue
        if _seen(state, "note", inp.source.external_id, (inp.date, inp.text), already):
            continue
        rows["note"].append({"date": inp.date, "text": inp.text, "source": inp.source.label,
                             "external_id": inp.source.external_id})
    for inp in batch.biopsies:
        values, probs, _alt = w._biopsy_row_values(_Patient(birth), inp)  # type: ignore[arg-type]
        if probs:
            problems.extend(probs)
            continue
        if _seen(state, "biopsy", inp.source.external_id,
                 (inp.date, values["sample"], values["gene"], values["variant"]), already):
            continue
        rows["biopsy_finding"].append({**values, "source": inp.source.label, "external_id": inp.source.external_id})


_TABLE_OF = {"appointment": "appointment", "note": "note", "biopsy": "biopsy_finding"}


def _seen(state: _State, kind: str, ext: str | None, key: Any, already: Counter[str]) -> bool:
    table = _TABLE_OF[kind]
    stored = state.ext.setdefault(table, {})
    if (ext and ext in stored) or key in state.keys[kind]:
        already[kind] += 1
        return True
    state.keys[kind].add(key)
    if ext:
        stored[ext] = key
    return False


def count(result: ImportResult, which: str, kinds: Iterable[str]) -> dict[str, int]:
    return {k: result.count(which, k) for k in kinds}
