"""Audit measures on hand-made cases: HH:MM arithmetic, boundaries, UTD, transfers, CSTK rates,
the JSON API, the CSV export and the ``strokealert report`` command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strokealert.quality.measures import minutes
from tests.api.helpers import Env, login, make_env, new_case

T0 = datetime(2026, 3, 14, 6, 0, 59, tzinfo=UTC)  # 02:00:59 in New York (EDT since 8 March)


def at(minutes_after: float) -> datetime:
    return T0 + timedelta(minutes=minutes_after)


def test_minutes_are_counted_from_hh_mm() -> None:
    assert minutes(T0, T0.replace(minute=1, second=0)) == 1  # 06:00:59 → 06:01:00
    assert minutes(T0, T0 + timedelta(seconds=59)) == 1  # 06:00 → 06:01 as abstracted
    assert minutes(T0, T0 + timedelta(seconds=0.5)) == 0
    assert minutes(T0, T0 - timedelta(minutes=1)) is None  # end before start: UTD
    assert minutes(None, T0) is None
    assert minutes(T0, T0 + timedelta(hours=2)) == 120


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env = make_env(tmp_path_factory.mktemp("measures"))
    f = env.factory
    adult = {"final_diagnosis": "ischemic", "age_years": 70}  # in every registry population
    # DTN 60 exactly (boundary, counted ≤ 60), 61 (not), 30, 45 → shares over 4 valid cases.
    new_case(f, "m.1", **adult, arrival_at=at(0), needle_at=at(60), ncct_at=at(10), cta_at=at(15))
    new_case(f, "m.2", **adult, arrival_at=at(0), needle_at=at(61), ncct_at=at(26))
    new_case(f, "m.3", **adult, arrival_at=at(0), needle_at=at(30))
    new_case(f, "m.4", **adult, arrival_at=at(0), needle_at=at(45))
    # UTD: needle without arrival; implausible: needle before arrival.
    new_case(f, "m.5", **adult, needle_at=at(40), created_at=at(5))
    new_case(f, "m.6", **adult, arrival_at=at(50), needle_at=at(20))
    # Transfer-in: arrival at this hospital counts, not the referring door (arrival_at).
    new_case(f, "m.7", **adult, transfer=True, arrival_at=at(-180), transfer_in_at=at(0),
             groin_puncture_at=at(40), first_pass_at=at(55), reperfusion_at=at(70), tici="2b")
    # Transfer-in without arrival at this hospital: UTD for door-to-device.
    new_case(f, "m.8", **adult, transfer=True, arrival_at=at(-100), first_pass_at=at(30))
    # Direct thrombectomy: puncture 80, first pass 95 (> 90), TICI 2c at 150 (> 120 from door,
    # 70 from puncture > 60).
    new_case(f, "m.9", **adult, arrival_at=at(0), groin_puncture_at=at(80), first_pass_at=at(95),
             reperfusion_at=at(150), tici="2c")
    # Direct, TICI 2a: not in CSTK-11/12; first pass exactly 90.
    new_case(f, "m.10", **adult, arrival_at=at(0), groin_puncture_at=at(70), first_pass_at=at(90),
             reperfusion_at=at(100), tici="2a")
    # Transferred out: door-in-door-out 121.
    new_case(f, "m.11", **adult, arrival_at=at(0), transfer_out_at=at(121))
    # Alert timing: scan (earliest of CTA/CTP) → alert 4, alert → ack 3.
    new_case(f, "m.12", **adult, arrival_at=at(0), cta_at=at(20), ctp_at=at(22),
             alert_sent_at=at(24), first_ack_at=at(27))
    return env


@pytest.fixture(scope="module")
def summary(env: Env) -> dict:
    client = TestClient(env.app)
    login(client, "coordinator")
    response = client.get("/api/measures?start=2026-03-01&end=2026-03-31")
    assert response.status_code == 200
    return response.json()


def test_door_to_needle(summary: dict) -> None:
    dtn = summary["measures"]["dtn"]
    assert sorted(dtn["values"]) == [30, 45, 60, 61]
    assert dtn["n"] == 4 and dtn["median"] == 52.5
    assert summary["shares"] == {"dtn_le_30": 0.25, "dtn_le_45": 0.5, "dtn_le_60": 0.75}
    reasons = sorted(e["reason"] for e in dtn["excluded"])
    assert reasons == ["UTD: arrival time missing",
                       "implausible: needle 30 min before arrival"]
    targets = {t["key"]: t for t in summary["targets"]}
    assert targets["target_stroke_phase3"]["actual"] == 0.75
    assert targets["target_stroke_phase3"]["met"] is False  # needs ≥ 85 %
    assert targets["elite_plus_30"]["met"] is False and targets["elite_plus_45"]["met"] is False


def test_imaging_and_alert_times(summary: dict) -> None:
    m = summary["measures"]
    assert sorted(m["door_to_ct"]["values"]) == [10, 26]
    assert m["door_to_cta"]["values"] == [15, 20] or sorted(m["door_to_cta"]["values"]) == [15, 20]
    assert m["scan_to_alert"]["values"] == [4]
    assert m["alert_to_ack"]["values"] == [3]
    imaging = {t["key"]: t for t in summary["targets"]}["imaging_25"]
    assert imaging["actual"] == 0.5  # 10 ≤ 25, 26 > 25


def test_door_to_device_transfer_and_cstk(summary: dict) -> None:
    m = summary["measures"]
    assert sorted(m["door_to_device_direct"]["values"]) == [90, 95]
    assert m["door_to_device_transfer"]["values"] == [55]  # from arrival at this hospital
    assert [e["reason"] for e in m["door_to_device_transfer"]["excluded"]] == [
        "UTD: arrival at this hospital (transfer-in) missing"]
    targets = {t["key"]: t for t in summary["targets"]}
    assert targets["device_direct"]["actual"] == 0.5 and targets["device_direct"]["met"] is True
    assert targets["device_transfer"]["actual"] == 1.0
    assert sorted(m["cstk09"]["values"]) == [40, 70, 80]
    assert m["cstk09"]["median"] == 70
    # CSTK-11/12 only count TICI 2b/2c/3: cases m.7 (70 / 30 min) and m.9 (150 / 70 min).
    assert summary["rates"]["cstk11"] == {"limit": 120, "numerator": 1, "denominator": 2,
                                          "rate": 0.5}
    assert summary["rates"]["cstk12"] == {"limit": 60, "numerator": 1, "denominator": 2,
                                          "rate": 0.5}
    assert m["dido"]["values"] == [121]
    assert summary["trend"][0]["month"] == "2026-03"
    assert summary["trend"][0]["dtn_median"] == 52.5


def test_csv_export_one_row_per_case(env: Env) -> None:
    client = TestClient(env.app)
    login(client, "coordinator")
    response = client.get("/report?start=2026-03-01&end=2026-03-31&format=csv")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 12
    header = response.text.splitlines()[0].split(",")
    assert header[:5] == ["case_id", "site", "transfer_in", "last_known_well_date",
                          "last_known_well_time"]
    by_dtn = sorted(r["dtn_min"] for r in rows if r["dtn_min"])
    assert by_dtn == ["30", "45", "60", "61", "UTD", "implausible"]
    first = next(r for r in rows if r["dtn_min"] == "60")
    assert first["arrival_time"] == "02:00" and first["needle_time"] == "03:00"  # local HH:MM
    assert first["arrival_date"] == "03/14/2026"
    transfer = next(r for r in rows if r["door_to_device_transfer_min"] == "55")
    assert transfer["transfer_in"] == "Y" and transfer["tici_post"] == "2b"
    assert any("dtn: UTD" in r["exclusions"] for r in rows)
    html = client.get("/report?start=2026-03-01&end=2026-03-31&format=html")
    assert html.status_code == 200 and "<svg" in html.text and "UTD" in html.text


def test_report_command(env: Env, tmp_path: Path) -> None:
    environ = {**os.environ, "STROKEALERT_DATA_DIR": str(env.settings.data_dir),
               "STROKEALERT_TIMEZONE": "America/New_York"}
    cli = [sys.executable, "-m", "strokealert", "report"]
    done = subprocess.run([*cli, "--from", "2026-03-01", "--to", "2026-03-31", "--format",
                           "json"], env=environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["schema"] == "strokealert.audit/1" and data["measures"]["dtn"]["median"] == 52.5
    bad = subprocess.run([*cli, "--from", "2026-13-01", "--to", "2026-03-31"], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr
