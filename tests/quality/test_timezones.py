"""DICOM acquisition times are local wall-clock times: read in STROKEALERT_TIMEZONE when the
header has no TimezoneOffsetFromUTC, with the DST fold and gap handled as documented in
:func:`strokealert.cases.wall_clock_to_utc`. The expected UTC instants are worked out by hand
from the zones' offsets, not by the code under test."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strokealert import alerting, db
from strokealert.cases import upsert_case_from_analysis, wall_clock_to_utc
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.db.models.ingest import Instance, Series, Study
from strokealert.dicom.ingest import IngestComponent
from strokealert.dicom.sender import send_files
from strokealert.phantoms.series import SeriesInfo, StudyInfo, write_volume
from strokealert.pipeline.jobs import consume_completion_events, execute_job
from tests.api.helpers import analysis, login, make_env


def cta_case(tmp_path: Path, zone: str, acquired_local: datetime,
             offset: str | None = None) -> tuple[TestClient, str]:
    """A case made by the pipeline's helper from one stored CTA image acquired at
    ``acquired_local`` (scanner wall clock, TimezoneOffsetFromUTC ``offset`` or none), on a
    site configured with ``STROKEALERT_TIMEZONE=zone``; returns a coordinator's client."""
    env = make_env(tmp_path, timezone=zone)
    info = StudyInfo(study_datetime=acquired_local - timedelta(minutes=2), timezone_offset=offset)
    files = write_volume(np.zeros((2, 8, 8), np.int16), tmp_path / "cta", study=info,
                         series=SeriesInfo(contrast=True), spacing_mm=(1, 1, 1),
                         acquisition_datetime=acquired_local)
    now = datetime.now(UTC)
    with env.factory.begin() as session:
        study = Study(study_instance_uid=info.study_instance_uid, patient_id="MRN1",
                      first_received_at=now, last_received_at=now)
        series = Series(study=study, series_instance_uid="2.25.7", kind="cta",
                        first_received_at=now, last_received_at=now)
        session.add_all([study, series])
        session.flush()
        session.add(Instance(series_id=series.id, sop_instance_uid="2.25.8", sop_class_uid="1",
                             transfer_syntax_uid="1", instance_number=1, path=str(files[0]),
                             size_bytes=1, sha256="0" * 64, received_at=now))
        case = upsert_case_from_analysis(session, study=study,
                                         result=analysis(info.study_instance_uid),
                                         zone=ZoneInfo(env.settings.timezone))
        case_id = case.id
    client = TestClient(env.app)
    client.headers["X-CSRF-Token"] = login(client, "coordinator")
    return client, case_id


def cta_at(detail: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(detail["timeline"]["cta_at"].replace("Z", "+00:00"))


# zone, scanner wall clock of the CTA, the same instant in UTC (by hand), arrival typed in
# local time, minutes from arrival to CTA.
SITES = [
    ("America/New_York", datetime(2026, 1, 20, 9, 37), datetime(2026, 1, 20, 14, 37),
     "2026-01-20T09:20", 17),  # EST, UTC-5
    ("America/New_York", datetime(2026, 7, 14, 9, 37), datetime(2026, 7, 14, 13, 37),
     "2026-07-14T09:20", 17),  # EDT, UTC-4
    ("Europe/Berlin", datetime(2026, 1, 20, 9, 37), datetime(2026, 1, 20, 8, 37),
     "2026-01-20T09:20", 17),  # CET, UTC+1
    ("Europe/Berlin", datetime(2026, 7, 14, 9, 37), datetime(2026, 7, 14, 7, 37),
     "2026-07-14T09:20", 17),  # CEST, UTC+2
    # Across the change: arrival 01:50 EST (06:50Z), CTA 01:58 EST (06:58Z), the clocks jump
    # from 02:00 EST to 03:00 EDT, the alert 4 minutes later reads 03:02 EDT.
    ("America/New_York", datetime(2026, 3, 8, 1, 58), datetime(2026, 3, 8, 6, 58),
     "2026-03-08T01:50", 8),
    # Berlin falls back at 03:00 CEST to 02:00 CET: arrival 01:40 CEST (23:40Z the day
    # before), CTA 01:58 CEST (23:58Z).
    ("Europe/Berlin", datetime(2026, 10, 25, 1, 58), datetime(2026, 10, 24, 23, 58),
     "2026-10-25T01:40", 18),
]


@pytest.mark.parametrize(("zone", "acquired_local", "acquired_utc", "arrival", "door_to_cta"),
                         SITES)
def test_cta_without_offset_is_read_in_the_site_zone(
        tmp_path: Path, zone: str, acquired_local: datetime, acquired_utc: datetime,
        arrival: str, door_to_cta: int) -> None:
    client, case_id = cta_case(tmp_path, zone, acquired_local)
    detail = client.get(f"/api/cases/{case_id}").json()
    assert cta_at(detail) == acquired_utc.replace(tzinfo=UTC)
    assert detail["timeline"]["sources"]["cta_at"] == "dicom"
    # The alert went out 4 minutes after the acquisition (the system's UTC stamp).
    alert_at = (acquired_utc + timedelta(minutes=4, seconds=12)).replace(tzinfo=UTC)
    edited = client.patch(f"/api/cases/{case_id}/timeline",
                          json={"arrival_at": arrival, "alert_sent_at": alert_at.isoformat()})
    assert edited.status_code == 200, edited.text
    measures = edited.json()["measures"]
    assert measures["scan_to_alert"] == 4
    assert measures["door_to_cta"] == door_to_cta


def test_offset_in_the_header_wins_over_the_site_zone(tmp_path: Path) -> None:
    client, case_id = cta_case(tmp_path, "Europe/Berlin", datetime(2026, 1, 20, 9, 37),
                               offset="-0500")
    detail = client.get(f"/api/cases/{case_id}").json()
    assert cta_at(detail) == datetime(2026, 1, 20, 14, 37, tzinfo=UTC)


DST_CASES = [
    # 02:37 happens twice in Berlin on 25 October 2026: CEST (00:37Z), then CET (01:37Z).
    ("Europe/Berlin", datetime(2026, 10, 25, 2, 37), datetime(2026, 10, 25, 0, 37),
     "cta_at: 2026-10-25 02:37:00 is ambiguous in Europe/Berlin (DST fold): read as the "
     "earlier instant"),
    # 02:30 does not exist in New York on 8 March 2026: read with EST it is 07:30Z, 03:30 EDT.
    ("America/New_York", datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 7, 30),
     "cta_at: 2026-03-08 02:30:00 does not exist in America/New_York (DST gap): shifted "
     "forward to 03:30:00"),
]


@pytest.mark.parametrize(("zone", "acquired_local", "acquired_utc", "note"), DST_CASES)
def test_dst_fold_and_gap_are_read_as_documented_and_noted(
        tmp_path: Path, zone: str, acquired_local: datetime, acquired_utc: datetime,
        note: str) -> None:
    client, case_id = cta_case(tmp_path, zone, acquired_local)
    detail = client.get(f"/api/cases/{case_id}").json()
    assert cta_at(detail) == acquired_utc.replace(tzinfo=UTC)
    assert detail["timeline"]["time_notes"] == [note]
    assert note in client.get(f"/cases/{case_id}").text


def test_wall_clock_outside_dst_changes_has_no_note() -> None:
    moment, note = wall_clock_to_utc(datetime(2026, 3, 8, 3, 30), ZoneInfo("America/New_York"))
    assert (moment, note) == (datetime(2026, 3, 8, 7, 30, tzinfo=UTC), None)
    moment, note = wall_clock_to_utc(datetime(2026, 11, 1, 1, 30), ZoneInfo("America/New_York"))
    assert moment == datetime(2026, 11, 1, 5, 30, tzinfo=UTC) and "DST fold" in str(note)



def test_the_pipeline_reads_a_received_study_in_the_configured_zone(
        migrated_url: str, tmp_path: Path, free_port: int) -> None:
    # Received over DICOM and decided by the pipeline's job (an NCCT alone, a uniform block:
    # no head found, manual review), on a site in New York; the header has no offset: 09:37
    # EST is 14:37Z.
    settings = Settings(database_url=migrated_url, data_dir=tmp_path / "data",
                        dicom_port=free_port, dicom_host="127.0.0.1", series_quiet_s=0.5,
                        study_quiet_s=1.0, secret_key="k", timezone="America/New_York")
    engine = db.make_engine(migrated_url)
    factory = db.make_session_factory(engine)
    component = alerting.AlertingComponent(settings, factory)
    component.build()
    ingest = IngestComponent(settings, factory)
    ingest.start()
    try:
        study = StudyInfo(study_datetime=datetime(2026, 1, 20, 9, 35), timezone_offset=None)
        write_volume(np.full((12, 32, 32), 35, np.int16), tmp_path / "ncct", study=study,
                     series=SeriesInfo(description="Head w/o contrast"),
                     spacing_mm=(5.0, 0.5, 0.5), acquisition_datetime=datetime(2026, 1, 20, 9, 37))
        assert send_files([tmp_path / "ncct"], "127.0.0.1", free_port).failed == []
        ingest.indexer.join()
        deadline = time.monotonic() + 20
        ncct_at = None
        while ncct_at is None and time.monotonic() < deadline:
            for job_id in consume_completion_events(factory, settings):
                execute_job(factory, settings, job_id)
            with factory() as session:
                ncct_at = session.scalar(select(Case.ncct_at).where(
                    Case.study_instance_uid == study.study_instance_uid))
            time.sleep(0.2)
        assert ncct_at == datetime(2026, 1, 20, 14, 37, tzinfo=UTC)
    finally:
        ingest.stop()
        component.stop()
        engine.dispose()
