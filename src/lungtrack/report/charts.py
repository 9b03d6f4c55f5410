"""The report's charts, drawn with matplotlib (bare Figures and the SVG backend, no pyplot; imported
only when a chart is drawn) as inline SVG.

Every chart is safe in black and white: series differ by line style and marker shape, not by
colour alone, and reference lines are labelled in words.  Every chart comes with a caption and
an alt text that state its numbers, for readers who cannot see it.  Text stays text in the SVG
(``svg.fonttype = none``), so the numbers are searchable and in a PDF's text layer.

Charts are drawn only from the report data (:class:`lungtrack.report.model.Report`): a chart
can never show a number the tables do not.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, Callable

from lungtrack.report.model import Report, fmt_mm, fmt_num, fmt_pct, fmt_value

# Width of one chart in inches: two charts side by side fill an A4 or Letter page's text width;
# a wide chart spans both columns.
_W, _H = 3.55, 2.3
_WIDE_W, _WIDE_H = 7.2, 2.0
_STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1, 1, 1)), "v"), ((0, (1, 1)), "P"),
           ((0, (8, 2)), "X"), ((0, (3, 3)), "*")]
_GREYS = ["#000000", "#444444", "#1f4e79", "#7f3f00", "#555555", "#2f5f2f", "#333333", "#5a2d5a"]


@dataclass(frozen=True)
class Chart:
    key: str  # "tumor", "spider", "marker-CEA", "timeline"
    title: str
    caption: str  # shown under the chart; states the key numbers
    alt: str  # for screen readers: the caption plus every value drawn
    svg: str  # inline SVG markup (no XML declaration, no DOCTYPE, no external references)
    wide: bool = False  # spans the page's width (the tumour burden over every line, long series)


def _plt():
    """matplotlib itself, without pyplot: charts are drawn on bare ``Figure`` objects and printed by
    the SVG backend directly (pyplot's figure manager and GUI backend machinery are never loaded)."""
    import matplotlib

    return matplotlib


def _setup(mpl, key: str, size: tuple[float, float] = (_W, _H)):
    from matplotlib.figure import Figure

    mpl.rcParams.update({
        "svg.fonttype": "none",  # keep text as text
        "svg.hashsalt": f"lungtrack-{key}",  # stable, and distinct ids per chart in one HTML page
        "font.family": ["DejaVu Sans"],
        "font.size": 7.0,
        "axes.titlesize": 8.0,
        "axes.labelsize": 7.0,
        "legend.fontsize": 6.0,
        "xtick.labelsize": 6.2,
        "ytick.labelsize": 6.2,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 1.3,
        "lines.markersize": 4.0,
    })
    fig = Figure(figsize=size, dpi=100)
    ax = fig.subplots()
    return fig, ax


_PAD_INCHES = 0.04
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def _svg(mpl, fig, key: str) -> str:  # noqa: ARG001 - same call shape for every chart
    """The chart as SVG, cropped to its content plus a small margin.

    ``savefig(bbox_inches="tight")`` draws the figure twice: once (with drawing switched off) to
    lay it out and measure it, then for real.  The crop box is measured here on the SVG renderer
    without that first pass, and handed to ``savefig`` as an explicit box: one drawing.
    """
    import functools

    from matplotlib.backend_bases import _get_renderer
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    canvas = FigureCanvasSVG(fig)
    renderer = _get_renderer(fig, functools.partial(canvas.print_svg, metadata=_SVG_METADATA))
    box = fig.get_tightbbox(renderer).padded(_PAD_INCHES)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches=box, metadata=_SVG_METADATA)
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    # inline SVG in HTML needs no namespace declarations; dropping them leaves no URL at all in the page
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    # matplotlib numbers its ids per figure (figure_1, axes_1 ...): prefix them, so that several
    # charts inline in one page never share an id (a clip path would then cut the wrong chart)
    ids = set(re.findall(r'\sid="([^"]+)"', text))
    if ids:
        pattern = re.compile(r'(\sid="|href="#|url\(#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)) + r')(?=[")])')
        text = pattern.sub(lambda m: f"{m.group(1)}{key}-{m.group(2)}", text)
    return text.strip()


def _d(s: str) -> date:
    return date.fromisoformat(s)


def _date_axis(ax, dates: list[date]) -> None:
    import matplotlib.dates as mdates

    span = (max(dates) - min(dates)).days if dates else 0
    if span > 3 * 365:
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        loc = mdates.MonthLocator(interval=1 if span < 200 else (2 if span < 500 else 3))
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y" if span > 200 else "%d %b\n%Y"))
    ax.grid(axis="y", color="#cccccc", linewidth=0.5)


def build_charts(report: Report) -> list[Chart]:
    """Every chart the data allows: tumour burden over every line, spider plot of the current
    line, one per marker, therapy timeline."""
    return [c for c in (job() for job in chart_jobs(report)) if c is not None]


def chart_jobs(report: Report) -> list[Callable[[], Chart | None]]:
    """The charts of :func:`build_charts`, in page order, each as a function that draws it (or
    returns None when its data is missing): so that two processes can share them out."""
    wide_timeline = len(report.lines) > 1  # wide, under the burden chart: the line changes line up
    jobs: list[Callable[[], Chart | None]] = [partial(tumor_chart_all, report)]
    if wide_timeline:
        jobs.append(partial(timeline_chart, report))
    resp = _chart_response(report)
    if resp is not None:
        jobs.append(partial(spider_chart, resp))
    for series in report.marker_series:
        jobs.append(partial(marker_chart, series, report))
    if not wide_timeline:
        jobs.append(partial(timeline_chart, report))
    return jobs


def preload(*, lean: bool = False) -> None:
    """Import everything drawing needs (for a helper process that gets ready while the records are
    read; see lungtrack.report.chart_process).

    ``lean`` (for that helper only: a process that draws these charts and ends) skips the work
    matplotlib does at import for interactive help alone: the signature and docstring of every
    Artist class's ``set()``, built by inspecting all its setters, about a third of the import.
    Drawing never reads them (the charts are byte-identical; tests/test_report_process.py).  Should
    a future matplotlib need them, the helper fails and the command draws the charts itself.
    """
    if lean:
        from matplotlib.artist import Artist

        if hasattr(Artist, "_update_set_signature_and_docstring"):
            Artist._update_set_signature_and_docstring = classmethod(lambda cls: None)  # type: ignore[method-assign]
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.dates  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import matplotlib.lines  # noqa: F401
    import matplotlib.ticker  # noqa: F401


def _chart_response(report: Report, line_id: int | None = None) -> dict[str, Any] | None:
    """The line a one-line chart shows: ``line_id``, else the one of the latest response, else the
    latest with scans."""
    with_rows = [r for r in report.responses if r["rows"]]
    if line_id is not None:
        return next((r for r in report.responses if r["line"]["id"] == line_id), None)
    if not with_rows:
        return None
    if report.latest_response is not None:
        for r in with_rows:
            if r["line"]["id"] == report.latest_response["line_id"]:
                return r
    return with_rows[-1]


# --------------------------------------------------------------------------- tumour burden


def tumor_chart_all(report: Report) -> Chart | None:
    """The sum of target diameters over every line of therapy, each line with its own baseline,
    nadir and PD threshold (drawn over that line's span only) and the line changes marked."""
    resps = [r for r in report.responses if any(x["sum_mm"] is not None for x in r["rows"])]
    if not resps:
        return None
    if len(resps) == 1:
        c = tumor_chart(resps[0], report)
        return c
    import matplotlib.dates as mdates

    plt = _plt()
    fig, ax = _setup(plt, "tumor", (_WIDE_W, _WIDE_H))
    all_dates: list[date] = []
    top = 0.0
    labels: list[tuple[float, float, float, str, str]] = []  # x0, x1 of the segment, y, text, colour
    points: list[tuple[float, float]] = []  # every drawn point, to keep the labels off the data
    captions = []
    values = []
    for i, r in enumerate(resps):
        rows = [x for x in r["rows"] if x["sum_mm"] is not None]
        ls, mk = _STYLES[i % len(_STYLES)]
        dates = [_d(x["date"]) for x in rows]
        sums = [x["sum_mm"] for x in rows]
        all_dates += dates
        drug = r["line"]["drug"]
        ax.plot(dates, sums, linestyle=ls, marker=mk, color=_GREYS[i % len(_GREYS)], markerfacecolor="white",
                markersize=3.2, label=f"{drug}: sum of target diameters", zorder=3)
        pds = [(d, y) for x, d, y in zip(rows, dates, sums) if x["overall"] == "PD"]
        if pds:
            ax.plot([d for d, _ in pds], [y for _, y in pds], marker="X", markersize=8, color="black",
                    linestyle="none", zorder=4)
        start = min(dates)
        stop = _d(r["line"]["end"]) if r["line"]["end"] else max(dates + [_d(report.as_of)])
        stop = max(stop, max(dates))
        x0, x1 = mdates.date2num(start), mdates.date2num(stop)
        base = rows[0]["baseline_sum_mm"]
        nadir, pd_line = r["current_nadir_mm"], r["pd_threshold_mm"]
        seg = []
        if base is not None:
            ax.hlines(base, x0, x1, linestyles="--", colors="#444444", linewidth=0.9)
            seg.append((base, f"baseline {fmt_mm(base)}", "#333333"))
        if nadir is not None:
            ax.hlines(nadir, x0, x1, linestyles=":", colors="#444444", linewidth=1.1)
            seg.append((nadir, f"nadir {fmt_mm(nadir)}", "#333333"))
        if pd_line is not None:
            ax.hlines(pd_line, x0, x1, linestyles="-.", colors="#7f0000", linewidth=1.0)
            seg.append((pd_line, f"PD threshold {fmt_mm(pd_line)}", "#7f0000"))
        for y, text, colour in seg:
            labels.append((x0, x1, y, text, colour))
        points += [(mdates.date2num(d), y) for d, y in zip(dates, sums)]
        top = max([top] + sums + [v for v in (base, pd_line) if v is not None])
        if i > 0:
            ax.axvline(mdates.date2num(_d(r["line"]["start"])), color="black", linewidth=0.9, linestyle=(0, (4, 2)))
        ax.text(mdates.date2num(_d(r["line"]["start"])), 1.01, f"line {i + 1}: {drug} from {r['line']['start']}",
                transform=ax.get_xaxis_transform(), fontsize=6.0, va="bottom", ha="left" if i == 0 else "left")
        last = rows[-1]
        captions.append(f"{drug} (line {i + 1}, from {r['line']['start']}): baseline {fmt_mm(base)}"
                        + (f", nadir {fmt_mm(nadir)} ({r['current_nadir_date']})" if nadir is not None else "")
                        + (f", PD threshold {fmt_mm(pd_line)}" if pd_line is not None else "")
                        + (f", latest {fmt_mm(last['sum_mm'])} on {last['date']} ({last['overall_label']})"
                           if not last["is_baseline"] else ""))
        values.append(f"{drug}: " + ", ".join(f"{x['date']} {fmt_mm(x['sum_mm'])} "
                                              f"({'baseline' if x['is_baseline'] else x['overall']})" for x in rows))
    ax.set_ylim(0, top * 1.18)
    _place_reference_labels(ax, fig, labels, points)
    ax.set_ylabel("sum of target diameters (mm)")
    ax.set_title("Tumour burden over every line of therapy (RECIST 1.1)", pad=12)
    _date_axis(ax, all_dates)
    from matplotlib.lines import Line2D

    handles, names = ax.get_legend_handles_labels()
    handles += [Line2D([], [], linestyle="--", color="#444444"), Line2D([], [], linestyle=":", color="#444444"),
                Line2D([], [], linestyle="-.", color="#7f0000"), Line2D([], [], linestyle=(0, (4, 2)), color="black"),
                Line2D([], [], marker="X", linestyle="none", color="black")]
    names += ["baseline of the line", "nadir of the line", "PD threshold (nadir +20 %, ≥ +5 mm)", "line change",
              "progression (PD)"]
    ax.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False, ncol=4)
    svg = _svg(plt, fig, "tumor")
    caption = "Sum of target diameters on each line, against that line's own baseline: " + "; ".join(captions) + "."
    return Chart("tumor", "Tumour burden", caption, f"Line chart. {caption} Values: {'; '.join(values)}.", svg, wide=True)


def _place_reference_labels(ax: Any, fig: Any, labels: list[tuple[float, float, float, str, str]],
                            points: list[tuple[float, float]]) -> None:
    """Write each reference line's label just above it, at the right end, the left end or the
    middle of its segment - the first place where it covers no data point and no other label."""
    ax.get_xlim(), ax.get_ylim()  # settle the autoscaled limits before measuring
    trans = ax.transData
    size = 5.6
    px_per_char = size * 0.6 * fig.dpi / 72
    height = size * 1.3 * fig.dpi / 72
    drawn = [trans.transform(p) for p in points]
    taken: list[tuple[float, float, float, float]] = []
    for x0, x1, y, text, colour in sorted(labels, key=lambda t: t[2]):
        width = len(text) * px_per_char
        (dx0, dy), (dx1, _) = trans.transform((x0, y)), trans.transform((x1, y))
        choice = None
        for lift in (2.0, -height - 2.0, height + 4.0):
            for anchor, left in (("right", dx1 - width - 3), ("left", dx0 + 3), ("center", (dx0 + dx1 - width) / 2)):
                if left < dx0 - 1 or left + width > dx1 + 1:
                    continue
                box = (left, dy + lift, left + width, dy + lift + height)
                hits_data = any(box[0] - 3 <= px <= box[2] + 3 and box[1] - 3 <= py <= box[3] + 3 for px, py in drawn)
                hits_label = any(not (box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3]) for t in taken)
                if not hits_data and not hits_label:
                    choice = (anchor, box, lift)
                    break
            if choice:
                break
        if choice is None:  # nowhere free on the segment: right end, above the line
            left = dx1 - width - 3
            choice = ("right", (left, dy + 2.0, dx1 - 3, dy + 2.0 + height), 2.0)
        anchor, box, lift = choice
        taken.append(box)
        x_data, y_data = trans.inverted().transform((box[0] if anchor != "right" else box[2], box[1]))
        ax.text(x_data, y_data, text, fontsize=size, ha="left" if anchor != "right" else "right", va="bottom",
                color=colour, zorder=5)


def tumor_chart(resp: dict[str, Any], report: Report) -> Chart | None:
    """One line's tumour burden (the report's chart when there is only one line)."""
    rows = [r for r in resp["rows"] if r["sum_mm"] is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = _setup(plt, "tumor", (_WIDE_W, _WIDE_H))
    dates = [_d(r["date"]) for r in rows]
    sums = [r["sum_mm"] for r in rows]
    drug = resp["line"]["drug"]
    base = rows[0]["baseline_sum_mm"]
    nadir = resp["current_nadir_mm"]
    pd_line = resp["pd_threshold_mm"]
    ax.plot(dates, sums, "-o", color="black", label="sum of target diameters", zorder=3)
    pds = [(d, s) for r, d, s in zip(rows, dates, sums) if r["overall"] == "PD"]
    if pds:
        ax.plot([d for d, _ in pds], [s for _, s in pds], marker="X", markersize=8, color="black", linestyle="none",
                zorder=4)
    if len(rows) <= 12:
        for r, d, s in zip(rows, dates, sums):
            tag = "BL" if r["is_baseline"] else r["overall"]
            ax.annotate(f"{fmt_num(s)} {tag}", (d, s), textcoords="offset points", xytext=(0, 5), ha="center",
                        va="bottom", fontsize=5.8, bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"})
    if base is not None:
        ax.axhline(base, linestyle="--", color="#444444", linewidth=0.9, label=f"baseline {fmt_mm(base)}")
    if nadir is not None:
        ax.axhline(nadir, linestyle=":", color="#444444", linewidth=1.1, label=f"nadir {fmt_mm(nadir)}")
    if pd_line is not None:
        ax.axhline(pd_line, linestyle="-.", color="#7f0000", linewidth=1.0,
                   label=f"PD threshold {fmt_mm(pd_line)} (nadir +20 %, ≥ +5 mm)")
    top = max(sums + [v for v in (base, pd_line) if v is not None])
    ax.set_ylim(0, top * 1.25)
    ax.set_ylabel("mm")
    ax.set_title(f"Tumour burden on {drug} (RECIST 1.1)")
    _date_axis(ax, dates)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False, ncol=4)
    svg = _svg(plt, fig, "tumor")

    last = rows[-1]
    parts = [f"Sum of target diameters on {drug}: {fmt_mm(base)} at baseline ({rows[0]['date']})"]
    if not last["is_baseline"]:
        parts.append(f"{fmt_mm(last['sum_mm'])} on {last['date']} ({fmt_pct(last['change_from_baseline_pct'])} from "
                     f"baseline; {last['overall_label']})")
    if nadir is not None:
        parts.append(f"nadir {fmt_mm(nadir)} ({resp['current_nadir_date']})")
    if pd_line is not None:
        parts.append(f"PD threshold {fmt_mm(pd_line)} (the larger of nadir + 20 % and nadir + 5 mm)")
    caption = "; ".join(parts) + "."
    values = "; ".join(f"{r['date']} {fmt_mm(r['sum_mm'])} ({'baseline' if r['is_baseline'] else r['overall']})"
                       for r in rows)
    return Chart("tumor", "Tumour burden", caption, f"Line chart. {caption} Values: {values}.", svg, wide=True)


# --------------------------------------------------------------------------- spider plot


def spider_chart(resp: dict[str, Any]) -> Chart | None:
    """Each lesion of the line as % change from its own first value: every target (nodes too),
    the non-targets that were measured, and new lesions from the scan where they first appeared
    (drawn with a star there)."""
    courses = [c for c in resp["lesions"] if len(_spider_points(c)) >= (1 if c["role"] == "new" else 2)]
    if not courses:
        return None
    plt = _plt()
    fig, ax = _setup(plt, "spider")
    all_dates: list[date] = [_d(d) for d in resp["dates"]]
    ends = []
    for i, c in enumerate(courses):
        pts = _spider_points(c)
        dates = [_d(p["date"]) for p in pts]
        vals = [p["change_from_baseline_pct"] for p in pts]
        all_dates += dates
        ls, mk = _STYLES[i % len(_STYLES)]
        kind = " (node)" if c["is_node"] else (" (new)" if c["role"] == "new" else "")
        ax.plot(dates, vals, linestyle=ls, marker=mk, color=_GREYS[i % len(_GREYS)], markerfacecolor="white",
                markersize=3.2, label=f"{c['label']}{kind} ({fmt_pct(vals[-1])})")
        if c["role"] == "new":
            ax.plot([dates[0]], [vals[0]], marker="*", markersize=10, color="#7f0000", linestyle="none", zorder=5)
            ax.annotate(f"new: {c['label']}", (dates[0], vals[0]), textcoords="offset points", xytext=(-4, 7),
                        ha="right", fontsize=5.6, color="#7f0000")
        ends.append((c, pts[-1]))
    ax.axhline(0, color="black", linewidth=0.7)
    ax.axhline(20, color="#888888", linewidth=0.6, linestyle=(0, (2, 2)))
    ax.axhline(-30, color="#888888", linewidth=0.6, linestyle=(0, (2, 2)))
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, -40), max(hi, 30))
    ax.text(1.0, 20, "+20 %", transform=ax.get_yaxis_transform(), fontsize=5.5, va="center", ha="left", color="#555555")
    ax.text(1.0, -30, "−30 %", transform=ax.get_yaxis_transform(), fontsize=5.5, va="center", ha="left", color="#555555")
    ax.set_ylabel("% change from baseline")
    ax.set_title(f"Each lesion on {resp['line']['drug']} (spider plot)")
    _date_axis(ax, all_dates)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=2)
    svg = _svg(plt, fig, "spider")

    growing = [c for c, last in ends if c["role"] != "new" and c.get("nadir_mm") is not None
               and last["size_mm"] is not None and last["size_mm"] > c["nadir_mm"]]
    parts = [f"{c['label']}{' (new since ' + c['points'][0]['date'] + ')' if c['role'] == 'new' else ''} "
             f"{fmt_pct(last['change_from_baseline_pct'])} ({fmt_mm(_first_size(c))} → {fmt_mm(last['size_mm'])})"
             for c, last in ends]
    caption = f"Change from baseline on {resp['line']['drug']}, latest scan: " + "; ".join(parts) + "."
    if growing:
        caption += " Growing from its own nadir: " + ", ".join(
            f"{c['label']} ({fmt_mm(c['nadir_mm'])} → {fmt_mm(_last_size(c))})" for c in growing) + "."
    if any(c["role"] == "new" for c, _ in ends):
        caption += " A new lesion (★) is drawn from the scan where it first appeared, as % change from that size."
    caption += " The −30 % and +20 % lines are the RECIST thresholds for the sum, drawn for orientation."
    values = " ".join(f"{c['label']}: " + ", ".join(f"{p['date']} {fmt_pct(p['change_from_baseline_pct'])}"
                                                     for p in _spider_points(c)) + "."
                      for c, _ in ends)
    return Chart("spider", "Spider plot", caption, f"Line chart, one line per lesion. {caption} Values: {values}", svg)


def _spider_points(c: dict[str, Any]) -> list[dict[str, Any]]:
    """The points with a % change; a new lesion's first measurement is its own reference (0 %)."""
    pts = []
    for k, p in enumerate(c["points"]):
        if p["change_from_baseline_pct"] is not None:
            pts.append(p)
        elif c["role"] == "new" and not pts and p["size_mm"] is not None:
            pts.append(dict(p, change_from_baseline_pct=0.0))
    return pts


def _first_size(c: dict[str, Any]) -> float | None:
    return next((p["size_mm"] for p in c["points"] if p["size_mm"] is not None), None)


def _last_size(c: dict[str, Any]) -> float | None:
    return next((p["size_mm"] for p in reversed(c["points"]) if p["size_mm"] is not None), None)


# --------------------------------------------------------------------------- markers


def marker_chart(series: dict[str, Any], report: Report) -> Chart | None:
    vals = [v for v in series["values"] if v["value"] is not None]
    if not vals:
        return None
    positive = [v for v in vals if v["value"] > 0]
    name, unit = series["marker"], series["unit"]
    key = "marker-" + re.sub(r"[^A-Za-z0-9]+", "-", name)
    plt = _plt()
    fig, ax = _setup(plt, key)
    dates = [_d(v["date"]) for v in positive]
    ys = [v["value"] for v in positive]
    ax.plot(dates, ys, "-o", color="black", markerfacecolor="white", label=f"{name} ({unit})", zorder=3)
    if len(positive) <= 12:
        for d, y in zip(dates, ys):
            ax.annotate(fmt_value(y), (d, y), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=5.8)
    ax.set_yscale("log")
    uln = series["uln"]
    if uln:
        ax.axhline(uln, linestyle="--", color="#7f0000", linewidth=1.0, label=f"upper limit of normal {fmt_value(uln)}")
    for ln in report.lines:
        start = _d(ln["start"])
        if dates and min(dates) <= start <= max(dates):
            ax.axvline(start, linestyle=":", color="#555555", linewidth=0.8)
            ax.text(start, 1.01, f"{ln['drug']}", transform=ax.get_xaxis_transform(), fontsize=5.5,
                    va="bottom", ha="center", color="#333333")
    lo = min(ys + ([uln] if uln else []))
    hi = max(ys + ([uln] if uln else []))
    ax.set_ylim(lo / 1.8, hi * 2.2)
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    dt = series["doubling_time_text"]
    title = f"{name}, log scale" + (f" — doubling time {dt}" if dt else "")
    ax.set_title(title, pad=11)
    ax.set_ylabel(unit)
    _date_axis(ax, dates)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncol=2)
    svg = _svg(plt, fig, key)

    last = vals[-1]
    parts = [f"{name} ({unit}) on a log scale: {fmt_value(vals[0]['value'])} on {vals[0]['date']}"]
    if len(vals) > 1:
        parts.append(f"latest {fmt_value(last['value'])} on {last['date']}")
    if uln:
        where = "above" if last["value"] > uln else "not above"
        parts.append(f"{where} the upper limit of normal ({fmt_value(uln)})")
    if series["nadir"] is not None:
        parts.append(f"nadir on this treatment {fmt_value(series['nadir'])} ({series['nadir_date']})")
    if dt:
        parts.append(f"doubling time {dt} (fitted to the last {series['fit_points']} values)")
    elif series.get("halving_time_text"):
        parts.append(f"halving time {series['halving_time_text']}")
    caption = "; ".join(parts) + "."
    if len(positive) < len(vals):
        caption += f" {len(vals) - len(positive)} value(s) of 0 cannot be drawn on a log scale and are listed in the table."
    values = "; ".join(f"{v['date']} {fmt_value(v['value'])}" for v in vals)
    return Chart(key, f"{name} trend", caption, f"Line chart. {caption} Values: {values}.", svg)


# --------------------------------------------------------------------------- therapy timeline


def timeline_chart(report: Report) -> Chart | None:
    tl = report.timeline
    lines = tl["lines"]
    if not lines:
        return None
    import matplotlib.dates as mdates

    plt = _plt()
    n = len(lines)
    wide = n > 1
    fig, ax = _setup(plt, "timeline", (_WIDE_W if wide else _W, max(1.1, 0.45 + 0.42 * n)))
    end = _d(tl["end"])
    all_dates = [end]
    for i, ln in enumerate(lines):
        y = n - 1 - i
        start = _d(ln["start"])
        stop = _d(ln["end"]) if ln["end"] else end
        all_dates += [start, stop]
        ax.barh(y, (stop - start).days, left=mdates.date2num(start), height=0.36, color="#e6e6e6",
                edgecolor="black", linewidth=0.8, hatch=None if ln["ongoing"] else "////")
        label = f"{ln['drug']} ({fmt_num(ln['months'])} mo{', ongoing' if ln['ongoing'] else ''})"
        ax.text(mdates.date2num(start), y + 0.26, label, fontsize=6.2, va="bottom", ha="left")
    ys = {ln["id"]: n - 1 - i for i, ln in enumerate(lines)}
    # the markers of one kind are one line without a stroke (one artist, not one per scan), added in
    # the order the kinds first appear (the legend's order); progression and resistance markers are
    # drawn over the scans' circles
    points: dict[str, tuple[list[float], list[float]]] = {}
    previous: dict[Any, str] = {}
    for e in tl["events"]:
        d = _d(e["date"])
        y = ys.get(e["line_id"], _line_at(lines, d, ys))
        if y is None:
            continue
        all_dates.append(d)
        x = mdates.date2num(d)
        xs_ys = points.setdefault(e["kind"] if e["kind"] in ("scan", "pd") else "resistance", ([], []))
        xs_ys[0].append(x)
        xs_ys[1].append(y)
        if e["kind"] == "scan":
            if previous.get(e["line_id"]) != e["label"]:  # label where the response changes, not every scan
                ax.text(x, y - 0.24, e["label"], fontsize=5.6, ha="center", va="top")
            previous[e["line_id"]] = e["label"]
        elif e["kind"] == "pd":
            ax.text(x, y - 0.24, "PD", fontsize=5.8, ha="center", va="top", fontweight="bold")
        else:
            ax.text(x, y + 0.22, e["label"], fontsize=5.6, ha="center", va="bottom", color="#7f0000")
    for kind, (xs, ys_) in points.items():
        if kind == "scan":
            ax.plot(xs, ys_, marker="o", markersize=4.2, color="black", markerfacecolor="white", linestyle="none",
                    label="scan (RECIST response below)")
        elif kind == "pd":
            ax.plot(xs, ys_, marker="X", markersize=7, color="black", linestyle="none", label="progression (PD)",
                    zorder=2.2)
        else:
            ax.plot(xs, ys_, marker="D", markersize=5, color="#7f0000", linestyle="none",
                    label="resistance variant found", zorder=2.1)
    ax.set_yticks([])
    ax.set_ylim(-0.8, n - 0.2 + 0.25)
    ax.spines["left"].set_visible(False)
    ax.xaxis_date()
    ax.set_title("Therapy timeline")
    _date_axis(ax, all_dates)
    ax.grid(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=3, frameon=False, fontsize=5.6)
    svg = _svg(plt, fig, "timeline")

    parts = []
    for ln in lines:
        span = f"from {ln['start']} " + ("ongoing" if ln["ongoing"] else f"to {ln['end']}" +
                                         (f" ({ln['stop_reason']})" if ln["stop_reason"] else ""))
        parts.append(f"{ln['drug']} {span}, {fmt_num(ln['months'])} months")
    caption = "Therapy lines: " + "; ".join(parts) + "."
    scans = [e for e in tl["events"] if e["kind"] in ("scan", "pd")]
    if scans and len(scans) <= 12:
        caption += " Scans: " + ", ".join(f"{e['date']} {e['label']}" for e in scans) + "."
    elif scans:
        pds = [e for e in scans if e["kind"] == "pd"]
        caption += (f" {len(scans)} scans (each in the response table)"
                    + (": progression on " + ", ".join(e["date"] for e in pds) if pds else "") + ".")
    res = [e for e in tl["events"] if e["kind"] == "resistance"]
    if res:
        caption += " Resistance findings: " + ", ".join(f"{e['label']} detected {e['date']}" for e in res) + "."
    return Chart("timeline", "Therapy timeline", caption, f"Timeline chart. {caption}", svg, wide=wide)


def _line_at(lines: list[dict[str, Any]], d: date, ys: dict[int, int]) -> int | None:
    for ln in lines:
        if _d(ln["start"]) <= d and (ln["end"] is None or d <= _d(ln["end"])):
            return ys[ln["id"]]
    return None
