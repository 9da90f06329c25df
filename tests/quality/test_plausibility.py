"""Implausible intervals are flagged on the worklist, the case page, the API and the report,
excluded from the measures, counted in the data-quality line and kept out of ``/metrics``;
registry fields are edited through the API and audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strokealert.db.models.audit import AuditEvent
from tests.api.helpers import Env, login, make_env, new_case

# The demo case before the phantom was dated now: CTA stamped 2026-03-14 02:43 (the phantom's
# fixed date), alert sent 382,313 min later (265 days, 12 h 53 min).
DEMO_CTA = datetime(2026, 3, 14, 2, 43, 7, tzinfo=UTC)
DEMO_ALERT = DEMO_CTA + timedelta(minutes=382_313)
T = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
ADULT = {"final_diagnosis": "ischemic", "age_years": 64}


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env = make_env(tmp_path_factory.mktemp("plausibility"), timezone="UTC")
    f = env.factory
    new_case(f, "p.demo", created_at=DEMO_ALERT, cta_at=DEMO_CTA, alert_sent_at=DEMO_ALERT)
    new_case(f, "p.good", **ADULT, arrival_at=at(0), ncct_at=at(-4), cta_at=at(12),
             alert_sent_at=at(16), first_ack_at=at(18), needle_at=at(35))
    new_case(f, "p.alert_first", **ADULT, arrival_at=at(0), cta_at=at(20),
             alert_sent_at=at(15))
    new_case(f, "p.needle_first", **ADULT, arrival_at=at(30), needle_at=at(10))
    new_case(f, "p.ct_early", **ADULT, arrival_at=at(0), ncct_at=at(-30))
    return env


@pytest.fixture(scope="module")
def client(env: Env) -> TestClient:
    client = TestClient(env.app)
    client.headers["X-CSRF-Token"] = login(client, "coordinator")
    return client


def case_id(client: TestClient, uid: str) -> str:
    return next(c["id"] for c in client.get("/api/cases?limit=500").json()
                if client.get(f"/api/cases/{c['id']}").json()["study_instance_uid"] == uid)


def summary(client: TestClient) -> dict[str, Any]:
    return client.get("/api/measures?start=2026-03-01&end=2026-12-31").json()


def test_the_demo_interval_is_flagged_and_excluded(client: TestClient) -> None:
    demo = client.get(f"/api/cases/{case_id(client, 'p.demo')}").json()
    assert demo["measures"]["scan_to_alert"] == "implausible"
    assert demo["flags"] == ["scan to alert 382313 min (over 24 h)"]
    m = summary(client)["measures"]["scan_to_alert"]
    assert m["values"] == [4]  # p.good only (12 → 16)
    reasons = {e["reason"] for e in m["excluded"]}
    assert reasons == {"implausible: scan to alert 382313 min (over 24 h)",
                       "implausible: alert 5 min before scan"}
    worklist = client.get("/").text
    assert "scan to alert 382313 min (over 24 h)" in worklist


def test_negative_intervals_are_flagged_and_imaging_within_the_slack_is_zero(
        client: TestClient) -> None:
    m = summary(client)["measures"]
    good = client.get(f"/api/cases/{case_id(client, 'p.good')}").json()
    assert good["flags"] == [] and good["measures"]["door_to_ct"] == 0  # CT 4 min early
    assert [e["reason"] for e in m["dtn"]["excluded"]] == [
        "implausible: needle 20 min before arrival"]
    assert m["dtn"]["values"] == [35]
    assert [e["reason"] for e in m["door_to_ct"]["excluded"]] == [
        "implausible: non-contrast CT 30 min before arrival (more than the 10-minute slack)"]
    quality = summary(client)["data_quality"]
    assert quality["cases_flagged"] == 4
    assert quality["by_rule"] == {"end before start": 2, "imaging before arrival": 1,
                                  "over 24 h": 1}


def test_metrics_never_export_an_implausible_interval(client: TestClient) -> None:
    text = client.get("/metrics").text
    count = re.search(r"^strokealert_scan_to_alert_seconds_count (\S+)$", text, re.M)
    total = re.search(r"^strokealert_scan_to_alert_seconds_sum (\S+)$", text, re.M)
    assert count and total
    assert float(count.group(1)) == 1 and float(total.group(1)) == 240  # p.good: 4 min


def test_report_shows_the_data_quality_line_and_the_flags(client: TestClient) -> None:
    html = client.get("/report?start=2026-03-01&end=2026-12-31&format=html").text
    assert "Data quality: 4 cases flagged" in html
    assert "scan to alert 382313 min (over 24 h)" in html


def test_registry_fields_are_edited_through_the_api_and_audited(tmp_path: Path) -> None:
    # Its own database: the module's other tests read p.needle_first as first made.
    env = make_env(tmp_path, timezone="UTC")
    target = new_case(env.factory, "p.needle_first", **ADULT, arrival_at=at(30),
                      needle_at=at(10))
    client = TestClient(env.app)
    client.headers["X-CSRF-Token"] = login(client, "coordinator")
    bad = client.patch(f"/api/cases/{target}/timeline", json={"final_diagnosis": "stroke"})
    assert bad.status_code == 422 and "final_diagnosis" in bad.json()["detail"]
    bad = client.patch(f"/api/cases/{target}/timeline", json={"age_years": 200})
    assert bad.status_code == 422
    edited = client.patch(f"/api/cases/{target}/timeline",
                          json={"final_diagnosis": "tia", "thrombolytic_agent": "tenecteplase",
                                "in_hospital_stroke": True, "ivt_delay_reason": "eligibility"})
    assert edited.status_code == 200, edited.text
    assert edited.json()["registry"] == {
        "final_diagnosis": "tia", "age_years": 64, "in_hospital_stroke": True,
        "thrombolytic_agent": "tenecteplase", "ivt_delay_reason": "eligibility",
        "ivt_not_given_reason": None}
    with env.factory() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.object_id == target,
                                                       AuditEvent.action == "timeline_edit")
                              ).one()
    assert row.detail["changes"]["final_diagnosis"] == ["ischemic", "tia"]
    assert row.detail["changes"]["thrombolytic_agent"] == [None, "tenecteplase"]
    page = client.get(f"/cases/{target}").text
    # A stroke after arrival has no door-to-needle: its needle before arrival is not a flag.
    assert 'value="tia" selected' in page and "needle 20 min before arrival" not in page
    assert edited.json()["flags"] == [] and edited.json()["measures"]["dtn"] is None


def test_a_range_without_cases_has_nothing_flagged(tmp_path: Path) -> None:
    env = make_env(tmp_path, timezone="Europe/Berlin")
    client = TestClient(env.app)
    login(client, "coordinator")
    data = client.get("/api/measures?start=2026-01-01&end=2026-01-31").json()
    assert data["data_quality"]["cases_flagged"] == 0 and data["measures"]["dtn"]["n"] == 0


def test_a_viewer_sees_the_registry_fields_read_only(tmp_path: Path) -> None:
    # Its own database: pytest-xdist may run this test on a worker that never ran the edit above.
    env = make_env(tmp_path, timezone="UTC")
    target = new_case(env.factory, "p.registered", final_diagnosis="tia", age_years=64,
                      thrombolytic_agent="tenecteplase", ivt_delay_reason="eligibility")
    viewer = TestClient(env.app)
    login(viewer, "radiologist")
    page = viewer.get(f"/cases/{target}").text
    assert "Final diagnosis" in page and "TIA" in page and "tenecteplase" in page
    assert "documented eligibility reason for delay" in page and "<select" not in page
