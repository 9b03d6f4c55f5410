"""``lungtrack trend cea|cyfra|...|tumor``: one series in the terminal.

On a TTY the series is drawn with plotext (imported lazily) with its reference lines - the
upper limit of normal for a marker, baseline / nadir / PD threshold for the tumour - and the
numbers are printed under the chart.  Elsewhere (a pipe, a file, cron) a plain table is
printed instead: a chart made of block characters is of no use there.
"""

from __future__ import annotations

from typing import Any

from lungtrack.errors import InputError
from lungtrack.report.model import Report, fmt_mm, fmt_num, fmt_pct, fmt_value

TUMOR_WORDS = ("tumor", "tumour", "sum", "recist")


def parse_what(text: str) -> str:
    """``tumor`` or a canonical marker name (``CEA``, ``CYFRA 21-1``...)."""
    if text.strip().lower() in TUMOR_WORDS:
        return "tumor"
    from lungtrack.knowledge.markers import marker_from_text

    try:
        return marker_from_text(text, field="WHAT").value
    except InputError:
        raise InputError("WHAT", text, "tumor or a marker: CEA, CYFRA 21-1, NSE, ProGRP, CA-125") from None


def trend_data(report: Report, what: str) -> dict[str, Any]:
    """The series and its reference values, from the report data (same numbers as the report)."""
    if what == "tumor":
        from lungtrack.report.charts import _chart_response

        r = _chart_response(report)
        if r is None:
            return {"kind": "tumor", "patient": report.patient["name"], "line": None, "points": [],
                    "baseline_sum_mm": None, "nadir_mm": None, "nadir_date": None, "pd_threshold_mm": None}
        pts = [{"date": t["date"], "sum_mm": t["sum_mm"], "change_from_baseline_pct": t["change_from_baseline_pct"],
                "change_from_nadir_pct": t["change_from_nadir_pct"], "overall": t["overall"]} for t in r["rows"]]
        return {"kind": "tumor", "patient": report.patient["name"], "criteria": "RECIST 1.1",
                "line": {"id": r["line"]["id"], "drug": r["line"]["drug"], "start": r["line"]["start"], "end": r["line"]["end"]},
                "points": pts, "baseline_sum_mm": r["rows"][0]["baseline_sum_mm"] if r["rows"] else None,
                "nadir_mm": r["current_nadir_mm"], "nadir_date": r["current_nadir_date"],
                "pd_threshold_mm": r["pd_threshold_mm"]}
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


def is_empty(data: dict[str, Any]) -> bool:
    return not (data.get("points") if data["kind"] == "tumor" else data.get("values"))


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The reference numbers in words (printed under the chart and under the table)."""
    if data["kind"] == "tumor":
        out = [f"Sum of target diameters on {data['line']['drug']} (RECIST 1.1): baseline {fmt_mm(data['baseline_sum_mm'])}, "
               f"nadir {fmt_mm(data['nadir_mm'])} ({data['nadir_date']})."]
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
    if data["kind"] == "tumor":
        rows = [[p["date"], fmt_num(p["sum_mm"]) if p["sum_mm"] is not None else "NE",
                 "" if p["overall"] == "BASELINE" else fmt_pct(p["change_from_baseline_pct"]),
                 "" if p["overall"] == "BASELINE" else fmt_pct(p["change_from_nadir_pct"]),
                 "baseline" if p["overall"] == "BASELINE" else p["overall"]] for p in data["points"]]
        return ["date", "sum mm", "vs baseline", "vs nadir", "response"], rows
    uln = data["uln"]
    rows = [[v["date"], fmt_value(v["value"]), data["unit"] or "",
             "above ULN" if uln is not None and v["value"] > uln else ""] for v in data["values"]]
    return ["date", "value", "unit", ""], rows


def render_chart(data: dict[str, Any], width: int = 80, height: int = 20, color: bool = True) -> str:
    """The series as a plotext chart (colour codes only when ``color``)."""
    import plotext

    fig = plotext.figure
    fig.clear()
    fig.plot_size(width, height)
    fig.date(axis="x").activate(form="%Y-%m-%d")
    if data["kind"] == "tumor":
        pts = [p for p in data["points"] if p["sum_mm"] is not None]
        xs, ys = [p["date"] for p in pts], [p["sum_mm"] for p in pts]
        fig.draw(fig.signal(xs, ys).lines(True).label("sum of target diameters (mm)"))
        refs = [(data["baseline_sum_mm"], f"baseline {fmt_mm(data['baseline_sum_mm'])}"),
                (data["nadir_mm"], f"nadir {fmt_mm(data['nadir_mm'])}"),
                (data["pd_threshold_mm"], f"PD threshold {fmt_mm(data['pd_threshold_mm'])}")]
        title = f"Tumour burden on {data['line']['drug']} (RECIST 1.1)"
        lo = 0.0
    else:
        xs, ys = [v["date"] for v in data["values"]], [v["value"] for v in data["values"]]
        fig.draw(fig.signal(xs, ys).lines(True).label(f"{data['marker']} ({data['unit']})"))
        refs = [(data["uln"], f"upper limit of normal {fmt_value(data['uln'])}")] if data["uln"] is not None else []
        # linear here: a terminal has ~20 rows, too few for a readable log axis with a reference line
        title = f"{data['marker']} ({data['unit']})" + (f" — doubling time {data['doubling_time_text']}"
                                                        if data["doubling_time_text"] else "")
        lo = 0.0
    for value, label in refs:
        if value is not None:
            fig.line(value, orientation=0, label=label)
    values = [y for y in ys] + [r for r, _ in refs if r is not None]
    fig.ruler(axis="y").lim(lo, max(values) * 1.15)
    fig.title(title)
    try:
        fig.canvas("default")
    except Exception:  # noqa: BLE001 - older/newer plotext: keep its own background
        pass
    text = str(fig.build())
    if not color:
        text = plotext.uncolorize(text)
    return text


def render_plain(data: dict[str, Any]) -> list[str]:
    head, rows = table_rows(data)
    lines = ["\t".join(head)] + ["\t".join(r) for r in rows]
    return lines + [""] + summary_lines(data)
