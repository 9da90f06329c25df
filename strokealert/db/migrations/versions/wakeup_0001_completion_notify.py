"""wakeup: a completion_events insert NOTIFYs strokealert_completion (PostgreSQL only)

Whatever process writes completion events (the ingest child, a separate receiver), the pipeline
dispatchers listening on the channel wake in the writer's commit; SQLite has no triggers that
reach other processes (the ingest's completion callbacks wake the dispatcher there).

Revision ID: wakeup_0001
Revises:
Create Date: 2026-12-04 16:15:00.000000
"""

from alembic import op

revision = 'wakeup_0001'
down_revision = None
branch_labels = ('wakeup',)
depends_on = 'ingest_0001'


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION strokealert_completion_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('strokealert_completion', '');
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER completion_events_notify AFTER INSERT ON completion_events
        FOR EACH STATEMENT EXECUTE FUNCTION strokealert_completion_notify()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS completion_events_notify ON completion_events")
    op.execute("DROP FUNCTION IF EXISTS strokealert_completion_notify()")
