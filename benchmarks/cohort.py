"""A seeded cohort generator: N patients with 10 years of history each (``--years``), written fast.

Each patient: 2-3 therapy lines; 3-5 lesions; a CT every 2-3 months measuring every lesion;
a monthly CEA; a liquid biopsy (plasma, EGFR T790M) every 6 months.  The same seed gives the
same store.  The store is first created and migrated by lungtrack itself (so the schema is the
real one), then the rows are bulk-inserted: ``sqlite3`` ``executemany`` for a SQLite file,
PostgreSQL ``COPY`` for a server store.  Ids are assigned here, so scans and their
measurements need no round trip.

    python3 benchmarks/cohort.py --patients 1000 --db /tmp/cohort-1000.db
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

#: The "today" the cohort is built for (pass it as LUNGTRACK_TODAY when measuring).
TODAY = date(2026, 3, 15)
YEARS = 10
STAMP = "2026-03-15 00:00:00"
DRUGS = ("gefitinib", "erlotinib", "afatinib", "osimertinib", "alectinib", "lorlatinib")
SITES = ("lung", "liver", "bone", "adrenal", "brain", "pleura")

COLUMNS: dict[str, tuple[str, ...]] = {
    "patient": ("id", "created_at", "updated_at", "source", "name", "diagnosis_date", "histology", "drivers",
                "smoking", "is_default"),
    "therapy_line": ("id", "created_at", "updated_at", "source", "patient_id", "drug", "start_date", "end_date",
                     "stop_reason"),
    "lesion": ("id", "created_at", "updated_at", "source", "patient_id", "label", "site", "is_node"),
    "imaging_study": ("id", "created_at", "updated_at", "source", "patient_id", "date", "modality",
                      "slice_thickness_mm"),
    "lesion_measurement": ("id", "created_at", "updated_at", "source", "study_id", "lesion_id", "size_mm", "status"),
    "marker_result": ("id", "created_at", "updated_at", "source", "patient_id", "date", "marker", "value", "unit"),
    "biopsy_finding": ("id", "created_at", "updated_at", "source", "patient_id", "date", "sample", "gene",
                       "variant", "result", "vaf"),
}


def patient_rows(pid: int, seed: int, ids: dict[str, int], years: int = YEARS) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of patient ``pid`` (ids continue from ``ids``, which is updated)."""
    rnd = random.Random(seed * 1_000_003 + pid)
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
    meta = (STAMP, STAMP, "bench")

    def next_id(table: str) -> int:
        ids[table] += 1
        return ids[table]

    end = TODAY - timedelta(days=rnd.randint(5, 40))
    start = end - timedelta(days=365 * years)
    out["patient"].append((pid, *meta, f"Patient {pid:06d}", start - timedelta(days=20), "adenocarcinoma",
                           '["EGFR exon 19 deletion"]', "never", pid == 1))
    n_lines = rnd.randint(2, 3)
    cuts = sorted(rnd.sample(range(300, 365 * years - 200), n_lines - 1))
    bounds = [start] + [start + timedelta(days=c) for c in cuts]
    for k, line_start in enumerate(bounds):
        last = k == n_lines - 1
        out["therapy_line"].append((
            next_id("therapy_line"), *meta, pid, DRUGS[(pid + k) % len(DRUGS)], line_start,
            None if last else bounds[k + 1] - timedelta(days=1), None if last else "progression"))
    lesion_ids = []
    sizes = []
    for k in range(rnd.randint(3, 5)):
        lid = next_id("lesion")
        lesion_ids.append(lid)
        sizes.append(rnd.uniform(12, 40))
        out["lesion"].append((lid, *meta, pid, f"L{k + 1}", SITES[k % len(SITES)], k == 4))
    day = start - timedelta(days=7)
    while day <= end:
        sid = next_id("imaging_study")
        out["imaging_study"].append((sid, *meta, pid, day, "CT", 1.25))
        for k, lid in enumerate(lesion_ids):
            sizes[k] = max(4.0, sizes[k] * rnd.uniform(0.93, 1.06))
            out["lesion_measurement"].append((next_id("lesion_measurement"), *meta, sid, lid,
                                              round(sizes[k], 1), "measured"))
        day += timedelta(days=rnd.randint(61, 91))
    value = rnd.uniform(2, 20)
    day = start
    while day <= end:
        value = max(0.5, value * rnd.uniform(0.85, 1.2))
        out["marker_result"].append((next_id("marker_result"), *meta, pid, day, "CEA", round(value, 1), "ng/mL"))
        day += timedelta(days=30)
    day = start + timedelta(days=10)
    while day <= end:
        detected = rnd.random() < 0.2
        out["biopsy_finding"].append((next_id("biopsy_finding"), *meta, pid, day, "plasma", "EGFR", "T790M",
                                      "detected" if detected else "not-detected",
                                      round(rnd.uniform(0.2, 8), 1) if detected else None))
        day += timedelta(days=182)
    return out


def _chunks(n_patients: int, seed: int, chunk: int = 200, years: int = YEARS) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    ids = {t: 0 for t in COLUMNS}
    for first in range(1, n_patients + 1, chunk):
        merged: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        for pid in range(first, min(n_patients, first + chunk - 1) + 1):
            for table, rows in patient_rows(pid, seed, ids, years).items():
                merged[table].extend(rows)
        yield merged


def build(db: str, n_patients: int, seed: int = 1, years: int = YEARS) -> dict[str, int]:
    """Create and migrate a store at ``db`` (path or URL), then fill it.  Returns row counts."""
    from lungtrack.store.db import open_store
    from lungtrack.store.paths import resolve

    location = resolve(db)
    store = open_store(location, create=True)
    counts = {t: 0 for t in COLUMNS}
    if location.path is not None:
        store.close()
        import sqlite3

        con = sqlite3.connect(str(location.path), isolation_level=None)
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        for chunk in _chunks(n_patients, seed, years=years):
            for table, rows in chunk.items():
                cols = COLUMNS[table]
                con.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                [tuple(v.isoformat() if isinstance(v, date) else v for v in r) for r in rows])
                counts[table] += len(rows)
        con.execute("COMMIT")
        con.execute("ANALYZE")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        return counts
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        for chunk in _chunks(n_patients, seed, years=years):
            for table, rows in chunk.items():
                cols = COLUMNS[table]
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in rows:
                        copy.write_row(r)
                counts[table] += len(rows)
        for table in COLUMNS:
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    # VACUUM (not only ANALYZE) after a bulk load: it sets the rows' hint bits and the visibility
    # map, which the first reads would otherwise do (writing every page they touch), so a
    # measurement right after the build would time PostgreSQL's clean-up, not the query
    from sqlalchemy import text

    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    store.close()
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, required=True)
    ap.add_argument("--db", required=True, help="a new SQLite file path or a PostgreSQL URL (empty database)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--years", type=int, default=YEARS, help=f"years of history per patient (default {YEARS}; at least 2)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    counts = build(args.db, args.patients, args.seed, args.years)
    took = time.perf_counter() - t0
    total = sum(counts.values())
    print(f"{args.patients} patients, {total} rows in {took:.1f} s ({total / took:,.0f} rows/s): {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
