"""File imports (lungtrack import json / import fhir): rows per second, into an empty store and
into a store that already holds many patients (the rate must not fall as the store grows).

Run: python3 benchmarks/import_files.py [--runs N] [--patients N] [--large N] [--workdir DIR]

The files are written by lungtrack itself from a generated cohort (benchmarks/cohort.py, 10-year
patients, about 390 rows each): ``export json --all-patients`` of ``--patients`` patients, and
``export fhir`` (mCODE Bundles) of 40 of them.  The patients are renamed so that none is already
in the large store.  Each run imports the file with the ``lungtrack`` command (start-up included)
into a copy of the target store; rows are the records written (scans, measurements, markers,
biopsies, therapy lines, patients).  Median, minimum and maximum over the runs.
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


def prepare(workdir: Path, patients: int, large: int, env: dict[str, str]) -> dict[str, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"source-{patients}.db"
    if not source.exists():
        cohort.build(str(source), patients, seed=11)
    files = {}
    doc = workdir / f"json-{patients}.json"
    if not doc.exists():
        _lt(["--db", str(source), "export", "json", "--all-patients", "-o", str(doc)], env)
        data = json.loads(doc.read_text(encoding="utf-8"))
        for p in data["patients"]:
            p["patient"]["name"] = p["patient"]["name"].replace("Patient", "Imported")
        doc.write_text(json.dumps(data), encoding="utf-8")
    files["json"] = doc
    fhir = workdir / "fhir"
    if not fhir.exists():
        fhir.mkdir()
        for i in range(1, 41):
            out = fhir / f"p{i}.json"
            _lt(["--db", str(source), "export", "fhir", "--patient", f"Patient {i:06d}", "-o", str(out)], env)
            bundle = json.loads(out.read_text(encoding="utf-8"))
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


def measure(files: dict[str, Path], fmt: str, target: str, runs: int, env: dict[str, str]) -> dict:
    rates, walls, cpus = [], [], []
    with tempfile.TemporaryDirectory(dir=files["empty"].parent) as tmp:
        for _ in range(runs):
            db = Path(tmp) / "store.db"
            for leftover in Path(tmp).glob("store.db*"):
                leftover.unlink()
            shutil.copy(files[target], db)
            before = _rows(db)
            src = [str(files["json"])] if fmt == "json" else sorted(str(p) for p in files["fhir"].glob("*.json"))
            wall, cpu = _lt(["--db", str(db), "import", fmt, *src], env)
            added = _rows(db) - before
            rates.append(added / wall)
            walls.append(wall)
            cpus.append(cpu)
    return {"rows": added, "median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "wall_median": statistics.median(walls), "cpu_median": statistics.median(cpus),
            "cpu_rate": added / statistics.median(cpus)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--patients", type=int, default=100, help="patients in the JSON file (default 100)")
    ap.add_argument("--large", type=int, default=1000, help="patients already in the large store (default 1000)")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "lungtrack-bench-imports"))
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=False, stdout=subprocess.DEVNULL)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), LUNGTRACK_TODAY=cohort.TODAY.isoformat())
    env.pop("LUNGTRACK_DB", None)
    files = prepare(Path(args.workdir), args.patients, args.large, env)
    print(f"file imports, {args.runs} runs each, load average {os.getloadavg()[0]:.1f}")
    for fmt in ("json", "fhir"):
        for target in ("empty", "large"):
            r = measure(files, fmt, target, args.runs, env)
            where = "an empty store" if target == "empty" else f"a store of {args.large:,} patients"
            print(f"import {fmt} ({r['rows']:,} rows) into {where}: {r['median']:,.0f} rows/s "
                  f"(min {r['min']:,.0f}, max {r['max']:,.0f}); wall {r['wall_median']:.2f} s, "
                  f"CPU {r['cpu_median']:.2f} s = {r['cpu_rate']:,.0f} rows per CPU second", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
