"""People, contact methods, device tokens, on-call schedules and escalation policies.

:func:`load_directory` upserts them from a plain dict (a parsed TOML/JSON file, see the README);
:func:`on_call` resolves who a schedule has on call at an instant: rotations hand off at local
wall-clock times in the schedule's zone (so a daily 08:00 handoff stays at 08:00 across DST),
and overrides replace the rotation for their interval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from notifications.models import (
    ContactMethod,
    DeviceToken,
    NotificationRule,
    Person,
    Policy,
    Schedule,
)

CHANNELS = ("push", "sms", "mms", "email", "voice")
CONTACT_TYPES = ("sms", "mms", "email", "voice")
TARGET_TYPES = ("role", "schedule", "user")


class DirectoryError(ValueError):
    """An invalid people / schedule / policy definition (message names the culprit)."""


def _zone(name: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DirectoryError(f"{where}: unknown time zone {name!r}") from exc


def _instant(value: Any, where: str) -> datetime:
    """An ISO 8601 instant with a zone (``Z`` or an offset)."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise DirectoryError(f"{where}: not an ISO 8601 time: {value!r}") from exc
    if when.tzinfo is None:
        raise DirectoryError(f"{where}: {value!r} needs a zone (Z or +hh:mm)")
    return when.astimezone(UTC)


def _local(value: Any, where: str) -> datetime:
    """A local wall-clock time (no zone), e.g. ``2026-01-05T08:00``."""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise DirectoryError(f"{where}: not an ISO 8601 local time: {value!r}") from exc
    if when.tzinfo is not None:
        raise DirectoryError(f"{where}: {value!r} is local to the schedule's zone; drop the offset")
    return when


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry or entry[key] in (None, ""):
        raise DirectoryError(f"{where}: missing {key!r}")
    return entry[key]


def load_directory(session: Session, data: dict[str, Any], now: datetime) -> dict[str, int]:
    """Upsert ``people``, ``schedules`` and ``policies`` by name; returns counts per section.

    A person's contact methods, device tokens and rules are replaced by the file's. Everything
    is validated before anything is written; the caller's transaction commits.
    """
    unknown = set(data) - {"people", "schedules", "policies"}
    if unknown:
        raise DirectoryError(f"unknown sections: {', '.join(sorted(unknown))}")
    people = data.get("people", [])
    schedules = data.get("schedules", [])
    policies = data.get("policies", [])
    known_people = {p["name"] for p in people if isinstance(p, dict) and "name" in p}
    known_people |= set(session.scalars(select(Person.name)))
    known_schedules = {s["name"] for s in schedules if isinstance(s, dict) and "name" in s}
    known_schedules |= set(session.scalars(select(Schedule.name)))

    parsed_people = [_parse_person(p, i) for i, p in enumerate(people)]
    parsed_schedules = [_parse_schedule(s, i, known_people) for i, s in enumerate(schedules)]
    parsed_policies = [_parse_policy(p, i, known_people, known_schedules)
                       for i, p in enumerate(policies)]

    for entry in parsed_people:
        person = session.scalar(select(Person).where(Person.name == entry["name"]))
        if person is None:
            person = Person(name=entry["name"])
            session.add(person)
        person.roles, person.time_zone = entry["roles"], entry["time_zone"]
        person.active = entry["active"]
        person.contacts = [ContactMethod(channel=c, address=a) for c, a in entry["contacts"]]
        person.rules = [NotificationRule(channel=c, after_minutes=m) for c, m in entry["rules"]]
        session.flush()
        tokens = [t for t, _ in entry["devices"]]
        if tokens:  # a token registered to someone else moves to this person
            session.execute(delete(DeviceToken).where(DeviceToken.token.in_(tokens)))
            session.flush()
        person.devices = [DeviceToken(token=t, platform=p, active=True, created_at=now)
                          for t, p in entry["devices"]]
    for entry in parsed_schedules:
        schedule = session.scalar(select(Schedule).where(Schedule.name == entry["name"]))
        if schedule is None:
            schedule = Schedule(name=entry["name"])
            session.add(schedule)
        schedule.time_zone = entry["time_zone"]
        schedule.rotations, schedule.overrides = entry["rotations"], entry["overrides"]
    for entry in parsed_policies:
        policy = session.scalar(select(Policy).where(Policy.name == entry["name"]))
        if policy is None:
            policy = Policy(name=entry["name"])
            session.add(policy)
        policy.repeat, policy.steps = entry["repeat"], entry["steps"]
    session.flush()
    return {"people": len(parsed_people), "schedules": len(parsed_schedules),
            "policies": len(parsed_policies)}


def _parse_person(entry: Any, index: int) -> dict[str, Any]:
    where = f"people[{index}]"
    if not isinstance(entry, dict):
        raise DirectoryError(f"{where}: expected a table")
    name = str(_require(entry, "name", where))
    where = f"person {name!r}"
    tz = str(entry.get("time_zone", "UTC"))
    _zone(tz, where)
    contacts: list[tuple[str, str]] = []
    for c in entry.get("contacts", []):
        channel = str(_require(c, "type", where))
        if channel not in CONTACT_TYPES:
            raise DirectoryError(f"{where}: contact type {channel!r} is not "
                                 f"{', '.join(CONTACT_TYPES)}")
        address = str(_require(c, "address", where))
        if channel != "email" and not (address.startswith("+") and address[1:].isdigit()):
            raise DirectoryError(f"{where}: phone {address!r} must be E.164 (+15551234567)")
        contacts.append((channel, address))
    devices = [(str(_require(d, "token", where)), str(d.get("platform", "android")))
               for d in entry.get("devices", [])]
    rules: list[tuple[str, float]] = []
    for r in entry.get("rules", [{"channel": "push", "after_minutes": 0},
                                 {"channel": "sms", "after_minutes": 2}]):
        channel = str(_require(r, "channel", where))
        if channel not in CHANNELS:
            raise DirectoryError(f"{where}: rule channel {channel!r} not in {', '.join(CHANNELS)}")
        minutes = float(r.get("after_minutes", 0))
        if minutes < 0:
            raise DirectoryError(f"{where}: after_minutes must be ≥ 0")
        rules.append((channel, minutes))
    channels = [c for c, _ in rules]
    if len(set(channels)) != len(channels):
        raise DirectoryError(f"{where}: one rule per channel (got {', '.join(channels)})")
    return {"name": name, "roles": [str(r) for r in entry.get("roles", [])], "time_zone": tz,
            "active": bool(entry.get("active", True)), "contacts": contacts,
            "devices": devices, "rules": sorted(rules, key=lambda r: r[1])}


def _parse_schedule(entry: Any, index: int, people: set[str]) -> dict[str, Any]:
    where = f"schedules[{index}]"
    if not isinstance(entry, dict):
        raise DirectoryError(f"{where}: expected a table")
    name = str(_require(entry, "name", where))
    where = f"schedule {name!r}"
    tz = str(entry.get("time_zone", "UTC"))
    _zone(tz, where)
    rotations = []
    for r in entry.get("rotations", []):
        start = _local(_require(r, "start", where), where)
        hours = float(_require(r, "shift_hours", where))
        participants = [str(p) for p in _require(r, "participants", where)]
        if hours <= 0:
            raise DirectoryError(f"{where}: shift_hours must be > 0")
        for p in participants:
            if p not in people:
                raise DirectoryError(f"{where}: unknown person {p!r}")
        rotations.append({"name": str(r.get("name", "")), "start": start.isoformat(),
                          "shift_hours": hours, "participants": participants})
    overrides = []
    for o in entry.get("overrides", []):
        person = str(_require(o, "person", where))
        if person not in people:
            raise DirectoryError(f"{where}: override for unknown person {person!r}")
        start = _instant(_require(o, "start", where), where)
        end = _instant(_require(o, "end", where), where)
        if end <= start:
            raise DirectoryError(f"{where}: override end must be after start")
        overrides.append({"person": person, "start": start.isoformat(), "end": end.isoformat()})
    return {"name": name, "time_zone": tz, "rotations": rotations, "overrides": overrides}


def _parse_policy(entry: Any, index: int, people: set[str],
                  schedules: set[str]) -> dict[str, Any]:
    where = f"policies[{index}]"
    if not isinstance(entry, dict):
        raise DirectoryError(f"{where}: expected a table")
    name = str(_require(entry, "name", where))
    where = f"policy {name!r}"
    repeat = int(entry.get("repeat", 0))
    if repeat < 0:
        raise DirectoryError(f"{where}: repeat must be ≥ 0")
    steps = []
    for i, step in enumerate(_require(entry, "steps", where)):
        delay = float(_require(step, "delay_minutes", f"{where} step {i + 1}"))
        if delay <= 0:
            raise DirectoryError(f"{where} step {i + 1}: delay_minutes must be > 0")
        targets = []
        for target in _require(step, "targets", f"{where} step {i + 1}"):
            kinds = [k for k in TARGET_TYPES if k in target]
            if len(kinds) != 1:
                raise DirectoryError(f"{where} step {i + 1}: a target names one of "
                                     f"{', '.join(TARGET_TYPES)}: {target!r}")
            kind, value = kinds[0], str(target[kinds[0]])
            if kind == "user" and value not in people:
                raise DirectoryError(f"{where} step {i + 1}: unknown user {value!r}")
            if kind == "schedule" and value not in schedules:
                raise DirectoryError(f"{where} step {i + 1}: unknown schedule {value!r}")
            targets.append({kind: value})
        steps.append({"delay_minutes": delay, "targets": targets})
    return {"name": name, "repeat": repeat, "steps": steps}


def on_call(schedule: Schedule, at: datetime) -> list[str]:
    """Names on call in ``schedule`` at instant ``at`` (one per rotation, overrides first)."""
    at = at.astimezone(UTC)
    for override in schedule.overrides:
        if datetime.fromisoformat(override["start"]) <= at < datetime.fromisoformat(
                override["end"]):
            return [override["person"]]
    local = at.astimezone(ZoneInfo(schedule.time_zone)).replace(tzinfo=None)
    names: list[str] = []
    for rotation in schedule.rotations:
        start = datetime.fromisoformat(rotation["start"])
        if local < start or not rotation["participants"]:
            continue
        shifts = int((local - start) / timedelta(hours=rotation["shift_hours"]))
        name = rotation["participants"][shifts % len(rotation["participants"])]
        if name not in names:
            names.append(name)
    return names


def with_reachability() -> tuple[Any, ...]:
    """Loader options fetching people's rules, devices and contacts in three queries."""
    return (selectinload(Person.rules), selectinload(Person.devices),
            selectinload(Person.contacts))


def resolve_targets(session: Session, targets: list[dict[str, str]], at: datetime) -> list[Person]:
    """Active people a policy step's targets name at ``at``, each once, in target order."""
    found: list[Person] = []
    seen: set[int] = set()
    people_query = select(Person).options(*with_reachability()).order_by(Person.id)
    for target in targets:
        if "user" in target:
            people = list(session.scalars(people_query.where(Person.name == target["user"])))
        elif "role" in target:
            people = [p for p in session.scalars(people_query)
                      if target["role"] in (p.roles or [])]
        else:
            schedule = session.scalar(select(Schedule).where(Schedule.name == target["schedule"]))
            names = on_call(schedule, at) if schedule is not None else []
            people = list(session.scalars(people_query.where(Person.name.in_(names))))
        for person in people:
            if person.active and person.id not in seen:
                seen.add(person.id)
                found.append(person)
    return found


def register_device_token(session: Session, person_name: str, token: str, platform: str,
                          now: datetime) -> DeviceToken:
    """Add (or move, or reactivate) an FCM token for a person, e.g. from the phone app."""
    person = session.scalar(select(Person).where(Person.name == person_name))
    if person is None:
        raise DirectoryError(f"unknown person {person_name!r}")
    device = session.scalar(select(DeviceToken).where(DeviceToken.token == token))
    if device is None:
        device = DeviceToken(token=token, person_id=person.id, platform=platform,
                             created_at=now)
        session.add(device)
    device.person_id, device.platform = person.id, platform
    device.active, device.deactivated_reason = True, None
    session.flush()
    return device
