"""Cases for the web app: the worklist, acknowledgements and timeline edits. The cases
themselves are written by :mod:`strokealert.cases`. No commits here: callers own transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from strokealert.cases import utcnow
from strokealert.config import Settings
from strokealert.db.models.cases import (
    FINAL_DIAGNOSES,
    IVT_DELAY_REASONS,
    THROMBOLYTIC_AGENTS,
    TICI_GRADES,
    TIMELINE_FIELDS,
    Case,
)
from strokealert.errors import InputError

TIMELINE_NAMES = frozenset(name for name, _label in TIMELINE_FIELDS)
CODED_FIELDS = {"tici": TICI_GRADES, "final_diagnosis": FINAL_DIAGNOSES,
                "thrombolytic_agent": THROMBOLYTIC_AGENTS, "ivt_delay_reason": IVT_DELAY_REASONS}
MAX_AGE_YEARS = 130
MAX_REASON_CHARS = 500


def set_timeline(case: Case, changes: dict[str, Any]) -> dict[str, list[str | None]]:
    """Apply timeline edits (aware datetimes, the coded fields of :data:`CODED_FIELDS`,
    ``transfer``, ``in_hospital_stroke``, ``age_years``, ``first_ack_by``,
    ``ivt_not_given_reason``); returns ``{field: [old, new]}`` in ISO form for the audit log.
    Bad values raise InputError."""
    diff: dict[str, list[str | None]] = {}
    for name, value in changes.items():
        if name in TIMELINE_NAMES:
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InputError(f"{name}: an aware date and time is needed")
            value = value.astimezone(UTC) if value is not None else None
        elif name in CODED_FIELDS:
            if value not in (None, *CODED_FIELDS[name]):
                raise InputError(f"{name} must be one of {', '.join(CODED_FIELDS[name])}")
        elif name in ("transfer", "in_hospital_stroke"):
            value = bool(value)
        elif name == "age_years":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= MAX_AGE_YEARS):
                raise InputError(f"age_years must be a whole number 0-{MAX_AGE_YEARS}")
        elif name in ("first_ack_by", "ivt_not_given_reason"):
            value = (str(value).strip()[:MAX_REASON_CHARS] or None) if value is not None else None
        else:
            raise InputError(f"unknown timeline field {name!r}")
        old = getattr(case, name)
        if old != value:
            diff[name] = [_iso(old), _iso(value)]
            setattr(case, name, value)
    if diff:
        case.updated_at = utcnow()
    return diff


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def acknowledge_case(session: Session, case: Case, *, by: str, via: str,
                     settings: Settings) -> bool:
    """Acknowledge the case's alert (stops the escalation, broadcasts "<by> is on the way") and
    stamp the first acknowledgement on the timeline. True if this was the first."""
    from strokealert import alerting

    alerting.acknowledge(session, settings, case_id=case.id, by=by, via=via)
    if case.first_ack_at is not None:
        return False
    case.first_ack_at, case.first_ack_by = utcnow(), by
    case.updated_at = utcnow()
    return True


def worklist(session: Session, *, limit: int = 100, before: datetime | None = None) -> list[Case]:
    """The most urgent, newest cases first (critical → manual review → warning → none)."""
    query = (select(Case).options(defer(Case.result_json), defer(Case.key_images),
                                  defer(Case.map_files))
             .order_by(Case.urgency, Case.created_at.desc()).limit(limit))
    if before is not None:
        query = query.where(Case.created_at < before)
    return list(session.scalars(query))
