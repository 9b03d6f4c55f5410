"""The write contract through its Python API, as the CSV/JSON/FHIR importers use it."""

from __future__ import annotations

from datetime import date

import pytest

from lungtrack.errors import RecordsRefused
from lungtrack.records import inputs as ri
from lungtrack.records.journal import mask_command
from lungtrack.records.writer import writer
from lungtrack.store.db import open_store
from lungtrack.store.paths import resolve

TODAY = date(2026, 8, 12)
SRC = ri.Source("import:csv:labs.csv")


@pytest.fixture
def store(tmp_path):
    s = open_store(resolve(str(tmp_path / "api.db")), create=True)
    yield s
    s.close()


def _cea(k: int, value: float = 3.0, unit: str | None = "ng/mL", when: date | None = None, ext: str | None = None):
    return ri.MarkerInput(marker="CEA", value=value, unit=unit, date=when or date(2026, 1, 1 + k),
                          source=ri.Source(SRC.label, ext or f"CEA|{k}", f"labs.csv:{k + 2}"))


def _plan(*markers, ref=None, pin=None) -> ri.ImportPlan:
    ref = ref or ri.PatientRef(name="Ann")
    pin = pin if pin is not None else ri.PatientInput(name="Ann", source=SRC)
    return ri.ImportPlan("csv", "labs.csv", (ri.ImportBatch(ref, pin, markers=tuple(markers)),))


def _apply(store, plan, **kw):
    with writer(store, today=TODAY, kind="import") as w:
        result = w.apply_import(plan, **kw)
    return result, w.change_id


def _count(store, table: str) -> int:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_import_is_idempotent_and_journalled_as_one_change(store):
    plan = _plan(*(_cea(k) for k in range(5)))
    first, change = _apply(store, plan)
    assert first.count("added", "marker") == 5 and first.count("added", "patient") == 1 and change is not None
    again, change2 = _apply(store, plan)
    assert again.count("added", "marker") == 0 and again.count("already_present", "marker") == 5
    assert change2 is None  # nothing written, nothing journalled
    assert _count(store, "marker_result") == 5
    assert _count(store, "change") == 1


def test_a_changed_value_under_the_same_external_id_is_updated(store):
    _apply(store, _plan(_cea(0, 3.0)))
    result, _ = _apply(store, _plan(_cea(0, 3.4)))
    assert result.count("changed", "marker") == 1 and result.count("added", "marker") == 0
    with store.transaction(write=False) as s:
        from lungtrack.store import models as m

        assert [r.value for r in s.exec(__import__("sqlmodel").select(m.MarkerResult))] == [3.4]


def test_dry_run_writes_nothing(store):
    result, change = _apply(store, _plan(_cea(0), _cea(1)), dry_run=True)
    assert result.dry_run and result.count("added", "marker") == 2 and change is None
    assert _count(store, "marker_result") == 0 and _count(store, "patient") == 0


def test_every_problem_is_listed_with_its_origin_and_nothing_is_written(store):
    plan = _plan(_cea(0), _cea(1, unit=None), _cea(2, value=0.0), _cea(3, when=date(2099, 1, 1)),
                 _cea(4, unit="mmol/L"))
    with pytest.raises(RecordsRefused) as exc:
        _apply(store, plan)
    origins = [p.origin for p in exc.value.problems]
    assert origins == ["labs.csv:3", "labs.csv:4", "labs.csv:5", "labs.csv:6"]
    assert "no unit given" in exc.value.problems[0].message
    assert "detection limit" in exc.value.problems[1].message
    assert "future" in exc.value.problems[2].message
    assert "not a unit for CEA" in exc.value.problems[3].message
    assert _count(store, "marker_result") == 0 and _count(store, "patient") == 0


def test_identifiers_identify_a_patient_under_another_name(store):
    mrn = (("urn:hospital-a:mrn", "12345"),)
    pin = ri.PatientInput(name="Ann Lee", identifiers=mrn, source=SRC)
    _apply(store, _plan(_cea(0), ref=ri.PatientRef(name="Ann Lee", identifiers=mrn), pin=pin))
    pin2 = ri.PatientInput(name="Ann B. Lee", identifiers=mrn, source=SRC)
    result, _ = _apply(store, _plan(_cea(1), ref=ri.PatientRef(name="Ann B. Lee", identifiers=mrn), pin=pin2))
    assert [how for _id, _name, how in result.patients] == ["matched"]
    assert _count(store, "patient") == 1 and _count(store, "marker_result") == 2


def test_identifiers_of_two_patients_refuse_the_import(store):
    for name, value in (("Ann", "1"), ("Bea", "2")):
        ids = (("urn:mrn", value),)
        _apply(store, _plan(_cea(0), ref=ri.PatientRef(name=name, identifiers=ids),
                            pin=ri.PatientInput(name=name, identifiers=ids, source=SRC)))
    both = (("urn:mrn", "1"), ("urn:mrn", "2"))
    with pytest.raises(RecordsRefused) as exc:
        _apply(store, _plan(_cea(5), ref=ri.PatientRef(identifiers=both), pin=None))
    assert "2 different patients" in exc.value.message


def test_a_base_url_with_a_local_id_identifies_and_a_local_id_alone_does_not(store):
    ref = ri.PatientRef(name="Ann", source_base="https://a.example/fhir", local_id="p1")
    _apply(store, ri.ImportPlan("fhir", "a", (ri.ImportBatch(ref, ri.PatientInput(name="Ann", source=SRC),
                                                             markers=(_cea(0),)),)))
    same = ri.PatientRef(name="Ann Lee", source_base="https://a.example/fhir", local_id="p1")
    result, _ = _apply(store, ri.ImportPlan("fhir", "a", (ri.ImportBatch(same, None, markers=(_cea(1),)),)))
    assert result.count("added", "marker") == 1 and [h for _i, _n, h in result.patients] == ["matched"]
    other = ri.PatientRef(name="Carla", source_base="https://b.example/fhir", local_id="p1")
    result, _ = _apply(store, ri.ImportPlan("fhir", "b", (ri.ImportBatch(other, ri.PatientInput(name="Carla",
                                                                                              source=SRC),
                                                                         markers=(_cea(2),)),)))
    assert [h for _i, _n, h in result.patients] == ["created"]


def test_import_undo_reverts_the_bulk_insert(store):
    from lungtrack.records import journal

    _result, change = _apply(store, _plan(*(_cea(k) for k in range(30))))
    with writer(store, today=TODAY) as w:
        done = w.undo(journal.get_change(w.session, change))
    assert done["removed"] == 31  # 30 results and the patient
    assert _count(store, "marker_result") == 0 and _count(store, "patient") == 0


def test_therapy_lines_overlapping_each_other_in_one_plan_are_refused(store):
    lines = (ri.TherapyInput("gefitinib", date(2025, 1, 1), date(2025, 6, 1), source=ri.Source(SRC.label, "t1", "a:1")),
             ri.TherapyInput("osimertinib", date(2025, 5, 1), source=ri.Source(SRC.label, "t2", "a:2")))
    plan = ri.ImportPlan("csv", "t", (ri.ImportBatch(ri.PatientRef(name="Ann"), ri.PatientInput(name="Ann", source=SRC),
                                                     therapies=lines),))
    with pytest.raises(RecordsRefused) as exc:
        _apply(store, plan)
    assert exc.value.problems[0].origin == "a:2" and "overlaps gefitinib" in exc.value.message


def test_masked_command_line_hides_values_and_the_store_url():
    line = mask_command(["--db", "postgresql://me:secret@host/db", "note", "add", "rash on face", "--date", "today"],
                        keep={2, 3})
    assert line == "lungtrack --db … note add … --date …"
    assert "secret" not in line


def _scan_plan() -> ri.ImportPlan:
    M = ri.MeasurementInput
    scans = (
        ri.ScanInput(date(2026, 1, 5), (M("RUL  mass", 32.0, site="lung"), M("4R", 16.0, is_node=True),
                                        M("liver S6", 18.0, site="liver")), source=ri.Source(SRC.label, "s1")),
        ri.ScanInput(date(2026, 3, 5), (M("rul mass", 28.0), M("4R", 9.0, is_node=True),
                                        M("liver S6", None, status="too-small"),
                                        M("adrenal", 12.0, site="adrenal", new=True)),
                     non_target_status="present", source=ri.Source(SRC.label, "s2")),
        ri.ScanInput(date(2026, 5, 5), (M("RUL mass", 30.0, role="target"), M("4R", 0.0, status="disappeared"),
                                        M("adrenal", 14.0), M("bone T8", 9.0, site="bone", equivocal=True),
                                        M("liver S6", None, status="not-evaluated")),
                     slice_thickness_mm=5.0, impression="mixed", source=ri.Source(SRC.label, "s3")),
    )
    return ri.ImportPlan("csv", "scans.csv", (ri.ImportBatch(ri.PatientRef(name="Ann"),
                                                             ri.PatientInput(name="Ann", source=SRC), scans=scans),))


def _rows(store, table: str) -> list[dict]:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings().all()
    return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows]


def test_bulk_scan_import_writes_the_rows_adding_one_scan_at_a_time_writes(tmp_path):
    """The import writes a patient's scans in bulk; the rows (ids included) must be those of
    the one-by-one path it replaced: study, then lesions found by label or created, then
    measurements and new lesions, with role changes applied."""
    from lungtrack.store import models as m

    plan = _scan_plan()
    bulk = open_store(resolve(str(tmp_path / "bulk.db")), create=True)
    _apply(bulk, plan)
    one = open_store(resolve(str(tmp_path / "one.db")), create=True)
    with writer(one, today=TODAY, kind="import") as w:
        w.add_patient(ri.PatientInput(name="Ann", source=SRC))
        p = w.patient("Ann")
        for inp in plan.batches[0].scans:  # the former per-scan import operation
            study = m.ImagingStudy(patient_id=p.id, date=inp.date, modality=inp.modality,
                                   slice_thickness_mm=inp.slice_thickness_mm, impression=inp.impression,
                                   report_text=inp.report_text, non_target_status=inp.non_target_status,
                                   source=inp.source.label, external_id=inp.source.external_id,
                                   source_status=inp.source_status)
            w.session.add(study)
            w.session.flush()
            resolved = [(w._find_lesion(p, item.label), item, item.size_mm) for item in inp.measurements]
            w._save_measurements(p, study, resolved, inp.source.label)
    for table in ("imaging_study", "lesion", "lesion_measurement", "new_lesion"):
        assert _rows(bulk, table) == _rows(one, table), table
    assert len(_rows(bulk, "lesion")) == 5 and len(_rows(bulk, "new_lesion")) == 2
    assert [r["role"] for r in _rows(bulk, "lesion")][0] == "target"
    # and the import is one change that undo takes back completely
    from lungtrack.records import journal

    with bulk.transaction() as session:
        journal.revert(session, journal.last_undoable(session))
    for table in ("imaging_study", "lesion", "lesion_measurement", "new_lesion"):
        assert _rows(bulk, table) == [], table
    bulk.close()
    one.close()
