"""Performance on a generated cohort of 300 cases with readers' confirmations: every count and
rate per model and per subgroup is computed by hand here (plain loops over the generated
records) and compared with what :mod:`strokealert.monitoring.performance` reports."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strokealert import db
from strokealert.db.models.audit import AuditEvent
from strokealert.monitoring import performance
from strokealert.monitoring.fingerprint import InputValues, age_band, slice_band
from strokealert.monitoring.performance import wilson
from tests.monitoring.conftest import add_case, confirm, lvo_block

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
SCANNERS = ("SOMATOM Force", "Revolution CT", "Aquilion ONE")
KERNELS = ("Hv40", "Br38", "FC43")
THICKNESS = (0.625, 1.0, 2.0, 3.0)


def generate(n: int = 300, seed: int = 21) -> list[dict[str, Any]]:
    """Case records: subgroup attributes, truth (None: unconfirmed), the model's call, and an
    abstention now and then; the model is worse on the Aquilion ONE (a subgroup to find)."""
    rng = random.Random(seed)
    records = []
    for i in range(n):
        scanner = rng.choice(SCANNERS)
        truth = rng.random() < 0.35
        miss = 0.35 if scanner == "Aquilion ONE" else 0.1
        positive = truth if rng.random() > miss else not truth
        records.append({
            "at": START + timedelta(hours=7 * i), "scanner_model": scanner,
            "kernel": rng.choice(KERNELS), "slice_thickness_mm": rng.choice(THICKNESS),
            "age": rng.randint(30, 95), "sex": rng.choice("FM"),
            "truth": truth if rng.random() > 0.15 else None, "positive": positive,
            "manual_review": rng.random() < 0.05, "confirm_after_h": rng.randint(1, 48)})
    return records


def by_hand(records: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "unconfirmed": 0, "manual": 0}
    for r in records:
        if r["truth"] is None:
            counts["unconfirmed"] += 1
        if r["manual_review"]:
            counts["manual"] += 1
            continue
        if r["truth"] is None:
            continue
        key = ("t" if r["positive"] == r["truth"] else "f") + ("p" if r["positive"] else "n")
        counts[key] += 1
    return counts


Cohort = tuple[sessionmaker[Session], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cohort]:
    """The 300 records written once (cases, fingerprints, confirmations) for the module."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cohort') / 'cohort.sqlite3'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    factory = db.make_session_factory(engine)
    records = generate()
    with factory.begin() as session:
        for r in records:
            case = add_case(session, lvo_block(positive=r["positive"],
                                               manual_review=r["manual_review"]),
                            InputValues(scanner_model=r["scanner_model"], kernel=r["kernel"],
                                        slice_thickness_mm=r["slice_thickness_mm"],
                                        age_band=age_band(r["age"]), sex=r["sex"]), r["at"])
            if r["truth"] is not None:
                confirm(session, case, r["at"] + timedelta(hours=r["confirm_after_h"]),
                        lvo=r["truth"], lvo_site="M1" if r["truth"] else None)
    yield factory, records
    engine.dispose()


def test_wilson_interval_matches_the_textbook() -> None:
    rate = wilson(8, 10)  # Newcombe (1998): 8/10 -> 0.4902 to 0.9433
    assert rate.value == 0.8
    assert rate.low == pytest.approx(0.4902, abs=1e-4)
    assert rate.high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0).value is None


def test_cohort_rates_overall_and_per_subgroup_match_hand_counts(cohort: Cohort) -> None:
    factory, records = cohort
    with factory() as session:
        result = performance.report(session, "lvo", START, START + timedelta(days=365))
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "confirmation", AuditEvent.username == "dr.reader"))
    assert list(result["models"]) == ["lvo-cnn@3"]
    got = result["models"]["lvo-cnn@3"]
    overall, hand = got["summary"], by_hand(records)
    assert overall["n"] == 300
    assert (overall["tp"], overall["fp"], overall["fn"], overall["tn"]) == (
        hand["tp"], hand["fp"], hand["fn"], hand["tn"])
    assert overall["unconfirmed"] == hand["unconfirmed"] > 0  # shown, never counted as right
    assert overall["manual_review"].k == hand["manual"] > 0
    assert overall["ppv"].value == pytest.approx(hand["tp"] / (hand["tp"] + hand["fp"]))
    assert overall["sensitivity"].value == pytest.approx(hand["tp"] / (hand["tp"] + hand["fn"]))
    assert overall["specificity"].value == pytest.approx(hand["tn"] / (hand["tn"] + hand["fp"]))
    assert overall["ppv"].low < overall["ppv"].value < overall["ppv"].high
    assert audited == 300 - hand["unconfirmed"]  # every confirmation: reader and time audited

    keys = {"scanner_model": lambda r: r["scanner_model"], "kernel": lambda r: r["kernel"],
            "slice_band": lambda r: slice_band(r["slice_thickness_mm"]),
            "age_band": lambda r: age_band(r["age"]), "sex": lambda r: r["sex"]}
    for attr, key in keys.items():
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            groups[key(r)].append(r)
        assert set(got["subgroups"][attr]) == set(groups), attr
        for value, members in groups.items():
            hand = by_hand(members)
            s = got["subgroups"][attr][value]
            assert (s["n"], s["tp"], s["fp"], s["fn"], s["tn"]) == (
                len(members), hand["tp"], hand["fp"], hand["fn"], hand["tn"]), (attr, value)
            if hand["tp"] + hand["fp"]:
                assert s["ppv"].value == pytest.approx(hand["tp"] / (hand["tp"] + hand["fp"]))
            if hand["tp"] + hand["fn"]:
                assert s["sensitivity"].value == pytest.approx(
                    hand["tp"] / (hand["tp"] + hand["fn"]))
    scanners = got["subgroups"]["scanner_model"]
    assert scanners["Aquilion ONE"]["sensitivity"].value < scanners["SOMATOM Force"][
        "sensitivity"].value  # the subgroup that does worse is visible


def test_weekly_alert_rate_and_time_to_confirmation(cohort: Cohort) -> None:
    factory, records = cohort
    with factory() as session:
        got = performance.report(session, "lvo", START, START + timedelta(days=365))
    model = got["models"]["lvo-cnn@3"]
    weeks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        weeks[performance.iso_week(r["at"])].append(r)
    assert [w["week"] for w in model["weekly"]] == sorted(weeks)
    for row in model["weekly"]:
        members = weeks[row["week"]]
        alerts = sum(1 for r in members if r["positive"] and not r["manual_review"])
        assert (row["analyses"], row["alerts"]) == (len(members), alerts)
        assert row["alert_rate"] == pytest.approx(alerts / len(members))
    hours = sorted(r["confirm_after_h"] for r in records
                   if r["truth"] is not None and r["positive"])  # alerted and confirmed
    assert model["to_confirmation_h"]["n"] == len(hours)
    mid = len(hours) // 2
    median = hours[mid] if len(hours) % 2 else (hours[mid - 1] + hours[mid]) / 2
    assert model["to_confirmation_h"]["median"] == pytest.approx(median, abs=0.05)


def test_a_report_does_not_overwrite_a_readers_confirmation(
        factory: sessionmaker[Session]) -> None:
    from strokealert.monitoring import confirmations

    with factory.begin() as session:
        case = add_case(session, lvo_block(positive=True), InputValues(), START)
        confirm(session, case, START, lvo=False)
        kept = confirmations.record(session, case.id, confirmations.Finding(lvo=True),
                                    reader="PACS", source="hl7", at=START)
        assert kept is None
        row = confirmations.confirmation_of(session, case.id)
        assert row is not None and row.lvo is False and row.source == "manual"
    with pytest.raises(Exception, match="LVO site needs LVO"):
        confirmations.Finding(lvo=False, lvo_site="M1").checked()
