"""monitoring: readers' confirmations, input fingerprints per analysis, operational episodes

Revision ID: monitoring_0001
Revises:
Create Date: 2026-12-04 19:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'monitoring_0001'
down_revision = None
branch_labels = ('monitoring',)
depends_on = ('api_0001', 'hl7_0001')


def upgrade() -> None:
    op.create_table('monitoring_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('reader', sa.String(length=128), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lvo', sa.Boolean(), nullable=True),
    sa.Column('lvo_site', sa.String(length=16), nullable=True),
    sa.Column('haemorrhage', sa.Boolean(), nullable=True),
    sa.Column('haemorrhage_kind', sa.String(length=32), nullable=True),
    sa.Column('core_plausible', sa.Boolean(), nullable=True),
    sa.Column('hl7_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_monitoring_confirmations_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hl7_message_id'], ['hl7_messages.id'], name=op.f('fk_monitoring_confirmations_hl7_message_id_hl7_messages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_confirmations')),
    sa.UniqueConstraint('case_id', name=op.f('uq_monitoring_confirmations_case_id'))
    )
    with op.batch_alter_table('monitoring_confirmations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_confirmations_confirmed_at'), ['confirmed_at'], unique=False)

    op.create_table('monitoring_fingerprints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('analysis', sa.String(length=16), nullable=False),
    sa.Column('series_uid', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('analysed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('positive', sa.Boolean(), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('manual_review', sa.Boolean(), nullable=False),
    sa.Column('manufacturer', sa.String(length=64), nullable=True),
    sa.Column('scanner_model', sa.String(length=64), nullable=True),
    sa.Column('kernel', sa.String(length=64), nullable=True),
    sa.Column('slice_thickness_mm', sa.Float(), nullable=True),
    sa.Column('noise_hu', sa.Float(), nullable=True),
    sa.Column('contrast_hu', sa.Float(), nullable=True),
    sa.Column('coverage_mm', sa.Float(), nullable=True),
    sa.Column('ood_score', sa.Float(), nullable=True),
    sa.Column('age_band', sa.String(length=8), nullable=True),
    sa.Column('sex', sa.String(length=1), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_monitoring_fingerprints_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_fingerprints')),
    sa.UniqueConstraint('series_uid', 'analysis', name=op.f('uq_monitoring_fingerprints_series_uid'))
    )
    with op.batch_alter_table('monitoring_fingerprints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_fingerprints_analysed_at'), ['analysed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_fingerprints_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_fingerprints_model'), ['model'], unique=False)

    op.create_table('monitoring_episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('open_key', sa.String(length=160), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.Column('alert_id', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_episodes')),
    sa.UniqueConstraint('open_key', name=op.f('uq_monitoring_episodes_open_key'))
    )
    with op.batch_alter_table('monitoring_episodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitoring_episodes_opened_at'), ['opened_at'], unique=False)


def downgrade() -> None:
    op.drop_table('monitoring_episodes')
    op.drop_table('monitoring_fingerprints')
    op.drop_table('monitoring_confirmations')
