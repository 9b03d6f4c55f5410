"""Import speed of the one write path (run: python3 benchmarks/import_rate.py).

Target: ``Writer.apply_import`` of 20,000 marker results for one patient into a fresh SQLite
store (validated in memory against the patient's loaded state, inserted with one DB-API
executemany, journalled as one change) at >= 20,000 rows/s.  Exit status 1 when missed.
Not part of the test suite: the machine is shared, so the median of several runs is printed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TARGET = 20000


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
    rates = [import_rate() for _ in range(5)]
    median = statistics.median(rates)
    print(f"import: 20,000 marker results: median {median:,.0f} rows/s (min {min(rates):,.0f}, max {max(rates):,.0f}); "
          f"target >= {TARGET:,} rows/s: {'ok' if median >= TARGET else 'MISSED'}")
    return 0 if median >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
