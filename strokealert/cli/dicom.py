"""DICOM commands: ``serve``, ``send``, ``studies``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from strokealert.config import Settings, load_settings
from strokealert.errors import InputError


def _settings(config: Path | None) -> Settings:
    """Settings with ``--config``; a missing file is an input error (exit 2)."""
    if config is not None and not config.is_file():
        raise InputError(f"config file not found: {config}")
    return load_settings(config)


def require_secrets(settings: Settings) -> None:
    """Refuse to start a service whose settings lack its secrets (exit 2, the reasons)."""
    problems = settings.missing_secrets()
    if problems:
        raise InputError("; ".join(problems))


def serve(config: Path | None = typer.Option(None, "--config", help="TOML settings file")) -> None:
    """Run the service (DICOM receiver, completion, retention, …) until SIGINT/SIGTERM."""
    from strokealert import db
    from strokealert.pipeline.perfusion_settings import perfusion_config
    from strokealert.service import Service

    settings = _settings(config)
    require_secrets(settings)
    perfusion_config(settings)  # an unknown or invalid [perfusion] setting stops us here
    db.upgrade(settings.resolved_database_url)
    Service.default(settings).run_until_signal()


def send(
    paths: list[Path] = typer.Argument(..., help="DICOM files or folders"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(11112, "--port"),
    aet: str = typer.Option("STROKEALERT_SCU", "--aet", help="calling AE title"),
    aec: str = typer.Option("STROKEALERT", "--aec", help="called AE title"),
) -> None:
    """Send DICOM files with C-STORE, each in its own transfer syntax."""
    from strokealert.dicom.sender import send_files

    result = send_files(paths, host, port, calling_aet=aet, called_aet=aec)
    for path, reason in result.failed:
        typer.echo(f"failed: {path}: {reason}", err=True)
    typer.echo(f"sent {result.sent}, failed {len(result.failed)}, "
               f"not DICOM {len(result.skipped)}")
    if result.failed:
        raise SystemExit(1)  # some images did not get through (typer.Exit is swallowed by main)


def studies(
    as_json: bool = typer.Option(False, "--json", help="machine-readable (UIDs only, no PHI)"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """What has arrived: studies, series, kind, image counts, complete or not."""
    from strokealert import db
    from strokealert.dicom.catalog import list_studies

    settings = _settings(config)
    db.upgrade(settings.resolved_database_url)
    engine = db.make_engine(settings.resolved_database_url)
    rows = list_studies(db.make_session_factory(engine))
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({"studies": rows}, indent=2))
        return
    if not rows:
        typer.echo("no studies received")
    for study in rows:
        state = "complete" if study["complete"] else "receiving"
        typer.echo(f"study {study['study_instance_uid']} ({state})")
        for s in study["series"]:
            expected = s["expected"] if s["expected"] is not None else "?"
            done = f"complete ({s['completion_reason']})" if s["complete"] else "open"
            typer.echo(f"  series {s['series_instance_uid']} {s['kind']:<5} "
                       f"{s['images']}/{expected} images, {done}")


def register(app: typer.Typer) -> None:
    """Registers ``serve``, ``send`` and ``studies``."""
    app.command("serve")(serve)
    app.command("send")(send)
    app.command("studies")(studies)
