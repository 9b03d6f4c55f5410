"""fhir: the facts a FHIR/mCODE source states that lungtrack had no column for

* ``patient.stage``: TNM stage as the source states it ("cT3 cN3 cM0, stage IIIC (clinical)").
* ``therapy_line.rxnorm``: the RxNorm code of the drug as the source coded it.
* ``therapy_line.stop_reason_text``: the source's own words for why a drug was stopped
  ("Treatment not tolerated"), beside lungtrack's progression / toxicity / other.
* ``biopsy_finding.origin``: somatic or germline (genomics-reporting genomic source class).
* ``imaging_study.source_status``: the source's own disease-status assessment of that date
  (mCODE CancerDiseaseStatus: improved / stable / worsened / undetermined), kept beside the
  response lungtrack computes from the measurements and never mixed with it.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-06

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=200), nullable=True))
    with op.batch_alter_table("therapy_line") as batch:
        batch.add_column(sa.Column("rxnorm", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("stop_reason_text", sa.String(length=200), nullable=True))
    with op.batch_alter_table("biopsy_finding") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=20), nullable=True))
    with op.batch_alter_table("imaging_study") as batch:
        batch.add_column(sa.Column("source_status", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("imaging_study") as batch:
        batch.drop_column("source_status")
    with op.batch_alter_table("biopsy_finding") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("therapy_line") as batch:
        batch.drop_column("stop_reason_text")
        batch.drop_column("rxnorm")
    with op.batch_alter_table("patient") as batch:
        batch.drop_column("stage")
