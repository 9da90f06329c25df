"""Plausibility rules for the intervals of a case's timeline.

An interval that cannot be right (a typing or clock error, a wrong date, a scanner in another
time zone) is *flagged*: the case is marked on the worklist and in the report with the reason,
the interval is excluded from rates and medians the way the registry excludes UTD, it is
counted in the report's data-quality line, and it is never exported to ``/metrics``.

Rules, for two times of the same case that are both known:

* the end before the start is implausible (alert before the scan, needle before arrival,
  acknowledgement before the alert, reperfusion before the puncture, ...);
* except imaging at the door: a CT up to :data:`IMAGING_BEFORE_ARRIVAL_SLACK` before the
  registered arrival is a patient taken straight from the ambulance to the scanner and
  registered minutes later; that interval counts as 0 minutes. Earlier than that is flagged;
* an interval longer than :data:`MAX_INTERVAL` is implausible for an acute stroke pathway
  (not one from last known well: a patient may arrive days later, outside every window);
* last known well after arrival is implausible unless the stroke happened in hospital.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

IMAGING_BEFORE_ARRIVAL_SLACK = timedelta(minutes=10)
MAX_INTERVAL = timedelta(hours=24)
IMAGING_FIELDS = ("ncct_at", "cta_at", "ctp_at")

# Names people read in a reason, by timeline field (or "arrival", "scan").
NAMES = {"arrival": "arrival", "scan": "scan", "last_known_well_at": "last known well",
         "ncct_at": "non-contrast CT", "cta_at": "CTA", "ctp_at": "CT perfusion",
         "alert_sent_at": "alert", "first_ack_at": "acknowledgement",
         "decision_at": "treatment decision", "needle_at": "needle",
         "groin_puncture_at": "skin puncture", "first_pass_at": "first device pass",
         "reperfusion_at": "reperfusion", "transfer_out_at": "door out"}

# Pairs checked on every case beyond the measures' own intervals (start, end).
EXTRA_CHECKS = (("groin_puncture_at", "first_pass_at"), ("first_pass_at", "reperfusion_at"),
                ("decision_at", "needle_at"))


@dataclass(frozen=True)
class Flag:
    """One implausible interval of a case: what, and why, in words."""

    start: str
    end: str
    category: str  # "end before start", "imaging before arrival", "over 24 h", ...
    reason: str


def _name(field: str) -> str:
    return NAMES.get(field, field.removesuffix("_at").replace("_", " "))


def check(start_name: str, end_name: str, start: datetime | None,
          end: datetime | None) -> Flag | None:
    """The rule broken by the interval ``start`` → ``end``, or None (plausible or unknown)."""
    if start is None or end is None:
        return None
    delta = end - start
    if delta < timedelta(0):
        minutes_early = int(-delta.total_seconds() // 60)
        if start_name == "arrival" and end_name in IMAGING_FIELDS:
            if -delta <= IMAGING_BEFORE_ARRIVAL_SLACK:
                return None
            return Flag(start_name, end_name, "imaging before arrival",
                        f"{_name(end_name)} {minutes_early} min before arrival (more than the "
                        f"{int(IMAGING_BEFORE_ARRIVAL_SLACK.total_seconds() // 60)}-minute "
                        "slack)")
        if start_name == "last_known_well_at":
            return Flag(start_name, end_name, "last known well after " + _name(end_name),
                        f"last known well {minutes_early} min after {_name(end_name)}")
        return Flag(start_name, end_name, "end before start",
                    f"{_name(end_name)} {minutes_early} min before {_name(start_name)}")
    if delta > MAX_INTERVAL and start_name != "last_known_well_at":
        return Flag(start_name, end_name, "over 24 h",
                    f"{_name(start_name)} to {_name(end_name)} "
                    f"{int(delta.total_seconds() // 60)} min (over 24 h)")
    return None


def case_flags(case: Any, intervals: list[tuple[str, str]],
               time_of: Any) -> list[Flag]:
    """Every flag of ``case`` over the measures' ``intervals`` and :data:`EXTRA_CHECKS`, each
    pair once; ``time_of(case, name)`` reads a field (or ``arrival``/``scan``). An in-hospital
    stroke's arrival was before the stroke: no interval from it is checked."""
    pairs = list(dict.fromkeys([*intervals, *EXTRA_CHECKS]))
    if getattr(case, "in_hospital_stroke", False):
        pairs = [(start, end) for start, end in pairs if start != "arrival"]
    else:
        pairs.append(("last_known_well_at", "arrival"))
    flags = []
    for start, end in pairs:
        flag = check(start, end, time_of(case, start), time_of(case, end))
        if flag is not None:
            flags.append(flag)
    return flags
