"""The patient-level registry CSV: one row per case, GWTG-Stroke field names and codes, local
dates and times as abstracted, no PHI, formula-safe cells; from the web and the CLI."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.helpers import login, make_env, new_case

T = datetime(2026, 7, 14, 13, 20, tzinfo=UTC)  # 09:20 in New York (EDT)


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def test_registry_csv_rows_codes_and_escaping(tmp_path: Path) -> None:
    env = make_env(tmp_path, timezone="America/New_York")
    f = env.factory
    new_case(f, "r.1", site="=HYPERLINK(\"x\")", final_diagnosis="ischemic", age_years=71,
             arrival_at=T, last_known_well_at=at(-75), ncct_at=at(9), cta_at=at(17),
             needle_at=at(38),
             thrombolytic_agent="tenecteplase", groin_puncture_at=at(70), first_pass_at=at(88),
             reperfusion_at=at(101), tici="2c", patient_name="DOE^JANE", patient_id="MRN77",
             birth_date="19550101", accession_number="ACC9")
    new_case(f, "r.2", final_diagnosis="mimic", transfer=True, arrival_at=at(-90),
             transfer_in_at=T, ivt_not_given_reason="-2+3 symptoms resolved",
             ivt_delay_reason=None, birth_date="20090301")
    new_case(f, "r.3", final_diagnosis="ich", in_hospital_stroke=True, arrival_at=at(-600),
             needle_at=at(-700), ivt_delay_reason="medical")
    client = TestClient(env.app)
    login(client, "coordinator")
    response = client.get("/report?start=2026-07-01&end=2026-07-31&format=registry")
    assert response.status_code == 200
    assert "stroke-registry-2026-07-01-2026-07-31.csv" in response.headers["content-disposition"]
    text = response.text
    for phi in ("DOE", "MRN77", "19550101", "ACC9"):
        assert phi not in text
    rows = {r["CaseID"]: r for r in csv.DictReader(io.StringIO(text))}
    assert len(rows) == 3
    first, ich, mimic = sorted(rows.values(), key=lambda r: r["FinalClinicalDiagnosis"])
    assert first["FinalClinicalDiagnosis"] == "1" and first["Age"] == "71"
    assert (first["ArrivalDate"], first["ArrivalTime"]) == ("07/14/2026", "09:20")
    assert (first["LastKnownWellTime"], first["BrainImagingTime"]) == ("08:05", "09:29")
    assert (first["IVThrombolyticInitiated"], first["ThrombolyticAgent"]) == ("Y", "Tenecteplase")
    assert (first["IVThrombolyticInitiationTime"], first["DoorToNeedleMin"]) == ("09:58", "38")
    assert (first["SkinPunctureTime"], first["DoorToDeviceMin"]) == ("10:30", "88")
    assert first["PostTreatmentTICI"] == "2c" and first["TransferIn"] == "N"
    assert first["Site"] == "'=HYPERLINK(\"x\")"  # formula-safe
    # Transfer-in mimic, 17 from the birth date: codes 6 and location 2; arrival is this door.
    assert (mimic["FinalClinicalDiagnosis"], mimic["PatientLocationAtStrokeOnset"]) == ("6", "2")
    assert (mimic["TransferIn"], mimic["ArrivalTime"]) == ("Y", "09:20")
    assert mimic["ArrivalReferringHospitalTime"] == "07:50" and mimic["Age"] == "17"
    assert mimic["ReasonNotInitiatingIVThrombolytic"] == "'-2+3 symptoms resolved"
    # In-hospital ICH with a needle before arrival: code 4, location 4, the flag, no DTN value.
    assert (ich["FinalClinicalDiagnosis"], ich["PatientLocationAtStrokeOnset"]) == ("4", "4")
    assert ich["DelayMedicalReason"] == "Y" and ich["DoorToNeedleMin"] == ""
    summary_csv = client.get("/report?start=2026-07-01&end=2026-07-31&format=csv").text
    assert "data_quality_flags" in summary_csv.splitlines()[0]

    environ = {**os.environ, "STROKEALERT_DATA_DIR": str(env.settings.data_dir),
               "STROKEALERT_TIMEZONE": "America/New_York"}
    done = subprocess.run([sys.executable, "-m", "strokealert", "report", "--from", "2026-07-01",
                           "--to", "2026-07-31", "--format", "registry"], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("CaseID,Site,Age,FinalClinicalDiagnosis")
    assert len(done.stdout.splitlines()) == 4
