"""The invariants every entry path shares, as small functions that return a reason or None.

Standard library + the pure ``knowledge``/``parsing`` modules only: the writer calls them
with the store's state already loaded, for one record typed at the CLI and for a whole import.
Each reason is a full sentence ``<field>: <value> ...; expected <form>.`` so that the CLI and an
importer refusing the same record say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from lungtrack.enums import (
    AlleleContext,
    AppointmentKind,
    AppointmentStatus,
    BiopsyResult,
    MeasurementStatus,
    Modality,
    NonTargetStatus,
    Sample,
    SmokingStatus,
    StopReason,
)

#: No clinical date lies before this (a typo such as 1026 for 2026 is caught here).
EARLIEST = date(1900, 1, 1)

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "stop reason": tuple(s.value for s in StopReason),
    "modality": tuple(s.value for s in Modality),
    "non-target status": tuple(s.value for s in NonTargetStatus),
    "measurement status": tuple(s.value for s in MeasurementStatus),
    "sample": tuple(s.value for s in Sample),
    "result": tuple(s.value for s in BiopsyResult),
    "allele context": tuple(s.value for s in AlleleContext),
    "appointment kind": tuple(s.value for s in AppointmentKind),
    "appointment status": tuple(s.value for s in AppointmentStatus),
    "smoking": tuple(s.value for s in SmokingStatus),
    "role": ("target", "non-target"),
    "comparator": ("<", ">"),
    "origin": ("somatic", "germline"),
}


def vocabulary(field: str, value: str | None, kind: str) -> tuple[str | None, str | None]:
    """``(stored value, None)`` or ``(None, reason)``; matching ignores case (``PET-CT``, ``pet-ct``)."""
    if value is None:
        return None, None
    allowed = VOCABULARIES[kind]
    for a in allowed:
        if a.casefold() == str(value).strip().casefold():
            return a, None
    return None, f"{field}: {value!r} is not valid; expected one of {', '.join(allowed)}."


def clinical_date(field: str, d: date, today: date, birth: date | None = None, *, allow_future: bool = False) -> str | None:
    """A clinical date: not in the future (unless allowed), not before 1900, not before birth."""
    if not allow_future and d > today:
        return (f"{field}: {d.isoformat()} is in the future (today is {today.isoformat()}); "
                "expected a date on or before today.")
    if d < EARLIEST:
        return f"{field}: {d.isoformat()} is before {EARLIEST.year}; expected a date after {EARLIEST.isoformat()}."
    if birth is not None and d < birth:
        return (f"{field}: {d.isoformat()} is before the patient's birth ({birth.isoformat()}); "
                "expected a date on or after the birth date.")
    return None


def positive(field: str, value: float | None, *, allow_zero: bool = False, what: str = "a number greater than 0") -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{field}: {value!r} is not valid; expected a finite number."
    if value < 0 or (value == 0 and not allow_zero):
        return f"{field}: {value:g} is not valid; expected {what}."
    return None


@dataclass(frozen=True)
class Span:
    """A therapy line's dates, for the overlap check: ``end`` None while it is active."""

    id: int | None
    drug: str
    start: date
    end: date | None


def overlap(new: Span, others: list[Span]) -> str | None:
    """At most one active line, and lines that do not overlap (one may start the day another ends)."""
    for o in others:
        if o.id is not None and o.id == new.id:
            continue
        if new.end is None and o.end is None:
            return (f"drug: {o.drug} (line {o.id}, since {o.start.isoformat()}) is still active; expected no other "
                    "active line (stop it first: lungtrack therapy stop --date DATE --reason progression|toxicity|other).")
        new_end = new.end or date.max
        o_end = o.end or date.max
        if new.start < o_end and o.start < new_end:
            span = f"{o.start.isoformat()} to {o.end.isoformat() if o.end else 'now'}"
            return (f"start: {new.drug} {new.start.isoformat()} to {new.end.isoformat() if new.end else 'now'} overlaps "
                    f"{o.drug} (line {o.id}, {span}); expected lines that do not overlap.")
    return None
