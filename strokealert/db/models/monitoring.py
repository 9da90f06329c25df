"""Post-deployment monitoring: readers' confirmations (ground truth), one input fingerprint per
analysis (with the model's call), and the operational episodes (PPV below its floor, input
drift) that were announced to the admin policy.

Fingerprints hold no PHI: age only as a band, sex as the DICOM code, no identifiers but the
case id and the series UID.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from notifications.schema import UTCDateTime
from strokealert.db import Base

CONFIRMATION_SOURCES = ("manual", "hl7")
EPISODE_KINDS = ("ppv_floor", "drift")


class Confirmation(Base):
    """The confirmed finding of a case, as a reader recorded it (or a final report said)."""

    __tablename__ = "monitoring_confirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    source: Mapped[str] = mapped_column(String(8))  # CONFIRMATION_SOURCES
    reader: Mapped[str | None] = mapped_column(String(128))  # username, or the HL7 sender
    confirmed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lvo: Mapped[bool | None] = mapped_column(Boolean)
    lvo_site: Mapped[str | None] = mapped_column(String(16))
    haemorrhage: Mapped[bool | None] = mapped_column(Boolean)
    haemorrhage_kind: Mapped[str | None] = mapped_column(String(32))
    core_plausible: Mapped[bool | None] = mapped_column(Boolean)
    hl7_message_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("hl7_messages.id", ondelete="SET NULL"))


class Fingerprint(Base):
    """One analysis: the model's call and a compact description of its input, computed after
    the alert went out."""

    __tablename__ = "monitoring_fingerprints"
    __table_args__ = (UniqueConstraint("series_uid", "analysis"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    analysis: Mapped[str] = mapped_column(String(16))  # lvo | perfusion | ncct
    series_uid: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128), index=True)  # name@version
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    positive: Mapped[bool | None] = mapped_column(Boolean)  # the model's call
    score: Mapped[float | None] = mapped_column(Float)  # its probability
    manual_review: Mapped[bool] = mapped_column(Boolean, default=False)  # it abstained
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    scanner_model: Mapped[str | None] = mapped_column(String(64))
    kernel: Mapped[str | None] = mapped_column(String(64))
    slice_thickness_mm: Mapped[float | None] = mapped_column(Float)
    noise_hu: Mapped[float | None] = mapped_column(Float)
    contrast_hu: Mapped[float | None] = mapped_column(Float)
    coverage_mm: Mapped[float | None] = mapped_column(Float)
    ood_score: Mapped[float | None] = mapped_column(Float)
    age_band: Mapped[str | None] = mapped_column(String(8))
    sex: Mapped[str | None] = mapped_column(String(1))


class Episode(Base):
    """A stretch of time a model was below its PPV floor or its input drifted: announced once
    when it opens (``alert_id``), closed when the figure is back (``open_key`` then NULL, so at
    most one episode per kind and model is open: the database says whether to alert)."""

    __tablename__ = "monitoring_episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # EPISODE_KINDS
    model: Mapped[str] = mapped_column(String(128))
    open_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    alert_id: Mapped[str | None] = mapped_column(String(36))
