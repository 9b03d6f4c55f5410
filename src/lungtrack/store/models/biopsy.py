"""Biopsy and liquid-biopsy findings.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


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
