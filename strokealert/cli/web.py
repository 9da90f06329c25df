"""Web commands: ``user add|revoke|link-sso``, ``report`` and ``web`` (the API alone)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from strokealert.config import Settings, load_settings
from strokealert.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

user_app = typer.Typer(help="Web users.", no_args_is_help=True)


def _factory(config: Path | None) -> tuple[Settings, sessionmaker[Session]]:
    from strokealert import db

    settings = load_settings(config)
    db.upgrade(settings.resolved_database_url)
    return settings, db.make_session_factory(db.make_engine(settings.resolved_database_url))


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="login name"),
    role: str = typer.Option(..., "--role", help="stroke_team, radiologist, coordinator, admin"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from standard input"),
    sso_only: bool = typer.Option(False, "--sso-only",
                                  help="no password: an account for single sign-on, linked "
                                       "by a verified email (oidc_link_verified_email)"),
    display_name: str | None = typer.Option(None, "--name", help="name shown to the team"),
    person: str | None = typer.Option(None, "--person", help="link to this on-call person"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Create a user (password hashed with argon2id), or an SSO-only account."""
    from sqlalchemy import select

    from notifications.models import Person
    from strokealert.accesslog import log as audit_log
    from strokealert.api.services.users import add_user

    if password_stdin == sso_only:
        raise InputError("give the password on standard input with --password-stdin, "
                         "or --sso-only for an account without one")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    _settings, factory = _factory(config)
    with factory.begin() as session:
        person_id = None
        if person:
            person_id = session.scalar(select(Person.id).where(Person.name == person))
            if person_id is None:
                raise InputError(f"no on-call person named {person!r}")
        user = add_user(session, username, role, password, display_name=display_name,
                        person_id=person_id)
        audit_log.record(session, "user_added", username="cli", object_type="user",
                         object_id=str(user.id), ip="local", detail={"role": role})
    typer.echo(f"user {username} ({role}) added")


@user_app.command("revoke")
def user_revoke(
    username: str = typer.Argument(..., help="login name"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """End every web session and revoke every API/device token of a user."""
    from strokealert.accesslog import log as audit_log
    from strokealert.api.services.sessions import revoke_user
    from strokealert.api.services.users import user_named

    _settings, factory = _factory(config)
    with factory.begin() as session:
        user = user_named(session, username)
        ended, revoked = revoke_user(session, user)
        audit_log.record(session, "sessions_revoked", username="cli", object_type="user",
                         object_id=str(user.id), ip="local",
                         detail={"user": username, "sessions": ended, "tokens": revoked})
    typer.echo(f"user {username}: {ended} sessions ended, {revoked} tokens revoked")


@user_app.command("link-sso")
def user_link_sso(
    username: str = typer.Argument(..., help="login name"),
    issuer: str = typer.Option(..., "--issuer", help="the provider's issuer URL (iss)"),
    subject: str = typer.Option(..., "--sub", help="the user's subject at that provider (sub)"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Link a local user to a single-sign-on identity; the user keeps its role."""
    from strokealert.accesslog import log as audit_log
    from strokealert.api.services.users import link_sso

    _settings, factory = _factory(config)
    with factory.begin() as session:
        user = link_sso(session, username, issuer, subject)
        audit_log.record(session, "sso_linked", username="cli", object_type="user",
                         object_id=str(user.id), ip="local", detail={"issuer": issuer})
    typer.echo(f"user {username} linked to {issuer} subject {subject}")


def report(
    date_from: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
    date_to: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD"),
    fmt: str = typer.Option("csv", "--format", help="csv (per-case summary), html, json or "
                            "registry (patient-level GWTG-Stroke CSV)"),
    out: Path | None = typer.Option(None, "--out", help="write to this file, not stdout"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Door-to-needle / door-to-groin audit for the date range (arrival days, inclusive)."""
    import getpass

    from strokealert.accesslog import log as audit_log
    from strokealert.quality import report as audit_report

    start = audit_report.parse_date(date_from, "--from")
    end = audit_report.parse_date(date_to, "--to")
    if fmt not in audit_report.FORMATS:
        raise InputError(f"--format must be one of {', '.join(audit_report.FORMATS)}, "
                         f"not {fmt!r}")
    settings, factory = _factory(config)
    with factory.begin() as session:
        summary = audit_report.build(session, start, end, settings.timezone)
        text = audit_report.render(summary, fmt, generated_by=getpass.getuser())
        audit_log.record(session, "export", username=f"cli:{getpass.getuser()}", ip="local",
                         object_type="report", detail={"from": str(start), "to": str(end),
                                                       "format": fmt, "cases": summary["cases"]})
    if out is not None:
        out.write_text(text)
    else:
        sys.stdout.write(text)


def web(config: Path | None = typer.Option(None, "--config", help="TOML settings file")) -> None:
    """Run the web app and API alone (no DICOM receiver) until SIGINT/SIGTERM."""
    import uvicorn

    from strokealert.api.app import create_app
    from strokealert.cli.dicom import require_secrets

    require_secrets(load_settings(config))  # before anything is created
    settings, factory = _factory(config)
    uvicorn.run(create_app(settings, factory), host=settings.http_host, port=settings.http_port,
                log_level="info", timeout_graceful_shutdown=2,
                proxy_headers=False)  # X-Forwarded-For: only from trusted_proxies (client_ip)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.command("report")(report)
    app.command("web")(web)
