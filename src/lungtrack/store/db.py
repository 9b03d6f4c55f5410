"""Opening a store: engine, file permissions, WAL, migrations, backups, transactions.

* New store files are created mode 0600 inside a 0700 directory.
* SQLite runs in WAL mode with a busy timeout, so a cron job and a person can use one store.
* Every command runs in one transaction (:meth:`Store.transaction`); write transactions on
  SQLite start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half-way.
* Migrations are Alembic revisions, run when the store is opened, after a backup copy
  (SQLite: a consistent copy through the backup API; PostgreSQL: a JSON dump of every table).
* A store whose schema revision this lungtrack does not know (made by a newer lungtrack) is
  refused with a clear message.
* Before the engine touches an existing file (the engine switches it to WAL), the file is looked at
  through a read-only connection: a 0-byte file, a file that is not SQLite, and an SQLite database
  that is not lungtrack's are refused with nothing changed.
* A store that cannot be written (read-only file or folder) is opened read-only: reads work and
  every write says "read-only".  A damaged store (SQLite's quick_check fails) refuses every write
  and points to the newest backup.
* Backups are written to a temporary file, synced and renamed: a full disk never leaves a 0-byte
  or partial backup, and an existing symlink at the destination is replaced, not followed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from lungtrack import __version__
from lungtrack.errors import InputError, StoreError
from lungtrack.store.paths import StoreLocation, data_dir

if TYPE_CHECKING:
    from sqlmodel import Session

#: The newest schema revision this lungtrack knows (tests check it equals Alembic's head).
SCHEMA_HEAD = "0008"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0007", "0008")
BUSY_TIMEOUT_MS = 15000


SQLITE_HEADER = b"SQLite format 3\x00"


class Store:
    """An open store.  Use :meth:`transaction` for one unit of work."""

    def __init__(self, location: StoreLocation, engine: Engine, read_only: bool = False):
        self.location = location
        self.engine = engine
        self.read_only = read_only
        self.backup_made: Path | None = None
        self._checked = False

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read-only transaction on a Core connection (:mod:`lungtrack.store.read` queries it).

        What the read-only commands use: it never imports SQLModel, pydantic or the ORM."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One transaction on an ORM session: commit when the block ends, roll back on any error.

        A write transaction is refused on a read-only store, and on a damaged one (checked once
        per open store with SQLite's ``quick_check`` before the first write)."""
        from sqlmodel import Session

        if write and self.read_only:
            raise StoreError(read_only_message(self.location))
        with Session(self.engine, expire_on_commit=False) as session:
            if write and self.location.is_sqlite:
                self._check_before_write(session.connection(execution_options={"lungtrack_immediate": True}))
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction on a Core connection: commit when the block ends, roll back on any
        error.  The same checks as :meth:`transaction`; on SQLite it starts with ``BEGIN IMMEDIATE``.

        What :func:`lungtrack.records.writer.writer` opens: an everyday write (``marker add``,
        ``note add``, ``scan add``) then never imports SQLModel, pydantic or the ORM; an operation
        that needs the ORM opens a session on this same connection and transaction."""
        if self.read_only:
            raise StoreError(read_only_message(self.location))
        with self.engine.connect() as conn:
            if self.location.is_sqlite:
                conn = conn.execution_options(lungtrack_immediate=True)
            with conn.begin():
                if self.location.is_sqlite:
                    self._check_before_write(conn)
                yield conn

    def _check_before_write(self, conn: Connection) -> None:
        """Refuse to write to a damaged SQLite store (``quick_check``, once per open store)."""
        if not self._checked:
            if _quick_check_worthwhile(self.location):
                _refuse_if_damaged(self.location, lambda: [r[0] for r in conn.exec_driver_sql("PRAGMA quick_check")])
            self._checked = True

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return _current_revision(conn)

    def close(self) -> None:
        self.engine.dispose()


def read_only_message(location: StoreLocation) -> str:
    return (f"the store at {location.display} is read-only (the file or its folder cannot be written): "
            "it can be read, but nothing can be saved to it. Nothing was saved.")


def newest_backup(location: StoreLocation) -> Path | None:
    """The newest backup file beside an SQLite store (``backups/``), if any."""
    if location.path is None:
        return None
    folder = location.path.parent / "backups"
    try:
        # copies kept by 'db restore' may be of a damaged store: never offered as the one to restore
        files = [f for f in folder.iterdir() if f.is_file() and f.suffix == ".db" and not f.name.startswith(".")
                 and "-before-restore" not in f.name]
    except OSError:
        return None
    return max(files, key=lambda f: (f.stat().st_mtime, f.name), default=None)


def damaged_message(location: StoreLocation, detail: str = "") -> str:
    latest = newest_backup(location)
    where = (f"The newest backup is {latest}; restore it with 'lungtrack db restore {latest}' "
             "(it is checked first)." if latest is not None else
             "No backup was found beside it (backups/); restore one with 'lungtrack db restore FILE'.")
    extra = f" ({detail})" if detail else ""
    return f"the store at {location.display} is damaged{extra}; nothing was written to it. {where}"


def _refuse_if_damaged(location: StoreLocation, quick_check) -> None:
    try:
        result = quick_check()
    except (sqlite3.DatabaseError, SQLAlchemyError) as exc:
        raise StoreError(damaged_message(location, _short(exc))) from None
    if result != ["ok"]:
        raise StoreError(damaged_message(location, f"SQLite's check found {len(result)} problem(s)"))


#: Stores up to this size are checked with ``PRAGMA quick_check`` before the first write of a command
#: (about 15 ms per MB).  A person's store is well under 1 MB; above this size SQLite's own checks on
#: every page it touches still report damage ("malformed"), and ``lungtrack db check`` checks it all.
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024


def _quick_check_worthwhile(location: StoreLocation) -> bool:
    try:
        return location.path is not None and location.path.stat().st_size <= QUICK_CHECK_MAX_BYTES
    except OSError:
        return True


def _writable(path: Path) -> bool:
    """Can this process write the store file and its folder (for the WAL and journal files)?"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)



def _copy_sqlite(src: sqlite3.Connection, tmp: Path) -> None:
    """A consistent copy of an open SQLite database into ``tmp`` through the backup API, as one
    self-contained file (journal mode DELETE: no -wal beside it).  Closes ``src``."""
    dst = sqlite3.connect(str(tmp))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = DELETE")
    finally:
        dst.close()
        src.close()

def _ro_connect(path: Path) -> sqlite3.Connection:
    """A read-only connection that changes nothing about the file (not even its journal mode)."""
    uri = path.absolute().as_uri()
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        # a WAL store in a folder we cannot write: read it as it is on disk
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def inspect_sqlite_file(path: Path) -> None:
    """Look at an existing store file before anything changes it; refuse what is not a lungtrack store."""
    try:
        size = path.stat().st_size
        if size == 0 and time.time() - path.stat().st_mtime < 10:
            # another lungtrack may be creating this store right now: give it a moment
            for _ in range(30):
                time.sleep(0.1)
                if path.stat().st_size:
                    break
            size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"--db: cannot read {path}: {exc.strerror}") from None
    if size == 0:
        raise StoreError(f"--db: {path} is an empty file (0 bytes), not a lungtrack store; nothing was changed. "
                         "Point --db / LUNGTRACK_DB at your store, or remove the empty file to start a new one.")
    if head != SQLITE_HEADER:
        raise StoreError(f"--db: {path} is not a lungtrack store (not an SQLite database); nothing was changed.")
    location = StoreLocation(url=f"sqlite:///{path}", path=path, explicit=True)
    try:
        con = _ro_connect(path)
    except sqlite3.DatabaseError as exc:
        raise StoreError(damaged_message(location, _short(exc))) from None
    try:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = None
        if "alembic_version" in names:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
            version = row[0] if row else None
    except sqlite3.DatabaseError as exc:
        raise StoreError(damaged_message(location, _short(exc))) from None
    finally:
        con.close()
    others = names - {"alembic_version", "sqlite_sequence"}
    if others and ("alembic_version" not in names or "patient" not in names):
        raise StoreError(f"--db: {path} is a database but not a lungtrack store; nothing was changed.")
    if version is not None and version not in KNOWN_REVISIONS and "patient" not in names:
        raise StoreError(f"--db: {path} is a database but not a lungtrack store; nothing was changed.")


def _make_engine(location: StoreLocation, read_only: bool = False) -> Engine:
    if location.is_sqlite and read_only and location.path is not None:
        path = location.path
        engine = create_engine("sqlite://", creator=lambda: _ro_connect(path))

        @event.listens_for(engine, "begin")
        def _on_begin_ro(conn):  # pragma: no cover
            conn.exec_driver_sql("BEGIN")

        return engine
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
    except (SQLAlchemyError, ValueError):  # an unknown scheme, a port that is not a number, a broken host
        raise InputError("--db", location.display, "a store file path or a database URL such as "
                         "postgresql+psycopg://user@host/lungtrack") from None


def _prepare_sqlite_file(path: Path, create: bool) -> bool:
    """Make sure the file exists with private permissions.  Returns True if it was created."""
    if path.exists():
        if path.is_dir():
            raise StoreError(f"--db: {path} is a directory; expected a store file path")
        inspect_sqlite_file(path)
        return False
    if path.is_symlink():  # a link to nothing: never create a store wherever it points
        raise StoreError(f"--db: {path} is a symbolic link to a file that does not exist; nothing was created. "
                         "Point --db / LUNGTRACK_DB at the store itself.")
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
    read_only = False
    if location.path is not None:
        _prepare_sqlite_file(location.path, create)
        read_only = not _writable(location.path)
    engine = _make_engine(location, read_only)
    store = Store(location, engine, read_only)
    try:
        with engine.connect() as conn:
            # an up-to-date store costs one version read; the table list only when there is no version
            current = _read_revision(conn)
            tables = set() if current is not None else set(inspect(conn).get_table_names())
    except SQLAlchemyError as exc:
        engine.dispose()
        detail = _short(exc)
        if location.is_sqlite and ("malformed" in detail or "not a database" in detail):
            raise StoreError(damaged_message(location, detail)) from None
        if location.is_sqlite and "readonly" in detail:
            raise StoreError(read_only_message(location)) from None
        raise StoreError(f"Cannot open the store at {location.display}: {_safe_detail(exc)}") from None
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
        if read_only:
            engine.dispose()
            raise StoreError(f"the store at {location.display} needs a schema upgrade ({current} -> {SCHEMA_HEAD}) "
                             "but is read-only; make it writable and run lungtrack again. Nothing was changed.")
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


def _read_revision(conn) -> str | None:
    """The schema revision by one plain query (no schema inspection); None without a version table."""
    try:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except (OperationalError, ProgrammingError):
        conn.rollback()  # PostgreSQL: a failed statement aborts the transaction
        return None
    return row[0] if row else None


def _current_revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def _short(exc: Exception) -> str:
    msg = str(getattr(exc, "orig", exc)).strip().splitlines()
    return msg[0] if msg else exc.__class__.__name__


def _safe_detail(exc: Exception) -> str:
    """The driver's first line, without SQL, parameters or passwords."""
    from lungtrack.store.paths import redact

    text = _short(exc)
    if "[SQL:" in text or "[parameters:" in text:
        text = text.split("[SQL:", 1)[0].split("[parameters:", 1)[0].strip()
    return redact(text) or exc.__class__.__name__


def backup(store: Store, reason: str = "manual", dest: Path | None = None, field: str = "--output") -> Path:
    """Copy the whole store to a private backup file and return its path.

    SQLite stores are copied consistently with SQLite's online backup API; server stores are
    dumped table by table to JSON.  The copy is written to a temporary file in the destination
    folder, synced to disk and renamed over ``dest``: a full disk leaves no 0-byte or partial
    backup, and a symlink at ``dest`` is replaced, not followed.
    """
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    loc = store.location
    if dest is None:
        base = (loc.path.parent if loc.path is not None else data_dir()) / "backups"
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"cannot make the backup folder {base}: {exc.strerror}; nothing was written") from None
        stem = loc.path.stem if loc.path is not None else "server"
        dest = base / f"{stem}-{stamp}-{reason}{'.db' if loc.is_sqlite else '.json'}"
    else:
        dest = check_output_path(Path(dest), field)
    if loc.path is not None:
        def fill(tmp: Path) -> None:
            _copy_sqlite(_ro_connect(loc.path) if store.read_only
                         else sqlite3.connect(str(loc.path), timeout=BUSY_TIMEOUT_MS / 1000), tmp)
    else:
        with store.engine.connect() as conn:
            dump = dump_tables(conn)
        payload = json.dumps(dump, indent=1, default=_json_default).encode("utf-8")

        def fill(tmp: Path) -> None:
            tmp.write_bytes(payload)
    return write_atomically(dest, fill, what="the backup")


def check_output_path(path: Path, field: str = "--output") -> Path:
    """A file path whose folder exists and which is not a folder itself (else ``InputError``)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise InputError(field, str(path), "a file path, not a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(field, str(path), f"a file in an existing folder ({folder} does not exist)")
    return path


def write_atomically(dest: Path, fill, what: str = "the file") -> Path:
    """Write ``dest`` through ``fill(tmp_path)``: a private temporary file in the same folder,
    fsync'd, renamed over ``dest`` (replacing a symlink rather than following it), folder fsync'd.
    On any failure the temporary file is removed and ``dest`` is left as it was."""
    import tempfile

    dest = Path(dest)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise StoreError(f"cannot write {what} {dest}: {exc.strerror}; nothing was written") from None
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o600)
        fill(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {what} {dest}: {exc.strerror or exc}; no partial file was left") from None
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot write {what} {dest}: {_short(exc)}; no partial file was left") from None
        raise
    return dest


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - some file systems do not open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def check_store(location: StoreLocation) -> dict:
    """Look at a store without changing it: file, permissions, SQLite integrity, schema version.

    Returns a plain dict with ``ok`` and a list of ``problems`` (sentences).  SQLite files are
    opened read-only (not even the journal mode changes); server stores are only connected to.
    """
    info: dict = {"location": location.display, "backend": "sqlite" if location.is_sqlite else "server",
                  "schema_head": SCHEMA_HEAD, "schema_revision": None, "integrity": None,
                  "read_only": False, "permissions": None, "newest_backup": None, "problems": []}
    problems: list[str] = info["problems"]
    if location.path is None:
        engine = _make_engine(location)
        try:
            with engine.connect() as conn:
                info["schema_revision"] = _current_revision(conn)
        except SQLAlchemyError as exc:
            problems.append(f"cannot connect: {_safe_detail(exc)}")
        finally:
            engine.dispose()
        _check_revision(info, problems)
        info["ok"] = not problems
        return info
    path = location.path
    latest = newest_backup(location)
    info["newest_backup"] = str(latest) if latest is not None else None
    if not path.exists():
        problems.append(f"there is no store at {path}")
        info["ok"] = False
        return info
    if path.is_dir():
        problems.append(f"{path} is a folder, not a store file")
        info["ok"] = False
        return info
    file_mode = path.stat().st_mode & 0o777
    dir_mode = path.parent.stat().st_mode & 0o777
    info["permissions"] = {"file": f"{file_mode:04o}", "folder": f"{dir_mode:04o}"}
    if file_mode & 0o077:
        problems.append(f"the store file is readable by others (mode {file_mode:04o}); expected 0600: chmod 600 {path}")
    if dir_mode & 0o077:
        problems.append(f"the store's folder is open to others (mode {dir_mode:04o}); expected 0700: chmod 700 {path.parent}")
    info["read_only"] = not _writable(path)
    try:
        inspect_sqlite_file(path)
    except StoreError as exc:
        problems.append(exc.message.removeprefix("--db: "))
        info["integrity"] = "damaged" if "damaged" in exc.message else "not a lungtrack store"
        info["ok"] = False
        return info
    try:
        con = _ro_connect(path)
        try:
            result = [r[0] for r in con.execute("PRAGMA integrity_check(20)")]
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
            row = con.execute("SELECT version_num FROM alembic_version").fetchone() if con.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone() else None
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        result, fk, row = [_short(exc)], [], None
    info["integrity"] = "ok" if result == ["ok"] else "damaged"
    if result != ["ok"]:
        problems.append(damaged_message(location, f"{len(result)} problem(s), first: {result[0]}"))
    elif fk:
        info["integrity"] = "damaged"
        problems.append(damaged_message(location, f"{len(fk)} record(s) point to records that do not exist"))
    info["schema_revision"] = row[0] if row else None
    _check_revision(info, problems)
    info["ok"] = not problems
    return info


def _check_revision(info: dict, problems: list[str]) -> None:
    current = info["schema_revision"]
    if current is None:
        if info.get("integrity") != "damaged":
            problems.append("the store has no schema version (it is empty or not a lungtrack store)")
    elif current not in KNOWN_REVISIONS:
        problems.append(f"schema revision {current} was made by a newer lungtrack (this one knows up to {SCHEMA_HEAD})")


def restore_store(location: StoreLocation, source: Path) -> Path | None:
    """Replace the SQLite store with a checked copy of ``source``; returns the backup of the store
    it replaced (None when there was no store).  The source must pass SQLite's integrity check and
    be a lungtrack store this lungtrack can open; it is copied, never moved."""
    if location.path is None:
        raise StoreError("db restore works on SQLite stores; restore a PostgreSQL store with its own tools "
                         "(the JSON backups hold every table)")
    source = Path(source).expanduser()
    if not source.is_file():
        raise InputError("FILE", str(source), "an existing backup file (.db)")
    src_loc = StoreLocation(url=f"sqlite:///{source}", path=source, explicit=True)
    report = check_store(src_loc)
    bad = [p for p in report["problems"] if "readable by others" not in p and "open to others" not in p]
    if bad:
        raise InputError("FILE", str(source), "a lungtrack backup that passes the integrity check", message=(
            f"FILE: {source} cannot be restored: {bad[0]} Nothing was changed."))
    target = location.path
    if target.exists() and source.resolve() == target.resolve():
        raise InputError("FILE", str(source), "a backup file, not the store itself")
    saved: Path | None = None
    if target.exists() and target.stat().st_size > 0:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        folder = target.parent / "backups"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        saved = folder / f"{target.stem}-{stamp}-before-restore.db"

        healthy = check_store(location)["integrity"] == "ok"

        def keep(tmp: Path) -> None:
            if healthy:  # a consistent copy, WAL included
                _copy_sqlite(_ro_connect(target), tmp)
            else:  # damaged or not a store: keep its bytes exactly as they are
                import shutil

                shutil.copyfile(target, tmp)

        write_atomically(saved, keep, what="the copy of the current store")
    elif not target.parent.exists():
        target.parent.mkdir(parents=True, mode=0o700)

    def fill(tmp: Path) -> None:
        _copy_sqlite(_ro_connect(source), tmp)

    # stale WAL/shm files of the old store must not be replayed into the restored one
    staged = write_atomically(target.with_name(f".{target.name}.restore"), fill, what="the restored store")
    for suffix in ("-wal", "-shm"):
        try:
            os.unlink(f"{target}{suffix}")
        except FileNotFoundError:
            pass
    os.replace(staged, target)
    _fsync_dir(target.parent)
    return saved


def dump_tables(conn) -> dict:
    """Every lungtrack table as lists of row dicts (for backups and export)."""
    out: dict = {"lungtrack_version": __version__, "schema_revision": _current_revision(conn), "tables": {}}
    from lungtrack.store.tables import metadata

    insp = inspect(conn)
    for table in metadata.sorted_tables:
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
