"""File imports (lungtrack import json / import fhir): rows per second, into an empty store and
into a store that already holds many patients (the rate must not fall as the store grows).

Run: python3 benchmarks/import_files.py [--runs N] [--patients N] [--fhir-patients N] [--large N]
                                         [--workdir DIR] [--baseline SRC [--compare]] [--formats json,fhir]

The files are written by lungtrack itself from a generated cohort (benchmarks/cohort.py, 10-year
patients, about 390 rows each): ``export json --all-patients`` of ``--patients`` patients, and
``export fhir`` (mCODE Bundles, one file per patient) of ``--fhir-patients`` of them (default 40; with
more than ``--patients``, of a cohort of that many).  The patients are renamed so that none is already
in the large store.  Each run imports the file with the ``lungtrack`` command (start-up included)
into a copy of the target store; rows are the records written (scans, measurements, markers,
biopsies, therapy lines, patients).  Median, minimum and maximum over the runs.

``--baseline SRC`` (the ``src`` directory of another checkout, e.g. one made with ``git archive``)
times that code too, run for run alternately with this tree's (the machine's speed drifts over
minutes: alternating puts both under the same drift), and prints the CPU ratio new / baseline.
``--compare`` (with ``--baseline``) first imports each format's files with both trees, a dry
run with ``--json``, the import with ``--json`` and the same import again, into copies of each
target store, and stops unless everything equals: the output (stdout, stderr, exit status) and
every row of every table, timestamps aside (journal entries included, their JSON decoded).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cohort  # noqa: E402

TABLES = ("patient", "therapy_line", "lesion", "imaging_study", "lesion_measurement", "new_lesion", "marker_result",
          "biopsy_finding", "appointment", "note")


def _rows(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    finally:
        con.close()


def _lt(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one lungtrack command (its children's CPU, from resource usage)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lungtrack", *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"lungtrack {' '.join(args)} failed: {proc.stderr.strip()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def prepare(workdir: Path, patients: int, large: int, env: dict[str, str], fhir_patients: int = 40) -> dict[str, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"source-{patients}.db"
    if not source.exists():
        cohort.build(str(source), patients, seed=11)
    fhir_source = source
    if fhir_patients > patients:
        fhir_source = workdir / f"source-{fhir_patients}.db"
        if not fhir_source.exists():
            cohort.build(str(fhir_source), fhir_patients, seed=11)
    files = {}
    doc = workdir / f"json-{patients}.json"
    if not doc.exists():
        _lt(["--db", str(source), "export", "json", "--all-patients", "-o", str(doc)], env)
        data = json.loads(doc.read_text(encoding="utf-8"))
        for p in data["patients"]:
            p["patient"]["name"] = p["patient"]["name"].replace("Patient", "Imported")
        doc.write_text(json.dumps(data), encoding="utf-8")
    files["json"] = doc
    fhir = workdir / ("fhir" if fhir_patients == 40 else f"fhir-{fhir_patients}")
    if not (fhir / f"p{fhir_patients}.json").exists():
        fhir.mkdir(exist_ok=True)
        for i in range(1, fhir_patients + 1):
            out = fhir / f"p{i}.json"
            if out.exists():
                continue
            tmp = fhir / f"p{i}.json.tmp"  # resumable: a file is there only once it is complete
            _lt(["--db", str(fhir_source), "export", "fhir", "--patient", f"Patient {i:06d}", "-o", str(tmp)], env)
            bundle = json.loads(tmp.read_text(encoding="utf-8"))
            tmp.unlink()
            for e in bundle["entry"]:
                r = e["resource"]
                if r["resourceType"] == "Patient":
                    r["name"] = [{"text": f"Imported FHIR {i}"}]
                    r["identifier"] = [{"system": "urn:bench", "value": f"fhir-{i}"}]
            out.write_text(json.dumps(bundle), encoding="utf-8")
    files["fhir"] = fhir
    empty = workdir / "empty.db"
    if not empty.exists():
        _lt(["--db", str(empty), "patient", "add", "Setup"], env)
    files["empty"] = empty
    big = workdir / f"cohort-{large}.db"
    if not big.exists():
        cohort.build(str(big), large)
    files["large"] = big
    return files


def measure(files: dict[str, Path], fmt: str, target: str, runs: int, envs: list[dict[str, str]]) -> list[dict]:
    """One result per environment (this tree, then the baseline's), their runs alternated."""
    samples: list[dict[str, list[float]]] = [{"rates": [], "walls": [], "cpus": []} for _ in envs]
    added = 0
    with tempfile.TemporaryDirectory(dir=files["empty"].parent) as tmp:
        for _ in range(runs):
            for env, got in zip(envs, samples):
                db = Path(tmp) / "store.db"
                for leftover in Path(tmp).glob("store.db*"):
                    leftover.unlink()
                shutil.copy(files[target], db)
                before = _rows(db)
                src = [str(files["json"])] if fmt == "json" else sorted(str(p) for p in files["fhir"].glob("*.json"))
                wall, cpu = _lt(["--db", str(db), "import", fmt, *src], env)
                added = _rows(db) - before
                got["rates"].append(added / wall)
                got["walls"].append(wall)
                got["cpus"].append(cpu)
    return [{"rows": added, "median": statistics.median(g["rates"]), "min": min(g["rates"]), "max": max(g["rates"]),
             "wall_median": statistics.median(g["walls"]), "cpu_median": statistics.median(g["cpus"]),
             "cpu_min": min(g["cpus"]), "cpu_max": max(g["cpus"]),
             "cpu_rate": added / statistics.median(g["cpus"])} for g in samples]


_TIMESTAMPS = {"created_at", "updated_at", "at", "undone_at"}


def _dump(db: Path, src: Path) -> list[str]:
    """Every row of every table in rowid order, timestamps aside; journal entries with their JSON
    decoded (timestamps aside); the recorded command line with the tree's path replaced."""
    con = sqlite3.connect(db)
    out = []
    try:
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            cur = con.execute(f'SELECT * FROM "{t}" ORDER BY rowid')
            cols = [c[0] for c in cur.description]
            for row in cur:
                rec = {c: v for c, v in zip(cols, row) if c not in _TIMESTAMPS}
                for k in ("old", "new"):
                    if t == "change_entry" and isinstance(rec.get(k), str):
                        value = json.loads(rec[k])
                        rec[k] = ({c: v for c, v in value.items() if c not in _TIMESTAMPS}
                                  if isinstance(value, dict) else value)
                if t == "change" and isinstance(rec.get("command"), str):
                    rec["command"] = rec["command"].replace(str(src), "SRC")
                out.append(f"{t}: {json.dumps(rec, sort_keys=True, default=str)}")
    finally:
        con.close()
    return out


def compare(files: dict[str, Path], fmt: str, trees: list[Path], envs: list[dict[str, str]]) -> None:
    """Import with both trees (dry run --json, --json, again) into copies of each target store;
    stop unless the outputs and every stored row are equal."""
    src = [str(files["json"])] if fmt == "json" else sorted(str(p) for p in files["fhir"].glob("*.json"))
    for target in ("empty", "large"):
        results = []
        with tempfile.TemporaryDirectory(dir=files["empty"].parent) as tmp:
            for tree, env in zip(trees, envs):
                db = Path(tmp) / "store.db"  # the same path for both: it is in the journal's command line
                for leftover in Path(tmp).glob("store.db*"):
                    leftover.unlink()
                shutil.copy(files[target], db)
                outputs = []
                for extra in (["--dry-run", "--json"], ["--json"], []):
                    proc = subprocess.run([sys.executable, "-m", "lungtrack", "--db", str(db), "import", fmt, *extra, *src],
                                          env=env, capture_output=True, text=True)
                    outputs.append((proc.returncode, proc.stdout, proc.stderr))
                results.append((outputs, _dump(db, tree)))
        (out_new, rows_new), (out_base, rows_base) = results
        if out_new != out_base or rows_new != rows_base:
            raise SystemExit(f"import {fmt} into the {target} store: the output or the stored rows differ from the "
                             "baseline's")
        print(f"import {fmt} into the {target} store: output and {len(rows_new):,} stored rows identical to the "
              "baseline's", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--patients", type=int, default=100, help="patients in the JSON file (default 100)")
    ap.add_argument("--fhir-patients", type=int, default=40,
                    help="patients (one Bundle each) in the FHIR import (default 40; the fixed start-up weighs "
                         "less on more)")
    ap.add_argument("--large", type=int, default=1000, help="patients already in the large store (default 1000)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "lungtrack-bench-imports"))
    ap.add_argument("--baseline", metavar="SRC", help="another checkout's src directory, timed alternately with this one")
    ap.add_argument("--formats", default="json,fhir", help="which imports (default json,fhir)")
    ap.add_argument("--compare", action="store_true",
                    help="with --baseline: first check that both trees write the same rows and print the same")
    args = ap.parse_args()
    if args.compare and not args.baseline:
        ap.error("--compare needs --baseline SRC")
    trees = [ROOT / "src"] + ([Path(args.baseline).resolve()] if args.baseline else [])
    envs = []
    for src in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=False, stdout=subprocess.DEVNULL)
        env = dict(os.environ, PYTHONPATH=str(src), LUNGTRACK_TODAY=cohort.TODAY.isoformat())
        env.pop("LUNGTRACK_DB", None)
        envs.append(env)
    files = prepare(Path(args.workdir), args.patients, args.large, envs[0], args.fhir_patients)
    if args.compare:
        for fmt in args.formats.split(","):
            compare(files, fmt, trees, envs)
    print(f"file imports, {args.runs} runs each, load average {os.getloadavg()[0]:.1f}")
    for fmt in args.formats.split(","):
        for target in ("empty", "large"):
            results = measure(files, fmt, target, args.runs, envs)
            where = "an empty store" if target == "empty" else f"a store of {args.large:,} patients"
            for name, r in zip(("", "baseline: "), results):
                what = f"{args.fhir_patients} patients, " if fmt == "fhir" else f"{args.patients} patients, "
                print(f"{name}import {fmt} ({what}{r['rows']:,} rows) into {where}: {r['median']:,.0f} rows/s "
                      f"(min {r['min']:,.0f}, max {r['max']:,.0f}); wall {r['wall_median']:.2f} s, "
                      f"CPU {r['cpu_median']:.2f} s ({r['cpu_min']:.2f}-{r['cpu_max']:.2f}) = "
                      f"{r['cpu_rate']:,.0f} rows per CPU second", flush=True)
            if len(results) == 2:
                print(f"  CPU ratio new / baseline {results[0]['cpu_median'] / results[1]['cpu_median']:.2f}x, "
                      f"load average {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
