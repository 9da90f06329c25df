"""The migrations create every table on SQLite and PostgreSQL and match the ORM models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from strokealert.db import make_engine
from strokealert.db.models import all_metadata

UNMANAGED = {"apscheduler_jobs"}  # created by APScheduler's own job store


def test_migrations_match_models(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        metadatas = all_metadata()
        for metadata in metadatas:
            assert set(metadata.tables) <= tables
        context = MigrationContext.configure(
            conn, opts={"include_name": lambda name, type_, _parents: name not in UNMANAGED}
        )
        diff = compare_metadata(context, metadatas)
        assert diff == [], diff
    engine.dispose()
