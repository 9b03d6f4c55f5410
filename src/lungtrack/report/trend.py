"""``lungtrack trend cea|cyfra|...|tumor|lesion LABEL``: one series in the terminal.

On a TTY the series is drawn with plotext (imported lazily) with its reference lines - the
upper limit of normal for a marker, each line's baseline / nadir / PD threshold for the tumour -
and the numbers are printed under the chart.  The legend is printed under the chart too, never
over the data.  The tumour and a lesion are shown over every line of therapy (``--line`` picks
one).  Elsewhere (a pipe, a file, cron) a plain table is printed instead: a chart made of block
characters is of no use there.
"""

from __future__ import annotations

from typing import Any

from lungtrack.errors import InputError
from lungtrack.report.model import Report, fmt_mm, fmt_num, fmt_pct, fmt_value

TUMOR_WORDS = ("tumor", "tumour", "sum", "recist")
LESION_WORDS = ("lesion", "lesions")
#: Plot markers (plain characters: they still tell the series apart without colour).
_SERIES_MARKS = ("●", "◆", "▲", "■", "✚", "★")
_REF_MARKS = {"baseline": "=", "nadir": ".", "pd": "!"}


def parse_what(text: str) -> str:
    """``tumor``, ``lesion`` or a canonical marker name (``CEA``, ``CYFRA 21-1``...)."""
    if text.strip().lower() in TUMOR_WORDS:
        return "tumor"
    if text.strip().lower() in LESION_WORDS:
        return "lesion"
    from lungtrack.knowledge.markers import marker_from_text

    try:
        return marker_from_text(text, field="WHAT").value
    except InputError:
        raise InputError("WHAT", text, "tumor, lesion LABEL, or a marker: CEA, CYFRA 21-1, NSE, ProGRP, CA-125") from None


def _line_series(r: dict[str, Any]) -> dict[str, Any]:
    pts = [{"date": t["date"], "sum_mm": t["sum_mm"], "change_from_baseline_pct": t["change_from_baseline_pct"],
            "change_from_nadir_pct": t["change_from_nadir_pct"], "overall": t["overall"]} for t in r["rows"]]
    return {"line": {"id": r["line"]["id"], "drug": r["line"]["drug"], "start": r["line"]["start"], "end": r["line"]["end"]},
            "points": pts, "baseline_sum_mm": r["rows"][0]["baseline_sum_mm"] if r["rows"] else None,
            "nadir_mm": r["current_nadir_mm"], "nadir_date": r["current_nadir_date"],
            "pd_threshold_mm": r["pd_threshold_mm"]}


def trend_data(report: Report, what: str, line_id: int | None = None, label: str | None = None) -> dict[str, Any]:
    """The series and its reference values, from the report data (same numbers as the report).

    ``tumor``: the top-level keys describe one line (``line_id``, else the current one) as
    before; ``lines`` holds every line shown (all of them unless ``line_id``).  ``lesion``: one
    lesion's sizes over every line (or ``line_id``)."""
    if line_id is not None and not any(r["line"]["id"] == line_id for r in report.responses):
        ids = ", ".join(str(r["line"]["id"]) for r in report.responses) or "none"
        raise InputError("--line", str(line_id), f"the id of a line of therapy with scans ({ids})")
    if what == "lesion":
        return _lesion_data(report, label, line_id)
    if what == "tumor":
        from lungtrack.report.charts import _chart_response

        r = _chart_response(report, line_id)
        if r is None:
            return {"kind": "tumor", "patient": report.patient["name"], "line": None, "points": [],
                    "baseline_sum_mm": None, "nadir_mm": None, "nadir_date": None, "pd_threshold_mm": None, "lines": []}
        shown = [x for x in report.responses if x["rows"] and (line_id is None or x["line"]["id"] == line_id)]
        return {"kind": "tumor", "patient": report.patient["name"], "criteria": "RECIST 1.1", **_line_series(r),
                "lines": [_line_series(x) for x in shown]}
    s = next((x for x in report.marker_series if x["marker"] == what), None)
    k = next((x for x in report.markers if x["marker"] == what), None)
    return {"kind": "marker", "patient": report.patient["name"], "marker": what,
            "unit": s["unit"] if s else (k["unit"] if k else None),
            "values": [{"date": v["date"], "value": v["value"]} for v in s["values"]] if s else [],
            "uln": s["uln"] if s else None,
            "trend": k["trend"] if k else "insufficient",
            "nadir": k["nadir"] if k else None, "nadir_date": k["nadir_date"] if k else None,
            "pct_above_nadir": k["pct_above_nadir"] if k else None,
            "doubling_time_days": k["doubling_time_days"] if k else None,
            "doubling_time_text": k["doubling_time_text"] if k else None,
            "halving_time_days": k["halving_time_days"] if k else None,
            "halving_time_text": k["halving_time_text"] if k else None}


def _lesion_data(report: Report, label: str | None, line_id: int | None) -> dict[str, Any]:
    if not label or not label.strip():
        raise InputError("LABEL", label or "", "a lesion label after 'lesion', e.g. lungtrack trend lesion 'liver S6'")
    want = label.strip().casefold()
    known: list[str] = []
    points: dict[str, dict[str, Any]] = {}
    found = None
    for r in report.responses:
        if line_id is not None and r["line"]["id"] != line_id:
            continue
        for c in r["lesions"]:
            known.append(c["label"])
            if c["label"].casefold() != want:
                continue
            found = c
            for p in c["points"]:
                if p["status"] == "not-evaluated" and p["size_mm"] is None:
                    continue
                points.setdefault(p["date"], {"date": p["date"], "size_mm": p["size_mm"], "status": p["status"],
                                              "line_id": r["line"]["id"], "line_drug": r["line"]["drug"],
                                              "role": c["role"]})
    if found is None:
        names = ", ".join(sorted(set(known), key=str.casefold)) or "none measured"
        raise InputError("LABEL", label, f"a lesion measured on a line's scans: {names}")
    pts = [points[d] for d in sorted(points)]
    sizes = [p["size_mm"] for p in pts if p["size_mm"] is not None]
    return {"kind": "lesion", "patient": report.patient["name"], "label": found["label"], "site": found["site"],
            "is_node": found["is_node"], "axis": "short axis" if found["is_node"] else "long axis", "points": pts,
            "smallest_mm": min(sizes) if sizes else None, "latest_mm": sizes[-1] if sizes else None}


def is_empty(data: dict[str, Any]) -> bool:
    return not (data.get("points") if data["kind"] in ("tumor", "lesion") else data.get("values"))


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The reference numbers in words (printed under the chart and under the table)."""
    if data["kind"] == "lesion":
        last = data["points"][-1]
        return [f"{data['label']} ({data['site']}, {data['axis']}): latest {fmt_mm(data['latest_mm'])} on {last['date']} "
                f"({last['line_drug']}); smallest {fmt_mm(data['smallest_mm'])}."]
    if data["kind"] == "tumor":
        out = []
        for ln in data.get("lines") or [data]:
            if ln["line"]["id"] != data["line"]["id"]:
                out.append(f"Sum of target diameters on {ln['line']['drug']} (from {ln['line']['start']}): baseline "
                           f"{fmt_mm(ln['baseline_sum_mm'])}, nadir {fmt_mm(ln['nadir_mm'])} ({ln['nadir_date']}), "
                           f"PD threshold {fmt_mm(ln['pd_threshold_mm'])}.")
        out.append(f"Sum of target diameters on {data['line']['drug']} (RECIST 1.1): baseline "
                   f"{fmt_mm(data['baseline_sum_mm'])}, nadir {fmt_mm(data['nadir_mm'])} ({data['nadir_date']}).")
        if data["pd_threshold_mm"] is not None:
            out.append(f"PD threshold for the next scan: {fmt_mm(data['pd_threshold_mm'])} "
                       "(the larger of nadir + 20 % and nadir + 5 mm).")
        return out
    parts = [f"{data['marker']} ({data['unit']}): trend {data['trend']}"]
    if data["uln"] is not None:
        parts.append(f"upper limit of normal {fmt_value(data['uln'])}")
    if data["doubling_time_text"]:
        parts.append(f"doubling time {data['doubling_time_text']}")
    elif data["halving_time_text"]:
        parts.append(f"halving time {data['halving_time_text']}")
    if data["nadir"] is not None:
        parts.append(f"nadir on this treatment {fmt_value(data['nadir'])} ({data['nadir_date']})")
    return ["; ".join(parts) + "."]


def table_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    if data["kind"] == "lesion":
        rows = [[p["date"], fmt_num(p["size_mm"]) if p["size_mm"] is not None else "", p["status"], p["line_drug"]]
                for p in data["points"]]
        return ["date", "size mm", "status", "line"], rows
    if data["kind"] == "tumor":
        lines = data.get("lines") or [data]
        rows = [[p["date"], fmt_num(p["sum_mm"]) if p["sum_mm"] is not None else "NE",
                 "" if p["overall"] == "BASELINE" else fmt_pct(p["change_from_baseline_pct"]),
                 "" if p["overall"] == "BASELINE" else fmt_pct(p["change_from_nadir_pct"]),
                 "baseline" if p["overall"] == "BASELINE" else p["overall"]]
                + ([ln["line"]["drug"]] if len(lines) > 1 else []) for ln in lines for p in ln["points"]]
        return ["date", "sum mm", "vs baseline", "vs nadir", "response"] + (["line"] if len(lines) > 1 else []), rows
    uln = data["uln"]
    rows = [[v["date"], fmt_value(v["value"]), data["unit"] or "",
             "above ULN" if uln is not None and v["value"] > uln else ""] for v in data["values"]]
    return ["date", "value", "unit", ""], rows


def render_chart(data: dict[str, Any], width: int = 80, height: int = 20, color: bool = True) -> str:
    """The series as a plotext chart (colour codes only when ``color``), with its legend under it.

    Each series has its own marker character, so the chart reads without colour; the legend is
    printed below the plot and never covers a point."""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.date(axis="x").activate(form="%Y-%m-%d")
    legend: list[str] = []
    values: list[float] = []

    def draw(xs: list[str], ys: list[float], mark: str, text: str, lines: bool = True) -> None:
        if not xs:
            return
        fig.draw(fig.signal(xs, ys, marker=mark).lines(lines))
        values.extend(ys)
        legend.append(f"{mark} {text}")

    if data["kind"] == "tumor":
        for i, ln in enumerate(data.get("lines") or [data]):
            pts = [p for p in ln["points"] if p["sum_mm"] is not None]
            xs = [p["date"] for p in pts]
            draw(xs, [p["sum_mm"] for p in pts], _SERIES_MARKS[i % len(_SERIES_MARKS)],
                 f"{ln['line']['drug']}: sum of target diameters (mm)")
            end = [ln["line"]["end"] or xs[-1]] if xs else []
            for key, value, name in (("baseline", ln["baseline_sum_mm"], "baseline"), ("nadir", ln["nadir_mm"], "nadir"),
                                     ("pd", ln["pd_threshold_mm"], "PD threshold")):
                if value is not None and xs:
                    span = [xs[0], max(end[0], xs[-1])]
                    fig.draw(fig.signal(span, [value, value], marker=_REF_MARKS[key]).lines(True))
                    values.append(value)
                    legend.append(f"{_REF_MARKS[key]} {name} {fmt_mm(value)} ({ln['line']['drug']})")
        title = (f"Tumour burden on {data['line']['drug']} (RECIST 1.1)" if len(data.get("lines") or [data]) == 1
                 else "Tumour burden over every line of therapy (RECIST 1.1)")
    elif data["kind"] == "lesion":
        by_line: dict[Any, list[dict[str, Any]]] = {}
        for p in data["points"]:
            if p["size_mm"] is not None:
                by_line.setdefault((p["line_id"], p["line_drug"]), []).append(p)
        for i, ((_lid, drug), pts) in enumerate(by_line.items()):
            draw([p["date"] for p in pts], [p["size_mm"] for p in pts], _SERIES_MARKS[i % len(_SERIES_MARKS)],
                 f"{data['label']} on {drug} (mm, {data['axis']})")
        title = f"{data['label']} ({data['site']}): size over time"
    else:
        xs, ys = [v["date"] for v in data["values"]], [v["value"] for v in data["values"]]
        draw(xs, ys, _SERIES_MARKS[0], f"{data['marker']} ({data['unit']})")
        if data["uln"] is not None and xs:
            fig.draw(fig.signal([xs[0], xs[-1]], [data["uln"]] * 2, marker="=").lines(True))
            values.append(data["uln"])
            legend.append(f"= upper limit of normal {fmt_value(data['uln'])}")
        # linear here: a terminal has ~20 rows, too few for a readable log axis with a reference line
        title = f"{data['marker']} ({data['unit']})" + (f" — doubling time {data['doubling_time_text']}"
                                                        if data["doubling_time_text"] else "")
    fig.ruler(axis="y").lim(0.0, max(values) * 1.15 if values else 1.0)
    fig.title(title)
    try:
        fig.canvas("default")
    except Exception:  # noqa: BLE001 - older/newer plotext: keep its own background
        pass
    text = str(fig.build())
    if not color:
        text = plotext.uncolorize(text)
    from lungtrack.report.layout import NBSP, wrap

    keys = wrap("   ".join(item.replace(" ", NBSP) for item in legend), width, " " * 8, "Legend: ")
    return text.rstrip("\n") + "\n" + "\n".join(keys)


def render_plain(data: dict[str, Any]) -> list[str]:
    head, rows = table_rows(data)
    lines = ["\t".join(head)] + ["\t".join(r) for r in rows]
    return lines + [""] + summary_lines(data)
