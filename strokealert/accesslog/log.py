"""Writing the append-only audit log: who (user, role), what (action, object), when, from where.

Details never carry PHI values, only field names and ids; the rows are the PHI access record.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.csvexport import csv_text
from strokealert.db.models.audit import AuditEvent

ACTIONS = ("login", "login_failed", "logout", "phi_view", "ack", "timeline_edit", "export",
           "audit_view", "token_created", "token_revoked", "sessions_revoked", "sso_linked",
           "device_registered", "user_added", "hl7_message", "key_image_fetch",
           "key_image_links_revoked", "confirmation", "monitoring_view")
CSV_FIELDS = ("id", "at", "username", "role", "action", "object_type", "object_id", "outcome",
              "ip", "user_agent", "detail")


def record(session: Session, action: str, *, username: str | None, role: str | None = None,
           object_type: str | None = None, object_id: str | None = None, outcome: str = "ok",
           ip: str | None = None, user_agent: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event (flushed in the caller's transaction)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    row = AuditEvent(at=datetime.now(UTC), username=username, role=role, action=action,
                     object_type=object_type, object_id=object_id, outcome=outcome, ip=ip,
                     user_agent=(user_agent or "")[:256] or None, detail=detail)
    session.add(row)
    session.flush()
    return row


def query(session: Session, *, action: str | None = None, username: str | None = None,
          object_id: str | None = None, limit: int = 500) -> list[AuditEvent]:
    """Newest first, optionally filtered."""
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if username:
        stmt = stmt.where(AuditEvent.username == username)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(session.scalars(stmt))


def to_csv(rows: list[AuditEvent]) -> str:
    """The events as CSV; user-supplied text (names, user agents) never runs as a formula."""
    return csv_text(CSV_FIELDS, ([r.id, r.at.isoformat(), r.username, r.role, r.action,
                                  r.object_type, r.object_id, r.outcome, r.ip, r.user_agent,
                                  r.detail] for r in rows))
