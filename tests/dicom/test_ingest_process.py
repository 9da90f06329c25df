"""The ingest in its own process (what ``strokealert serve`` runs): storage, completions
relayed to the parent once, log records forwarded, a killed child restarted."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from strokealert import db
from strokealert.config import Settings
from strokealert.db.models.ingest import CompletionEvent, Instance
from strokealert.dicom.index import Completion
from strokealert.dicom.ingest import IngestProcess

from .conftest import dataset_bytes, storescu, wait_for, write_series


def _count(settings: Settings, model: type) -> int:
    engine = db.make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        engine.dispose()


def test_ingest_process_stores_relays_and_restarts(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "var", dicom_host="127.0.0.1", dicom_port=0,
                        series_quiet_s=1.0, study_quiet_s=1.5)
    db.upgrade(settings.resolved_database_url)
    ingest = IngestProcess(settings)
    series: list[Completion] = []
    studies: list[Completion] = []
    ingest.on_series_complete.append(series.append)
    ingest.on_study_complete.append(studies.append)
    caplog.set_level(logging.INFO)
    ingest.start()
    try:
        first_pid = ingest.pid
        assert first_pid is not None and first_pid != os.getpid()
        paths = write_series(tmp_path / "a", 6)
        assert storescu(ingest.port, tmp_path / "a").returncode == 0
        wait_for(lambda: len(series) == 1 and len(studies) == 1)
        assert (series[0].reason, series[0].instance_count) == ("count", 6)
        assert _count(settings, Instance) == 6
        stored = settings.store_dir.rglob("*.dcm")
        assert sorted(map(dataset_bytes, stored)) == sorted(map(dataset_bytes, paths))
        # The child's log records reach this process's logging.
        assert any(r.name == "strokealert.dicom.index_writer"
                   and "complete by count" in r.getMessage() for r in caplog.records)

        os.kill(first_pid, signal.SIGKILL)  # a crash: the parent starts a new child
        wait_for(lambda: ingest.pid not in (None, first_pid), timeout_s=60)
        write_series(tmp_path / "b", 4, seed=2)
        assert storescu(ingest.port, tmp_path / "b").returncode == 0
        wait_for(lambda: len(series) == 2 and len(studies) == 2, timeout_s=30)
        assert series[1].instance_count == 4
        assert _count(settings, CompletionEvent) == 4  # two series, two studies: once each
    finally:
        ingest.stop()
    assert ingest.pid is None
    wait_for(lambda: not Path(f"/proc/{first_pid}").exists() or
             "Z" in Path(f"/proc/{first_pid}/stat").read_text().split()[2])
