"""pipeline: jobs.not_before (a series lacking images waits for them within a bound)

Revision ID: pipeline_0002
Revises: pipeline_0001
Create Date: 2026-12-04 15:55:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = 'pipeline_0002'
down_revision = 'pipeline_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('jobs', sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch_op:
        batch_op.drop_column('not_before')
