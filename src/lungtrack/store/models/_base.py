"""The shared base of the tables (timestamps and source) and ``utcnow``.  See :mod:`lungtrack.store.models`."""

# (no "from __future__ import annotations": pydantic would eval() every annotation string)

from datetime import datetime

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from lungtrack.store.clock import utcnow

__all__ = ["Timestamped", "utcnow"]


class Timestamped(SQLModel):
    # pydantic builds a table class's validator and serializer only when first used (row_dict,
    # exports): every command imports these classes, few serialise them (84 ms -> see
    # docs/performance.md).
    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]

    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, nullable=False)
    source: str = Field(default="manual", max_length=200, nullable=False)
