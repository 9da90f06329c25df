"""Cases: one per study, with the analysis result, the finding, PHI for the viewer, and the
stroke timeline (door, imaging, alert, acknowledgement, treatment) used by the audit measures.

Every timeline column is an aware UTC datetime; pages show it in ``settings.timezone``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from notifications.schema import UTCDateTime
from strokealert.db import Base

CASE_STATUSES = ("received", "analyzing", "analyzed", "failed")
TICI_GRADES = ("0", "1", "2a", "2b", "2c", "3")
# Registry abstraction (GWTG-Stroke final clinical diagnosis; a mimic is "no stroke-related
# diagnosis"), the thrombolytic given, and the documented reasons for a delay in it.
FINAL_DIAGNOSES = ("ischemic", "tia", "ich", "sah", "mimic")
THROMBOLYTIC_AGENTS = ("alteplase", "tenecteplase")
IVT_DELAY_REASONS = ("eligibility", "medical")
REGISTRY_FIELDS = ("final_diagnosis", "age_years", "in_hospital_stroke", "thrombolytic_agent",
                   "ivt_delay_reason", "ivt_not_given_reason")

# Editable timeline fields in clinical order (column name, label shown to people).
TIMELINE_FIELDS: tuple[tuple[str, str], ...] = (
    ("last_known_well_at", "Last known well"),
    ("arrival_at", "Arrival (door)"),
    ("transfer_in_at", "Arrival at this hospital (transfer-in)"),
    ("ncct_at", "Non-contrast CT"),
    ("cta_at", "CT angiography"),
    ("ctp_at", "CT perfusion"),
    ("alert_sent_at", "Alert sent"),
    ("first_ack_at", "First acknowledgement"),
    ("decision_at", "Treatment decision"),
    ("needle_at", "Needle (thrombolytic bolus)"),
    ("groin_puncture_at", "Groin / skin puncture"),
    ("first_pass_at", "First pass of device"),
    ("reperfusion_at", "Reperfusion"),
    ("transfer_out_at", "Transfer out (door out)"),
)


class Case(Base):
    """A stroke case: finding, analysis result, PHI (viewer only) and the treatment timeline."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_worklist", "urgency", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    site: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    alert_level: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[int] = mapped_column(default=4)  # 0 critical … 4 none/unknown
    title: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    output_dir: Mapped[str | None] = mapped_column(Text)
    key_images: Mapped[list[str]] = mapped_column(JSON, default=list)  # paths under output_dir
    map_files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # name → path, NIfTI
    rule_fired: Mapped[str | None] = mapped_column(Text)

    # PHI copied from the study: shown only to logged-in users, every view audited.
    patient_name: Mapped[str | None] = mapped_column(String(256))
    patient_id: Mapped[str | None] = mapped_column(String(64), index=True)  # HL7 matches on it
    birth_date: Mapped[str | None] = mapped_column(String(8))
    accession_number: Mapped[str | None] = mapped_column(String(64))

    # Timeline (aware UTC).
    last_known_well_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrival_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    ncct_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cta_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ctp_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alert_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_ack_by: Mapped[str | None] = mapped_column(String(128))
    decision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    needle_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    groin_puncture_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_pass_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reperfusion_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tici: Mapped[str | None] = mapped_column(String(4))
    transfer: Mapped[bool] = mapped_column(Boolean, default=False)  # transferred in
    transfer_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transfer_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    time_notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # how times were read

    # Registry abstraction: who counts in which measure (strokealert.quality populations).
    final_diagnosis: Mapped[str | None] = mapped_column(String(16))  # FINAL_DIAGNOSES
    age_years: Mapped[int | None] = mapped_column(Integer)  # at arrival; else from birth_date
    in_hospital_stroke: Mapped[bool] = mapped_column(Boolean, default=False)
    thrombolytic_agent: Mapped[str | None] = mapped_column(String(16))  # THROMBOLYTIC_AGENTS
    ivt_delay_reason: Mapped[str | None] = mapped_column(String(16))  # IVT_DELAY_REASONS
    ivt_not_given_reason: Mapped[str | None] = mapped_column(Text)  # documented, free text
