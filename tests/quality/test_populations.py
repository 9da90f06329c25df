"""Registry populations on hand-built cases: every numerator, denominator and exclusion below
is computed by hand from the definitions (written out next to each assertion), then compared
with what :func:`strokealert.quality.measures.summarize` counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from strokealert.db.models.cases import Case
from strokealert.quality.measures import summarize

T = datetime(2026, 5, 5, 14, 0, tzinfo=UTC)  # arrival (door) of the direct cases


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def case(case_id: str, *, lkw: int | None, needle: int | None = None,
         **fields: Any) -> Case:
    """An unsaved case: last known well and needle in minutes from ``T``, arrival at ``T``."""
    values: dict[str, Any] = {"final_diagnosis": "ischemic", "transfer": False,
                              "in_hospital_stroke": False, "arrival_at": T,
                              "last_known_well_at": at(lkw) if lkw is not None else None,
                              "needle_at": at(needle) if needle is not None else None,
                              "thrombolytic_agent": "alteplase" if needle is not None else None,
                              **fields}
    return Case(id=case_id, study_instance_uid=case_id, **values)


CASES = [
    # A: direct, alteplase, LKW 60 min before the door, needle at 40 min.
    case("A", lkw=-60, needle=40, age_years=70),
    # B: tenecteplase (counts alike), LKW 90 min before, needle at 25 min.
    case("B", lkw=-90, needle=25, age_years=66, thrombolytic_agent="tenecteplase"),
    # C: in-hospital stroke, admitted two days earlier, LKW at T, needle 50 min later.
    case("C", lkw=0, needle=50, age_years=80, in_hospital_stroke=True, arrival_at=at(-2880)),
    # D: transfer-in: referring door 120 min before, this door at T (150 min after LKW),
    # needle 30 min after this door.
    case("D", lkw=-150, needle=30, age_years=60, transfer=True, arrival_at=at(-120),
         transfer_in_at=T),
    # E: a stroke mimic that was thrombolysed.
    case("E", lkw=-30, needle=35, age_years=45, final_diagnosis="mimic"),
    # F: 17 years old at arrival (born 1 June 2008; no age typed: from the birth date).
    case("F", lkw=-60, needle=45, age_years=None, birth_date="20080601"),
    # G: last known well 5 h (300 min) before the door, not treated.
    case("G", lkw=-300, age_years=72),
    # H: in the window, no thrombolytic and no documented reason: the missing needle.
    case("H", lkw=-60, age_years=75),
    # I: documented medical reason for the delay; needle 75 min after the door.
    case("I", lkw=-45, needle=75, age_years=58, ivt_delay_reason="medical"),
    # J: in the window, not treated, with a documented reason.
    case("J", lkw=-30, age_years=81, ivt_not_given_reason="rapidly improving symptoms"),
    # K: final diagnosis not yet documented, treated.
    case("K", lkw=-60, needle=30, age_years=50, final_diagnosis=None),
]


# Outside every registry population of an ED arrival, for the first reason that applies.
NOT_REGISTRY = {"K": "final diagnosis not documented",
                "E": "final diagnosis: stroke mimic (no stroke-related diagnosis)",
                "F": "age < 18", "C": "in-hospital stroke (reported apart)"}


@pytest.fixture(scope="module")
def measures() -> dict[str, Any]:
    return summarize(CASES, ZoneInfo("UTC"))["measures"]


def excluded(measure: dict[str, Any]) -> dict[str, str]:
    return {e["case_id"]: e["category"] for e in measure["excluded"]}


def test_door_to_needle(measures: dict[str, Any]) -> None:
    dtn = measures["dtn"]
    # Initial population: a thrombolytic started here: A B C D E F I K (8).
    # Excluded, first rule that applies: K no diagnosis, E mimic, F age 17, C in-hospital,
    # D transfer-in (reported apart), I documented medical reason for delay.
    # Left: A (40 min) and B (25 min, tenecteplase); both ≤ 60.
    assert dtn["initial"] == 8
    assert excluded(dtn) == {**NOT_REGISTRY, "D": "transferred in (reported apart)",
                             "I": "documented medical reason for delay"}
    assert (dtn["denominator"], dtn["numerator"]) == (2, 2)
    assert sorted(dtn["values"]) == [25, 40] and dtn["median"] == 32.5
    assert sum(dtn["exclusion_counts"].values()) == 6
    assert "F" in {e["case_id"] for e in dtn["excluded"] if e["reason"] == "age 17 (< 18)"}


def test_transfers_and_in_hospital_strokes_are_reported_apart(measures: dict[str, Any]) -> None:
    # Transfer-in DTN: D only, from the door of this hospital: 30 min.
    assert (measures["dtn_transfer"]["denominator"], measures["dtn_transfer"]["values"]) == (
        1, [30])
    # In-hospital: C only, last known well to needle: 50 min.
    assert measures["ivt_in_hospital"]["values"] == [50]
    assert measures["ivt_in_hospital"]["cases"] == ["C"]


def test_arrive_by_35_treat_by_45(measures: dict[str, Any]) -> None:
    m = measures["ivt_35_45"]
    # Every case is in the initial population (11). Excluded: K no diagnosis, E mimic,
    # F age 17, C in-hospital, G arrived 300 min after LKW (> 210), J documented reason not
    # to treat. Denominator: A B D H I (D arrived here 150 min after LKW ≤ 210).
    # Numerator, needle ≤ 270 min after LKW: A 100, B 115, D 180, I 120; H not treated.
    assert m["initial"] == 11
    assert excluded(m) == {**NOT_REGISTRY, "G": "arrived > 210 min after last known well",
                           "J": "documented reason for not giving a thrombolytic"}
    assert sorted(m["cases"]) == ["A", "B", "D", "H", "I"]
    assert (m["denominator"], m["numerator"]) == (5, 4)
    assert m["rate"] == pytest.approx(0.8)


def test_stk4(measures: dict[str, Any]) -> None:
    m = measures["stk4"]
    # As above with the 2 h / 3 h window: D (150 min) and G (300 min) arrived > 120 min after
    # LKW. Denominator: A B H I. Numerator, needle ≤ 180 min after LKW: A 100, B 115, I 120.
    assert excluded(m)["D"] == excluded(m)["G"] == "arrived > 120 min after last known well"
    assert sorted(m["cases"]) == ["A", "B", "H", "I"]
    assert (m["denominator"], m["numerator"]) == (4, 3)
    assert m["exclusion_counts"] == {
        "age < 18": 1, "arrived > 120 min after last known well": 2,
        "documented reason for not giving a thrombolytic": 1,
        "final diagnosis not documented": 1,
        "final diagnosis: stroke mimic (no stroke-related diagnosis)": 1,
        "in-hospital stroke (reported apart)": 1}
    assert "STK-4" in m["definition"] and "v2023A" in m["definition"]


def test_a_needle_without_time_does_not_count_as_in_time() -> None:
    # Thrombolytic recorded, needle time missing: in the STK-4 denominator, not its numerator
    # (its time cannot be shown ≤ 180 min); UTD for door-to-needle.
    lost = case("L", lkw=-60, age_years=70, thrombolytic_agent="tenecteplase")
    m = summarize([lost], ZoneInfo("UTC"))["measures"]
    assert (m["stk4"]["denominator"], m["stk4"]["numerator"]) == (1, 0)
    assert m["dtn"]["excluded"] == [{"case_id": "L", "category": "UTD",
                                     "reason": "UTD: needle time missing"}]
