"""The journal of changes (``lungtrack log``, ``lungtrack undo``).  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from lungtrack.store.models._base import utcnow


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
