"""The store: private files, WAL, migrations with backups, refusal of foreign or newer stores."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from lungtrack.errors import StoreError
from lungtrack.store import db as dbmod
from lungtrack.store.paths import resolve


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_store_is_private(tmp_path, cli):
    target = tmp_path / "fresh" / "dir" / "lt.db"
    r = cli("--db", str(target), "patient", "add", "Ann")
    assert r.code == 0, r
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    for suffix in ("-wal", "-shm"):
        side = target.with_name(target.name + suffix)
        if side.exists():
            assert _mode(side) & 0o077 == 0


def test_sqlite_runs_in_wal_mode_with_busy_timeout(db_path, cli):
    assert cli("patient", "add", "Ann").code == 0
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store = dbmod.open_store(resolve(str(db_path)))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == dbmod.BUSY_TIMEOUT_MS
    store.close()


def test_schema_head_matches_alembic_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(dbmod.__file__).parent / "migrations"))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == dbmod.SCHEMA_HEAD
    assert {r.revision for r in script.walk_revisions()} == set(dbmod.KNOWN_REVISIONS)


def test_migrations_are_recorded(db_path, cli):
    assert cli("patient", "add", "Ann").code == 0
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [(dbmod.SCHEMA_HEAD,)]
    r = cli("db", "info", "--json")
    assert r.json()["schema_revision"] == dbmod.SCHEMA_HEAD
    assert r.json()["counts"]["patient"] == 1


def test_upgrade_takes_a_backup_first_and_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    loc = resolve(str(path))
    dbmod._prepare_sqlite_file(path, create=True)
    engine = dbmod._make_engine(loc)
    dbmod.run_migrations(engine, target="0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO patient (created_at, updated_at, source, name, smoking, is_default) "
            "VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 'manual', 'Old Ann', 'never', 1)")
    engine.dispose()

    store = dbmod.open_store(loc)
    assert store.schema_revision() == dbmod.SCHEMA_HEAD
    assert store.backup_made is not None and store.backup_made.exists()
    assert _mode(store.backup_made) == 0o600
    backup = sqlite3.connect(store.backup_made)
    assert backup.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0001"
    assert backup.execute("SELECT name FROM patient").fetchall() == [("Old Ann",)]
    live = sqlite3.connect(path)
    assert live.execute("SELECT name FROM patient").fetchall() == [("Old Ann",)]
    store.close()


def test_store_from_newer_lungtrack_is_refused_and_unchanged(db_path, cli):
    assert cli("patient", "add", "Ann").code == 0
    con = sqlite3.connect(db_path)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    before = db_path.read_bytes()
    r = cli("patient", "list")
    assert r.code == 1
    assert "newer" in r.stderr and "9999" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sqlite3.connect(db_path).execute("SELECT version_num FROM alembic_version").fetchone()[0] == "9999"
    assert db_path.read_bytes()[:100] == before[:100]


def test_foreign_database_is_refused(tmp_path, cli):
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE accounts (id INTEGER)")
    con.commit()
    con.close()
    r = cli("--db", str(path), "patient", "list")
    assert r.code == 1
    assert "not a lungtrack store" in r.stderr
    assert sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall() == [("accounts",)]


def test_missing_store_is_an_error_not_a_new_store(tmp_path, cli):
    path = tmp_path / "nope" / "lt.db"
    r = cli("--db", str(path), "patient", "list")
    assert r.code == 1
    assert "No lungtrack store at" in r.stderr
    assert not path.exists() and not path.parent.exists()


def test_default_location_honours_xdg_data_home(tmp_path, monkeypatch, cli):
    monkeypatch.delenv("LUNGTRACK_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert cli("db", "path").stdout.strip() == str(tmp_path / "xdg" / "lungtrack" / "lungtrack.db")
    assert cli("patient", "add", "Ann").code == 0
    assert (tmp_path / "xdg" / "lungtrack" / "lungtrack.db").exists()


def test_db_option_beats_environment(tmp_path, cli):
    other = tmp_path / "other.db"
    assert cli("--db", str(other), "db", "path").stdout.strip() == str(other)


def test_password_is_masked_in_db_path(cli):
    r = cli("--db", "postgresql+psycopg://tom:secret@db.example/lungtrack", "db", "path")
    assert "secret" not in r.stdout and "tom:***@db.example" in r.stdout


def test_backup_command_writes_private_consistent_copy(tmp_path, db_path, cli):
    assert cli("patient", "add", "Ann").code == 0
    dest = tmp_path / "b.db"
    r = cli("db", "backup", "-o", str(dest))
    assert r.code == 0, r
    assert _mode(dest) == 0o600
    assert sqlite3.connect(dest).execute("SELECT name FROM patient").fetchall() == [("Ann",)]


def test_transaction_rolls_back_on_error(db_path, cli):
    assert cli("patient", "add", "Ann").code == 0
    store = dbmod.open_store(resolve(str(db_path)))
    from lungtrack.store import models as m

    with pytest.raises(RuntimeError):
        with store.transaction() as session:
            session.add(m.Note(patient_id=1, date=__import__("datetime").date(2026, 1, 1), text="x"))
            session.flush()
            raise RuntimeError("boom")
    with store.transaction(write=False) as session:
        from sqlmodel import select

        assert session.exec(select(m.Note)).all() == []
    store.close()


def test_store_error_is_one_line_without_traceback(tmp_path, cli):
    path = tmp_path / "dir.db"
    path.mkdir()
    r = cli("--db", str(path), "patient", "list")
    assert r.code == 1
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_open_store_create_false_raises(tmp_path):
    with pytest.raises(StoreError):
        dbmod.open_store(resolve(str(tmp_path / "x.db")))


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _indexes(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA index_list({table})")}


EXTERNAL_ID_TABLES = ("patient", "therapy_line", "imaging_study", "marker_result", "biopsy_finding", "appointment",
                      "note")


def test_upgrade_from_0002_adds_external_ids_and_event_log_keeps_data_and_backs_up(tmp_path):
    path = tmp_path / "v2.db"
    loc = resolve(str(path))
    dbmod._prepare_sqlite_file(path, create=True)
    engine = dbmod._make_engine(loc)
    dbmod.run_migrations(engine, target="0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO patient (created_at, updated_at, source, name, smoking, is_default) "
            "VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 'manual', 'Bea', 'never', 1)")
        conn.exec_driver_sql(
            "INSERT INTO marker_result (created_at, updated_at, source, patient_id, date, marker, value, unit) "
            "VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 'manual', 1, '2026-01-02', 'CEA', 4.2, 'ng/mL')")
        conn.exec_driver_sql(
            "INSERT INTO imaging_study (created_at, updated_at, source, patient_id, date, modality) "
            "VALUES ('2026-01-01 00:00:00', '2026-01-01 00:00:00', 'manual', 1, '2026-01-03', 'CT')")
        # the PostgreSQL pre-migration backup dumps the old schema: only the columns it has
        dump = dbmod.dump_tables(conn)
    assert dump["schema_revision"] == "0002"
    assert [(r["value"], "external_id" in r) for r in dump["tables"]["marker_result"]] == [(4.2, False)]
    engine.dispose()
    before = sqlite3.connect(path)
    assert "external_id" not in _columns(before, "patient")
    before.close()

    store = dbmod.open_store(loc)
    assert store.schema_revision() == dbmod.SCHEMA_HEAD == "0008"
    assert store.backup_made is not None and _mode(store.backup_made) == 0o600
    backup = sqlite3.connect(store.backup_made)
    assert backup.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0002"
    assert "external_id" not in _columns(backup, "marker_result")
    live = sqlite3.connect(path)
    assert live.execute("SELECT name FROM patient").fetchall() == [("Bea",)]
    assert live.execute("SELECT date, marker, value, unit, external_id FROM marker_result").fetchall() == [
        ("2026-01-02", "CEA", 4.2, "ng/mL", None)]
    assert live.execute("SELECT date, modality, external_id FROM imaging_study").fetchall() == [("2026-01-03", "CT", None)]
    for table in EXTERNAL_ID_TABLES:
        assert "external_id" in _columns(live, table), table
        assert f"ix_{table}_external_id" in _indexes(live, table), table
    # the date indexes of 0002 survive SQLite's table copy
    assert "ix_marker_result_patient_date" in _indexes(live, "marker_result")
    # 0004: the event log exists and starts empty
    assert live.execute("SELECT COUNT(*) FROM event_log").fetchone()[0] == 0
    store.close()


def test_migrated_schema_matches_the_models(tmp_path):
    """Alembic finds nothing to change between head and the SQLModel tables (names of indexes included)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    from lungtrack.store import models

    models.load_all()
    path = tmp_path / "head.db"
    store = dbmod.open_store(resolve(str(path)), create=True)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    store.close()
    assert diff == []
