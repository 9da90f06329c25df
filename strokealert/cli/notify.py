"""``strokealert scheduler`` and ``strokealert oncall load|show``: escalations and the on-call
directory (people, contact methods, device tokens, schedules, policies)."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import select

from strokealert.errors import InputError

oncall_app = typer.Typer(help="People, on-call schedules and escalation policies.",
                         no_args_is_help=True)


def read_directory_file(path: Path) -> dict[str, Any]:
    """A TOML (``.toml``) or JSON file as a dict; InputError if unreadable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a table/object at the top level")
    return data


@oncall_app.command("load")
def load(
    path: Path = typer.Argument(..., help="TOML or JSON file with people, schedules, policies"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Create or update people, schedules and policies (by name) from FILE."""
    from notifications.directory import DirectoryError, load_directory
    from strokealert import db
    from strokealert.config import load_settings

    data = read_directory_file(path)
    settings = load_settings(config)
    url = settings.resolved_database_url
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        with db.make_session_factory(engine).begin() as session:
            counts = load_directory(session, data, datetime.now(UTC))
    except DirectoryError as exc:
        raise InputError(f"{path}: {exc}") from exc
    finally:
        engine.dispose()
    typer.echo(f"loaded {counts['people']} people, {counts['schedules']} schedules, "
               f"{counts['policies']} policies")


@oncall_app.command("show")
def show(
    at: str | None = typer.Option(None, "--at", help="ISO time with zone (default: now)"),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Who is on call (per schedule) and what each policy pages."""
    from notifications.directory import on_call
    from notifications.models import Person, Policy, Schedule
    from strokealert import db
    from strokealert.config import load_settings

    try:
        when = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError as exc:
        raise InputError(f"--at: not an ISO 8601 time: {at!r}") from exc
    if when.tzinfo is None:
        raise InputError("--at needs a zone (Z or +hh:mm)")
    settings = load_settings(config)
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with db.make_session_factory(engine)() as session:
            for person in session.scalars(select(Person).order_by(Person.name)):
                channels = sorted({c.channel for c in person.contacts}
                                  | ({"push"} if any(d.active for d in person.devices) else set()))
                rules = ", ".join(f"{r.channel}@{r.after_minutes:g}min" for r in person.rules)
                typer.echo(f"person   {person.name} [{', '.join(person.roles)}] "
                           f"reach: {', '.join(channels) or 'nothing'}; rules: {rules}")
            for schedule in session.scalars(select(Schedule).order_by(Schedule.name)):
                typer.echo(f"schedule {schedule.name} ({schedule.time_zone}): on call "
                           f"{', '.join(on_call(schedule, when)) or 'nobody'}")
            for policy in session.scalars(select(Policy).order_by(Policy.name)):
                steps = " -> ".join(
                    "+".join(f"{k}:{v}" for t in s["targets"] for k, v in t.items())
                    + f" ({s['delay_minutes']:g} min)" for s in policy.steps)
                marker = " (active)" if policy.name == settings.escalation_policy else ""
                typer.echo(f"policy   {policy.name}{marker}: {steps}; repeat {policy.repeat}")
    finally:
        engine.dispose()


def scheduler(
    config: Path | None = typer.Option(None, "--config", help="TOML settings file"),
) -> None:
    """Run the escalation scheduler and the outbox relay (when the service is scaled out,
    with ``STROKEALERT_SCHEDULER_MODE=dedicated`` on the other processes). Exactly one."""
    from strokealert import db
    from strokealert.alerting import AlertingComponent
    from strokealert.config import load_settings
    from strokealert.service import Service

    settings = load_settings(config)
    db.upgrade(settings.resolved_database_url)
    service = Service(settings)
    service.add(AlertingComponent(settings, service.factory, with_scheduler=True))
    service.run_until_signal()


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler)
    app.add_typer(oncall_app, name="oncall")
