"""The patient-level registry file: one row per case, columns named and coded after the
Get With The Guidelines-Stroke data elements (the README maps each column to its GWTG-Stroke
field). Dates ``MM/DD/YYYY`` and times ``HH:MM`` in the hospital's zone, as abstracted; an
unknown value is an empty cell. No name, MRN, birth date or accession number: the case id links
a row to the chart. Every cell is made formula-safe (:mod:`strokealert.csvexport`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from strokealert.csvexport import csv_text
from strokealert.quality.measures import age_at_arrival, thrombolytic_given

# GWTG-Stroke "Final clinical diagnosis related to stroke" codes.
DIAGNOSIS_CODES = {"ischemic": "1", "tia": "2", "sah": "3", "ich": "4", "mimic": "6"}
AGENT_NAMES = {"alteplase": "Alteplase", "tenecteplase": "Tenecteplase"}
# "Where was the patient when the stroke was detected or symptoms were discovered?"
ONSET_IN_HOSPITAL = "4"  # stroke occurred after hospital arrival (ED / observation / inpatient)
ONSET_OTHER_ACUTE_CARE = "2"  # another acute care facility (transferred in)


def _yn(value: bool) -> str:
    return "Y" if value else "N"


def _date(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%m/%d/%Y") if value is not None else ""


def _time(value: datetime | None, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%H:%M") if value is not None else ""


def _onset(case: Any) -> str:
    if case.in_hospital_stroke:
        return ONSET_IN_HOSPITAL
    return ONSET_OTHER_ACUTE_CARE if case.transfer else ""


def _timed(name: str, field: str) -> list[tuple[str, Callable[[Any, tzinfo], str]]]:
    return [(f"{name}Date", lambda c, z: _date(getattr(c, field), z)),
            (f"{name}Time", lambda c, z: _time(getattr(c, field), z))]


# (column, value of a case in the zone), in the registry's abstraction order.
COLUMNS: list[tuple[str, Callable[[Any, tzinfo], str]]] = [
    ("CaseID", lambda c, z: c.id),
    ("Site", lambda c, z: c.site or ""),
    ("Age", lambda c, z: "" if (age := age_at_arrival(c)) is None else str(age)),
    ("FinalClinicalDiagnosis", lambda c, z: DIAGNOSIS_CODES.get(c.final_diagnosis or "", "")),
    ("PatientLocationAtStrokeOnset", lambda c, z: _onset(c)),
    ("TransferIn", lambda c, z: _yn(bool(c.transfer))),
    *_timed("LastKnownWell", "last_known_well_at"),
    *_timed("ArrivalReferringHospital", "arrival_at"),
    ("ArrivalDate", lambda c, z: _date(c.transfer_in_at if c.transfer else c.arrival_at, z)),
    ("ArrivalTime", lambda c, z: _time(c.transfer_in_at if c.transfer else c.arrival_at, z)),
    *_timed("BrainImaging", "ncct_at"),
    *_timed("VascularImaging", "cta_at"),
    ("IVThrombolyticInitiated", lambda c, z: _yn(thrombolytic_given(c))),
    ("ThrombolyticAgent", lambda c, z: AGENT_NAMES.get(c.thrombolytic_agent or "", "")),
    *_timed("IVThrombolyticInitiation", "needle_at"),
    ("DelayEligibilityReason", lambda c, z: _yn(c.ivt_delay_reason == "eligibility")),
    ("DelayMedicalReason", lambda c, z: _yn(c.ivt_delay_reason == "medical")),
    ("ReasonNotInitiatingIVThrombolytic", lambda c, z: c.ivt_not_given_reason or ""),
    *_timed("SkinPuncture", "groin_puncture_at"),
    *_timed("FirstPass", "first_pass_at"),
    *_timed("Reperfusion", "reperfusion_at"),
    ("PostTreatmentTICI", lambda c, z: c.tici or ""),
    ("TransferOut", lambda c, z: _yn(c.transfer_out_at is not None)),
    *_timed("DischargeTransfer", "transfer_out_at"),
]


def to_registry_csv(summary: dict[str, Any], zone: tzinfo) -> str:
    """The registry file of ``summary``'s cases, with the door-to-needle and door-to-device
    minutes as computed (empty when UTD or flagged) and the data-quality flags."""
    header = [name for name, _ in COLUMNS] + ["DoorToNeedleMin", "DoorToDeviceMin",
                                              "DataQualityFlags"]
    rows: list[list[object]] = []
    for item in summary["per_case"]:
        case, values = item["case"], item["values"]
        device = values["door_to_device_transfer" if case.transfer else "door_to_device_direct"]
        dtn = values["dtn_transfer" if case.transfer else "dtn"]
        rows.append([value(case, zone) for _, value in COLUMNS]
                    + [dtn if isinstance(dtn, int) else "",
                       device if isinstance(device, int) else "", "; ".join(item["flags"])])
    return csv_text(header, rows)
