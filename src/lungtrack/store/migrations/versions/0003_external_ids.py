"""external ids: remember where an imported row came from, so that importing twice adds nothing

Adds a nullable, indexed ``external_id`` (``<resourceType>/<id>`` for FHIR imports) to the tables
that an import can fill.  ``batch_alter_table`` makes the change work on SQLite (table copy)
and PostgreSQL (plain ``ALTER TABLE``) alike.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: Tables that get the column.  The index name is the one SQLModel's ``Field(index=True)`` implies.
TABLES = ("patient", "therapy_line", "imaging_study", "marker_result", "biopsy_finding", "appointment", "note")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("external_id", sa.String(length=300), nullable=True))
            batch_op.create_index(f"ix_{table}_external_id", ["external_id"], unique=False)


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_external_id")
            batch_op.drop_column("external_id")
