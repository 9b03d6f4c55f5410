"""Tumour-marker kinetics (nadir, consecutive rises, ULN, doubling/halving time) and findings.

No guideline defines "marker progression" on targeted therapy, and ESMO 2018 does not
recommend routine CEA monitoring.  Studies have, however, linked a rising CEA with
progression: Arrieta 2013 (a rise >= 18 % after two cycles was associated with PD) and
Gao 2017 (on EGFR TKIs a CEA rise preceded CT progression by about 4.5 months).  The default
rule combines three conditions so that one noisy value never raises a flag (see
docs/rules.md, ``marker.rising``):

* at least ``rising_min_consecutive`` (2) consecutive rises at the end of the series,
* the latest value at least ``rising_min_pct_over_nadir`` (20 %) above the nadir of the
  current therapy line (between Arrieta's 18 % and RECIST's 20 % convention), and
* the latest value above the upper limit of normal (``rising_requires_above_uln``), so
  small movements inside the normal range are not flagged.

Doubling time follows the PSA-doubling-time convention (Pound 1999): least-squares fit of
ln(value) against time over the final rising run, DT = ln 2 / slope.  Only the final run is
fitted, because fitting points that do not lie on one exponential (a fall then a rise) gives
a meaningless slope.

Values outside the assay range (``MarkerResult.comparator`` "<" or ">", e.g. "<0.5",
">1000") are never used as exact numbers: "<0.5" is below the ULN and is a rise only to a value
of at least 0.5; ">1000" is above the ULN when 1000 is; a percentage from a "<" nadir (or to a
">" latest value) is a lower bound, said as "at least"; and the doubling/halving time is fitted
only on the exact values after the last censored one in the run (or not at all).

Everything here is a pure function of the history; "since the line began" means values dated
on or after the start of the latest therapy line (all values when there is no line).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from operator import attrgetter
from typing import Any

from lungtrack.core.fastinit import fast_init
from lungtrack.core.config import RulesConfig
from lungtrack.core.decimal_math import D, at_least_pct_increase, pct_change
from lungtrack.core.findings import Finding
from lungtrack.core.history import History, MarkerResult, TherapyLine, markers_by_kind
from lungtrack.enums import Marker, Severity
from lungtrack.knowledge.markers import default_uln
from lungtrack.knowledge.sources import cite

LN2 = math.log(2)
SCLC_MARKERS = (Marker.NSE, Marker.PROGRP)


@fast_init
@dataclass(frozen=True, slots=True)
class MarkerPoint:
    date: date
    value: float
    comparator: str | None = None  # "<" / ">": the true value is below / above ``value`` (assay limit)

    @property
    def censored(self) -> bool:
        return self.comparator in ("<", ">")

    @property
    def text(self) -> str:
        """The value as the lab printed it: "7.4", "<0.5", ">1000"."""
        return f"{self.comparator or ''}{fmt_value(self.value)}"


def certainly_above(b: MarkerPoint, a: MarkerPoint) -> bool:
    """True when ``b`` is certainly higher than ``a``, values outside the assay range included.

    "<0.5" -> 3 is a rise; "<0.5" -> "<0.5", "<0.5" -> 0.4 and ">1000" -> ">1000" are not known
    to be rises; 500 -> ">1000" is one.  (The lowest possible value of ``b`` must reach the
    highest possible value of ``a``; equality counts only when one side is a strict bound.)
    """
    if b.comparator == "<" or a.comparator == ">":
        return False  # b may be arbitrarily low, or a arbitrarily high
    lo_b, hi_a = D(b.value), D(a.value)
    if lo_b > hi_a:
        return True
    return lo_b == hi_a and (b.comparator == ">" or a.comparator == "<")


@fast_init
@dataclass(frozen=True, slots=True)
class MarkerKinetics:
    marker: Marker
    unit: str
    points: tuple[MarkerPoint, ...]  # since the line began, date order, one per date
    latest: MarkerPoint | None
    nadir: MarkerPoint | None
    pct_above_nadir: float | None  # None when the nadir is 0 (undefined) or no points
    consecutive_rises: int  # length of the current run of strictly rising values at the end
    uln: float | None
    uln_source: str  # "lab" when the lab's own limit was given on the latest result, else the default's note
    above_uln: bool
    doubling_time_days: float | None
    halving_time_days: float | None
    fit_points: int  # values used for the doubling (or halving) time fit; 0 if none
    trend: str  # "rising", "falling", "stable", "insufficient"
    consecutive_falls: int = 0
    # Values outside the assay range ("<0.5", ">1000"): ``pct_above_nadir`` is then a lower
    # bound when the nadir is "<" or the latest ">" (the true change is at least that), and the
    # doubling/halving fit uses only the exact values at the end of the run.
    pct_is_lower_bound: bool = False
    censored_in_run: int = 0  # censored values in the final rising/falling run (left out of the fit)


def current_line(history: History) -> TherapyLine | None:
    """The latest therapy line by start date (ended or not): the one whose effect we judge."""
    if not history.lines:
        return None
    return max(history.lines, key=lambda l: (l.start, l.id))


def _dedupe(results: list[MarkerResult]) -> list[MarkerResult]:
    """One result per date: the one entered last (highest id), on the idea that it corrects
    an earlier entry.  (Two draws on one day are rare; plausibility rules flag odd pairs.)"""
    by_date: dict[date, MarkerResult] = {}
    for r in sorted(results, key=lambda r: (r.date, r.id)):
        by_date[r.date] = r
    return [by_date[d] for d in sorted(by_date)]


def _run_length(points: Sequence[MarkerPoint], rising: bool) -> int:
    """Number of certain strict steps in the same direction at the end of ``points``."""
    n = 0
    for i in range(len(points) - 1, 0, -1):
        b, a = points[i], points[i - 1]
        if certainly_above(b, a) if rising else certainly_above(a, b):
            n += 1
        else:
            break
    return n


def _nadir_key(p: MarkerPoint) -> tuple[int, Decimal, int, date]:
    """Lowest first: ">x" values last (no upper bound), "<x" before an exact x."""
    return (1 if p.comparator == ">" else 0, D(p.value), 0 if p.comparator == "<" else 1, p.date)


def _nadir(points: Sequence[MarkerPoint]) -> MarkerPoint | None:
    """``min(points, key=_nadir_key)``.  When every value is an exact finite float (no "<"/">"),
    the key's order is that of ``(value, date)``: ``D()`` of a float keeps the floats' order,
    and equal floats give equal decimals, so the same point comes first, with no decimal."""
    if not points:
        return None
    for p in points:
        v = p.value
        if p.comparator is not None or type(v) is not float or v - v != 0:  # v - v: NaN for NaN and infinities
            return min(points, key=_nadir_key)
    return min(points, key=_VALUE_DATE)


_VALUE_DATE = attrgetter("value", "date")


def _exact_tail(run: Sequence[MarkerPoint]) -> list[MarkerPoint]:
    """The exact values at the end of ``run`` (after its last censored value)."""
    tail: list[MarkerPoint] = []
    for p in reversed(run):
        if p.censored:
            break
        tail.append(p)
    return list(reversed(tail))


def log_linear_slope(points: list[MarkerPoint]) -> float | None:
    """Least-squares slope of ln(value) per day; ``None`` when undefined (value <= 0, < 2 points)."""
    if len(points) < 2 or any(p.value <= 0 for p in points):
        return None
    x0 = points[0].date
    xs = [(p.date - x0).days for p in points]
    ys = [math.log(p.value) for p in points]
    mx = sum(xs) / len(xs)
    my = sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def _uln(history: History, marker: Marker, latest: MarkerResult) -> tuple[float | None, str]:
    if latest.uln is not None:
        return latest.uln, "lab"
    try:
        default = default_uln(marker, history.patient.smoking)
    except (KeyError, ValueError):
        return None, ""
    if default is None:
        return None, ""
    value, note = default
    return value, note


def _kinetics(history: History, marker: Marker, results: list[MarkerResult], config: RulesConfig) -> MarkerKinetics:
    results = _dedupe(results)
    points = tuple(MarkerPoint(r.date, r.value, r.comparator if r.comparator in ("<", ">") else None)
                   for r in results)
    latest = points[-1] if points else None
    unit = results[-1].unit if results else ""
    nadir = _nadir(points)
    pct = None
    bound = False
    # A change from a nadir above the range (">x") or to a latest value below it ("<x") is
    # unknown; from a nadir "<x" or to a latest ">x" the change computed on the limits is the
    # least the true change can be.
    if latest is not None and nadir is not None and nadir.comparator != ">" and latest.comparator != "<":
        change = pct_change(D(latest.value), D(nadir.value))
        pct = float(change) if change is not None else None
        bound = pct is not None and (nadir.comparator == "<" or latest.comparator == ">")
    rises = _run_length(points, rising=True)
    falls = _run_length(points, rising=False)
    uln, uln_source = (None, "") if not results else _uln(history, marker, results[-1])
    above = latest is not None and uln is not None and _above(latest, D(uln))

    min_points = max(config.markers.doubling_min_points, 2)
    doubling = halving = None
    fit = 0
    censored = 0
    if rises + 1 >= min_points:
        run = list(points[-(rises + 1):])
        censored = sum(p.censored for p in run)
        tail = _exact_tail(run)
        slope = log_linear_slope(tail) if len(tail) >= min_points else None
        if slope is not None and slope > 0:
            doubling, fit = LN2 / slope, len(tail)
    elif falls + 1 >= min_points:
        run = list(points[-(falls + 1):])
        censored = sum(p.censored for p in run)
        tail = _exact_tail(run)
        slope = log_linear_slope(tail) if len(tail) >= min_points else None
        if slope is not None and slope < 0:
            halving, fit = LN2 / -slope, len(tail)

    if len(points) < 2:
        trend = "insufficient"
    elif rises:
        trend = "rising"
    elif falls:
        trend = "falling"
    else:
        trend = "stable"
    return MarkerKinetics(marker, unit, points, latest, nadir, pct, rises, uln, uln_source, above,
                          doubling, halving, fit, trend, falls, bound, censored)


def _above(p: MarkerPoint, uln: Decimal) -> bool:
    """Above the upper limit of normal: "<x" never (it is at most x, below the detection limit);
    ">x" when x >= ULN; an exact value when it is > ULN."""
    if p.comparator == "<":
        return False
    if p.comparator == ">":
        return D(p.value) >= uln
    return D(p.value) > uln


def marker_kinetics(
    history: History, config: RulesConfig = RulesConfig(), line: TherapyLine | None = None, *,
    by_kind: Sequence[tuple[Marker, list[MarkerResult]]] | None = None,
) -> tuple[MarkerKinetics, ...]:
    """Kinetics of every marker measured since ``line`` began (default: the latest line).

    Values before the line started belong to an earlier treatment and would give a wrong
    nadir (a pre-treatment peak is not a nadir).  Order: the ``Marker`` enum order.
    ``by_kind``: ``markers_by_kind(history.markers)``, when the caller already has it.
    """
    line = line if line is not None else current_line(history)
    out = []
    since = line.start if line is not None else None
    for marker, all_results in (markers_by_kind(history.markers) if by_kind is None else by_kind):
        results = all_results if since is None else [r for r in all_results if r.date >= since]
        if results:
            out.append(_kinetics(history, marker, results, config))
    return tuple(out)


# --------------------------------------------------------------------------- findings


def fmt_value(x: float) -> str:
    """A marker value as typed: 5.6 -> "5.6", 12.0 -> "12"."""
    text = format(D(x).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _pct_display(pct: float) -> str:
    """Whole percent, truncated toward zero, so 19.96 % never shows as "+20 %"."""
    q = D(pct).quantize(Decimal("1"), rounding=ROUND_DOWN)
    return ("+" if q >= 0 else "") + format(q, "f")


def _spacing(points: list[MarkerPoint]) -> str:
    gaps = [(b.date - a.date).days for a, b in zip(points, points[1:])]
    if not gaps:
        return ""
    if len(set(gaps)) == 1:
        g = gaps[0]
        if g % 7 == 0:
            n = g // 7
            return f"{n} week{'s' if n != 1 else ''} apart"
        return f"{g} day{'s' if g != 1 else ''} apart"
    return f"{points[0].date.isoformat()} to {points[-1].date.isoformat()}"


def fmt_duration_days(days: float) -> str:
    """Doubling/halving time as people say it: weeks from 2 weeks on, otherwise days."""
    if days >= 14:
        return f"{days / 7:.1f} weeks"
    return f"{days:.1f} days"


def rising_rule_met(k: MarkerKinetics, config: RulesConfig = RulesConfig()) -> bool:
    """The default ``marker.rising`` rule (all three conditions; boundaries inclusive)."""
    mc = config.markers
    if k.latest is None or k.nadir is None:
        return False
    if k.consecutive_rises < mc.rising_min_consecutive or k.consecutive_rises == 0:
        return False
    if not at_least_pct_increase(D(k.latest.value), D(k.nadir.value), D(mc.rising_min_pct_over_nadir)):
        return False
    if mc.rising_requires_above_uln and not k.above_uln:
        return False
    return True


def _sclc_trigger(k: MarkerKinetics, config: RulesConfig) -> bool:
    if k.marker not in SCLC_MARKERS:
        return False
    if rising_rule_met(k, config):
        return True
    needed = max(config.markers.rising_min_consecutive, 1)
    return k.consecutive_rises >= needed and k.above_uln


def _evidence(k: MarkerKinetics) -> str:
    assert k.latest is not None and k.nadir is not None
    run = list(k.points[-(k.consecutive_rises + 1):])
    series = " → ".join(p.text for p in run)
    spacing = _spacing(run)
    parts = [f"{k.marker.value} rising: {series} {k.unit}" + (f" ({spacing})" if spacing else "")]
    n = k.consecutive_rises
    parts.append(f"{n} consecutive rise{'s' if n != 1 else ''}")
    if k.pct_above_nadir is not None:
        least = "at least " if k.pct_is_lower_bound else ""
        nadir_text = f" ({k.nadir.text} {k.unit})" if k.nadir.censored else ""
        parts.append(f"{least}{_pct_display(k.pct_above_nadir)} % from nadir{nadir_text}")
    else:
        parts.append(f"up from a nadir of {k.nadir.text} {k.unit}")
    if k.doubling_time_days is not None:
        dt = f"doubling time {fmt_duration_days(k.doubling_time_days)}"
        if k.censored_in_run:
            dt += f" (from the last {k.fit_points} values inside the assay range)"
        parts.append(dt)
    elif k.censored_in_run:
        parts.append("doubling time not computed across values outside the assay range")
    text = ", ".join(parts) + "."
    if k.uln is not None:
        where = "above" if k.above_uln else "not above"
        which = "the lab's limit" if k.uln_source == "lab" else "lungtrack's default; the lab's own limit takes precedence"
        text += f" Latest value {where} the upper limit of normal ({fmt_value(k.uln)} {k.unit}, {which})."
    return text


def _data(k: MarkerKinetics) -> dict[str, Any]:
    return {
        "marker": k.marker.value,
        "unit": k.unit,
        "values": [{"date": p.date.isoformat(), "value": p.value, "comparator": p.comparator} for p in k.points],
        "latest": k.latest.value if k.latest else None,
        "latest_comparator": k.latest.comparator if k.latest else None,
        "nadir": k.nadir.value if k.nadir else None,
        "nadir_comparator": k.nadir.comparator if k.nadir else None,
        "nadir_date": k.nadir.date.isoformat() if k.nadir else None,
        "pct_above_nadir": round(k.pct_above_nadir, 2) if k.pct_above_nadir is not None else None,
        "pct_above_nadir_is_lower_bound": k.pct_is_lower_bound,
        "consecutive_rises": k.consecutive_rises,
        "uln": k.uln,
        "uln_source": k.uln_source,
        "above_uln": k.above_uln,
        "doubling_time_days": round(k.doubling_time_days, 2) if k.doubling_time_days is not None else None,
        "fit_points": k.fit_points,
    }


_SUPPORT_SHORT = "Markers support imaging; they do not replace it."
_SUPPORT = (
    "Markers support imaging; they do not replace it (ESMO 2018 does not recommend routine CEA monitoring; "
    "in Gao 2017 a CEA rise on EGFR TKIs came about 4.5 months before progression on CT)."
)


def marker_findings(history: History, config: RulesConfig = RulesConfig(), *,
                    kinetics: Sequence[MarkerKinetics] | None = None) -> list[Finding]:
    """``marker.rising`` (watch) and, for NSE/ProGRP, ``marker.sclc_watch`` (watch).

    For NSE and ProGRP the rise is reported once, as ``marker.sclc_watch`` (which carries the
    same evidence), so one event never makes two findings.  ``kinetics``: what
    :func:`marker_kinetics` gives for ``history`` and ``config``, when already computed.
    """
    out: list[Finding] = []
    pid = history.patient.id
    for k in (marker_kinetics(history, config) if kinetics is None else kinetics):
        if k.latest is None:
            continue
        if _sclc_trigger(k, config):
            out.append(Finding(
                rule="marker.sclc_watch",
                subject=k.marker.value,
                date=k.latest.date,
                severity=Severity.WATCH,
                title=f"{k.marker.value} rising (small-cell marker)",
                evidence=_evidence(k),
                source="; ".join([cite("lungtrack_design"), cite("yu2013"), cite("pmc5451759")]),
                discuss=(
                    f"{k.marker.value} is a marker of small-cell and neuroendocrine cancer; transformation to "
                    "small-cell lung cancer is a known (uncommon, about 3 %) resistance mechanism. This trigger is "
                    "lungtrack's design choice, not a validated rule. " + _SUPPORT_SHORT + " "
                    "Topic to discuss: whether this rise could mean small-cell transformation, and how it fits "
                    "the latest imaging."
                ),
                patient_id=pid,
                data=_data(k),
            ))
        elif rising_rule_met(k, config):
            out.append(Finding(
                rule="marker.rising",
                subject=k.marker.value,
                date=k.latest.date,
                severity=Severity.WATCH,
                title=f"{k.marker.value} rising",
                evidence=_evidence(k),
                source="; ".join([cite("arrieta2013"), cite("gao2017"), cite("esmo2018")]),
                discuss=_SUPPORT + f" Topic to discuss: how the rising {k.marker.value} fits the latest imaging.",
                patient_id=pid,
                data=_data(k),
            ))
    return out
