"""store/tables.py (plain Core tables, generated from the SQLModel models) must describe exactly the
models' schema, and the read-only commands must run on it without building the ORM classes."""

from __future__ import annotations

import json
import os
import subprocess
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


def test_a_write_builds_only_the_classes_it_uses(cli, db_path):
    """Adding a marker builds the patient and marker classes, not the other 14 (the journal is
    written through plain column lists), and never the Core copy of the tables."""
    assert cli("patient", "add", "Ann", "--diagnosed", "2025-01-10").code == 0
    probe = r'''
import sys, json
sys.argv = ["lungtrack", "marker", "add", "cea", "4.2", "--date", "2025-03-01"]
from lungtrack.cli import main
try:
    main()
except SystemExit as e:
    code = e.code or 0
built = sorted(m for m in sys.modules if m.startswith("lungtrack.store.models."))
print(json.dumps({"code": code, "built": built, "core": "lungtrack.store.tables" in sys.modules}))
'''
    env = dict(os.environ, LUNGTRACK_DB=str(db_path))
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, res.stderr
    assert result["built"] == ["lungtrack.store.models._base", "lungtrack.store.models.marker",
                               "lungtrack.store.models.patient"]
    assert result["core"] is False
    assert cli("marker", "list", "--json").json()[0]["value"] == 4.2


def test_journal_insert_columns_are_the_models():
    """records.journal writes through plain column lists; they must name real columns of the
    journal tables, with the same kinds of types."""
    from sqlmodel import SQLModel

    from lungtrack.records.journal import _journal_tables
    from lungtrack.store import models

    models.load_all()
    for light in _journal_tables():
        real = SQLModel.metadata.tables[light.name]
        for col in light.columns:
            assert col.name in real.c, (light.name, col.name)
            assert type(col.type).__mro__[0] in type(real.c[col.name].type).__mro__ or \
                col.type._type_affinity is real.c[col.name].type._type_affinity, (light.name, col.name)
        required = {c.name for c in real.columns if not c.nullable and not c.primary_key and c.default is None
                    and c.server_default is None}
        assert required <= {c.name for c in light.columns}, (light.name, required)
