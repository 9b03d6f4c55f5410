"""`lungtrack import fhir` of many files maps each file in a pool of worker processes
(lungtrack.importpool, lungtrack.fhir.mapping.map_file_part / merge_parts): the same plan, the
same stored rows, output and errors as mapping every file together in one process, and the pool
only above its size threshold."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lungtrack import importpool
from lungtrack.errors import InputError
from lungtrack.fhir import mapping as fm

DATA = Path(__file__).parent / "data" / "fhir"
UUID = "urn:uuid:11111111-1111-4111-8111-"

# ------------------------------------------------------------------ merging per-file parts (pure)

_LOINC_CEA = {"coding": [{"system": "http://loinc.org", "code": "2039-6"}]}


def _marker(rid: str, subject: str | None, value: Any = 3.5, day: int = 1) -> dict[str, Any]:
    obs: dict[str, Any] = {"resourceType": "Observation", "id": rid, "status": "final", "code": _LOINC_CEA,
                           "effectiveDateTime": f"2024-02-{day:02d}", "valueQuantity": {"value": value, "unit": "ng/mL"}}
    if subject is not None:
        obs["subject"] = {"reference": subject}
    return obs


@st.composite
def _file_sets(draw: Any) -> tuple[list[tuple[str, str]], bool]:
    """2-4 files, each a Bundle (or NDJSON) of its own patients and their CEA results; with some
    draws, what makes mapping the files one by one differ (or fail): a reference to another
    file's patient, the same resource in two files, a result without a subject, one unknown
    patient named by two files, a value of the wrong type.  Returns (files, independent)."""
    n = draw(st.integers(2, 4))
    twists = draw(st.sets(st.sampled_from(["cross", "dup", "nosubject", "ghost", "bad", "fullurl", "late-patient"]),
                          max_size=2))
    files: list[list[tuple[dict[str, Any], str | None]]] = []
    for f in range(n):
        resources: list[tuple[dict[str, Any], str | None]] = []
        for p in range(draw(st.integers(0, 2))):
            pid = f"p{f}-{p}"
            patient = {"resourceType": "Patient", "id": pid, "name": [{"text": f"Pool Test {f} {p}"}],
                       "identifier": [{"system": "urn:pool", "value": pid}]}
            url = f"https://fhir.example/base/Patient/{pid}" if "fullurl" in twists else None
            ref = url or f"Patient/{pid}"
            results = [(_marker(f"m{f}-{p}-{k}", ref, 1.5 + k, day=k + 1), None)
                       for k in range(draw(st.integers(0, 3)))]
            if "late-patient" in twists:  # records before their Patient: the Patient pass still comes first
                resources += results + [(patient, url)]
            else:
                resources += [(patient, url)] + results
        if draw(st.booleans()):
            # a patient known only by reference (no Patient resource): a patient of the second pass
            resources.append((_marker(f"r{f}", f"Patient/ref-only-{f}", 2.0), None))
        files.append(resources)
    pick = draw(st.integers(0, n - 1))
    if "cross" in twists:
        files[pick].append((_marker("cross-1", "Patient/p0-0", 9.0), None))
    if "dup" in twists:
        files[pick].append((_marker("m0-0-0", "Patient/ref-only-dup", 1.0), None))
        files[(pick + 1) % n].append((_marker("m0-0-0", "Patient/ref-only-dup", 1.0), None))
    if "nosubject" in twists:
        files[pick].append((_marker("nosubj", None, 4.0), None))
    if "ghost" in twists:
        files[pick].append((_marker("g1", "Patient/ghost", 4.0), None))
        files[(pick + 1) % n].append((_marker("g2", "Patient/ghost", 5.0), None))
    if "bad" in twists:
        files[pick].append((_marker("bad", f"Patient/ref-only-{pick}", "high"), None))
    texts = []
    for f, resources in enumerate(files):
        if draw(st.booleans()):
            entries = [{"fullUrl": url, "resource": r} if url else {"resource": r} for r, url in resources]
            text = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries},
                              indent=draw(st.sampled_from([None, 1])))
        else:
            text = "\n".join(json.dumps(r) for r, _url in resources) + "\n" if resources else "\n"
        texts.append((f"f{f}.json", text))
    independent = not twists - {"fullurl", "late-patient"}
    return texts, independent


def _whole(texts: list[tuple[str, str]], label: str) -> Any:
    try:
        return fm.map_files(texts, label)
    except InputError as exc:
        return ("error", str(exc))


def _by_parts(texts: list[tuple[str, str]], label: str) -> Any:
    try:
        parts = [fm.map_file_part(name, text, label) for name, text in texts]
    except InputError as exc:
        return ("error", str(exc))
    return fm.merge_parts(parts, label)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(case=_file_sets())
def test_files_mapped_one_by_one_merge_to_the_plan_of_mapping_them_together(case: Any) -> None:
    """Whenever merge_parts gives a plan it is the plan of mapping the files together; it gives
    one for files whose records stay in their file; a file that fails alone fails together."""
    texts, independent = case
    label = "import:fhir:" + ",".join(n for n, _ in texts)
    whole = _whole(texts, label)
    merged = _by_parts(texts, label)
    if isinstance(merged, tuple) and merged[0] == "error":
        assert isinstance(whole, tuple) and whole[0] == "error"  # the parent's own mapping names it
        return
    if merged is not None:
        assert merged == whole
    if independent:
        assert merged is not None
    for name, text in texts:  # strict stops early or maps the file as the plain part mapping does
        try:
            strict = fm.map_file_part(name, text, label, strict=True)
        except fm.NotOnItsOwn:
            continue
        assert strict == fm.map_file_part(name, text, label)


def test_strict_mapping_stops_at_the_first_reference_beyond_the_file() -> None:
    label = "import:fhir:x"
    own = _bundle([_patient("pa"), _marker("m1", "Patient/pa")])
    assert fm.map_file_part("a.json", own, label, strict=True) == fm.map_file_part("a.json", own, label)
    for text in (_bundle([_marker("m2", "Patient/elsewhere")]),  # a patient in another file
                 _bundle([_patient("pa"), _marker("m3", None)])):  # a record without a subject
        with pytest.raises(fm.NotOnItsOwn):
            fm.map_file_part("b.json", text, label, strict=True)
        assert fm.map_file_part("b.json", text, label).batches  # not strict: mapped


def _bundle(entries: list[dict[str, Any]]) -> str:
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in entries]})


def _patient(pid: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"text": f"Name {pid}"}]}


def test_merge_refuses_what_could_map_differently_and_orders_patients_as_the_mapper() -> None:
    label = "import:fhir:a,b"
    a = _bundle([_marker("m1", "Patient/ref-a"), _patient("pa"), _marker("m2", "Patient/pa")])
    b = _bundle([_patient("pb"), _marker("m3", "Patient/pb")])
    parts = [fm.map_file_part("a.json", a, label), fm.map_file_part("b.json", b, label)]
    plan, _extras, n = fm.merge_parts(parts, label)  # type: ignore[misc]
    # every Patient resource first (pa, pb), then the patient only named by a reference (ref-a)
    assert [bt.patient.local_id for bt in plan.batches] == ["pa", "pb", "ref-a"]
    assert (plan, n) == fm.map_files([("a.json", a), ("b.json", b)], label)[::2]
    # a reference to another file's patient
    c = _bundle([_marker("m4", "Patient/pa")])
    assert fm.merge_parts([parts[0], fm.map_file_part("c.json", c, label)], label) is None
    # the same resource in two files (the second is skipped when mapped together)
    assert fm.merge_parts([parts[0], parts[0]], label) is None
    # one unknown patient named by two files
    g1, g2 = _bundle([_marker("g1", "Patient/ghost")]), _bundle([_marker("g2", "Patient/ghost")])
    assert fm.merge_parts([fm.map_file_part("g1.json", g1, label), fm.map_file_part("g2.json", g2, label)],
                          label) is None
    # a record without a subject goes to the import's only Patient
    d = _bundle([_marker("m5", None)])
    assert fm.merge_parts([parts[1], fm.map_file_part("d.json", d, label)], label) is None


# ------------------------------------------------------------------ the threshold


def test_the_pool_starts_only_above_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    size = importpool.POOL_MIN_CHARS
    monkeypatch.setenv("LUNGTRACK_JOBS", "2")
    assert importpool.pool_jobs([("a", "x" * (size // 2)), ("b", "x" * (size - size // 2))]) == 2
    assert importpool.pool_jobs([("a", "x" * (size // 2)), ("b", "x" * (size - size // 2 - 1))]) == 0
    assert importpool.pool_jobs([("a", "x" * size)]) == 0  # one file: nothing to share
    monkeypatch.setenv("LUNGTRACK_JOBS", "1")
    assert importpool.pool_jobs([("a", "x" * size), ("b", "x")]) == 0
    monkeypatch.setenv("LUNGTRACK_JOBS", "3")
    assert importpool.pool_jobs([("a", "x" * size), ("b", "x")]) == 2  # no more workers than files
    assert importpool.pool_jobs([("a", "x" * size), ("b", "x"), ("c", "x")]) == 3
    assert size == 8_000_000


@pytest.mark.parametrize(("running", "cpus", "jobs"), [(1, 2, 2), (2, 2, 0), (3, 2, 0), (1, 1, 0), (3, 4, 2),
                                                        (4, 4, 0)])
def test_without_lungtrack_jobs_the_pool_waits_for_a_core_to_spare(monkeypatch, running, cpus, jobs) -> None:
    """No LUNGTRACK_JOBS: 2 processes while the tasks running besides this one (now, from
    /proc/loadavg) leave a core for each; LUNGTRACK_JOBS=2 asks for them whatever the load."""
    texts = [("a", "x" * importpool.POOL_MIN_CHARS), ("b", "x")]
    monkeypatch.delenv("LUNGTRACK_JOBS", raising=False)
    monkeypatch.setattr(importpool, "_proc_loadavg", lambda: f"3.50 2.00 1.00 {running}/345 9999\n")
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))  # not read when /proc/loadavg is
    monkeypatch.setattr("os.cpu_count", lambda: cpus)
    assert importpool.pool_jobs(texts) == jobs
    for not_a_number in ("0", "x", " "):  # read as unset, as jobs_wanted reads them
        monkeypatch.setenv("LUNGTRACK_JOBS", not_a_number)
        assert importpool.pool_jobs(texts) == jobs
    monkeypatch.setenv("LUNGTRACK_JOBS", "2")
    assert importpool.pool_jobs(texts) == 2


@pytest.mark.parametrize(("text", "load", "jobs"), [(None, 1.49, 2), (None, 1.5, 0), ("garbled", 0.2, 2),
                                                    ("garbled", 3.0, 0)])
def test_without_proc_loadavg_the_load_average_decides(monkeypatch, text, load, jobs) -> None:
    texts = [("a", "x" * importpool.POOL_MIN_CHARS), ("b", "x")]
    monkeypatch.delenv("LUNGTRACK_JOBS", raising=False)
    monkeypatch.setattr(importpool, "_proc_loadavg", lambda: text)
    monkeypatch.setattr("os.getloadavg", lambda: (load, 0.0, 0.0))
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert importpool.pool_jobs(texts) == jobs


def test_the_running_tasks_are_read_from_proc_loadavg() -> None:
    import os

    text = importpool._proc_loadavg()
    if text is None:
        pytest.skip("no /proc/loadavg here")
    running, total = text.split()[3].split("/")
    assert 1 <= int(running) <= int(total) and os.cpu_count()


@pytest.mark.parametrize("raw", [None, "", "1", "2", "3", "0", "-2", " 4 ", "x", "2.5"])
def test_jobs_follow_the_rule_of_the_all_patient_commands(monkeypatch: pytest.MonkeyPatch, raw: str | None) -> None:
    from lungtrack import services

    if raw is None:
        monkeypatch.delenv("LUNGTRACK_JOBS", raising=False)
    else:
        monkeypatch.setenv("LUNGTRACK_JOBS", raw)
    for cpus in (1, 2, 8, None):
        monkeypatch.setattr("os.cpu_count", lambda cpus=cpus: cpus)
        assert importpool.jobs_wanted() == services.jobs_wanted()


# ------------------------------------------------------------------ through the CLI


def _copies(tmp_path: Path, n: int) -> list[str]:
    """``n`` copies of the mCODE transaction Bundle, each another person (ids, URLs, name and
    identifier of its own), as separate files."""
    source = json.loads((DATA / "mcode-nsclc-transaction.json").read_text(encoding="utf-8"))
    paths = []
    for k in range(n):
        bundle = copy.deepcopy(source)

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                return {key: (f"{v}-{k}" if key == "id" and isinstance(v, str) else walk(v)) for key, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            if isinstance(node, str) and node.startswith(UUID):
                return node.replace(UUID, f"urn:uuid:2222222{k}-1111-4111-8111-")
            return node

        bundle = walk(bundle)
        for entry in bundle["entry"]:
            r = entry.get("resource", {})
            if r.get("resourceType") == "Patient":
                r["name"] = [{"text": f"Pool Person {k}"}]
                r["identifier"] = [{"system": "urn:pool", "value": f"pool-{k}"}]
        path = tmp_path / f"b{k}.json"
        path.write_text(json.dumps(bundle), encoding="utf-8")
        paths.append(str(path))
    return paths


def _dump(db: Path) -> Any:
    from test_fast_paths_imports import _dump as dump

    return dump(db)


def _spy(monkeypatch: pytest.MonkeyPatch, name: str = "map_in_pool") -> list[Any]:
    """Records what each call of importpool's ``name`` gave back (map_in_pool: None when the
    files were mapped in the parent; map_in_turn: None when they were mapped together)."""
    calls: list[Any] = []
    real = getattr(importpool, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls.append(out)
        return out

    monkeypatch.setattr(importpool, name, spy)
    return calls


def _run(cli: Any, tmp_path: Path, name: str, files: list[str], jobs: str, *extra: str) -> Any:
    """A dry run with --json, the import with --json, the same import again: outputs and rows.
    ``jobs``: "2" (a pool), "1" (each file on its own, one after the other, in this process) or
    "plain" (the files mapped together, as before this round: map_apart switched off)."""
    db = tmp_path / f"{name}.db"
    outs = []
    real = importpool.map_apart
    if jobs == "plain":
        importpool.map_apart = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        for args in (["--dry-run", "--json"], ["--json"], []):
            r = cli("--db", str(db), "import", "fhir", *args, *extra, *files,
                    env={"LUNGTRACK_JOBS": "1" if jobs == "plain" else jobs})
            outs.append((r.code, r.stdout, r.stderr))
    finally:
        importpool.map_apart = real  # type: ignore[assignment]
    return outs, (_dump(db) if db.exists() else None)


def test_a_pool_import_writes_and_prints_what_one_process_does(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-15")
    files = _copies(tmp_path, 4) + [str(DATA / "variants.ndjson")]
    monkeypatch.setattr(importpool, "POOL_MIN_CHARS", 0)
    calls = _spy(monkeypatch)
    turns = _spy(monkeypatch, "map_in_turn")
    pooled = _run(cli, tmp_path, "pool", files, "2")
    assert len(calls) == 3 and all(c is not None for c in calls) and turns == []  # shared each time
    calls.clear()
    in_turn = _run(cli, tmp_path, "turn", files, "1")
    assert calls == [] and len(turns) == 3 and all(t is not None for t in turns)  # file by file here
    turns.clear()
    plain = _run(cli, tmp_path, "plain", files, "plain")
    assert calls == [] and turns == []
    assert pooled == in_turn == plain
    outs, rows = pooled
    assert outs[1][0] == 0 and json.loads(outs[1][1])["added"]["patient"] == 5
    assert len(rows["patient"]) == 5 and "already present" in outs[2][2]


@pytest.mark.parametrize("bad", [[2], [1, 3], [0]])
def test_bad_input_in_a_worker_mapped_file_gives_the_first_error_and_writes_nothing(cli, tmp_path, monkeypatch, bad):
    """A wrong JSON type in one or more of the files (mapped by workers): the first error in
    file order, one line, exit 2, no store written; as without a pool."""
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-15")
    files = _copies(tmp_path, 4)
    for i in bad:
        bundle = json.loads(Path(files[i]).read_text(encoding="utf-8"))
        for entry in bundle["entry"]:
            if entry.get("resource", {}).get("id", "").startswith("cea-1"):
                entry["resource"]["valueQuantity"]["value"] = "12 ng/mL"
        Path(files[i]).write_text(json.dumps(bundle, indent=1), encoding="utf-8")
    monkeypatch.setattr(importpool, "POOL_MIN_CHARS", 0)
    calls = _spy(monkeypatch)
    turns = _spy(monkeypatch, "map_in_turn")
    pooled = _run(cli, tmp_path, "pool", files, "2")
    assert calls == [None] * 3  # a worker met the problem: the parent mapped the files itself
    in_turn = _run(cli, tmp_path, "turn", files, "1")
    assert turns == [None] * 3
    assert pooled == in_turn == _run(cli, tmp_path, "plain", files, "plain")
    (code, out, err), *_ = pooled[0]
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"b{bad[0]}.json:" in err and "valueQuantity.value" in err and "'12 ng/mL'" in err
    assert pooled[1] is None  # no store was created


def test_a_file_nested_too_deep_is_refused_by_the_guard_as_without_a_pool(cli, tmp_path, monkeypatch):
    files = _copies(tmp_path, 3)
    Path(files[1]).write_text('{"resourceType": "Bundle", "entry": ' + "[" * 5000 + "]" * 5000 + "}",
                              encoding="utf-8")
    monkeypatch.setattr(importpool, "POOL_MIN_CHARS", 0)
    calls = _spy(monkeypatch)
    pooled = _run(cli, tmp_path, "pool", files, "2")
    in_turn = _run(cli, tmp_path, "turn", files, "1")
    assert calls[0] is None and pooled == in_turn == _run(cli, tmp_path, "plain", files, "plain")
    assert pooled[0][0][0] == 2 and "b1.json" in pooled[0][0][2]


def test_files_that_reference_each_other_are_mapped_together(cli, tmp_path, monkeypatch):
    """Bulk NDJSON by resource type (the Patient in one file, its records in another): the
    workers' parts are not used; the import is what one process makes of it."""
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-15")
    lines = (DATA / "variants.ndjson").read_text(encoding="utf-8").splitlines()
    patients = [ln for ln in lines if '"resourceType": "Patient"' in ln]
    (tmp_path / "Patient.ndjson").write_text("\n".join(patients) + "\n", encoding="utf-8")
    (tmp_path / "Observation.ndjson").write_text("\n".join(ln for ln in lines if ln not in patients) + "\n",
                                                 encoding="utf-8")
    files = [str(tmp_path / "Patient.ndjson"), str(tmp_path / "Observation.ndjson")]
    monkeypatch.setattr(importpool, "POOL_MIN_CHARS", 0)
    calls = _spy(monkeypatch)
    turns = _spy(monkeypatch, "map_in_turn")
    pooled = _run(cli, tmp_path, "pool", files, "2")
    assert calls == [None] * 3
    in_turn = _run(cli, tmp_path, "turn", files, "1")
    assert turns == [None] * 3
    plain = _run(cli, tmp_path, "plain", files, "plain")
    assert pooled == in_turn == plain and pooled[0][1][0] == 0 and pooled[1]["biopsy_finding"]


def test_no_pool_with_patient_or_below_the_threshold(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-15")
    files = _copies(tmp_path, 2)
    started: list[int] = []
    import concurrent.futures

    executor = concurrent.futures.ProcessPoolExecutor

    class Counting(executor):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            started.append(kwargs.get("max_workers", 0))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Counting)
    monkeypatch.setenv("LUNGTRACK_JOBS", "2")
    assert cli("--db", str(tmp_path / "a.db"), "import", "fhir", "--dry-run", *files).code == 0
    assert started == []  # two small files: below POOL_MIN_CHARS
    monkeypatch.setattr(importpool, "POOL_MIN_CHARS", sum(len(Path(f).read_text(encoding="utf-8")) for f in files))
    assert cli("--db", str(tmp_path / "a.db"), "import", "fhir", "--dry-run", *files).code == 0
    assert started == [1]  # at the threshold: one worker beside this process
    assert cli("patient", "add", "Named One").code == 0
    assert cli("import", "fhir", "--dry-run", "--patient", "Named One", *files).code == 0
    assert started == [1]  # --patient: every record goes to one patient, mapped in one process


_MINE: list[int] = []
_REAL_MAP_ONE = importpool._map_one


_COUNTING_PID: list[int] = []


def _counted_map_one(i: int) -> Any:
    """importpool._map_one, counting the files mapped in this process (a worker's calls are
    counted in the worker: the pool sends the function by name).  A worker takes 0.2 s a file,
    so that the race between the parent and the workers always leaves files to both."""
    import os
    import time

    if os.getpid() != _COUNTING_PID[0]:
        time.sleep(0.2)
    _MINE.append(i)
    return _REAL_MAP_ONE(i)


def _parent_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The files this process maps itself."""
    import os

    _MINE.clear()
    _COUNTING_PID[:] = [os.getpid()]
    monkeypatch.setattr(importpool, "_map_one", _counted_map_one)
    return _MINE


@pytest.mark.parametrize("jobs", [2, 3])
def test_the_parent_maps_files_from_the_end_while_the_workers_map_from_the_start(tmp_path, monkeypatch, jobs):
    paths = _copies(tmp_path, 8)
    texts = [(Path(p).name, Path(p).read_text(encoding="utf-8")) for p in paths]
    label = "import:fhir:" + ",".join(n for n, _ in texts)
    mine = _parent_calls(monkeypatch)

    def until_a_worker_starts() -> None:  # (as the write path's imports take a while)
        import time

        deadline = time.monotonic() + 30
        while importpool._WORK["next"][0] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)

    got = importpool.map_in_pool(texts, label, until_a_worker_starts, jobs=jobs)
    assert got == fm.map_files(texts, label)
    assert mine and mine == list(range(7, 7 - len(mine), -1))  # the last files, from the end
    assert len(mine) < 8  # a worker mapped the first ones


def test_a_bad_file_mapped_by_the_parent_or_a_worker_gives_up_the_pool(tmp_path, monkeypatch):
    paths = _copies(tmp_path, 8)
    texts = [(Path(p).name, Path(p).read_text(encoding="utf-8")) for p in paths]
    for bad in (0, 7):  # a worker's first file; the parent's first
        broken = list(texts)
        broken[bad] = (texts[bad][0], texts[bad][1].replace('"resourceType": "Patient"', '"resourceType": 5', 1))
        assert importpool.map_in_pool(broken, "import:fhir:x", jobs=2) is None
        with pytest.raises(InputError):
            fm.map_files(broken, "import:fhir:x")
    assert importpool.map_in_pool(texts, "import:fhir:x", jobs=2) is not None
    assert importpool.map_in_pool(texts, "import:fhir:x", jobs=1) is None  # one job: no pool


_PARENT_PID: list[int] = []


def _dies_in_a_worker() -> Any:
    """A worker's task that kills the worker (as running out of memory or a signal would)."""
    import os

    if os.getpid() != _PARENT_PID[0]:
        os._exit(3)
    raise AssertionError("a worker's task ran in the parent")


def test_a_pool_that_breaks_or_cannot_start_leaves_the_import_to_this_process(cli, tmp_path, monkeypatch):
    import concurrent.futures
    import os

    monkeypatch.setenv("LUNGTRACK_TODAY", "2026-03-15")
    files = _copies(tmp_path, 6)
    texts = [(Path(p).name, Path(p).read_text(encoding="utf-8")) for p in files]
    _PARENT_PID[:] = [os.getpid()]
    with monkeypatch.context() as mp:
        mp.setattr(importpool, "_map_from_first", _dies_in_a_worker)
        assert importpool.map_in_pool(texts, "import:fhir:x", jobs=2) is None

    class NoFork(concurrent.futures.ProcessPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError(11, "Resource temporarily unavailable")

    with monkeypatch.context() as mp:
        mp.setattr(concurrent.futures, "ProcessPoolExecutor", NoFork)
        assert importpool.map_in_pool(texts, "import:fhir:x", jobs=2) is None
        mp.setattr(importpool, "POOL_MIN_CHARS", 0)
        calls = _spy(mp)
        broken = _run(cli, tmp_path, "broken", files, "2")
        assert calls == [None] * 3
    assert broken == _run(cli, tmp_path, "plain", files, "plain") and broken[0][1][0] == 0
