"""lungtrack benchmarks: speed and memory targets (run: python3 benchmarks/run.py).

Not part of the test suite (timings on a shared 2-core machine are noisy); each target is a
budget with room to spare, and the script exits 1 when one is missed.

Targets
- start-up: `lungtrack --help` at most 250 ms slower than a bare `python -c "import typer"`
  (median of several runs), and never importing SQLAlchemy;
- rules: `evaluate()` on 5 years of monthly CEA, 30 scans of 5 lesions and 20 biopsies < 0.5 s;
- memory: peak Python allocation of that evaluation < 50 MB;
- check: `lungtrack check` on the demo store < 3 s wall time;
- import: `Writer.apply_import` of 20,000 marker results for one patient into SQLite (validated
  in memory, bulk-inserted, journalled as one change) at >= 20,000 rows/s.
- report text: `read_report()` on a 4 kB CT report < 250 ms.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def _median_runtime(cmd: list[str], runs: int = 7, env: dict | None = None) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def long_history():
    from lungtrack.core.history import (BiopsyFinding, History, ImagingStudy, Lesion, MarkerResult, Measurement,
                                        PatientInfo, TherapyLine)
    from lungtrack.enums import BiopsyResult, Marker, Sample

    start = date(2021, 1, 10)
    lesions = tuple(Lesion(id=i, label=f"L{i}", site=["lung", "liver", "bone", "adrenal", "lymph node"][i - 1],
                           is_node=(i == 5)) for i in range(1, 6))
    studies = []
    for k in range(30):
        when = start - timedelta(days=5) + timedelta(days=61 * k)
        studies.append(ImagingStudy(id=k + 1, date=when, measurements=tuple(
            Measurement(i, max(5.0, 30.0 - k * 0.6 + (k * 0.9 if i == 2 and k > 20 else 0) + i)) for i in range(1, 6))))
    markers = tuple(MarkerResult(id=k + 1, date=start + timedelta(days=30 * k), marker=Marker.CEA,
                                 value=round(3 + (k % 7) * 0.4 + max(0, k - 50) * 0.5, 2), unit="ng/mL")
                    for k in range(60))
    biopsies = tuple(BiopsyFinding(id=k + 1, date=start + timedelta(days=90 * k), sample=Sample.PLASMA, gene="EGFR",
                                   variant="T790M", result=BiopsyResult.DETECTED if k > 15 else BiopsyResult.NOT_DETECTED,
                                   vaf=(k - 15) * 0.3 if k > 15 else None) for k in range(20))
    return History(patient=PatientInfo(id=1, name="Bench"), lines=(TherapyLine(id=1, drug="gefitinib", start=start),),
                   lesions=lesions, studies=tuple(studies), markers=markers, biopsies=biopsies)


def import_rate(rows: int = 20000, warm: bool = True) -> float:
    """Rows per second of one import of ``rows`` CEA results into a fresh SQLite store (after a
    small warm-up import, so that module imports are not counted)."""
    if warm:
        import_rate(10, warm=False)
    from lungtrack.records import inputs as ri
    from lungtrack.records.writer import writer
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    src = ri.Source("import:csv:bench.csv")
    markers = tuple(ri.MarkerInput(marker="CEA", value=round(1 + (k % 97) * 0.1, 1), unit="ng/mL",
                                   date=date(1970, 1, 1) + timedelta(days=k),
                                   source=ri.Source(src.label, f"bench|{k}", f"bench.csv:{k + 2}"))
                    for k in range(rows))
    plan = ri.ImportPlan("csv", "bench.csv", (ri.ImportBatch(ri.PatientRef(name="Bench"),
                                                             ri.PatientInput(name="Bench", source=src),
                                                             markers=markers),))
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(resolve(str(Path(tmp) / "bench.db")), create=True)
        try:
            t0 = time.perf_counter()
            with writer(store, today=date(2026, 12, 1), kind="import") as w:
                result = w.apply_import(plan)
            elapsed = time.perf_counter() - t0
        finally:
            store.close()
    assert result.count("added", "marker") == rows, result
    return rows / elapsed


def main() -> int:
    results = []
    exe = [sys.executable, "-m", "lungtrack"]
    base = _median_runtime([sys.executable, "-c", "import typer"])
    helptime = _median_runtime(exe + ["--help"])
    results.append(("start-up: --help minus 'import typer'", (helptime - base) * 1000, "ms", 250))

    from lungtrack.core.engine import evaluate

    history = long_history()
    evaluate(history, date(2026, 1, 1))  # warm imports
    t0 = time.perf_counter()
    ev = evaluate(history, date(2026, 1, 1))
    results.append(("rules: evaluate() on a 5-year history", (time.perf_counter() - t0) * 1000, "ms", 500))
    assert ev.responses, "no response computed"
    tracemalloc.start()
    evaluate(history, date(2026, 1, 1))
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    results.append(("memory: peak allocation of evaluate()", peak / 1e6, "MB", 50))

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, LUNGTRACK_DB=str(Path(tmp) / "demo.db"))
        subprocess.run(exe + ["demo", "--quiet"], env=env, capture_output=True, check=True)
        check = _median_runtime(exe + ["check"], runs=3, env=env)
    results.append(("check on the demo store (wall)", check * 1000, "ms", 3000))

    rate = import_rate()
    results.append(("import: 20,000 markers, rows per second", -rate, "rows/s (negated)", -20000))
    from lungtrack.parsing.report_text import read_report

    report = ("FINDINGS:\nLungs: A 3.2 x 2.1 cm spiculated mass in the right upper lobe (series 3, image 45), "
              "previously 2.8 x 1.9 cm. An 8 mm nodule in the left lower lobe. The aorta measures 3.4 cm.\n"
              "Lymph nodes: Right paratracheal (4R) node 16 mm in short axis. Subcarinal node 18 x 12 mm.\n") * 15
    read_report(report[:300])  # compile the patterns once
    t0 = time.perf_counter()
    read_report(report)
    results.append((f"report text: read_report() on {len(report) // 1000} kB", (time.perf_counter() - t0) * 1000,
                    "ms", 250))

    failed = 0
    print(f"{'benchmark':<45} {'measured':>10}   target")
    for name, value, unit, limit in results:
        ok = value <= limit
        failed += not ok
        print(f"{name:<45} {value:>8.1f} {unit}   <= {limit} {unit}  {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
