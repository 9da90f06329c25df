"""hl7: received HL7 v2 messages (raw, outcome, match keys) and timeline events with sources

Revision ID: hl7_0001
Revises:
Create Date: 2026-12-04 16:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'hl7_0001'
down_revision = None
branch_labels = ('hl7',)
depends_on = 'api_0001'


def upgrade() -> None:
    op.create_table('hl7_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sending_application', sa.String(length=180), nullable=False),
    sa.Column('sending_facility', sa.String(length=180), nullable=False),
    sa.Column('control_id', sa.String(length=199), nullable=True),
    sa.Column('message_type', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resends', sa.Integer(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('mrn', sa.String(length=64), nullable=True),
    sa.Column('visit_number', sa.String(length=64), nullable=True),
    sa.Column('accession_number', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_hl7_messages_case_id_cases'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hl7_messages')),
    sa.UniqueConstraint('sending_application', 'sending_facility', 'control_id', name='uq_hl7_messages_sender_control_id')
    )
    with op.batch_alter_table('hl7_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hl7_messages_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_hl7_messages_mrn_visit', ['mrn', 'visit_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_hl7_messages_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hl7_messages_status'), ['status'], unique=False)

    op.create_table('timeline_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('value', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_timeline_events_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['hl7_messages.id'], name=op.f('fk_timeline_events_message_id_hl7_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_events'))
    )
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_events_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_timeline_events_message_id'), ['message_id'], unique=False)


def downgrade() -> None:
    op.drop_table('timeline_events')
    op.drop_table('hl7_messages')
