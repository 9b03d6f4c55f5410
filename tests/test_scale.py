"""Scale: bulk loading gives the same histories, all-patient commands stream in batches
(JSON Lines, batch boundaries, worker pool), progress stays silent off a terminal, and the
single-patient queries use indexes (EXPLAIN QUERY PLAN)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import cohort  # noqa: E402 - lives in benchmarks/


def _reference_history(session, patient):
    """The previous load_history, query by query (two per scan): the reference the bulk loader must match."""
    from lungtrack.core import history as h
    from lungtrack.enums import (
        AlleleContext,
        AppointmentKind,
        AppointmentStatus,
        BiopsyResult,
        LesionRole,
        Marker,
        MeasurementStatus,
        Modality,
        NonTargetStatus,
        Sample,
        StopReason,
    )
    from lungtrack.store import models as m
    from lungtrack.store import read, repo
    from lungtrack.store.read import _enum

    lines = tuple(h.TherapyLine(id=ln.id, drug=ln.drug, start=ln.start_date, end=ln.end_date,
                                stop_reason=_enum(StopReason, ln.stop_reason)) for ln in repo.therapy_lines(session, patient))
    lesions = tuple(h.Lesion(id=le.id, label=le.label, site=le.site, is_node=le.is_node, role=_enum(LesionRole, le.role))
                    for le in repo.lesions(session, patient))
    studies = []
    for st in repo.records(session, m.ImagingStudy, patient):
        meas = tuple(h.Measurement(lesion_id=x.lesion_id, size_mm=x.size_mm,
                                   status=_enum(MeasurementStatus, x.status, MeasurementStatus.MEASURED))
                     for x in repo.study_measurements(session, st))
        new = tuple(h.NewLesion(site=x.site, label=x.label, is_node=x.is_node, size_mm=x.size_mm, equivocal=x.equivocal)
                    for x in repo.study_new_lesions(session, st))
        studies.append(h.ImagingStudy(id=st.id, date=st.date, modality=_enum(Modality, st.modality, Modality.CT),
                                      slice_thickness_mm=st.slice_thickness_mm, measurements=meas, new_lesions=new,
                                      non_target_status=_enum(NonTargetStatus, st.non_target_status),
                                      impression=st.impression))
    markers = tuple(h.MarkerResult(id=r.id, date=r.date, marker=Marker(r.marker), value=r.value, unit=r.unit, uln=r.uln,
                                   lab=r.lab)
                    for r in repo.records(session, m.MarkerResult, patient) if _enum(Marker, r.marker) is not None)
    biopsies = tuple(h.BiopsyFinding(id=b.id, date=b.date, sample=_enum(Sample, b.sample, Sample.OTHER), gene=b.gene,
                                     variant=b.variant, result=_enum(BiopsyResult, b.result, BiopsyResult.INDETERMINATE),
                                     vaf=b.vaf, assay=b.assay, allele_context=_enum(AlleleContext, b.allele_context))
                     for b in repo.records(session, m.BiopsyFinding, patient))
    appts = tuple(h.Appointment(id=a.id, date=a.date, kind=_enum(AppointmentKind, a.kind, AppointmentKind.OTHER),
                                description=a.description,
                                status=_enum(AppointmentStatus, a.status, AppointmentStatus.PLANNED))
                  for a in repo.records(session, m.Appointment, patient))
    return h.History(patient=read.patient_info(patient), lines=lines, lesions=lesions, studies=tuple(studies),
                     markers=markers, biopsies=biopsies, appointments=appts)


def _open(path):
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    return open_store(resolve(str(path)))


@pytest.fixture
def cohort_db(db_path):
    """A seeded cohort of 4 patients with 10 years of history each, in the test's store."""
    cohort.build(str(db_path), 4, seed=7)
    return db_path


def test_bulk_history_equals_the_per_scan_reference_on_the_demo_patient(demo, db_path):
    from lungtrack.store import repo

    demo("scan", "add", "--date", "2026-08-01", "--lesion", "RUL mass 21", "--new-lesion", "liver: 8 mm")
    store = _open(db_path)
    with store.transaction(write=False) as session:
        ann = repo.find_patient(session, "ann")
        reference = _reference_history(session, ann)
        assert any(s.new_lesions for s in reference.studies) and reference.markers and reference.biopsies
        assert repo.load_history(session, ann) == reference
        assert repo.load_histories(session, [ann.id]) == [reference]
    store.close()


def test_bulk_histories_equal_the_reference_on_generated_ten_year_patients(cohort_db):
    from lungtrack.store import repo

    store = _open(cohort_db)
    with store.transaction(write=False) as session:
        patients = repo.list_patients(session)
        references = [_reference_history(session, p) for p in patients]
        assert all(len(r.studies) >= 40 and len(r.lines) >= 2 and len(r.lesions) >= 3 for r in references)
        assert [repo.load_history(session, p) for p in patients] == references
        ids = [p.id for p in patients]
        # any order, any subset: the batch keeps the order asked for
        assert repo.load_histories(session, ids[::-1]) == references[::-1]
        assert repo.load_histories(session, ids[1:3]) == references[1:3]
        assert repo.load_histories(session, []) == []
    store.close()


def test_find_patient_is_case_insensitive_also_beyond_ascii(cli):
    assert cli("patient", "add", "Élodie Ärger").code == 0
    assert cli("patient", "add", "bob").code == 0
    assert cli("check", "--patient", "élodie ärger", "--json").json()["patients"][0]["patient"]["name"] == "Élodie Ärger"
    assert cli("check", "--patient", "BOB", "--json").json()["patients"][0]["patient"]["name"] == "bob"
    r = cli("check", "--patient", "Bobby")
    assert r.code == 2 and "one of: bob, Élodie Ärger" in r.stderr
    r = cli("patient", "add", "ÉLODIE ÄRGER")
    assert r.code == 2 and "already exists" in r.stderr


def test_check_all_patients_json_is_json_lines_one_object_per_patient(cohort_db, cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    r = cli("check", "--all-patients", "--json")
    lines = r.stdout.splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    assert [x["patient"]["name"] for x in records] == [f"Patient {i:06d}" for i in range(1, 5)]
    # each line is exactly what check prints for that patient alone (with --all: history too)
    for rec in records:
        single = cli("check", "--patient", rec["patient"]["name"], "--json").json()
        assert single["patients"] == [rec]
    with_history = [json.loads(line) for line in cli("check", "--all-patients", "--all", "--json").stdout.splitlines()]
    for rec in with_history[:2]:
        assert cli("check", "--patient", rec["patient"]["name"], "--all", "--json").json()["patients"] == [rec]
    attention = sum(x["needs_attention"] for x in records)
    assert r.code == (3 if attention else 0)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_batch_boundaries(db_path, cli, monkeypatch, jobs, n):
    """Batch size 3: one patient less, exactly one batch, one more, and several batches, with and without the pool."""
    from lungtrack import services
    from lungtrack.store import read

    cohort.build(str(db_path), n, seed=3)
    monkeypatch.setattr(services, "BATCH_SIZE", 3)
    sizes: list[int] = []
    original = read.iter_patient_batches

    def spy(conn, batch_size=200):
        for batch in original(conn, batch_size):
            sizes.append(len(batch))
            yield batch

    monkeypatch.setattr(read, "iter_patient_batches", spy)
    monkeypatch.setenv("LUNGTRACK_JOBS", str(jobs))
    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    names = [json.loads(line)["patient"]["name"] for line in cli("check", "--all-patients", "--json").stdout.splitlines()]
    assert names == [f"Patient {i:06d}" for i in range(1, n + 1)]
    assert sizes == [3] * (n // 3) + ([n % 3] if n % 3 else [])  # batches of 3, the last one short
    sizes.clear()
    reminded = {json.loads(line)["patient"] for line in cli("remind", "--all-patients", "--json").stdout.splitlines()}
    assert reminded == set(names)


def test_stream_in_worker_processes_equals_in_process(cohort_db, monkeypatch):
    from functools import partial

    from lungtrack.cli.checks import check_item
    from lungtrack.core.config import RulesConfig
    from lungtrack.services import stream_all_patients

    store = _open(cohort_db)
    with store.transaction(write=False) as session:
        one = list(stream_all_patients(session, cohort.TODAY, RulesConfig(), partial(check_item, False),
                                       batch_size=2, jobs=1))
        two = list(stream_all_patients(session, cohort.TODAY, RulesConfig(), partial(check_item, False),
                                       batch_size=2, jobs=2))
    store.close()
    assert [r for _p, r in one] == [r for _p, r in two] and len(one) == 4


class _Cycle:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def _leave_a_cycle(refs: list, evaluation) -> bool:
    import gc
    import weakref

    cycle = _Cycle()
    refs.append(weakref.ref(cycle))
    return gc.isenabled()


def test_the_stream_collects_each_batchs_cyclic_garbage_with_the_automatic_collector_off(cohort_db):
    """The all-patient stream turns the automatic collections off (they found almost nothing and
    cost CPU) and collects after each batch instead: cycles a patient's work leaves are freed
    batch by batch, so memory stays flat; the collector is on again afterwards."""
    import gc
    from functools import partial

    from lungtrack.core.config import RulesConfig
    from lungtrack.services import stream_all_patients

    refs: list = []
    alive_when_batch_two_started = None
    store = _open(cohort_db)
    assert gc.isenabled()
    with store.transaction(write=False) as session:
        results = []
        for i, (_p, enabled) in enumerate(stream_all_patients(session, cohort.TODAY, RulesConfig(),
                                                             partial(_leave_a_cycle, refs), batch_size=2, jobs=1)):
            results.append(enabled)
            if i == 2:  # the first patient of the second batch
                alive_when_batch_two_started = [r() is not None for r in refs]
    store.close()
    assert results == [False] * 4  # no automatic collection during the stream
    assert alive_when_batch_two_started == [False, False, True]  # batch one's cycles were collected
    assert gc.isenabled()
    gc.collect()
    assert [r() is None for r in refs] == [True] * 4


def test_remind_all_patients_json_lines(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-08-12")
    for name, scan in (("Ann", "2026-05-01"), ("Bob", "2026-07-30")):
        assert cli("patient", "add", name).code == 0
        assert cli("therapy", "start", "osimertinib", "--on", "2026-01-05", "--patient", name).code == 0
        assert cli("scan", "add", "--date", scan, "--lesion", "RUL: lung, 20 mm", "--patient", name).code == 0
    r = cli("remind", "--all-patients", "--json")
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["patient"] for x in records] == ["Ann", "Bob"]
    assert [x["key"] for x in records[0]["reminders"]] == ["imaging"]
    assert records[1]["reminders"] == [] and records[1]["needs_attention"] == 0
    assert r.code == 3
    # text output: the same lines as before streaming, Ann overdue, Bob not listed
    text = cli("remind", "--all-patients").stdout.splitlines()
    assert text[0] == "lungtrack reminders for Wed 2026-08-12" and text[1].startswith("- Ann: CT scan overdue")
    assert not any(line.startswith("- Bob") for line in text)


def test_progress_is_silent_off_a_terminal_and_shown_on_one(cohort_db, cli, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    original = common.PatientProgress.__init__

    def no_delay(self, total, label, *, delay=1.0):
        original(self, total, label, delay=0.0)

    monkeypatch.setattr(common.PatientProgress, "__init__", no_delay)
    r = cli("check", "--all-patients", "--json")
    assert r.stderr == "" and len(r.stdout.splitlines()) == 4
    monkeypatch.setattr(common, "progress_wanted", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    r = cli("check", "--all-patients", "--json")
    assert "Checking patients" in r.stderr and len(r.stdout.splitlines()) == 4


def _plan(conn, sql, params):
    return " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())


def test_single_patient_queries_use_indexes_sqlite(cohort_db):
    """Every query of one patient's check (find by name, default patient, history, acks, snoozes)
    searches an index; none scans a whole table."""
    store = _open(cohort_db)
    seen = _single_patient_queries(store)
    assert len(seen) >= 10
    with store.engine.connect() as conn:
        for sql, params in seen:
            plan = _plan(conn, sql, params)
            assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), (sql, plan)
    store.close()


def test_explain_detects_a_full_scan(cohort_db):
    """The check above can fail: a query without an index shows SCAN in its plan."""
    store = _open(cohort_db)
    with store.engine.connect() as conn:
        assert "SCAN" in _plan(conn, "SELECT * FROM marker_result WHERE value > ?", (3.0,))
    store.close()


# ------------------------------------------------------------------ PostgreSQL and concurrency

def _single_patient_queries(store):
    """The SELECTs (statement, parameters) of finding one patient by name, the default patient,
    and evaluating that patient."""
    from sqlalchemy import event

    from lungtrack.core.config import RulesConfig
    from lungtrack.services import evaluate_patient
    from lungtrack.store import repo

    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "alembic_version" not in statement:
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    with store.transaction(write=False) as session:
        p = repo.find_patient(session, "PATIENT 000003")
        repo.find_patient(session, None)
        evaluate_patient(session, p, cohort.TODAY, RulesConfig())
    event.remove(store.engine, "before_cursor_execute", record)
    return seen


@pytest.mark.postgres
def test_postgresql_bulk_histories_and_indexed_single_patient_queries(pg_url):
    from lungtrack.store import repo

    cohort.build(pg_url, 4, seed=7)
    store = _open(pg_url)
    with store.transaction(write=False) as session:
        patients = repo.list_patients(session)
        references = [_reference_history(session, p) for p in patients]
        assert repo.load_histories(session, [p.id for p in patients]) == references
        assert repo.find_patient(session, "patient 000002").name == "Patient 000002"
    queries = _single_patient_queries(store)
    assert len(queries) >= 10
    with store.engine.connect() as conn:
        # tiny tables: the planner would rightly pick sequential scans; with them switched off a
        # "Seq Scan" remains only where no index can serve the query
        conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in queries:
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall())
            assert "Seq Scan" not in plan, (sql, plan)
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN SELECT * FROM marker_result WHERE value > 3").fetchall())
        assert "Seq Scan" in plan  # the check can fail
    store.close()


WRITER = r"""
import io, json, sys, contextlib
from lungtrack.cli import app
patient, first_day, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = []
for i in range(n):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            app(["marker", "add", "cea", str(3 + i / 10), "--date", f"2026-03-{first_day + i:02d}",
                 "--patient", patient, "--force"], prog_name="lungtrack")
            code = 0
        except SystemExit as e:
            code = e.code or 0
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""

READER = r"""
import io, json, sys, contextlib
from lungtrack.cli import app
runs = []
for _ in range(int(sys.argv[1])):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            app(["remind", "--all-patients", "--json"], prog_name="lungtrack")
            code = 0
        except SystemExit as e:
            code = e.code or 0
    runs.append([code, len(out.getvalue().splitlines()), err.getvalue()])
print(json.dumps(runs))
"""


def _concurrent_remind_and_writes(db: str, n_patients: int) -> None:
    """A cron ``remind --all-patients`` (twice) while two processes each add 6 marker results:
    every write lands, every process exits normally, no "database is locked" reaches anyone."""
    env = dict(os.environ, LUNGTRACK_DB=db, LUNGTRACK_TODAY=cohort.TODAY.isoformat(), LUNGTRACK_JOBS="1",
               PYTHONPATH=str(ROOT / "src"))
    procs = [subprocess.Popen([sys.executable, "-c", READER, "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)]
    for who, first_day in (("Patient 000001", 1), ("Patient 000002", 8)):
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, who, str(first_day), "6"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert "locked" not in err.lower(), err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    reader, *writers = outputs
    for code, lines, err in reader:
        assert code in (0, 3) and lines == n_patients and "locked" not in err.lower(), (code, lines, err)
    for results in writers:
        assert [code for code, _err in results] == [0] * 6, results
        assert not any("locked" in err.lower() for _code, err in results), results
    from sqlalchemy import text

    store = _open(db)
    with store.engine.connect() as conn:
        added = conn.execute(text(
            "SELECT p.name, COUNT(*) FROM marker_result m JOIN patient p ON p.id = m.patient_id "
            "WHERE m.source <> 'bench' GROUP BY p.name ORDER BY p.name")).all()
    store.close()
    assert [tuple(r) for r in added] == [("Patient 000001", 6), ("Patient 000002", 6)]


def test_concurrent_remind_and_two_writers_sqlite(db_path):
    cohort.build(str(db_path), 12, seed=5)
    _concurrent_remind_and_writes(str(db_path), 12)


@pytest.mark.postgres
def test_concurrent_remind_and_two_writers_postgresql(pg_url):
    cohort.build(pg_url, 12, seed=5)
    _concurrent_remind_and_writes(pg_url, 12)
