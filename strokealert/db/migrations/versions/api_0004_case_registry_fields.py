"""cases: registry abstraction fields (final diagnosis, age, in-hospital stroke, thrombolytic
agent, documented reasons for a delay in or for not giving it) and notes on how times were read

Revision ID: api_0004
Revises: api_0003
Create Date: 2026-12-04 16:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'api_0004'
down_revision = 'api_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_notes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('final_diagnosis', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('age_years', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('in_hospital_stroke', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('thrombolytic_agent', sa.String(length=16),
                                      nullable=True))
        batch_op.add_column(sa.Column('ivt_delay_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('ivt_not_given_reason', sa.Text(), nullable=True))
    cases = sa.table('cases', sa.column('time_notes', sa.JSON()))
    op.execute(cases.update().values(time_notes=[]))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('time_notes', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('in_hospital_stroke', existing_type=sa.Boolean(),
                              server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('ivt_not_given_reason')
        batch_op.drop_column('ivt_delay_reason')
        batch_op.drop_column('thrombolytic_agent')
        batch_op.drop_column('in_hospital_stroke')
        batch_op.drop_column('age_years')
        batch_op.drop_column('final_diagnosis')
        batch_op.drop_column('time_notes')
