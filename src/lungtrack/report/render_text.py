"""The report as plain text and as Markdown: for e-mail and for pasting into a patient portal.

Same data and same wording as the HTML version (the shared helpers live in render_html); the
charts are left out, as their numbers are in the tables and in the "at a glance" lines.
"""

from __future__ import annotations

from typing import Any, Sequence

from lungtrack.report.layout import fit_table, wrap
from lungtrack.report.model import SECTION_TITLES, Report
from lungtrack.report.render_html import (
    RESPONSE_HEAD,
    biopsy_rows,
    glance_rows,
    history_findings,
    history_line,
    identifier_rows,
    lesion_table,
    line_title,
    marker_rows,
    page_one_findings,
)

WIDTH = 80


def _ack(f: dict[str, Any]) -> str:
    if not f["acknowledged"]:
        return ""
    note = f" — {f['acknowledgement_note']}" if f["acknowledgement_note"] else ""
    return f" [✓ acknowledged {(f['acknowledged_at'] or '')[:10]}{note}]"


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]], width: int = WIDTH) -> list[str]:
    """A pipe table when every row fits WIDTH; otherwise the text table in a code block (a pipe
    table row cannot wrap, and a value must never be cut)."""
    keep = [i for i in range(len(head)) if any(str(r[i]).strip() for r in rows)] or list(range(len(head)))
    head, rows = [head[i] for i in keep], [[r[i] for i in keep] for r in rows]
    out = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    if max(len(line) for line in out) <= width:
        return out + [""]
    return ["```"] + _txt_table(head, rows, width)[:-1] + ["```", ""]


def _txt_table(head: Sequence[str], rows: Sequence[Sequence[str]], width: int = WIDTH) -> list[str]:
    return fit_table(head, rows, width) + [""]




def _hard_break(lines: list[str]) -> list[str]:
    """Markdown: end the paragraph's last line with two spaces (a line break, not a new paragraph)."""
    return lines[:-1] + [lines[-1] + "  "] if lines else lines


def render_text(report: Report, *, markdown: bool = False, width: int = WIDTH) -> str:
    """The report as text or Markdown, every line at most ``width`` (80) characters."""
    md = markdown
    WIDTH = width  # noqa: N806 - the page width of this rendering

    def _wrap(text: str, indent: str = "", first: str | None = None) -> list[str]:
        """Wrap at the width, never between a number and its unit ("-37.2 %" stays on one line)."""
        return wrap(text, WIDTH, indent, first)

    lines: list[str] = []
    p = report.patient
    title = f"{p['name']} — treatment summary for the care team"
    meta = f"Date range: {report.range_text} · as of {report.as_of} · generated {report.generated_at} by lungtrack"
    def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
        return _md_table(head, rows, WIDTH) if md else _txt_table(head, rows, WIDTH)

    def heading(text: str, level: int = 2) -> None:
        if md:
            lines.extend(wrap(text, WIDTH, "", f"{'#' * level} ") + [""])
        else:
            lines.extend(_wrap(text.upper() if level == 2 else text) + [""])

    if md:
        lines += [f"# {title}", ""] + wrap(f"*{meta}*", WIDTH) + [""]
    else:
        lines += _wrap(title) + ["=" * min(len(title), WIDTH)] + _wrap(meta) + [""]
    for label, value in identifier_rows(report):
        lines += wrap(f"**{label}:** {value}", WIDTH, "  ", "- ") if md else _wrap(value, " " * 16, f"{label + ':':<16}")
    if report.identifiers:
        lines.append("")
    for key in report.sections:
        if key == "charts":
            continue
        if key == "summary":
            heading(SECTION_TITLES[key])
            for label, text in glance_rows(report):
                if md:
                    lines += wrap(f"**{label}:** {text}", WIDTH, "  ", "- ")
                else:
                    lines += _wrap(text, " " * 16, f"{label + ':':<16}")
            lines.append("")
        elif key == "findings":
            heading(SECTION_TITLES[key])
            main, info, due = page_one_findings(report)
            for f in main + info + due:
                head = f"{f['symbol']} {f['severity_word']}"
                if md:
                    lines += _hard_break(wrap(f"**{head}** {f['title']}{_ack(f)}", WIDTH - 2, "  ", "- "))
                    lines += _hard_break(wrap(f["evidence"], WIDTH - 2, "  "))
                    lines += wrap(f"*{f['discuss']}* (rule {f['rule']}; source: {f['source']}; id `{f['id']}`)",
                                  WIDTH, "  ")
                else:
                    lines += _wrap(f"{f['title']}{_ack(f)}", " " * 9, f"{head:<9}")
                    lines += _wrap(f["evidence"], " " * 9)
                    lines += _wrap(f["discuss"], " " * 9)
                    lines += _wrap(f"rule {f['rule']} · source: {f['source']} · id {f['id']}", " " * 9)
                    lines.append("")
            if not (main or info or due):
                lines.append("No current findings.")
            before = report.counts.get("findings_before_since", 0)
            if before:
                lines += _wrap(f"{before} finding{'s' if before != 1 else ''} dated before {report.since} not shown.")
            lines.append("")
            past = history_findings(report)
            if past:
                heading("History: acknowledged findings and findings of earlier lines", 3)
                for f in past:
                    text = history_line(f, report)
                    lines += wrap(text, WIDTH, "  ", "- ") if md else _wrap(text, " " * 12)
                lines.append("")
        elif key == "due":
            heading(SECTION_TITLES[key])
            rows = [[d["state"].replace("-", " ").upper(),
                     d["text"] + (f" (snoozed until {d['snoozed_until']})" if d["snoozed_until"] else "")]
                    for d in report.due]
            lines += table(["State", "What and when"], rows) if rows else ["Nothing is scheduled.", ""]
        elif key == "questions":
            heading(SECTION_TITLES[key])
            for i, q in enumerate(report.questions, 1):
                text = f"{q['question']} (about: {q['about']})"
                lines += wrap(text, WIDTH, "    " if i > 9 else "   ", f"{i}. ") if md else _wrap(text, "    ", f"{i:>2}. ")
            if not report.questions:
                lines.append("No open findings, so no questions were generated.")
            lines.append("")
        elif key == "response":
            heading(SECTION_TITLES[key])
            from lungtrack.report.render_html import response_rows

            for r in report.responses:
                heading(line_title(r), 3)
                lines += table(RESPONSE_HEAD, response_rows(r))
            if not report.responses:
                lines += ["No scans recorded for a line of therapy.", ""]
        elif key == "markers":
            heading(SECTION_TITLES[key])
            for s in report.marker_series:
                heading(f"{s['marker']} ({s['unit']})", 3)
                lines += table(["Date", "Value", "Unit", "ULN", ""], marker_rows(s))
            if not report.marker_series:
                lines += ["No marker values in this date range.", ""]
        elif key == "biopsies":
            heading(SECTION_TITLES[key])
            rows = biopsy_rows(report)
            lines += table(["Date", "Sample", "Assay", "Alteration", "Result", "VAF"], rows) if rows else \
                ["No biopsy results in this date range.", ""]
        elif key == "tables":
            heading(SECTION_TITLES[key])
            for r in report.responses:
                if r["lesions"]:
                    head, rows = lesion_table(r)
                    heading(f"{r['line']['drug']} (from {r['line']['start']}): sizes in mm", 3)
                    lines += table(head, rows)
    lines += (wrap(f"*{report.disclaimer}*", WIDTH) if md else _wrap(report.disclaimer)) + [""]
    return "\n".join(lines)
