"""scale indexes: find a patient by name and the default patient without scanning the table

``lower(name)`` serves the case-insensitive ``--patient NAME`` look-up and ``is_default`` the
default patient, so that one patient's work costs the same in a store of 100,000 patients as in
a store of its own.  (Every ``patient_id`` and ``study_id`` column already has its index.)

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-06

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_patient_name_lower", "patient", [sa.text("lower(name)")])
    op.create_index("ix_patient_is_default", "patient", ["is_default"])


def downgrade() -> None:
    op.drop_index("ix_patient_is_default", table_name="patient")
    op.drop_index("ix_patient_name_lower", table_name="patient")
