"""hl7: index cases.patient_id (every HL7 message is matched to its case by MRN)

Revision ID: hl7_0002
Revises: hl7_0001
Create Date: 2026-12-04 16:50:00
"""

from alembic import op


revision = 'hl7_0002'
down_revision = 'hl7_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_patient_id'))
