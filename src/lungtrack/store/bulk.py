"""``bulk_insert``: many rows of one table in one executemany, their new ids returned in order.

Used by the imports (:mod:`lungtrack.records.importing`) and the event log
(``Writer.log_event``).  SQLAlchemy Core and the DB-API only: no ORM."""

from __future__ import annotations

from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import insert


def _sqlite_value(v: Any, _stamps: dict[datetime, str] = {}) -> Any:  # noqa: B006 - a cache
    if isinstance(v, date):
        if isinstance(v, datetime):
            text = _stamps.get(v)
            if text is None:
                if len(_stamps) > 100:
                    _stamps.clear()
                text = _stamps[v] = v.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text
        return v.isoformat()
    return v


def bulk_insert(conn: Any, table: Any, rows: list[dict[str, Any]],
                same: tuple[str, ...] = ("created_at", "updated_at", "patient_id")) -> list[int]:
    """Insert ``rows`` with one executemany; return their ids in order.  The columns in ``same``
    hold one value for every row (one patient's records, one timestamp): converted once.

    SQLite: the write transaction holds the store's write lock (``BEGIN IMMEDIATE``), so the new
    rows are exactly those above the largest id before the insert.  Other databases return the
    ids with the insert (``RETURNING``, in parameter order)."""
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.cursor()  # the DB-API connection of this transaction
        try:
            return _sqlite_bulk_insert(cursor, table, rows, same)
        finally:
            cursor.close()
    return [r[0] for r in conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)]


def _sqlite_bulk_insert(cursor: Any, table: Any, rows: list[dict[str, Any]], same: tuple[str, ...]) -> list[int]:
    """SQLite: the write transaction holds the store's write lock (``BEGIN IMMEDIATE``), so the
    new rows are exactly those above the largest id before the insert.  The id queries go to
    the DB-API cursor directly (through SQLAlchemy, building and running them cost more than the
    insert of a few dozen rows)."""
    name = table.name
    before = cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{name}"').fetchone()[0]
    # plain DB-API executemany, values in SQLAlchemy's own SQLite storage format (dates ISO,
    # timestamps 'YYYY-MM-DD HH:MM:SS.ffffff'): SQLAlchemy's per-value processing would cost
    # more than the insert itself
    cols = [c.name for c in table.columns if c.name in rows[0]]
    sql = f'INSERT INTO "{table.name}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})'
    first = rows[0]
    fixed = {c: _sqlite_value(first[c]) for c in same if c in first}
    convert = [c for c in cols if c not in fixed and c in ("date", "until")]
    pick = itemgetter(*cols)
    values = []
    for r in rows:  # the rows are this import's own dicts: converted in place
        r.update(fixed)
        for c in convert:
            if r[c] is not None:
                r[c] = r[c].isoformat()
        values.append(pick(r))
    cursor.executemany(sql, values)
    ids = [r[0] for r in cursor.execute(f'SELECT id FROM "{name}" WHERE id > ? ORDER BY id', (before,))]
    if len(ids) != len(rows):  # pragma: no cover - another writer despite the lock
        raise RuntimeError("bulk insert: unexpected row count")
    return ids
