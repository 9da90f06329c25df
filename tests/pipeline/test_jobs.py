"""Durable jobs on SQLite and PostgreSQL: one job per changed series, exactly one alert,
recovery of a job whose worker died, a study with nothing to analyse is never silent, and an
NCCT-only study is analysed (a bleed alerts critical and shows on the case pages).

Images arrive through the real receiver (``send_files``); jobs run in this process so the
test can interrupt them where a crash would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strokealert import alerting, db
from strokealert.api.app import create_app
from strokealert.api.services.users import add_user
from strokealert.config import Settings
from strokealert.db.models.cases import Case
from strokealert.db.models.pipeline import Job, StageEvent
from strokealert.dicom.ingest import IngestComponent
from strokealert.dicom.sender import send_files
from strokealert.phantoms import series as syn
from strokealert.phantoms.ctp import CtpPhantomOptions, write_ctp_phantom
from strokealert.phantoms.ncct_families import NcctLabel, geometric, write_case
from strokealert.pipeline.jobs import (
    consume_completion_events,
    execute_job,
    recoverable_jobs,
    utcnow,
)
from tests.api.helpers import PASSWORD, login


@dataclass
class Pipeline:
    settings: Settings
    factory: sessionmaker[Session]
    ingest: IngestComponent

    def send(self, folder: Path) -> None:
        result = send_files([folder], "127.0.0.1", self.ingest.port)
        assert result.failed == []
        self.ingest.indexer.join()

    def alerts(self, case_id: str) -> list[dict]:
        with self.factory() as session:
            return alerting.alert_history(session, case_id)


@pytest.fixture
def pipeline(migrated_url: str, tmp_path: Path, free_port: int) -> Iterator[Pipeline]:
    settings = Settings(database_url=migrated_url, data_dir=tmp_path / "data",
                        dicom_port=free_port, dicom_host="127.0.0.1", series_quiet_s=2.0,
                        study_quiet_s=3.0, secret_key="k", job_max_attempts=2)
    # Quiet times long enough that a storescu send slowed by a loaded machine is not cut into
    # two completions (a first alert on part of the series, then an escalation).
    engine = db.make_engine(migrated_url)
    factory = db.make_session_factory(engine)
    component = alerting.AlertingComponent(settings, factory)
    component.build()  # channels and engine without threads: alerts stay in the outbox
    ingest = IngestComponent(settings, factory)
    ingest.start()
    yield Pipeline(settings, factory, ingest)
    ingest.stop()
    component.stop()
    engine.dispose()


def wait_events(pipeline: Pipeline, timeout_s: float = 30.0) -> list[int]:
    """Consume completion events until some job or study event shows up."""
    deadline = time.monotonic() + timeout_s
    jobs: list[int] = []
    while time.monotonic() < deadline:
        jobs += consume_completion_events(pipeline.factory, pipeline.settings)
        with pipeline.factory() as session:
            if jobs and session.scalar(select(StageEvent.id).where(
                    StageEvent.stage == "study_complete").limit(1)):
                return jobs
        time.sleep(0.2)
    return jobs


@pytest.fixture(scope="module")
def ctp_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small CTP head phantom (96×96 × 8 slices × 30 frames) and its truth, made once."""
    folder = tmp_path_factory.mktemp("ctp")
    truth = write_ctp_phantom(folder, CtpPhantomOptions(matrix=96, slices=8, frames=30,
                                                        noise_hu=5.0, seed=3))
    return folder, truth


def case_of(pipeline: Pipeline, study_uid: str) -> Case:
    with pipeline.factory() as session:
        case = session.scalar(select(Case).where(Case.study_instance_uid == study_uid))
        assert case is not None
        return case


def test_one_job_per_series_content_and_exactly_one_alert(
        pipeline: Pipeline, ctp_study: tuple[Path, dict]) -> None:
    folder, truth = ctp_study
    pipeline.send(folder)
    jobs = wait_events(pipeline)
    assert len(jobs) == 1

    # The same images again: no new job (nothing changed).
    pipeline.send(folder)
    assert consume_completion_events(pipeline.factory, pipeline.settings) == []

    # Two workers race for the job: exactly one runs it.
    outcomes: list[str] = []
    workers = [threading.Thread(target=lambda: outcomes.append(
        execute_job(pipeline.factory, pipeline.settings, jobs[0]))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["done", "skipped"]
    assert execute_job(pipeline.factory, pipeline.settings, jobs[0]) == "skipped"

    case = case_of(pipeline, truth["study_instance_uid"])
    assert case.alert_level == "critical"  # DEFUSE 3 target mismatch on the head phantom
    alerts = pipeline.alerts(case.id)
    assert [a["kind"] for a in alerts] == ["new"]
    with pipeline.factory() as session:
        stages = set(session.scalars(select(StageEvent.stage).where(
            StageEvent.study_instance_uid == truth["study_instance_uid"])))
    assert {"series_complete", "study_complete", "analysed", "alerted"} <= stages

    # The case viewer shows the processing timeline next to the alert history.
    with pipeline.factory.begin() as session:
        add_user(session, "neuro", "stroke_team", PASSWORD)
    with TestClient(create_app(pipeline.settings, pipeline.factory)) as client:
        login(client, "neuro")
        page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200
    processing = page.text.split("<h2>Processing</h2>", 1)[1].split("</table>", 1)[0]
    for label in ("first image received", "series complete", "analysed", "alert raised"):
        assert label in processing


def test_a_job_whose_worker_died_is_run_again_once(pipeline: Pipeline,
                                                   ctp_study: tuple[Path, dict]) -> None:
    folder, truth = ctp_study
    pipeline.send(folder)
    (job_id,) = wait_events(pipeline)
    # A worker claimed it and died: status running, lease long expired.
    with pipeline.factory.begin() as session:
        session.execute(update(Job).where(Job.id == job_id).values(
            status="running", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
    assert recoverable_jobs(pipeline.factory) == [job_id]
    assert execute_job(pipeline.factory, pipeline.settings, job_id) == "done"
    assert recoverable_jobs(pipeline.factory) == []
    case = case_of(pipeline, truth["study_instance_uid"])
    assert [a["kind"] for a in pipeline.alerts(case.id)] == ["new"]
    with pipeline.factory() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 2 and job.result["status"] == "ok"


def run_until_case(pipeline: Pipeline, study_uid: str, timeout_s: float = 20.0) -> Case:
    """Consume events and run the queued jobs here until the study's case exists."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for job_id in consume_completion_events(pipeline.factory, pipeline.settings):
            execute_job(pipeline.factory, pipeline.settings, job_id)
        with pipeline.factory() as session:
            if session.scalar(select(Case.id).where(Case.study_instance_uid == study_uid)):
                break
        time.sleep(0.2)
    return case_of(pipeline, study_uid)


def test_a_study_with_nothing_to_analyse_asks_for_manual_review(pipeline: Pipeline,
                                                                tmp_path: Path) -> None:
    study = syn.StudyInfo()
    volume = np.random.default_rng(0).normal(35, 5, (12, 64, 64))
    syn.write_volume(volume, tmp_path / "chest", study=study,
                     series=syn.SeriesInfo(description="Chest w/o contrast", body_part="CHEST"),
                     spacing_mm=(5.0, 0.5, 0.5))
    pipeline.send(tmp_path / "chest")
    case = run_until_case(pipeline, study.study_instance_uid)
    assert case.alert_level == "manual_review"
    alerts = pipeline.alerts(case.id)
    assert len(alerts) == 1
    assert "no NCCT, CTA or CT perfusion series" in alerts[0]["title"]


def test_an_ncct_that_cannot_be_read_as_a_head_asks_for_manual_review(
        pipeline: Pipeline, tmp_path: Path) -> None:
    study = syn.StudyInfo()
    volume = np.random.default_rng(0).normal(35, 5, (12, 64, 64))
    syn.write_volume(volume, tmp_path / "ncct", study=study,
                     series=syn.SeriesInfo(description="Head w/o contrast"),
                     spacing_mm=(5.0, 0.5, 0.5))
    pipeline.send(tmp_path / "ncct")
    case = run_until_case(pipeline, study.study_instance_uid)
    with pipeline.factory() as session:
        assert list(session.scalars(select(Job.kind).where(
            Job.study_instance_uid == study.study_instance_uid))) == ["ncct"]
    assert case.alert_level == "manual_review"
    assert case.result_json["ncct"]["status"] == "failed"
    [alert] = pipeline.alerts(case.id)
    assert alert["title"].startswith("NCCT could not be analysed: ")


@pytest.fixture(scope="module")
def ncct_bleed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, str]:
    """A 96x96x45 NCCT with an intraparenchymal bleed (geometric family), its truth and UID."""
    folder = tmp_path_factory.mktemp("ncct")
    truth = write_case(geometric.render(3, NcctLabel(bleeds=("intraparenchymal",)),
                                        matrix=96), folder)
    header = pydicom.dcmread(next((folder / "dicom").glob("*.dcm")), stop_before_pixels=True)
    return folder / "dicom", truth, str(header.StudyInstanceUID)


def test_an_ncct_with_blood_alerts_critical_and_shows_on_the_case_pages(
        pipeline: Pipeline, ncct_bleed: tuple[Path, dict, str]) -> None:
    folder, truth, study_uid = ncct_bleed
    pipeline.send(folder)
    case = run_until_case(pipeline, study_uid)
    assert case.alert_level == "critical"
    [alert] = pipeline.alerts(case.id)
    assert alert["title"].startswith("Haemorrhage suspected: intraparenchymal, ")
    ich = case.result_json["ncct"]["ich"]
    assert ich["volume_ml"] == pytest.approx(truth["blood_volume_ml"], rel=0.25)
    assert case.key_images and case.key_images[0].endswith("ncct_ich.png")

    with pipeline.factory.begin() as session:
        add_user(session, "neuro", "stroke_team", PASSWORD)
    with TestClient(create_app(pipeline.settings, pipeline.factory)) as client:
        login(client, "neuro")
        page = client.get(f"/cases/{case.id}")
        phone = client.get(f"/cases/{case.id}/phone")
        image = client.get(f"/cases/{case.id}/images/0")
    assert page.status_code == 200 and phone.status_code == 200
    ncct_card = page.text.split('id="ncct"', 1)[1].split("</section>", 1)[0]
    assert "Suspected" in ncct_card and "intraparenchymal" in ncct_card
    assert f"{ich['volume_ml']}" in ncct_card and str(ich["location"]) in ncct_card
    assert "Haemorrhage</dt><dd>Suspected · intraparenchymal" in phone.text
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
