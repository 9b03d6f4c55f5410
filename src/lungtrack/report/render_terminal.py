"""``lungtrack summary``: the report's first page in the terminal.

Plain lines wrapped to the terminal's width by :mod:`lungtrack.report.layout` (a number stays
with its unit, continuation lines are indented under their text), so that the same screen fits
80 columns with or without colour.  Colour only on a TTY and never with NO_COLOR (the caller
decides); severity is always a word and a symbol.  The content is the same as the report's
page 1 (same data, same helper functions).
"""

from __future__ import annotations

from lungtrack.report.layout import wrap
from lungtrack.report.model import Report
from lungtrack.report.render_html import glance_rows, history_findings, page_one_findings

_STYLE = {"alert": "1;31", "watch": "1;33", "info": "2", "bold": "1", "dim": "2", "head": "1;4",
          "overdue": "1;31", "due": "1;33"}


def summary_lines(report: Report, width: int = 80) -> list[tuple[str, str, int]]:
    """The summary as ``(text, style, styled_prefix_length)`` lines of at most ``width`` characters
    (``style`` names an entry of the colour table or is empty; it applies to the first
    ``styled_prefix_length`` characters, or the whole line when that is 0)."""
    out: list[tuple[str, str, int]] = []

    def add(lines: list[str], style: str = "", prefix: int = 0) -> None:
        for k, line in enumerate(lines):
            out.append((line, style if (k == 0 or not prefix) else "", prefix))

    p = report.patient
    add(wrap(f"{p['name']} — summary", width), "bold")
    add(wrap(f"Date range: {report.range_text} · as of {report.as_of}", width), "dim")
    add([""])
    rows = glance_rows(report)
    label_w = min(max((len(label) for label, _ in rows), default=0) + 2, 20)
    for label, text in rows:
        add(wrap(text, width, " " * label_w, f"{label:<{label_w}}"), "bold", len(label))
    add([""])

    main, info, due = page_one_findings(report)
    n = report.counts.get("open_findings", 0)
    add(wrap(f"Findings ({n} need{'s' if n == 1 else ''} attention)", width), "head")
    if not (main or info or due):
        add(["No current findings."])
    for f in main + info + due:
        head = f"{f['symbol']} {f['severity_word']:<5}  "
        ack = f" (✓ acknowledged {(f['acknowledged_at'] or '')[:10]})" if f["acknowledged"] else ""
        add(wrap(f["title"] + ack, width, " " * 9, head), f["severity"], len(head.rstrip()))
        add(wrap(f["evidence"], width, " " * 9), "dim" if f["severity"] == "info" else "")
    past = history_findings(report)
    if past:
        add(wrap(f"{len(past)} acknowledged or earlier-line finding{'s' if len(past) != 1 else ''} "
                 "(see lungtrack check, or the report's History section).", width), "dim")
    add([""])

    add(["What is due"], "head")
    if not report.due:
        add(["Nothing is scheduled."])
    for d in report.due:
        state = d["state"].replace("-", " ").upper()
        style = "overdue" if d["state"] == "overdue" else ("due" if d["state"] in ("due", "due-soon") else "")
        if d["state"] == "booked":
            style = "bold"
        text = d["text"] + (f" (snoozed until {d['snoozed_until']})" if d["snoozed_until"] else "")
        add(wrap(text, width, " " * 12, f"{state:<12}"), style, len(state))
    add([""])

    add(wrap("Questions to bring to the next appointment", width), "head")
    if not report.questions:
        add(["No open findings, so no questions were generated."])
    for i, q in enumerate(report.questions, 1):
        add(wrap(q["question"], width, "    ", f"{i:>2}. "))
    add([""])
    add(wrap("Print it for the appointment: lungtrack report --format pdf (or html)", width), "dim")
    return out


def render_summary(report: Report, width: int = 80, colour: bool = False) -> str:
    """The summary as text, with ANSI colour codes only when ``colour``."""
    lines = []
    for text, style, prefix in summary_lines(report, width):
        code = _STYLE.get(style) if colour and text else None
        if code is None:
            lines.append(text)
        elif prefix:
            lines.append(f"\x1b[{code}m{text[:prefix]}\x1b[0m{text[prefix:]}")
        else:
            lines.append(f"\x1b[{code}m{text}\x1b[0m")
    return "\n".join(lines)
