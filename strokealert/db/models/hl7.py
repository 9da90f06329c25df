"""HL7 v2 feeds: every message received, raw, with its outcome (the review queue of the
errors), and the timeline values the messages brought to cases (with conflicts).

A message row is committed in the transaction of its effects, before its ACK is sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifications.schema import UTCDateTime
from strokealert.db import Base

HL7_STATUSES = ("accepted", "error", "rejected")  # ACK codes AA, AE, AR
TIMELINE_SOURCES = ("hl7", "dicom", "manual", "system")
EVENT_OUTCOMES = ("applied", "conflict")


class Hl7Message(Base):
    """One received message: raw text, outcome, the identifiers it was matched on."""

    __tablename__ = "hl7_messages"
    __table_args__ = (
        UniqueConstraint("sending_application", "sending_facility", "control_id",
                         name="uq_hl7_messages_sender_control_id"),
        Index("ix_hl7_messages_mrn_visit", "mrn", "visit_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sending_application: Mapped[str] = mapped_column(String(180), default="")
    sending_facility: Mapped[str] = mapped_column(String(180), default="")
    control_id: Mapped[str | None] = mapped_column(String(199))  # MSH-10; None if unreadable
    message_type: Mapped[str] = mapped_column(String(16), default="")  # e.g. ADT^A04
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    resends: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)  # HL7 table 0357, AE/AR only
    error: Mapped[str | None] = mapped_column(Text)  # why AE/AR, or a note on an AA
    case_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    mrn: Mapped[str | None] = mapped_column(String(64))
    visit_number: Mapped[str | None] = mapped_column(String(64))
    accession_number: Mapped[str | None] = mapped_column(String(64))


class TimelineEvent(Base):
    """A timeline value a feed brought to a case: ``applied``, or a ``conflict`` with a hand
    entry (kept, not applied, shown to the coordinator)."""

    __tablename__ = "timeline_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(16))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("hl7_messages.id", ondelete="SET NULL"), index=True)
