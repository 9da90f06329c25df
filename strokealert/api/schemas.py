"""Request and response bodies of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    days: int | None = Field(None, ge=1, description="lifetime; default token_default_days")


class TokenInfo(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenOut(TokenInfo):
    token: str  # shown once


class RevokedOut(BaseModel):
    username: str
    sessions: int
    tokens: int


class DeviceIn(BaseModel):
    token: str = Field(min_length=10, max_length=512)
    platform: Literal["android", "ios", "web"] = "web"


class CaseSummary(BaseModel):
    """A worklist row: no PHI."""

    id: str
    site: str
    status: str
    alert_level: str | None
    title: str
    summary: str
    created_at: datetime
    updated_at: datetime
    first_ack_at: datetime | None
    first_ack_by: str | None


class CaseDetail(CaseSummary):
    """The viewer: PHI included (audited), the analysis result and the timeline."""

    study_instance_uid: str
    patient_name: str | None
    patient_id: str | None
    birth_date: str | None
    accession_number: str | None
    result: dict[str, Any] | None
    key_images: list[str]
    timeline: dict[str, Any]
    measures: dict[str, int | str | None]
    alerts: list[dict[str, Any]]
    flags: list[str]  # implausible intervals, excluded from the measures
    registry: dict[str, Any]  # final diagnosis, age, in-hospital stroke, thrombolytic, reasons


class TimelineIn(BaseModel):
    """Timeline edits: ISO 8601 date-times (an offset, or the hospital's zone if none), null to
    clear; only the fields sent change."""

    model_config = {"extra": "forbid"}

    last_known_well_at: str | None = None
    arrival_at: str | None = None
    transfer_in_at: str | None = None
    ncct_at: str | None = None
    cta_at: str | None = None
    ctp_at: str | None = None
    alert_sent_at: str | None = None
    first_ack_at: str | None = None
    decision_at: str | None = None
    needle_at: str | None = None
    groin_puncture_at: str | None = None
    first_pass_at: str | None = None
    reperfusion_at: str | None = None
    transfer_out_at: str | None = None
    tici: str | None = None
    transfer: bool | None = None
    final_diagnosis: str | None = Field(None, description="ischemic, tia, ich, sah or mimic")
    age_years: int | None = Field(None, description="age at arrival, years")
    in_hospital_stroke: bool | None = None
    thrombolytic_agent: str | None = Field(None, description="alteplase or tenecteplase")
    ivt_delay_reason: str | None = Field(None, description="documented reason for a delay in "
                                         "the thrombolytic: eligibility or medical")
    ivt_not_given_reason: str | None = Field(None, description="documented reason for not "
                                             "giving a thrombolytic (free text)")


class AckIn(BaseModel):
    via: Literal["web", "app"] = "web"
