"""store/tables.py (plain Core tables, generated from the SQLModel models) must describe exactly the
models' schema, and the read-only commands must run on it without building the ORM classes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import probe_modules
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import gen_tables  # noqa: E402


def _ddl(metadata, dialect) -> dict[str, list[str]]:
    out = {}
    for table in metadata.sorted_tables:
        stmts = [str(CreateTable(table).compile(dialect=dialect)).strip()]
        stmts += sorted(str(CreateIndex(ix).compile(dialect=dialect)).strip() for ix in table.indexes)
        out[table.name] = stmts
    return out


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_core_tables_have_the_models_ddl(dialect):
    from sqlmodel import SQLModel

    from lungtrack.store import models

    models.load_all()
    from lungtrack.store import tables

    core, orm = _ddl(tables.metadata, dialect), _ddl(SQLModel.metadata, dialect)
    assert sorted(core) == sorted(orm)
    for name in orm:
        assert core[name] == orm[name], name


def test_core_tables_read_values_as_the_models_do(demo, db_path):
    """Same Python types and values, row by row, for every table of the demo store (timestamps
    aware UTC, booleans bool, dates date)."""
    from sqlalchemy import create_engine, select
    from sqlmodel import Session, SQLModel

    from lungtrack.store import models

    models.load_all()
    from lungtrack.store import tables

    engine = create_engine(f"sqlite:///{db_path}")
    with Session(engine) as session:
        conn = session.connection()
        compared = 0
        for table in SQLModel.metadata.sorted_tables:
            orm_rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            core = tables.metadata.tables[table.name]
            core_rows = conn.execute(select(core).order_by(*core.primary_key.columns)).all()
            assert [tuple(r) for r in core_rows] == [tuple(r) for r in orm_rows], table.name
            for a, b in zip(core_rows, orm_rows):
                assert [type(x) for x in a] == [type(x) for x in b], table.name
            compared += len(orm_rows)
        assert compared > 50  # the demo store: every table with rows
    engine.dispose()


def test_generated_file_is_current():
    assert (ROOT / "src/lungtrack/store/tables.py").read_text() == gen_tables.render(), \
        "run: python3 scripts/gen_tables.py"


@pytest.mark.parametrize("args", [["check"], ["check", "--json"], ["response"], ["remind", "--patient", "Ann"],
                                  ["check", "--all-patients", "--json"]])
def test_read_only_commands_do_not_build_the_orm(cli, db_path, args):
    """The one-patient reads (and the all-patient check) run on Core tables: no SQLModel class,
    no pydantic, no sqlalchemy.orm, and the same output as before (checked by the other tests)."""
    assert cli("patient", "add", "Ann", "--diagnosed", "2025-01-10").code == 0
    assert cli("therapy", "start", "osimertinib", "--on", "2025-02-01").code == 0
    assert cli("marker", "add", "cea", "4.2", "--date", "2025-03-01").code == 0
    result = probe_modules(args, ["sqlmodel", "pydantic", "matplotlib", "sqlalchemy.orm", "lungtrack.store.models",
                                  "lungtrack.records"], {"LUNGTRACK_DB": str(db_path)})
    assert result["code"] in (0, 3)
    assert result["out"].strip()
    assert result["loaded"] == [], result["loaded"]


def test_every_table_has_its_model_module():
    """models.table(name) builds only the class module of that table, for every table."""
    from sqlmodel import SQLModel

    from lungtrack.store import models

    models.load_all()
    assert sorted(models._TABLE_MODULE) == sorted(SQLModel.metadata.tables)
    for name, module in models._TABLE_MODULE.items():
        assert models.table(name) is SQLModel.metadata.tables[name]
        assert name in {getattr(getattr(sys.modules[f"lungtrack.store.models.{module}"], c), "__tablename__", None)
                        for c in dir(sys.modules[f"lungtrack.store.models.{module}"])}


@pytest.mark.parametrize("args", [
    ["marker", "add", "cea", "4.4", "--date", "2025-03-02"],
    ["note", "add", "tired after the infusion", "--date", "2025-03-02"],
    ["scan", "add", "--date", "2025-04-01", "--lesion", "RUL: lung, 22 mm", "--lesion", "4R: node, 12 mm"],
    ["biopsy", "add", "--date", "2025-03-02", "--sample", "plasma", "--variant", "T790M", "--result", "detected"],
    ["appointment", "add", "--date", "2025-05-01", "--kind", "imaging"],
], ids=["marker add", "note add", "scan add", "biopsy add", "appointment add"])
def test_everyday_writes_do_not_import_the_orm(cli, db_path, args):
    """marker add, note add, scan add, biopsy add and appointment add read and write with
    SQLAlchemy Core on the write's connection: no SQLModel class, no pydantic, no sqlalchemy.orm, and the record is saved and
    journalled (undo takes it back)."""
    assert cli("patient", "add", "Ann", "--diagnosed", "2025-01-10").code == 0
    assert cli("marker", "add", "cea", "4.2", "--date", "2025-03-01").code == 0
    result = probe_modules(args, ["sqlmodel", "pydantic", "sqlalchemy.orm", "lungtrack.store.models.",
                                  "lungtrack.store.repo"], {"LUNGTRACK_DB": str(db_path)})
    assert result["code"] == 0
    assert result["loaded"] == [], result["loaded"]
    log = cli("log", "--json").json()
    assert log[0]["summary"].startswith(("logged CEA", "added a note", "logged CT", "logged biopsy", "planned")), log[0]
    assert cli("undo", "--yes").code == 0
    assert len(cli("marker", "list", "--json").json()) == 1
    assert cli("note", "list", "--json").json() == [] and cli("scan", "list", "--json").json() == []
    assert cli("biopsy", "list", "--json").json() == [] and cli("appointment", "list", "--json").json() == []


@pytest.mark.parametrize("what", ["report", "export"])
def test_reports_and_exports_log_their_event_without_the_orm(cli, db_path, tmp_path, what):
    """A report or an export records itself in the event log through the Core write path: it
    imports no SQLModel, pydantic or sqlalchemy.orm, and the entry is there."""
    assert cli("patient", "add", "Ann", "--diagnosed", "2025-01-10").code == 0
    assert cli("marker", "add", "cea", "4.2", "--date", "2025-03-01").code == 0
    out = tmp_path / "out.txt"
    args = (["report", "--format", "txt", "-o", str(out)] if what == "report" else ["export", "json", "-o", str(out)])
    result = probe_modules(args, ["sqlmodel", "pydantic", "sqlalchemy.orm", "lungtrack.store.models."],
                           {"LUNGTRACK_DB": str(db_path)})
    assert result["code"] == 0
    assert result["loaded"] == [], result["loaded"]
    assert out.stat().st_size > 0
    log = cli("db", "log", "--json").json()
    assert [e["action"] for e in log][-1] == ("report" if what == "report" else "export-json"), log


@pytest.mark.parametrize("fmt", ["json", "fhir"])
def test_imports_into_an_existing_store_do_not_import_the_orm(cli, db_path, tmp_path, fmt):
    """A JSON or FHIR import (patients created, matched and filled in, therapy lines, scans,
    markers, follow-up schedule) writes through Core: no SQLModel, pydantic or sqlalchemy.orm;
    undo takes it back."""
    source = tmp_path / "source.db"
    assert cli("--db", str(source), "demo", "--quiet").code == 0
    assert cli("--db", str(source), "schedule", "--imaging-every", "6-9 weeks").code == 0
    exported = tmp_path / f"ann.{fmt}.json"
    assert cli("--db", str(source), "export", fmt, "-o", str(exported)).code == 0
    assert cli("patient", "add", "Bob", "--diagnosed", "2025-01-10").code == 0
    before = cli("export", "json", "--all-patients").json()["patients"]
    result = probe_modules(["import", fmt, str(exported)], ["sqlmodel", "pydantic", "sqlalchemy.orm",
                                                            "lungtrack.store.models."], {"LUNGTRACK_DB": str(db_path)})
    assert result["code"] == 0
    assert result["loaded"] == [], result["loaded"]
    names = [p["patient"]["name"] for p in cli("export", "json", "--all-patients").json()["patients"]]
    assert sorted(names) == ["Ann", "Bob"]
    assert cli("undo", "--yes").code == 0
    assert cli("export", "json", "--all-patients").json()["patients"] == before


def test_core_insert_defaults_are_the_models():
    """A row a Core write inserts gets, for every column it is not given, what the model class
    gives a new object (store.tables.DEFAULTS; None elsewhere)."""
    from sqlmodel import SQLModel

    from lungtrack.store import models, tables

    models.load_all()
    for mapper in SQLModel._sa_registry.mappers:
        cls = mapper.class_
        obj = cls()
        for c in cls.__table__.columns:
            if c.name in ("id", "created_at", "updated_at", "at"):
                continue
            assert getattr(obj, c.name) == tables.DEFAULTS[c.table.name].get(c.name), (c.table.name, c.name)


def test_core_and_orm_writes_store_the_same_row(tmp_path):
    """The same marker result written through the ORM and by the Core write path: the same
    stored values, timestamps in the same stored form, and the same journal entry."""
    import re
    import sqlite3
    from datetime import date

    from lungtrack.records import inputs as ri
    from lungtrack.records.writer import writer
    from lungtrack.store import models as m
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    path = tmp_path / "s.db"
    store = open_store(resolve(str(path)), create=True)
    today = date(2026, 1, 1)
    with writer(store, today=today) as w:
        w.add_patient(ri.PatientInput(name="Ann"))
    with writer(store, today=today) as w:
        w.add_marker(w.patient_row("Ann"), ri.MarkerInput("CEA", 5.5, "ng/mL", date(2025, 5, 1), lab="City lab"))
    with writer(store, today=today) as w:
        p = w.patient("Ann")
        w.session.add(m.MarkerResult(patient_id=p.id, date=date(2025, 5, 1), marker="CEA", value=5.5, unit="ng/mL",
                                     lab="City lab"))
    store.close()
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    core, orm = [dict(r) for r in con.execute("SELECT * FROM marker_result ORDER BY id")]
    entries = [json.loads(r["new"]) for r in con.execute(
        "SELECT new FROM change_entry WHERE table_name = 'marker_result' ORDER BY id")]
    con.close()
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$")
    for key in ("created_at", "updated_at"):
        assert stamp.match(core[key]) and stamp.match(orm[key]), (core[key], orm[key])
    drop = ("id", "created_at", "updated_at")
    assert {k: v for k, v in core.items() if k not in drop} == {k: v for k, v in orm.items() if k not in drop}
    assert len(entries) == 2 and list(entries[0]) == list(entries[1])
    assert {k: v for k, v in entries[0].items() if k not in drop} == {k: v for k, v in entries[1].items() if k not in drop}
