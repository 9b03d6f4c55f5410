"""lungtrack benchmarks: speed and memory against the targets of issue 11 (docs/performance.md).

    python3 benchmarks/run.py                              # 1 and 1,000 patients, 5 runs each
    python3 benchmarks/run.py --patients 1,1000,10000      # larger cohorts
    python3 benchmarks/run.py --pg postgresql+psycopg://user:pw@host/postgres   # PostgreSQL too

Not part of the test suite.  Every figure is the median, minimum and maximum of at least
``--runs`` runs (default 5), each in a fresh process, and is compared with its *baseline
measured in the same run* (the machine is shared and noisy: ratios travel, milliseconds do not):

==========================================  ==============================================  ======
figure                                      baseline                                        budget
==========================================  ==============================================  ======
``--help``, ``--version``, ``check --help``  ``python -c "import typer"``                    1.5x
and shell completion
``check``/``response``/``remind`` of one     ``python -c "import sqlmodel"``                 1.3x
patient, ``marker add``/``note add``
one patient's ``check`` in an N-patient      the same patient alone in a 1-patient store     1.2x
store (time and peak RSS)
``check --all-patients`` on N patients       ``sqlite3`` (or ``psql``) reading the same rows 5x
peak RSS of ``check --all-patients``         the same at the smallest cohort >= 1,000        1.2x
HTML report of a 10-year patient             -                                               2 s
summary, summary --json, report txt / pdf    -  (shown, to see no format gets slower)        -
``evaluate()`` of a 10-year history          -                                               0.5 s
``read_report()`` on a 4 kB CT report        -                                               0.25 s
==========================================  ==============================================  ======

The cohorts come from ``benchmarks/cohort.py`` (seeded; 10 years per patient, or ``--years``) and are cached
in ``--workdir`` between runs.  ``--json FILE`` keeps the raw figures; ``--chart FILE`` draws
the growth curves (time and memory against patients) with matplotlib.  Exit status 1 when a
budget is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cohort

BUDGETS = {"startup": 1.5, "everyday": 1.3, "single_in_large": 1.2, "all_patients": 5.0, "memory_growth": 1.2,
           "report_s": 2.0, "evaluate_s": 0.5, "read_report_s": 0.25, "import_rows_per_s": 20_000}
TABLES = tuple(cohort.COLUMNS)
TIME = os.path.exists("/usr/bin/time")


# ------------------------------------------------------------------ measuring


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, int, float]:
    """(wall seconds, peak RSS in MB, exit code, CPU seconds user+system) of one run.

    The peak RSS comes from GNU ``/usr/bin/time -f %M`` (a small parent: a child forked from this
    Python process would inherit its high-water mark); it is the largest of the process and the
    worker processes it waited for.  The wall time is taken around the whole run."""
    fd, rss_file = tempfile.mkstemp(prefix="lt-rss-")
    os.close(fd)
    try:
        wrapped = ["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file] + cmd if TIME else cmd
        t0 = time.perf_counter()
        proc = subprocess.run(wrapped, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        wall = time.perf_counter() - t0
        text = Path(rss_file).read_text().strip().splitlines() if TIME else []
        fields = text[-1].split() if text else []
        rss_kb = int(fields[0]) if fields and fields[0].isdigit() else 0
        cpu = float(fields[1]) + float(fields[2]) if len(fields) == 3 else 0.0
    finally:
        os.unlink(rss_file)
    return wall, rss_kb // 1024, proc.returncode, cpu


def series(cmd, env: dict[str, str], runs: int, ok=(0, 3)) -> dict:
    """``cmd`` is an argv, or a function of the run number giving one (a write that adds a new record each run)."""
    walls, rss, cpus = [], [], []
    for i in range(runs):
        argv = cmd(i) if callable(cmd) else cmd
        wall, peak, code, cpu = measure(argv, env)
        if code not in ok:
            raise SystemExit(f"benchmark command failed ({code}): {' '.join(argv)}")
        walls.append(wall)
        rss.append(peak)
        cpus.append(cpu)
    return {"median": statistics.median(walls), "min": min(walls), "max": max(walls),
            "rss_median_mb": statistics.median(rss), "rss_max_mb": max(rss), "runs": runs,
            "cpu_median": statistics.median(cpus)}


def series_round_robin(cmds: list[tuple[object, dict[str, str], tuple[int, ...]]], runs: int) -> list[dict]:
    """One series per ``(cmd, env, ok codes)``, measured round-robin (run 1 of each command, then
    run 2 of each ...): a change of the machine's speed during the group falls on the baseline
    and on every command alike, so their ratios hold (run one after the other, a slow minute
    could fall on the baseline alone)."""
    out: list[list[tuple[float, int, float]]] = [[] for _ in cmds]
    for i in range(runs):
        for k, (cmd, env, ok) in enumerate(cmds):
            argv = cmd(i) if callable(cmd) else cmd
            wall, peak, code, cpu = measure(argv, env)
            if code not in ok:
                raise SystemExit(f"benchmark command failed ({code}): {' '.join(argv)}")
            out[k].append((wall, peak, cpu))
    return [{"median": statistics.median(w for w, _p, _c in r), "min": min(w for w, _p, _c in r),
             "max": max(w for w, _p, _c in r), "rss_median_mb": statistics.median(p for _w, p, _c in r),
             "rss_max_mb": max(p for _w, p, _c in r), "runs": runs,
             "cpu_median": statistics.median(c for _w, _p, c in r)} for r in out]


def series_alternated(cmd: list[str], envs: list[dict[str, str]], runs: int, ok=(0, 3)) -> list[dict]:
    """One series per environment, their runs alternated (A B A B ...): a change in the machine's
    load then falls on both alike."""
    return series_round_robin([(cmd, env, ok) for env in envs], runs)


def default_jobs() -> int:
    from lungtrack.services import jobs_wanted

    env = os.environ.pop("LUNGTRACK_JOBS", None)
    try:
        return jobs_wanted()
    finally:
        if env is not None:
            os.environ["LUNGTRACK_JOBS"] = env


def fmt(s: dict) -> str:
    cpu = f", CPU {s['cpu_median'] * 1000:.0f}" if s.get("cpu_median") else ""
    return f"{s['median'] * 1000:8.0f} ms (min {s['min'] * 1000:.0f}, max {s['max'] * 1000:.0f}{cpu})"


class Report:
    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.failed = 0

    def add(self, name: str, figure: dict, baseline: dict | None, budget: float | None, *, unit: str = "x",
            value: float | None = None) -> None:
        ratio = value if value is not None else (figure["median"] / baseline["median"] if baseline else None)
        ok = budget is None or ratio is None or ratio <= budget
        self.failed += not ok
        row = {"name": name, "figure": figure, "baseline": baseline, "ratio": ratio, "budget": budget, "ok": ok,
               "unit": unit}
        self.rows.append(row)
        base = f" | baseline {fmt(baseline)}" if baseline else ""
        if baseline and baseline.get("cpu_median"):
            row["cpu_ratio"] = figure.get("cpu_median", 0) / baseline["cpu_median"]
            base += f" | CPU ratio {row['cpu_ratio']:.2f}x"
        verdict = "" if budget is None else (f" <= {budget:g}{unit} ok" if ok else f" > {budget:g}{unit} MISSED")
        ratio_txt = "" if ratio is None else f" -> {ratio:.2f}{unit}"
        print(f"{name:<52} {fmt(figure)}  rss {figure['rss_median_mb']:.0f} MB{base}{ratio_txt}{verdict}", flush=True)


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ------------------------------------------------------------------ the cohort stores


def store_for(workdir: Path, n: int, pg: str | None = None, years: int = cohort.YEARS) -> str:
    """A cached SQLite cohort of n patients with ``years`` of history each (or, with ``pg``, a
    fresh PostgreSQL database)."""
    if pg:
        from sqlalchemy import create_engine, text

        name = f"lt_bench_{n}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = pg.rsplit("/", 1)[0] + "/" + name
        t0 = time.perf_counter()
        cohort.build(url, n, years=years)
        print(f"(built PostgreSQL cohort of {n} patients in {time.perf_counter() - t0:.0f} s)", flush=True)
        return url
    stem = f"cohort-{n}" if years == cohort.YEARS else f"cohort-{n}-{years}y"
    path = workdir / f"{stem}.db"
    if not path.exists():
        t0 = time.perf_counter()
        tmp = workdir / f"building-{stem}.db"
        for leftover in workdir.glob(f"building-{stem}.db*"):
            leftover.unlink()
        counts = cohort.build(str(tmp), n, years=years)
        tmp.rename(path)
        print(f"(built cohort of {n} patients, {sum(counts.values()):,} rows, in {time.perf_counter() - t0:.0f} s)",
              flush=True)
    return str(path)


def scan_baseline(db: str, runs: int) -> dict:
    """The floor: the database's own client reading every row the check reads."""
    queries = ";".join(f"SELECT * FROM {t}" for t in TABLES)
    if db.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        u = make_url(db)
        env = dict(os.environ, PGPASSWORD=u.password or "")
        cmd = ["psql", "-q", "-h", u.host or "localhost", "-U", u.username or "", "-d", u.database or "", "-c",
               queries]
        return series(cmd, env, runs, ok=(0,))
    return series(["sqlite3", db, queries], dict(os.environ), runs, ok=(0,))


# ------------------------------------------------------------------ the benchmarks


def main() -> int:
    ap = argparse.ArgumentParser(description="lungtrack benchmarks (see the module docstring)")
    ap.add_argument("--patients", default="1,1000", help="cohort sizes, comma-separated (default: 1,1000)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (at least 5 for published figures)")
    ap.add_argument("--years", type=int, default=cohort.YEARS,
                    help=f"years of history per patient in the cohorts (default {cohort.YEARS})")
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "lungtrack-bench"),
                    help="where the cohort stores are cached")
    ap.add_argument("--pg", help="PostgreSQL admin URL (postgresql+psycopg://user:pw@host/postgres): also run there")
    ap.add_argument("--pg-only", action="store_true", help="with --pg: skip the SQLite figures of the scale group")
    ap.add_argument("--all-patients-max", type=int, default=10_000,
                    help="largest cohort on which check --all-patients is timed (default 10000)")
    ap.add_argument("--all-patients-runs", type=int, help="runs of check --all-patients (default: --runs)")
    ap.add_argument("--compare-jobs", action="store_true",
                    help="also time check --all-patients with 1 and with 2 workers, runs alternated")
    ap.add_argument("--skip", default="", help="comma-separated groups to skip: startup,everyday,scale,report,imports")
    ap.add_argument("--json", dest="json_out", help="write the raw figures to this file")
    ap.add_argument("--chart", help="draw the growth curves to this file (.svg or .png)")
    args = ap.parse_args()
    sizes = sorted({int(x) for x in args.patients.split(",") if x.strip()} | {1})
    skip = set(args.skip.split(","))
    runs = max(1, args.runs)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The baselines import installed packages, whose bytecode pip compiled at install time; compile
    # lungtrack's too, or every run (PYTHONDONTWRITEBYTECODE=1, or a read-only tree) would compile it from source.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=False,
                   stdout=subprocess.DEVNULL)
    py = sys.executable
    exe = [py, "-m", "lungtrack"]
    base_env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), LUNGTRACK_TODAY=cohort.TODAY.isoformat())
    base_env.pop("LUNGTRACK_PATIENT", None)
    base_env.pop("LUNGTRACK_JOBS", None)  # the default unless --compare-jobs sets it
    rep = Report()
    print(f"lungtrack benchmarks: {runs} runs per figure; cohorts {sizes}; {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    one = store_for(workdir, 1, years=args.years)
    env1 = dict(base_env, LUNGTRACK_DB=one)

    if "startup" not in skip:
        startup = (("--help", ["--help"], {}), ("--version", ["--version"], {}),
                   ("check --help", ["check", "--help"], {}),
                   ("scan add --help", ["scan", "add", "--help"], {}),
                   ("completion (check --patient P)", [], {
                       "_LUNGTRACK_COMPLETE": "complete_bash",
                       "COMP_WORDS": "lungtrack check --patient P", "COMP_CWORD": "3"}))
        typer_base, *figures = series_round_robin(
            [([py, "-c", "import typer"], base_env, (0,))]
            + [(exe + argv, dict(env1, **extra), (0, 3)) for _label, argv, extra in startup], runs)
        rep.add("baseline: python -c 'import typer'", typer_base, None, None)
        for (label, _argv, _extra), figure in zip(startup, figures):
            rep.add(label, figure, typer_base, BUDGETS["startup"])

    if "everyday" not in skip:
        work = workdir / "everyday.db"
        shutil.copy(one, work)
        envw = dict(base_env, LUNGTRACK_DB=str(work))
        # each write adds a new record (a new value, text or date per run): an entry already
        # logged would only be looked up ("already logged; nothing was added")
        everyday = (("check (one patient)", ["check"]), ("response (one patient)", ["response"]),
                    ("remind --patient (one patient)", ["remind", "--patient", "Patient 000001"]),
                    ("marker add (write)", lambda i: ["marker", "add", "cea", f"4.{i + 1}", "--date",
                                                      f"2026-03-{i % 14 + 1:02d}", "--force"]),
                    ("note add (write)", lambda i: ["note", "add", f"benchmark note {i}", "--date", "2026-03-14"]),
                    ("scan add (write)", lambda i: ["scan", "add", "--date", f"2026-03-{i % 14 + 1:02d}",
                                                    "--lesion", f"L1 {16 + i % 5}", "--lesion", "L2 12",
                                                    "--lesion", "L3 40", "--lesion", "L4 24", "--force"]))
        sqlmodel_base, *figures = series_round_robin(
            [([py, "-c", "import sqlmodel"], base_env, (0,))]
            + [((lambda i, a=argv: exe + a(i)) if callable(argv) else exe + argv, envw, (0, 3))
               for _label, argv in everyday], runs)
        rep.add("baseline: python -c 'import sqlmodel'", sqlmodel_base, None, None)
        for (label, _argv), figure in zip(everyday, figures):
            rep.add(label, figure, sqlmodel_base, BUDGETS["everyday"])

    if "report" not in skip:
        out = workdir / "report.html"
        s = series(exe + ["report", "--format", "html", "--output", str(out)], env1, runs)
        rep.add("HTML report, 10-year patient (seconds)", s, None, BUDGETS["report_s"], unit=" s", value=s["median"])
        # the other formats of the same report, without a budget: to see that none gets slower
        others = [("summary (terminal)", ["summary"]), ("summary --json", ["summary", "--json"]),
                  ("report --format txt", ["report", "--format", "txt"])]
        from lungtrack.report.pdf import find_chromium

        if find_chromium() or _has_module("weasyprint"):
            others.append(("report --format pdf", ["report", "--format", "pdf", "--output", str(workdir / "r.pdf")]))
        for label, argv in others:
            s = series(exe + argv, env1, runs)
            rep.add(f"{label}, 10-year patient (seconds)", s, None, None, unit=" s", value=s["median"])
        from datetime import date

        from lungtrack.core.engine import evaluate
        from lungtrack.store import repo
        from lungtrack.store.db import open_store
        from lungtrack.store.paths import resolve

        store = open_store(resolve(one))
        with store.transaction(write=False) as session:
            history = repo.load_history(session, repo.find_patient(session, None))
        store.close()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            evaluate(history, date.fromisoformat(cohort.TODAY.isoformat()))
            times.append(time.perf_counter() - t0)
        s = {"median": statistics.median(times), "min": min(times), "max": max(times), "rss_median_mb": 0,
             "rss_max_mb": 0, "runs": runs, "cpu_median": 0}
        rep.add("evaluate() of a 10-year history (seconds)", s, None, BUDGETS["evaluate_s"], unit=" s",
                value=s["median"])

        from lungtrack.parsing.report_text import read_report

        report = ("FINDINGS:\nLungs: A 3.2 x 2.1 cm spiculated mass in the right upper lobe (series 3, image 45), "
                  "previously 2.8 x 1.9 cm. An 8 mm nodule in the left lower lobe. The aorta measures 3.4 cm.\n"
                  "Lymph nodes: Right paratracheal (4R) node 16 mm in short axis. Subcarinal node 18 x 12 mm.\n") * 15
        read_report(report[:300])  # compile the patterns once
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            read_report(report)
            times.append(time.perf_counter() - t0)
        s = {"median": statistics.median(times), "min": min(times), "max": max(times), "rss_median_mb": 0,
             "rss_max_mb": 0, "runs": runs, "cpu_median": 0}
        rep.add(f"read_report() on a {len(report) // 1000} kB CT report (seconds)", s, None,
                BUDGETS["read_report_s"], unit=" s", value=s["median"])

    if "imports" not in skip:
        # Imports (issues 9 and 11): >= 20,000 rows/s into SQLite through the domain layer, beside a
        # sqlite3 executemany of the same rows (benchmarks/csv_import.py, benchmarks/import_rate.py).
        from csv_import import measure as measure_csv

        r = measure_csv(20_000, runs)
        med, lo, hi = r["lungtrack"]
        bmed, blo, bhi = r["baseline"]
        ok = med >= BUDGETS["import_rows_per_s"]
        rep.failed += not ok
        print(f"{'import csv, 20,000 marker rows (rows/s)':<52} {med:8,.0f} (min {lo:,.0f}, max {hi:,.0f}) | "
              f"CPU {r['lungtrack_cpu'][0]:,.0f} | baseline sqlite3 executemany {bmed:,.0f} (min {blo:,.0f}, "
              f"max {bhi:,.0f}) -> {bmed / med:.1f}x slower than the floor; "
              f"{'>=' if ok else '<'} {BUDGETS['import_rows_per_s']:,} rows/s {'ok' if ok else 'MISSED'}", flush=True)

    curves: dict[str, list] = {"patients": [], "check_all_s": [], "check_all_rss_mb": [], "scan_s": [],
                               "single_s": [], "single_rss_mb": []}
    if "scale" not in skip:
        backends = ([] if args.pg and args.pg_only else [("SQLite", None)]) + ([("PostgreSQL", args.pg)] if args.pg else [])
        for backend, pg in backends:
            alone_env = None
            first_rss = None
            single_cmd = exe + ["check", "--patient", "Patient 000001"]
            for n in sizes:
                db = store_for(workdir, n, pg, years=args.years)
                env = dict(base_env, LUNGTRACK_DB=db)
                if alone_env is None:
                    alone_env = env
                    single = series(single_cmd, env, runs)
                    rep.add(f"[{backend}] check of one patient, store of 1", single, None, None)
                else:
                    # alternated run for run with the same patient alone in a store of one, which
                    # is this figure's baseline: a change of the machine's speed between the two
                    # (minutes apart when measured one after the other) falls on both alike
                    single_alone, single = series_alternated(single_cmd, [alone_env, env], runs)
                    rep.add(f"[{backend}] check of one patient, store of {n:,} (alternated with the store of 1)",
                            single, single_alone, BUDGETS["single_in_large"])
                    rep.add(f"[{backend}]   its peak RSS vs store of 1 (ratio)", single, None,
                            BUDGETS["single_in_large"], value=single["rss_median_mb"] / single_alone["rss_median_mb"])
                if n < 1000 and n != max(sizes) or n > args.all_patients_max:
                    continue
                scan = scan_baseline(db, max(runs, 5))
                rep.add(f"[{backend}] baseline: client reads every row, {n:,}", scan, None, None)
                all_runs = args.all_patients_runs or runs
                check_all = exe + ["check", "--all-patients", "--json"]
                if args.compare_jobs:
                    # 1 and 2 workers, runs alternated so that both see the same machine load
                    by_jobs = series_alternated(check_all, [dict(env, LUNGTRACK_JOBS="1"),
                                                            dict(env, LUNGTRACK_JOBS="2")], all_runs)
                    for jobs, s in zip((1, 2), by_jobs):
                        rep.add(f"[{backend}] check --all-patients --json, {n:,}, LUNGTRACK_JOBS={jobs}", s, scan,
                                None)
                    rep.add(f"[{backend}]   2 workers vs 1 (ratio)", by_jobs[1], by_jobs[0], None)
                jobs = default_jobs()
                # the default's figure: the matching series above when there is one
                allp = by_jobs[jobs - 1] if args.compare_jobs and jobs <= 2 else series(check_all, env, all_runs)
                rep.add(f"[{backend}] check --all-patients --json, {n:,} (default: {jobs} worker(s))", allp, scan,
                        BUDGETS["all_patients"])
                if first_rss is None:
                    first_rss = allp["rss_median_mb"]
                else:
                    rep.add(f"[{backend}]   peak RSS vs the smallest cohort (ratio)", allp, None,
                            BUDGETS["memory_growth"], value=allp["rss_median_mb"] / first_rss)
                if backend == "SQLite":
                    curves["patients"].append(n)
                    curves["check_all_s"].append(allp["median"])
                    curves["check_all_rss_mb"].append(allp["rss_median_mb"])
                    curves["scan_s"].append(scan["median"])
                    curves["single_s"].append(single["median"])
                    curves["single_rss_mb"].append(single["rss_median_mb"])
                if pg and n == max(sizes):
                    from sqlalchemy import create_engine, text

                    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "lt_bench_{n}" WITH (FORCE)'))
                    admin.dispose()

    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rep.rows, "curves": curves,
                                                   "cpus": os.cpu_count()}, indent=1) + "\n")
    if args.chart and curves["patients"]:
        chart(curves, args.chart)
    print(f"\n{len(rep.rows)} figures; {rep.failed} budget(s) missed.")
    return 1 if rep.failed else 0


def chart(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    n = curves["patients"]
    a.plot(n, curves["check_all_s"], "o-", label="check --all-patients")
    a.plot(n, curves["scan_s"], "s--", label="sqlite3 reads the same rows")
    a.plot(n, curves["single_s"], "^-", label="check of one patient")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("patients in the store")
    a.set_ylabel("wall time, s (median)")
    a.legend(fontsize=8)
    a.set_title("Time")
    b.plot(n, curves["check_all_rss_mb"], "o-", label="check --all-patients")
    b.plot(n, curves["single_rss_mb"], "^-", label="check of one patient")
    b.set_xscale("log")
    b.set_ylim(bottom=0)
    b.set_xlabel("patients in the store")
    b.set_ylabel("peak RSS, MB (median)")
    b.legend(fontsize=8)
    b.set_title("Memory")
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    sys.exit(main())
