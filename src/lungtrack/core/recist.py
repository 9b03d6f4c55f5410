"""RECIST 1.1 response, computed per therapy line (pure).

The criteria are those of Eisenhauer et al. 2009 (RECIST 1.1) with the RECIST working group
clarifications; docs/rules.md explains every rule with a worked example.  The main choices:

* Baseline: all studies dated in the ``baseline_window_days`` (28) before the line's start, up
  to and including the start day, form the baseline time point (so a chest CT and a brain MRI
  done on different days both count; for a lesion seen on several, its latest row is used).
  ``baseline_study_id`` is the latest of them.  With no study in the window the first study
  after the start is used and ``baseline_is_pre_treatment`` is False.
* Follow-up: studies after the baseline and up to the line's end date (inclusive); studies on
  the same day form one time point.
* Boundaries are compared as ``Decimal`` built from ``repr(float)`` (see ``decimal_math``).
* A target without an evaluable value makes the sum NE (never 0) and keeps that time point out
  of the nadir, unless the measured targets alone already reach PD against the nadir (the
  missing ones can only add to the sum; Eisenhauer 2009 section 4.3.4), or a target reappears
  after a CR (a missing lesion cannot undo a reappearance; RECIST working group FAQ).
* Non-target disease recorded at baseline only as ``non_target_status`` "present" counts as
  non-target disease even with no named non-target lesion (Eisenhauer 2009 Table 1).
* No confirmation of CR/PR is required (a tracker, not a trial).

Nothing here diagnoses: a "PD" is a statement about measurements for the care team to review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Iterable, Sequence

from lungtrack.core.config import RecistConfig, RulesConfig
from lungtrack.core.decimal_math import (
    _FLOAT_DECIMALS,
    D,
    ZERO,
    at_least_pct_decrease,
    at_least_pct_increase,
    fmt_mm,
    fmt_pct,
    pct_change,
    to_float,
)
from lungtrack.core.fastinit import fast_init
from lungtrack.core.findings import CARE_TEAM, Finding
from lungtrack.core.history import (
    History,
    ImagingStudy,
    Lesion,
    Measurement,
    NewLesion,
    TherapyLine,
)
from lungtrack.enums import LesionRole, MeasurementStatus, NonTargetStatus, Severity
from lungtrack.knowledge.sources import cite

#: Minimum time from the start of the line for SD (or non-CR/non-PD) to count as the best
#: overall response.  RECIST leaves the interval to the protocol ("in general not less than
#: 6-8 weeks"); lungtrack uses 6 weeks.  A ``sd_min_days`` field on ``RecistConfig`` overrides
#: it when the config provides one.
SD_MIN_DAYS = 42

NODE_ORGAN = "lymph node"

# Response words (kept as plain strings: they go straight to JSON and reports).
CR, PR, SD, PD, NE = "CR", "PR", "SD", "PD", "NE"
NON_CR_NON_PD = "non-CR/non-PD"
BASELINE = "BASELINE"


@fast_init
@dataclass(frozen=True, slots=True)
class TargetLesion:
    lesion_id: int
    label: str
    site: str
    is_node: bool
    baseline_mm: float
    reason: str  # why chosen


@fast_init
@dataclass(frozen=True, slots=True)
class TimepointAssessment:
    study_id: int
    date: date
    is_baseline: bool
    sum_mm: float | None  # None when NE
    baseline_sum_mm: float | None
    nadir_mm: float | None  # the nadir this time point is compared against
    change_from_baseline_pct: float | None
    change_from_nadir_pct: float | None
    change_from_nadir_mm: float | None
    target: str | None  # "CR","PR","SD","PD","NE"; None at baseline or when no targets
    non_target: str | None  # "CR","non-CR/non-PD","PD","NE"; None when no non-targets
    new_lesions: tuple[str, ...]  # labels/sites of new lesions first seen on this study
    overall: str  # "BASELINE" at baseline, else "CR","PR","SD","PD","NE","non-CR/non-PD"
    notes: tuple[str, ...]
    # Additions (defaults keep the constructor above valid):
    study_ids: tuple[int, ...] = ()  # every study merged into this time point (same day/baseline window)
    pd_reasons: tuple[str, ...] = ()  # why this time point is PD, with the numbers
    equivocal_new_lesions: tuple[str, ...] = ()  # equivocal, not (yet) counted as new


@fast_init
@dataclass(frozen=True, slots=True)
class LineResponse:
    line: TherapyLine
    baseline_study_id: int | None
    baseline_date: date | None
    baseline_is_pre_treatment: bool
    targets: tuple[TargetLesion, ...]
    non_targets: tuple[int, ...]  # lesion ids
    timepoints: tuple[TimepointAssessment, ...]  # baseline first, in date order
    best_overall: str | None
    first_pd_date: date | None
    notes: tuple[str, ...]


# --------------------------------------------------------------------------- helpers


@dataclass
class _Point:
    """One time point: the studies of one day (or of the baseline window), merged."""

    date: date
    study_ids: tuple[int, ...]
    rows: dict[int, Measurement]
    slice_mm: dict[int, float | None]  # slice thickness of the study each row came from
    new_lesions: tuple[NewLesion, ...]
    nt_status: NonTargetStatus | None


_STATUS_RANK = {
    MeasurementStatus.MEASURED: 3,
    MeasurementStatus.TOO_SMALL: 2,
    MeasurementStatus.DISAPPEARED: 1,
    MeasurementStatus.NOT_EVALUATED: 0,
}


def _informative(m: Measurement) -> bool:
    if m.status is MeasurementStatus.MEASURED:
        return m.size_mm is not None
    return m.status is not MeasurementStatus.NOT_EVALUATED


def _row_key(study: ImagingStudy, m: Measurement) -> tuple[Any, ...]:
    """Which row wins when a lesion has several in one time point: informative first, then the
    latest study, then a fixed order (so the input order never matters)."""
    return (
        _informative(m),
        study.date,
        study.id,
        _STATUS_RANK[m.status],
        m.size_mm if m.size_mm is not None else -1.0,
    )


def _merge(studies: Sequence[ImagingStudy]) -> _Point:
    if len(studies) == 1:
        one = _merge_one(studies[0])
        if one is not None:
            return one
    return _merge_general(studies)


def _merge_general(studies: Sequence[ImagingStudy]) -> _Point:
    """The studies of one time point merged: for each lesion the winning row (:func:`_row_key`)."""
    ordered = sorted(studies, key=lambda s: (s.date, s.id))
    best: dict[int, tuple[tuple[Any, ...], Measurement, float | None]] = {}
    for s in ordered:
        for m in s.measurements:
            key = _row_key(s, m)
            cur = best.get(m.lesion_id)
            if cur is None or key > cur[0]:
                best[m.lesion_id] = (key, m, s.slice_thickness_mm)
    statuses = {s.non_target_status for s in ordered}
    nt: NonTargetStatus | None = None
    for candidate in (NonTargetStatus.PROGRESSION, NonTargetStatus.PRESENT, NonTargetStatus.ABSENT):
        if candidate in statuses:
            nt = candidate
            break
    news = tuple(
        sorted(
            (n for s in ordered for n in s.new_lesions),
            key=lambda n: (n.site, n.label or "", n.is_node, n.size_mm or 0.0, n.equivocal),
        )
    )
    return _Point(
        date=ordered[-1].date,
        study_ids=tuple(s.id for s in ordered),
        rows={k: v[1] for k, v in best.items()},
        slice_mm={k: v[2] for k, v in best.items()},
        new_lesions=news,
        nt_status=nt,
    )


def _merge_one(s: ImagingStudy) -> _Point | None:
    """:func:`_merge` of a single study whose lesions have one row each (the usual case): every
    row wins, so no row keys are needed.  ``None`` when a lesion has several rows."""
    rows = {m.lesion_id: m for m in s.measurements}
    if len(rows) != len(s.measurements):
        return None
    slice_mm = s.slice_thickness_mm
    nt = s.non_target_status
    return _Point(
        date=s.date,
        study_ids=(s.id,),
        rows=rows,
        slice_mm=dict.fromkeys(rows, slice_mm),
        new_lesions=tuple(
            sorted(s.new_lesions, key=lambda n: (n.site, n.label or "", n.is_node, n.size_mm or 0.0, n.equivocal))
        ) if s.new_lesions else (),
        nt_status=nt if nt in (NonTargetStatus.PROGRESSION, NonTargetStatus.PRESENT, NonTargetStatus.ABSENT) else None,
    )


_MEASURED = MeasurementStatus.MEASURED


def effective_mm(row: Measurement | None, config: RecistConfig = RecistConfig()) -> Decimal | None:
    """The value a lesion contributes to a RECIST sum: measured size, ``too_small_mm`` for
    "too small to measure", 0 for "disappeared", ``None`` (NE) when missing or not evaluated."""
    if row is None:
        return None
    if row.status is _MEASURED:
        size = row.size_mm
        if size is None:
            return None
        return _FLOAT_DECIMALS.get(size) or D(size) if type(size) is float else D(size)
    if row.status is MeasurementStatus.TOO_SMALL:
        return D(config.too_small_mm)
    if row.status is MeasurementStatus.DISAPPEARED:
        return ZERO
    return None


def _organ(lesion: Lesion) -> str:
    return NODE_ORGAN if lesion.is_node else lesion.site.strip().lower()


def _measurable_min(config: RecistConfig, slice_mm: float | None) -> Decimal:
    """Non-nodal minimum: 10 mm, or twice the slice thickness when slices are thicker than 5 mm."""
    base = D(config.measurable_min_mm)
    if slice_mm is not None and D(slice_mm) > _FIVE:
        return max(base, 2 * D(slice_mm))
    return base


_FIVE = Decimal(5)


def _new_name(n: NewLesion) -> str:
    if n.label:
        return n.label
    return f"{n.site} node" if n.is_node else n.site


def _key(label: str | None) -> str | None:
    return label.strip().lower() if label and label.strip() else None


def _choose_baseline(
    studies: Sequence[ImagingStudy], line: TherapyLine, config: RecistConfig
) -> tuple[list[ImagingStudy], bool]:
    window = [
        s for s in studies if s.date <= line.start and (line.start - s.date).days <= config.baseline_window_days
    ]
    if window:
        return window, True
    after = [s for s in studies if s.date > line.start and (line.end is None or s.date <= line.end)]
    if after:
        first = min(s.date for s in after)
        return [s for s in after if s.date == first], False
    return [], False


# --------------------------------------------------------------------------- selection


@dataclass
class _Selection:
    targets: list[TargetLesion] = field(default_factory=list)
    target_nodes: dict[int, bool] = field(default_factory=dict)
    non_targets: list[int] = field(default_factory=list)
    normal_nodes: set[int] = field(default_factory=set)  # recorded at baseline, < 10 mm
    disappeared: set[int] = field(default_factory=set)  # recorded as disappeared at baseline
    notes: list[str] = field(default_factory=list)
    # The baseline's study-level non-target status said "present" (or "progression"): there is
    # non-target disease at baseline even when no non-target lesion is named.
    non_target_flag: bool = False

    @property
    def has_non_target_disease(self) -> bool:
        return bool(self.non_targets) or self.non_target_flag


def _select(lesions: Sequence[Lesion], base: _Point, config: RecistConfig) -> _Selection:
    sel = _Selection()
    forced: list[tuple[Decimal, Lesion, str]] = []
    candidates: list[tuple[Decimal, Lesion, str]] = []
    node_min = D(config.node_pathological_min_mm)
    node_target = D(config.node_target_min_mm)
    for lesion in sorted(lesions, key=lambda l: (l.label.lower(), l.id)):
        row = base.rows.get(lesion.id)
        if row is None:
            if lesion.role is LesionRole.TARGET:
                sel.notes.append(
                    f"{lesion.label}: marked as a target but not recorded on the baseline scan; "
                    "targets can only be chosen at baseline."
                )
            continue
        size = effective_mm(row, config) if row.status is MeasurementStatus.MEASURED else None
        if row.status is MeasurementStatus.DISAPPEARED or (size is not None and size == ZERO):
            sel.disappeared.add(lesion.id)
            sel.notes.append(f"{lesion.label}: recorded as disappeared at baseline; not counted as disease.")
            continue
        if size is None:
            # Too small to measure, or not evaluated: present but without a baseline diameter.
            if lesion.is_node and row.status is MeasurementStatus.TOO_SMALL and lesion.role is None:
                sel.normal_nodes.add(lesion.id)
                continue
            why = "too small to measure" if row.status is MeasurementStatus.TOO_SMALL else "not measured"
            if lesion.role is LesionRole.TARGET:
                sel.notes.append(
                    f"{lesion.label}: marked as a target but {why} at baseline, so it has no "
                    "baseline diameter; followed as a non-target."
                )
            sel.non_targets.append(lesion.id)
            continue
        if lesion.role is LesionRole.NON_TARGET:
            sel.non_targets.append(lesion.id)
            continue
        if lesion.is_node:
            measurable = size >= node_target
            if not measurable and lesion.role is None:
                if size < node_min:
                    sel.normal_nodes.add(lesion.id)  # normal node: not disease
                else:
                    sel.non_targets.append(lesion.id)  # pathological, not measurable
                continue
            rule = f"node short axis {fmt_mm(size)} mm {'≥' if measurable else '<'} {fmt_mm(node_target)} mm"
        else:
            minimum = _measurable_min(config, base.slice_mm.get(lesion.id))
            measurable = size >= minimum
            if not measurable and lesion.role is None:
                sel.non_targets.append(lesion.id)
                continue
            rule = f"{fmt_mm(size)} mm {'≥' if measurable else '<'} {fmt_mm(minimum)} mm"
        if lesion.role is LesionRole.TARGET:
            reason = "chosen as a target by you"
            if not measurable:
                reason += f"; not measurable by RECIST 1.1 ({rule})"
                sel.notes.append(f"{lesion.label}: kept as a target as you asked, but it is not measurable ({rule}).")
            forced.append((size, lesion, reason))
        else:
            candidates.append((size, lesion, f"measurable ({rule}), chosen by size"))

    per_organ: dict[str, int] = {}
    order = lambda t: (-t[0], t[1].label.lower(), t[1].id)  # noqa: E731 - largest first, then label
    for size, lesion, reason in sorted(forced, key=order):
        per_organ[_organ(lesion)] = per_organ.get(_organ(lesion), 0) + 1
        sel.targets.append(TargetLesion(lesion.id, lesion.label, lesion.site, lesion.is_node, float(size), reason))
    if len(forced) > config.max_targets or any(v > config.max_targets_per_organ for v in per_organ.values()):
        sel.notes.append(
            f"You chose more targets than RECIST 1.1 allows (at most {config.max_targets}, "
            f"{config.max_targets_per_organ} per organ, all lymph nodes one organ); all were kept."
        )
    for size, lesion, reason in sorted(candidates, key=order):
        organ = _organ(lesion)
        if len(sel.targets) >= config.max_targets:
            sel.non_targets.append(lesion.id)
            sel.notes.append(f"{lesion.label}: measurable but beyond the limit of {config.max_targets} targets; non-target.")
        elif per_organ.get(organ, 0) >= config.max_targets_per_organ:
            sel.non_targets.append(lesion.id)
            sel.notes.append(
                f"{lesion.label}: measurable but {organ} already has {config.max_targets_per_organ} targets; non-target."
            )
        else:
            per_organ[organ] = per_organ.get(organ, 0) + 1
            sel.targets.append(TargetLesion(lesion.id, lesion.label, lesion.site, lesion.is_node, float(size), reason))
    sel.non_targets.sort()
    return sel


# --------------------------------------------------------------------------- new lesions


@dataclass
class _NewInfo:
    new: dict[int, list[str]]  # point index -> names first seen there
    equivocal: dict[int, list[str]]  # point index -> equivocal names (not counted)
    notes: dict[int, list[str]]


def _find_new(
    history: History,
    points: Sequence[_Point],
    sel: _Selection,
    baseline_start: date,
    config: RecistConfig,
) -> _NewInfo:
    """New lesions by time point (index into ``points``), per RECIST 1.1 and the working group.

    (a) explicit ``ImagingStudy.new_lesions``: unequivocal ones count; equivocal ones are noted
    and, once a later scan confirms the same label, progression is dated back to the first scan
    (Eisenhauer 2009, section 4.3.2).  (b) a lesion identity first seen after baseline: a
    non-nodal lesion is new; a node is new once its short axis is >= 10 mm.
    """
    info = _NewInfo({}, {}, {})
    node_min = D(config.node_pathological_min_mm)
    baseline_ids = {t.lesion_id for t in sel.targets} | set(sel.non_targets) | sel.normal_nodes | sel.disappeared
    # lesions with an informative row before the baseline: computed when first needed (only a
    # lesion that is not on the baseline scan and shows up on a later one asks)
    seen_before: set[int] | None = None
    # events: key -> list of (index, kind, name) where kind is "definite" or "equivocal"
    labelled: dict[str, list[tuple[int, str, str]]] = {}
    for lesion in sorted(history.lesions, key=lambda l: l.id):
        if lesion.id in baseline_ids:
            if lesion.id in sel.normal_nodes:
                for i, p in enumerate(points):
                    v = effective_mm(p.rows.get(lesion.id), config)
                    if v is not None and v >= node_min:
                        info.notes.setdefault(i, []).append(
                            f"{lesion.label}: node was < {fmt_mm(node_min)} mm (normal) at baseline and now measures "
                            f"{fmt_mm(v)} mm; a node recorded at baseline is not counted as new (judgement call, "
                            f"see {cite('recist_new_lesions')})."
                        )
                        break
            elif lesion.id in sel.disappeared:
                for i, p in enumerate(points):
                    v = effective_mm(p.rows.get(lesion.id), config)
                    if v is not None and v > ZERO:
                        info.notes.setdefault(i, []).append(
                            f"{lesion.label}: recorded as disappeared at baseline and visible again; a reappearing "
                            "lesion is not counted as new by itself."
                        )
                        break
            continue
        for i, p in enumerate(points):
            row = p.rows.get(lesion.id)
            v = effective_mm(row, config)
            if v is None or v == ZERO:
                continue
            if seen_before is None:
                seen_before = set()
                for s in history.studies:
                    if s.date < baseline_start:
                        seen_before.update(m.lesion_id for m in s.measurements if _informative(m))
            if lesion.id in seen_before:
                info.notes.setdefault(i, []).append(
                    f"{lesion.label}: not on the baseline scan but recorded before it; not counted as new "
                    "(check whether it belongs to the baseline)."
                )
                break
            if lesion.is_node and not (row is not None and row.status is MeasurementStatus.MEASURED and v >= node_min):
                continue  # a node under 10 mm short axis is normal, not new (yet)
            labelled.setdefault(lesion.label.strip().lower(), []).append((i, "definite", lesion.label))
            break
    for i, p in enumerate(points):
        for n in p.new_lesions:
            name = _new_name(n)
            if n.is_node and n.size_mm is not None and D(n.size_mm) < node_min:
                info.notes.setdefault(i, []).append(
                    f"{name}: reported new node is {fmt_mm(n.size_mm)} mm (< {fmt_mm(node_min)} mm short axis), "
                    "which is normal by RECIST 1.1; not counted as new."
                )
                continue
            key = _key(n.label)
            kind = "equivocal" if n.equivocal else "definite"
            if key is None:
                if n.equivocal:
                    info.equivocal.setdefault(i, []).append(name)
                    info.notes.setdefault(i, []).append(
                        f"{name}: equivocal new lesion; not counted as progression unless a later scan confirms it "
                        "(give it a label so lungtrack can match it)."
                    )
                else:
                    _add_unique(info.new.setdefault(i, []), name)
                continue
            labelled.setdefault(key, []).append((i, kind, name))
    for key in sorted(labelled):
        events = sorted(labelled[key])
        definite = [e for e in events if e[1] == "definite"]
        equivocal = [e for e in events if e[1] == "equivocal"]
        if definite:
            first_def = definite[0]
            earlier_eq = [e for e in equivocal if e[0] < first_def[0]]
            if earlier_eq:
                first = earlier_eq[0]
                _add_unique(info.new.setdefault(first[0], []), first_def[2])
                info.notes.setdefault(first[0], []).append(
                    f"{first_def[2]}: equivocal on {points[first[0]].date.isoformat()}, confirmed on "
                    f"{points[first_def[0]].date.isoformat()}; progression is dated to the first scan "
                    "(Eisenhauer 2009, section 4.3.2)."
                )
            else:
                _add_unique(info.new.setdefault(first_def[0], []), first_def[2])
        else:
            for idx, _, name in equivocal:
                _add_unique(info.equivocal.setdefault(idx, []), name)
                info.notes.setdefault(idx, []).append(
                    f"{name}: equivocal new lesion; not counted as progression unless a later scan confirms it."
                )
    return info


def _add_unique(names: list[str], name: str) -> None:
    if name.lower() not in {n.lower() for n in names}:
        names.append(name)


# --------------------------------------------------------------------------- assessment


def _target_state(
    sel: _Selection, point: _Point, config: RecistConfig
) -> tuple[Decimal | None, Decimal, list[str], dict[int, Decimal | None]]:
    """(sum or None when NE, sum of the evaluable ones, names of missing targets, values)."""
    values: dict[int, Decimal | None] = {}
    partial = ZERO
    missing: list[str] = []
    rows = point.rows
    remembered = _FLOAT_DECIMALS
    for t in sel.targets:
        row = rows.get(t.lesion_id)
        # effective_mm(row, config), the usual row (measured, a float size whose decimal is
        # remembered) without the call
        v = None
        if row is not None and row.status is _MEASURED:
            size = row.size_mm
            if type(size) is float:
                v = remembered.get(size)
        if v is None:
            v = effective_mm(row, config)
        values[t.lesion_id] = v
        if v is None:
            missing.append(t.label)
        else:
            partial += v
    return (None if missing else partial), partial, missing, values


def _reappeared(sel: _Selection, values: dict[int, Decimal | None], node_min: Decimal) -> list[str]:
    """Targets present on this time point in a way that, after a CR, counts as a reappearance:
    a non-nodal target visible again (> 0 mm, including "too small to measure"), or a target node
    back to >= ``node_min`` short axis.  Targets not evaluated (``None``) are not counted."""
    out: list[str] = []
    for t in sel.targets:
        v = values[t.lesion_id]
        if v is None:
            continue
        if (v >= node_min) if t.is_node else (v > ZERO):
            out.append(t.label)
    return out


def _non_target_state(
    lesions: dict[int, Lesion], sel: _Selection, point: _Point, config: RecistConfig
) -> tuple[str | None, list[str]]:
    """Non-target response from the explicit status, else from the non-target rows."""
    notes: list[str] = []
    node_min = D(config.node_pathological_min_mm)
    if point.nt_status is NonTargetStatus.PROGRESSION:
        if not sel.has_non_target_disease:
            notes.append(
                "Unequivocal non-target progression was recorded although no non-target lesion was recorded "
                "at baseline; it is counted as progression."
            )
        return PD, notes
    if not sel.has_non_target_disease:
        return None, notes
    present: list[str] = []
    unevaluated: list[str] = []
    for lid in sel.non_targets:
        lesion = lesions[lid]
        row = point.rows.get(lid)
        v = effective_mm(row, config)
        if row is None or row.status is MeasurementStatus.NOT_EVALUATED or (
            row.status is MeasurementStatus.MEASURED and v is None
        ):
            unevaluated.append(lesion.label)
        elif lesion.is_node:
            if v is not None and v >= node_min:
                present.append(lesion.label)
        elif v is not None and v > ZERO:
            present.append(lesion.label)
    if point.nt_status is NonTargetStatus.PRESENT:
        return NON_CR_NON_PD, notes
    if point.nt_status is NonTargetStatus.ABSENT:
        if present:
            notes.append(
                "Non-target lesions were recorded as absent, but "
                + ", ".join(present)
                + " still measures as present; counted as non-CR/non-PD."
            )
            return NON_CR_NON_PD, notes
        return CR, notes
    if unevaluated:
        return NE, notes
    if present:
        return NON_CR_NON_PD, notes
    if sel.non_target_flag:
        # Non-target disease recorded at baseline only as a study-level status: with no status on
        # this scan it is not evaluated, so it cannot count as gone (Eisenhauer 2009 Table 1).
        notes.append(
            "Non-target disease was recorded as present at baseline and its status is not given on this scan: "
            "not evaluated."
        )
        return NE, notes
    return CR, notes


def _overall(target: str | None, non_target: str | None, new: bool, has_targets: bool) -> str:
    """Eisenhauer 2009 Table 1 (with targets) and Table 2 (non-target disease only)."""
    if new or target == PD or non_target == PD:
        return PD
    if has_targets:
        if target == CR:
            return CR if non_target in (CR, None) else PR  # CR + non-CR/non-PD or NE -> PR
        if target == PR:
            return PR
        if target == SD:
            return SD
        return NE  # target NE with non-PD non-targets
    if non_target == CR:
        return CR
    if non_target == NON_CR_NON_PD:
        return NON_CR_NON_PD
    return NE


def _sd_min_days(config: RecistConfig) -> int:
    return int(getattr(config, "sd_min_days", SD_MIN_DAYS))


def _best_overall(line: TherapyLine, tps: Sequence[TimepointAssessment], config: RecistConfig) -> str | None:
    """Best response from the start of the line until the first PD (no confirmation required).

    SD and non-CR/non-PD count only when seen at least ``SD_MIN_DAYS`` after the line started;
    otherwise the best response is PD if PD followed, else NE.
    """
    follow = [t for t in tps if not t.is_baseline]
    if not follow:
        return None
    upto: list[TimepointAssessment] = []
    for t in follow:
        upto.append(t)
        if t.overall == PD:
            break
    overall = {t.overall for t in upto}
    if CR in overall:
        return CR
    if PR in overall:
        return PR
    min_days = _sd_min_days(config)
    stable = [t.overall for t in upto if t.overall in (SD, NON_CR_NON_PD) and (t.date - line.start).days >= min_days]
    if SD in stable:
        return SD
    if NON_CR_NON_PD in stable:
        return NON_CR_NON_PD
    if PD in overall:
        return PD
    return NE


def assess_line(history: History, line: TherapyLine, config: RecistConfig = RecistConfig()) -> LineResponse:
    """RECIST 1.1 for one therapy line: baseline, targets, every time point, best response."""
    return _assess_line(history, line, config)[0]


def _assess_line(
    history: History, line: TherapyLine, config: RecistConfig,
    studies: list[ImagingStudy] | None = None, lesions: dict[int, Lesion] | None = None,
) -> tuple[LineResponse, list[dict[int, Measurement]]]:
    """:func:`assess_line`, with the merged rows of each of its time points (baseline first).
    ``studies`` (in date and id order) and ``lesions`` (by id): the history's, when the caller
    assesses several lines of it."""
    if studies is None:
        studies = _sorted_studies(history)
    if lesions is None:
        lesions = {l.id: l for l in history.lesions}
    base_studies, pre = _choose_baseline(studies, line, config)
    if not base_studies:
        return LineResponse(
            line=line,
            baseline_study_id=None,
            baseline_date=None,
            baseline_is_pre_treatment=False,
            targets=(),
            non_targets=(),
            timepoints=(),
            best_overall=None,
            first_pd_date=None,
            notes=(
                f"No imaging study in the {config.baseline_window_days} days before {line.start.isoformat()} "
                "or during this line: no RECIST assessment yet.",
            ),
        ), []
    base = _merge(base_studies)
    baseline_id = max(base_studies, key=lambda s: (s.date, s.id)).id
    line_notes: list[str] = []
    if not pre:
        line_notes.append(
            f"No scan in the {config.baseline_window_days} days before the line started on "
            f"{line.start.isoformat()}; the first scan after the start ({base.date.isoformat()}) is used as "
            "baseline, so any change before it is not captured."
        )
    if len(base.study_ids) > 1:
        line_notes.append(
            "Baseline combines studies " + ", ".join(str(i) for i in base.study_ids) + " (same baseline window)."
        )
    sel = _select(history.lesions, base, config)
    sel.non_target_flag = base.nt_status in (NonTargetStatus.PRESENT, NonTargetStatus.PROGRESSION)
    if sel.non_target_flag and not sel.non_targets:
        sel.notes.append(
            "Non-target disease was recorded as present at baseline without a named non-target lesion; "
            "it counts as non-target disease (a complete response needs it recorded as absent)."
        )
    line_notes.extend(sel.notes)
    if not sel.targets and not sel.has_non_target_disease:
        line_notes.append("No disease recorded at baseline: only new lesions can be assessed.")

    follow_studies = [
        s for s in studies if s.date > base.date and (line.end is None or s.date <= line.end)
    ]
    by_date: dict[date, list[ImagingStudy]] = {}
    for s in follow_studies:
        by_date.setdefault(s.date, []).append(s)
    points = [_merge(by_date[d]) for d in sorted(by_date)]
    baseline_start = min(s.date for s in base_studies)
    news = _find_new(history, points, sel, baseline_start, config)

    has_targets = bool(sel.targets)
    b_sum = sum((D(t.baseline_mm) for t in sel.targets), ZERO) if has_targets else None
    pr_pct, pd_pct, pd_mm = D(config.pr_decrease_pct), D(config.pd_increase_pct), D(config.pd_increase_min_mm)
    node_min = D(config.node_pathological_min_mm)

    tps: list[TimepointAssessment] = [
        TimepointAssessment(
            study_id=baseline_id,
            date=base.date,
            is_baseline=True,
            sum_mm=to_float(b_sum),
            baseline_sum_mm=to_float(b_sum),
            nadir_mm=None,
            change_from_baseline_pct=None,
            change_from_nadir_pct=None,
            change_from_nadir_mm=None,
            target=None,
            non_target=None,
            new_lesions=(),
            overall=BASELINE,
            notes=(),
            study_ids=base.study_ids,
        )
    ]
    # min() of the evaluable sums so far (baseline first), kept as it goes: the lowest so far,
    # and the sum added at the previous time point, compared at the next one (where min()
    # compared it: the same comparisons in the same order, so equal sums keep the first and a
    # sum that cannot be compared raises where it did)
    lowest: Decimal = b_sum if b_sum is not None else ZERO  # read only when there are targets
    added: Decimal | None = None
    b_sum_float = to_float(b_sum)  # the same on every time point
    notes_at, new_at, equivocal_at = news.notes, news.new, news.equivocal
    nadir_floats: dict[Decimal, float] = {}  # to_float of each nadir (a nadir repeats)
    response_reached = False
    # The last overall response that was evaluated: an NE time point (nothing, or not enough,
    # assessed) does not undo an earlier CR (Eisenhauer 2009 section 4.3.3), so a reappearance
    # after "CR, then NE" is still a reappearance after CR.
    previous_overall: str | None = None
    for i, p in enumerate(points):
        got = notes_at.get(i)
        notes: list[str] = list(got) if got else []
        reasons: list[str] = []
        after_cr = previous_overall == CR
        s_sum: Decimal | None = None
        nadir: Decimal | None = None
        target: str | None = None
        ch_base = ch_nadir_pct = ch_nadir_mm = None
        if has_targets:
            assert b_sum is not None
            s_sum, partial, missing, values = _target_state(sel, p, config)
            if added is not None:
                if added < lowest:
                    lowest = added
                added = None
            nadir = lowest
            # only read after a complete response (both uses are "after_cr and reappeared")
            reappeared = _reappeared(sel, values, node_min) if after_cr else []
            if s_sum is None:
                notes.append("Not evaluated: " + ", ".join(missing) + " (sum not computed; not used as nadir).")
                if partial - nadir >= pd_mm and at_least_pct_increase(partial, nadir, pd_pct):
                    target = PD
                    reasons.append(
                        f"the measured targets alone sum to {fmt_mm(partial)} mm, {fmt_pct(pct_change(partial, nadir))} % "
                        f"and +{fmt_mm(partial - nadir)} mm above the nadir of {fmt_mm(nadir)} mm (the missing "
                        "targets could only add to it)"
                    )
                elif after_cr and reappeared:
                    # RECIST working group (missing assessments): when progression can be
                    # established from the lesions that were measured, the time point is PD
                    # whatever the missing ones show.
                    target = PD
                    reasons.append(
                        "after a complete response on the previous scan, target lesion(s) reappeared: "
                        + ", ".join(reappeared)
                        + " (not evaluated on this scan: " + ", ".join(missing) + "; a missing lesion cannot "
                        "undo a reappearance)"
                    )
                else:
                    target = NE
            else:
                ch_base = pct_change(s_sum, b_sum)
                ch_nadir_pct = pct_change(s_sum, nadir)
                ch_nadir_mm = s_sum - nadir
                if ch_nadir_mm >= pd_mm and at_least_pct_increase(s_sum, nadir, pd_pct):
                    target = PD
                    reasons.append(
                        f"sum of target diameters {fmt_mm(s_sum)} mm is {fmt_pct(ch_nadir_pct)} % and "
                        f"+{fmt_mm(ch_nadir_mm)} mm above the nadir of {fmt_mm(nadir)} mm (PD needs at least "
                        f"+{fmt_mm(pd_pct)} % and +{fmt_mm(pd_mm)} mm)"
                    )
                elif after_cr and reappeared:
                    target = PD
                    reasons.append(
                        "after a complete response on the previous scan, target lesion(s) reappeared: "
                        + ", ".join(reappeared)
                    )
                elif all(
                    (v is not None and v < node_min) if t.is_node else (v == ZERO)
                    for t in sel.targets
                    for v in [values[t.lesion_id]]
                ):
                    target = CR
                    if s_sum > ZERO:
                        notes.append(
                            f"Complete response with a sum of {fmt_mm(s_sum)} mm: target nodes keep their "
                            f"short axis (< {fmt_mm(node_min)} mm counts as normal)."
                        )
                elif at_least_pct_decrease(s_sum, b_sum, pr_pct):
                    target = PR
                elif response_reached:
                    target = PR
                    notes.append(
                        f"Kept as PR: a response was reached earlier and the sum ({fmt_mm(s_sum)} mm) does not meet "
                        f"PD against the nadir ({cite('recist_faq_pr')})."
                    )
                else:
                    target = SD
                added = s_sum
            if target in (PR, CR):
                response_reached = True
        non_target, nt_notes = _non_target_state(lesions, sel, p, config)
        notes.extend(nt_notes)
        if non_target == PD:
            reasons.append("unequivocal progression of non-target disease was recorded")
        elif after_cr and non_target == NON_CR_NON_PD:
            non_target = PD
            reasons.append("after a complete response on the previous scan, non-target disease reappeared")
        got = new_at.get(i)
        new_names = tuple(got) if got else ()
        if new_names:
            reasons.append("new lesion(s): " + ", ".join(new_names))
        overall = _overall(target, non_target, bool(new_names), has_targets)
        if not has_targets and not sel.has_non_target_disease and overall == NE:
            notes.append("No disease was recorded at baseline; this scan shows no new lesion.")
        if len(p.study_ids) > 1:
            notes.append("Combines studies " + ", ".join(str(x) for x in p.study_ids) + " of the same day.")
        tps.append(
            TimepointAssessment(
                study_id=p.study_ids[0],
                date=p.date,
                is_baseline=False,
                # to_float() of each, written out
                sum_mm=None if s_sum is None else float(round(s_sum, 4)),
                baseline_sum_mm=b_sum_float,
                nadir_mm=_nadir_float(nadir, nadir_floats),
                change_from_baseline_pct=None if ch_base is None else float(round(ch_base, 4)),
                change_from_nadir_pct=None if ch_nadir_pct is None else float(round(ch_nadir_pct, 4)),
                change_from_nadir_mm=None if ch_nadir_mm is None else float(round(ch_nadir_mm, 4)),
                target=target,
                non_target=non_target,
                new_lesions=new_names,
                overall=overall,
                notes=tuple(notes),
                study_ids=p.study_ids,
                pd_reasons=tuple(reasons) if overall == PD else (),
                equivocal_new_lesions=tuple(equivocal_at.get(i, ())),
            )
        )
        if overall != NE:
            previous_overall = overall
    first_pd = next((t.date for t in tps if t.overall == PD), None)
    rows = [base.rows] + [p.rows for p in points]
    return LineResponse(
        line=line,
        baseline_study_id=baseline_id,
        baseline_date=base.date,
        baseline_is_pre_treatment=pre,
        targets=tuple(sel.targets),
        non_targets=tuple(sel.non_targets),
        timepoints=tuple(tps),
        best_overall=_best_overall(line, tps, config),
        first_pd_date=first_pd,
        notes=tuple(line_notes),
    ), rows


def _sorted_studies(history: History) -> list[ImagingStudy]:
    return sorted(history.studies, key=lambda s: (s.date, s.id))


def _nadir_float(nadir: Decimal | None, seen: dict[Decimal, float]) -> float | None:
    """``to_float(nadir)``, computed once per nadir of a line (equal decimals round to equal
    floats, whatever their exponents; not zero, whose sign they keep, nor NaN or infinities)."""
    if nadir is None or not nadir or not nadir.is_finite():
        return to_float(nadir)
    got = seen.get(nadir)
    if got is None:
        got = seen[nadir] = float(round(nadir, 4))  # what to_float computes
    return got


def assess_history(history: History, config: RulesConfig = RulesConfig()) -> tuple[LineResponse, ...]:
    """One ``LineResponse`` per therapy line, in start order."""
    lines = sorted(history.lines, key=lambda l: (l.start, l.id))
    return tuple(assess_line(history, line, config.recist) for line in lines)


def assess_history_with_rows(
    history: History, config: RulesConfig = RulesConfig()
) -> tuple[tuple[LineResponse, ...], list[list[dict[int, Measurement]]] | None]:
    """:func:`assess_history`, and for each response the merged rows of its time points (what
    :func:`merged_rows` gives for each time point's studies), so that the per-lesion rules need
    not merge them again.  The rows are ``None`` when two studies share an id: a time point's
    studies are then not all the studies with its ids, and only :func:`merged_rows` says which
    rows the per-lesion rules see."""
    lines = sorted(history.lines, key=lambda l: (l.start, l.id))
    studies = _sorted_studies(history)
    lesions = {l.id: l for l in history.lesions}
    assessed = [_assess_line(history, line, config.recist, studies, lesions) for line in lines]
    unique_ids = len({s.id for s in history.studies}) == len(history.studies)
    return tuple(r for r, _rows in assessed), ([rows for _r, rows in assessed] if unique_ids else None)


# --------------------------------------------------------------------------- findings


def _subject(line: TherapyLine) -> str:
    return f"line-{line.id}"


def _line_name(line: TherapyLine) -> str:
    return f"{line.drug} (started {line.start.isoformat()})"


def recist_findings(
    history: History, responses: Sequence[LineResponse], config: RulesConfig = RulesConfig()
) -> list[Finding]:
    """Findings from the RECIST assessment: first progression (alert), first response (info),
    and a baseline taken after the start of treatment (info)."""
    out: list[Finding] = []
    pid = history.patient.id
    for r in responses:
        line = r.line
        if not r.baseline_is_pre_treatment:
            if r.baseline_date is not None:
                evidence = (
                    f"No imaging in the {config.recist.baseline_window_days} days before {_line_name(line)}; "
                    f"the first scan after the start ({r.baseline_date.isoformat()}) is used as the baseline, "
                    "so shrinkage or growth before it is not captured."
                )
            else:
                evidence = (
                    f"No imaging in the {config.recist.baseline_window_days} days before {_line_name(line)} "
                    "and none since: there is no baseline to compare with yet."
                )
            out.append(
                Finding(
                    rule="recist.no_baseline",
                    subject=_subject(line),
                    date=line.start,
                    severity=Severity.INFO,
                    title="No pre-treatment baseline scan for this line",
                    evidence=evidence,
                    source=cite("eisenhauer2009"),
                    discuss=f"{CARE_TEAM}: which scan should serve as the reference for this treatment.",
                    patient_id=pid,
                    data={
                        "line_id": line.id,
                        "baseline_study_id": r.baseline_study_id,
                        "baseline_date": r.baseline_date.isoformat() if r.baseline_date else None,
                        "window_days": config.recist.baseline_window_days,
                    },
                )
            )
        follow = [t for t in r.timepoints if not t.is_baseline]
        first_pd = next((t for t in follow if t.overall == PD), None)
        if first_pd is not None:
            out.append(_progression_finding(r, first_pd, pid))
        before_pd = [t for t in follow if first_pd is None or t.date < first_pd.date]
        first_pr = next((t for t in before_pd if t.overall in (PR, CR)), None)
        if first_pr is not None:
            out.append(_response_finding(r, first_pr, pid))
            if first_pr.overall == PR:
                first_cr = next((t for t in before_pd if t.overall == CR), None)
                if first_cr is not None:
                    out.append(_response_finding(r, first_cr, pid))
    return out


def _progression_finding(r: LineResponse, t: TimepointAssessment, pid: int | None) -> Finding:
    reasons = "; ".join(t.pd_reasons) if t.pd_reasons else "progressive disease by RECIST 1.1"
    evidence = f"Scan of {t.date.isoformat()} on {_line_name(r.line)}: {reasons}."
    sources = [cite("eisenhauer2009")]
    if t.new_lesions:
        sources.append(cite("recist_new_lesions"))
    if any(reason.startswith("after a complete response") for reason in t.pd_reasons):
        sources.append(cite("recist_qc"))  # reappearance after CR is PD
    return Finding(
        rule="recist.progression",
        subject=_subject(r.line),
        date=t.date,
        severity=Severity.ALERT,
        title="Progression by RECIST 1.1",
        evidence=evidence,
        source="; ".join(sources),
        discuss=(
            "Progression by RECIST 1.1 criteria on this scan. Topic to discuss with your care team: "
            "what the scan shows and whether the treatment plan should be reviewed."
        ),
        patient_id=pid,
        data={
            "line_id": r.line.id,
            "study_id": t.study_id,
            "sum_mm": t.sum_mm,
            "nadir_mm": t.nadir_mm,
            "baseline_sum_mm": t.baseline_sum_mm,
            "change_from_nadir_pct": t.change_from_nadir_pct,
            "change_from_nadir_mm": t.change_from_nadir_mm,
            "target": t.target,
            "non_target": t.non_target,
            "new_lesions": list(t.new_lesions),
            "reasons": list(t.pd_reasons),
        },
    )


def _response_finding(r: LineResponse, t: TimepointAssessment, pid: int | None) -> Finding:
    word = "Complete response" if t.overall == CR else "Partial response"
    if t.sum_mm is not None and t.baseline_sum_mm is not None:
        numbers = (
            f"sum of target diameters {fmt_mm(t.sum_mm)} mm vs {fmt_mm(t.baseline_sum_mm)} mm at baseline "
            f"({fmt_pct(t.change_from_baseline_pct)} %)"
        )
    else:
        numbers = "all non-target disease recorded as gone"
    return Finding(
        rule="recist.response",
        subject=_subject(r.line),
        date=t.date,
        severity=Severity.INFO,
        title=f"{word} by RECIST 1.1",
        evidence=f"Scan of {t.date.isoformat()} on {_line_name(r.line)}: {numbers}.",
        source=cite("eisenhauer2009"),
        discuss=f"{CARE_TEAM}: what this response means for the follow-up schedule.",
        patient_id=pid,
        data={
            "line_id": r.line.id,
            "study_id": t.study_id,
            "overall": t.overall,
            "sum_mm": t.sum_mm,
            "baseline_sum_mm": t.baseline_sum_mm,
            "change_from_baseline_pct": t.change_from_baseline_pct,
        },
    )


def merged_rows(history: History, study_ids: Iterable[int]) -> dict[int, Measurement]:
    """The rows of a time point made of ``study_ids`` (same merge as the assessment): used by
    the per-lesion course so both modules see the same numbers."""
    ids = set(study_ids)
    studies = [s for s in history.studies if s.id in ids]
    if not studies:
        return {}
    return _merge(studies).rows


def merged_rows_of(history: History, timepoints: Iterable[Sequence[int]]) -> list[dict[int, Measurement]]:
    """:func:`merged_rows` of each group of study ids, with the studies indexed by id once
    (instead of a scan of every study per time point)."""
    by_id: dict[int, list[tuple[int, ImagingStudy]]] = {}
    for pos, study in enumerate(history.studies):
        by_id.setdefault(study.id, []).append((pos, study))
    out: list[dict[int, Measurement]] = []
    for study_ids in timepoints:
        found = [x for i in set(study_ids) for x in by_id.get(i, ())]
        if len(found) > 1:
            found.sort(key=lambda x: x[0])  # the order of history.studies, as merged_rows sees them
        out.append(_merge([st for _, st in found]).rows if found else {})
    return out
