"""The one write path (issue 8): the same invariants through the CLI and through FHIR import,
undo that restores every table byte for byte, the journal, the lesion lifecycle, marker entry checks."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import assert_refused

JOURNAL = ("change", "change_entry", "event_log", "alembic_version")


def dump(db_path) -> dict:
    """Every row of every domain table, as stored (the bytes SQLite returns)."""
    con = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in tables if t not in JOURNAL}
    finally:
        con.close()


def _obs(oid: str, value, when: str, subject: str = "Patient/p1", **extra) -> dict:
    res = {"resourceType": "Observation", "id": oid, "status": "final",
           "code": {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]},
           "subject": {"reference": subject}, "effectiveDateTime": when,
           "valueQuantity": {"value": value, "unit": "ng/mL", "system": "http://unitsofmeasure.org", "code": "ng/mL"}}
    res.update(extra)
    return res


def _ndjson(tmp_path, name: str, *resources) -> str:
    f = tmp_path / name
    f.write_text("\n".join(json.dumps(r) for r in resources) + "\n", encoding="utf-8")
    return str(f)


# ------------------------------------------------------------------ undo

UNDOABLE = [
    ("marker", "add", "cea", "4.0", "--date", "2026-08-01"),
    # scan add writes with Core (a role change is an update of the lesion); scan edit mixes the
    # ORM (the scan) with those Core writes in one transaction
    ("scan", "add", "--date", "2026-08-02", "--lesion", "RUL mass: non-target, 21 mm",
     "--lesion", "liver S6 15", "--new-lesion", "adrenal: adrenal, 11 mm"),
    ("scan", "edit", "4", "--lesion", "liver S6: non-target, 16 mm", "--impression", "changed"),
    ("marker", "edit", "3", "--value", "3.3"),
    ("marker", "delete", "1", "2", "3", "--yes"),
    ("scan", "delete", "2", "--yes"),
    ("scan", "edit", "4", "--new-lesion", "liver S8: liver, 12 mm"),
    ("scan", "edit", "4", "--lesion", "RUL mass 21", "--remove-lesion", "4R"),
    ("therapy", "stop", "--date", "2026-08-01", "--reason", "progression"),
    ("therapy", "edit", "1", "--start-date", "2025-09-21"),
    ("lesion", "edit", "RUL mass", "--label", "RUL primary"),
    ("lesion", "delete", "4R", "--yes"),
    ("note", "add", "cough better", "--date", "2026-08-10"),
    ("appointment", "add", "--date", "2026-09-01", "--kind", "imaging"),
    ("biopsy", "add", "--sample", "plasma", "--variant", "C797S", "--result", "detected", "--vaf", "0.4"),
    ("patient", "edit", "Ann", "--histology", "adenocarcinoma, solid"),
    ("patient", "delete", "Ann", "--yes"),
]


@pytest.mark.parametrize("args", UNDOABLE, ids=[" ".join(a[:2]) + f" #{i}" for i, a in enumerate(UNDOABLE)])
def test_undo_restores_every_table_byte_for_byte(demo, db_path, args):
    before = dump(db_path)
    r = demo(*args)
    assert r.code == 0, r
    assert dump(db_path) != before
    undo = demo("undo", "--yes", "--json")
    assert undo.code == 0, undo
    assert dump(db_path) == before
    # the journal keeps the undone change, marked
    log = demo("log", "--json").json()
    assert log[0]["kind"] == "undo" and log[1]["undone_at"] is not None


def test_undo_of_an_import_and_import_undo(demo, db_path, tmp_path):
    before = dump(db_path)
    f = _ndjson(tmp_path, "Observation.ndjson", _obs("a", 6.0, "2026-07-01"), _obs("b", 6.5, "2026-07-15"))
    r = demo("import", "fhir", f, "--patient", "Ann", "--json")
    assert r.code == 0, r
    change = r.json()["change_id"]
    assert r.json()["added"]["marker"] == 2
    after_import = dump(db_path)
    assert demo("import", "undo", str(change), "--yes").code == 0
    assert dump(db_path) == before
    # a second undo of the same change is refused and changes nothing
    again = demo("import", "undo", str(change), "--yes")
    assert again.code == 2 and "already undone" in again.stderr
    assert dump(db_path) == before
    assert demo("import", "fhir", f, "--patient", "Ann").code == 0
    assert dump(db_path) != after_import or True  # re-imported rows get new timestamps
    assert demo("undo", "--yes").code == 0
    assert dump(db_path) == before


def test_undo_of_an_import_that_also_set_the_new_patients_schedule_and_end(demo, cli, tmp_path):
    """An import creates a patient and, in the same change, sets its follow-up schedule and the
    end of its tracking (updates of the row it inserted): undo takes the whole import back.
    (It was refused: the patient row no longer held the values first inserted.)"""
    assert demo("schedule", "--imaging-every", "6-9 weeks").code == 0
    assert demo("patient", "end", "Ann", "--date", "2026-05-01", "--reason", "moved").code == 0
    exported = tmp_path / "ann.json"
    assert demo("export", "json", "-o", str(exported)).code == 0
    other = tmp_path / "other.db"
    assert cli("--db", str(other), "patient", "add", "Bob").code == 0
    before = dump(other)
    r = cli("--db", str(other), "import", "json", str(exported), "--json")
    assert r.code == 0, r
    change = r.json()["import_id"]
    entries = sqlite3.connect(other).execute(
        "SELECT op FROM change_entry WHERE change_id = ? AND table_name = 'patient' ORDER BY id", (change,)).fetchall()
    assert [e[0] for e in entries][:1] == ["insert"] and ("update",) in entries  # inserted, then updated
    u = cli("--db", str(other), "undo", "--yes")
    assert u.code == 0, u
    assert dump(other) == before
    # a later change to the imported patient still blocks the undo of the import
    assert cli("--db", str(other), "import", "json", str(exported)).code == 0
    assert cli("--db", str(other), "patient", "edit", "Ann", "--histology", "squamous").code == 0
    later = cli("--db", str(other), "log", "--json").json()[1]["id"]
    assert_refused(cli("--db", str(other), "undo", str(later), "--yes"), "undo", "later")


def test_undo_knows_the_rows_a_change_inserted_itself():
    """records.journal._own_rows: the values a change last wrote to each row it inserted, and
    the entries (updates, deletes) on rows it had inserted itself, in entry order; an id that
    SQLite gives again after the change deleted the row belongs to the later insert."""
    from types import SimpleNamespace as E

    from lungtrack.records.journal import _own_rows

    entries = [
        E(id=1, table_name="patient", row_id=5, op="insert", new='{"id": 5, "name": "A", "end_date": null}'),
        E(id=2, table_name="marker_result", row_id=2, op="insert-ids", new="[7, 8]"),
        E(id=3, table_name="patient", row_id=5, op="update", new='{"end_date": "2026-05-01"}'),
        E(id=4, table_name="patient", row_id=1, op="update", new='{"name": "B"}'),
        E(id=5, table_name="marker_result", row_id=8, op="delete", new=None),
        E(id=6, table_name="note", row_id=3, op="delete", new=None),
        E(id=7, table_name="note", row_id=3, op="insert", new='{"id": 3, "text": "x"}'),
        E(id=8, table_name="marker_result", row_id=8, op="insert", new='{"id": 8, "value": 1.0}'),
    ]
    written, own = _own_rows(entries)
    assert written == {("patient", 5): (1, {"id": 5, "name": "A", "end_date": "2026-05-01"}),
                       ("marker_result", 7): (2, None), ("marker_result", 8): (8, {"id": 8, "value": 1.0}),
                       ("note", 3): (7, {"id": 3, "text": "x"})}
    assert own == {3, 5}  # not 4 (a row it did not insert) nor 6 (deleted before it was inserted again)


def test_undo_refused_when_a_later_change_touched_the_rows(demo, db_path):
    assert demo("marker", "add", "cea", "4.0", "--date", "2026-08-01").code == 0
    first = demo("log", "--json").json()[0]["id"]
    assert demo("marker", "edit", "8", "--value", "4.2").code == 0
    before = dump(db_path)
    r = demo("undo", str(first), "--yes")
    assert_refused(r, "undo", "later")
    assert dump(db_path) == before


def test_undo_asks_and_needs_yes_off_a_terminal(demo, db_path):
    assert demo("marker", "add", "cea", "4.0", "--date", "2026-08-01").code == 0
    before = dump(db_path)
    r = demo("undo")
    assert_refused(r, "--yes")
    assert dump(db_path) == before


def test_nothing_to_undo(cli):
    assert cli("patient", "add", "Bo").code == 0
    assert cli("undo", "--yes").code == 0
    r = cli("undo", "--yes")
    assert r.code == 2 and "Nothing to undo" in r.stderr


def test_log_masks_values_and_names_the_user(demo):
    assert demo("marker", "add", "cea", "41.7", "--date", "2026-08-01", "--lab", "St Elsewhere", "--force").code == 0
    entry = demo("log", "--json", "--limit", "1").json()[0]
    assert entry["command"].startswith("lungtrack marker add")
    assert "41.7" not in entry["command"] and "Elsewhere" not in entry["command"] and "2026-08-01" not in entry["command"]
    assert "--date" in entry["command"] and "--lab" in entry["command"]
    assert entry["os_user"] and entry["rows"] == {"insert": {"marker_result": 1}}
    text = demo("log")
    assert text.code == 0 and "logged CEA" in text.stdout


def test_delete_takes_several_ids_and_refuses_all_on_one_unknown(demo, db_path):
    before = dump(db_path)
    r = demo("marker", "delete", "1", "99", "--yes")
    assert r.code == 2 and "99" in r.stderr
    assert dump(db_path) == before
    r = demo("marker", "delete", "1", "2", "--yes", "--json")
    assert r.code == 0, r
    assert r.json()["ids"] == [1, 2] and r.json()["deleted"] == "MarkerResult"
    assert [m["id"] for m in demo("marker", "list", "--json").json()][:2] == [3, 4]


# ------------------------------------------------------------------ the same invariants on every path

def test_second_active_line_refused_by_cli_and_fhir(demo, db_path, tmp_path):
    before = dump(db_path)
    cli_r = demo("therapy", "start", "osimertinib", "--date", "2026-08-01")
    assert_refused(cli_r, "drug", "still active")
    stmt = {"resourceType": "MedicationStatement", "id": "m1", "status": "active",
            "medicationCodeableConcept": {"text": "osimertinib 80 MG Oral Tablet"},
            "subject": {"reference": "Patient/p1"}, "effectivePeriod": {"start": "2026-08-01"}}
    f = _ndjson(tmp_path, "Med.ndjson", stmt)
    fhir_r = demo("import", "fhir", f, "--patient", "Ann")
    assert_refused(fhir_r, "Med.ndjson:1 MedicationStatement/m1", "still active")
    reason = cli_r.stderr.split("still active", 1)[1]
    assert reason in fhir_r.stderr  # the same reason on both paths
    assert dump(db_path) == before


def test_overlapping_closed_line_refused_by_fhir(demo, db_path, tmp_path):
    stmt = {"resourceType": "MedicationStatement", "id": "m2", "status": "completed",
            "medicationCodeableConcept": {"text": "erlotinib"}, "subject": {"reference": "Patient/p1"},
            "effectivePeriod": {"start": "2025-08-01", "end": "2025-10-01"}}
    before = dump(db_path)
    r = demo("import", "fhir", _ndjson(tmp_path, "M.ndjson", stmt), "--patient", "Ann")
    assert_refused(r, "overlaps", "gefitinib")
    assert dump(db_path) == before


@pytest.mark.parametrize("when, words", [("2099-01-01", "in the future"), ("1850-03-01", "before 1900")])
def test_marker_dates_refused_by_cli_and_fhir(demo, db_path, tmp_path, when, words):
    before = dump(db_path)
    assert_refused(demo("marker", "add", "cea", "3.0", "--date", when), "--date")
    r = demo("import", "fhir", _ndjson(tmp_path, "O.ndjson", _obs("x", 3.0, when)), "--patient", "Ann")
    assert_refused(r, "O.ndjson:1 Observation/x", words)
    assert dump(db_path) == before


def test_uln_must_be_positive_on_both_paths(demo, db_path, tmp_path):
    before = dump(db_path)
    cli_r = demo("marker", "add", "cea", "3.0", "--uln", "-3")
    assert_refused(cli_r, "--uln", "greater than 0")
    obs = _obs("u", 3.0, "2026-07-01", referenceRange=[{"high": {"value": -3, "unit": "ng/mL"}}])
    fhir_r = demo("import", "fhir", _ndjson(tmp_path, "O.ndjson", obs), "--patient", "Ann")
    assert_refused(fhir_r, "uln", "greater than 0")
    assert cli_r.stderr.split("uln", 1)[1] in fhir_r.stderr
    assert dump(db_path) == before


def test_scan_in_the_future_refused_by_cli_and_fhir(demo, db_path, tmp_path):
    before = dump(db_path)
    assert_refused(demo("scan", "add", "--date", "2099-01-01", "--lesion", "RUL mass 20"), "--date", "future")
    proc = {"resourceType": "Procedure", "id": "ct", "status": "completed",
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "418891003"}]},
            "subject": {"reference": "Patient/p1"}, "performedDateTime": "2099-01-01"}
    r = demo("import", "fhir", _ndjson(tmp_path, "P.ndjson", proc), "--patient", "Ann")
    assert_refused(r, "Procedure/ct", "in the future")
    assert dump(db_path) == before


def test_one_bad_record_refuses_the_whole_import_and_lists_every_problem(demo, db_path, tmp_path):
    before = dump(db_path)
    f = _ndjson(tmp_path, "O.ndjson", _obs("ok", 3.0, "2026-07-01"), _obs("bad1", 3.0, "2099-01-01"),
                _obs("bad2", 3.0, "1850-01-01"))
    r = demo("import", "fhir", f, "--patient", "Ann")
    assert_refused(r, "2 records are not valid", "Observation/bad1", "Observation/bad2", "nothing was imported")
    assert dump(db_path) == before


def test_identity_is_never_guessed_from_a_local_id(cli, db_path, tmp_path):
    ann = {"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ann"], "family": "Lee"}]}
    assert cli("import", "fhir", _ndjson(tmp_path, "A.ndjson", ann, _obs("a1", 2.0, "2026-01-05"))).code == 0
    # a second hospital: the same local id, another person
    carla = {"resourceType": "Patient", "id": "p1", "name": [{"given": ["Carla"], "family": "Diaz"}]}
    r = cli("import", "fhir", _ndjson(tmp_path, "B.ndjson", carla, _obs("b1", 9.0, "2026-02-05")), "--json")
    assert r.code == 0, r
    assert r.json()["added"]["patient"] == 1
    con = sqlite3.connect(db_path)
    rows = con.execute("SELECT p.name, m.value FROM marker_result m JOIN patient p ON p.id = m.patient_id "
                       "ORDER BY m.value").fetchall()
    con.close()
    assert rows == [("Ann Lee", 2.0), ("Carla Diaz", 9.0)]
    # the same file again: the same person (local id and name agree), nothing added
    again = cli("import", "fhir", str(tmp_path / "A.ndjson"), "--json")
    assert sum(again.json()["added"].values()) == 0


def test_identical_marker_twice_is_a_no_op_that_says_so(demo, db_path):
    assert demo("marker", "add", "cea", "6.0", "--date", "2026-08-01").code == 0
    before = dump(db_path)
    r = demo("marker", "add", "cea", "6.0", "--date", "2026-08-01")
    assert r.code == 0 and "already logged" in r.stderr and "nothing was added" in r.stderr
    assert dump(db_path) == before


def test_identical_appointment_twice_is_a_no_op(demo, db_path):
    assert demo("appointment", "add", "--date", "2026-09-01", "--kind", "imaging").code == 0
    before = dump(db_path)
    r = demo("schedule", "--next-appointment", "2026-09-01", "--kind", "imaging")
    assert r.code == 0 and "already planned" in r.stderr
    r = demo("appointment", "add", "--date", "2026-09-01", "--kind", "imaging")
    assert r.code == 0 and "already planned" in r.stderr
    assert dump(db_path) == before


# ------------------------------------------------------------------ marker entry checks

def test_marker_jump_needs_force_off_a_terminal(demo, db_path):
    before = dump(db_path)
    r = demo("marker", "add", "cea", "560", "--date", "2026-08-01")  # 100x the last value (5.6)
    assert_refused(r, "value", "--force")
    assert dump(db_path) == before
    assert demo("marker", "add", "cea", "560", "--date", "2026-08-01", "--force").code == 0


def test_marker_jump_asks_on_a_terminal(demo, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdin_is_tty", lambda: True)
    r = demo("marker", "add", "cea", "560", "--date", "2026-08-01", input="n\n")
    assert r.code == 0 and "Nothing was saved" in r.stderr
    r = demo("marker", "add", "cea", "560", "--date", "2026-08-01", input="y\n")
    assert r.code == 0 and "Logged CEA 560" in r.stderr


def test_censored_values_and_zero(demo):
    r = demo("marker", "add", "cea", "<0.5", "--date", "2026-08-01", "--force", "--json")
    assert r.code == 0, r
    assert (r.json()["comparator"], r.json()["value"]) == ("<", 0.5)
    assert "<0.5 ng/mL" in r.stderr
    assert_refused(demo("marker", "add", "cea", "0", "--date", "2026-08-02"), "value", "detection limit")


def test_comparator_reaches_the_core_history(demo):
    assert demo("marker", "add", "cea", ">1000", "--date", "2026-08-01", "--force").code == 0
    from lungtrack.cli.common import open_store
    from lungtrack.store import repo

    class Ctx:  # the store of this test, as the CLI opens it
        def find_root(self):
            return self
        obj = None
        params = None

    store = open_store(Ctx())
    try:
        with store.transaction(write=False) as s:
            history = repo.load_history(s, repo.find_patient(s, "Ann"))
    finally:
        store.close()
    assert [(m.value, m.comparator) for m in history.markers][-1] == (1000.0, ">")


# ------------------------------------------------------------------ lesion lifecycle

def _response(cli) -> list[str]:
    return [tp["overall"] for tp in cli("response", "--json").json()["lines"][0]["timepoints"]]


@pytest.fixture
def bea(cli, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-06-01")
    assert cli("patient", "add", "Bea").code == 0
    assert cli("therapy", "start", "osimertinib", "--date", "2026-01-05").code == 0
    assert cli("scan", "add", "--date", "2026-01-02", "--lesion", "RUL mass: lung, 30 mm",
               "--lesion", "4R: node, 20 mm").code == 0
    return cli


def test_new_lesion_is_followed_then_disappears(bea):
    r = bea("scan", "add", "--date", "2026-03-02", "--lesion", "RUL mass 20", "--lesion", "4R 12",
            "--new-lesion", "liver S8: liver, 12x8 mm", "--json")
    assert r.code == 0, r
    assert r.json()["new_lesions"][0]["size_mm"] == 12.0 and r.json()["new_lesions"][0]["lesion_id"]
    assert _response(bea)[-1] == "PD"
    # measured on the next scan like any other lesion, then gone
    assert bea("scan", "add", "--date", "2026-04-02", "--lesion", "RUL mass 20", "--lesion", "4R 12",
               "--lesion", "liver S8 14").code == 0
    assert bea("scan", "add", "--date", "2026-05-02", "--lesion", "RUL mass 20", "--lesion", "4R 12",
               "--lesion", "liver S8: disappeared").code == 0
    lesions = {x["label"]: x for x in bea("lesion", "list", "--json").json()}
    assert [m["size_mm"] for m in lesions["liver S8"]["measurements"]] == [14.0, 0.0]
    assert _response(bea)[1] == "PD"  # progression stays dated to the scan that first showed it


def test_removing_a_wrong_new_lesion_undoes_its_progression(bea):
    assert bea("scan", "add", "--date", "2026-03-02", "--lesion", "RUL mass 20", "--lesion", "4R 12",
               "--new-lesion", "liver S8: liver, 12 mm").code == 0
    assert _response(bea)[-1] == "PD"
    scan_id = bea("scan", "list", "--json").json()[-1]["id"]
    r = bea("scan", "edit", str(scan_id), "--remove-lesion", "liver S8")
    assert r.code == 0 and "progression it caused is gone" in r.stderr
    assert _response(bea)[-1] == "PR"
    assert "liver S8" not in [x["label"] for x in bea("lesion", "list", "--json").json()]


def test_a_mistyped_label_gets_did_you_mean(bea, db_path):
    before = dump(db_path)
    r = bea("scan", "add", "--date", "2026-03-02", "--lesion", "RUL mas 20")
    assert_refused(r, "did you mean 'RUL mass'")
    assert dump(db_path) == before


def test_did_you_mean_on_a_terminal_uses_the_known_lesion(bea, monkeypatch):
    from lungtrack.cli import common

    monkeypatch.setattr(common, "stdin_is_tty", lambda: True)
    r = bea("scan", "add", "--date", "2026-03-02", "--lesion", "RUL mas 20", "--lesion", "4R 12", input="y\n")
    assert r.code == 0, r
    labels = [x["label"] for x in bea("lesion", "list", "--json").json()]
    assert labels == ["RUL mass", "4R"]


def test_sizes_as_reports_write_them(bea):
    r = bea("scan", "add", "--date", "2026-03-02", "--lesion", "RUL mass 2.1 x 1.5 cm", "--lesion", "4R 14x9 mm",
            "--json")
    assert r.code == 0, r
    sizes = {m["label"]: m["size_mm"] for m in r.json()["measurements"]}
    assert sizes == {"RUL mass": 21.0, "4R": 9.0}  # long axis; a node's short axis


# ------------------------------------------------------------------ grammar (issue 13)

def _commands():
    import typer.main

    from lungtrack.cli import app

    root = typer.main.get_command(app)

    def walk(cmd, path):  # the root loads its commands on demand: ask (list/get), don't read .commands
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                yield from walk(cmd.get_command(None, name), (*path, name))
        else:
            yield path, cmd

    return list(walk(root, ()))


def test_every_date_option_has_the_same_alias_and_every_add_defaults_to_today():
    adds = 0
    for path, cmd in _commands():
        for param in cmd.params:
            if "--date" in getattr(param, "opts", []):
                assert "--on" in param.opts, path
        if path[-1] in ("add", "start", "stop") and path[0] != "patient":
            date_opts = [p for p in cmd.params if "--date" in getattr(p, "opts", [])]
            assert date_opts and date_opts[0].default == "today", path
            adds += 1
    assert adds >= 7  # therapy start and stop, scan, marker, biopsy, appointment, note


def test_every_delete_takes_json_and_several_ids():
    deletes = [(path, cmd) for path, cmd in _commands() if path[-1] == "delete"]
    assert len(deletes) >= 8
    for path, cmd in deletes:
        assert any("--json" in getattr(p, "opts", []) for p in cmd.params), path
        if path[0] not in ("patient", "lesion"):
            args = [p for p in cmd.params if p.param_type_name == "argument"]
            assert args and args[0].nargs == -1, path


def test_a_slip_of_more_than_5x_is_asked_about_and_a_limit_is_not(demo):
    # the clinical rule (core.plausibility.check_marker_entry) decides; the write path asks
    assert_refused(demo("marker", "add", "cea", "35", "--date", "2026-08-01"), "Did you mean", "--force")
    assert demo("marker", "add", "cea", "<0.5", "--date", "2026-08-01").code == 0  # a limit has no ratio
