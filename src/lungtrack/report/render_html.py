"""The report as one self-contained HTML page, made to print.

Self-contained means no network request of any kind: inline CSS, inline SVG charts, local
fonts only (no web fonts), no scripts, no links that a browser would load (sources are
plain text).  Printing: ``@page`` margins that suit A4 and Letter, a running header in the page
margin boxes (patient, date range, generation time - on every page, in Chromium and WeasyPrint),
page numbers, ``break-inside: avoid`` on charts, table rows and finding cards, and table headers
repeated on every page.  Severity is a word and a symbol, never colour alone.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, Iterable

from lungtrack.report.charts import Chart, build_charts
from lungtrack.report.model import (
    SECTION_TITLES,
    Report,
    fmt_mm,
    fmt_num,
    fmt_pct,
    fmt_value,
)

PAPERS = {"auto": "auto", "a4": "A4", "letter": "letter"}


_KEEP = re.compile(r"(?<=\d) (?=(?:%|mm|ng/mL|U/mL|days|weeks|months)(?![\w/]))")


def e(value: Any) -> str:
    """HTML-escaped text; a number and its unit are kept on one line (no-break space)."""
    return _KEEP.sub("\u00a0", escape("" if value is None else str(value), quote=True))


def css_string(text: str) -> str:
    """A CSS string literal that cannot end the string or the <style> element early."""
    out = []
    for ch in text:
        if ch in '"\\<>&' or ord(ch) < 32:
            out.append(f"\\{ord(ch):X} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def running_header(report: Report) -> tuple[str, str]:
    left = f"{report.patient['name']} · {report.range_text}"
    right = f"generated {report.generated_at}"
    return left, right


def _css(report: Report, paper: str) -> str:
    left, right = running_header(report)
    size = PAPERS.get(paper, "auto")
    return f"""
@page {{
  size: {size};
  margin: 15mm 12mm 14mm 12mm;
  @top-left {{ content: {css_string(left)}; font: 7.5pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #333; }}
  @top-right {{ content: {css_string(right)}; font: 7.5pt "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #333; }}
  @bottom-left {{ content: "lungtrack · for discussion with the care team · not a diagnosis"; font: 7pt "DejaVu Sans", Arial, sans-serif; color: #555; }}
  @bottom-right {{ content: "page " counter(page) " of " counter(pages); font: 7.5pt "DejaVu Sans", Arial, sans-serif; color: #333; }}
}}
* {{ box-sizing: border-box; }}
html {{ font-family: "DejaVu Sans", "Liberation Sans", "Helvetica Neue", Arial, sans-serif; font-size: 8.6pt;
        line-height: 1.32; color: #000; background: #fff; }}
body {{ margin: 0 auto; max-width: 190mm; padding: 0; }}
@media screen {{ body {{ padding: 8mm; }} }}
h1 {{ font-size: 14pt; margin: 0 0 1mm 0; }}
h2 {{ font-size: 10.5pt; margin: 3.2mm 0 1.2mm 0; padding-bottom: 0.6mm; border-bottom: 1.2pt solid #000;
      break-after: avoid; page-break-after: avoid; }}
h3 {{ font-size: 9pt; margin: 2mm 0 1mm 0; break-after: avoid; page-break-after: avoid; }}
p {{ margin: 0.8mm 0; }}
.meta {{ font-size: 7.8pt; color: #222; margin-bottom: 1.5mm; }}
.page-break {{ break-before: page; page-break-before: always; }}
table {{ border-collapse: collapse; width: 100%; margin: 1mm 0 2mm 0; }}
thead {{ display: table-header-group; }}
tr, .finding, figure, .keep {{ break-inside: avoid; page-break-inside: avoid; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.6mm 1.4mm; border-bottom: 0.5pt solid #999; }}
th {{ font-weight: bold; border-bottom: 1pt solid #000; font-size: 7.8pt; }}
td.num, th.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
table.glance th {{ width: 27mm; border-bottom: 0.5pt solid #999; font-size: 8.2pt; }}
table.glance td {{ font-size: 8.6pt; }}
.big {{ font-weight: bold; }}
.finding {{ margin: 0 0 1.4mm 0; padding: 0.8mm 0 0.8mm 2.5mm; border-left: 1pt dotted #000; }}
.finding.watch {{ border-left: 2pt dashed #000; }}
.finding.alert {{ border-left: 3.5pt solid #000; }}
.finding .head {{ font-weight: bold; }}
.sev {{ display: inline-block; min-width: 15mm; font-weight: bold; letter-spacing: 0.02em; }}
.alert .sev {{ color: #8b0000; }}
.finding .ev {{ margin: 0.3mm 0; }}
.finding .src {{ font-size: 7pt; color: #333; }}
.finding .ev {{ font-size: 8pt; }}
table.due td:first-child {{ width: 22mm; white-space: nowrap; }}
td {{ overflow-wrap: anywhere; }}
.finding .discuss {{ font-size: 7.8pt; }}
.ack {{ font-weight: normal; font-size: 7.6pt; border: 0.6pt solid #000; padding: 0 1mm; margin-left: 1mm; }}
ol.questions {{ margin: 0.5mm 0 0 0; padding-left: 6mm; }}
ol.questions li {{ margin: 0 0 1mm 0; break-inside: avoid; }}
ol.questions .about {{ font-size: 7.4pt; color: #333; }}
.charts {{ display: grid; grid-template-columns: 1fr 1fr; gap: 3mm 4mm; }}
figure {{ margin: 0; }}
figure svg {{ width: 100%; height: auto; display: block; }}
figcaption {{ font-size: 7.2pt; line-height: 1.25; margin-top: 0.8mm; }}
.muted {{ color: #333; font-size: 7.6pt; }}
.disclaimer {{ font-size: 7.4pt; border: 0.6pt solid #000; padding: 1mm 2mm; margin-top: 2mm; }}
.state-overdue {{ font-weight: bold; }}
ul.history {{ margin: 0.5mm 0 0 0; padding-left: 0; list-style: none; font-size: 7.8pt; }}
ul.history li {{ margin: 0 0 0.6mm 0; break-inside: avoid; }}
table.ident {{ width: auto; margin: 0 0 1.5mm 0; font-size: 9pt; }}
table.ident th {{ border-bottom: 0.5pt solid #999; font-size: 8.2pt; padding-right: 4mm; }}
.charts .wide {{ grid-column: 1 / -1; }}
"""


# --------------------------------------------------------------------------- pieces


def glance_rows(report: Report) -> list[tuple[str, str]]:
    """The "at a glance" lines as (label, text) pairs; shared with the text renderers."""
    rows: list[tuple[str, str]] = []
    t = report.therapy
    if t:
        text = f"{t['drug']} since {t['start']} — {fmt_num(t['months_on_therapy'])} months ({t['days_on_therapy']} days)"
        if t["trial"]:
            text += (f". Median progression-free survival in {t['trial']['name']} ({t['trial']['setting']}): "
                     f"{fmt_num(t['trial']['median_pfs_months'])} months — a median, not a prediction")
        rows.append(("Therapy", text + "."))
    else:
        rows.append(("Therapy", "No active line of therapy."))
    lr = report.latest_response
    if lr:
        if lr["is_baseline"]:
            rows.append(("Latest scan", f"{lr['date']}: baseline only, sum of target diameters {fmt_mm(lr['sum_mm'])}; "
                                        "no follow-up scan yet."))
        else:
            text = (f"{lr['date']}: {lr['overall_label']} ({lr['overall']}, RECIST 1.1). Sum of target diameters "
                    f"{fmt_mm(lr['sum_mm'])}, {fmt_pct(lr['change_from_baseline_pct'])} from baseline "
                    f"({fmt_mm(lr['baseline_sum_mm'])}, {lr['baseline_date']})")
            if lr["compared_nadir_mm"] is not None and lr["change_from_nadir_pct"] is not None:
                text += (f"; {fmt_pct(lr['change_from_nadir_pct'])} ({'+' if (lr['change_from_nadir_mm'] or 0) >= 0 else ''}"
                         f"{fmt_mm(lr['change_from_nadir_mm'])}) from the nadir of {fmt_mm(lr['compared_nadir_mm'])}")
            text += f". Best overall response: {lr['best_overall_label']}."
            if lr["new_lesions"]:
                text += " New lesions: " + ", ".join(lr["new_lesions"]) + "."
            rows.append(("Latest scan", text))
        pts = lr["sum_trend"]
        trend = " → ".join(fmt_num(p["sum_mm"]) if p["sum_mm"] is not None else "NE" for p in pts)
        if len(pts) > 8:  # a long line: the landmarks and the last scans, not every number
            trend = (f"{len(pts)} scans; baseline {fmt_num(pts[0]['sum_mm'])} ({pts[0]['date']}), nadir "
                     f"{fmt_num(lr['current_nadir_mm'])} ({lr['current_nadir_date']}); last four: "
                     + " → ".join(fmt_num(p["sum_mm"]) if p["sum_mm"] is not None else "NE" for p in pts[-4:]))
        extra = ""
        if lr["pd_threshold_mm"] is not None:
            extra = (f" A sum of {fmt_mm(lr['pd_threshold_mm'])} or more on the next scan would meet the RECIST size "
                     f"criterion for progression (nadir {fmt_mm(lr['current_nadir_mm'])}, +20 % and at least +5 mm).")
        rows.append(("Sum trend", f"{trend} mm ({lr['drug']}, {lr['sum_trend'][0]['date']} to {lr['date']}).{extra}"))
    else:
        rows.append(("Latest scan", "No scan recorded for a line of therapy."))
    for m in report.markers:
        rows.append((m["marker"], marker_text(m)))
    lb = report.latest_biopsy
    if lb:
        where = ", ".join(lb["samples"]) + (f"; {', '.join(lb['assays'])}" if lb["assays"] else "")
        rows.append(("Latest biopsy", f"{lb['date']} ({where}): " + "; ".join(r["text"] for r in lb["results"]) + "."))
    return rows


def marker_text(m: dict[str, Any]) -> str:
    text = f"{fmt_value(m['latest'])} {m['unit']} on {m['latest_date']} {m['arrow']} {m['trend']}"
    if m["uln"] is not None:
        text += f", {'above' if m['above_uln'] else 'not above'} the upper limit of normal ({fmt_value(m['uln'])}"
        text += ", lab's limit)" if m["uln_kind"] == "lab" else ", default)"
    if m["nadir"] is not None and m["pct_above_nadir"] and m["trend"] == "rising":
        text += f"; {m['pct_above_nadir']:+.0f} % from the nadir of {fmt_value(m['nadir'])} ({m['nadir_date']})"
    if m["doubling_time_text"]:
        text += f"; doubling time {m['doubling_time_text']}"
    elif m["halving_time_text"]:
        text += f"; halving time {m['halving_time_text']}"
    return text + "."


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], num_cols: set[int] = frozenset(), cls: str = "") -> str:
    head = list(head)
    out = [f'<table class="{cls}"><thead><tr>']
    out += [f'<th class="num">{h}</th>' if i in num_cols else f"<th>{h}</th>" for i, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="num">{c}</td>' if i in num_cols else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _section(key: str, body: str, *, extra_class: str = "") -> str:
    cls = f' class="{extra_class}"' if extra_class else ""
    return f'<section id="{key}"{cls}><h2>{e(SECTION_TITLES[key])}</h2>{body}</section>'


def _summary(report: Report) -> str:
    rows = "".join(f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in glance_rows(report))
    return _section("summary", f'<table class="glance"><tbody>{rows}</tbody></table>')


def _ack_mark(f: dict[str, Any]) -> str:
    if not f["acknowledged"]:
        return ""
    note = f" — {f['acknowledgement_note']}" if f["acknowledgement_note"] else ""
    return f'<span class="ack">✓ acknowledged {e((f["acknowledged_at"] or "")[:10])}{e(note)}</span>'


DUE_RULES = ("timing.imaging_due", "timing.marker_due")


def history_findings(report: Report) -> list[dict[str, Any]]:
    """Acknowledged findings and findings of earlier lines of therapy, newest first."""
    return sorted((f for f in report.findings if f.get("history")), key=lambda f: f["date"], reverse=True)


def page_one_findings(report: Report) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(shown with evidence, INFO shown in one line, due-date findings shown in "What is due").

    Only what is current: acknowledged and earlier-line findings are in :func:`history_findings`."""
    due_shown = report.has("due")
    main, info, due = [], [], []
    for f in report.findings:
        if f.get("history"):
            continue
        if due_shown and f["rule"] in DUE_RULES:
            due.append(f)
        elif f["severity"] == "info":
            info.append(f)
        else:
            main.append(f)
    return main, info, due


def _findings(report: Report) -> str:
    """Page 1: each finding with its evidence; the topics, sources and ids follow in the details."""
    main, info, due = page_one_findings(report)
    past = history_findings(report)
    if not (main or info or due):
        note = (f" {len(past)} acknowledged or earlier-line finding{'s are' if len(past) != 1 else ' is'} listed under "
                "“History”." if past else "")
        return _section("findings", f"<p>No current findings.{e(note)}</p>")
    parts = []
    for f in main:
        parts.append(
            f'<div class="finding {e(f["severity"])}" data-id="{e(f["id"])}">'
            f'<div class="head"><span class="sev">{e(f["symbol"])} {e(f["severity_word"])}</span> {e(f["title"])}'
            f'{_ack_mark(f)}</div><div class="ev">{e(f["evidence"])}</div></div>')
    if info:
        items = "; ".join(f'{e(f["title"])} ({e(f["date"])}){_ack_mark(f)}' for f in info)
        parts.append(f'<div class="finding info"><span class="sev">· INFO</span> {items}.</div>')
    n_open = report.counts.get("open_findings", 0)
    lead = (f'{n_open} finding{"s" if n_open != 1 else ""} need{"s" if n_open == 1 else ""} attention '
            f'(watch or alert, not acknowledged); most severe first: ‼ ALERT, ▲ WATCH, · INFO.')
    if due:
        lead += " Tests due are under “What is due”."
    if past:
        lead += (f" {len(past)} acknowledged or earlier-line finding{'s are' if len(past) != 1 else ' is'} "
                 "under “History”.")
    before = report.counts.get("findings_before_since", 0)
    if before:
        lead += f" {before} finding{'s' if before != 1 else ''} dated before {report.since} {'are' if before != 1 else 'is'} not shown."
    lead += " What each finding means, with its source, is under “Finding details”."
    return _section("findings", f'<p class="muted">{lead}</p>' + "".join(parts))


def history_line(f: dict[str, Any], report: Report) -> str:
    """One line per history finding (shared with the text renderers)."""
    why = []
    if f.get("earlier_line"):
        line = _line_of(f, report)
        why.append(f"earlier line{': ' + line if line else ''}")
    if f["acknowledged"]:
        note = f" — {f['acknowledgement_note']}" if f["acknowledgement_note"] else ""
        why.append(f"acknowledged {(f['acknowledged_at'] or '')[:10]}{note}")
    return f"{f['date']}  {f['severity_word']}  {f['title']} ({'; '.join(why)})"


def _line_of(f: dict[str, Any], report: Report) -> str | None:
    line_id = (f.get("data") or {}).get("line_id")
    for ln in report.lines:
        if ln["id"] == line_id or (line_id is None and ln["start"] <= f["date"] and (ln["end"] is None or f["date"] <= ln["end"])):
            return ln["drug"]
    return None


def _history(report: Report) -> str:
    past = history_findings(report)
    if not past:
        return ""
    items = "".join(f'<li data-id="{e(f["id"])}"><span class="sev">{e(f["symbol"])} {e(f["severity_word"])}</span> '
                    f'{e(history_line(f, report).split("  ", 2)[2])} <span class="muted">{e(f["date"])}</span></li>'
                    for f in past)
    return (f'<section id="history"><h2>History: acknowledged findings and findings of earlier lines</h2>'
            f'<p class="muted">Already seen or about an earlier treatment; kept for the record, newest first.</p>'
            f'<ul class="history">{items}</ul></section>')


def identifier_rows(report: Report) -> list[tuple[str, str]]:
    ids = report.identifiers or {}
    rows = [(label, str(ids[key])) for key, label in (("full_name", "Name"), ("born", "Date of birth"),
                                                      ("record_name", "Record name"),
                                                      ("diagnosis_date", "Diagnosed")) if ids.get(key)]
    if ids and not ids.get("born"):
        rows.append(("Date of birth", "not recorded in lungtrack (add it with --born for this printout)"))
    return rows


def _finding_details(report: Report) -> str:
    parts = []
    for f in sorted(report.findings, key=lambda f: bool(f.get("history"))):
        parts.append(
            f'<div class="finding detail {e(f["severity"])}">'
            f'<div class="head"><span class="sev">{e(f["symbol"])} {e(f["severity_word"])}</span> {e(f["title"])} '
            f'<span class="muted">({e(f["date"])})</span>{_ack_mark(f)}</div>'
            f'<div class="discuss">{e(f["discuss"])}</div>'
            f'<div class="src">Rule {e(f["rule"])} · source: {e(f["source"])} · id {e(f["id"])}</div></div>')
    return (f'<section id="finding-details"><h2>Finding details: what each one means, and its source</h2>'
            f'{"".join(parts)}</section>')


def _due(report: Report) -> str:
    if not report.due:
        return _section("due", "<p>Nothing is scheduled.</p>")
    rows = []
    for d in report.due:
        state = d["state"].replace("-", " ").upper()
        snooze = f" (reminder snoozed until {d['snoozed_until']})" if d["snoozed_until"] else ""
        sev = next((f for f in report.findings if f["rule"] in DUE_RULES and (f.get("data") or {}).get("key") == d["key"]), None)
        mark = f' <span class="muted">({e(sev["symbol"])} {e(sev["severity_word"])})</span>' if sev and d["state"] != "booked" else ""
        rows.append([f'<span class="state-{e(d["state"])}">{e(state)}</span>{mark}', e(d["text"] + snooze)])
    return _section("due", _table(["State", "What and when"], rows, cls="due"))


def _questions(report: Report) -> str:
    if not report.questions:
        return _section("questions", "<p>No open findings, so no questions were generated.</p>")
    items = "".join(f'<li>{e(q["question"])} <span class="about">(about: {e(q["about"])})</span></li>'
                    for q in report.questions)
    return _section("questions", f'<ol class="questions">{items}</ol>')


def _charts(report: Report, charts: list[Chart]) -> str:
    if not charts:
        return _section("charts", "<p>Not enough data for charts in this date range.</p>", extra_class="page-break")
    figs = []
    for c in charts:
        svg = c.svg.replace("<svg ", f'<svg role="img" aria-label="{e(c.alt)}" ', 1)
        wide = ' class="wide"' if c.wide else ""
        figs.append(f'<figure id="chart-{e(c.key)}" data-chart="{e(c.key)}"{wide}>{svg}'
                    f'<figcaption><b>{e(c.title)}.</b> {e(c.caption)}</figcaption></figure>')
    return _section("charts", f'<div class="charts">{"".join(figs)}</div>', extra_class="page-break")


def response_rows(r: dict[str, Any]) -> list[list[str]]:
    """Response table rows as text cells (shared with the text renderers)."""
    rows = []
    for tp in r["rows"]:
        rows.append([tp["date"], fmt_num(tp["sum_mm"]) if tp["sum_mm"] is not None else "NE",
                     fmt_pct(tp["change_from_baseline_pct"]) if not tp["is_baseline"] else "",
                     fmt_pct(tp["change_from_nadir_pct"]) if not tp["is_baseline"] else "",
                     tp["target"] or "", tp["non_target"] or "", ", ".join(tp["new_lesions"]),
                     "baseline" if tp["is_baseline"] else f"{tp['overall']} ({tp['overall_label']})"])
    return rows


RESPONSE_HEAD = ["Date", "Sum (mm)", "vs baseline", "vs nadir", "Target", "Non-target", "New lesions", "Overall"]


def line_title(r: dict[str, Any]) -> str:
    ln = r["line"]
    end = ln["end"] or "ongoing"
    return f"{ln['drug']}: {ln['start']} to {end} — best overall response {r['best_overall_label']}"


def _response(report: Report) -> str:
    if not report.responses:
        return _section("response", "<p>No scans recorded for a line of therapy.</p>")
    parts = []
    for r in report.responses:
        targets = ", ".join(f"{t['label']} {fmt_mm(t['baseline_mm'])}" + (" (node)" if t["is_node"] else "")
                            for t in r["targets"])
        parts.append(f"<h3>{e(line_title(r))}</h3>")
        if targets:
            parts.append(f'<p class="muted">Targets at baseline: {e(targets)}.'
                         + (f" Non-targets: {e(', '.join(r['non_target_labels']))}." if r["non_target_labels"] else "")
                         + (f" {r['omitted_before_since']} earlier scan(s) before {e(report.since)} not shown."
                            if r["omitted_before_since"] else "") + "</p>")
        parts.append(_table(RESPONSE_HEAD, [[e(c) for c in row] for row in response_rows(r)], {1, 2, 3}))
    return _section("response", "".join(parts))


def marker_rows(s: dict[str, Any]) -> list[list[str]]:
    rows = []
    for v in s["values"]:
        uln = v["lab_uln"] if v["lab_uln"] is not None else s["uln"]
        flag = "▲ above ULN" if v["above_uln"] else ""
        rows.append([v["date"], fmt_value(v["value"]), v["unit"], fmt_value(uln) if uln is not None else "—", flag])
    return rows


def _markers(report: Report) -> str:
    if not report.marker_series:
        return _section("markers", "<p>No marker values in this date range.</p>")
    parts = []
    for s in report.marker_series:
        parts.append(f"<h3>{e(s['marker'])} ({e(s['unit'])})</h3>")
        parts.append(_table(["Date", "Value", "Unit", "ULN", ""], [[e(c) for c in row] for row in marker_rows(s)], {1, 3}))
    return _section("markers", "".join(parts))


def biopsy_rows(report: Report) -> list[list[str]]:
    return [[b["date"], b["sample_text"], b["assay"] or "", f"{b['gene']} {b['variant']}", b["result"],
             f"{fmt_num(b['vaf'])} %" if b["vaf"] is not None else ""] for b in report.biopsies]


def _biopsies(report: Report) -> str:
    if not report.biopsies:
        return _section("biopsies", "<p>No biopsy results in this date range.</p>")
    return _section("biopsies", _table(["Date", "Sample", "Assay", "Alteration", "Result", "VAF"],
                                       [[e(c) for c in row] for row in biopsy_rows(report)], {5}))


def lesion_table(r: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Rows = scan dates, columns = lesions (sizes in mm), so long histories grow downwards."""
    lesions = r["lesions"]
    head = ["Date"] + [f"{c['label']} ({c['role']})" for c in lesions]
    rows = []
    for d in r["dates"]:
        row = [d]
        for c in lesions:
            p = next((p for p in c["points"] if p["date"] == d), None)
            row.append(_size_cell(p))
        rows.append(row)
    return head, rows


def _size_cell(p: dict[str, Any] | None) -> str:
    if p is None:
        return ""
    status = p["status"]
    if status == "measured":
        return fmt_num(p["size_mm"])
    if status == "too-small":
        return f"too small ({fmt_num(p['size_mm'])})"
    if status == "disappeared":
        return "gone (0)"
    return "NE"


def _tables(report: Report) -> str:
    parts = []
    for r in report.responses:
        if not r["lesions"]:
            continue
        head, rows = lesion_table(r)
        parts.append(f"<h3>{e(r['line']['drug'])} (from {e(r['line']['start'])}): sizes in mm</h3>")
        parts.append(_table([e(h) for h in head], [[e(c) for c in row] for row in rows], set(range(1, len(head)))))
    if not parts:
        return _section("tables", "<p>No lesion measurements in this date range.</p>")
    return _section("tables", "".join(parts))


# --------------------------------------------------------------------------- page


def render_html(report: Report, *, paper: str = "auto", charts: list[Chart] | None = None) -> str:
    """The whole report as one HTML document (UTF-8)."""
    if charts is None and report.has("charts"):
        charts = build_charts(report)
    p = report.patient
    facts = []
    if p.get("diagnosis_date"):
        facts.append(f"diagnosed {p['diagnosis_date']}")
    if p.get("histology"):
        facts.append(p["histology"])
    if p.get("drivers"):
        facts.append(", ".join(p["drivers"]))
    if p.get("smoking") and p["smoking"] != "unknown":
        facts.append({"never": "never smoker", "former": "former smoker", "current": "current smoker"}.get(p["smoking"], p["smoking"]))
    body: list[str] = [
        '<header class="doc-head">',
        f"<h1>{e(p['name'])} — treatment summary for the care team</h1>",
        f'<div class="meta">{e(" · ".join(facts))}</div>' if facts else "",
        f'<div class="meta">Date range: <b>{e(report.range_text)}</b> · as of {e(report.as_of)} · generated '
        f'{e(report.generated_at)} by lungtrack · RECIST 1.1</div>',
        "</header>",
    ]
    if report.identifiers:
        rows = "".join(f'<tr><th scope="row">{e(k)}</th><td>{e(v)}</td></tr>' for k, v in identifier_rows(report))
        body.insert(2, f'<table class="ident" id="identifiers"><tbody>{rows}</tbody></table>')
    first_table = True
    for key in report.sections:
        if key == "summary":
            body.append(_summary(report))
        elif key == "findings":
            body.append(_findings(report))
        elif key == "due":
            body.append(_due(report))
        elif key == "questions":
            body.append(_questions(report))
        elif key == "charts":
            body.append(_charts(report, charts or []))
        else:
            html = {"response": _response, "markers": _markers, "biopsies": _biopsies, "tables": _tables}[key](report)
            if first_table and any(s in report.sections for s in ("summary", "findings", "due", "questions", "charts")):
                html = html.replace("<section ", '<section class="page-break" ', 1)
            first_table = False
            body.append(html)
    if report.has("findings"):
        body.append(_history(report))
    if report.has("findings") and report.findings:
        body.append(_finding_details(report))
    disclaimer = f'<p class="disclaimer">{e(report.disclaimer)}</p>'
    # on page 1 under the questions (never alone on a last page); at the end when there is no page 1
    anchor = next((k for k in ("questions", "due", "findings", "summary") if report.has(k)), None)
    if anchor is not None:
        at = next(i for i, b in enumerate(body) if b.startswith(f'<section id="{anchor}"'))
        body.insert(at + 1, disclaimer)
    else:
        body.append(disclaimer)
    title = f"{p['name']} — lungtrack report, {report.range_text}"
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{e(title)}</title><style>{_css(report, paper)}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body></html>\n")
