"""write path: journal of every change (undo, audit), patient identifiers, lesion lifecycle,
censored marker values, CT report text

* ``change`` / ``change_entry``: every write command is one change (when, OS user, the command
  line with its values masked) with one entry per row inserted, updated or deleted (old and new
  values as JSON), so ``lungtrack undo`` can revert it and ``lungtrack log`` can show it.
* ``patient_identifier``: (system, value) pairs that identify a patient in other systems;
  imports match patients by them and never by a local id alone.
* ``patient.birth_date``, ``patient.gender``: from imports; no clinical date lies before birth.
* ``new_lesion.lesion_id``: a new lesion becomes a lesion that later scans measure.
* ``marker_result.comparator``: ``<`` or ``>`` for a value reported outside the assay's range.
* ``imaging_study.report_text``: the CT report's text.

Revision ID: 0005
Revises: 0008
Create Date: 2026-12-06

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("os_user", sa.String(length=200), nullable=True),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_at", "change", ["at"])
    op.create_table(
        "change_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), sa.ForeignKey("change.id"), nullable=False),
        sa.Column("table_name", sa.String(length=50), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=10), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_change_entry_change_id", "change_entry", ["change_id"])
    op.create_table(
        "patient_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("patient_id", sa.Integer(), sa.ForeignKey("patient.id"), nullable=False),
        sa.Column("system", sa.String(length=300), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "value", name="uq_patient_identifier_system_value"),
    )
    op.create_index("ix_patient_identifier_patient_id", "patient_identifier", ["patient_id"])
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("gender", sa.String(length=20), nullable=True))
    with op.batch_alter_table("new_lesion") as batch:
        batch.add_column(sa.Column("lesion_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_new_lesion_lesion_id", "lesion", ["lesion_id"], ["id"])
        batch.create_index("ix_new_lesion_lesion_id", ["lesion_id"])
    with op.batch_alter_table("marker_result") as batch:
        batch.add_column(sa.Column("comparator", sa.String(length=2), nullable=True))
    with op.batch_alter_table("imaging_study") as batch:
        batch.add_column(sa.Column("report_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imaging_study") as batch:
        batch.drop_column("report_text")
    with op.batch_alter_table("marker_result") as batch:
        batch.drop_column("comparator")
    with op.batch_alter_table("new_lesion") as batch:
        batch.drop_index("ix_new_lesion_lesion_id")
        batch.drop_constraint("fk_new_lesion_lesion_id", type_="foreignkey")
        batch.drop_column("lesion_id")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("gender")
        batch.drop_column("birth_date")
    op.drop_index("ix_patient_identifier_patient_id", table_name="patient_identifier")
    op.drop_table("patient_identifier")
    op.drop_index("ix_change_entry_change_id", table_name="change_entry")
    op.drop_table("change_entry")
    op.drop_index("ix_change_at", table_name="change")
    op.drop_table("change")
