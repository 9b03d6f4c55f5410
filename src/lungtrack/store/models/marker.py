"""Tumour-marker results.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


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
