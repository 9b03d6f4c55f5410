"""Therapy lines.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


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
