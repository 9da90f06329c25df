"""Door-to-needle / door-to-groin measures to the Joint Commission and GWTG data definitions.

Conventions (the registry abstraction rules):

* Times are abstracted as HH:MM: each timestamp is truncated to the minute, then the interval is
  the difference in whole minutes (08:00:59 → 08:01:00 is 1 minute, not 0).
* A time that is missing, or an interval that is negative (end before start), is "UTD"
  (unable to determine). A UTD case is excluded from that measure's rate and median and is
  listed with the reason.
* Arrival is arrival at *this* hospital: for a transfer-in patient (``transfer`` true) it is
  ``transfer_in_at`` (``arrival_at`` may hold the referring hospital's door); a transfer-in
  without ``transfer_in_at`` is UTD.
* Populations: DTN — thrombolytic given here (``needle_at`` present). Door-to-device — a device
  pass (``first_pass_at``), split direct / transfer-in. CSTK-09 — skin puncture
  (``groin_puncture_at``; puncture is not first pass). CSTK-11 / CSTK-12 — skin puncture and
  post-treatment TICI 2b, 2c or 3. DIDO — transferred out (``transfer_out_at``), from the door
  at this hospital to door out.
* Rates are "≤ N minutes" (inclusive).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

UTD = "UTD"
REPERFUSED = ("2b", "2c", "3")

# Targets (AHA Target: Stroke Phase III, GWTG Honor Roll Elite Plus, Joint Commission CSC).
TARGETS: dict[str, dict[str, Any]] = {
    "target_stroke_phase3": {"label": "Target: Stroke Phase III — DTN ≤ 60 min in ≥ 85 %",
                             "measure": "dtn", "limit": 60, "share": 0.85},
    "elite_plus_45": {"label": "GWTG Elite Plus — DTN ≤ 45 min in ≥ 75 %",
                      "measure": "dtn", "limit": 45, "share": 0.75},
    "elite_plus_30": {"label": "GWTG Elite Plus — DTN ≤ 30 min in ≥ 50 %",
                      "measure": "dtn", "limit": 30, "share": 0.50},
    "device_direct": {"label": "Door-to-device ≤ 90 min (direct) in ≥ 50 %",
                      "measure": "door_to_device_direct", "limit": 90, "share": 0.50},
    "device_transfer": {"label": "Door-to-device ≤ 60 min (transfer) in ≥ 50 %",
                        "measure": "door_to_device_transfer", "limit": 60, "share": 0.50},
    "imaging_25": {"label": "Door-to-CT ≤ 25 min", "measure": "door_to_ct", "limit": 25,
                   "share": 0.50},
}
DIDO_NATIONAL_MEDIAN_MIN = 121


class Timeline(Protocol):
    """What the measures read (a :class:`~strokealert.db.models.cases.Case` or look-alike)."""

    id: str
    transfer: bool
    tici: str | None
    arrival_at: datetime | None
    transfer_in_at: datetime | None
    last_known_well_at: datetime | None
    ncct_at: datetime | None
    cta_at: datetime | None
    ctp_at: datetime | None
    alert_sent_at: datetime | None
    first_ack_at: datetime | None
    decision_at: datetime | None
    needle_at: datetime | None
    groin_puncture_at: datetime | None
    first_pass_at: datetime | None
    reperfusion_at: datetime | None
    transfer_out_at: datetime | None


def minutes(start: datetime | None, end: datetime | None) -> int | None:
    """Whole minutes from ``start`` to ``end`` as abstracted (HH:MM); None = UTD."""
    if start is None or end is None:
        return None
    a, b = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    delta = (b - a).total_seconds()
    if delta < 0:
        return None
    return int(delta // 60)


def arrival(case: Timeline) -> datetime | None:
    """Arrival at this hospital (transfer-in: ``transfer_in_at``)."""
    return case.transfer_in_at if case.transfer else case.arrival_at


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: str
    start: str  # a timeline field, or "arrival"
    end: str
    population: str  # human description of who is counted


MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef("dtn", "Door-to-needle", "arrival", "needle_at", "thrombolytic given here"),
    MeasureDef("door_to_ct", "Door-to-CT", "arrival", "ncct_at", "non-contrast CT done"),
    MeasureDef("door_to_cta", "Door-to-CTA", "arrival", "cta_at", "CT angiography done"),
    MeasureDef("scan_to_alert", "Scan-to-alert", "scan", "alert_sent_at", "alert sent"),
    MeasureDef("alert_to_ack", "Alert-to-acknowledgement", "alert_sent_at", "first_ack_at",
               "alert sent"),
    MeasureDef("door_to_device_direct", "Door-to-device (direct)", "arrival", "first_pass_at",
               "device pass, arrived directly"),
    MeasureDef("door_to_device_transfer", "Door-to-device (transfer)", "arrival",
               "first_pass_at", "device pass, transferred in"),
    MeasureDef("dido", "Door-in-door-out", "arrival", "transfer_out_at", "transferred out"),
    MeasureDef("cstk09", "CSTK-09 arrival-to-puncture", "arrival", "groin_puncture_at",
               "skin puncture"),
    MeasureDef("cstk11", "CSTK-11 arrival-to-TICI ≥ 2b", "arrival", "reperfusion_at",
               "skin puncture with TICI 2b/2c/3"),
    MeasureDef("cstk12", "CSTK-12 puncture-to-TICI ≥ 2b", "groin_puncture_at",
               "reperfusion_at", "skin puncture with TICI 2b/2c/3"),
)
MEASURE_BY_KEY = {m.key: m for m in MEASURES}
RATE_LIMITS = {"cstk11": 120, "cstk12": 60}


def _time(case: Timeline, name: str) -> datetime | None:
    if name == "arrival":
        return arrival(case)
    if name == "scan":
        scans = [t for t in (case.cta_at, case.ctp_at) if t is not None]
        return min(scans) if scans else None
    return getattr(case, name)


def in_population(case: Timeline, key: str) -> bool:
    """Whether ``case`` belongs to measure ``key``'s population (before UTD exclusion)."""
    if key == "dtn":
        return case.needle_at is not None
    if key == "door_to_ct":
        return case.ncct_at is not None
    if key == "door_to_cta":
        return case.cta_at is not None
    if key in ("scan_to_alert", "alert_to_ack"):
        return case.alert_sent_at is not None
    if key == "door_to_device_direct":
        return case.first_pass_at is not None and not case.transfer
    if key == "door_to_device_transfer":
        return case.first_pass_at is not None and bool(case.transfer)
    if key == "dido":
        return case.transfer_out_at is not None
    if key == "cstk09":
        return case.groin_puncture_at is not None
    if key in ("cstk11", "cstk12"):
        return case.groin_puncture_at is not None and case.tici in REPERFUSED
    raise KeyError(key)


def utd_reason(case: Timeline, m: MeasureDef) -> str:
    start, end = _time(case, m.start), _time(case, m.end)
    if start is None:
        if m.start == "arrival" and case.transfer:
            return "arrival at this hospital (transfer-in) missing"
        return f"{m.start.replace('_at', '').replace('_', ' ')} time missing"
    if end is None:
        return f"{m.end.replace('_at', '').replace('_', ' ')} time missing"
    return "end before start (invalid time)"


def case_values(case: Timeline) -> dict[str, int | str | None]:
    """Each measure for one case: minutes, ``"UTD"``, or None (not in the population)."""
    out: dict[str, int | str | None] = {}
    for m in MEASURES:
        if not in_population(case, m.key):
            out[m.key] = None
            continue
        value = minutes(_time(case, m.start), _time(case, m.end))
        out[m.key] = UTD if value is None else value
    return out


@dataclass
class MeasureSummary:
    key: str
    label: str
    population: str
    n: int = 0  # cases with a valid time (the denominator)
    values: list[int] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)  # UTD cases and why

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    def share_within(self, limit: int) -> float | None:
        if not self.values:
            return None
        return sum(1 for v in self.values if v <= limit) / len(self.values)

    def quartiles(self) -> tuple[float, float] | None:
        if len(self.values) < 2:
            return None
        q = statistics.quantiles(self.values, n=4, method="inclusive")
        return q[0], q[2]

    def to_json(self) -> dict[str, Any]:
        q = self.quartiles()
        return {"label": self.label, "population": self.population, "n": self.n,
                "median": self.median, "q1": q[0] if q else None, "q3": q[1] if q else None,
                "values": self.values, "cases": self.cases, "excluded": self.excluded}


def summarize(cases: list[Any], zone: tzinfo) -> dict[str, Any]:
    """Every measure over ``cases``: medians, shares, targets, exclusions, monthly trend."""
    summaries = {m.key: MeasureSummary(m.key, m.label, m.population) for m in MEASURES}
    per_case: list[dict[str, Any]] = []
    months: dict[str, list[int]] = defaultdict(list)
    month_cases: dict[str, int] = defaultdict(int)
    for case in cases:
        values = case_values(case)
        per_case.append({"case": case, "values": values})
        start = arrival(case) or getattr(case, "created_at", None)
        month = start.astimezone(zone).strftime("%Y-%m") if start else UTD
        month_cases[month] += 1
        for key, value in values.items():
            if value is None:
                continue
            s = summaries[key]
            if value == UTD:
                s.excluded.append({"case_id": case.id,
                                   "reason": "UTD: " + utd_reason(case, MEASURE_BY_KEY[key])})
                continue
            s.n += 1
            s.values.append(int(value))
            s.cases.append(case.id)
            if key == "dtn":
                months[month].append(int(value))
    dtn = summaries["dtn"]
    shares = {f"dtn_le_{limit}": dtn.share_within(limit) for limit in (30, 45, 60)}
    targets = []
    for key, target in TARGETS.items():
        share = summaries[target["measure"]].share_within(target["limit"])
        targets.append({"key": key, **target, "actual": share,
                        "n": summaries[target["measure"]].n,
                        "met": None if share is None else share >= target["share"]})
    rates = {}
    for key, limit in RATE_LIMITS.items():
        s = summaries[key]
        met = sum(1 for v in s.values if v <= limit)
        rates[key] = {"limit": limit, "numerator": met, "denominator": s.n,
                      "rate": met / s.n if s.n else None}
    trend = [{"month": month, "cases": month_cases[month], "dtn_n": len(months.get(month, [])),
              "dtn_median": statistics.median(months[month]) if months.get(month) else None,
              "dtn_le_60": (sum(1 for v in months[month] if v <= 60) / len(months[month])
                            if months.get(month) else None)}
             for month in sorted(month_cases)]
    return {"cases": len(cases), "measures": {k: s.to_json() for k, s in summaries.items()},
            "shares": shares, "targets": targets, "rates": rates, "trend": trend,
            "dido_national_median": DIDO_NATIONAL_MEDIAN_MIN, "per_case": per_case}
