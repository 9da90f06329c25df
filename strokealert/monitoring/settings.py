"""Monitoring settings: the ``[monitoring]`` table of the TOML file (``[monitoring.oru]`` for the
final-report mapping), or ``STROKEALERT_MONITORING__<FIELD>``; every default is documented in the
README's "Monitoring" section."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from strokealert.config import Settings


class OruMapping(BaseModel):
    """How a final radiology report (HL7 ORU^R01) becomes a confirmation.

    Phrases are matched case-insensitively in the report text (OBX-5 of TX/FT/ST observations);
    a negative phrase wins over a positive one (``"no large vessel occlusion"`` contains
    ``"large vessel occlusion"``). ``codes`` maps an observation code (OBX-3 or a coded OBX-5,
    first component) to ``field=value`` (``lvo=yes``, ``haemorrhage=no``, ``lvo_site=M1``,
    ``haemorrhage_kind=subdural``, ``core_plausible=yes``); a code beats the text."""

    model_config = ConfigDict(extra="forbid")

    final_statuses: list[str] = Field(default_factory=lambda: ["F", "C"],
                                      description="OBR-25 result statuses counted (final, "
                                                  "corrected); others are kept, not applied")
    lvo_negative: list[str] = Field(default_factory=lambda: [
        "no large vessel occlusion", "no lvo", "no vessel occlusion", "no occlusion",
        "without occlusion", "vessels are patent", "no proximal occlusion"])
    lvo_positive: list[str] = Field(default_factory=lambda: [
        "large vessel occlusion", "lvo", "occlusion of the", "occluded", "cut-off",
        "abrupt cutoff"])
    sites: dict[str, list[str]] = Field(default_factory=lambda: {
        "ICA": ["internal carotid", "ica", "carotid t"], "M1": ["m1"], "M2": ["m2"],
        "basilar": ["basilar"]})
    haemorrhage_negative: list[str] = Field(default_factory=lambda: [
        "no intracranial haemorrhage", "no intracranial hemorrhage", "no haemorrhage",
        "no hemorrhage", "no ich", "no bleed", "without haemorrhage", "without hemorrhage"])
    haemorrhage_positive: list[str] = Field(default_factory=lambda: [
        "haemorrhage", "hemorrhage", "haematoma", "hematoma", "bleed"])
    haemorrhage_kinds: dict[str, list[str]] = Field(default_factory=lambda: {
        "subarachnoid": ["subarachnoid", "sah"], "subdural": ["subdural", "sdh"],
        "epidural": ["epidural", "extradural"], "intraventricular": ["intraventricular"],
        "intraparenchymal": ["intraparenchymal", "intracerebral", "parenchymal"]})
    core_implausible: list[str] = Field(default_factory=lambda: [
        "core implausible", "perfusion artefact", "perfusion artifact",
        "core overestimated", "ghost core"])
    core_plausible: list[str] = Field(default_factory=lambda: [
        "core plausible", "perfusion concordant", "core concordant"])
    codes: dict[str, str] = Field(default_factory=dict)


class MonitoringConfig(BaseModel):
    """Thresholds and windows of the monitoring (see the README for what each one means)."""

    model_config = ConfigDict(extra="forbid")

    ppv_floor: float = Field(0.5, ge=0, le=1, description="LVO PPV below this (over the "
                             "window's confirmed positives) opens a performance episode")
    ppv_min_confirmed: int = Field(20, ge=1, description="confirmed positive calls needed "
                                   "before the PPV floor is judged")
    performance_window_days: float = Field(90.0, gt=0, description="rolling window (days) of "
                                           "the PPV / sensitivity / specificity figures")
    drift_threshold: float = Field(0.5, gt=0, description="drift score (largest population "
                                   "stability index of one feature) that opens a drift episode")
    drift_window: int = Field(50, ge=5, description="most recent analyses compared")
    drift_min_cases: int = Field(30, ge=5, description="analyses needed in the window before "
                                 "drift is judged")
    baseline_days: float = Field(90.0, gt=0, description="local baseline: the analyses of this "
                                 "many days before the window")
    sweep_interval_s: float = Field(900.0, gt=0, description="seconds between re-checks of "
                                    "the alarms by ``strokealert serve`` (besides the checks "
                                    "after each analysis and each reader's confirmation), so "
                                    "that confirmations from HL7 reports count too")
    admin_policy: str = Field("admin", description="escalation policy that gets operational "
                              "alerts (never the stroke team's)")
    oru: OruMapping = Field(default_factory=OruMapping)

    @classmethod
    def from_settings(cls, settings: Settings) -> MonitoringConfig:
        """The ``monitoring`` table of ``settings`` checked; ValidationError names a bad key."""
        data: dict[str, Any] = dict(settings.monitoring)
        return cls.model_validate(data)
