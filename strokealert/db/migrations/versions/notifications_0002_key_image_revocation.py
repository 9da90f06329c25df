"""notifications: revocable key-image links (notify_alerts.images_revoked_at)

Revision ID: notifications_0002
Revises: notifications_0001
Create Date: 2026-12-04 16:40:00
"""

from alembic import op
import sqlalchemy as sa


revision = 'notifications_0002'
down_revision = 'notifications_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notify_alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('images_revoked_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notify_alerts', schema=None) as batch_op:
        batch_op.drop_column('images_revoked_at')
