"""``strokealert db upgrade``."""

from __future__ import annotations

from pathlib import Path

import typer

from strokealert import db
from strokealert.config import load_settings

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Create or migrate the database to the latest schema."""
    settings = load_settings(config)
    db.upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
