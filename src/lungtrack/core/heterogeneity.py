"""Per-lesion courses and mixed response (pure).

RECIST 1.1 judges the *sum* of the target lesions, so one lesion can double in size while the
sum still reads "stable" or "partial response".  Under targeted therapy that pattern matters:
tumours are mixed, and one resistant clone can grow while the rest keep responding.  This
module follows each lesion on its own (used for the spider plot) and raises
``lesion.mixed_response`` when a single lesion grows by the RECIST progression thresholds from
its *own* nadir on a scan whose overall response is not PD.  No published rule defines this:
it is lungtrack's own extension, borrowing the RECIST 1.1 thresholds (Eisenhauer 2009).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Sequence

from lungtrack.core.fastinit import fast_init
from lungtrack.core.config import RecistConfig, RulesConfig
from lungtrack.core.decimal_math import (
    _ROUNDED_FLOATS,
    ZERO,
    D,
    at_least_pct_increase,
    fmt_mm,
    fmt_pct,
    pct_change,
    rounded_float,
    to_float,
)
from lungtrack.core.findings import Finding
from lungtrack.core.history import History, Lesion, Measurement
from lungtrack.core.recist import PD, LineResponse, effective_mm, merged_rows_of
from lungtrack.enums import MeasurementStatus, Severity
from lungtrack.knowledge.sources import cite


@fast_init
@dataclass(frozen=True, slots=True)
class LesionPoint:
    date: date
    size_mm: float | None  # the RECIST value: measured size, 5 mm if too small, 0 if disappeared
    status: MeasurementStatus  # NOT_EVALUATED also when the lesion has no row on that study
    change_from_baseline_pct: float | None


@fast_init
@dataclass(frozen=True, slots=True)
class LesionCourse:
    lesion_id: int
    label: str
    site: str
    is_node: bool
    role: str  # "target" / "non-target" / "new"
    points: tuple[LesionPoint, ...]
    nadir_mm: float | None
    nadir_date: date | None


def _rows_by_timepoint(history: History, response: LineResponse) -> list[dict[int, Measurement]]:
    return merged_rows_of(history, [tp.study_ids or (tp.study_id,) for tp in response.timepoints])


def _course(
    lesion: Lesion,
    role: str,
    response: LineResponse,
    rows: list[dict[int, Measurement]],
    start_index: int,
    config: RulesConfig,
) -> LesionCourse:
    points: list[LesionPoint] = []
    baseline: Decimal | None = None
    if role != "new" and rows:
        baseline = effective_mm(rows[0].get(lesion.id), config.recist)
    nadir: Decimal | None = None
    nadir_date: date | None = None
    for tp, tp_rows in list(zip(response.timepoints, rows))[start_index:]:
        row = tp_rows.get(lesion.id)
        value = effective_mm(row, config.recist)
        status = row.status if row is not None and value is not None else MeasurementStatus.NOT_EVALUATED
        pct = pct_change(value, baseline) if value is not None and baseline is not None else None
        points.append(LesionPoint(tp.date, to_float(value), status, to_float(pct, 2)))
        if value is not None and (nadir is None or value < nadir):
            nadir, nadir_date = value, tp.date
    return LesionCourse(
        lesion_id=lesion.id,
        label=lesion.label,
        site=lesion.site,
        is_node=lesion.is_node,
        role=role,
        points=tuple(points),
        nadir_mm=to_float(nadir),
        nadir_date=nadir_date,
    )


def lesion_courses(
    history: History, response: LineResponse, config: RulesConfig = RulesConfig()
) -> tuple[LesionCourse, ...]:
    """Each lesion's course over the line's time points (targets, then non-targets, then new
    lesions that have a lesion identity), with the % change from its own baseline value."""
    if not response.timepoints:
        return ()
    lesions = {l.id: l for l in history.lesions}
    rows = _rows_by_timepoint(history, response)
    out: list[LesionCourse] = []
    for t in response.targets:
        out.append(_course(lesions[t.lesion_id], "target", response, rows, 0, config))
    for lid in sorted(response.non_targets, key=lambda i: (lesions[i].label.lower(), i)):
        out.append(_course(lesions[lid], "non-target", response, rows, 0, config))
    known = {t.lesion_id for t in response.targets} | set(response.non_targets)
    by_label: dict[str, list[Lesion]] = {}
    for lesion in history.lesions:
        if lesion.id not in known:
            by_label.setdefault(lesion.label.strip().lower(), []).append(lesion)
    new: list[tuple[int, str, int, Lesion]] = []
    for index, tp in enumerate(response.timepoints):
        for name in tp.new_lesions:
            for lesion in by_label.pop(name.strip().lower(), []):
                new.append((index, lesion.label.lower(), lesion.id, lesion))
    for index, _, _, lesion in sorted(new):
        out.append(_course(lesion, "new", response, rows, index, config))
    return tuple(out)


def mixed_response_findings(
    history: History, responses: Sequence[LineResponse], config: RulesConfig = RulesConfig(), *,
    timepoint_rows: Sequence[list[dict[int, Measurement]]] | None = None,
) -> list[Finding]:
    """``lesion.mixed_response`` (watch): one baseline lesion grew >= 20 % and >= 5 mm from its
    own nadir on a scan whose overall RECIST response is not PD.

    Raised once per growth episode, on its first scan: the episode lasts while the lesion stays
    above the thresholds against the same nadir (scans where it is not evaluated do not end it).
    An episode that starts on a PD scan raises nothing (the progression finding covers it).

    ``timepoint_rows`` (from :func:`lungtrack.core.recist.assess_history_with_rows`): each
    response's merged rows per time point, already computed by the assessment.
    """
    pct = D(config.heterogeneity.lesion_growth_pct)
    min_mm = D(config.heterogeneity.lesion_growth_min_mm)
    # A size not above the nadir has not grown (its growth is <= 0 < min_mm): compared as floats,
    # which order as their D() values do (D() of a float lies in that float's own rounding
    # interval), so most values need no decimal at all.  NaN fails both float tests and takes
    # the decimal path, as before.
    quick = min_mm > ZERO
    found: dict[str, Finding] = {}
    for i, response in enumerate(responses):
        rows = timepoint_rows[i] if timepoint_rows is not None else None
        courses = baseline_lesion_sizes(history, response, config, rows=rows)
        timepoints = response.timepoints
        for course in courses:
            nadir: Decimal | None = None
            nadir_f: float | None = None  # the float the nadir came from
            nadir_date: date | None = None
            in_episode = False
            for index, size_mm in enumerate(course.sizes):
                if size_mm is None:
                    continue
                if quick and nadir_f is not None and size_mm <= nadir_f:
                    if not timepoints[index].is_baseline:
                        in_episode = False
                    if size_mm < nadir_f:
                        nadir_f, nadir, nadir_date = size_mm, None, timepoints[index].date
                    continue
                if nadir is None and nadir_f is not None:
                    nadir = D(nadir_f)
                value = D(size_mm)
                tp = timepoints[index]
                if nadir is not None and not tp.is_baseline:
                    grew = value - nadir >= min_mm and at_least_pct_increase(value, nadir, pct)
                    if grew and not in_episode:
                        in_episode = True
                        if tp.overall != PD:
                            f = _finding(history, response, course, courses, index, value, nadir, nadir_date)
                            found.setdefault(f.id, f)
                    elif not grew:
                        in_episode = False
                if nadir is None or value < nadir:
                    nadir, nadir_f, nadir_date = value, size_mm, tp.date
    return list(found.values())


@fast_init
@dataclass(frozen=True, slots=True)
class LesionSizes:
    """A baseline lesion's sizes at every time point of a line: the ``size_mm`` of each point of
    its :class:`LesionCourse`, without the rest of the course (what the mixed-response rule reads)."""

    lesion_id: int
    label: str
    sizes: tuple[float | None, ...]


def baseline_lesion_sizes(
    history: History, response: LineResponse, config: RulesConfig = RulesConfig(), *,
    rows: list[dict[int, Measurement]] | None = None,
) -> list[LesionSizes]:
    """The targets' and non-targets' sizes, in the order of :func:`lesion_courses` (whose
    ``points[i].size_mm`` they equal), computed without the courses' percentages and points.
    ``rows``: the merged rows of each time point when already known."""
    if not response.timepoints:
        return []
    lesions = {l.id: l for l in history.lesions}
    if rows is None:
        rows = _rows_by_timepoint(history, response)
    recist_config = config.recist
    chosen = [lesions[t.lesion_id] for t in response.targets] + [
        lesions[lid] for lid in sorted(response.non_targets, key=lambda i: (lesions[i].label.lower(), i))
    ]
    # size_float() inlined for the usual row (measured, a float size, its rounding remembered)
    remembered = _ROUNDED_FLOATS
    measured = _MEASURED
    out = []
    for lesion in chosen:
        lid = lesion.id
        sizes: list[float | None] = []
        for tp_rows in rows:
            row = tp_rows.get(lid)
            if row is not None and row.status is measured and type(row.size_mm) is float:
                got = remembered.get(row.size_mm)
                sizes.append(got if got is not None else rounded_float(row.size_mm))
            else:
                sizes.append(size_float(row, recist_config))
        out.append(LesionSizes(lid, lesion.label, tuple(sizes)))
    return out


_MEASURED = MeasurementStatus.MEASURED


def size_float(row: Measurement | None, config: RecistConfig) -> float | None:
    """``to_float(effective_mm(row, config))``: a measured float size goes through
    :func:`rounded_float` (remembered), the rest through the plain conversion."""
    if row is not None and row.status is _MEASURED:
        size = row.size_mm
        if type(size) is float:
            return rounded_float(size)
    return to_float(effective_mm(row, config))


def _finding(
    history: History,
    response: LineResponse,
    course: LesionSizes,
    courses: Sequence[LesionSizes],
    index: int,
    value: Decimal,
    nadir: Decimal,
    nadir_date: date | None,
) -> Finding:
    tp = response.timepoints[index]
    change = pct_change(value, nadir)
    growth = f"+{fmt_mm(value - nadir)} mm"
    rel = f"{fmt_pct(change)} %, {growth}" if change is not None else f"reappeared, {growth}"
    others: list[str] = []
    for other in courses:
        if other.lesion_id == course.lesion_id:
            continue
        now = other.sizes[index]
        base = other.sizes[0]
        if now is not None and base is not None:
            others.append(f"{other.label} {fmt_mm(base)} → {fmt_mm(now)} mm")
    context = f"the overall RECIST 1.1 response on this scan is {tp.overall}"
    if tp.change_from_baseline_pct is not None:
        context += f" (sum of targets {fmt_pct(tp.change_from_baseline_pct)} % from baseline)"
    if others:
        context += "; other lesions since baseline: " + ", ".join(others[:5])
    since = f" on {nadir_date.isoformat()}" if nadir_date else ""
    evidence = (
        f"{course.label} grew {fmt_mm(nadir)} → {fmt_mm(value)} mm ({rel} from its own nadir{since}) while "
        f"{context}. Tumours are mixed: one clone can grow while the rest respond. This is lungtrack's own "
        "rule (no published rule defines a mixed response); it borrows the RECIST 1.1 progression thresholds."
    )
    return Finding(
        rule="lesion.mixed_response",
        subject=course.label,
        date=tp.date,
        severity=Severity.WATCH,
        title=f"One lesion growing while the others are not: {course.label}",
        evidence=evidence,
        source=f"{cite('eisenhauer2009')} (thresholds borrowed; lungtrack's own extension)",
        discuss=(
            f"Topic to discuss with your care team: why {course.label} is growing while the other lesions are "
            "not, and whether a re-biopsy of this lesion would help understand it."
        ),
        patient_id=history.patient.id,
        data={
            "line_id": response.line.id,
            "lesion_id": course.lesion_id,
            "study_id": tp.study_id,
            "size_mm": float(value),
            "nadir_mm": float(nadir),
            "nadir_date": nadir_date.isoformat() if nadir_date else None,
            "change_from_nadir_pct": to_float(change, 2),
            "change_from_nadir_mm": float(value - nadir),
            "overall": tp.overall,
        },
    )
