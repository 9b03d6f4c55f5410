"""The writer: every change to the store, for the CLI, the demo and every importer.

Open one per command::

    with records.writer(store, command=argv_masked) as w:
        p = w.patient("Ann")
        result = w.add_marker(p, MarkerInput("CEA", 35.0, "ng/mL", date(2026, 3, 4)))

That is one transaction and one journal change (``lungtrack log``; ``lungtrack undo`` reverts
it).  Each operation validates its whole input against the store's current state first and
raises (``InputError`` / ``RecordsRefused``) before anything is written; a failure rolls the
whole command back.  Operations return a :class:`Written` (or an ``ImportResult``) that the
CLI renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import import_module
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, true, update
from sqlalchemy import select as core_select
from sqlalchemy.engine import Connection

from lungtrack.errors import InputError, NotFoundError, RecordsRefused
from lungtrack.records import checks as ck
from lungtrack.records.inputs import (
    AppointmentInput,
    BiopsyInput,
    MarkerInput,
    MeasurementInput,
    NoteInput,
    PatientInput,
    Problem,
    ScanInput,
    TherapyInput,
)
from lungtrack.records.journal import Recorder
from lungtrack.store import models as m
from lungtrack.store import read
from lungtrack.store.clock import utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

    from lungtrack.store import repo
else:
    class _OnFirstUse:
        """A module imported the first time one of its names is used: the ORM (``repo``, the
        SQLModel classes) is imported by the operations that need it, not by every write."""

        def __init__(self, name: str) -> None:
            self._name = name

        def __getattr__(self, attr: str) -> Any:
            return getattr(import_module(self._name), attr)

    repo = _OnFirstUse("lungtrack.store.repo")


def select(*entities: Any) -> Any:
    """SQLModel's ``select`` (ORM operations), imported when first called."""
    from sqlmodel import select as _select

    return _select(*entities)


def col(column: Any) -> Any:
    from sqlmodel import col as _col

    return _col(column)


class RowValues(dict[str, Any]):
    """A row read or written with SQLAlchemy Core: its values by column name, also as attributes
    (``row.label``), like the ORM objects the other operations use."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

#: Record kinds that ``delete`` takes, with the name of their table class (built on first use).
KINDS: dict[str, str] = {
    "patient": "Patient", "therapy": "TherapyLine", "scan": "ImagingStudy", "lesion": "Lesion",
    "marker": "MarkerResult", "biopsy": "BiopsyFinding", "appointment": "Appointment", "note": "Note",
}


class NeedsConfirmation(InputError):
    """The input looks like a slip ("did you mean ...?").  The CLI asks on a terminal and, if the
    person confirms, repeats the operation with ``force=True`` (or with ``suggestion``)."""

    def __init__(self, field: str, value: object, expected: str, message: str, question: str,
                 suggestion: Any = None):
        super().__init__(field, value, expected, message=message)
        self.question = question
        self.suggestion = suggestion


@dataclass(frozen=True)
class Written:
    """What one operation did: ``kind`` of record, the ids it touched, the rows as data."""

    kind: str
    ids: tuple[int, ...]
    rows: tuple[dict[str, Any], ...] = ()
    already: bool = False  # an identical record was already there: nothing was added
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def row(self) -> dict[str, Any]:
        return self.rows[0] if self.rows else {}


def lesion_values(patient_id: int | None, item: MeasurementInput, source: str) -> dict[str, Any]:
    """The lesion row a measurement of a label not seen before creates (a node's site is
    "lymph node"; the label's spacing normalised)."""
    return {"patient_id": patient_id, "label": " ".join(item.label.split()),
            "site": "lymph node" if item.is_node else (item.site or "unknown"), "is_node": bool(item.is_node),
            "role": item.role, "source": source}


def stored_size(item: MeasurementInput, size: float | None) -> float | None:
    """The size a measurement stores: its size when measured, 0 when disappeared, else none."""
    return size if item.status == "measured" else (0.0 if item.status == "disappeared" else None)


def norm_label(text: str) -> str:
    """A lesion label as labels are compared: spacing normalised, case folded."""
    return " ".join(text.split()).casefold()


class Writer:
    """The operations of one write command, in one transaction on ``conn``.

    The adds (``add_marker``, ``add_note``, ``add_scan``, ``add_biopsy``, ``plan_appointment``),
    ``add_patient``, the patient settings (default, end of tracking, schedule, acknowledgements,
    snoozes) and imports read and write with SQLAlchemy Core on ``conn`` (no ORM, no SQLModel
    import); edits, deletes and undo use the ORM :attr:`session`, opened on the same connection
    and transaction the first time it is used.
    Every Core read first flushes that session, and a Core update expires its objects, so both
    always see the same rows."""

    def __init__(self, conn: Connection, store: Any, today: date, kind: str = "edit", command: str | None = None,
                 session: Session | None = None):
        self.conn = conn
        self.store = store
        self.today = today
        self.kind = kind
        self.command = command
        self.summary: list[str] = []
        self.change_id: int | None = None
        self.recorder = Recorder(session)
        self._session = session
        self._own_session = False
        self._config: Any = None
        self._marker_cache: dict[str, Any] = {}
        self._unit_cache: dict[tuple[Any, str], float] = {}
        self.label_fixes: dict[str, str] = {}  # lesion labels the person confirmed ("did you mean ...?")

    # ------------------------------------------------------------ plumbing

    def say(self, text: str) -> None:
        """A line for the journal's summary of this change."""
        self.summary.append(text)

    def config(self) -> Any:
        if self._config is None:
            from lungtrack.settings import load_rules_config

            self._config = load_rules_config()
        return self._config

    @property
    def session(self) -> Session:
        """The ORM session, on this writer's connection and transaction (opened on first use)."""
        if self._session is None:
            from sqlmodel import Session

            self._session = Session(bind=self.conn, expire_on_commit=False)
            self._own_session = True
            self.recorder.attach(self._session)
        return self._session

    def close(self) -> None:
        self.recorder.close()
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    def _sync(self) -> None:
        """Flush the ORM session, if open, so that a Core statement sees its changes."""
        if self._session is not None:
            self._session.flush()

    def _rows(self, stmt: Any) -> list[RowValues]:
        self._sync()
        return [RowValues(r) for r in self.conn.execute(stmt).mappings()]

    def _first(self, stmt: Any) -> RowValues | None:
        rows = self._rows(stmt.limit(1))
        return rows[0] if rows else None

    def _insert(self, table: str, values: dict[str, Any]) -> RowValues:
        """Insert one row with Core (the model's defaults and timestamps filled in, as the ORM
        would), journal it, and return every column's value, the new id included."""
        from lungtrack.store.tables import DEFAULTS

        t = getattr(read._tables(), table)
        defaults = DEFAULTS[table]
        now = utcnow()
        row: dict[str, Any] = {}
        for c in t.columns:
            if c.name in values:
                row[c.name] = values[c.name]
            elif c.name in ("created_at", "updated_at"):
                row[c.name] = now
            else:
                row[c.name] = defaults.get(c.name)
        if row.get("id") is None:
            row.pop("id", None)
        self._sync()
        # the values as parameters, not in the statement: SQLAlchemy then reuses the compiled
        # INSERT (the same SQL and values; 0.09 ms an insert instead of 0.5)
        row_id = self.conn.execute(insert(t), row).inserted_primary_key[0]
        out = RowValues({c.name: row_id if c.name == "id" else row[c.name] for c in t.columns})
        self.recorder.inserted(table, int(row_id), out)
        return out

    def _update(self, table: str, row: Any, changes: dict[str, Any], *, touch: bool = True) -> None:
        """Update one row with Core (``updated_at`` set, as ``_touch`` does, unless ``touch`` is
        False), journal the columns that changed, and keep ``row`` (a :class:`RowValues`) current."""
        t = getattr(read._tables(), table)
        changes = dict(changes)
        if touch and "updated_at" in t.c:
            changes["updated_at"] = utcnow()
        old = {k: row[k] for k, v in changes.items() if row[k] != v}
        if not old:
            return
        new = {k: changes[k] for k in old}
        self._sync()
        self.conn.execute(update(t).where(t.c.id == row["id"]).values(new))
        self.recorder.updated(table, int(row["id"]), old, new)
        row.update(new)
        if self._session is not None:
            self._session.expire_all()

    def _flush(self) -> None:
        self.session.flush()

    def _add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row

    def _touch(self, row: Any) -> None:
        repo.touch(row)
        self.session.add(row)

    @staticmethod
    def _refuse(problems: list[Problem]) -> None:
        if problems:
            raise RecordsRefused(tuple(problems))

    # ------------------------------------------------------------ patients

    def patient(self, name: str | None = None, field: str = "--patient") -> m.Patient:
        """The patient as an ORM object (the operations that change a patient need one)."""
        return repo.find_patient(self.session, name, field=field)

    def patient_values(self, patient_id: int) -> RowValues:
        """The patient's current row (Core), by id."""
        t = read._tables().patient
        row = self._first(core_select(t).where(t.c.id == patient_id))
        if row is None:  # pragma: no cover - an id this transaction just read or wrote
            raise NotFoundError(f"patient {patient_id} is no longer in the store")
        return row

    def patient_row(self, name: str | None = None, field: str = "--patient") -> Any:
        """The patient as a Core row (``id``, ``name``, ``birth_date``...): what the Core operations
        (``add_marker``, ``add_note``, ``add_scan``, ``add_biopsy``, ``plan_appointment``) need."""
        self._sync()
        return read.find_patient(self.conn, name, field)

    def add_patient(self, inp: PatientInput, *, make_default: bool = False, **extra: Any) -> Written:
        """Add a patient (Core); the first patient of a store becomes its default."""
        problems = self._patient_problems(inp, None)
        self._refuse(problems)
        name = " ".join(inp.name.split())
        smoking, _ = ck.vocabulary("smoking", inp.smoking or "unknown", "smoking")
        self._sync()
        if read.patient_by_name(self.conn, name) is not None:
            raise InputError("name", name, "a name not already in this store",
                             message=f"name: a patient called {name!r} already exists in this store.")
        t = read._tables().patient
        first = self._first(core_select(t.c.id)) is None
        p = self._insert("patient", dict(
            name=name, diagnosis_date=inp.diagnosis_date, histology=inp.histology,
            subtypes=json.dumps(dict(inp.subtypes)) if inp.subtypes else None,
            drivers=json.dumps(list(inp.drivers)) if inp.drivers else None, smoking=smoking,
            birth_date=inp.birth_date, gender=inp.gender, stage=inp.stage, source=inp.source.label,
            external_id=inp.source.external_id, is_default=first, **extra))
        for system, value in inp.identifiers:
            self._insert("patient_identifier", dict(patient_id=p.id, system=system, value=value,
                                                    source=inp.source.label))
        if make_default:
            self._make_default(p)
        self.say(f"added patient {name}")
        return self._patient_written(p)

    @staticmethod
    def _patient_written(row: RowValues) -> Written:
        return Written("patient", (row.id,), (read.row_data(read._tables().patient, row),))

    def _patient_problems(self, inp: PatientInput, existing: m.Patient | None) -> list[Problem]:
        out: list[Problem] = []
        origin = inp.source.origin

        def bad(fieldname: str, reason: str | None) -> None:
            if reason:
                out.append(Problem(origin, fieldname, reason))

        name = " ".join((inp.name or "").split())
        if not name or len(name) > 200:
            bad("name", f"name: {inp.name!r} is not valid; expected a display name of 1 to 200 characters.")
        if inp.birth_date is not None:
            bad("birth date", ck.clinical_date("birth date", inp.birth_date, self.today))
        if inp.diagnosis_date is not None:
            bad("diagnosis date", ck.clinical_date("diagnosis date", inp.diagnosis_date, self.today,
                                                  inp.birth_date or (existing.birth_date if existing else None)))
        if inp.smoking is not None:
            bad("smoking", ck.vocabulary("smoking", inp.smoking, "smoking")[1])
        return out

    def edit_patient(self, p: m.Patient, *, name: str | None = None, diagnosis_date: date | None = None,
                     histology: str | None = None, subtypes: dict[str, float] | None = None,
                     drivers: list[str] | None = None, smoking: str | None = None,
                     birth_date: date | None = None) -> Written:
        changes: list[str] = []
        if name is not None:
            name = " ".join(name.split())
            if not name or len(name) > 200:
                raise InputError("--name", name, "a display name of 1 to 200 characters")
            other = repo.patient_by_name(self.session, name)  # indexed, whatever the size of the store
            if other is not None and other.id != p.id:
                raise InputError("--name", name, "a name not already in this store")
            changes.append(f"name {p.name} → {name}")
            p.name = name
        birth = birth_date or p.birth_date
        if birth_date is not None:
            reason = ck.clinical_date("--born", birth_date, self.today)
            if reason:
                raise InputError("--born", birth_date.isoformat(), "a date", message=reason)
            changes.append(f"born {birth_date.isoformat()}")
            p.birth_date = birth_date
        if diagnosis_date is not None:
            reason = ck.clinical_date("--diagnosed", diagnosis_date, self.today, birth)
            if reason:
                raise InputError("--diagnosed", diagnosis_date.isoformat(), "a date", message=reason)
            changes.append(f"diagnosed {diagnosis_date.isoformat()}")
            p.diagnosis_date = diagnosis_date
        if histology is not None:
            changes.append(f"histology {histology}")
            p.histology = histology
        if subtypes is not None:
            changes.append("subtypes " + ", ".join(f"{k} {v:g} %" for k, v in subtypes.items()))
            p.subtypes = json.dumps(subtypes)
        if drivers is not None:
            changes.append("drivers " + ", ".join(drivers))
            p.drivers = json.dumps(drivers)
        if smoking is not None:
            value, reason = ck.vocabulary("--smoking", smoking, "smoking")
            if reason:
                raise InputError("--smoking", smoking, "a smoking status", message=reason)
            changes.append(f"smoking {value}")
            p.smoking = value or "unknown"
        if not changes:
            raise InputError("options", "", "at least one of --name, --diagnosed, --born, --histology, --subtype, "
                                            "--driver, --smoking")
        self._touch(p)
        self._flush()
        self.say(f"edited patient {p.name}")
        return Written("patient", (p.id,), (repo.row_dict(p),), extra={"changes": changes})

    def _make_default(self, p: Any) -> RowValues:
        """Make ``p`` the default patient: only the rows that change are updated (no scan of
        every patient; ``updated_at`` stays, as before)."""
        t = read._tables().patient
        for other in self._rows(core_select(t).where(t.c.is_default == true(), t.c.id != p.id)):
            self._update("patient", other, {"is_default": False}, touch=False)
        row = self.patient_values(p.id)
        self._update("patient", row, {"is_default": True}, touch=False)
        return row

    def set_default_patient(self, p: Any) -> Written:
        row = self._make_default(p)
        self.say(f"{row.name} made the default patient")
        return self._patient_written(row)

    def end_tracking(self, p: Any, on: date | None, reason: str | None) -> Written:
        """End (or, with no date, resume) the tracking of a patient (Core; ``p``: a row or an ORM patient)."""
        row = self.patient_values(p.id)
        if on is not None:
            problem = ck.clinical_date("--date", on, self.today, row.birth_date)
            if problem:
                raise InputError("--date", on.isoformat(), "a date", message=problem)
        self._update("patient", row, {"ended_on": on, "ended_reason": reason if on is not None else None})
        self.say(f"tracking of {row.name} {'ended' if on else 'resumed'}")
        return self._patient_written(row)

    def set_schedule(self, p: Any, values: dict[str, float | None]) -> Written:
        """Per-patient follow-up intervals (``imaging_due_soon_weeks`` ...; None: the default)."""
        for key, value in values.items():
            if key not in ("imaging_due_soon_weeks", "imaging_overdue_weeks", "marker_due_soon_weeks",
                           "marker_overdue_weeks"):
                raise ValueError(key)
            reason = ck.positive(key, value)
            if reason:
                raise InputError(key, value, "a number of weeks greater than 0", message=reason)
        row = self.patient_values(p.id)
        self._update("patient", row, dict(values))
        self.say(f"follow-up schedule of {row.name} changed")
        return self._patient_written(row)

    # ------------------------------------------------------------ acknowledgements and snoozes

    def acknowledge(self, p: Any, finding_id: str, note: str | None) -> Written:
        row = self._insert("acknowledgement", dict(patient_id=p.id, finding_id=finding_id, note=note))
        self.say(f"acknowledged {finding_id}")
        return Written("acknowledgement", (row.id,))

    def unacknowledge(self, row: m.Acknowledgement) -> Written:
        rid = row.id
        self.session.delete(row)
        self._flush()
        self.say(f"acknowledgement of {row.finding_id} withdrawn")
        return Written("acknowledgement", (rid,))

    def snooze(self, p: Any, key: str, until: date) -> Written:
        t = read._tables().snooze
        row = self._first(core_select(t).where(t.c.patient_id == p.id, t.c.item_key == key).order_by(t.c.id))
        if row is None:
            row = self._insert("snooze", dict(patient_id=p.id, item_key=key, until=until))
        else:
            self._update("snooze", row, {"until": until})
        self.say(f"snoozed {key} until {until.isoformat()}")
        return Written("snooze", (row.id,))

    def unsnooze(self, row: m.Snooze) -> Written:
        rid = row.id
        self.session.delete(row)
        self._flush()
        self.say(f"snooze of {row.item_key} ended")
        return Written("snooze", (rid,))

    # ------------------------------------------------------------ therapy

    def _spans(self, p: m.Patient) -> list[ck.Span]:
        return [ck.Span(ln.id, ln.drug, ln.start_date, ln.end_date) for ln in repo.therapy_lines(self.session, p)]

    def _therapy_problems(self, p: m.Patient, inp: TherapyInput, spans: list[ck.Span], line_id: int | None = None
                          ) -> tuple[list[Problem], Any, str | None]:
        from lungtrack.knowledge.drugs import get_drug

        out: list[Problem] = []
        origin = inp.source.origin
        drug = get_drug(inp.drug)
        if drug is None:
            out.append(Problem(origin, "drug", f"drug: {inp.drug!r} is not a drug lungtrack knows; expected a drug "
                                               "of the drug table (lungtrack therapy start --help)."))
        for name, d in (("start", inp.start), ("end", inp.end)):
            if d is not None:
                reason = ck.clinical_date(name, d, self.today, p.birth_date)
                if reason:
                    out.append(Problem(origin, name, reason))
        if inp.end is not None and inp.end < inp.start:
            out.append(Problem(origin, "end", f"end: {inp.end.isoformat()} is before the start "
                                              f"({inp.start.isoformat()}); expected a date on or after the start."))
        reason_value, why = ck.vocabulary("stop reason", inp.stop_reason, "stop reason")
        if why:
            out.append(Problem(origin, "stop reason", why))
        if not out:
            clash = ck.overlap(ck.Span(line_id, drug.name if drug else inp.drug, inp.start, inp.end), spans)
            if clash:
                out.append(Problem(origin, "start", clash))
        return out, drug, reason_value

    def start_therapy(self, p: m.Patient, inp: TherapyInput) -> Written:
        problems, drug, reason = self._therapy_problems(p, inp, self._spans(p))
        self._refuse(problems)
        line = self._add(m.TherapyLine(patient_id=p.id, drug=drug.name, start_date=inp.start, end_date=inp.end,
                                       stop_reason=reason, note=inp.note, source=inp.source.label,
                                       external_id=inp.source.external_id, rxnorm=inp.rxnorm,
                                       stop_reason_text=inp.stop_reason_text))
        self.say(f"started {drug.name} on {inp.start.isoformat()} for {p.name}")
        return Written("therapy", (line.id,), (repo.row_dict(line),), extra={"drug": drug})

    def stop_therapy(self, p: m.Patient, on: date, reason: str, line_id: int | None = None) -> Written:
        line = (repo.get_record(self.session, m.TherapyLine, line_id, p) if line_id
                else repo.current_line(self.session, p))
        if line is None:
            raise InputError("--line", "", "an active line", message=f"--line: {p.name} has no active line of therapy to stop.")
        if on < line.start_date:
            raise InputError("--date", on.isoformat(), f"a date on or after the line's start ({line.start_date.isoformat()})")
        return self.edit_therapy(p, line.id, end=on, stop_reason=reason, _verb="stopped")

    def edit_therapy(self, p: m.Patient, line_id: int, *, drug: str | None = None, start: date | None = None,
                     end: date | None = None, stop_reason: str | None = None, note: str | None = None,
                     _verb: str = "edited") -> Written:
        line = repo.get_record(self.session, m.TherapyLine, line_id, p)
        inp = TherapyInput(drug=drug or line.drug, start=start or line.start_date, end=end or line.end_date,
                           stop_reason=stop_reason or line.stop_reason, note=note if note is not None else line.note)
        problems, d, reason = self._therapy_problems(p, inp, self._spans(p), line_id=line.id)
        if problems:
            first = problems[0]
            cli_field = {"start": "--start", "end": "--end"}.get(first.field, first.field)
            if _verb == "stopped" and first.field in ("end", "start"):
                cli_field = "--date"
            raise InputError(cli_field, "", "", message=first.message)
        line.drug, line.start_date, line.end_date = d.name, inp.start, inp.end
        line.stop_reason, line.note = reason, inp.note
        self._touch(line)
        self._flush()
        self.say(f"{_verb} therapy line {line.id} ({line.drug})")
        return Written("therapy", (line.id,), (repo.row_dict(line),), extra={"drug": d})

    # ------------------------------------------------------------ scans and lesions

    def _lesions(self, p: Any) -> list[RowValues]:
        t = read._tables().lesion
        return self._rows(core_select(t).where(t.c.patient_id == p.id).order_by(t.c.id))

    def _find_lesion(self, p: Any, label: str) -> RowValues | None:
        wanted = norm_label(label)
        for lesion in self._lesions(p):
            if norm_label(lesion.label) == wanted:
                return lesion
        return None

    def _last_size(self, lesion: Any, before: date) -> RowValues | None:
        """The lesion's last measured size (``size_mm``) before a date, with that scan's ``date``."""
        t = read._tables()
        lm, st = t.lesion_measurement, t.imaging_study
        return self._first(core_select(lm.c.size_mm, st.c.date).join(st, st.c.id == lm.c.study_id)
                           .where(lm.c.lesion_id == lesion.id, lm.c.size_mm.is_not(None), st.c.date < before)
                           .order_by(st.c.date.desc()))

    def _suggest_label(self, p: Any, label: str) -> str | None:
        labels = [le.label for le in self._lesions(p)]
        by_key = {norm_label(x): x for x in labels}
        import difflib

        close = difflib.get_close_matches(norm_label(label), list(by_key), n=1, cutoff=0.75)
        return by_key[close[0]] if close else None

    def _resolve_measurements(self, p: Any, when: date, items: Sequence[MeasurementInput], force: bool,
                              field: str = "--lesion") -> list[tuple[RowValues | None, MeasurementInput, float | None]]:
        """Match each measurement to a lesion (exact label, else 'did you mean'), check it."""
        from lungtrack.core.plausibility import check_lesion_entry

        seen: set[str] = set()
        out = []
        for item in items:
            key = norm_label(item.label)
            if key in seen:
                raise InputError(field, item.label, "each lesion once per scan",
                                 message=f"{field}: {item.label!r} is given twice for this scan; expected each lesion once.")
            seen.add(key)
            if item.status not in ck.VOCABULARIES["measurement status"]:
                raise InputError(field, item.status, "a measurement status")
            if item.label in self.label_fixes:
                item = replace(item, label=self.label_fixes[item.label])
            lesion = self._find_lesion(p, item.label)
            new = item.new or item.equivocal
            if lesion is None and item.site is None and item.is_node is None and not new:
                near = self._suggest_label(p, item.label)
                if near is not None:
                    raise NeedsConfirmation(field, item.label, f"a lesion of {p.name}", message=(
                        f"{field}: {item.label!r} is not a lesion of {p.name}; did you mean {near!r}? Nothing was "
                        f'saved. A new lesion needs its site, e.g. "{item.label}: lung, 22 mm".'),
                        question=f"{item.label!r} is not a known lesion. Did you mean {near!r}?", suggestion=near)
                raise InputError(field, item.label, "a site the first time a label is used", message=(
                    f"{field}: {item.label!r} is a new label for {p.name}; give its site the first time, "
                    f'e.g. "{item.label}: lung, 22 mm" or "{item.label}: node, 12 mm".'))
            if lesion is None and item.status == "disappeared":
                raise InputError(field, item.label, "a size for a lesion seen for the first time", message=(
                    f"{field}: {item.label!r} is seen for the first time, so it cannot be 0 mm or gone; expected "
                    "its size, 'too small' or 'not evaluated'."))
            if lesion is not None and item.is_node is not None and item.is_node != lesion.is_node:
                kind = "a lymph node" if lesion.is_node else "not a lymph node"
                raise InputError(field, item.label, f"the same kind as before ({lesion.label} is {kind})")
            size = item.size_mm
            if lesion is not None and lesion.is_node and item.short_axis_mm is not None and item.is_node is None:
                size = item.short_axis_mm  # a known node given as "18x12 mm": its short axis
            if item.status == "measured":
                reason = ck.positive(field, size)
                if size is None or reason:
                    raise InputError(field, item.label, "a size greater than 0 mm", message=reason)
                if lesion is not None and not force and not new:
                    last = self._last_size(lesion, when)
                    if last is not None:
                        problem = check_lesion_entry(lesion.label, last.size_mm, last.date, size, when)
                        if problem:
                            raise NeedsConfirmation(field, item.label, "a plausible size", message=(
                                f"{field} {problem} Nothing was saved. If the size is right, add --force."),
                                question=f"{problem} Save {size:g} mm as typed?")
            out.append((lesion, item, size))
        return out

    def _new_lesion_row(self, p: Any, item: MeasurementInput, source: str) -> RowValues:
        return self._insert("lesion", lesion_values(p.id, item, source))

    def _save_measurements(self, p: Any, study: Any,
                           entries: list[tuple[RowValues | None, MeasurementInput, float | None]], source: str) -> None:
        for lesion, item, size in entries:
            if item.new or item.equivocal:
                # a new lesion: a lesion like any other (later scans measure it), linked to the row
                # that says it was new on this scan (RECIST keeps reading it from there)
                if lesion is None:
                    lesion = self._new_lesion_row(p, item, source)
                self._insert("new_lesion", {
                    "study_id": study.id, "label": lesion.label, "site": lesion.site, "is_node": lesion.is_node,
                    "size_mm": size, "equivocal": item.equivocal, "lesion_id": lesion.id, "source": source})
                continue
            if lesion is None:
                lesion = self._new_lesion_row(p, item, source)
            elif item.role is not None:
                self._update("lesion", lesion, {"role": item.role})
            self._insert("lesion_measurement", {"study_id": study.id, "lesion_id": lesion.id,
                                                "size_mm": stored_size(item, size), "status": item.status,
                                                "source": source})

    def _scan_problems(self, p: Any, inp: ScanInput) -> list[Problem]:
        out: list[Problem] = []
        origin = inp.source.origin
        reason = ck.clinical_date("date", inp.date, self.today, p.birth_date)
        if reason:
            out.append(Problem(origin, "date", reason))
        for name, value, kind in (("modality", inp.modality, "modality"),
                                  ("non-target status", inp.non_target_status, "non-target status")):
            why = ck.vocabulary(name, value, kind)[1]
            if why:
                out.append(Problem(origin, name, why))
        if inp.slice_thickness_mm is not None:
            why = ck.positive("slice thickness", inp.slice_thickness_mm)
            if why:
                out.append(Problem(origin, "slice thickness", why))
        return out

    def add_scan(self, p: Any, inp: ScanInput, *, force: bool = False) -> Written:
        """Save one scan with its measurements (Core: ``p`` may be a row or an ORM patient)."""
        problems = self._scan_problems(p, inp)
        if problems:
            first = problems[0]
            raise InputError("--date" if first.field == "date" else first.field, "", "", message=first.message)
        modality = ck.vocabulary("modality", inp.modality, "modality")[0]
        st = read._tables().imaging_study
        dup = self._first(core_select(st.c.id).where(st.c.patient_id == p.id, st.c.date == inp.date,
                                                      st.c.modality == modality))
        if dup is not None:
            raise InputError("--date", inp.date.isoformat(), "a date without a scan of this kind", message=(
                f"--date: {p.name} already has a {modality} on {inp.date.isoformat()} (scan {dup.id}); "
                f"change it with: lungtrack scan edit {dup.id} --lesion ..."))
        entries = self._resolve_measurements(p, inp.date, inp.measurements, force)
        study = self._insert("imaging_study", dict(
            patient_id=p.id, date=inp.date, modality=modality, slice_thickness_mm=inp.slice_thickness_mm,
            impression=inp.impression, report_text=inp.report_text,
            non_target_status=ck.vocabulary("non-target status", inp.non_target_status, "non-target status")[0],
            source=inp.source.label, external_id=inp.source.external_id, source_status=inp.source_status))
        self._save_measurements(p, study, entries, inp.source.label)
        self.say(f"logged {modality} of {inp.date.isoformat()} for {p.name}")
        return Written("scan", (study.id,), (self.study_dict(study),))

    def study_dict(self, study: Any) -> dict[str, Any]:
        """A scan (any object with its ``id``) as data, with its measurements and new lesions, as
        the store holds them now."""
        t = read._tables()
        st, lm, les, nl = t.imaging_study, t.lesion_measurement, t.lesion, t.new_lesion
        row = self._first(core_select(st).where(st.c.id == study.id))
        data = read.row_data(st, row)
        data["measurements"] = [
            {"id": r.id, "lesion_id": r.lesion_id, "label": r.label, "site": r.site, "is_node": r.is_node,
             "size_mm": r.size_mm, "unit": "mm", "status": r.status}
            for r in self._rows(core_select(lm.c.id, lm.c.lesion_id, les.c.label, les.c.site, les.c.is_node,
                                            lm.c.size_mm, lm.c.status).join(les, les.c.id == lm.c.lesion_id)
                                .where(lm.c.study_id == study.id).order_by(lm.c.id))]
        data["new_lesions"] = [
            {"id": r.id, "lesion_id": r.lesion_id, "label": r.label, "site": r.site, "is_node": r.is_node,
             "size_mm": r.size_mm, "unit": "mm", "equivocal": r.equivocal}
            for r in self._rows(core_select(nl).where(nl.c.study_id == study.id).order_by(nl.c.id))]
        return data

    def edit_scan(self, p: m.Patient, study_id: int, *, date_: date | None = None, modality: str | None = None,
                  slice_thickness_mm: float | None = None, impression: str | None = None,
                  non_target_status: str | None = None, report_text: str | None = None,
                  measurements: Sequence[MeasurementInput] = (), remove: Sequence[str] = (),
                  force: bool = False) -> Written:
        study = repo.get_record(self.session, m.ImagingStudy, study_id, p)
        if date_ is not None:
            reason = ck.clinical_date("--date", date_, self.today, p.birth_date)
            if reason:
                raise InputError("--date", date_.isoformat(), "a date", message=reason)
            study.date = date_
        if modality is not None:
            value, why = ck.vocabulary("--modality", modality, "modality")
            if why:
                raise InputError("--modality", modality, "a modality", message=why)
            study.modality = value
        if slice_thickness_mm is not None:
            study.slice_thickness_mm = slice_thickness_mm
        if impression is not None:
            study.impression = impression or None
        if report_text is not None:
            study.report_text = report_text or None
        if non_target_status is not None:
            value, why = ck.vocabulary("--non-target", non_target_status, "non-target status")
            if why:
                raise InputError("--non-target", non_target_status, "a status", message=why)
            study.non_target_status = value
        current = {mm.lesion_id: mm for mm in repo.study_measurements(self.session, study)}
        news = repo.study_new_lesions(self.session, study)
        notes: list[str] = []
        for label in remove:
            notes.append(self._remove_from_scan(p, study, label, current, news))
        entries = self._resolve_measurements(p, study.date, measurements, force)
        for les, _item, _size in entries:
            if les is not None and les.id in current:
                self.session.delete(current.pop(les.id))
        self._flush()
        self._save_measurements(p, study, entries, "manual")
        self._touch(study)
        self._flush()
        self.say(f"edited scan {study.id} of {p.name}")
        return Written("scan", (study.id,), (self.study_dict(study),), notes=tuple(n for n in notes if n))

    def _remove_from_scan(self, p: m.Patient, study: m.ImagingStudy, label: str,
                          current: dict[int, m.LesionMeasurement], news: list[m.NewLesion]) -> str:
        les = repo.find_lesion(self.session, p, label)
        new_rows = [n for n in news if (les is not None and n.lesion_id == les.id)
                    or (n.label is not None and norm_label(n.label) == norm_label(label))]
        if les is not None and les.id in current:
            self.session.delete(current.pop(les.id))
            return ""
        if new_rows:
            for n in new_rows:
                self.session.delete(n)
                news.remove(n)
            self._flush()
            if les is not None:
                others = self.session.exec(select(m.LesionMeasurement).where(m.LesionMeasurement.lesion_id == les.id)).all()
                other_new = self.session.exec(select(m.NewLesion).where(m.NewLesion.lesion_id == les.id)).all()
                if others or other_new:
                    return (f"{les.label} is no longer new on this scan; it stays a lesion because other scans "
                            "record it.")
                self.session.delete(les)
                self._flush()
            return f"{label} removed from this scan; the progression it caused is gone with it."
        shown = [self.session.get(m.Lesion, i).label for i in current] + [n.label or n.site for n in news]
        raise InputError("--remove-lesion", label, "a lesion on this scan: " + (", ".join(shown) or "none"))

    def edit_lesion(self, p: m.Patient, label: str, *, new_label: str | None = None, site: str | None = None,
                    is_node: bool | None = None, role: str | None = None) -> Written:
        les = repo.find_lesion(self.session, p, label)
        if les is None:
            near = self._suggest_label(p, label)
            hint = f"; did you mean {near!r}?" if near else ""
            raise InputError("label", label, "one of: " + ", ".join(x.label for x in repo.lesions(self.session, p)),
                             message=(f"label: {label!r} is not a lesion of {p.name}{hint} Expected one of: "
                                      + ", ".join(x.label for x in repo.lesions(self.session, p)) + "."))
        if new_label:
            other = repo.find_lesion(self.session, p, new_label)
            if other is not None and other.id != les.id:
                raise InputError("--label", new_label, "a label not used by another lesion")
            les.label = " ".join(new_label.split())
            for n in self.session.exec(select(m.NewLesion).where(m.NewLesion.lesion_id == les.id)):
                n.label = les.label
                self._touch(n)
        if site:
            les.site = site.strip().lower()
        if is_node is not None:
            les.is_node = is_node
            if is_node:
                les.site = "lymph node"
        if role is not None:
            les.role = None if role.lower() == "auto" else role.lower()
        self._touch(les)
        self._flush()
        self.say(f"edited lesion {les.label} of {p.name}")
        return Written("lesion", (les.id,), (repo.row_dict(les),))

    # ------------------------------------------------------------ markers

    def _marker_value(self, inp: MarkerInput, field_prefix: str = "") -> tuple[Any, float, str, float | None, list[Problem]]:
        """(marker, canonical value, canonical unit, canonical ULN, problems)."""
        from lungtrack.knowledge.markers import (
            MARKERS,
            convert_marker_value,
            marker_from_text,
        )

        origin = inp.source.origin
        out: list[Problem] = []
        marker = self._marker_cache.get(inp.marker)
        if marker is None:
            try:
                marker = self._marker_cache[inp.marker] = marker_from_text(inp.marker, field="marker")
            except InputError as exc:
                return None, 0.0, "", None, [Problem(origin, "marker", exc.message)]
        info = MARKERS[marker]
        if inp.comparator not in (None, "<", ">"):
            out.append(Problem(origin, "comparator", ck.vocabulary("comparator", inp.comparator, "comparator")[1] or ""))
        if inp.unit is None or not str(inp.unit).strip():
            out.append(Problem(origin, "unit", (
                f"unit: no unit given for {marker.value} {inp.value!r}; expected one of "
                f"{', '.join(info.accepted_units)} (a value without its unit is not guessed).")))
            return marker, 0.0, info.canonical_unit, None, out
        reason = ck.positive("value", inp.value, what="a value greater than 0")
        if reason is None and inp.value == 0:
            reason = "x"
        if reason:
            if isinstance(inp.value, (int, float)) and inp.value == 0:
                reason = (f"value: 0 is not a {marker.value} result; expected a value greater than 0 (a result below "
                          "the assay's detection limit is entered as '<LIMIT', e.g. '<0.5').")
            out.append(Problem(origin, "value", reason))
            return marker, 0.0, info.canonical_unit, None, out
        key = (marker, inp.unit)
        factor = self._unit_cache.get(key)
        if factor is None:
            factor = self._unit_cache[key] = info.factor_for(inp.unit) or 0.0
        try:
            if factor == 1.0:  # the marker's own unit: nothing to convert
                value, unit = float(inp.value), info.canonical_unit
            else:
                value, unit = convert_marker_value(marker, float(inp.value), inp.unit, field="unit")
        except InputError as exc:
            out.append(Problem(origin, "unit", exc.message))
            return marker, 0.0, info.canonical_unit, None, out
        if value > info.plausible_max:
            out.append(Problem(origin, "value", f"value: {value:g} {unit} is not valid; expected a {info.name} value "
                                                f"up to {info.plausible_max:g} {unit}."))
        uln = None
        if inp.uln is not None:
            why = ck.positive("uln", inp.uln, what="an upper limit of normal greater than 0")
            if why:
                out.append(Problem(origin, "uln", why))
            else:
                uln, _ = convert_marker_value(marker, float(inp.uln), inp.unit, field="unit")
        return marker, value, unit, uln, out

    def _previous_marker(self, p: Any, marker: str, when: date, exclude: int | None = None) -> RowValues | None:
        t = read._tables().marker_result
        stmt = core_select(t).where(t.c.patient_id == p.id, t.c.marker == marker, t.c.date <= when)
        if exclude is not None:
            stmt = stmt.where(t.c.id != exclude)
        return self._first(stmt.order_by(t.c.date.desc(), t.c.id.desc()))

    def _check_marker_jump(self, p: Any, marker: Any, value: float, unit: str, when: date,
                           exclude: int | None = None, comparator: str | None = None) -> None:
        from lungtrack.core.plausibility import check_marker_entry

        prev = self._previous_marker(p, marker.value, when, exclude)
        if prev is None:
            return
        problem = check_marker_entry(marker.value, unit, prev.value, prev.date, value, when,
                                     self.config().plausibility, previous_comparator=prev.comparator,
                                     new_comparator=comparator)
        if problem:
            raise NeedsConfirmation("value", value, "a plausible value", message=(
                f"value: {problem} Nothing was saved. If the value is right, add --force."),
                question=f"{problem} Save {value:g} {unit} as typed?")

    def add_marker(self, p: Any, inp: MarkerInput, *, force: bool = False) -> Written:
        """Save one marker result (Core: ``p`` may be a row or an ORM patient)."""
        marker, value, unit, uln, problems = self._marker_value(inp)
        reason = ck.clinical_date("date", inp.date, self.today, p.birth_date)
        if reason:
            problems.append(Problem(inp.source.origin, "date", reason))
        self._refuse(problems)
        t = read._tables().marker_result
        same = [r for r in self._rows(core_select(t).where(
            t.c.patient_id == p.id, t.c.marker == marker.value, t.c.date == inp.date, t.c.value == value)
            .order_by(t.c.id)) if r.comparator == inp.comparator]
        if same:
            return Written("marker", (same[0].id,), (read.row_data(t, same[0]),), already=True)
        if not force:
            self._check_marker_jump(p, marker, value, unit, inp.date, comparator=inp.comparator)
        row = self._insert("marker_result", dict(
            patient_id=p.id, date=inp.date, marker=marker.value, value=value, unit=unit, uln=uln, lab=inp.lab,
            comparator=inp.comparator, source=inp.source.label, external_id=inp.source.external_id))
        self.say(f"logged {marker.value} of {inp.date.isoformat()} for {p.name}")
        return Written("marker", (row.id,), (read.row_data(t, row),))

    def edit_marker(self, p: m.Patient, result_id: int, *, value: float | None = None, unit: str | None = None,
                    comparator: str | None = None, date_: date | None = None, uln: float | None = None,
                    lab: str | None = None, force: bool = False) -> Written:
        row = repo.get_record(self.session, m.MarkerResult, result_id, p)
        inp = MarkerInput(marker=row.marker, value=value if value is not None else row.value,
                          unit=unit if value is not None or uln is not None else row.unit,
                          date=date_ or row.date, uln=uln if uln is not None else None,
                          lab=lab, comparator=comparator if value is not None else row.comparator)
        if inp.unit is None:
            inp = MarkerInput(**{**inp.__dict__, "unit": row.unit})
        marker, new_value, new_unit, new_uln, problems = self._marker_value(inp)
        reason = ck.clinical_date("--date", inp.date, self.today, p.birth_date)
        if reason:
            problems.append(Problem(None, "--date", reason))
        self._refuse(problems)
        if value is not None and not force:
            self._check_marker_jump(p, marker, new_value, new_unit, inp.date, exclude=row.id,
                                    comparator=inp.comparator)
        row.value, row.unit, row.date, row.comparator = new_value, new_unit, inp.date, inp.comparator
        if uln is not None:
            row.uln = new_uln
        if lab is not None:
            row.lab = lab or None
        self._touch(row)
        self._flush()
        self.say(f"edited marker result {row.id} of {p.name}")
        return Written("marker", (row.id,), (repo.row_dict(row),))

    # ------------------------------------------------------------ biopsies

    def _biopsy_row_values(self, p: Any, inp: BiopsyInput) -> tuple[dict[str, Any], list[Problem], Any]:
        from lungtrack.parsing.variants import normalize_alteration, normalize_gene

        origin = inp.source.origin
        out: list[Problem] = []
        reason = ck.clinical_date("date", inp.date, self.today, p.birth_date)
        if reason:
            out.append(Problem(origin, "date", reason))
        values: dict[str, Any] = {}
        for name, value, kind in (("sample", inp.sample, "sample"), ("result", inp.result, "result"),
                                  ("allele context", inp.allele_context, "allele context"),
                                  ("origin", inp.origin, "origin")):
            stored, why = ck.vocabulary(name, value, kind)
            if why:
                out.append(Problem(origin, name, why))
            values[name] = stored
        alt = None
        try:
            gene = normalize_gene(inp.gene, field="gene") if inp.gene else None
            alt = normalize_alteration(inp.variant, gene=gene, field="variant")
        except InputError as exc:
            out.append(Problem(origin, exc.field, exc.message))
        if inp.vaf is not None:
            why = ck.positive("vaf", inp.vaf, what="a variant allele frequency in percent, more than 0")
            if why is None and inp.vaf > 100:
                why = f"vaf: {inp.vaf:g} is not valid; expected a variant allele frequency in percent, at most 100."
            if why:
                out.append(Problem(origin, "vaf", why))
        if values["result"] not in (None, "detected") and (inp.vaf is not None or values["allele context"]):
            what = "--vaf" if inp.vaf is not None else "--allele-context"
            out.append(Problem(origin, what, f"{what}: not valid with --result {values['result']}; expected no VAF "
                                             "or allele context unless the variant was detected."))
        row = {"date": inp.date, "sample": values["sample"], "assay": inp.assay or None,
               "gene": alt.gene if alt else "", "variant": alt.name if alt else "",
               "hgvs_p": (inp.hgvs_p or (alt.hgvs_p if alt else None)),
               "hgvs_c": (inp.hgvs_c or (alt.hgvs_c if alt else None)),
               "result": values["result"], "vaf": inp.vaf, "allele_context": values["allele context"],
               "origin": values["origin"]}
        return row, out, alt

    def add_biopsy(self, p: Any, inp: BiopsyInput, *, force: bool = False) -> Written:
        """Save one biopsy finding (Core: ``p`` may be a row or an ORM patient)."""
        values, problems, alt = self._biopsy_row_values(p, inp)
        self._refuse(problems)
        t = read._tables().biopsy_finding
        same = self._rows(core_select(t).where(  # "is not distinct from": a None matches a None, as in Python
            t.c.patient_id == p.id, t.c.date == inp.date, t.c.sample.is_not_distinct_from(values["sample"]),
            t.c.gene.is_not_distinct_from(values["gene"]), t.c.variant.is_not_distinct_from(values["variant"]))
            .order_by(t.c.date, t.c.id))
        if same and not force:
            label = f"{alt.display} in {values['sample']} on {inp.date.isoformat()}"
            raise InputError("--variant", inp.variant, "a finding not already logged", message=(
                f"--variant: {label} is already logged for {p.name} (id {same[0].id}); expected a new finding "
                f"(pass --force to log it again, or use lungtrack biopsy edit {same[0].id})."))
        row = self._insert("biopsy_finding", dict(patient_id=p.id, source=inp.source.label,
                                                  external_id=inp.source.external_id, **values))
        self.say(f"logged biopsy finding of {inp.date.isoformat()} for {p.name}")
        return Written("biopsy", (row.id,), (read.row_data(t, row),), extra={"alteration": alt})

    def edit_biopsy(self, p: m.Patient, finding_id: int, changes: dict[str, Any]) -> Written:
        """``changes``: any of date, sample, gene, variant, result, vaf (None clears), assay, allele_context."""
        row = repo.get_record(self.session, m.BiopsyFinding, finding_id, p)
        merged = {"date": row.date, "sample": row.sample, "gene": row.gene, "variant": row.variant,
                  "result": row.result, "vaf": row.vaf, "assay": row.assay, "allele_context": row.allele_context}
        renormalise = "gene" in changes or "variant" in changes
        merged.update(changes)
        inp = BiopsyInput(date=merged["date"], sample=merged["sample"], gene=merged["gene"], variant=merged["variant"],
                          result=merged["result"], vaf=merged["vaf"], assay=merged["assay"],
                          allele_context=merged["allele_context"],
                          hgvs_p=None if renormalise else row.hgvs_p, hgvs_c=None if renormalise else row.hgvs_c)
        values, problems, alt = self._biopsy_row_values(p, inp)
        if problems:
            first = problems[0]
            fieldname = first.field if first.field.startswith("--") else f"--{first.field.replace(' ', '-')}"
            message = first.message
            if "result" not in changes and first.field in ("--vaf", "--allele-context"):
                message = message.replace("with --result", "with the stored result")
            raise InputError(fieldname, "", "", message=message)
        for key, value in values.items():
            setattr(row, key, value)
        self._touch(row)
        self._flush()
        self.say(f"edited biopsy finding {row.id} of {p.name}")
        return Written("biopsy", (row.id,), (repo.row_dict(row),), extra={"alteration": alt})

    # ------------------------------------------------------------ appointments and notes

    def plan_appointment(self, p: Any, inp: AppointmentInput) -> Written:
        """Plan (or record) one appointment (Core: ``p`` may be a row or an ORM patient)."""
        problems: list[Problem] = []
        origin = inp.source.origin
        kind, why = ck.vocabulary("kind", inp.kind, "appointment kind")
        if why:
            problems.append(Problem(origin, "kind", why))
        status, why = ck.vocabulary("status", inp.status, "appointment status")
        if why:
            problems.append(Problem(origin, "status", why))
        reason = ck.clinical_date("date", inp.date, self.today, p.birth_date, allow_future=status != "done")
        if reason:
            problems.append(Problem(origin, "date", reason))
        self._refuse(problems)
        t = read._tables().appointment
        dup = self._first(core_select(t).where(t.c.patient_id == p.id, t.c.date == inp.date, t.c.kind == kind,
                                               t.c.status == status).order_by(t.c.id))
        if dup is not None:  # the same kind of appointment on the same day: say so, add nothing
            return Written("appointment", (dup.id,), (read.row_data(t, dup),), already=True)
        row = self._insert("appointment", dict(patient_id=p.id, date=inp.date, kind=kind, description=inp.description,
                                               status=status, source=inp.source.label,
                                               external_id=inp.source.external_id))
        self.say(f"planned {kind} appointment on {inp.date.isoformat()} for {p.name}")
        return Written("appointment", (row.id,), (read.row_data(t, row),))

    def edit_appointment(self, p: m.Patient, appointment_id: int, *, date_: date | None = None,
                         kind: str | None = None, description: str | None = None, status: str | None = None,
                         date_field: str = "--date") -> Written:
        row = repo.get_record(self.session, m.Appointment, appointment_id, p)
        if date_ is not None:
            row.date = date_
        if kind is not None:
            row.kind = ck.vocabulary("--kind", kind, "appointment kind")[0] or row.kind
        if description is not None:
            row.description = description or None
        if status is not None:
            row.status = ck.vocabulary("--status", status, "appointment status")[0] or row.status
        if row.status == "done" and row.date > self.today:
            raise InputError(date_field, row.date.isoformat(), "a date on or before today", message=(
                f"{date_field}: {row.date.isoformat()} is in the future (today is {self.today.isoformat()}); expected "
                "the date the appointment took place, on or before today (use --date DATE)."))
        self._touch(row)
        self._flush()
        self.say(f"edited appointment {row.id} of {p.name}")
        return Written("appointment", (row.id,), (repo.row_dict(row),))

    def add_note(self, p: Any, inp: NoteInput) -> Written:
        """Save one note (Core: ``p`` may be a row or an ORM patient)."""
        reason = ck.clinical_date("date", inp.date, self.today, p.birth_date)
        if reason:
            self._refuse([Problem(inp.source.origin, "date", reason)])
        row = self._insert("note", dict(patient_id=p.id, date=inp.date, text=inp.text, source=inp.source.label,
                                        external_id=inp.source.external_id))
        self.say(f"added a note for {p.name}")
        return Written("note", (row.id,), (read.row_data(read._tables().note, row),))

    def edit_note(self, p: m.Patient, note_id: int, *, text: str | None = None, date_: date | None = None) -> Written:
        row = repo.get_record(self.session, m.Note, note_id, p)
        if text is not None:
            row.text = text
        if date_ is not None:
            row.date = date_
        self._touch(row)
        self._flush()
        self.say(f"edited note {row.id} of {p.name}")
        return Written("note", (row.id,), (repo.row_dict(row),))

    # ------------------------------------------------------------ delete

    def find(self, kind: str, ids: Sequence[int], p: m.Patient | None) -> list[Any]:
        """The records to delete, all checked first (an unknown id refuses the whole command)."""
        model = getattr(m, KINDS[kind])
        rows = []
        missing = []
        for rid in dict.fromkeys(ids):
            row = self.session.get(model, rid)
            if row is None or (p is not None and repo.record_patient_id(self.session, row) != p.id):
                missing.append(rid)
            else:
                rows.append(row)
        if missing:
            who = f" for {p.name}" if p is not None else ""
            label = repo.table_label(model)
            raise NotFoundError(f"No {label} with id {', '.join(str(i) for i in missing)}{who}; nothing was deleted.")
        return rows

    def delete(self, kind: str, ids: Sequence[int], p: m.Patient | None = None) -> Written:
        rows = self.find(kind, ids, p)
        counts: dict[str, int] = {}
        for row in rows:
            if isinstance(row, m.Patient):
                ident = self.session.exec(select(m.PatientIdentifier).where(m.PatientIdentifier.patient_id == row.id)).all()
                for r in ident:
                    self.session.delete(r)
            if isinstance(row, (m.Lesion,)):
                for n in self.session.exec(select(m.NewLesion).where(m.NewLesion.lesion_id == row.id)):
                    self.session.delete(n)
                    counts["new_lesion"] = counts.get("new_lesion", 0) + 1
                self._flush()
            if isinstance(row, m.ImagingStudy):
                self._drop_orphan_new_lesions(row)
            for table, n in repo.delete_record(self.session, row).items():
                counts[table] = counts.get(table, 0) + n
        self.say(f"deleted {len(rows)} {kind} record(s)")
        return Written(kind, tuple(r.id for r in rows), extra={"counts": counts})

    def _drop_orphan_new_lesions(self, study: m.ImagingStudy) -> None:
        """Deleting a scan removes the lesions first reported new on it that nothing else records."""
        for n in repo.study_new_lesions(self.session, study):
            if n.lesion_id is None:
                continue
            self.session.delete(n)
            self._flush()
            les = self.session.get(m.Lesion, n.lesion_id)
            busy = self.session.exec(select(m.LesionMeasurement).where(m.LesionMeasurement.lesion_id == n.lesion_id)).first() \
                or self.session.exec(select(m.NewLesion).where(m.NewLesion.lesion_id == n.lesion_id)).first()
            if les is not None and busy is None:
                self.session.delete(les)
                self._flush()

    def log_event(self, action: str, detail: str, patients: Sequence[tuple[int | None, str | None]] = ()) -> None:
        """One event-log row per patient (an export of every patient of a clinic's store: one
        executemany, not an object per row)."""
        from lungtrack.store.bulk import bulk_insert

        at = utcnow()
        rows = [{"at": at, "action": action, "patient_id": pid, "patient_name": name, "detail": detail}
                for pid, name in (patients or [(None, None)])]
        self._sync()
        bulk_insert(self.conn, read._tables().event_log, rows, same=("at",))

    # ------------------------------------------------------------ imports

    def apply_import(self, plan: Any, *, dry_run: bool = False, patient: m.Patient | None = None) -> Any:
        from lungtrack.records.importing import apply_import

        return apply_import(self, plan, dry_run=dry_run, patient=patient)

    # ------------------------------------------------------------ undo

    def undo(self, change: m.Change) -> dict[str, int]:
        from lungtrack.records.journal import revert

        done = revert(self.session, change)
        self.kind = "undo"
        self.say(f"undid change {change.id} ({change.summary or change.kind})")
        self._undone = change
        change.undone_at = utcnow()
        self.session.add(change)
        self.session.flush()
        return done


@contextmanager
def writer(store: Any, *, command: str | None = None, kind: str = "edit", today: date | None = None,
           session: Session | None = None) -> Iterator[Writer]:
    """One write command: one transaction and one journal change."""
    when = today or date.today()
    if session is not None:
        yield from _run(Writer(session.connection(), store, when, kind, command, session=session))
        return
    with store.write() as conn:
        yield from _run(Writer(conn, store, when, kind, command))


def _run(w: Writer) -> Iterator[Writer]:
    try:
        yield w
        w._sync()
        parts = w.summary if len(w.summary) <= 3 else [*w.summary[:2], f"and {len(w.summary) - 2} more"]
        summary = "; ".join(parts)[:2000] or None
        if w.kind == "undo":
            from lungtrack.store import models as mm

            row = mm.Change(at=utcnow(), command=w.command, summary=summary, kind="undo",
                            os_user=__import__("lungtrack.records.journal", fromlist=["os_user"]).os_user())
            w.session.add(row)
            w.session.flush()
            undone = getattr(w, "_undone", None)
            if undone is not None:
                undone.undone_by = row.id
                w.session.add(undone)
                w.session.flush()
            w.change_id = row.id
        else:
            w.change_id = w.recorder.save(w.conn, w.kind, w.command, summary or "")
    finally:
        w.close()
