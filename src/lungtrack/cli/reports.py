"""lungtrack summary / trend / report: what a caregiver takes to the appointment.

Light at import (Typer and the standard library only); the report package, Rich, matplotlib
and plotext are imported inside the commands.
"""


import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lungtrack.cli import common
from lungtrack.cli.common import JsonOpt, PatientOpt
from lungtrack.errors import InputError

FORMATS = ("html", "pdf", "md", "txt")
PAPERS = ("a4", "letter")
SUMMARY_KEYS = ("patient", "as_of", "range_text", "therapy", "latest_response", "markers", "latest_biopsy",
                "findings", "due", "questions", "counts", "disclaimer")

SinceOpt = Annotated[Optional[str], typer.Option(
    "--since", help="Only records on or after this date or within this duration, e.g. 6m, 12w, 2026-01-01 "
                    "(default: all records). Baselines before it are still used and shown.")]


def _load(ctx: typer.Context, patient: str | None, since_text: str | None, sections: tuple[str, ...] | None = None):
    """Evaluate the patient and build the report data (nothing is written)."""
    from datetime import datetime, timezone

    from lungtrack.parsing.dates import parse_since
    from lungtrack.report.model import SECTIONS, build_report
    from lungtrack.services import evaluate_patient
    from lungtrack.settings import load_rules_config
    from lungtrack.store import repo

    today = common.today()
    since = parse_since(since_text, today=today, field="--since") if since_text is not None else None
    config = load_rules_config()
    with common.transaction(ctx, write=False) as (_s, session):
        p = repo.find_patient(session, patient)
        pe = evaluate_patient(session, p, today, config)
    return build_report(pe, today=today, generated_at=datetime.now(timezone.utc), since=since,
                        sections=sections or SECTIONS)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "patient"


def _wrote_message(name: str, pages: int | None, report: Any, n_charts: int) -> str:
    parts = []
    if report.has("response") and report.responses:
        parts.append("response table")
    if report.has("charts"):
        parts.append(f"{n_charts} chart{'s' if n_charts != 1 else ''}")
    if report.has("findings"):
        n = len(report.findings)
        parts.append(f"{n} finding{'s' if n != 1 else ''}")
    if report.has("questions"):
        q = len(report.questions)
        parts.append(f"{q} question{'s' if q != 1 else ''} for the visit")
    where = f"{name} ({pages} page{'s' if pages != 1 else ''})" if pages is not None else name
    return f"Wrote {where}" + (": " + ", ".join(parts) if parts else "") + "."


def register(app: typer.Typer) -> None:
    @app.command("summary")
    def summary(ctx: typer.Context, patient: PatientOpt = None, json_out: JsonOpt = False) -> None:
        """A one-screen summary: therapy and time on it, latest RECIST response, markers, biopsy,
        open findings, what is due, and questions for the next appointment."""
        report = _load(ctx, patient, None)
        if json_out:
            data = report.to_dict()
            common.print_json({k: data[k] for k in SUMMARY_KEYS})
            return
        from lungtrack.report.render_terminal import render_summary

        render_summary(report, common.console())

    @app.command("trend")
    def trend(
        ctx: typer.Context,
        what: Annotated[str, typer.Argument(metavar="WHAT", help="tumor, or a marker: cea, cyfra, nse, progrp, ca125.")],
        since: SinceOpt = None,
        patient: PatientOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Draw one series in the terminal: a marker with its upper limit of normal and doubling
        time, or the tumour's sum of diameters with its baseline, nadir and PD threshold.
        Not on a terminal (a pipe or a file), a plain table is printed instead."""
        from lungtrack.report.trend import is_empty, parse_what, render_chart, render_plain, summary_lines, trend_data

        kind = parse_what(what)
        report = _load(ctx, patient, since)
        data = trend_data(report, kind)
        if json_out:
            common.print_json(data)
            return
        if is_empty(data):
            label = "scans for a line of therapy" if kind == "tumor" else f"{kind} values"
            common.err(f"{report.patient['name']}: no {label} recorded"
                       + (f" since {report.since}." if report.since else "."))
            return
        if common.stdout_is_tty():
            import shutil

            cols, rows = shutil.get_terminal_size((100, 30))
            color = not os.environ.get("NO_COLOR")
            common.out(render_chart(data, width=max(50, min(cols, 120)), height=max(14, min(rows - 6, 26)), color=color))
            for line in summary_lines(data):
                common.out(line)
        else:
            for line in render_plain(data):
                common.out(line)

    @app.command("report")
    def report_cmd(
        ctx: typer.Context,
        fmt: Annotated[str, typer.Option("--format", "-f", help="html, pdf, md or txt.")] = "html",
        since: SinceOpt = None,
        sections: Annotated[Optional[str], typer.Option(
            "--sections", help="Comma-separated: summary, findings, due, questions, charts, response, markers, "
                               "biopsies, tables (default: all).")] = None,
        output: Annotated[Optional[str], typer.Option(
            "--output", "-o", help="The file to write, or - for stdout. Default: stdout for md and txt, "
                                   "NAME-DATE.html / .pdf in the current directory.")] = None,
        paper: Annotated[str, typer.Option("--paper", help="PDF paper size: a4 or letter. The HTML version "
                                                           "prints on whatever paper the browser uses.")] = "a4",
        patient: PatientOpt = None,
    ) -> None:
        """The printable report for the appointment: page 1 at a glance (therapy, latest response,
        findings with evidence, what is due, questions), then charts, then the full tables.

        HTML is self-contained (no network request of any kind); PDF comes from it through WeasyPrint
        or headless Chromium. Files are written private (mode 0600).
        """
        from lungtrack.report.model import parse_sections

        fmt_l = fmt.strip().lower()
        if fmt_l not in FORMATS:
            raise InputError("--format", fmt, "one of " + ", ".join(FORMATS))
        paper_l = paper.strip().lower()
        if paper_l not in PAPERS:
            raise InputError("--paper", paper, "a4 or letter")
        chosen = parse_sections(sections)
        if fmt_l == "pdf":
            from lungtrack.report.pdf import engine_name

            engine_name()  # fails now, before any work, when no engine exists
        if output is not None and output != "-" and Path(output).is_dir():
            raise InputError("-o", output, "a file name, not a directory")
        if since is not None:  # validate before opening the store
            from lungtrack.parsing.dates import parse_since

            parse_since(since, today=common.today(), field="--since")

        report = _load(ctx, patient, since, chosen)
        charts: list = []
        pages: int | None = None
        if fmt_l in ("html", "pdf"):
            from lungtrack.report.charts import build_charts
            from lungtrack.report.render_html import render_html

            charts = build_charts(report) if report.has("charts") else []
            html = render_html(report, paper=paper_l if fmt_l == "pdf" else "auto", charts=charts)
            if fmt_l == "pdf":
                from lungtrack.report.pdf import engine_label, page_count, render_pdf

                data, engine_used = render_pdf(html)
                pages = page_count(data)
                common.err(f"PDF made with {engine_label(engine_used)}.")
            else:
                data = html.encode("utf-8")
        else:
            from lungtrack.report.render_text import render_text

            data = render_text(report, markdown=fmt_l == "md").encode("utf-8")

        if output is None:
            output = "-" if fmt_l in ("md", "txt") else f"{_slug(report.patient['name'])}-{report.as_of}.{fmt_l}"
        who = [(report.patient["id"], report.patient["name"])]
        detail = f"{fmt_l} report ({', '.join(report.sections)}) to {common.destination(output)}"
        if output == "-":
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            common.log_event(ctx, "report", detail, who)
            return
        common.write_private_file(output, data, "-o")
        common.log_event(ctx, "report", detail, who)
        common.err(_wrote_message(output, pages, report, len(charts)))
