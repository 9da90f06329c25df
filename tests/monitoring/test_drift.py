"""Input drift: fingerprints read from a stored series; cases like the training ones raise no
alarm; 50 cases from a shifted generator (another reconstruction kernel, a smoother noise
texture) raise the drift alarm within the window and send exactly one operational alert, to
the admin policy only, on the alerting fake clock."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from notifications.clock import FakeClock
from notifications.directory import load_directory
from notifications.models import Alert, OutboxMessage
from strokealert.config import Settings
from strokealert.db.models.monitoring import Episode
from strokealert.monitoring import alarms, drift
from strokealert.monitoring.fingerprint import InputValues, from_series, noise_hu
from strokealert.monitoring.settings import MonitoringConfig
from strokealert.phantoms.series import SeriesInfo, StudyInfo, write_volume
from strokealert.pipeline.monitor import check_alarms
from tests.monitoring.conftest import add_case, lvo_block

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DIRECTORY = {
    "people": [
        {"name": "Ops Admin", "roles": ["admin"],
         "contacts": [{"type": "email", "address": "ops@hospital.example"}],
         "rules": [{"channel": "email", "after_minutes": 0}]},
        {"name": "Dr Ada Okafor", "roles": ["neurologist"],
         "contacts": [{"type": "sms", "address": "+15550000001"}],
         "rules": [{"channel": "sms", "after_minutes": 0}]},
    ],
    "policies": [
        {"name": "admin", "steps": [{"delay_minutes": 30, "targets": [{"role": "admin"}]}]},
        {"name": "stroke", "steps": [{"delay_minutes": 5,
                                      "targets": [{"role": "neurologist"}]}]},
    ],
}


def head_slab(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """16 axial slices of a skull ring around 34 HU brain, with ``noise`` added."""
    y, x = np.mgrid[-64:64, -64:64]
    r = np.hypot(x, y * 1.2)
    plane = np.where(r < 50, 34.0, np.where(r < 56, 1200.0, -1000.0)).astype(np.float32)
    return np.repeat(plane[None], 16, axis=0) + noise


def training_rows() -> list[dict[str, Any]]:
    path = drift.REFERENCE_DIR / "lvo.json"
    rows: list[dict[str, Any]] = json.loads(path.read_text())["rows"]
    return rows


def like_training(rng: random.Random) -> InputValues:
    """A case drawn from the model's training fingerprints (the shipped reference rows)."""
    return InputValues(**rng.choice(training_rows()))


def shifted(rng: random.Random, np_rng: np.random.Generator) -> InputValues:
    """A training-like case reconstructed with a sharper-named kernel whose noise has another
    texture (spatially correlated): the noise is measured on the image, as for a real series."""
    smooth = ndimage.gaussian_filter(np_rng.normal(0, 1, (16, 128, 128)).astype(np.float32),
                                     (0, 1.5, 1.5))
    measured = noise_hu(head_slab(np_rng, smooth * (12.0 / float(smooth.std()))))
    return replace(like_training(rng), kernel="Br64", noise_hu=measured)


def test_fingerprint_of_a_stored_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    volume = head_slab(rng, rng.normal(0, 10.0, (16, 128, 128)).astype(np.float32))
    paths = write_volume(volume, tmp_path / "cta", study=StudyInfo(),
                         series=SeriesInfo(kernel="Hv40", model="SOMATOM Force"),
                         spacing_mm=(2.0, 1.8, 1.8), signed=True)
    values = from_series(paths)
    assert (values.kernel, values.scanner_model, values.slice_thickness_mm) == (
        "Hv40", "SOMATOM Force", 2.0)
    assert values.coverage_mm == pytest.approx(32.0)  # 16 slices of 2 mm
    assert values.age_band == "65-79" and values.sex == "F"  # born 1951, scanned 2026
    assert values.noise_hu == pytest.approx(10.0, rel=0.1)  # white noise of 10 HU
    assert values.contrast_hu is not None and values.contrast_hu < 60  # noise tail only


def test_shifted_inputs_raise_one_drift_alarm_to_the_admin_policy(
        tmp_path: Path, sqlite_url: str, factory: sessionmaker[Session],
        clock: FakeClock) -> None:
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path, escalation_policy="stroke",
                        monitoring={"drift_window": 50, "drift_min_cases": 30})
    with factory.begin() as session:
        load_directory(session, DIRECTORY, clock.now())
    rng, np_rng = random.Random(5), np.random.default_rng(5)

    def analyse(values: InputValues) -> list[Any]:
        now = clock.advance(minutes=6 * 60)
        with factory.begin() as session:
            add_case(session, lvo_block(positive=False), values, now)
            return check_alarms(session, settings, factory, "lvo", now)

    for _ in range(80):  # four weeks of cases like the training ones: never an alarm
        assert analyse(like_training(rng)) == []
    opened_at = [i for i in range(50) if analyse(shifted(rng, np_rng))]
    assert len(opened_at) == 1 and opened_at[0] < 50  # within the window, once
    print(f"drift alarm after {opened_at[0] + 1} of 50 shifted cases")
    for _ in range(10):  # the episode is open: no second alert
        assert analyse(shifted(rng, np_rng)) == []

    with factory() as session:
        episodes = list(session.scalars(select(Episode)))
        assert [(e.kind, e.model, e.closed_at) for e in episodes] == [
            ("drift", "lvo-cnn@3", None)]
        assert episodes[0].value >= 0.5 and episodes[0].detail is not None
        now = alarms.drift_check(session, MonitoringConfig.from_settings(settings), "lvo",
                                 "lvo-cnn@3")
        assert now.alarm and {"kernel", "noise_hu"} <= {  # both shifts stand out by now
            f for f, v in now.detail["training"]["by_feature"].items() if v >= 0.5}
        assert now.detail["baseline"]["score"] >= 0.5  # and against the last 90 days
        alerts = list(session.scalars(select(Alert)))
        assert len(alerts) == 1 and alerts[0].case_id == f"monitoring-{episodes[0].id}"
        assert alerts[0].level == "warning" and "drift" in alerts[0].title
        rows = list(session.scalars(select(OutboxMessage)))
        assert {r.recipient for r in rows if r.purpose == "page"} == {"Ops Admin"}
        assert not [r for r in rows if r.channel in ("webhook", "sms")]  # not the stroke team
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.purpose == "page")) == 1  # one page, one person, once


def test_the_job_hook_fingerprints_after_the_alert_and_never_raises(
        tmp_path: Path, sqlite_url: str, factory: sessionmaker[Session],
        caplog: pytest.LogCaptureFixture) -> None:
    from strokealert.cases import upsert_case_from_analysis
    from strokealert.db.models.monitoring import Fingerprint
    from strokealert.pipeline.monitor import after_alert

    rng = np.random.default_rng(4)
    study = StudyInfo()
    paths = write_volume(head_slab(rng, rng.normal(0, 6.0, (16, 128, 128)).astype(np.float32)),
                         tmp_path / "cta", study=study, series=SeriesInfo(kernel="Hv40"),
                         spacing_mm=(1.5, 1.8, 1.8), signed=True)
    block = lvo_block(positive=True)
    with factory.begin() as session:
        case = upsert_case_from_analysis(session, study=None, site="Test CT", result={
            "schema": "strokealert.analysis/1", "study_instance_uid": study.study_instance_uid,
            "series": [], "perfusion": {"status": "not_run"}, "lvo": block,
            "alert": {"level": "critical", "reasons": []}})
        case.age_years = 49  # the registry age wins over the header's birth date
    settings = Settings(database_url=sqlite_url, data_dir=tmp_path)
    after_alert(factory, settings, analysis="lvo", study_uid=study.study_instance_uid,
                series_uid="2.25.1", paths=paths, block=block)
    after_alert(factory, settings, analysis="lvo", study_uid=study.study_instance_uid,
                series_uid="2.25.2", paths=[tmp_path / "gone.dcm"], block=block)
    with factory() as session:
        rows = list(session.scalars(select(Fingerprint)))
    assert [(r.series_uid, r.kernel, r.slice_thickness_mm, r.age_band, r.positive, r.model)
            for r in rows] == [("2.25.1", "Hv40", 1.5, "<50", True, "lvo-cnn@3")]
    assert rows[0].noise_hu == pytest.approx(6.0, rel=0.1)
    assert "monitoring: fingerprint of a lvo analysis failed" in caplog.text
