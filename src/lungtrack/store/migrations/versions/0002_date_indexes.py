"""date indexes: look up a patient's results by date without scanning the table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_INDEXES = {
    "ix_marker_result_patient_date": ("marker_result", ["patient_id", "date"]),
    "ix_imaging_study_patient_date": ("imaging_study", ["patient_id", "date"]),
    "ix_biopsy_finding_patient_date": ("biopsy_finding", ["patient_id", "date"]),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in _INDEXES.items():
        op.drop_index(name, table_name=table)
