"""Timeline provenance: where each time of a case came from (``hl7``, ``dicom``, ``manual``,
``system``), feed values applied without ever silently overwriting a hand entry, and the
conflicts a coordinator must see.

Hand entries are the audit log's ``timeline_edit`` rows (written with the edit); feed values
are :class:`~strokealert.db.models.hl7.TimelineEvent` rows. Imaging times with neither come
from the DICOM headers, the alert and acknowledgement stamps from the system; any other time
with neither was typed in. No commits here: callers own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.db.models.audit import AuditEvent
from strokealert.db.models.cases import TIMELINE_FIELDS, Case
from strokealert.db.models.hl7 import TimelineEvent

DEFAULT_SOURCES = {"ncct_at": "dicom", "cta_at": "dicom", "ctp_at": "dicom",
                   "alert_sent_at": "system", "first_ack_at": "system"}
TIMELINE_NAMES = tuple(name for name, _label in TIMELINE_FIELDS)


@dataclass(frozen=True)
class Conflict:
    """A feed value that differs from a hand entry (the hand entry stays)."""

    field: str
    current: datetime | None
    incoming: datetime
    source: str
    received_at: datetime
    message_id: int | None

    def as_json(self) -> dict[str, object]:
        return {"field": self.field,
                "current": self.current.isoformat() if self.current else None,
                "incoming": self.incoming.isoformat(), "source": self.source,
                "received_at": self.received_at.isoformat(), "message_id": self.message_id}


@dataclass(frozen=True)
class Provenance:
    """Per-field sources of a case's set times, and its open conflicts."""

    sources: dict[str, str]
    conflicts: list[Conflict]


def _hand_edits(session: Session, case_id: str) -> dict[str, datetime]:
    """Latest hand edit time per timeline field of the case (from the audit log)."""
    latest: dict[str, datetime] = {}
    rows = session.scalars(select(AuditEvent).where(AuditEvent.object_id == case_id,
                                                    AuditEvent.action == "timeline_edit"))
    for row in rows:
        for name in ((row.detail or {}).get("changes") or {}):
            if name not in latest or row.at > latest[name]:
                latest[name] = row.at
    return latest


def _feed_events(session: Session, case_id: str) -> list[TimelineEvent]:
    return list(session.scalars(select(TimelineEvent).where(TimelineEvent.case_id == case_id)
                                .order_by(TimelineEvent.recorded_at, TimelineEvent.id)))


def _source(name: str, hand: datetime | None, applied: TimelineEvent | None) -> str:
    if hand is not None and (applied is None or hand >= applied.recorded_at):
        return "manual"
    if applied is not None:
        return applied.source
    return DEFAULT_SOURCES.get(name, "manual")


def provenance(session: Session, case: Case) -> Provenance:
    """Where each set time of ``case`` came from, and the conflicts still open: a feed value
    received after the field's last hand edit that differs from the value shown."""
    hand = _hand_edits(session, case.id)
    events = _feed_events(session, case.id)
    applied = {e.field: e for e in events if e.outcome == "applied"}
    sources = {name: _source(name, hand.get(name), applied.get(name))
               for name in TIMELINE_NAMES if getattr(case, name) is not None}
    open_conflicts: dict[str, Conflict] = {}
    for event in events:
        if event.outcome != "conflict" or event.value is None:
            continue
        current = getattr(case, event.field)
        edited = hand.get(event.field)
        if current != event.value and (edited is None or event.recorded_at > edited):
            open_conflicts[event.field] = Conflict(event.field, current, event.value,
                                                   event.source, event.recorded_at,
                                                   event.message_id)
    return Provenance(sources, list(open_conflicts.values()))


def apply_feed_value(session: Session, case: Case, name: str, value: datetime, *, source: str,
                     message_id: int | None, now: datetime) -> str:
    """Put a feed's ``value`` in timeline field ``name`` unless a hand entry holds another
    value (a time typed in, or one cleared by hand); returns ``applied``, ``unchanged`` or
    ``conflict`` (recorded, not applied)."""
    current = getattr(case, name)
    if current == value:
        return "unchanged"
    hand = _hand_edits(session, case.id).get(name)
    if current is not None or hand is not None:
        applied = [e for e in _feed_events(session, case.id)
                   if e.field == name and e.outcome == "applied"]
        if _source(name, hand, applied[-1] if applied else None) == "manual":
            session.add(TimelineEvent(case_id=case.id, field=name, value=value, source=source,
                                      outcome="conflict", recorded_at=now,
                                      message_id=message_id))
            return "conflict"
    setattr(case, name, value)
    case.updated_at = now
    session.add(TimelineEvent(case_id=case.id, field=name, value=value, source=source,
                              outcome="applied", recorded_at=now, message_id=message_id))
    return "applied"
