"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""

    op.create_table('patient',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('diagnosis_date', sa.Date(), nullable=True),
    sa.Column('histology', sa.String(length=200), nullable=True),
    sa.Column('subtypes', sa.Text(), nullable=True),
    sa.Column('drivers', sa.Text(), nullable=True),
    sa.Column('smoking', sa.String(length=20), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('imaging_due_soon_weeks', sa.Float(), nullable=True),
    sa.Column('imaging_overdue_weeks', sa.Float(), nullable=True),
    sa.Column('marker_due_soon_weeks', sa.Float(), nullable=True),
    sa.Column('marker_overdue_weeks', sa.Float(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('ended_reason', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_name'), ['name'], unique=True)

    op.create_table('acknowledgement',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'finding_id', name='uq_ack_patient_finding')
    )
    with op.batch_alter_table('acknowledgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acknowledgement_patient_id'), ['patient_id'], unique=False)

    op.create_table('appointment',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_patient_id'), ['patient_id'], unique=False)

    op.create_table('biopsy_finding',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('sample', sa.String(length=20), nullable=False),
    sa.Column('assay', sa.String(length=200), nullable=True),
    sa.Column('gene', sa.String(length=20), nullable=False),
    sa.Column('variant', sa.String(length=100), nullable=False),
    sa.Column('hgvs_p', sa.String(length=100), nullable=True),
    sa.Column('hgvs_c', sa.String(length=100), nullable=True),
    sa.Column('result', sa.String(length=20), nullable=False),
    sa.Column('vaf', sa.Float(), nullable=True),
    sa.Column('allele_context', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('biopsy_finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_biopsy_finding_patient_id'), ['patient_id'], unique=False)

    op.create_table('imaging_study',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('modality', sa.String(length=20), nullable=False),
    sa.Column('slice_thickness_mm', sa.Float(), nullable=True),
    sa.Column('impression', sa.Text(), nullable=True),
    sa.Column('non_target_status', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('imaging_study', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imaging_study_patient_id'), ['patient_id'], unique=False)

    op.create_table('lesion',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('site', sa.String(length=100), nullable=False),
    sa.Column('is_node', sa.Boolean(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'label', name='uq_lesion_patient_label')
    )
    with op.batch_alter_table('lesion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesion_patient_id'), ['patient_id'], unique=False)

    op.create_table('marker_result',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('marker', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('uln', sa.Float(), nullable=True),
    sa.Column('lab', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('marker_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marker_result_patient_id'), ['patient_id'], unique=False)

    op.create_table('note',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_patient_id'), ['patient_id'], unique=False)

    op.create_table('snooze',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=200), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('patient_id', 'item_key', name='uq_snooze_patient_item')
    )
    with op.batch_alter_table('snooze', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snooze_patient_id'), ['patient_id'], unique=False)

    op.create_table('therapy_line',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('drug', sa.String(length=100), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('stop_reason', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('therapy_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_therapy_line_patient_id'), ['patient_id'], unique=False)

    op.create_table('lesion_measurement',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('lesion_id', sa.Integer(), nullable=False),
    sa.Column('size_mm', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['lesion_id'], ['lesion.id'], ),
    sa.ForeignKeyConstraint(['study_id'], ['imaging_study.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('study_id', 'lesion_id', name='uq_measurement_study_lesion')
    )
    with op.batch_alter_table('lesion_measurement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lesion_measurement_lesion_id'), ['lesion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lesion_measurement_study_id'), ['study_id'], unique=False)

    op.create_table('new_lesion',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site', sa.String(length=100), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('is_node', sa.Boolean(), nullable=False),
    sa.Column('size_mm', sa.Float(), nullable=True),
    sa.Column('equivocal', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['study_id'], ['imaging_study.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('new_lesion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_new_lesion_study_id'), ['study_id'], unique=False)




def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table('new_lesion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_new_lesion_study_id'))

    op.drop_table('new_lesion')
    with op.batch_alter_table('lesion_measurement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesion_measurement_study_id'))
        batch_op.drop_index(batch_op.f('ix_lesion_measurement_lesion_id'))

    op.drop_table('lesion_measurement')
    with op.batch_alter_table('therapy_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_therapy_line_patient_id'))

    op.drop_table('therapy_line')
    with op.batch_alter_table('snooze', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_snooze_patient_id'))

    op.drop_table('snooze')
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_patient_id'))

    op.drop_table('note')
    with op.batch_alter_table('marker_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marker_result_patient_id'))

    op.drop_table('marker_result')
    with op.batch_alter_table('lesion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lesion_patient_id'))

    op.drop_table('lesion')
    with op.batch_alter_table('imaging_study', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imaging_study_patient_id'))

    op.drop_table('imaging_study')
    with op.batch_alter_table('biopsy_finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_biopsy_finding_patient_id'))

    op.drop_table('biopsy_finding')
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_patient_id'))

    op.drop_table('appointment')
    with op.batch_alter_table('acknowledgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acknowledgement_patient_id'))

    op.drop_table('acknowledgement')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_name'))

    op.drop_table('patient')

