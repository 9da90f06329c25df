"""Tables: people and how to reach them, schedules, policies, alerts, escalations, the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from notifications.schema import Base, UTCDateTime


class Person(Base):
    """Someone who can be paged; ``name`` is the display name shown in broadcasts (no PHI)."""

    __tablename__ = "notify_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    contacts: Mapped[list[ContactMethod]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="ContactMethod.id")
    devices: Mapped[list[DeviceToken]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="DeviceToken.id")
    rules: Mapped[list[NotificationRule]] = relationship(
        back_populates="person", cascade="all, delete-orphan",
        order_by="NotificationRule.after_minutes")


class ContactMethod(Base):
    """A phone number (``sms``/``mms``/``voice``) or address (``email``) of a person."""

    __tablename__ = "notify_contact_methods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("notify_people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | mms | email | voice
    address: Mapped[str] = mapped_column(String(256), index=True)

    person: Mapped[Person] = relationship(back_populates="contacts")


class DeviceToken(Base):
    """An FCM registration token; deactivated when FCM says it is unregistered."""

    __tablename__ = "notify_device_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("notify_people.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(512), unique=True)
    platform: Mapped[str] = mapped_column(String(16), default="android")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deactivated_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship(back_populates="devices")


class NotificationRule(Base):
    """Per-person fallback: use ``channel`` ``after_minutes`` after being paged, unless acked."""

    __tablename__ = "notify_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("notify_people.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # push | sms | mms | email | voice
    after_minutes: Mapped[float] = mapped_column(default=0.0)

    person: Mapped[Person] = relationship(back_populates="rules")


class Schedule(Base):
    """An on-call schedule: rotations (layers) in a time zone, plus overrides."""

    __tablename__ = "notify_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    rotations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    overrides: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Policy(Base):
    """An escalation policy: ordered steps, the whole list repeated ``repeat`` more times."""

    __tablename__ = "notify_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Alert(Base):
    """One alert about a case (``kind`` new / update / escalation); the finding text, no PHI."""

    __tablename__ = "notify_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    site: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(Text)
    key_images: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    images_revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Set: the signed key-image links of this alert are refused, however fresh."""


class Escalation(Base):
    """The escalation state of a case: where it stands and when it next moves (the truth)."""

    __tablename__ = "notify_escalations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), unique=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("notify_alerts.id"), index=True)
    policy: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active|acknowledged|exhausted
    step: Mapped[int] = mapped_column(Integer, default=0)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Acknowledgement(Base):
    """Someone took the case: stops the escalation for everyone and is broadcast."""

    __tablename__ = "notify_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("notify_alerts.id"), index=True)
    by: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """One notification to send: unique per (alert, recipient, channel, step).

    ``status``: pending → sending (claimed, lease) → sent | failed | cancelled (acknowledged
    before its fallback time). A ``sending`` row whose lease ran out is in doubt: the relay
    reconciles it with the provider before sending it again.
    """

    __tablename__ = "notify_outbox"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255))
    alert_id: Mapped[str] = mapped_column(ForeignKey("notify_alerts.id"), index=True)
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # page | update | ack | broadcast
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_people.id", ondelete="SET NULL"), index=True)
    recipient: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(512))
    step: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim: Mapped[str | None] = mapped_column(String(36), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(255), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """Every try of an outbox message, with its outcome and the provider's answer."""

    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("notify_outbox.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # sent|retry|in_doubt|failed|reconciled
    provider_id: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
