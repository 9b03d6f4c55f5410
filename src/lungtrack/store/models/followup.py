"""Acknowledged findings and snoozed reminders.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import date
from typing import Optional

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field

from lungtrack.store.models._base import Timestamped
from lungtrack.store.models import patient as _patient  # noqa: F401  (the table its foreign keys name)


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
