"""The append-only audit log (HIPAA §164.312(b)): who did what to which record, when, from where.

Rows are only ever inserted: the ORM refuses updates and deletes of :class:`AuditEvent`, and on
PostgreSQL a trigger installed by the ``api_0001`` migration refuses them in the database too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from notifications.schema import UTCDateTime
from strokealert.db import Base


class AuditEvent(Base):
    """One audited action: ``phi_view``, ``ack``, ``timeline_edit``, ``export``, ``login``, …"""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    username: Mapped[str | None] = mapped_column(String(128), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete an audit record."""


@event.listens_for(AuditEvent, "before_update")
def _refuse_update(*_: object) -> None:
    raise AppendOnlyError("the audit log is append-only")


@event.listens_for(AuditEvent, "before_delete")
def _refuse_delete(*_: object) -> None:
    raise AppendOnlyError("the audit log is append-only")
