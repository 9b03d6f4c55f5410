"""A patient's history as plain data: the input of every rule.

These dataclasses are frozen and hold only standard types (``date``, ``float``, ``str``,
tuples and the ``lungtrack.enums`` vocabularies).  The store converts its rows to them
(:func:`lungtrack.store.repo.load_history`); tests and library users build them directly.
Sizes are in millimetres, marker values in the marker's canonical unit
(:mod:`lungtrack.knowledge.markers`).  Order of the tuples does not matter: every rule sorts
what it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from lungtrack.core.fastinit import fast_init
from lungtrack.enums import (
    AlleleContext,
    AppointmentKind,
    AppointmentStatus,
    BiopsyResult,
    LesionRole,
    Marker,
    MeasurementStatus,
    Modality,
    NonTargetStatus,
    Sample,
    SmokingStatus,
    StopReason,
)


@fast_init
@dataclass(frozen=True, slots=True)
class Schedule:
    """A patient's own follow-up intervals, in weeks since the last event that happened.

    ``None`` means "not set for this patient": the ``[timing]`` thresholds apply
    (:func:`lungtrack.core.timing.effective_schedule`).
    """

    imaging_due_soon_weeks: float | None = None
    imaging_overdue_weeks: float | None = None
    marker_due_soon_weeks: float | None = None
    marker_overdue_weeks: float | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class PatientInfo:
    id: int
    name: str
    diagnosis_date: date | None = None
    histology: str | None = None
    drivers: tuple[str, ...] = ()  # normalised alteration names, e.g. "EGFR exon 19 deletion"
    smoking: SmokingStatus = SmokingStatus.UNKNOWN
    schedule: Schedule = field(default_factory=Schedule)
    ended_on: date | None = None  # tracking ended (for example death); no timing findings after it


@fast_init
@dataclass(frozen=True, slots=True)
class TherapyLine:
    id: int
    drug: str  # canonical lower-case drug name, see lungtrack.knowledge.drugs
    start: date
    end: date | None = None
    stop_reason: StopReason | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class Lesion:
    """A lesion identity that lasts across studies."""

    id: int
    label: str
    site: str  # organ or site, e.g. "lung", "liver", "node"
    is_node: bool = False
    role: LesionRole | None = None  # None: chosen by the rules at baseline; set = user override


@fast_init
@dataclass(frozen=True, slots=True)
class Measurement:
    lesion_id: int
    size_mm: float | None  # long axis; short axis for nodes.  None unless status is MEASURED
    status: MeasurementStatus = MeasurementStatus.MEASURED


@fast_init
@dataclass(frozen=True, slots=True)
class NewLesion:
    """A lesion reported as new on a study (not part of the baseline)."""

    site: str
    label: str | None = None
    is_node: bool = False
    size_mm: float | None = None
    equivocal: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class ImagingStudy:
    id: int
    date: date
    modality: Modality = Modality.CT
    slice_thickness_mm: float | None = None
    measurements: tuple[Measurement, ...] = ()
    new_lesions: tuple[NewLesion, ...] = ()
    non_target_status: NonTargetStatus | None = None  # None: not assessed on this study
    impression: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class MarkerResult:
    id: int
    date: date
    marker: Marker
    value: float  # in the marker's canonical unit
    unit: str
    uln: float | None = None  # the lab's own upper limit of normal, when given
    lab: str | None = None
    comparator: str | None = None  # "<" or ">": the value is a limit (outside the assay's range)


@fast_init
@dataclass(frozen=True, slots=True)
class BiopsyFinding:
    id: int
    date: date
    sample: Sample
    gene: str  # HGNC symbol, e.g. "EGFR"
    variant: str  # normalised short name, e.g. "T790M", "exon 19 deletion", "amplification"
    result: BiopsyResult
    vaf: float | None = None  # variant allele frequency in percent (0-100)
    assay: str | None = None
    allele_context: AlleleContext | None = None  # for C797S: cis/trans with T790M when known


@fast_init
@dataclass(frozen=True, slots=True)
class Appointment:
    id: int
    date: date
    kind: AppointmentKind
    description: str | None = None
    status: AppointmentStatus = AppointmentStatus.PLANNED


@fast_init
@dataclass(frozen=True, slots=True)
class History:
    patient: PatientInfo
    lines: tuple[TherapyLine, ...] = ()
    lesions: tuple[Lesion, ...] = ()
    studies: tuple[ImagingStudy, ...] = ()
    markers: tuple[MarkerResult, ...] = ()
    biopsies: tuple[BiopsyFinding, ...] = ()
    appointments: tuple[Appointment, ...] = ()

    def lesion(self, lesion_id: int) -> Lesion:
        for lesion in self.lesions:
            if lesion.id == lesion_id:
                return lesion
        raise KeyError(lesion_id)


def markers_by_kind(markers: Sequence[MarkerResult]) -> list[tuple[Marker, list[MarkerResult]]]:
    """``[(marker, its results in their order)]`` in the ``Marker`` enum order, markers without a
    result left out: what ``[r for r in markers if r.marker == m]`` gives for each ``m`` in
    ``Marker``, in one pass when every result's marker is a ``Marker`` (as the store and the
    writer give them), else by that comprehension."""
    groups: dict[Marker, list[MarkerResult]] = {}
    for r in markers:
        if type(r.marker) is not Marker:
            return [(m, rs) for m in Marker if (rs := [r for r in markers if r.marker == m])]
        group = groups.get(r.marker)
        if group is None:
            groups[r.marker] = [r]
        else:
            group.append(r)
    return [(m, groups[m]) for m in Marker if m in groups]
