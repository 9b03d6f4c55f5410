"""lungtrack summary / trend / report: what a caregiver takes to the appointment.

Light at import (Typer and the standard library only); the report package, Rich, matplotlib
and plotext are imported inside the commands.
"""


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
    "--since", help="Only records and findings on or after this date or within this duration, e.g. 6m, 12w, "
                    "2026-01-01 (default: all records). Baselines before it are still used and shown; what is "
                    "due is always shown.")]


def _load(ctx: typer.Context, patient: str | None, since_text: str | None, sections: tuple[str, ...] | None = None,
          identifiers: dict | None = None):
    """Evaluate the patient and build the report data (nothing is written)."""
    from datetime import datetime, timezone

    from lungtrack.report.model import SECTIONS, build_report
    from lungtrack.services import evaluate_patient
    from lungtrack.settings import load_rules_config
    from lungtrack.store import read

    today = common.today()
    since = common.parse_since_opt(since_text)
    config = load_rules_config()
    with common.reading(ctx) as conn:  # read-only, on Core tables: the ORM classes are not built
        p = read.find_patient(conn, patient)
        pe = evaluate_patient(conn, p, today, config)
    if identifiers is not None:
        identifiers = {"record_name": pe.history.patient.name,
                       "diagnosis_date": pe.history.patient.diagnosis_date.isoformat()
                       if pe.history.patient.diagnosis_date else None} | identifiers
    return build_report(pe, today=today, generated_at=datetime.now(timezone.utc), since=since,
                        sections=sections or SECTIONS, identifiers=identifiers)


def _chart_helper(wanted: bool):
    """A helper process that draws the charts (see lungtrack.report.chart_process), or a stand-in
    that draws nothing when the report has no charts."""
    if wanted:
        from lungtrack.report.chart_process import ChartProcess

        return ChartProcess.start()
    from contextlib import nullcontext

    return nullcontext(None)


def _prepare_event_log() -> None:
    """Import the write path that records the report in the store's event log (common.log_event):
    done while the helper process draws the charts, instead of after them."""
    import lungtrack.records.writer  # noqa: F401


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

        print(render_summary(report, width=common.term_width() if common.stdout_is_tty() else 80,
                             colour=common.use_colour()))

    @app.command("trend")
    def trend(
        ctx: typer.Context,
        what: Annotated[str, typer.Argument(metavar="WHAT", help="tumor, lesion, or a marker: cea, cyfra, nse, progrp, ca125.")],
        label: Annotated[Optional[str], typer.Argument(metavar="LABEL", help="With 'lesion': the lesion's label, e.g. 'liver S6'.")] = None,
        line: Annotated[Optional[int], typer.Option("--line", metavar="ID", help="Only this line of therapy "
                                                    "(see: lungtrack therapy list); default: every line.")] = None,
        since: SinceOpt = None,
        patient: PatientOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Draw one series in the terminal: the tumour's sum of diameters over every line (each with
        its baseline, nadir and PD threshold), one lesion's size, or a marker with its upper limit
        of normal and doubling time.

        Examples: lungtrack trend tumor --line 2; lungtrack trend lesion "liver S6"; lungtrack trend cea.
        The legend is printed under the chart. Not on a terminal (a pipe or a file), a plain table is
        printed instead."""
        from lungtrack.report.trend import is_empty, parse_what, render_chart, render_plain, summary_lines, trend_data

        kind = parse_what(what)
        if label is not None and kind != "lesion":
            raise InputError("LABEL", label, "nothing after WHAT, except after 'lesion'")
        report = _load(ctx, patient, since)
        data = trend_data(report, kind, line_id=line, label=label)
        if json_out:
            common.print_json(data)
            return
        if is_empty(data):
            label_text = {"tumor": "scans for a line of therapy", "lesion": f"measurements of {label}"}.get(kind, f"{kind} values")
            common.err(f"{report.patient['name']}: no {label_text} recorded"
                       + (f" since {report.since}." if report.since else "."))
            return
        if common.stdout_is_tty():
            import shutil

            cols, rows = shutil.get_terminal_size((100, 30))
            print(render_chart(data, width=max(40, min(cols, 120)), height=max(14, min(rows - 8, 26)),
                               color=common.use_colour()))
            for text in summary_lines(data):
                common.out(text)
        else:
            for text in render_plain(data):
                common.out(text)

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
        identify: Annotated[bool, typer.Option("--identify", help="Print the patient's identifiers under the title "
                                               "(the name in lungtrack, the diagnosis date, and --full-name / --born), "
                                               "for the clinic's records.")] = False,
        full_name: Annotated[Optional[str], typer.Option("--full-name", metavar="NAME", help="Full name for --identify "
                                                         "(printed, never stored).")] = None,
        born: Annotated[Optional[str], typer.Option("--born", metavar="DATE", help="Date of birth for --identify "
                                                    "(printed, never stored; lungtrack keeps no date of birth).")] = None,
        patient: PatientOpt = None,
        json_out: common.ResultJsonOpt = False,
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
            common.parse_since_opt(since)
        if json_out and (output == "-" or (output is None and fmt_l in ("md", "txt"))):
            raise InputError("--json", "", "-o FILE as well (without it the report itself goes to standard output)")

        identifiers = None
        if identify or full_name or born:
            if not identify:
                raise InputError("--full-name" if full_name else "--born", full_name or born or "",
                                 "to be used with --identify")
            born_date = common.parse_date_opt(born, "--born") if born else None
            identifiers = {"full_name": full_name.strip() if full_name else None,
                           "born": born_date.isoformat() if born_date else None}

        engine_note = ""
        charts: list = []
        pages: int | None = None
        # the charts' helper process imports matplotlib while the records are read (report/chart_process.py)
        drawing = fmt_l in ("html", "pdf") and "charts" in chosen
        with _chart_helper(drawing) as helper, common.Progress("Reading the records and running the rules") as progress:
            report = _load(ctx, patient, since, chosen, identifiers)
            if fmt_l in ("html", "pdf"):
                from lungtrack.report.render_html import render_html

                progress.step("Drawing the charts")
                charts = helper.charts(report, _prepare_event_log) if drawing and report.has("charts") else []
                html = render_html(report, paper=paper_l if fmt_l == "pdf" else "auto", charts=charts)
                if fmt_l == "pdf":
                    from lungtrack.report.pdf import engine_label, page_count, render_pdf

                    progress.step("Printing the PDF")
                    data, engine_used = render_pdf(html)
                    pages = page_count(data)
                    engine_note = f"PDF made with {engine_label(engine_used)}."
                else:
                    data = html.encode("utf-8")
        if engine_note:
            common.err(engine_note)  # which engine made the PDF (docs/security.md)
        if fmt_l not in ("html", "pdf"):
            from lungtrack.report.render_text import render_text

            width = 80  # a document: 80 columns, narrower only to fit the terminal it is shown on
            if output in (None, "-") and common.stdout_is_tty():
                width = min(80, common.term_width())
            data = render_text(report, markdown=fmt_l == "md", width=width).encode("utf-8")

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
        path = common.write_private_file(output, data, "-o")
        common.log_event(ctx, "report", detail, who)
        common.report_result(ctx, {"file": str(path.absolute()), "format": fmt_l, "pages": pages, "bytes": len(data),
                                   "sections": list(report.sections), "charts": len(charts),
                                   "findings": len(report.findings), "questions": len(report.questions),
                                   "since": report.since}, _wrote_message(output, pages, report, len(charts)))
