"""Door-to-needle / door-to-device measures, populations to the registry data definitions.

Conventions (the registry abstraction rules):

* Times are abstracted as HH:MM: each timestamp is truncated to the minute, then the interval is
  the difference in whole minutes (08:00:59 → 08:01:00 is 1 minute, not 0).
* A missing time is "UTD" (unable to determine); an interval that breaks a plausibility rule
  (:mod:`strokealert.quality.plausibility`: end before start, over 24 h, imaging before
  arrival beyond the slack, ...) is "implausible". Either is excluded from that measure's rate
  and median and listed with the reason; implausible intervals are also counted in the
  report's data-quality line.
* Arrival is arrival at *this* hospital: for a transfer-in patient (``transfer`` true) it is
  ``transfer_in_at`` (``arrival_at`` may hold the referring hospital's door); a transfer-in
  without ``transfer_in_at`` is UTD.
* Each measure has an *initial population* (the cases the event concerns: a thrombolytic
  given here, a device pass, ...) and *exclusions* in a fixed order, the first that applies
  counted: final diagnosis not documented or not ischaemic stroke, age not documented or under
  18, in-hospital stroke (no ED arrival: reported apart), the measure's own (transfer-in
  reported apart, documented eligibility or medical reason for delay, documented reason for not
  giving a thrombolytic, last known well unknown or outside the window), then UTD and
  implausible times. The denominator is what is left; rates count ``value ≤ limit``.
* Tenecteplase and alteplase count alike (``thrombolytic_agent``); a thrombolytic is "given
  here" when its agent or its needle time is recorded.

The definitions and their versions are in :data:`DEFINITIONS`; each measure names one.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from strokealert.quality import plausibility

UTD = "UTD"
IMPLAUSIBLE = "implausible"
NOT_TREATED = "not treated"
REPERFUSED = ("2b", "2c", "3")
ADULT_YEARS = 18
DIAGNOSIS_LABELS = {"ischemic": "ischaemic stroke", "tia": "TIA",
                    "ich": "intracerebral haemorrhage", "sah": "subarachnoid haemorrhage",
                    "mimic": "stroke mimic (no stroke-related diagnosis)"}

# Sources and versions of the definitions (checked against the manuals named; a registry
# submission must follow the version in force for the discharge quarter).
DEFINITIONS = {
    "stk4": "The Joint Commission, Specifications Manual for National Quality Measures, "
            "STK-4 Thrombolytic Therapy (v2023A)",
    "cstk": "The Joint Commission, Comprehensive Stroke (CSTK) measures, CSTK-09/11/12 "
            "(v2023A)",
    "gwtg": "AHA Get With The Guidelines-Stroke / Target: Stroke Phase III "
            "(DTN ≤ 60/45/30 min; IV thrombolytic arrive by 3.5 h, treat by 4.5 h; "
            "door-to-device ≤ 90 direct / ≤ 60 transfer)",
    "local": "strokealert operational measure (no registry definition)",
}

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
    birth_date: str | None
    final_diagnosis: str | None
    age_years: int | None
    thrombolytic_agent: str | None
    ivt_delay_reason: str | None
    ivt_not_given_reason: str | None
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

    @property
    def in_hospital_stroke(self) -> bool | None:
        """Read only, so a Case's non-null column fits; look-alikes may leave it None."""


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


def age_at_arrival(case: Timeline) -> int | None:
    """``age_years`` as abstracted, else whole years from ``birth_date`` (DICOM YYYYMMDD) to
    arrival (or the case's creation); None if neither is known."""
    if case.age_years is not None:
        return case.age_years
    born = case.birth_date or ""
    when = arrival(case) or getattr(case, "created_at", None)
    if len(born) != 8 or not born.isdigit() or when is None:
        return None
    try:
        birth = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        return None
    day = when.date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def thrombolytic_given(case: Timeline) -> bool:
    """A thrombolytic (alteplase or tenecteplase) was started at this hospital."""
    return case.needle_at is not None or case.thrombolytic_agent is not None


@dataclass(frozen=True)
class MeasureDef:
    key: str
    label: str
    start: str  # a timeline field, "arrival" or "scan"
    end: str
    population: str  # the initial population, in words
    definition: str  # a key of DEFINITIONS
    limit: int | None = None  # rate: value ≤ limit minutes is the numerator
    window: int | None = None  # window measures: arrival within this many min of LKW


MEASURES: tuple[MeasureDef, ...] = (
    MeasureDef("dtn", "Door-to-needle", "arrival", "needle_at",
               "IV thrombolytic started here (transfers-in and in-hospital strokes apart)",
               "gwtg", limit=60),
    MeasureDef("dtn_transfer", "Door-to-needle (transfer-in)", "arrival", "needle_at",
               "IV thrombolytic started here, transferred in", "gwtg", limit=60),
    MeasureDef("ivt_in_hospital", "In-hospital stroke: last known well to needle",
               "last_known_well_at", "needle_at",
               "IV thrombolytic started here for a stroke after arrival", "gwtg"),
    MeasureDef("ivt_35_45", "IV thrombolytic: arrive by 3.5 h, treat by 4.5 h",
               "last_known_well_at", "needle_at",
               "every case (ischaemic stroke arriving ≤ 3.5 h after last known well)", "gwtg",
               limit=270, window=210),
    MeasureDef("stk4", "STK-4 thrombolytic therapy (arrive by 2 h, treat by 3 h)",
               "last_known_well_at", "needle_at",
               "every case (ischaemic stroke arriving ≤ 2 h after last known well)", "stk4",
               limit=180, window=120),
    MeasureDef("door_to_ct", "Door-to-CT", "arrival", "ncct_at", "non-contrast CT done",
               "local", limit=25),
    MeasureDef("door_to_cta", "Door-to-CTA", "arrival", "cta_at", "CT angiography done",
               "local"),
    MeasureDef("scan_to_alert", "Scan-to-alert", "scan", "alert_sent_at", "alert sent",
               "local"),
    MeasureDef("alert_to_ack", "Alert-to-acknowledgement", "alert_sent_at", "first_ack_at",
               "alert sent", "local"),
    MeasureDef("door_to_device_direct", "Door-to-device (direct)", "arrival", "first_pass_at",
               "device pass, arrived directly", "gwtg", limit=90),
    MeasureDef("door_to_device_transfer", "Door-to-device (transfer)", "arrival",
               "first_pass_at", "device pass, transferred in", "gwtg", limit=60),
    MeasureDef("dido", "Door-in-door-out", "arrival", "transfer_out_at", "transferred out",
               "local"),
    MeasureDef("cstk09", "CSTK-09 arrival-to-puncture", "arrival", "groin_puncture_at",
               "skin puncture", "cstk"),
    MeasureDef("cstk11", "CSTK-11 arrival-to-TICI ≥ 2b", "arrival", "reperfusion_at",
               "skin puncture with TICI 2b/2c/3", "cstk", limit=120),
    MeasureDef("cstk12", "CSTK-12 puncture-to-TICI ≥ 2b", "groin_puncture_at",
               "reperfusion_at", "skin puncture with TICI 2b/2c/3", "cstk", limit=60),
)
MEASURE_BY_KEY = {m.key: m for m in MEASURES}
RATE_KEYS = ("ivt_35_45", "stk4", "cstk11", "cstk12")  # reported as rates (the others: medians)
ED_ARRIVAL = {"dtn", "dtn_transfer", "ivt_35_45", "stk4", "door_to_ct", "door_to_cta",
              "door_to_device_direct", "door_to_device_transfer", "dido", "cstk09", "cstk11"}
OPERATIONAL = {"door_to_ct", "door_to_cta", "scan_to_alert", "alert_to_ack", "dido"}


def time_of(case: Timeline, name: str) -> datetime | None:
    """A timeline field, ``arrival`` (at this hospital) or ``scan`` (first CTA/CTP)."""
    if name == "arrival":
        return arrival(case)
    if name == "scan":
        scans = [t for t in (case.cta_at, case.ctp_at) if t is not None]
        return min(scans) if scans else None
    moment: datetime | None = getattr(case, name)
    return moment


def concerns(case: Timeline, key: str) -> bool:
    """Whether measure ``key`` concerns ``case`` at all (its initial population)."""
    m = MEASURE_BY_KEY[key]
    if m.window is not None:
        return True
    if key == "dtn":
        return thrombolytic_given(case)
    if key == "dtn_transfer":
        return thrombolytic_given(case) and bool(case.transfer)
    if key == "ivt_in_hospital":
        return thrombolytic_given(case) and bool(case.in_hospital_stroke)
    if key == "door_to_device_direct":
        return case.first_pass_at is not None and not case.transfer
    if key == "door_to_device_transfer":
        return case.first_pass_at is not None and bool(case.transfer)
    if key in ("cstk11", "cstk12"):
        return case.groin_puncture_at is not None and case.tici in REPERFUSED
    if key == "scan_to_alert" or key == "alert_to_ack":
        return case.alert_sent_at is not None
    return time_of(case, m.end) is not None


def interval(case: Timeline, m: MeasureDef) -> tuple[int | str, str | None]:
    """``(minutes, None)``, ``(UTD, why)`` or ``(IMPLAUSIBLE, why)`` for one case."""
    start, end = time_of(case, m.start), time_of(case, m.end)
    flag = plausibility.check(m.start, m.end, start, end)
    if flag is not None:
        return IMPLAUSIBLE, flag.reason
    if start is None or end is None:
        return UTD, _missing(case, m.start if start is None else m.end)
    # None only for imaging within the slack before arrival: 0 minutes (see plausibility).
    return minutes(start, end) or 0, None


def _missing(case: Timeline, name: str) -> str:
    if name == "arrival" and case.transfer:
        return "arrival at this hospital (transfer-in) missing"
    return f"{plausibility.NAMES.get(name, name)} time missing"


def exclusion(case: Timeline, m: MeasureDef) -> tuple[str, str] | None:
    """The first registry exclusion of ``case`` from measure ``m``: (category, detail)."""
    if m.key not in OPERATIONAL:
        diagnosis = case.final_diagnosis
        if diagnosis is None:
            return "final diagnosis not documented", "final diagnosis not documented"
        if diagnosis != "ischemic":
            label = DIAGNOSIS_LABELS.get(diagnosis, diagnosis)
            return f"final diagnosis: {label}", f"final diagnosis: {label}"
        age = age_at_arrival(case)
        if age is None:
            return "age not documented", "age not documented"
        if age < ADULT_YEARS:
            return f"age < {ADULT_YEARS}", f"age {age} (< {ADULT_YEARS})"
    if m.key in ED_ARRIVAL and case.in_hospital_stroke:
        return "in-hospital stroke (reported apart)", "in-hospital stroke (reported apart)"
    if m.key == "dtn" and case.transfer:
        return "transferred in (reported apart)", "transferred in (reported apart)"
    if m.key in ("dtn", "dtn_transfer") and case.ivt_delay_reason:
        reason = f"documented {case.ivt_delay_reason} reason for delay"
        return reason, reason
    if m.window is not None:
        return _window_exclusion(case, m)
    return None


def _window_exclusion(case: Timeline, m: MeasureDef) -> tuple[str, str] | None:
    lkw, door = case.last_known_well_at, arrival(case)
    if lkw is None:
        return "last known well not documented", "last known well not documented"
    if door is None:
        return "arrival time UTD", _missing(case, "arrival")
    flag = plausibility.check("last_known_well_at", "arrival", lkw, door)
    if flag is not None:
        return "implausible: " + flag.category, "implausible: " + flag.reason
    waited = minutes(lkw, door)
    if waited is not None and m.window is not None and waited > m.window:
        return (f"arrived > {m.window} min after last known well",
                f"arrived {waited} min after last known well (> {m.window})")
    if case.ivt_not_given_reason and not thrombolytic_given(case):
        return ("documented reason for not giving a thrombolytic",
                "documented reason for not giving a thrombolytic: " + case.ivt_not_given_reason)
    return None


def case_values(case: Timeline) -> dict[str, int | str | None]:
    """Each measure's interval for one case: minutes, ``"UTD"``, ``"implausible"`` or None
    (the measure does not concern the case; an in-hospital stroke has no door-to-anything).
    Registry exclusions are the report's business; this is the case's own clock."""
    out: dict[str, int | str | None] = {}
    for m in MEASURES:
        if m.window is not None:
            if not (case.final_diagnosis in (None, "ischemic") and thrombolytic_given(case)):
                out[m.key] = None
                continue
        elif not concerns(case, m.key) or (case.in_hospital_stroke and m.start == "arrival"):
            out[m.key] = None
            continue
        out[m.key] = interval(case, m)[0]
    return out


def case_flags(case: Timeline) -> list[plausibility.Flag]:
    """Every implausible interval of ``case`` (worklist, case page, report)."""
    return plausibility.case_flags(case, [(m.start, m.end) for m in MEASURES], time_of)


@dataclass
class MeasureSummary:
    key: str
    label: str
    population: str
    definition: str
    limit: int | None
    initial: int = 0  # cases the measure concerns
    n: int = 0  # the denominator: concerned, not excluded
    numerator: int | None = None  # rates: value ≤ limit (window measures: treated in time)
    values: list[int] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    excluded: list[dict[str, str]] = field(default_factory=list)  # case_id, category, reason

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
        counts = Counter(e["category"] for e in self.excluded)
        rate = (self.numerator / self.n if self.numerator is not None and self.n else None)
        return {"label": self.label, "population": self.population,
                "definition": DEFINITIONS[self.definition], "limit": self.limit,
                "initial": self.initial, "n": self.n, "numerator": self.numerator,
                "denominator": self.n, "rate": rate, "median": self.median,
                "q1": q[0] if q else None, "q3": q[1] if q else None, "values": self.values,
                "cases": self.cases, "excluded": self.excluded,
                "exclusion_counts": dict(sorted(counts.items()))}


def _count(s: MeasureSummary, case: Timeline, m: MeasureDef) -> None:
    """Put ``case`` in ``s``: its denominator (and numerator) or its exclusions."""
    excluded = exclusion(case, m)
    if excluded is not None:
        s.excluded.append({"case_id": case.id, "category": excluded[0], "reason": excluded[1]})
        return
    value, why = (interval(case, m) if m.window is None or thrombolytic_given(case)
                  else (NOT_TREATED, None))
    if value == UTD and m.window is not None:
        value = NOT_TREATED  # a thrombolytic without a time cannot count as given in time
    if value in (UTD, IMPLAUSIBLE):
        s.excluded.append({"case_id": case.id, "category": str(value),
                           "reason": f"{value}: {why}"})
        return
    s.n += 1
    s.cases.append(case.id)
    if isinstance(value, int):
        s.values.append(value)
    if m.limit is not None and s.numerator is not None:
        s.numerator += 1 if isinstance(value, int) and value <= m.limit else 0


def summarize(cases: list[Any], zone: tzinfo) -> dict[str, Any]:
    """Every measure over ``cases``: numerators, denominators, exclusions with counts,
    medians, targets, the data-quality line, and the monthly trend."""
    summaries = {m.key: MeasureSummary(m.key, m.label, m.population, m.definition, m.limit,
                                       numerator=0 if m.limit is not None else None)
                 for m in MEASURES}
    per_case: list[dict[str, Any]] = []
    months: dict[str, list[int]] = defaultdict(list)
    month_cases: dict[str, int] = defaultdict(int)
    flagged: dict[str, list[str]] = {}
    categories: Counter[str] = Counter()
    for case in cases:
        flags = case_flags(case)
        if flags:
            flagged[case.id] = [f.reason for f in flags]
            categories.update(f.category for f in flags)
        per_case.append({"case": case, "values": case_values(case),
                         "flags": [f.reason for f in flags]})
        start = arrival(case) or getattr(case, "created_at", None)
        month = start.astimezone(zone).strftime("%Y-%m") if start else UTD
        month_cases[month] += 1
        for m in MEASURES:
            if not concerns(case, m.key):
                continue
            s = summaries[m.key]
            s.initial += 1
            before = len(s.values)
            _count(s, case, m)
            if m.key == "dtn" and len(s.values) > before:
                months[month].append(s.values[-1])
    dtn = summaries["dtn"]
    shares = {f"dtn_le_{limit}": dtn.share_within(limit) for limit in (30, 45, 60)}
    targets = []
    for key, target in TARGETS.items():
        share = summaries[target["measure"]].share_within(target["limit"])
        targets.append({"key": key, **target, "actual": share,
                        "n": summaries[target["measure"]].n,
                        "met": None if share is None else share >= target["share"]})
    rates = {key: {"limit": summaries[key].limit, "numerator": summaries[key].numerator,
                   "denominator": summaries[key].n,
                   "rate": summaries[key].to_json()["rate"]} for key in RATE_KEYS}
    trend = [{"month": month, "cases": month_cases[month], "dtn_n": len(months.get(month, [])),
              "dtn_median": statistics.median(months[month]) if months.get(month) else None,
              "dtn_le_60": (sum(1 for v in months[month] if v <= 60) / len(months[month])
                            if months.get(month) else None)}
             for month in sorted(month_cases)]
    quality = {"cases_flagged": len(flagged),
               "intervals_flagged": sum(categories.values()),
               "by_rule": dict(sorted(categories.items())),
               "utd_exclusions": sum(1 for s in summaries.values() for e in s.excluded
                                     if e["category"] == UTD),
               "flagged": flagged}
    return {"cases": len(cases), "measures": {k: s.to_json() for k, s in summaries.items()},
            "shares": shares, "targets": targets, "rates": rates, "trend": trend,
            "data_quality": quality, "definitions": DEFINITIONS,
            "dido_national_median": DIDO_NATIONAL_MEDIAN_MIN, "per_case": per_case}
