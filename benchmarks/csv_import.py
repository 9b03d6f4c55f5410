"""CSV import speed: rows per second into SQLite, against a baseline run beside it.

Run: python3 benchmarks/csv_import.py [ROWS] [RUNS]   (default 20000 rows, 5 runs)

Each run imports the same generated CSV file (tumour-marker rows in lungtrack's own columns,
with units to convert and reference ranges to read) into a fresh SQLite store, the whole way:
decode, parse and check every row (lungtrack.importers.csv_rows), build the plan, validate it
against the store and insert it in one transaction with its journal entry (lungtrack.records).
The baseline, timed in the same run on the same machine, is Python's own ``sqlite3``
``executemany`` of the same rows, already parsed, into a table of the same shape: the floor
for getting those rows into SQLite at all.  Median, minimum and maximum of the runs are shown.

Target (issue 9): at least 20,000 rows per second (median).  Exit status 1 when it is missed.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TARGET_ROWS_PER_S = 20_000
TODAY = date(2026, 8, 12)
_MARKERS = (("CEA", "ng/mL", "<5.0"), ("CYFRA 21-1", "ng/mL", "0.0-3.3"), ("NSE", "µg/L", "<16.3"),
            ("ProGRP", "ng/mL", "0-0.065"), ("CA-125", "U/mL", "<35"))


def make_csv(rows: int) -> bytes:
    """``rows`` marker results: five markers on consecutive days going back from TODAY."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["date", "marker", "value", "unit", "reference_range", "lab"])
    for i in range(rows):
        marker, unit, ref = _MARKERS[i % len(_MARKERS)]
        day = TODAY - timedelta(days=i // len(_MARKERS))
        value = f"{0.02 + (i % 97) / 1000:.3f}" if marker == "ProGRP" else f"{1 + (i % 89) / 10:.1f}"
        w.writerow([day.isoformat(), marker, value, unit, ref, "City lab"])
    return buf.getvalue().encode("utf-8")


def lungtrack_import(data: bytes, db: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds for the whole import into a fresh store (its creation is not timed)."""
    from lungtrack.importers.csv_plan import build_plan
    from lungtrack.importers.csv_rows import parse_csv
    from lungtrack.records.inputs import PatientInput
    from lungtrack.records.writer import writer
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    store = open_store(resolve(str(db)), create=True)
    try:
        with writer(store, today=TODAY) as w:
            w.add_patient(PatientInput(name="Bench"))
        t0, c0 = time.perf_counter(), time.process_time()
        parsed = parse_csv(data, "bench.csv", today=TODAY)
        assert not parsed.problems, parsed.problems[:3]
        plan = build_plan([parsed], "Bench")
        with writer(store, command="lungtrack import csv …", kind="import", today=TODAY) as w:
            result = w.apply_import(plan)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()
    return elapsed, cpu, result.count("added", "marker")


def baseline(data: bytes, db: Path) -> tuple[float, float]:
    """sqlite3 executemany of the same rows (parsed by the csv module only) into the same shape."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))[1:]
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE marker_result (id INTEGER PRIMARY KEY, patient_id INTEGER, date DATE, marker VARCHAR,"
                " value FLOAT, unit VARCHAR, uln FLOAT, lab VARCHAR, comparator VARCHAR, external_id VARCHAR,"
                " source VARCHAR, created_at DATETIME, updated_at DATETIME)")
    con.commit()
    t0, c0 = time.perf_counter(), time.process_time()
    now = "2026-08-12 09:00:00"
    con.executemany("INSERT INTO marker_result (patient_id, date, marker, value, unit, uln, lab, comparator,"
                    " external_id, source, created_at, updated_at) VALUES (1, ?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?)",
                    [(r[0], r[1], float(r[2]), r[3], r[5], f"csv:marker|{r[1]}|{r[0]}", "import:csv:bench.csv", now, now)
                     for r in rows])
    con.commit()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()
    return elapsed, cpu


def _stats(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def measure(rows: int = 20_000, runs: int = 5) -> dict:
    """Rows per second (wall clock and CPU time) of lungtrack and of the baseline, run by run."""
    data = make_csv(rows)
    ours: list[float] = []
    ours_cpu: list[float] = []
    base: list[float] = []
    base_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)
        for k in range(runs):
            elapsed, cpu, added = lungtrack_import(data, Path(tmp) / f"lt{k}.db")
            assert added == rows, (added, rows)
            ours.append(rows / elapsed)
            ours_cpu.append(rows / cpu)
            b_elapsed, b_cpu = baseline(data, Path(tmp) / f"base{k}.db")
            base.append(rows / b_elapsed)
            base_cpu.append(rows / max(b_cpu, 1e-6))
    return {"rows": rows, "runs": runs, "lungtrack": _stats(ours), "lungtrack_cpu": _stats(ours_cpu),
            "baseline": _stats(base), "baseline_cpu": _stats(base_cpu)}


def main(argv: list[str]) -> int:
    rows = int(argv[1]) if len(argv) > 1 else 20_000
    runs = int(argv[2]) if len(argv) > 2 else 5
    r = measure(rows, runs)
    print(f"CSV import of {r['rows']} marker rows into SQLite, {r['runs']} runs; rows/s (median, min, max)")
    print(f"  {'':<40} {'wall clock':>29}   {'CPU time':>29}")
    for name, label in (("lungtrack", "lungtrack import csv (parse+check+write)"),
                        ("baseline", "baseline: sqlite3 executemany")):
        cells = "   ".join("{:>9,.0f} {:>9,.0f} {:>9,.0f}".format(*r[key]) for key in (name, f"{name}_cpu"))
        print(f"  {label:<40} {cells}")
    ok = r["lungtrack"][0] >= TARGET_ROWS_PER_S
    print(f"  target: >= {TARGET_ROWS_PER_S:,} rows/s, wall-clock median: {'ok' if ok else 'MISSED'} "
          f"(the baseline is {r['baseline'][0] / r['lungtrack'][0]:.1f}x faster; CPU time is less "
          "sensitive to other processes on a shared machine)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
