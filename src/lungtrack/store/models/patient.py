"""Patients and the identifiers naming them in other systems.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped


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


class PatientIdentifier(Timestamped, table=True):
    """A (system, value) pair naming the patient in another system (FHIR ``Patient.identifier``)."""

    __tablename__ = "patient_identifier"
    __table_args__ = (UniqueConstraint("system", "value", name="uq_patient_identifier_system_value"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    system: str = Field(max_length=300)
    value: str = Field(max_length=300)
