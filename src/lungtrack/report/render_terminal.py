"""``lungtrack summary``: the report's first page in the terminal, with Rich.

Colour only on a TTY and never with NO_COLOR (Rich decides); severity is always a word and a
symbol.  The content is the same as the report's page 1 (same data, same helper functions).
"""

from __future__ import annotations

from typing import Any

from lungtrack.report.model import Report
from lungtrack.report.render_html import glance_rows, page_one_findings

_STYLE = {"alert": "bold red", "watch": "bold yellow", "info": "dim"}


def render_summary(report: Report, console: Any) -> None:
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    p = report.patient
    console.print(Text(f"{p['name']} — summary", style="bold"))
    console.print(Text(f"Date range: {report.range_text} · as of {report.as_of}", style="dim"))
    console.print()

    glance = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    glance.add_column(style="bold", no_wrap=True)
    glance.add_column(overflow="fold")
    for label, text in glance_rows(report):
        glance.add_row(label, text)
    console.print(glance)
    console.print()

    main, info, due = page_one_findings(report)
    n = report.counts.get("open_findings", 0)
    console.print(Text(f"Findings ({n} need{'s' if n == 1 else ''} attention)", style="bold underline"))
    if not report.findings:
        console.print("No findings.")
    for f in main + info + due:
        line = Text()
        line.append(f"{f['symbol']} {f['severity_word']:<5}", style=_STYLE.get(f["severity"], ""))
        line.append(f"  {f['title']}")
        if f["acknowledged"]:
            line.append(f"  (✓ acknowledged {(f['acknowledged_at'] or '')[:10]})", style="dim")
        console.print(line)
        console.print(Padding(Text(f["evidence"], style="dim" if f["severity"] == "info" else ""), (0, 0, 0, 9)))
    console.print()

    console.print(Text("What is due", style="bold underline"))
    if not report.due:
        console.print("Nothing is scheduled.")
    for d in report.due:
        state = d["state"].replace("-", " ").upper()
        style = "bold red" if d["state"] == "overdue" else ("bold yellow" if d["state"] in ("due", "due-soon") else "")
        line = Text()
        line.append(f"{state:<12}", style=style)
        line.append(d["text"] + (f" (snoozed until {d['snoozed_until']})" if d["snoozed_until"] else ""))
        console.print(line)
    console.print()

    console.print(Text("Questions to bring to the next appointment", style="bold underline"))
    if not report.questions:
        console.print("No open findings, so no questions were generated.")
    for i, q in enumerate(report.questions, 1):
        console.print(Padding(Text(f"{i:>2}. {q['question']}"), (0, 0, 0, 0)))
    console.print()
    console.print(Text("Print it for the appointment: lungtrack report --format pdf (or html)", style="dim"))
