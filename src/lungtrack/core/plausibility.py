"""Entry plausibility: catch typos and unit slips before they become "progression" (pure).

A lesion typed as 220 mm instead of 22 mm, or 2.2 instead of 2.2 cm, would otherwise drive a
false RECIST progression or response.  These checks are lungtrack's own (no published rule):
a value that is ``lesion_jump_factor`` (4) times larger or smaller than the previous value of
the same lesion within ``lesion_jump_max_weeks`` (26) weeks, or outside the accepted size
range, is questioned.  A new marker value more than ``marker_entry_factor`` (5) times (or under
1/5 of) the last one within ``marker_jump_max_weeks`` (26) weeks is asked about at entry.  The
CLI refuses such an entry unless forced; :func:`plausibility_findings` flags stored values that
still look wrong (markers: ``marker_jump_factor``, 50, since real marker changes of 5-10x
happen).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from lungtrack.core.config import PlausibilityConfig, RulesConfig
from lungtrack.core.decimal_math import D, fmt_mm
from lungtrack.core.findings import CARE_TEAM, Finding
from lungtrack.core.history import History, MarkerResult
from lungtrack.enums import MeasurementStatus, Severity

SOURCE = "lungtrack data-entry check (own rule, no published source)"

#: How close a ratio must be to a power of ten (10x, 100x, 1000x) to suggest a slipped decimal
#: point or unit: within a factor of 10 ** 0.25 (about 1.8).
_POWER_TOLERANCE = 0.25


def _fmt_num(x: float) -> str:
    """Up to 3 significant decimals, no trailing zeros: 2.2, 22, 0.035."""
    if x == 0:
        return "0"
    d = D(x)
    digits = max(0, 3 - d.adjusted() - 1)
    q = round(d, digits).normalize()
    return format(q, "f")


def _fmt_ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if ratio >= 10 else _fmt_num(round(ratio, 1))


def _within(previous_date: date | None, new_date: date, max_weeks: float) -> bool:
    if previous_date is None:
        return True  # no date to judge by: assume close in time
    return abs((new_date - previous_date).days) <= max_weeks * 7


def _power_of_ten(ratio: float) -> int | None:
    """The power of ten ``ratio`` is close to (1 for ~10x, -1 for ~1/10), else None."""
    if ratio <= 0:
        return None
    log = math.log10(ratio)
    p = round(log)
    if p != 0 and abs(log - p) <= _POWER_TOLERANCE:
        return p
    return None


#: The float pre-check of :func:`_jump`: a relative margin far above float rounding, on values far
#: from underflow and overflow.
_MARGIN = 1e-9
_FAST_MIN, _FAST_MAX = 1e-100, 1e100


def _jump(previous: float, new: float, factor: float, strict: bool = False) -> float | None:
    """The ratio new/previous when it is at least ``factor`` either way (exact boundary), or
    more than ``factor`` either way when ``strict``."""
    if previous <= 0 or new <= 0 or factor <= 0:
        return None
    if (_FAST_MIN < previous < _FAST_MAX and _FAST_MIN < new < _FAST_MAX and _FAST_MIN < factor < _FAST_MAX
            and new < previous * factor * (1 - _MARGIN) and new * factor > previous * (1 + _MARGIN)):
        # clearly no jump, whatever the rounding: float error is ~1e-16 relative, far inside the
        # margin, so the exact comparison below would say the same (it decides every close case)
        return None
    p, n, f = D(previous), D(new), D(factor)
    if (n > p * f or n * f < p) if strict else (n >= p * f or n * f <= p):
        # clamp so that extreme values (e.g. 5e-324) cannot underflow to 0 or overflow to inf
        return min(max(float(n / p), 1e-300), 1e300)
    return None


def check_lesion_entry(
    label: str,
    previous_mm: float | None,
    previous_date: date | None,
    new_mm: float,
    new_date: date,
    config: PlausibilityConfig = PlausibilityConfig(),
) -> str | None:
    """``None`` when ``new_mm`` is plausible, else one sentence asking the person to check it."""
    return _lesion_range(label, new_mm, config) or _lesion_jump(
        label, previous_mm, previous_date, new_mm, new_date, config
    )


def _lesion_range(label: str, new_mm: float, config: PlausibilityConfig) -> str | None:
    new = D(new_mm)
    if new > D(config.max_lesion_mm):
        p = max(1, math.ceil(math.log10(new_mm / config.max_lesion_mm)))
        mm = new_mm / 10**p
        return (
            f"{label}: {fmt_mm(new_mm)} mm is larger than {fmt_mm(config.max_lesion_mm)} mm, the largest size "
            f"accepted without a check. Did you mean {_fmt_num(mm)} mm or {_fmt_num(mm / 10)} cm?"
        )
    if new < D(config.min_lesion_mm):
        if new <= 0:
            return f"{label}: {fmt_mm(new_mm)} mm is not a size. If the lesion is gone, record it as disappeared."
        return (
            f"{label}: {_fmt_num(new_mm)} mm is below {fmt_mm(config.min_lesion_mm)} mm, smaller than a CT scan "
            f"can measure. Did you mean {_fmt_num(new_mm)} cm ({_fmt_num(new_mm * 10)} mm)?"
        )
    return None


def _lesion_jump(
    label: str,
    previous_mm: float | None,
    previous_date: date | None,
    new_mm: float,
    new_date: date,
    config: PlausibilityConfig,
    which: str = "last",
) -> str | None:
    if previous_mm is None or not _within(previous_date, new_date, config.lesion_jump_max_weeks):
        return None
    ratio = _jump(previous_mm, new_mm, config.lesion_jump_factor)
    if ratio is None:
        return None
    when = f" on {previous_date.isoformat()}" if previous_date else ""
    ref = f"the {which} value ({fmt_mm(previous_mm)} mm{when})"
    power = _power_of_ten(ratio)
    if ratio > 1:
        head = f"{label}: {fmt_mm(new_mm)} mm is {_fmt_ratio(ratio)}× {ref}."
        if power is not None and power > 0:
            mm = new_mm / 10**power
            return f"{head} Did you mean {_fmt_num(mm)} mm or {_fmt_num(mm / 10)} cm?"
        return f"{head} Please check the value against the radiology report."
    head = f"{label}: {_fmt_num(new_mm)} mm is 1/{_fmt_ratio(1 / ratio)} of {ref}."
    if power is not None and power < 0:
        mm = new_mm * 10 ** (-power)
        if power == -1:
            return f"{head} Was it {_fmt_num(new_mm)} cm ({_fmt_num(mm)} mm)?"
        return f"{head} Did you mean {_fmt_num(mm)} mm?"
    return f"{head} Please check the value against the radiology report."


def check_marker_entry(
    marker: str,
    unit: str,
    previous: float | None,
    previous_date: date | None,
    new: float,
    new_date: date,
    config: PlausibilityConfig = PlausibilityConfig(),
    *,
    previous_comparator: str | None = None,
    new_comparator: str | None = None,
) -> str | None:
    """``None`` when plausible, else one sentence asking "did you mean ...?": a new value
    **more than** ``marker_entry_factor`` (5) times, or **less than** 1/5 of, the previous
    value of the same marker within ``marker_jump_max_weeks`` (26) weeks (exactly 5x or 1/5 is
    not asked).  A value outside the assay range ("<0.5", ">1000") on either side has no ratio,
    so it is not compared."""
    if new < 0:
        return f"{marker}: {_fmt_num(new)} {unit} is negative; a marker value cannot be below 0."
    if previous_comparator in ("<", ">") or new_comparator in ("<", ">"):
        return None
    return _marker_jump(marker, unit, previous, previous_date, new, new_date, config,
                        factor=config.marker_entry_factor, strict=True)


def _marker_jump(
    marker: str,
    unit: str,
    previous: float | None,
    previous_date: date | None,
    new: float,
    new_date: date,
    config: PlausibilityConfig,
    which: str = "last",
    *,
    factor: float | None = None,
    strict: bool = False,
) -> str | None:
    if previous is None or not _within(previous_date, new_date, config.marker_jump_max_weeks):
        return None
    ratio = _jump(previous, new, config.marker_jump_factor if factor is None else factor, strict)
    if ratio is None:
        return None
    when = f" on {previous_date.isoformat()}" if previous_date else ""
    ref = f"the {which} value ({_fmt_num(previous)} {unit}{when})"
    power = _power_of_ten(ratio)
    used = D(config.marker_jump_factor if factor is None else factor)
    if ratio > 1:
        shown = _fmt_ratio(ratio)
        size = f"more than {_fmt_num(float(used))}×" if Decimal(shown) <= used else f"{shown}×"
        head = f"{marker}: {_fmt_num(new)} {unit} is {size} {ref}."
    else:
        shown = _fmt_ratio(1 / ratio)
        size = f"less than 1/{_fmt_num(float(used))} of" if Decimal(shown) <= used else f"1/{shown} of"
        head = f"{marker}: {_fmt_num(new)} {unit} is {size} {ref}."
    if power is not None:
        suggestion = new / 10**power
        hint = " (check the unit: pg/mL vs ng/mL)" if abs(power) == 3 else ""
        return f"{head} Did you mean {_fmt_num(suggestion)} {unit}{hint}?"
    return f"{head} Did you mean another value? Please check the value and its unit against the lab report."


Point = tuple[date, float]


def _suspicious(values: list[Point], jump: Callable[[Point, Point, str], str | None]) -> dict[int, str]:
    """Indexes (into date-sorted ``values``) of values that look like a slip, with the message.

    ``jump(previous, new, which)`` returns a message when ``new`` jumps against ``previous``.
    A single wrong value jumps against both neighbours while the correct values around it
    do not jump against each other, so a value is flagged when it jumps against the previous
    *trusted* value (the last one not flagged) and against the next one.  The latest value,
    with no next one, is flagged when it jumps against the previous trusted value.  A value
    with no trusted predecessor (the first) is flagged only when it jumps against the next
    value and that next value is consistent with the one after it.
    """
    out: dict[int, str] = {}
    n = len(values)
    trusted: int | None = None
    seen: dict[tuple[int, int], str | None] = {}  # (a, b) -> jump(values[a], values[b], "last")

    def last(a: int, b: int) -> str | None:
        key = (a, b)
        if key in seen:
            return seen[key]
        seen[key] = message = jump(values[a], values[b], "last")
        return message

    for i, cur in enumerate(values):
        jp = last(trusted, i) if trusted is not None else None
        jn = last(i, i + 1) if i + 1 < n else None
        message: str | None = None
        if trusted is not None and i + 1 < n:
            message = jp if (jp and jn) else None
        elif trusted is not None:
            message = jp
        elif i + 1 < n and jn and i + 2 < n and last(i + 1, i + 2) is None:
            message = jump(values[i + 1], cur, "next")
        if message:
            out[i] = message
        else:
            trusted = i
    return out


def _clearly_steady(values: list[Point], factor: float) -> bool:
    """True when no two consecutive values jump (by :func:`_jump`'s own float pre-check, which
    decides only the clear cases): then :func:`_suspicious` flags nothing, since every value is
    trusted in turn and only jumps between neighbours are ever looked at.  False means "look"."""
    if not _FAST_MIN < factor < _FAST_MAX:
        return False
    previous: float | None = None
    for _d, new in values:
        if previous is not None and not (previous <= 0 or new <= 0):  # as _jump: a value <= 0 has no ratio
            if not (_FAST_MIN < previous < _FAST_MAX and _FAST_MIN < new < _FAST_MAX
                    and new < previous * factor * (1 - _MARGIN) and new * factor > previous * (1 + _MARGIN)):
                return False
        previous = new
    return True


def _exact_float_bound(x: float) -> bool:
    """``x`` is a float, or an int a float holds exactly: a size strictly between two such bounds
    (compared as numbers) has its ``D()`` strictly between their ``D()`` too, because ``D()`` of a
    float is a decimal inside that float's own rounding interval."""
    return type(x) is float or (type(x) is int and abs(x) <= 2**53)


def plausibility_findings(history: History, config: RulesConfig = RulesConfig()) -> list[Finding]:
    """``entry.check`` (watch) for stored values that look like typos or unit slips (entered
    with a force flag, or imported)."""
    cfg = config.plausibility
    out: dict[str, Finding] = {}
    pid = history.patient.id
    by_lesion: dict[int, list[tuple[date, float]]] = {}  # every measured size, one pass over the studies
    measured = MeasurementStatus.MEASURED
    for s in history.studies:
        for m in s.measurements:
            if m.status is measured and m.size_mm is not None:
                by_lesion.setdefault(m.lesion_id, []).append((s.date, m.size_mm))
    lo, hi = cfg.min_lesion_mm, cfg.max_lesion_mm
    fast_range = _exact_float_bound(lo) and _exact_float_bound(hi)
    for lesion in sorted(history.lesions, key=lambda l: l.id):
        values = sorted(by_lesion.get(lesion.id, ()))

        def check(prev: Point, new: Point, which: str, _label: str = lesion.label) -> str | None:
            return _lesion_jump(_label, prev[1], prev[0], new[1], new[0], cfg, which)

        flagged = {} if _clearly_steady(values, cfg.lesion_jump_factor) else _suspicious(values, check)
        if not flagged and fast_range and all(lo < v < hi for _d, v in values):
            continue  # nothing flagged and every value clearly in range: the loop below finds nothing
        for i, (d, v) in enumerate(values):
            in_range = fast_range and lo < v < hi  # then _lesion_range returns None (see _exact_float_bound)
            msg = (None if in_range else _lesion_range(lesion.label, v, cfg)) or flagged.get(i)
            if msg:
                f = _finding(lesion.label, d, msg, pid, {"lesion_id": lesion.id, "size_mm": v})
                out.setdefault(f.id, f)
    by_marker: dict[str, list[MarkerResult]] = {}
    names: dict[Any, str] = {}  # str() of each marker value, once per distinct value
    for r in history.markers:
        name = names.get(r.marker)
        if name is None:
            name = names[r.marker] = str(r.marker)
        by_marker.setdefault(name, []).append(r)
    for marker in sorted(by_marker):
        results = sorted(by_marker[marker], key=lambda r: (r.date, r.id))
        unit = results[-1].unit
        # A value outside the assay range ("<0.5", ">1000") has no ratio to its neighbours.
        mvalues = [(r.date, r.value) for r in results if r.comparator not in ("<", ">")]

        def mcheck(prev: Point, new: Point, which: str, _m: str = marker, _u: str = unit) -> str | None:
            return _marker_jump(_m, _u, prev[1], prev[0], new[1], new[0], cfg, which)

        flagged = {} if _clearly_steady(mvalues, cfg.marker_jump_factor) else _suspicious(mvalues, mcheck)
        if not flagged and all(v >= 0 for _d, v in mvalues):
            continue  # nothing flagged and no negative value: the loop below finds nothing
        for i, (d, v) in enumerate(mvalues):
            # with no previous value check_marker_entry only asks about a negative value
            msg = (check_marker_entry(marker, unit, None, None, v, d, cfg) if v < 0 else None) or flagged.get(i)
            if msg:
                f = _finding(marker, d, msg, pid, {"marker": marker, "value": v, "unit": unit})
                out.setdefault(f.id, f)
    return list(out.values())


def _finding(subject: str, on: date, message: str, pid: int | None, data: dict[str, Any]) -> Finding:
    return Finding(
        rule="entry.check",
        subject=subject,
        date=on,
        severity=Severity.WATCH,
        title="Check this entry",
        evidence=message,
        source=SOURCE,
        discuss=(
            "Compare the value with the report and correct it if it is a typo; if the report really says "
            f"this, it is a topic to discuss with your care team ({CARE_TEAM.lower()})."
        ),
        patient_id=pid,
        data=data,
    )
