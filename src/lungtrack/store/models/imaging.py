"""CT scans, lesions, their measurements and new lesions.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


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
