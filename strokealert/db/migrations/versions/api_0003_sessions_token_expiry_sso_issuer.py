"""server-side web sessions, bearer token expiry, SSO identity = issuer + subject

Revision ID: api_0003
Revises: api_0002
Create Date: 2026-12-04 16:00:00
"""

from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


revision = 'api_0003'
down_revision = 'api_0002'
branch_labels = None
depends_on = None

# Tokens issued before expiry existed get the default device-token lifetime from the upgrade.
LEGACY_TOKEN_DAYS = 30


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id_sha256', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_sha256', name=op.f('pk_web_sessions'))
    )
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_sessions_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime(timezone=True)))
    op.execute(tokens.update().values(
        expires_at=datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('expires_at', existing_type=sa.DateTime(timezone=True),
                              nullable=False)

    # Existing links were made under the one pinned issuer; the first SSO login from the
    # configured issuer fills it in (strokealert.api.services.sessions.find_sso_user).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('oidc_issuer', sa.String(length=512), nullable=True))
        batch_op.drop_constraint('uq_users_oidc_subject', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_users_oidc_issuer'),
                                          ['oidc_issuer', 'oidc_subject'])


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_oidc_issuer'), type_='unique')
        batch_op.create_unique_constraint('uq_users_oidc_subject', ['oidc_subject'])
        batch_op.drop_column('oidc_issuer')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_web_sessions_expires_at'))
    op.drop_table('web_sessions')
