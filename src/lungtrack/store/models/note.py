"""Notes.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


class Note(Timestamped, table=True):
    __tablename__ = "note"
    id: Optional[int] = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    date: date
    text: str = Field(sa_column=Column(Text, nullable=False))
    external_id: Optional[str] = Field(default=None, max_length=300, index=True)  # "<resourceType>/<id>" of an imported row
