"""The SQLModel tables.  docs/data-model.md describes every table and column.

Conventions: clinical dates are ``DATE``; ``created_at``/``updated_at`` are UTC timestamps
stored without a zone; controlled vocabularies are stored as the ``value`` strings of the
enums in :mod:`lungtrack.enums` (plain ``VARCHAR``, so SQLite and PostgreSQL behave alike);
``source`` says where a row came from (``manual``, ``demo`` or ``import:<file>``).
Changing a table here needs a new Alembic migration in ``store/migrations/versions``.
"""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date, datetime, timezone
from types import SimpleNamespace
from typing import Optional

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from pydantic import ConfigDict
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Current UTC time (aware).  SQLite stores it without a zone; it is read back as UTC."""
    return datetime.now(timezone.utc).replace(microsecond=0)


class Timestamped(SQLModel):
    # pydantic builds a table class's validator and serializer only when first used (row_dict,
    # exports): every command imports these classes, few serialise them (84 ms -> see
    # docs/performance.md).
    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]

    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, nullable=False)
    source: str = Field(default="manual", max_length=200, nullable=False)


class Patient(Timestamped, table=True):
    __tablename__ = "patient"
    __table_args__ = (Index("ix_patient_name_lower", text("lower(name)")), Index("ix_patient_is_default", "is_default"))
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    diagnosis_date: Optional[date] = None
    histology: Optional[str] = Field(default=None, max_length=200)
    subtypes: Optional[str] = Field(default=None, sa_column=Column(Text))  # JSON {"solid": 50, ...}
    drivers: Optional[str] = Field(default=None, sa_column=Column(Text))  # JSON ["EGFR exon 19 deletion"]
    smoking: str = Field(default="unknown", max_length=20)
    is_default: bool = Field(default=False)
    imaging_due_soon_weeks: Optional[float] = None  # None: the configured default
    imaging_overdue_weeks: Optional[float] = None
    marker_due_soon_weeks: Optional[float] = None
    marker_overdue_weeks: Optional[float] = None
    ended_on: Optional[date] = None
    ended_reason: Optional[str] = Field(default=None, max_length=200)
    birth_date: Optional[date] = None
    gender: Optional[str] = Field(default=None, max_length=20)
    stage: Optional[str] = Field(default=None, max_length=200)  # TNM stage as the source states it (0007)
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class TherapyLine(Timestamped, table=True):
    __tablename__ = "therapy_line"
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    drug: str = Field(max_length=100)
    start_date: date
    end_date: Optional[date] = None
    stop_reason: Optional[str] = Field(default=None, max_length=20)
    note: Optional[str] = Field(default=None, sa_column=Column(Text))
    rxnorm: Optional[str] = Field(default=None, max_length=20)  # RxNorm code as the source coded it (0007)
    stop_reason_text: Optional[str] = Field(default=None, max_length=200)  # the source's words (0007)
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class ImagingStudy(Timestamped, table=True):
    __tablename__ = "imaging_study"
    __table_args__ = (Index("ix_imaging_study_patient_date", "patient_id", "date"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    modality: str = Field(default="CT", max_length=20)
    slice_thickness_mm: Optional[float] = None
    impression: Optional[str] = Field(default=None, sa_column=Column(Text))
    non_target_status: Optional[str] = Field(default=None, max_length=20)
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row
    report_text: Optional[str] = Field(default=None, sa_column=Column(Text))  # the CT report's text
    source_status: Optional[str] = Field(default=None, max_length=100)  # the source's own disease status (0007)


class Lesion(Timestamped, table=True):
    __tablename__ = "lesion"
    __table_args__ = (UniqueConstraint("patient_id", "label", name="uq_lesion_patient_label"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    label: str = Field(max_length=100)
    site: str = Field(max_length=100)
    is_node: bool = Field(default=False)
    role: Optional[str] = Field(default=None, max_length=20)  # None: chosen by the RECIST rules


class LesionMeasurement(Timestamped, table=True):
    __tablename__ = "lesion_measurement"
    __table_args__ = (UniqueConstraint("study_id", "lesion_id", name="uq_measurement_study_lesion"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="imaging_study.id", index=True)
    lesion_id: int = Field(foreign_key="lesion.id", index=True)
    size_mm: Optional[float] = None
    status: str = Field(default="measured", max_length=20)


class NewLesion(Timestamped, table=True):
    __tablename__ = "new_lesion"
    id: Optional[int] = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="imaging_study.id", index=True)
    site: str = Field(max_length=100)
    label: Optional[str] = Field(default=None, max_length=100)
    is_node: bool = Field(default=False)
    size_mm: Optional[float] = None
    equivocal: bool = Field(default=False)
    lesion_id: Optional[int] = Field(default=None, foreign_key="lesion.id", index=True)  # the lesion it became


class MarkerResult(Timestamped, table=True):
    __tablename__ = "marker_result"
    __table_args__ = (Index("ix_marker_result_patient_date", "patient_id", "date"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    marker: str = Field(max_length=20)
    value: float
    unit: str = Field(max_length=20)
    uln: Optional[float] = None
    lab: Optional[str] = Field(default=None, max_length=200)
    comparator: Optional[str] = Field(default=None, max_length=2)  # "<" / ">": outside the assay's range
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class BiopsyFinding(Timestamped, table=True):
    __tablename__ = "biopsy_finding"
    __table_args__ = (Index("ix_biopsy_finding_patient_date", "patient_id", "date"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    sample: str = Field(max_length=20)
    assay: Optional[str] = Field(default=None, max_length=200)
    gene: str = Field(max_length=20)
    variant: str = Field(max_length=100)
    hgvs_p: Optional[str] = Field(default=None, max_length=100)
    hgvs_c: Optional[str] = Field(default=None, max_length=100)
    result: str = Field(max_length=20)
    vaf: Optional[float] = None  # percent
    allele_context: Optional[str] = Field(default=None, max_length=20)
    origin: Optional[str] = Field(default=None, max_length=20)  # somatic / germline (0007)
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class Appointment(Timestamped, table=True):
    __tablename__ = "appointment"
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    kind: str = Field(default="visit", max_length=20)
    description: Optional[str] = Field(default=None, max_length=500)
    status: str = Field(default="planned", max_length=20)
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class Note(Timestamped, table=True):
    __tablename__ = "note"
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    text: str = Field(sa_column=Column(Text, nullable=False))
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row


class Acknowledgement(Timestamped, table=True):
    __tablename__ = "acknowledgement"
    __table_args__ = (UniqueConstraint("patient_id", "finding_id", name="uq_ack_patient_finding"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    finding_id: str = Field(max_length=300)
    note: Optional[str] = Field(default=None, sa_column=Column(Text))


class Snooze(Timestamped, table=True):
    __tablename__ = "snooze"
    __table_args__ = (UniqueConstraint("patient_id", "item_key", name="uq_snooze_patient_item"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    item_key: str = Field(max_length=200)
    until: date


class EventLog(SQLModel, table=True):
    """What left the store or was destroyed: exports, reports, backups, patient deletions."""

    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]

    __tablename__ = "event_log"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, nullable=False, index=True)
    action: str = Field(max_length=50)  # export-json, export-csv, export-ics, export-fhir, report, backup, delete-patient
    patient_id: Optional[int] = None  # not a foreign key: the entry outlives a deleted patient
    patient_name: Optional[str] = Field(default=None, max_length=200)
    detail: Optional[str] = Field(default=None, sa_column=Column(Text))


class PatientIdentifier(Timestamped, table=True):
    """A (system, value) pair naming the patient in another system (FHIR ``Patient.identifier``)."""

    __tablename__ = "patient_identifier"
    __table_args__ = (UniqueConstraint("system", "value", name="uq_patient_identifier_system_value"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    system: str = Field(max_length=300)
    value: str = Field(max_length=300)


class Change(SQLModel, table=True):
    """One write command: ``lungtrack log`` lists them, ``lungtrack undo`` reverts the last one."""

    __tablename__ = "change"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, nullable=False, index=True)
    os_user: Optional[str] = Field(default=None, max_length=200)
    command: Optional[str] = Field(default=None, sa_column=Column(Text))  # values masked
    summary: Optional[str] = Field(default=None, sa_column=Column(Text))
    kind: str = Field(default="edit", max_length=50)  # add, edit, delete, import, undo, demo
    undone_at: Optional[datetime] = None
    undone_by: Optional[int] = None  # the change that reverted this one


class ChangeEntry(SQLModel, table=True):
    """One row inserted, updated or deleted by a change; ``old``/``new`` are the row as JSON."""

    __tablename__ = "change_entry"
    id: Optional[int] = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change.id", index=True)
    table_name: str = Field(max_length=50)
    row_id: int
    op: str = Field(max_length=10)  # insert, update, delete
    old: Optional[str] = Field(default=None, sa_column=Column(Text))
    new: Optional[str] = Field(default=None, sa_column=Column(Text))


#: The tables by name, as attributes (``TABLES.patient``): :mod:`lungtrack.store.read` queries
#: these in a process that has built the model classes, the Core copies of
#: :mod:`lungtrack.store.tables` otherwise.
TABLES = SimpleNamespace(**SQLModel.metadata.tables)
