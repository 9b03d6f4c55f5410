"""export json / csv read patients in batches through the Core read path and write as they go.
The output must be byte for byte what the former per-record ORM export wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import cohort  # noqa: E402


def _old_patient_export(session, p) -> dict:
    """The former export of one patient: ORM objects, one query per scan and per measurement."""
    from sqlmodel import select

    from lungtrack.store import models as m
    from lungtrack.store import repo

    def study(s):
        data = repo.row_dict(s)
        data["measurements"] = []
        for mm in repo.study_measurements(session, s):
            lesion = session.get(m.Lesion, mm.lesion_id)
            data["measurements"].append({"id": mm.id, "lesion_id": mm.lesion_id, "label": lesion.label,
                                         "site": lesion.site, "is_node": lesion.is_node, "size_mm": mm.size_mm,
                                         "unit": "mm", "status": mm.status})
        data["new_lesions"] = [{"id": nl.id, "lesion_id": nl.lesion_id, "label": nl.label, "site": nl.site,
                                "is_node": nl.is_node, "size_mm": nl.size_mm, "unit": "mm", "equivocal": nl.equivocal}
                               for nl in repo.study_new_lesions(session, s)]
        return data

    patient = repo.row_dict(p)
    patient["identifiers"] = [{"system": i.system, "value": i.value} for i in session.exec(
        select(m.PatientIdentifier).where(m.PatientIdentifier.patient_id == p.id).order_by(m.PatientIdentifier.id))]
    return {
        "patient": patient,
        "therapy_lines": [repo.row_dict(x) for x in repo.therapy_lines(session, p)],
        "lesions": [repo.row_dict(x) for x in repo.lesions(session, p)],
        "scans": [study(s) for s in repo.records(session, m.ImagingStudy, p)],
        "marker_results": [repo.row_dict(x) for x in repo.records(session, m.MarkerResult, p)],
        "biopsy_findings": [repo.row_dict(x) for x in repo.records(session, m.BiopsyFinding, p)],
        "appointments": [repo.row_dict(x) for x in repo.records(session, m.Appointment, p)],
        "notes": [repo.row_dict(x) for x in repo.records(session, m.Note, p)],
        "acknowledgements": [repo.row_dict(x) for x in repo.acknowledgements(session, p).values()],
        "snoozes": [repo.row_dict(x) for x in repo.snoozes(session, p).values()],
    }


def _old_document(db_path, exported_at: str, names: list[str] | None) -> str:
    from lungtrack import __version__
    from lungtrack.cli.common import to_jsonable
    from lungtrack.importers.json_plan import EXPORT_FORMAT, FORMAT_VERSION
    from lungtrack.store import repo
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    store = open_store(resolve(str(db_path)))
    with store.transaction(write=False) as session:
        chosen = repo.list_patients(session) if names is None else [repo.find_patient(session, n) for n in names]
        data = {"format": EXPORT_FORMAT, "format_version": FORMAT_VERSION, "lungtrack_version": __version__,
                "exported_at": exported_at, "patients": [_old_patient_export(session, p) for p in chosen]}
    store.close()
    return json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n"


@pytest.fixture
def small_batches(monkeypatch):
    from lungtrack.store import read

    original = read.iter_patient_batches
    monkeypatch.setattr(read, "iter_patient_batches", lambda conn, batch_size=200: original(conn, 2))


def test_export_json_of_one_patient_is_byte_identical(demo, db_path):
    out = demo("export", "json").stdout
    exported_at = json.loads(out)["exported_at"]
    assert out == _old_document(db_path, exported_at, ["Ann"])


@pytest.mark.parametrize("n", [1, 2, 5])
def test_export_json_of_every_patient_streams_the_same_bytes(cli, db_path, monkeypatch, small_batches, n, tmp_path):
    cohort.build(str(db_path), n, seed=4)
    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    target = tmp_path / "all.json"
    r = cli("export", "json", "--all-patients", "-o", str(target), "--json")
    assert r.code == 0, r.stderr
    text = target.read_text(encoding="utf-8")
    assert text == _old_document(db_path, json.loads(text)["exported_at"], None)
    assert r.json()["patients"] == [f"Patient {i:06d}" for i in range(1, n + 1)]
    assert r.json()["bytes"] == target.stat().st_size
    assert (target.stat().st_mode & 0o777) == 0o600
    logged = cli("db", "log", "--json").json()
    names = sorted(e["patient_name"] for e in (logged if isinstance(logged, list) else logged["events"])
                   if e["action"] == "export-json")
    assert names == [f"Patient {i:06d}" for i in range(1, n + 1)]


def test_export_of_an_empty_store_and_of_an_unknown_patient(cli, db_path):
    assert cli("patient", "add", "Ann").code == 0
    r = cli("export", "json", "--patient", "Zed")
    assert r.code == 2 and r.stdout == ""  # refused before anything is written
    r = cli("export", "csv", "markers", "--patient", "Zed")
    assert r.code == 2 and r.stdout == ""


@pytest.mark.parametrize("table", ["markers", "measurements", "biopsies", "therapy"])
def test_export_csv_is_byte_identical(cli, db_path, monkeypatch, small_batches, table):
    import csv
    import io

    from lungtrack.cli.exports import _cell

    cohort.build(str(db_path), 3, seed=5)
    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    out = cli("export", "csv", table, "--all-patients").stdout
    doc = json.loads(_old_document(db_path, "x", None))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    from lungtrack.cli.exports import csv_rows

    for i, data in enumerate(doc["patients"]):
        cols, rows = csv_rows(data, table)
        if i == 0:
            w.writerow(cols)
        w.writerows([[_cell(v) for v in r] for r in rows])
    assert out == buf.getvalue()
    assert out.count("\n") > 3


def test_import_message_of_many_patients_gives_the_count(cli, db_path, tmp_path, monkeypatch):
    """A clinic's import names the first five patients and counts the rest; --json lists them all."""
    source = tmp_path / "src.db"
    cohort.build(str(source), 7, seed=6)
    monkeypatch.setenv("LUNGTRACK_TODAY", cohort.TODAY.isoformat())
    doc = tmp_path / "all.json"
    assert cli("--db", str(source), "export", "json", "--all-patients", "-o", str(doc)).code == 0
    r = cli("import", "json", str(doc))
    assert r.code == 0, r.stderr
    message = r.stderr.strip().splitlines()[-1]
    assert "7 patients (created 7): Patient 000001 (created)" in message and "Patient 000006" not in message
    r = cli("import", "json", str(doc), "--json")
    assert [p["name"] for p in r.json()["patients"]] == [f"Patient {i:06d}" for i in range(1, 8)]
