"""The same code on PostgreSQL (a household or clinic sharing one store).

Needs LUNGTRACK_TEST_PG_URL (an account allowed to create databases); .ci/run sets it after
starting the Debian PostgreSQL 15 cluster.  Each test gets its own fresh database.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres


def _session(cli, db):
    steps = [
        ("patient", "add", "Ann", "--never-smoker", "--driver", "EGFR exon 19 deletion"),
        ("therapy", "start", "gefitinib", "--on", "2025-09-20"),
        ("scan", "add", "--date", "2025-09-15", "--lesion", "RUL mass: lung, 3.2 cm", "--lesion", "liver S6: liver, 18 mm",
         "--lesion", "4R: node, 16 mm"),
        ("scan", "add", "--date", "2025-12-10", "--lesion", "RUL mass 22", "--lesion", "liver S6 9", "--lesion", "4R 9"),
        ("scan", "add", "--date", "2026-03-10", "--lesion", "RUL mass 20", "--lesion", "liver S6 15", "--lesion", "4R 8"),
        ("marker", "add", "cea", "2.9", "--date", "2026-04-06"),
        ("marker", "add", "cea", "3.8", "--date", "2026-05-04"),
        ("marker", "add", "cea", "5.6", "--date", "2026-06-01"),
        ("biopsy", "add", "--date", "2026-07-28", "--sample", "plasma", "--variant", "p.Thr790Met", "--result", "detected",
         "--vaf", "0.8"),
    ]
    for step in steps:
        r = cli("--db", db, *step)
        assert r.code == 0, (step, r)


def _strip_timestamps(obj):
    if isinstance(obj, dict):
        return {k: _strip_timestamps(v) for k, v in obj.items() if k not in ("created_at", "updated_at", "acknowledged_at")}
    if isinstance(obj, list):
        return [_strip_timestamps(v) for v in obj]
    return obj


def test_same_results_on_postgresql_and_sqlite(pg_url, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    sqlite_db = str(tmp_path / "lite.db")
    _session(cli, pg_url)
    _session(cli, sqlite_db)
    for args in (("check", "--json"), ("response", "--json"), ("timeline", "--json"), ("scan", "list", "--json")):
        pg = cli("--db", pg_url, *args)
        lite = cli("--db", sqlite_db, *args)
        assert pg.code == lite.code, (args, pg, lite)
        assert _strip_timestamps(pg.json()) == _strip_timestamps(lite.json()), args
    check = cli("--db", pg_url, "check", "--json").json()
    rules = {f["rule"] for f in check["patients"][0]["findings"]}
    assert {"variant.resistance", "lesion.mixed_response"} <= rules


def test_migrations_recorded_and_newer_schema_refused_on_postgresql(pg_url, cli):
    from sqlalchemy import create_engine, text

    from lungtrack.store.db import SCHEMA_HEAD

    assert cli("--db", pg_url, "patient", "add", "Ann").code == 0
    info = cli("--db", pg_url, "db", "info", "--json").json()
    assert info["schema_revision"] == SCHEMA_HEAD and info["backend"] == "postgresql"
    from sqlalchemy.engine import make_url

    password = make_url(pg_url).password
    assert password, "the CI URL carries a password, so masking is tested"
    assert f":{password}@" not in info["location"] and ":***@" in info["location"]
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    r = cli("--db", pg_url, "patient", "list")
    assert r.code == 1 and "newer" in r.stderr


def test_bad_input_writes_nothing_on_postgresql(pg_url, cli):
    assert cli("--db", pg_url, "patient", "add", "Ann").code == 0
    r = cli("--db", pg_url, "marker", "add", "cea", "abc")
    assert r.code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert cli("--db", pg_url, "marker", "list", "--json").json() == []


def test_backup_of_a_postgresql_store_is_a_json_dump(pg_url, tmp_path, cli):
    import json

    assert cli("--db", pg_url, "patient", "add", "Ann").code == 0
    dest = tmp_path / "pg-backup.json"
    assert cli("--db", pg_url, "db", "backup", "-o", str(dest)).code == 0
    dump = json.loads(dest.read_text())
    assert [p["name"] for p in dump["tables"]["patient"]] == ["Ann"]
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
