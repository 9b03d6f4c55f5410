"""The event log: what left the store or was destroyed.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Text
from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from lungtrack.store.models._base import utcnow


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
