"""Opening a store: engine, file permissions, WAL, migrations, backups, transactions.

* New store files are created mode 0600 inside a 0700 directory.
* SQLite runs in WAL mode with a busy timeout, so a cron job and a person can use one store.
* Every command runs in one transaction (:meth:`Store.transaction`); write transactions on
  SQLite start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way.
* Migrations are Alembic revisions, run when the store is opened, after a backup copy
  (SQLite: a consistent copy through the backup API; PostgreSQL: a JSON dump of every table).
* A store whose schema revision this lungtrack does not know (made by a newer lungtrack) is
  refused with a clear message.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, SQLModel

from lungtrack import __version__
from lungtrack.errors import StoreError
from lungtrack.store import models  # noqa: F401  (registers tables)
from lungtrack.store.paths import StoreLocation, data_dir

#: The newest schema revision this lungtrack knows (tests check it equals Alembic's head).
SCHEMA_HEAD = "0007"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0007")
BUSY_TIMEOUT_MS = 15000


class Store:
    """An open store.  Use :meth:`transaction` for one unit of work."""

    def __init__(self, location: StoreLocation, engine: Engine):
        self.location = location
        self.engine = engine
        self.backup_made: Path | None = None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One transaction: commit when the block ends, roll back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            if write and self.location.is_sqlite:
                session.connection(execution_options={"lungtrack_immediate": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _current_revision(conn)

    def close(self) -> None:
        self.engine.dispose()


def _make_engine(location: StoreLocation) -> Engine:
    if location.is_sqlite:
        engine = create_engine(
            location.url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "isolation_level": None, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised through every test
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # pragma: no cover
            immediate = conn.get_execution_options().get("lungtrack_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    try:
        return create_engine(location.url, pool_pre_ping=True)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"--db: {location.display} needs the database driver {exc.name!r}; "
            "install it with: pip install 'lungtrack[postgres]'"
        ) from None
    except SQLAlchemyError as exc:
        raise StoreError(f"--db: {location.display} is not a usable database URL ({exc.__class__.__name__})") from None


def _prepare_sqlite_file(path: Path, create: bool) -> bool:
    """Make sure the file exists with private permissions.  Returns True if it was created."""
    if path.exists():
        if path.is_dir():
            raise StoreError(f"--db: {path} is a directory; expected a store file path")
        return False
    if not create:
        raise StoreError(
            f"No lungtrack store at {path}. Create one with 'lungtrack patient add NAME' "
            "(or 'lungtrack demo'), or point --db / LUNGTRACK_DB at an existing store."
        )
    parent = path.parent
    if not parent.exists():
        old = os.umask(0o077)
        try:
            parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        finally:
            os.umask(old)
        os.chmod(parent, 0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        return False
    except OSError as exc:
        raise StoreError(f"--db: cannot create {path}: {exc.strerror}") from None
    os.chmod(path, 0o600)
    return True


def open_store(location: StoreLocation, *, create: bool = False, migrate: bool = True) -> Store:
    """Open (and if asked, create) the store, then bring its schema up to date."""
    if location.path is not None:
        _prepare_sqlite_file(location.path, create)
    engine = _make_engine(location)
    store = Store(location, engine)
    try:
        with engine.connect() as conn:
            current = _current_revision(conn)
            tables = set(inspect(conn).get_table_names())
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(f"Cannot open the store at {location.display}: {_short(exc)}") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"Cannot open the store at {location.display}: {_short(exc)}") from None
    if current is not None and current not in KNOWN_REVISIONS:
        engine.dispose()
        raise StoreError(
            f"The store at {location.display} has schema revision {current}, made by a newer "
            f"lungtrack; this lungtrack {__version__} knows revisions up to {SCHEMA_HEAD}. "
            "Upgrade lungtrack to open it; the store was not changed."
        )
    if current is None and tables - {"alembic_version"}:
        engine.dispose()
        raise StoreError(f"{location.display} is a database but not a lungtrack store; nothing was changed.")
    if current is None and not create and not tables:
        # an empty file: treat as missing rather than silently making a store
        pass
    if current != SCHEMA_HEAD:
        if not migrate:
            raise StoreError(f"The store at {location.display} needs a schema upgrade ({current} -> {SCHEMA_HEAD}).")
        if current is not None:
            store.backup_made = backup(store, reason=f"pre-migration-{current}")
        run_migrations(engine)
    return store


def run_migrations(engine: Engine, target: str = "head") -> None:
    """Run the Alembic revisions up to ``target`` (default: the newest), in one transaction."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def _current_revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _short(exc: Exception) -> str:
    msg = str(getattr(exc, "orig", exc)).strip().splitlines()
    return msg[0] if msg else exc.__class__.__name__


def backup(store: Store, reason: str = "manual", dest: Path | None = None) -> Path:
    """Copy the whole store to a private backup file and return its path.

    SQLite stores are copied consistently with SQLite's online backup API; server stores are
    dumped table by table to JSON.
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    loc = store.location
    if dest is None:
        base = (loc.path.parent if loc.path is not None else data_dir()) / "backups"
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = loc.path.stem if loc.path is not None else "server"
        dest = base / f"{stem}-{stamp}-{reason}{'.db' if loc.is_sqlite else '.json'}"
    dest = Path(dest)
    fd = os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(dest, 0o600)
    if loc.path is not None:
        src = sqlite3.connect(str(loc.path), timeout=BUSY_TIMEOUT_MS / 1000)
        dst = sqlite3.connect(str(dest))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        with store.engine.connect() as conn:
            dump = dump_tables(conn)
        dest.write_text(json.dumps(dump, indent=1, default=_json_default), encoding="utf-8")
    return dest


def dump_tables(conn) -> dict:
    """Every lungtrack table as lists of row dicts (for backups and export)."""
    out: dict = {"lungtrack_version": __version__, "schema_revision": _current_revision(conn), "tables": {}}
    insp = inspect(conn)
    for table in SQLModel.metadata.sorted_tables:
        if insp.has_table(table.name):
            # only the columns the store has: a pre-migration backup runs on the older schema
            present = {c["name"] for c in insp.get_columns(table.name)}
            cols = [c for c in table.columns if c.name in present]
            rows = conn.execute(select(*cols).order_by(*table.primary_key.columns)).mappings().all()
            out["tables"][table.name] = [dict(r) for r in rows]
    return out


def _json_default(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)
