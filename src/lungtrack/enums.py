"""Controlled vocabularies, as plain ``str`` enums (standard library only).

They are stored as their ``value`` strings, so the database never depends on a
database-specific enum type, and the CLI can use them as choices without importing SQLAlchemy.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str(self.value)


class SmokingStatus(StrEnum):
    NEVER = "never"
    FORMER = "former"
    CURRENT = "current"
    UNKNOWN = "unknown"


class StopReason(StrEnum):
    PROGRESSION = "progression"
    TOXICITY = "toxicity"
    OTHER = "other"


class Modality(StrEnum):
    CT = "CT"
    PET_CT = "PET-CT"
    MRI = "MRI"
    XRAY = "X-ray"


class LesionRole(StrEnum):
    TARGET = "target"
    NON_TARGET = "non-target"


class MeasurementStatus(StrEnum):
    MEASURED = "measured"
    TOO_SMALL = "too-small"  # too small to measure: counts as 5 mm (RECIST 1.1)
    DISAPPEARED = "disappeared"  # counts as 0 mm
    NOT_EVALUATED = "not-evaluated"  # missing: never counted as 0


class NonTargetStatus(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    PROGRESSION = "progression"  # unequivocal progression


class Marker(StrEnum):
    CEA = "CEA"
    CYFRA21_1 = "CYFRA 21-1"
    NSE = "NSE"
    PROGRP = "ProGRP"
    CA125 = "CA-125"


class Sample(StrEnum):
    PLASMA = "plasma"  # plasma ctDNA (liquid biopsy)
    TISSUE = "tissue"
    PLEURAL_FLUID = "pleural-fluid"
    OTHER = "other"


class BiopsyResult(StrEnum):
    DETECTED = "detected"
    NOT_DETECTED = "not-detected"
    INDETERMINATE = "indeterminate"


class AlleleContext(StrEnum):
    CIS = "cis"
    TRANS = "trans"
    UNKNOWN = "unknown"


class AppointmentKind(StrEnum):
    IMAGING = "imaging"
    MARKERS = "markers"
    VISIT = "visit"
    BIOPSY = "biopsy"
    OTHER = "other"


class AppointmentStatus(StrEnum):
    PLANNED = "planned"
    DONE = "done"
    CANCELLED = "cancelled"


class Severity(StrEnum):
    INFO = "info"
    WATCH = "watch"
    ALERT = "alert"

    @property
    def rank(self) -> int:
        return {"info": 0, "watch": 1, "alert": 2}[self.value]


class DueState(StrEnum):
    UP_TO_DATE = "up-to-date"
    DUE_SOON = "due-soon"
    DUE = "due"
    OVERDUE = "overdue"
