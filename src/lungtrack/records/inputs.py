"""The write contract: what every entry path (CLI, CSV, JSON, FHIR, demo) hands to the
domain layer :mod:`lungtrack.records`.  Standard library only, so an importer can build these
without SQLAlchemy.  Every class is a frozen dataclass of plain values.

Conventions
-----------
* Dates are ``datetime.date``.  Sizes are millimetres.  Vocabulary fields take the ``value``
  strings of :mod:`lungtrack.enums` (``"progression"``, ``"plasma"``, ``"not-evaluated"`` ...);
  the writer normalises case and refuses what it does not know, naming the field and origin.
* :class:`Source` says where a record came from:

  - ``label``: ``"manual"`` (typed at the CLI), ``"demo"``, ``"import:csv:labs.csv"``,
    ``"import:fhir:Bundle.json"``, ``"import:json:export.json"``; stored in the row's ``source``.
  - ``external_id``: a stable id of the record inside that source.  FHIR:
    ``"<base-or-system>|<ResourceType>/<id>"``; CSV: a natural key (e.g. ``"CEA|2026-03-04"``).
    Re-importing a record whose ``external_id`` is already stored for that patient is a no-op
    ("already present"), or "changed" when its values differ (the import then updates the row).
  - ``origin``: where it came from, for error messages (``"labs.csv:12"``, ``"Bundle.json#entry[3]"``).

* :class:`PatientRef` names the patient a batch belongs to.  Identity is never guessed:

  - by any ``(system, value)`` pair in ``identifiers`` that a stored patient has;
  - else by ``source_base`` + ``local_id`` together (a FHIR server's base URL and the
    ``Patient.id`` there) — never by a local id alone;
  - else by ``name``, only for manual and CSV input where the person names the patient.

  A ref that matches nobody creates the patient from ``ImportBatch.patient_input`` (refused
  when there is none); a ref whose keys match two different patients is refused.

* Marker values: ``value`` is in ``unit``.  ``unit=None`` is refused by the writer (an
  importer must not assume a unit; the CLI passes the marker's usual unit explicitly because
  the person typed the value).  ``comparator`` is ``"<"`` or ``">"`` for a value reported
  outside the assay's range (``"<0.5"`` -> ``value=0.5, comparator="<"``).  A value of 0 is
  refused unless ``comparator == "<"``.

* A lesion measurement's ``size_mm`` is the long axis, or the short axis for a node; ``None``
  with ``status`` ``"not-evaluated"``/``"too-small"``; ``0`` for ``"disappeared"``.
  ``new=True`` reports a new lesion on that scan (it becomes a lesion that later scans can
  measure); ``equivocal=True`` for an equivocal new lesion.

* :class:`ImportPlan` is what an importer produces: one :class:`ImportBatch` per patient, plus
  what the importer itself skipped, as ``(record type, reason, count)``.  The writer's
  ``apply_import(plan, dry_run=False)`` validates every record first and refuses the whole
  plan, listing every problem with its ``origin``, if any is invalid; otherwise it writes
  everything in one transaction as one journal change (``lungtrack undo`` / ``import undo ID``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = [
    "MANUAL",
    "AppointmentInput",
    "BiopsyInput",
    "ImportBatch",
    "ImportPlan",
    "ImportResult",
    "MarkerInput",
    "MeasurementInput",
    "NoteInput",
    "PatientInput",
    "PatientRef",
    "Problem",
    "ScanInput",
    "Source",
    "TherapyInput",
]


@dataclass(frozen=True)
class Source:
    label: str = "manual"
    external_id: str | None = None
    origin: str | None = None


MANUAL = Source()


@dataclass(frozen=True)
class PatientRef:
    name: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()  # (system, value)
    source_base: str | None = None
    local_id: str | None = None


@dataclass(frozen=True)
class PatientInput:
    name: str
    diagnosis_date: date | None = None
    histology: str | None = None
    subtypes: tuple[tuple[str, float], ...] | None = None  # (("solid", 50.0), ("acinar", 50.0))
    drivers: tuple[str, ...] = ()
    smoking: str | None = None  # never / former / current / unknown
    birth_date: date | None = None
    gender: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    source: Source = field(default_factory=Source)
    deceased_date: date | None = None  # tracking ends on this date (reason "deceased")
    stage: str | None = None  # "cT3 cN3 cM0, stage IIIC (clinical)": as the source states it (migration 0007)


@dataclass(frozen=True)
class TherapyInput:
    drug: str
    start: date
    end: date | None = None
    stop_reason: str | None = None  # progression / toxicity / other
    stop_reason_text: str | None = None
    note: str | None = None
    rxnorm: str | None = None
    source: Source = field(default_factory=Source)


@dataclass(frozen=True)
class MeasurementInput:
    label: str
    size_mm: float | None
    status: str = "measured"  # measured / too-small / disappeared / not-evaluated
    short_axis_mm: float | None = None
    site: str | None = None
    is_node: bool | None = None
    new: bool = False
    equivocal: bool = False
    role: str | None = None  # target / non-target: the user's override of RECIST's choice


@dataclass(frozen=True)
class ScanInput:
    date: date
    measurements: tuple[MeasurementInput, ...] = ()
    modality: str = "CT"
    non_target_status: str | None = None  # present / absent / progression
    slice_thickness_mm: float | None = None
    impression: str | None = None
    report_text: str | None = None
    source: Source = field(default_factory=Source)
    source_status: str | None = None  # the source's own disease-status assessment ("improved" ...), migration 0007


@dataclass(frozen=True)
class MarkerInput:
    marker: str
    value: float
    unit: str | None
    date: date
    uln: float | None = None  # in ``unit``
    lab: str | None = None
    comparator: str | None = None  # "<" or ">"
    source: Source = field(default_factory=Source)


@dataclass(frozen=True)
class BiopsyInput:
    date: date
    sample: str
    gene: str
    variant: str
    result: str  # detected / not-detected / indeterminate
    vaf: float | None = None
    assay: str | None = None
    allele_context: str | None = None
    hgvs_c: str | None = None
    hgvs_p: str | None = None
    origin: str | None = None  # somatic / germline
    source: Source = field(default_factory=Source)


@dataclass(frozen=True)
class AppointmentInput:
    date: date
    kind: str
    description: str | None = None
    status: str = "planned"
    source: Source = field(default_factory=Source)


@dataclass(frozen=True)
class NoteInput:
    date: date
    text: str
    source: Source = field(default_factory=Source)


@dataclass(frozen=True)
class ImportBatch:
    patient: PatientRef
    patient_input: PatientInput | None = None
    therapies: tuple[TherapyInput, ...] = ()
    scans: tuple[ScanInput, ...] = ()
    markers: tuple[MarkerInput, ...] = ()
    biopsies: tuple[BiopsyInput, ...] = ()
    appointments: tuple[AppointmentInput, ...] = ()
    notes: tuple[NoteInput, ...] = ()


@dataclass(frozen=True)
class ImportPlan:
    kind: str  # "csv" | "fhir" | "json"
    source_label: str
    batches: tuple[ImportBatch, ...]
    skipped: tuple[tuple[str, str, int], ...] = ()  # (record type, reason, count)


# ---------------------------------------------------------------- what the writer gives back

@dataclass(frozen=True)
class Problem:
    """One invalid record: ``message`` is the one-line reason (``<field>: <value> is not valid; expected <form>.``)."""

    origin: str | None
    field: str
    message: str

    def line(self) -> str:
        return f"{self.origin}: {self.message}" if self.origin else self.message


@dataclass(frozen=True)
class ImportResult:
    """What ``apply_import`` did (or, with ``dry_run``, would do).  Counts are by record type
    (``patient``, ``therapy``, ``scan``, ``measurement``, ``lesion``, ``marker``, ``biopsy``,
    ``appointment``, ``note``); ``skipped`` adds the writer's own skips to the plan's."""

    kind: str
    source_label: str
    dry_run: bool
    change_id: int | None  # the journal change (``lungtrack import undo ID``); None on a dry run
    patients: tuple[tuple[int | None, str, str], ...] = ()  # (id, name, "matched" | "created")
    added: tuple[tuple[str, int], ...] = ()
    already_present: tuple[tuple[str, int], ...] = ()
    changed: tuple[tuple[str, int], ...] = ()
    skipped: tuple[tuple[str, str, int], ...] = ()
    notes: tuple[str, ...] = ()

    def count(self, which: str, kind: str) -> int:
        return dict(getattr(self, which)).get(kind, 0)
