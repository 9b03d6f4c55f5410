"""The journal: every write command is one ``change`` with one ``change_entry`` per row it
inserted, updated or deleted (old and new values as JSON), so that it can be shown
(``lungtrack log``) and reverted (``lungtrack undo``, ``lungtrack import undo ID``).

Rows written through the ORM are captured by session events (``before_flush`` for the old
values of updated and deleted rows, ``after_flush`` for the new rows and their ids).  Bulk
imports insert with SQLAlchemy Core and journal their rows as one ``insert-ids`` entry per
table (the ids, not one entry per row).

Undo restores every row exactly: deleted rows come back with their ids and every column
(timestamps included), updated rows get their old values back, inserted rows are deleted.
The domain tables are then byte-equal to what they were before the command; the journal keeps
the undone change, marked ``undone_at``.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Date, DateTime, delete, event, insert, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from lungtrack.errors import InputError, NotFoundError
from lungtrack.store import models as m
from lungtrack.store.clock import utcnow

if TYPE_CHECKING:  # the ORM is imported where it is used: an everyday write journals without it
    from sqlmodel import Session, SQLModel


def orm_select(*entities: Any) -> Any:
    from sqlmodel import select as _select

    return _select(*entities)

#: Tables that are never journalled (the journal itself, and the export log).
UNJOURNALLED = frozenset({"change", "change_entry", "event_log", "alembic_version"})

#: Options whose values are safe to keep in the journal's command line (no health data, no secrets).
_KEEP_VALUES = frozenset({"--patient", "-p", "--format", "--json", "--yes", "-y", "--force", "--dry-run",
                          "--limit", "--kind", "--modality", "--sample", "--result", "--reason", "--status"})


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return os.environ.get("USER")


def mask_command(args: Sequence[str], keep: set[int] | frozenset[int] = frozenset()) -> str:
    """The command line with every value masked (``…``): command words and option names stay,
    so does ``--patient NAME`` (whose records it touched); the store (``--db``, whose URL may
    hold a password) and every typed value (sizes, marker values, free text, file names) are
    replaced.  ``keep``: positions of the command words (``marker``, ``add``)."""
    out: list[str] = []
    keep_next = False
    for i, token in enumerate(args):
        if i in keep:
            out.append(token)
            continue
        if keep_next:
            out.append(token)
            keep_next = False
            continue
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            name, eq, _value = token.partition("=")
            if eq:
                out.append(f"{name}=" + ("…" if name not in _KEEP_VALUES else _value))
            else:
                out.append(name)
                keep_next = name in _KEEP_VALUES and name not in ("--json", "--yes", "-y", "--force", "--dry-run")
            continue
        out.append("…")
    return " ".join(["lungtrack", *out])


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- row <-> JSON

def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row_values(obj: SQLModel) -> dict[str, Any]:
    table = obj.__table__  # type: ignore[attr-defined]
    return {c.name: _encode(getattr(obj, c.name)) for c in table.columns}


def encode_row(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values (every column, as a Core write inserts them) as the journal keeps them."""
    return {k: _encode(v) for k, v in values.items()}


def _decode_row(table_name: str, data: dict[str, Any]) -> dict[str, Any]:
    table = m.table(table_name)
    out: dict[str, Any] = {}
    for c in table.columns:
        if c.name not in data:
            continue
        v = data[c.name]
        kind = _kind(c.type)
        if v is not None and kind is DateTime:
            v = datetime.fromisoformat(v)
        elif v is not None and kind is Date:
            v = date.fromisoformat(v)
        out[c.name] = v
    return out


def _kind(col_type: Any) -> Any:
    """DateTime, Date or None for a column type (through TypeDecorators such as a UTC datetime)."""
    impl = getattr(col_type, "impl", col_type)
    impl = impl if not isinstance(impl, type) else impl()
    for kind in (DateTime, Date):
        if isinstance(impl, kind) or isinstance(col_type, kind):
            return kind
    return None


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


# --------------------------------------------------------------------------- capture

@dataclass
class Entry:
    table: str
    row_id: int
    op: str  # insert, update, delete, insert-ids
    old: dict[str, Any] | None
    new: Any


class Recorder:
    """Collects the entries of one change from the session's flushes."""

    def __init__(self, session: Session | None = None):
        self.session: Session | None = None
        self.entries: list[Entry] = []
        self._pending_new: list[SQLModel] = []
        if session is not None:
            self.attach(session)

    def attach(self, session: Session) -> None:
        """Record the rows ``session`` flushes (the writer's ORM operations)."""
        self.session = session
        event.listen(session, "before_flush", self._before_flush)
        event.listen(session, "after_flush", self._after_flush)

    def close(self) -> None:
        if self.session is not None:
            event.remove(self.session, "before_flush", self._before_flush)
            event.remove(self.session, "after_flush", self._after_flush)
            self.session = None

    def inserted(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        """A row a Core write inserted (``values``: every column, the id included)."""
        if table not in UNJOURNALLED:
            self.entries.append(Entry(table, row_id, "insert", None, encode_row(values)))

    def updated(self, table: str, row_id: int, old: dict[str, Any], new: dict[str, Any]) -> None:
        """A row a Core write updated: the old and new values of the columns that changed."""
        if table not in UNJOURNALLED and old:
            self.entries.append(Entry(table, row_id, "update", encode_row(old), encode_row(new)))

    @staticmethod
    def _table(obj: Any) -> str | None:
        table = getattr(obj, "__tablename__", None)
        return None if table is None or table in UNJOURNALLED else table

    def _before_flush(self, session: Session, _ctx: Any, _instances: Any) -> None:
        for obj in list(session.deleted):
            table = self._table(obj)
            if table is not None:
                self.entries.append(Entry(table, obj.id, "delete", _row_values(obj), None))
        for obj in list(session.dirty):
            table = self._table(obj)
            if table is None or not session.is_modified(obj, include_collections=False):
                continue
            state = inspect(obj)
            old: dict[str, Any] = {}
            new: dict[str, Any] = {}
            for c in obj.__table__.columns:  # type: ignore[attr-defined]
                hist = state.attrs[c.name].history
                if hist.deleted and (not hist.added or hist.added[0] != hist.deleted[0]):
                    old[c.name] = _encode(hist.deleted[0])
                    new[c.name] = _encode(hist.added[0] if hist.added else None)
            if old:
                self.entries.append(Entry(table, obj.id, "update", old, new))
        self._pending_new = [o for o in session.new if self._table(o) is not None]

    def _after_flush(self, _session: Session, _ctx: Any) -> None:
        for obj in self._pending_new:
            self.entries.append(Entry(self._table(obj) or "", obj.id, "insert", None, _row_values(obj)))  # type: ignore[attr-defined]
        self._pending_new = []

    def add_inserted_ids(self, table: str, ids: Sequence[int]) -> None:
        if ids:
            self.entries.append(Entry(table, len(ids), "insert-ids", None, list(ids)))

    def save(self, conn: Connection, kind: str, command: str | None, summary: str) -> int | None:
        """Write the change and its entries (Core inserts); None when nothing changed."""
        if not self.entries:
            return None
        from lungtrack.store import tables

        change, entry = tables.change, tables.change_entry
        change_id = conn.execute(insert(change).values(
            at=utcnow(), os_user=os_user(), command=command, summary=summary, kind=kind).returning(change.c.id)).scalar_one()
        rows = [{"change_id": change_id, "table_name": e.table, "row_id": e.row_id, "op": e.op,
                 "old": dumps(e.old) if e.old is not None else None,
                 "new": dumps(e.new) if e.new is not None else None} for e in self.entries]
        conn.execute(insert(entry), rows)
        return int(change_id)


# --------------------------------------------------------------------------- reading and undo

@dataclass(frozen=True)
class ChangeInfo:
    id: int
    at: datetime
    os_user: str | None
    command: str | None
    summary: str | None
    kind: str
    undone_at: datetime | None
    counts: dict[str, dict[str, int]]  # op -> table -> rows


def _counts(session: Session, change_id: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    rows = session.exec(orm_select(m.ChangeEntry.table_name, m.ChangeEntry.op, m.ChangeEntry.row_id)  # type: ignore[call-overload]
                        .where(m.ChangeEntry.change_id == change_id)).all()
    for table, op, row_id in rows:
        key = "insert" if op == "insert-ids" else op
        n = row_id if op == "insert-ids" else 1
        out.setdefault(key, {})
        out[key][table] = out[key].get(table, 0) + n
    return out


def change_info(session: Session, change: m.Change) -> ChangeInfo:
    return ChangeInfo(id=change.id or 0, at=change.at, os_user=change.os_user, command=change.command,
                      summary=change.summary, kind=change.kind, undone_at=change.undone_at,
                      counts=_counts(session, change.id or 0))


def list_changes(session: Session, limit: int | None = 20) -> list[ChangeInfo]:
    stmt = orm_select(m.Change).order_by(m.Change.id.desc())  # type: ignore[union-attr]
    if limit:
        stmt = stmt.limit(limit)
    return [change_info(session, c) for c in session.exec(stmt)]


def last_undoable(session: Session) -> m.Change:
    change = session.exec(orm_select(m.Change).where(m.Change.undone_at.is_(None))  # type: ignore[union-attr]
                          .where(m.Change.kind != "undo").order_by(m.Change.id.desc())).first()  # type: ignore[union-attr]
    if change is None:
        raise NotFoundError("Nothing to undo: the journal holds no change that has not been undone.")
    return change


def get_change(session: Session, change_id: int, kind: str | None = None) -> m.Change:
    change = session.get(m.Change, change_id)
    if change is None or (kind is not None and change.kind != kind):
        what = f"{kind} change" if kind else "change"
        raise NotFoundError(f"No {what} with id {change_id} in the journal (see: lungtrack log).")
    if change.undone_at is not None:
        raise InputError("ID", change_id, "a change not yet undone",
                         message=f"ID: change {change_id} was already undone on {change.undone_at:%Y-%m-%d %H:%M} UTC.")
    return change


def _same(table_name: str, now: dict[str, Any] | None, recorded: dict[str, Any]) -> bool:
    """The row still holds the values the change wrote (timestamps aside)."""
    if now is None:
        return False
    cols = m.table(table_name).columns
    return all(now.get(k) == v for k, v in recorded.items() if k in cols and _kind(cols[k].type) is not DateTime)


def _own_rows(entries: Sequence[Any]) -> tuple[dict[tuple[str, int], tuple[int, dict[str, Any] | None]], set[int]]:
    """Walk a change's entries in order: (each row it inserted that is still there -> the id of
    the entry that inserted it and the values the change last wrote to it, None for bulk-inserted
    rows; the ids of its update and delete entries that touched a row it had itself inserted
    before: undoing the insert undoes them too)."""
    written: dict[tuple[str, int], tuple[int, dict[str, Any] | None]] = {}
    own: set[int] = set()
    for e in entries:
        if e.op == "insert-ids":
            for i in json.loads(e.new or "[]"):
                written[(e.table_name, i)] = (e.id, None)
            continue
        key = (e.table_name, e.row_id)
        if e.op == "insert":
            written[key] = (e.id, json.loads(e.new or "{}"))
        elif key in written:
            own.add(e.id)
            values = written[key][1]
            if e.op == "delete":
                del written[key]
            elif values is not None:
                values.update(json.loads(e.new or "{}"))
    return written, own


def revert(session: Session, change: m.Change) -> dict[str, int]:
    """Revert ``change``'s rows in the open transaction; returns rows restored per op.

    Order: deleted rows come back first (parents before children), then updated rows get
    their old values, then inserted rows are deleted (children before parents).  A row that
    a later change modified or removed makes the undo refuse (nothing is written)."""
    entries = list(session.exec(orm_select(m.ChangeEntry).where(m.ChangeEntry.change_id == change.id)
                                .order_by(m.ChangeEntry.id)))
    from sqlmodel import SQLModel

    m.load_all()
    order = {t.name: i for i, t in enumerate(SQLModel.metadata.sorted_tables)}
    conn = session.connection()
    done = {"restored": 0, "reverted": 0, "removed": 0}

    def table(name: str) -> Any:
        return m.table(name)

    def current(name: str, row_id: int) -> dict[str, Any] | None:
        t = table(name)
        row = conn.execute(select(t).where(t.c.id == row_id)).mappings().first()
        return {k: _encode(v) for k, v in row.items()} if row is not None else None

    def later(what: str) -> InputError:
        return InputError("undo", change.id, "a change no later change depends on", message=(
            f"undo: change {change.id} cannot be undone: {what} was changed again by a later command; "
            "undo the later change first (see: lungtrack log). Nothing was changed."))

    sqlite = conn.dialect.name == "sqlite"
    if sqlite:  # rows come back in any order; the foreign keys are checked once, at the end
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    written, own = _own_rows(entries)
    inserts = [e for e in entries if e.op in ("insert", "insert-ids")]
    try:
        # 1. rows the change inserted go (children first): a deleted row may come back in their place.
        #    A row it inserted holds what this change last wrote to it (its own updates included);
        #    a row it inserted and then deleted is already gone.
        for e in sorted(inserts, key=lambda e: (-order.get(e.table_name, 0), -e.id)):
            t = table(e.table_name)
            ids = json.loads(e.new) if e.op == "insert-ids" else [e.row_id]
            ids = [i for i in ids if written.get((e.table_name, i), (None, None))[0] == e.id]
            if e.op == "insert" and ids and not _same(e.table_name, current(e.table_name, e.row_id),
                                                      written[(e.table_name, e.row_id)][1] or {}):
                raise later(f"{e.table_name} row {e.row_id}")
            for k in range(0, len(ids), 500):
                chunk = ids[k:k + 500]
                res = conn.execute(delete(t).where(t.c.id.in_(chunk)))
                if res.rowcount != len(chunk):
                    raise later(f"a {e.table_name} row")
            done["removed"] += len(ids)
        # 2. rows the change deleted come back with their ids and every value (parents first)
        for e in sorted([e for e in entries if e.op == "delete" and e.id not in own],
                        key=lambda e: (order.get(e.table_name, 0), e.id)):
            if current(e.table_name, e.row_id) is not None:
                raise later(f"{e.table_name} row {e.row_id}")
            conn.execute(insert(table(e.table_name)).values(**_decode_row(e.table_name, json.loads(e.old or "{}"))))
            done["restored"] += 1
        # 3. rows the change updated get their old values (the last update first)
        for e in reversed([e for e in entries if e.op == "update" and e.id not in own]):
            if not _same(e.table_name, current(e.table_name, e.row_id), json.loads(e.new or "{}")):
                raise later(f"{e.table_name} row {e.row_id}")
            t = table(e.table_name)
            conn.execute(update(t).where(t.c.id == e.row_id).values(**_decode_row(e.table_name, json.loads(e.old or "{}"))))
            done["reverted"] += 1
        if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
            raise later("a record that later records depend on")
    except IntegrityError:
        raise later("a record that later records depend on") from None
    return done
